package web_test

// The browser tests drive a real Chromium (headless, through the DevTools protocol with
// chromedp) against the platform started in this process and seeded with the demo brand.
// One browser serves the whole test binary; each test gets its own platform, its own tab and
// its own browser context (a fresh cookie jar).
//
// Without Chromium the tests skip and say how to enable them; under CI=true they fail instead.

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/symbiont/symbiont"
	"github.com/symbiont/symbiont/api"
	"github.com/symbiont/symbiont/demo"
	"github.com/symbiont/symbiont/platform"
)

// browserHelp says how to enable the browser tests.
const browserHelp = "the browser tests need Chromium: install it (Debian/Ubuntu: apt-get install chromium) " +
	"or set SYMBIONT_CHROMIUM to a Chrome or Chromium binary"

// Viewports.
const (
	desktopWidth, desktopHeight = 1280, 900
	phoneWidth, phoneHeight     = 390, 844
)

var browser struct {
	once   sync.Once
	ctx    context.Context // the browser's context: tabs are children of it
	cancel context.CancelFunc
	dir    string // the profile (--user-data-dir)
	err    error
}

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if browser.cancel != nil {
		browser.cancel() // stops Chromium
	}
	if browser.dir != "" {
		os.RemoveAll(browser.dir)
	}
	os.Exit(code)
}

// chromiumPath finds the browser: SYMBIONT_CHROMIUM, else a Chromium or Chrome on PATH.
func chromiumPath() (string, error) {
	if p := os.Getenv("SYMBIONT_CHROMIUM"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("SYMBIONT_CHROMIUM=%s: %w", p, err)
		}
		return p, nil
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("no chromium, chromium-browser or google-chrome on PATH")
}

// needBrowser returns the shared browser's context, starting Chromium on first use. Without a
// browser the test skips (fails under CI=true).
func needBrowser(t *testing.T) context.Context {
	t.Helper()
	browser.once.Do(startBrowser)
	if browser.err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%v (CI=true: browser tests must run; %s)", browser.err, browserHelp)
		}
		t.Skipf("skipped: %v; %s", browser.err, browserHelp)
	}
	return browser.ctx
}

func startBrowser() {
	path, err := chromiumPath()
	if err != nil {
		browser.err = err
		return
	}
	dir, err := os.MkdirTemp("", "symbiont-chromium-")
	if err != nil {
		browser.err = err
		return
	}
	browser.dir = dir
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.UserDataDir(dir),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		// Without these Chromium reaches out to Google's services; on a closed network the
		// refused connections slow everything down.
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("lang", "en-US"),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.WindowSize(desktopWidth, desktopHeight),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	browser.ctx = ctx
	browser.cancel = func() { cancelCtx(); cancelAlloc() }
	if err := chromedp.Do(ctx); err != nil { // starts the browser, bound to ctx (no timeout)
		browser.err = fmt.Errorf("start %s: %w", path, err)
		browser.cancel()
		browser.cancel = nil
	}
}

// site is a platform seeded with the demo brand, served over HTTP.
type site struct {
	URL  string
	P    *platform.Platform
	Demo *demo.Demo
}

// newSite opens a platform on a temporary directory and seeds the demo. The listener is made
// first so that the platform's BaseURL (used in the demo's wallet link) is the server's URL.
func newSite(t *testing.T) *site {
	t.Helper()
	var h http.Handler
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	base := "http://" + srv.Listener.Addr().String()
	p, err := platform.Open(context.Background(), platform.Config{
		DataDir: t.TempDir(), AdminToken: "op_browser-test-operator-token-0123", BaseURL: base,
		// The demo seeds months of history by moving this clock back, as serve --demo does.
		Clock:          &symbiont.ShiftedClock{Base: symbiont.SystemClock{}},
		Limits:         &api.Limits{IngestPerKey: 1e6, APIPerKey: 1e6, WalletPerUser: 1e6},
		IntegrateEvery: 100 * time.Millisecond,
	})
	if err != nil {
		srv.Listener.Close()
		t.Fatalf("platform.Open: %v", err)
	}
	h = p.Handler()
	srv.Start()
	t.Cleanup(func() {
		srv.Close()
		if err := p.Close(); err != nil {
			t.Errorf("platform close: %v", err)
		}
	})
	d, err := demo.Seed(context.Background(), p)
	if err != nil {
		t.Fatalf("demo.Seed: %v", err)
	}
	if !strings.HasPrefix(d.WalletURL, base+"/wallet?token=") {
		t.Fatalf("demo wallet link %q does not point at the test server %s", d.WalletURL, base)
	}
	return &site{URL: base, P: p, Demo: d}
}

// tab is one browser tab in its own browser context (its own cookies).
type tab struct {
	t    *testing.T
	ctx  context.Context
	base string
}

// newTab opens a tab at the desktop size. Every action of the test is bounded by 60 s.
func newTab(t *testing.T, s *site) *tab {
	t.Helper()
	bctx := needBrowser(t)
	ctx, cancel := chromedp.NewContext(bctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil { // opens the tab, bound to ctx
		t.Fatalf("open a tab: %v", err)
	}
	tctx, tcancel := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(tcancel)
	tb := &tab{t: t, ctx: tctx, base: s.URL}
	tb.do(chromedp.EmulateViewport(desktopWidth, desktopHeight))
	return tb
}

// do runs actions and fails the test on an error.
func (tb *tab) do(actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	if err := chromedp.Do(tb.ctx, actions...); err != nil {
		tb.t.Fatalf("browser: %v", err)
	}
}

// open navigates to a path (or absolute URL) and waits for the page to load. It returns the
// HTTP status of the document.
func (tb *tab) open(path string) int64 {
	tb.t.Helper()
	u := path
	if strings.HasPrefix(path, "/") {
		u = tb.base + path
	}
	resp, err := chromedp.Run(tb.ctx, chromedp.NavigateResponse(u))
	if err != nil {
		tb.t.Fatalf("open %s: %v", path, err)
	}
	return resp.Status
}

// Finding things as a person does. Every control a test clicks, fills or reads is found by
// its role and accessible name (the words a screen reader says: its label, aria-label, the
// text of the heading that labels it, its own text), and text is read as rendered on screen
// (innerText), never by CSS selector or from hidden DOM. A control must be visible to be
// used: a box of non-zero size, not display:none, visibility:hidden or transparent, and not
// covered by another element at its centre. So a page that looks broken, or whose controls
// have no names, cannot pass.
//
// A scope narrows the search to a named region, the way a person looks inside one card:
// tb.in("article", "Purchases · Personalisation").click("button", "Share").

// findJS is the finder, defined once per page (window.__find).
const findJS = `window.__find || (window.__find = (function () {
  var norm = function (s) { return (s || '').replace(/\s+/g, ' ').trim(); };
  function role(e) {
    var r = e.getAttribute('role'); if (r) return r.split(' ')[0];
    var t = e.tagName.toLowerCase(), type = (e.getAttribute('type') || 'text').toLowerCase();
    switch (t) {
      case 'a': return e.hasAttribute('href') ? 'link' : '';
      case 'button': case 'summary': return 'button';
      case 'input':
        if (type === 'submit' || type === 'button' || type === 'reset') return 'button';
        if (type === 'checkbox') return 'checkbox';
        if (type === 'radio') return 'radio';
        if (type === 'hidden') return '';
        return 'textbox';
      case 'textarea': return 'textbox';
      case 'select': return 'combobox';
      case 'h1': case 'h2': case 'h3': case 'h4': case 'h5': case 'h6': return 'heading';
      case 'article': return 'article';
      case 'section': return (e.hasAttribute('aria-labelledby') || e.hasAttribute('aria-label')) ? 'region' : '';
      case 'figure': return 'figure';
      case 'table': return 'table';
      case 'li': return 'listitem';
      case 'ul': case 'ol': return 'list';
      case 'nav': return 'navigation';
      case 'main': return 'main';
      case 'form': return 'form';
      case 'img': return 'img';
    }
    return '';
  }
  // text is what an element's content says: a control inside says its value, not its options;
  // the control a label is for is left out of its own name.
  function text(n, self) {
    if (n.nodeType === 3) return n.textContent;
    if (n.nodeType !== 1 || n === self) return '';
    var t = n.tagName.toLowerCase();
    if (t === 'select') { var o = n.options[n.selectedIndex]; return o ? o.text : ''; }
    if (t === 'input' || t === 'textarea') return '';
    if (t === 'script' || t === 'style') return '';
    if (n.getAttribute('aria-hidden') === 'true') return '';
    var out = ''; for (var c = n.firstChild; c; c = c.nextSibling) out += text(c, self) + (c.nodeType === 1 && getComputedStyle(c).display === 'block' ? ' ' : '');
    return out;
  }
  function name(e) {
    var by = e.getAttribute('aria-labelledby');
    if (by) return norm(by.split(/\s+/).map(function (id) { var x = document.getElementById(id); return x ? text(x) : ''; }).join(' '));
    if (e.getAttribute('aria-label')) return norm(e.getAttribute('aria-label'));
    var t = e.tagName.toLowerCase();
    if ((t === 'input' || t === 'select' || t === 'textarea') && e.labels && e.labels.length)
      return norm(Array.prototype.map.call(e.labels, function (l) { return text(l, e); }).join(' '));
    if (t === 'input' && /^(submit|button|reset)$/.test(e.type)) return norm(e.value);
    if (t === 'img') return norm(e.alt);
    if (t === 'svg') { var ti = e.querySelector('title'); if (ti) return norm(ti.textContent); }
    var r = role(e);
    if (r === 'button' || r === 'link' || r === 'heading' || r === 'listitem' || r === 'checkbox') return norm(text(e)) || norm(e.title);
    return norm(e.title);
  }
  function visible(e) {
    var b = e.getBoundingClientRect();
    if (b.width === 0 || b.height === 0) return false;
    return e.checkVisibility({checkOpacity: true, checkVisibilityCSS: true});
  }
  // covered reports what is drawn over the element's centre, if anything else is.
  function covered(e) {
    e.scrollIntoView({block: 'center', inline: 'center'});
    var b = e.getBoundingClientRect(), x = b.left + b.width / 2, y = b.top + b.height / 2;
    var top = document.elementFromPoint(x, y);
    if (!top || top === e || e.contains(top)) return '';
    for (var l = e.labels ? Array.prototype.slice.call(e.labels) : [], i = 0; i < l.length; i++) if (l[i].contains(top)) return '';
    return top.outerHTML.slice(0, 120);
  }
  function roots(scope) {
    var rs = [document.body];
    (scope || []).forEach(function (s) {
      var next = [];
      rs.forEach(function (r) { all(r, s[0], s[1], false).forEach(function (e) { next.push(e); }); });
      rs = next;
    });
    return rs;
  }
  // all lists the visible elements of a role under root whose name is want (contains it,
  // when partial; any name when want is null).
  function all(root, r, want, exact) {
    var out = [];
    root.querySelectorAll('*').forEach(function (e) {
      if (role(e) !== r || !visible(e)) return;
      var n = name(e);
      if (want === null || (exact ? n === norm(want) : n.indexOf(norm(want)) >= 0)) out.push(e);
    });
    return out;
  }
  function find(scope, r, want) {
    var rs = roots(scope), found = [];
    rs.forEach(function (root) { all(root, r, want, true).forEach(function (e) { if (found.indexOf(e) < 0) found.push(e); }); });
    return {roots: rs.length, found: found};
  }
  return {
    role: role, name: name, visible: visible, covered: covered, roots: roots, all: all, norm: norm,
    // one returns the single visible element of a role and name in the scope, or throws why not.
    one: function (scope, r, want) {
      var f = find(scope, r, want);
      if (f.roots === 0) throw new Error('no visible region ' + JSON.stringify(scope));
      if (f.found.length !== 1) {
        var names = [];
        roots(scope).forEach(function (root) { all(root, r, null, false).forEach(function (e) { names.push(name(e)); }); });
        throw new Error(f.found.length + ' visible ' + r + ' named ' + JSON.stringify(want) + ' in ' + JSON.stringify(scope) +
          '; the visible ' + r + 's are named ' + JSON.stringify(names.slice(0, 40)));
      }
      return f.found[0];
    },
    // text is the scope's text as rendered (innerText: what is on screen).
    text: function (scope) { return roots(scope).map(function (e) { return e.innerText; }).join('\n'); }
  };
})())`

// scope is a region of the page: the whole page, or named regions one inside the other.
type scope struct {
	tb   *tab
	path [][2]string // role, name (contained in the region's name)
}

// in narrows the search to the visible region of the role whose name contains name.
func (tb *tab) in(role, name string) scope { return scope{tb: tb}.in(role, name) }

func (sc scope) in(role, name string) scope {
	p := append(append([][2]string(nil), sc.path...), [2]string{role, name})
	return scope{tb: sc.tb, path: p}
}

// js is an expression on the finder with the scope's path as S.
func (sc scope) js(expr string) string {
	b, _ := json.Marshal(sc.path)
	return "(function(){var F=" + findJS + ", S=" + string(b) + "; return " + expr + ";})()"
}

// element is the expression of the one visible element of the role and exact name.
func (sc scope) element(role, name string) string {
	return sc.js("F.one(S, " + q(role) + ", " + q(name) + ")")
}

// mustFind fails the test, saying what is on the page instead, unless exactly one visible
// element of the role and name is there and nothing covers it.
func (sc scope) mustFind(role, name string) {
	sc.tb.t.Helper()
	v, err := chromedp.Run(sc.tb.ctx, chromedp.Evaluate[string](sc.js(`(function(){ try { var e = F.one(S, `+q(role)+`, `+q(name)+`);
	  var c = F.covered(e); return c ? 'covered by ' + c : ''; } catch (x) { return x.message; } })()`)))
	if err != nil {
		sc.tb.t.Fatalf("find %s %q: %v", role, name, err)
	}
	if v != "" {
		sc.tb.t.Fatalf("%s: %s %q: %s", sc.tb.path(), role, name, v)
	}
}

// has reports whether one visible element of the role and exact name is in the scope.
func (sc scope) has(role, name string) bool {
	sc.tb.t.Helper()
	return eval[bool](sc.tb, sc.js(`(function(){ try { F.one(S, `+q(role)+`, `+q(name)+`); return true; } catch (x) { return false; } })()`))
}

// names lists the names of the visible elements of a role in the scope.
func (sc scope) names(role string) []string {
	sc.tb.t.Helper()
	return eval[[]string](sc.tb, sc.js(`(function(){ var out = []; F.roots(S).forEach(function (r) {
	  F.all(r, `+q(role)+`, null, false).forEach(function (e) { out.push(F.name(e)); }); }); return out; })()`))
}

// click clicks the control (a link or a form's button) and waits for the page it loads; it
// returns the HTTP status of the new document.
func (sc scope) click(role, name string) int64 {
	sc.tb.t.Helper()
	sc.mustFind(role, name)
	resp, err := chromedp.RunResponse(sc.tb.ctx, chromedp.Click(chromedp.JSPath(sc.element(role, name))))
	if err != nil {
		sc.tb.t.Fatalf("click %s %q: %v (on %s)", role, name, err, sc.tb.location())
	}
	return resp.Status
}

// press clicks a control that changes the page without loading another (a checkbox, a
// disclosure).
func (sc scope) press(role, name string) {
	sc.tb.t.Helper()
	sc.mustFind(role, name)
	sc.tb.do(chromedp.Click(chromedp.JSPath(sc.element(role, name))))
}

// fill types a value into the text field with the label.
func (sc scope) fill(label, value string) {
	sc.tb.t.Helper()
	sc.mustFind("textbox", label)
	sc.tb.do(chromedp.SetValue(chromedp.JSPath(sc.element("textbox", label)), value))
}

// choose picks the option with the text in the drop-down list with the label.
func (sc scope) choose(label, option string) {
	sc.tb.t.Helper()
	sc.mustFind("combobox", label)
	ok := eval[bool](sc.tb, sc.js(`(function(){ var e = F.one(S, 'combobox', `+q(label)+`);
	  for (var i = 0; i < e.options.length; i++) if (F.norm(e.options[i].text) === `+q(option)+`) {
	    e.selectedIndex = i; e.dispatchEvent(new Event('change', {bubbles: true})); return true; } return false; })()`))
	if !ok {
		sc.tb.t.Fatalf("%s: the list %q has no option %q", sc.tb.path(), label, option)
	}
}

// value is the value of the field (text box, text area, list) with the label.
func (sc scope) value(role, label string) string {
	sc.tb.t.Helper()
	sc.mustFind(role, label)
	return eval[string](sc.tb, sc.js(`F.one(S, `+q(role)+`, `+q(label)+`).value`))
}

// attr is an attribute of the one visible element of the role and name.
func (sc scope) attr(role, name, attr string) string {
	sc.tb.t.Helper()
	sc.mustFind(role, name)
	return eval[string](sc.tb, sc.js(`F.one(S, `+q(role)+`, `+q(name)+`).getAttribute(`+q(attr)+`) || ''`))
}

// disabled reports whether the control is disabled.
func (sc scope) disabled(role, name string) bool {
	sc.tb.t.Helper()
	sc.mustFind(role, name)
	return eval[bool](sc.tb, sc.js(`F.one(S, `+q(role)+`, `+q(name)+`).disabled === true`))
}

// text is the scope's text as shown on screen, whitespace normalised.
func (sc scope) text() string {
	sc.tb.t.Helper()
	return eval[string](sc.tb, sc.js(`F.norm(F.text(S))`))
}

// lines is the scope's text as shown on screen, one entry per rendered line.
func (sc scope) lines() []string {
	sc.tb.t.Helper()
	return eval[[]string](sc.tb, sc.js(`F.text(S).split('\n').map(F.norm).filter(function (l) { return l; })`))
}

// expectText fails the test unless every text is shown in the scope.
func (sc scope) expectText(texts ...string) {
	sc.tb.t.Helper()
	got := sc.text()
	for _, want := range texts {
		if !strings.Contains(got, want) {
			sc.tb.t.Fatalf("%s: %q is not shown in %v; shown: %.800s", sc.tb.path(), want, sc.path, got)
		}
	}
}

// expectNoText fails the test when a text is shown in the scope.
func (sc scope) expectNoText(texts ...string) {
	sc.tb.t.Helper()
	got := sc.text()
	for _, bad := range texts {
		if strings.Contains(got, bad) {
			sc.tb.t.Fatalf("%s: %q is shown in %v: %.500s", sc.tb.path(), bad, sc.path, got)
		}
	}
}

// The whole page's scope, for brevity.
func (tb *tab) page() scope                         { return scope{tb: tb} }
func (tb *tab) click(role, name string) int64       { return tb.page().click(role, name) }
func (tb *tab) has(role, name string) bool          { return tb.page().has(role, name) }
func (tb *tab) mustFind(role, name string)          { tb.page().mustFind(role, name) }
func (tb *tab) fill(label, value string)            { tb.page().fill(label, value) }
func (tb *tab) expectText(texts ...string)          { tb.page().expectText(texts...) }
func (tb *tab) expectNoText(texts ...string)        { tb.page().expectNoText(texts...) }
func (tb *tab) text() string                        { return tb.in("main", "").text() }
func (tb *tab) attr(role, name, attr string) string { return tb.page().attr(role, name, attr) }

// clickConfirm clicks a button whose form asks window.confirm first (data-confirm), accepts
// the dialog and waits for the page. It returns the dialog's message and the status.
func (sc scope) clickConfirm(role, name string) (string, int64) {
	sc.tb.t.Helper()
	tb := sc.tb
	sc.mustFind(role, name)
	dialogs := chromedp.Events(tb.ctx, page.JavascriptDialogOpening)
	dctx, stop := context.WithCancel(tb.ctx)
	defer stop()
	msg := make(chan string, 1)
	go func() {
		for ev, err := range dialogs {
			if err != nil || dctx.Err() != nil {
				return
			}
			select {
			case msg <- string(ev.Type) + ": " + ev.Message:
			default:
			}
			chromedp.Call(tb.ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
			return
		}
	}()
	resp, err := chromedp.RunResponse(tb.ctx, chromedp.Click(chromedp.JSPath(sc.element(role, name))))
	if err != nil {
		tb.t.Fatalf("click %s %q: %v", role, name, err)
	}
	select {
	case m := <-msg:
		return m, resp.Status
	default:
		return "", resp.Status
	}
}

// eval evaluates a JavaScript expression in the page and decodes its value into T.
func eval[T any](tb *tab, js string) T {
	tb.t.Helper()
	v, err := chromedp.Run(tb.ctx, chromedp.Evaluate[T](js))
	if err != nil {
		tb.t.Fatalf("evaluate %.200s: %v", js, err)
	}
	return v
}

// evalAsync evaluates an expression that gives a promise and decodes what it resolves to.
func evalAsync[T any](tb *tab, js string) T {
	tb.t.Helper()
	v, err := chromedp.Run(tb.ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	if err != nil {
		tb.t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

// q quotes a string for JavaScript.
func q(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// location is the page's URL.
func (tb *tab) location() string {
	tb.t.Helper()
	return eval[string](tb, "location.href")
}

// path is the page's path and query.
func (tb *tab) path() string {
	tb.t.Helper()
	return eval[string](tb, "location.pathname + location.search")
}

// setViewport changes the emulated screen: the phone is a touch screen with a mobile layout
// viewport (the page's meta viewport applies), the desktop a plain window.
func (tb *tab) setViewport(width, height int64) {
	tb.t.Helper()
	if width < 600 {
		tb.do(chromedp.EmulateViewport(width, height, chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulatePortrait))
	} else {
		tb.do(chromedp.EmulateViewport(width, height))
	}
}

// overflow reports the page's horizontal overflow at the current viewport: the document's
// scroll width and the elements sticking out on the right, as CSS paths.
type overflow struct {
	ScrollWidth int      `json:"scrollWidth"`
	InnerWidth  int      `json:"innerWidth"`
	ClientWidth int      `json:"clientWidth"`
	Culprits    []string `json:"culprits"`
}

const overflowJS = `(function(){
  var de = document.documentElement, vw = de.clientWidth, out = [];
  function path(e){ var p = []; for (; e && e.nodeType === 1 && p.length < 5; e = e.parentElement) {
    var s = e.tagName.toLowerCase(); if (e.id) { p.unshift(s + '#' + e.id); break; }
    if (e.classList.length) s += '.' + Array.prototype.join.call(e.classList, '.'); p.unshift(s); } return p.join(' > '); }
  document.querySelectorAll('body *').forEach(function(e){
    var r = e.getBoundingClientRect(); if (r.width === 0 || r.right <= vw + 0.5) return;
    for (var a = e.parentElement; a; a = a.parentElement) { var ov = getComputedStyle(a).overflowX;
      if (ov === 'auto' || ov === 'scroll' || ov === 'hidden') return; }
    if (out.length < 8) out.push(path(e) + ' (right ' + Math.round(r.right) + 'px)'); });
  return {scrollWidth: de.scrollWidth, innerWidth: window.innerWidth, clientWidth: vw, culprits: out};
})()`

// noHorizontalScroll fails the test when the page is wider than the viewport.
func (tb *tab) noHorizontalScroll(width int) {
	tb.t.Helper()
	o := eval[overflow](tb, overflowJS)
	if o.ScrollWidth > o.InnerWidth || o.ScrollWidth > width {
		tb.t.Errorf("%s at %dpx: horizontal scroll (scrollWidth %d, innerWidth %d); sticking out: %s",
			tb.path(), width, o.ScrollWidth, o.InnerWidth, strings.Join(o.Culprits, "; "))
	}
}
