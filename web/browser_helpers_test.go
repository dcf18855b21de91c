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

// click clicks the element and waits for the page the click loads (a link or a form's
// submit button). It returns the HTTP status of the new document.
func (tb *tab) click(sel string) int64 {
	tb.t.Helper()
	resp, err := chromedp.RunResponse(tb.ctx, chromedp.Click(chromedp.CSS(sel)))
	if err != nil {
		tb.t.Fatalf("click %s: %v (on %s)", sel, err, tb.location())
	}
	return resp.Status
}

// clickConfirm clicks a submit button whose form asks window.confirm first (data-confirm),
// accepts the dialog and waits for the page. It returns the dialog's message.
func (tb *tab) clickConfirm(sel string) (string, int64) {
	tb.t.Helper()
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
	resp, err := chromedp.RunResponse(tb.ctx, chromedp.Click(chromedp.CSS(sel)))
	if err != nil {
		tb.t.Fatalf("click %s: %v", sel, err)
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
		tb.t.Fatalf("evaluate %s: %v", js, err)
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

// has reports whether the selector matches an element.
func (tb *tab) has(sel string) bool {
	tb.t.Helper()
	return eval[bool](tb, "document.querySelector("+q(sel)+") !== null")
}

// count is the number of elements the selector matches.
func (tb *tab) count(sel string) int {
	tb.t.Helper()
	return eval[int](tb, "document.querySelectorAll("+q(sel)+").length")
}

// text is the whitespace-normalised text of the first match ("" when there is none).
func (tb *tab) text(sel string) string {
	tb.t.Helper()
	return eval[string](tb, "(function(){var e=document.querySelector("+q(sel)+");return e?e.textContent.replace(/\\s+/g,' ').trim():''})()")
}

// attr is an attribute of the first match ("" when there is none).
func (tb *tab) attr(sel, name string) string {
	tb.t.Helper()
	return eval[string](tb, "(function(){var e=document.querySelector("+q(sel)+");return e?(e.getAttribute("+q(name)+")||''):''})()")
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

// must fails the test when the selector matches nothing, naming the page.
func (tb *tab) must(sel string) {
	tb.t.Helper()
	if !tb.has(sel) {
		tb.t.Fatalf("%s: no element matches %q; page text: %.600s", tb.path(), sel, tb.text("main"))
	}
}

// mustNot fails the test when the selector matches something.
func (tb *tab) mustNot(sel string) {
	tb.t.Helper()
	if tb.has(sel) {
		tb.t.Fatalf("%s: %q matches %d element(s), want none: %.300s", tb.path(), sel, tb.count(sel), tb.text(sel))
	}
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
