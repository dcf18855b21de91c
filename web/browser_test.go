package web_test

import (
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// TestScreenshots writes PNGs of the main wallet and console pages, at a desktop's and a
// phone's width, into docs/screenshots. It runs only when asked:
//
//	SYMBIONT_SCREENSHOTS=1 go test ./web -run TestScreenshots
func TestScreenshots(t *testing.T) {
	if os.Getenv("SYMBIONT_SCREENSHOTS") != "1" {
		t.Skip("set SYMBIONT_SCREENSHOTS=1 to write docs/screenshots/*.png")
	}
	dir := filepath.Join("..", "docs", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	needBrowser(t)
	s := newSite(t)
	tb := newTab(t, s)
	if st := tb.open(s.Demo.WalletURL); st != http.StatusOK {
		t.Fatalf("wallet link: status %d", st)
	}
	shots := []struct{ name, path string }{
		{"wallet-share", "/wallet"},
		{"wallet-for-you", "/wallet/for-you"},
		{"wallet-data", "/wallet/data"},
		{"wallet-activity", "/wallet/activity"},
		{"wallet-rewards", "/wallet/rewards"},
	}
	for _, v := range []struct {
		name   string
		width  int64
		height int64
	}{{"desktop", desktopWidth, desktopHeight}, {"phone", phoneWidth, phoneHeight}} {
		tb.setViewport(v.width, v.height)
		for _, sh := range shots {
			tb.open(sh.path)
			tb.screenshot(filepath.Join(dir, fmt.Sprintf("%s-%s.png", sh.name, v.name)), v.width)
		}
	}

	// Chinese (needs a CJK font where Chromium runs: fonts-noto-cjk).
	tb.setViewport(desktopWidth, desktopHeight)
	tb.open("/lang?lang=zh-CN&back=/wallet")
	for _, sh := range []struct{ name, path string }{{"wallet-share-zh", "/wallet"}, {"wallet-rewards-zh", "/wallet/rewards"}} {
		tb.open(sh.path)
		tb.screenshot(filepath.Join(dir, sh.name+"-desktop.png"), desktopWidth)
	}
	tb.open("/lang?lang=en&back=/console/login")

	// The console.
	tb.setViewport(desktopWidth, desktopHeight)
	if st := tb.open("/console/login"); st != http.StatusOK {
		t.Fatalf("/console/login: status %d", st)
	}
	views := []struct {
		name   string
		width  int64
		height int64
	}{{"desktop", desktopWidth, desktopHeight}, {"phone", phoneWidth, phoneHeight}}
	for _, v := range views { // signed out
		tb.setViewport(v.width, v.height)
		tb.open("/console/login")
		tb.screenshot(filepath.Join(dir, "console-login-"+v.name+".png"), v.width)
	}
	tb.signIn(s.Demo.SecretKey)
	for _, v := range views {
		tb.setViewport(v.width, v.height)
		for _, sh := range []struct{ name, path string }{{"console-overview", "/console"}, {"console-plan", "/console/plan"},
			{"console-recommendations", "/console/recommendations"}, {"console-catalog", "/console/catalog"}} {
			tb.open(sh.path)
			tb.screenshot(filepath.Join(dir, fmt.Sprintf("%s-%s.png", sh.name, v.name)), v.width)
		}
	}
}

// maxShotHeight keeps the full-page screenshots to a sane size.
const maxShotHeight = 2400

// screenshot writes a PNG of the whole page (up to maxShotHeight CSS pixels high).
func (tb *tab) screenshot(file string, width int64) {
	tb.t.Helper()
	tb.noHorizontalScroll(int(width))
	h := eval[float64](tb, "document.documentElement.scrollHeight")
	h = math.Min(h, maxShotHeight)
	res, err := chromedp.Call(tb.ctx, page.CaptureScreenshot, page.CaptureScreenshotParams{
		Format:                page.CaptureScreenshotFormatPng,
		Clip:                  &page.Viewport{X: 0, Y: 0, Width: float64(width), Height: h, Scale: 1},
		CaptureBeyondViewport: new(true),
		FromSurface:           new(true),
	})
	if err != nil {
		tb.t.Fatalf("screenshot of %s: %v", tb.path(), err)
	}
	if err := os.WriteFile(file, res.Data, 0o644); err != nil {
		tb.t.Fatal(err)
	}
	tb.t.Logf("%s: %s, %.0fpx high, %d KB", file, tb.path(), h, len(res.Data)>>10)
}
