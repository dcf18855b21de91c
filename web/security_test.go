package web_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/symbiont/symbiont/identity"
	"github.com/symbiont/symbiont/store"
	"github.com/symbiont/symbiont/tenant"
)

// TestLanguageSwitchRedirect: the language switch's back= goes only to a page of this site
// under /wallet or /console; every known bypass shape of an open redirect falls back to
// /wallet. It needs no sign-in, so anyone could send anyone such a link.
func TestLanguageSwitchRedirect(t *testing.T) {
	e := newConEnv(t)
	long := "/wallet/" + strings.Repeat("a", 2100)
	for _, c := range []struct{ back, want string }{
		{"/wallet", "/wallet"},
		{"/wallet/", "/wallet/"},
		{"/wallet/data", "/wallet/data"},
		{"/console", "/console"},
		{"/console/consumers/a-user", "/console/consumers/a-user"},
		{"/console/consumers/张三", "/console/consumers/%E5%BC%A0%E4%B8%89"},
		{"/wallet/rewards?code=AB-CD", "/wallet/rewards?code=AB-CD"},
		{"/wallet/../console/keys", "/console/keys"},
		{"/wallet/./data", "/wallet/data"},
		{"/wallet#frag", "/wallet"},
		// The case: /wallet/../\evil.com once answered Location: /\evil.com.
		{`/wallet/../\evil.com`, "/wallet"},
		{"/wallet/../%5Cevil.com", "/wallet"},
		{"/wallet/..%5C..%5Cevil.com", "/wallet"},
		{`/\evil.com`, "/wallet"},
		{`\/evil.com`, "/wallet"},
		{`\\evil.com`, "/wallet"},
		{"//evil.com", "/wallet"},
		{"//evil.com/wallet", "/wallet"},
		{"///evil.com", "/wallet"},
		{"/%2F/evil.com", "/wallet"},
		{"/%2Fevil.com", "/wallet"},
		{"/%5Cevil.com", "/wallet"},
		{"/wallet/%2e%2e/%2e%2e/evil", "/wallet"},
		{"/wallet/..%2F..%2Fevil.com", "/wallet"},
		{"/wallet/../../evil.com", "/wallet"},
		{"/wallet/..", "/wallet"},
		{"/..", "/wallet"},
		{"/wallet/%252F%252Fevil.com", "/wallet"},
		{"/wallet/%255Cevil.com", "/wallet"},
		{"/%09/evil.com", "/wallet"},
		{"/\t/evil.com", "/wallet"},
		{"/\n/evil.com", "/wallet"},
		{"/wallet\r\nSet-Cookie: x=1", "/wallet"},
		{"/wallet\x00", "/wallet"},
		{"/wallet\x7f", "/wallet"},
		{"/wallet\u2028", "/wallet"},
		{" /wallet", "/wallet"},
		{"/wallet/\xff", "/wallet"},
		{"https://evil.com/wallet", "/wallet"},
		{"http:/evil.com/wallet", "/wallet"},
		{"https:evil.com", "/wallet"},
		{"//user@evil.com/wallet", "/wallet"},
		{"javascript:alert(1)", "/wallet"},
		{"JaVaScRiPt:alert(1)//wallet", "/wallet"},
		{"data:text/html,<script>alert(1)</script>", "/wallet"},
		{"/walletevil", "/wallet"},
		{"/consoleX", "/wallet"},
		{"/static/app.js", "/wallet"},
		{"/v1/me", "/wallet"},
		{"evil.com", "/wallet"},
		{"", "/wallet"},
		{long, "/wallet"},
	} {
		q := url.Values{"lang": {"en"}, "back": {c.back}}
		r := e.get(e.newClient(), "/lang?"+q.Encode())
		if r.status != http.StatusSeeOther || r.location != c.want {
			t.Errorf("back=%q: %d Location %q, want 303 %q", c.back, r.status, r.location, c.want)
		}
		// Whatever the answer, a browser resolving it stays on this site.
		base, _ := url.Parse(e.srv.URL + "/lang")
		if loc, err := url.Parse(strings.ReplaceAll(r.location, `\`, "/")); err != nil || base.ResolveReference(loc).Host != base.Host {
			t.Errorf("back=%q: Location %q leaves the site", c.back, r.location)
		}
	}
	// The raw query, as a browser sends the link.
	r := e.get(e.newClient(), "/lang?lang=en&back=/wallet/../%5Cevil.com")
	if r.location != "/wallet" {
		t.Errorf("the issue's link: Location %q, want /wallet", r.location)
	}
}

// walletLink opens a wallet session for a brand's user and returns its link's path and token.
func (e *conEnv) walletLink(brand *tenant.NewBrand, user string, ttl time.Duration) (string, string) {
	e.t.Helper()
	ctx := context.Background()
	var id int64
	if err := e.p.Store.Update(ctx, func(tx store.Tx) (err error) {
		id, _, err = e.p.Graph.Resolve(ctx, tx, brand.Brand.ID, identity.KindUserID, user, true, e.clock.Now())
		return err
	}); err != nil {
		e.t.Fatal(err)
	}
	s, err := e.p.Tenants.OpenSession(ctx, brand.Brand.ID, id, ttl)
	if err != nil {
		e.t.Fatal(err)
	}
	return "/wallet?token=" + url.QueryEscape(s.Token), s.Token
}

// request sends one request with extra headers and returns the raw response (body read).
func (e *conEnv) request(c *http.Client, method, path string, form url.Values, headers map[string]string) (*http.Response, string) {
	e.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, e.srv.URL+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	res, err := c.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

func walletCookieOf(res *http.Response) *http.Cookie {
	for _, c := range res.Cookies() {
		if c.Name == "symbiont_wallet" {
			return c
		}
	}
	return nil
}

// jarToken is the wallet token the client's cookie jar holds.
func (e *conEnv) jarToken(c *http.Client) string {
	u, _ := url.Parse(e.srv.URL + "/wallet")
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == "symbiont_wallet" {
			return ck.Value
		}
	}
	return ""
}

// TestWalletLinkFixation: a wallet link moves its token into a cookie that lives as long as
// the session (not a fixed day), with an answer that is not cached and sends no Referer; a
// link to another consumer's wallet, from another site or not, does not replace the browser's
// session without asking, and the question can only be answered from this site.
func TestWalletLinkFixation(t *testing.T) {
	e := newConEnv(t)
	victim := e.newClient()
	link, tok := e.walletLink(e.a, "victim", 10*time.Minute)
	res, _ := e.request(victim, "GET", link+"&x=1", nil, nil)
	ck := walletCookieOf(res)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/wallet?x=1" || ck == nil || ck.Value != tok {
		t.Fatalf("first link: %d → %q, cookie %+v", res.StatusCode, res.Header.Get("Location"), ck)
	}
	if ck.MaxAge != 600 || ck.Expires.IsZero() || !ck.Expires.Equal(e.clock.Now().Add(10*time.Minute).Truncate(time.Second)) ||
		!ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/wallet" {
		t.Errorf("wallet cookie %+v: want Max-Age 600 and Expires with the session, HttpOnly, SameSite=Strict, Path=/wallet", ck)
	}
	if cc, rp := res.Header.Get("Cache-Control"), res.Header.Get("Referrer-Policy"); cc != "no-store" || rp != "no-referrer" {
		t.Errorf("token redirect: Cache-Control %q, Referrer-Policy %q; want no-store, no-referrer", cc, rp)
	}
	// A session of a minute gives a cookie of a minute.
	shortLink, _ := e.walletLink(e.a, "short", time.Minute)
	if res, _ := e.request(e.newClient(), "GET", shortLink, nil, nil); walletCookieOf(res) == nil || walletCookieOf(res).MaxAge != 60 {
		t.Errorf("1-minute session: cookie %+v, want Max-Age 60", walletCookieOf(res))
	}

	// The attacker's own wallet link, sent to the victim from another site.
	evilLink, evilTok := e.walletLink(e.b, "attacker", time.Hour)
	for _, site := range []string{"cross-site", "same-site", "none", ""} {
		res, body := e.request(victim, "GET", evilLink, nil, map[string]string{"Sec-Fetch-Site": site})
		if res.StatusCode != http.StatusOK || walletCookieOf(res) != nil {
			t.Fatalf("Sec-Fetch-Site %q: %d, cookie %+v: want the switch page, no cookie", site, res.StatusCode, walletCookieOf(res))
		}
		for _, want := range []string{`action="/wallet/switch"`, `name="choice" value="keep">Stay in my wallet with Brand A</button>`,
			`name="choice" value="switch">Open the wallet with Brand B</button>`, "Open another wallet?"} {
			if !strings.Contains(body, want) {
				t.Errorf("switch page lacks %q", want)
			}
		}
		if res.Header.Get("Cache-Control") != "no-store" || res.Header.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("switch page: Cache-Control %q, Referrer-Policy %q", res.Header.Get("Cache-Control"), res.Header.Get("Referrer-Policy"))
		}
		if e.jarToken(victim) != tok {
			t.Fatal("the link replaced the session")
		}
	}
	_, page := e.request(victim, "GET", evilLink, nil, map[string]string{"Accept-Language": "zh-CN"})
	if !strings.Contains(page, "打开另一个钱包？") || !strings.Contains(page, "留在我在 Brand A 的钱包") || !strings.Contains(page, "打开 Brand B 的钱包") {
		t.Error("the switch page is not in Chinese for a Chinese browser")
	}
	csrf := conCSRF(page)
	form := func(choice string) url.Values {
		return url.Values{"csrf": {csrf}, "token": {evilTok}, "next": {"/wallet"}, "choice": {choice}}
	}
	// Another site cannot answer for the victim: a form from elsewhere, or without the token
	// of the victim's session, is refused.
	if res, _ := e.request(victim, "POST", "/wallet/switch", form("switch"), map[string]string{"Sec-Fetch-Site": "cross-site"}); res.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site switch: %d, want 403", res.StatusCode)
	}
	bad := form("switch")
	bad.Set("csrf", "0123456789abcdef0123456789abcdef")
	if res, _ := e.request(victim, "POST", "/wallet/switch", bad, nil); res.StatusCode != http.StatusForbidden {
		t.Errorf("switch with a wrong CSRF token: %d, want 403", res.StatusCode)
	}
	if res, _ := e.request(e.newClient(), "POST", "/wallet/switch", form("switch"), nil); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("switch without a session: %d, want 401", res.StatusCode)
	}
	if e.jarToken(victim) != tok {
		t.Fatal("a refused switch replaced the session")
	}
	// Keeping changes nothing.
	if res, _ := e.request(victim, "POST", "/wallet/switch", form("keep"), map[string]string{"Sec-Fetch-Site": "same-origin"}); res.StatusCode != http.StatusSeeOther ||
		res.Header.Get("Location") != "/wallet" || walletCookieOf(res) != nil || e.jarToken(victim) != tok {
		t.Errorf("keep: %d → %q, cookie %+v", res.StatusCode, res.Header.Get("Location"), walletCookieOf(res))
	}
	// The switch's destination obeys the one redirect rule.
	sw := form("switch")
	sw.Set("next", "//evil.com")
	res, _ = e.request(victim, "POST", "/wallet/switch", sw, map[string]string{"Sec-Fetch-Site": "same-origin"})
	if ck := walletCookieOf(res); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/wallet" || ck == nil || ck.Value != evilTok || ck.MaxAge != 3600 {
		t.Fatalf("switch: %d → %q, cookie %+v", res.StatusCode, res.Header.Get("Location"), ck)
	}
	if res.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("switch answer: Cache-Control %q", res.Header.Get("Cache-Control"))
	}
	if r := e.get(victim, "/wallet"); r.status != 200 || !strings.Contains(r.body, "Brand B") {
		t.Errorf("after switching: %d", r.status)
	}

	// A fresh link of the same consumer takes over without asking (the same person's newer
	// session); so does any link when the browser's session has ended.
	again, againTok := e.walletLink(e.b, "attacker", time.Hour)
	if res, _ := e.request(victim, "GET", again, nil, nil); res.StatusCode != http.StatusSeeOther || walletCookieOf(res) == nil || walletCookieOf(res).Value != againTok {
		t.Errorf("same consumer's new link: %d", res.StatusCode)
	}
	e.clock.Advance(2 * time.Hour)
	late, lateTok := e.walletLink(e.a, "victim", time.Hour)
	if res, _ := e.request(victim, "GET", late, nil, nil); res.StatusCode != http.StatusSeeOther || walletCookieOf(res) == nil || walletCookieOf(res).Value != lateTok {
		t.Errorf("link after the session ended: %d", res.StatusCode)
	}
	// A bad token changes nothing and is not cached either.
	res, _ = e.request(victim, "GET", "/wallet?token=wt_nope", nil, nil)
	if res.StatusCode != http.StatusUnauthorized || walletCookieOf(res) != nil || res.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("bad token: %d, cookie %+v, Cache-Control %q", res.StatusCode, walletCookieOf(res), res.Header.Get("Cache-Control"))
	}
}

// TestStaticServesFilesOnly: /static/ serves its files and lists no directory.
func TestStaticServesFilesOnly(t *testing.T) {
	e := newConEnv(t)
	c := e.newClient()
	if r := e.get(c, "/static/app.css"); r.status != 200 || r.body == "" {
		t.Errorf("/static/app.css: %d", r.status)
	}
	for _, p := range []string{"/static/", "/static", "/static/.", "/static//", "/static/./", "/static/%2e/", "/static/nope.css", "/static/../web.go"} {
		r := e.get(c, p)
		if r.status == 200 || strings.Contains(r.body, `<a href="app.css">`) {
			t.Errorf("%s: %d %.200s, want no listing", p, r.status, r.body)
		}
	}
}

// TestFormsRefuseInvalidUTF8: a console form whose text is not UTF-8 is refused (400), not
// stored with U+FFFD in its place, as the API refuses such JSON.
func TestFormsRefuseInvalidUTF8(t *testing.T) {
	e := newConEnv(t)
	c := e.newClient()
	e.login(c, e.a.SecretKey)
	for name, form := range map[string]url.Values{
		"label":    {"kind": {"category"}, "name": {"loyalty_x"}, "label": {"Loyalty \xff"}, "description": {"d"}},
		"field":    {"kind": {"category"}, "name": {"loyalty_y"}, "label": {"Loyalty"}, "descr\xffiption": {"d"}},
		"surrogat": {"kind": {"category"}, "name": {"loyalty_z"}, "label": {"L \xed\xa0\x80"}, "description": {"d"}},
	} {
		r := e.post(c, "/console/plan", "/console/plan/terms", form)
		if r.status != http.StatusBadRequest || !strings.Contains(r.body, "UTF-8") {
			t.Errorf("%s: %d %.300s, want 400 naming UTF-8", name, r.status, r.body)
		}
	}
	v, err := e.p.Consent.Vocabulary(context.Background(), e.a.Brand.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range v.Categories {
		if strings.HasPrefix(c.Name, "loyalty_") || strings.ContainsRune(c.Label, '\uFFFD') {
			t.Errorf("stored %+v", c)
		}
	}
	// Valid text goes through.
	ok := url.Values{"kind": {"category"}, "name": {"loyalty_ok"}, "label": {"会员 " + strconv.Itoa(1)}, "description": {"d"}}
	if r := e.post(c, "/console/plan", "/console/plan/terms", ok); r.status != http.StatusSeeOther {
		t.Errorf("valid term: %d %.300s", r.status, r.body)
	}
}
