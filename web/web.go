// Package web serves Symbiont's pages: the consumer's wallet (/wallet, entered through a
// wallet-session link) and the brand's console (/console, signed in with a secret key or the
// operator token). Pages are rendered on the server with html/template; a small script and a
// style sheet are embedded (go:embed), so nothing needs building and no CDN is involved. Every
// page works without JavaScript; the script only adds confirmations and small conveniences.
//
// The pages call the same services as the JSON API, so every rule (consent fails closed, every
// read recorded in the ledger, tenants isolated) holds here too.
package web

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/symbiont/symbiont"
	"github.com/symbiont/symbiont/api"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Cookie names. The wallet cookie holds the wallet-session token (already a short-lived bearer
// credential for one consumer); the console cookie holds the sign-in credential sealed with a
// key only this server knows, so that revoking the key signs the console out at once.
const (
	walletCookie  = "symbiont_wallet"
	consoleCookie = "symbiont_console"
	langCookie    = "symbiont_lang"
	// MaxForm bounds a form body; the rate-card and tracking-plan editors need the most.
	MaxForm = 256 << 10
)

// Server serves the pages. Set the fields, then call Routes.
type Server struct {
	api.Services
	Log *slog.Logger
	// BaseURL is the public URL of this server, for links in exports.
	BaseURL string
	// Secret keys the console cookie's seal and the CSRF tokens (32 bytes; derived from the
	// master key, so every node of a cluster agrees).
	Secret []byte
	// Secure marks cookies Secure (set when the public URL is https).
	Secure bool

	pages map[string]*template.Template
	aead  cipher.AEAD
}

// Init parses the templates and prepares the cookie seal; call it once before Routes.
func (s *Server) Init() error {
	if len(s.Secret) < 32 {
		return errors.New("web: Secret must be at least 32 bytes")
	}
	block, err := aes.NewCipher(s.key("console-cookie"))
	if err != nil {
		return err
	}
	if s.aead, err = cipher.NewGCM(block); err != nil {
		return err
	}
	return s.parse()
}

// Routes registers the pages on mux.
func (s *Server) Routes(mux *http.ServeMux) {
	static, _ := fs.Sub(staticFS, "static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", cacheFor(filesOnly(static), 24*time.Hour)))
	s.walletRoutes(mux)
	s.consoleRoutes(mux)
}

// filesOnly serves the files of fsys and answers 404 for anything else: no directory listings
// (nor the redirects to them) that would show what is there.
func filesOnly(fsys fs.FS) http.Handler {
	files := http.FileServerFS(fsys)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := r.URL.Path
		if fi, err := fs.Stat(fsys, name); err != nil || fi.IsDir() || !fs.ValidPath(name) {
			http.NotFound(w, r)
			return
		}
		files.ServeHTTP(w, r)
	})
}

func cacheFor(h http.Handler, d time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", fmt.Sprintf("public, max-age=%d", int(d.Seconds())))
		h.ServeHTTP(w, r)
	})
}

// key derives a purpose-specific key from Secret.
func (s *Server) key(purpose string) []byte {
	m := hmac.New(sha256.New, s.Secret)
	m.Write([]byte("symbiont/web/" + purpose))
	return m.Sum(nil)
}

var funcs = template.FuncMap{
	"date": func(t time.Time) string { return t.UTC().Format("2006-01-02") },
	"datetime": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	},
	"add":    func(a, b int) int { return a + b },
	"sub":    func(a, b int64) int64 { return a - b },
	"deref":  func(v *float64) float64 { return *v },
	"neg":    func(a int64) int64 { return -a },
	"pct":    func(a, b int) string { return percent(a, b) },
	"money":  func(v float64) string { return fmt.Sprintf("%.2f", v) },
	"mul100": func(v float64) float64 { return 100 * v },
	"svg":    func(s string) template.HTML { return template.HTML(s) }, // only for charts this package drew
	// fieldArgs are a text field's: its form name, id, value, the form's field in error, its
	// label's and help's message keys and its length.
	"fieldArgs": func(p *Page, name, id, value, errField, label, help string, max int) map[string]any {
		return map[string]any{"P": p, "Name": name, "ID": id, "Value": value, "Err": errField == name, "Label": label, "Help": help, "Max": max}
	},
}

func percent(a, b int) string {
	if b == 0 {
		return "0%"
	}
	return fmt.Sprintf("%.0f%%", 100*float64(a)/float64(b))
}

// parse builds one template set per page: the layout plus the page.
func (s *Server) parse() error {
	s.pages = map[string]*template.Template{}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return err
	}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if base == "layout" || base == "console_parts" {
			continue
		}
		files := []string{"templates/layout.html", n}
		if strings.HasPrefix(base, "console_") {
			files = append(files, "templates/console_parts.html") // the header's sign-out form, charts
		}
		t, err := template.New(base).Funcs(funcs).ParseFS(templateFS, files...)
		if err != nil {
			return fmt.Errorf("web: template %s: %w", n, err)
		}
		s.pages[base] = t
	}
	return nil
}

// Page is what every template gets.
type Page struct {
	Area   string // "wallet" or "console"
	Title  string
	Lang   string
	Path   string
	CSRF   string
	Brand  string
	Who    string // signed-in person or key, for the header
	Nav    []NavItem
	Flash  string
	Error  string
	Data   any
	Status int
	lang   string
}

// NavItem is one link of the page's navigation.
type NavItem struct {
	Href, Label string
	Current     bool
}

// T translates a message key into the page's language (English when there is no translation).
func (p *Page) T(key string, args ...any) string { return translate(p.lang, key, args...) }

// Other is the other language, for the switch.
func (p *Page) Other() (code, label string) {
	if p.lang == "zh-CN" {
		return "en", "English"
	}
	return "zh-CN", "中文"
}

// OtherLang and OtherLabel are Other for templates.
func (p *Page) OtherLang() string  { c, _ := p.Other(); return c }
func (p *Page) OtherLabel() string { _, l := p.Other(); return l }

// newPage starts a page in the request's language.
func (s *Server) newPage(r *http.Request, area, title string) *Page {
	l := language(r)
	p := &Page{Area: area, Lang: l, lang: l, Path: r.URL.Path}
	p.Title = p.T(title)
	if f := r.URL.Query().Get("done"); f != "" {
		p.Flash = p.T("flash." + f)
	}
	return p
}

// render writes a page. Rendering into a buffer first means a template error never leaves
// half a page behind.
func (s *Server) render(w http.ResponseWriter, name string, p *Page) {
	t := s.pages[name]
	var b strings.Builder
	if t == nil {
		s.Log.Error("web: no such template", slog.String("name", name))
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	if err := t.ExecuteTemplate(&b, "layout", p); err != nil {
		s.Log.Error("web: render", slog.String("page", name), slog.Any("err", err))
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	if p.Status != 0 {
		w.WriteHeader(p.Status)
	}
	w.Write([]byte(b.String()))
}

// fail renders an error page: the error's message (never an internal detail) and status.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, area string, err error) {
	code := symbiont.ErrorCode(err)
	st := api.Statuses[code]
	if st == 0 {
		st = http.StatusInternalServerError
	}
	msg := symbiont.ErrorMessage(err)
	if code == symbiont.EINTERNAL || code == "" {
		s.Log.Error("web: request failed", slog.String("path", api.LogPath(r.URL.EscapedPath(), s.Graph.Pseudonym)), slog.Any("err", err))
		msg = ""
	}
	p := s.newPage(r, area, "error.title")
	if msg == "" {
		msg = p.T("error.internal")
	}
	p.Error, p.Status = msg, st
	s.render(w, "error", p)
}

// csrf is the form token bound to a session credential: an attacker's page cannot read it,
// and it changes with the session.
func (s *Server) csrf(credential string) string {
	m := hmac.New(sha256.New, s.key("csrf"))
	m.Write([]byte(credential))
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// checkForm parses a POSTed form (bounded) and checks its CSRF token and, when the browser
// says, that it comes from this site.
func (s *Server) checkForm(w http.ResponseWriter, r *http.Request, credential string) error {
	r.Body = http.MaxBytesReader(w, r.Body, MaxForm)
	if err := r.ParseForm(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return symbiont.Errorf(symbiont.ETOOLARGE, "The form is larger than %d KB.", MaxForm>>10)
		}
		return symbiont.Errorf(symbiont.EINVALID, "The form could not be read.")
	}
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return symbiont.Errorf(symbiont.EFORBIDDEN, "This form was sent from another site.")
	}
	// As every JSON body: text is UTF-8, or the form is refused (not "repaired" with U+FFFD).
	for k, vs := range r.PostForm {
		if !utf8.ValidString(k) {
			return symbiont.Errorf(symbiont.EINVALID, "The form is not valid UTF-8.").With("reason", "invalid_utf8")
		}
		for _, v := range vs {
			if !utf8.ValidString(v) {
				return symbiont.Errorf(symbiont.EINVALID, "The form field %s is not valid UTF-8.", k).With("field", k).With("reason", "invalid_utf8")
			}
		}
	}
	if !hmac.Equal([]byte(r.PostForm.Get("csrf")), []byte(s.csrf(credential))) {
		return symbiont.Errorf(symbiont.EFORBIDDEN, "This form has expired or was not sent from this page. Reload the page and try again.")
	}
	return nil
}

func (s *Server) setCookie(w http.ResponseWriter, name, value, path string, maxAge time.Duration) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: path, MaxAge: int(maxAge.Seconds()), HttpOnly: true,
		Secure: s.Secure, SameSite: http.SameSiteStrictMode})
}

func (s *Server) clearCookie(w http.ResponseWriter, name, path string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: path, MaxAge: -1, HttpOnly: true, Secure: s.Secure, SameSite: http.SameSiteStrictMode})
}

// seal encrypts a credential for the console cookie.
func (s *Server) seal(plain string) string {
	nonce := make([]byte, s.aead.NonceSize())
	rand.Read(nonce)
	return base64.RawURLEncoding.EncodeToString(s.aead.Seal(nonce, nonce, []byte(plain), []byte(consoleCookie)))
}

func (s *Server) open(sealed string) (string, bool) {
	b, err := base64.RawURLEncoding.DecodeString(sealed)
	if err != nil || len(b) < s.aead.NonceSize() {
		return "", false
	}
	n := s.aead.NonceSize()
	plain, err := s.aead.Open(nil, b[:n], b[n:], []byte(consoleCookie))
	return string(plain), err == nil
}

// redirect answers a POST with 303 See Other (so reloading the result does not repeat it),
// adding ?done=flash to say what happened.
func redirect(w http.ResponseWriter, r *http.Request, path, done string) {
	if done != "" {
		u, _ := url.Parse(path)
		q := u.Query()
		q.Set("done", done)
		u.RawQuery = q.Encode()
		path = u.String()
	}
	http.Redirect(w, r, path, http.StatusSeeOther)
}

// language picks the page language: the switch's cookie, else the browser's preference.
func language(r *http.Request) string {
	if c, err := r.Cookie(langCookie); err == nil && (c.Value == "en" || c.Value == "zh-CN") {
		return c.Value
	}
	for _, part := range strings.Split(r.Header.Get("Accept-Language"), ",") {
		tag := strings.ToLower(strings.TrimSpace(strings.SplitN(part, ";", 2)[0]))
		switch {
		case strings.HasPrefix(tag, "zh"):
			return "zh-CN"
		case strings.HasPrefix(tag, "en"):
			return "en"
		}
	}
	return "en"
}

// setLanguage handles the language switch: a GET with ?lang= sets the cookie and returns to the
// page it came from.
func (s *Server) setLanguage(w http.ResponseWriter, r *http.Request) {
	l := r.URL.Query().Get("lang")
	if l != "en" && l != "zh-CN" {
		l = "en"
	}
	http.SetCookie(w, &http.Cookie{Name: langCookie, Value: l, Path: "/", MaxAge: 365 * 24 * 3600, Secure: s.Secure, SameSite: http.SameSiteLaxMode})
	back, ok := localPath(r.URL.Query().Get("back"))
	if !ok {
		back = "/wallet"
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}

// pagePrefixes are where a redirect built from a request (the language switch's back=, the
// wallet link's own address) may lead: these pages and their sub-pages, on this site.
var pagePrefixes = []string{"/wallet", "/console"}

// localPath is the one check of every redirect target that comes from a request. It accepts
// only a path on this site under pagePrefixes and returns it cleaned and re-encoded (with its
// query, without a fragment); anything else (another host, a scheme, //host, /\host, \/,
// backslashes or control characters anywhere, encoded or not, tabs and newlines, dot segments
// that climb out, text that is not UTF-8, more than 2,000 bytes) gives ok=false, and the caller
// falls back to a page of its own.
func localPath(raw string) (string, bool) {
	if raw == "" || len(raw) > 2000 || raw[0] != '/' || !utf8.ValidString(raw) {
		return "", false
	}
	if len(raw) > 1 && (raw[1] == '/' || raw[1] == '\\') {
		return "", false // scheme-relative: another host
	}
	if strings.ContainsFunc(raw, badURLRune) {
		return "", false
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return "", false
	}
	// u.Path is decoded: %5C, %2F, %09 and their double encodings (%255C decodes to %5C)
	// are looked at as what they stand for.
	if strings.ContainsFunc(u.Path, badURLRune) || strings.Contains(u.Path, "%") {
		return "", false
	}
	clean := path.Clean(u.Path)
	allowed := false
	for _, p := range pagePrefixes {
		allowed = allowed || clean == p || strings.HasPrefix(clean, p+"/")
	}
	if !allowed {
		return "", false
	}
	if strings.HasSuffix(u.Path, "/") {
		clean += "/" // /wallet/ is a page of its own
	}
	out := &url.URL{Path: clean, RawQuery: u.Query().Encode()}
	return out.String(), true
}

// badURLRune: backslashes (browsers read them as slashes), control characters (tabs and
// newlines, which browsers drop from URLs, included) and Unicode's invisible separators.
func badURLRune(r rune) bool {
	return r == '\\' || r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f) || r == 0x2028 || r == 0x2029 || r == 0xfeff || r == utf8.RuneError
}
