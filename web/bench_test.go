package web_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/symbiont/symbiont"
	"github.com/symbiont/symbiont/demo"
	"github.com/symbiont/symbiont/platform"
)

// BenchmarkPages measures the server time of each page with the demo data (issue 5: under
// 100 ms): the handler is called directly, so the figure is rendering plus the services and
// store work behind it, without the network. Console pages are signed in with the demo's
// secret key.
//
//	go test ./web/ -run '^$' -bench Pages -benchtime 200x
func BenchmarkPages(b *testing.B) {
	ctx := context.Background()
	clock := symbiont.NewFakeClock(time.Now().UTC())
	p, err := platform.Open(ctx, platform.Config{DataDir: b.TempDir(), AdminToken: "bench-admin-token-0123456789", Clock: clock,
		ExpiryInterval: -1, AccrualInterval: -1, BaseURL: "http://127.0.0.1"})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	d, err := demo.Seed(ctx, p)
	if err != nil {
		b.Fatal(err)
	}
	h := p.Handler()
	u, _ := url.Parse(d.WalletURL)
	wallet := signIn(b, h, httptest.NewRequest("GET", u.RequestURI(), nil))
	console := signIn(b, h, httptest.NewRequest("POST", "/console/login", nil), d.SecretKey)
	pages := []struct {
		path    string
		cookies []*http.Cookie
	}{
		{"/wallet", wallet}, {"/wallet/data", wallet}, {"/wallet/activity", wallet}, {"/wallet/rewards", wallet},
		{"/console", console}, {"/console/consumers/guest-0001?purpose=personalization", console}, {"/console/plan", console},
		{"/console/rate-card", console}, {"/console/keys", console},
	}
	for _, pg := range pages {
		b.Run(pg.path, func(b *testing.B) {
			var lat []time.Duration
			for b.Loop() {
				r := httptest.NewRequest("GET", pg.path, nil)
				for _, c := range pg.cookies {
					r.AddCookie(c)
				}
				w := httptest.NewRecorder()
				t0 := time.Now()
				h.ServeHTTP(w, r)
				lat = append(lat, time.Since(t0))
				if w.Code != http.StatusOK {
					b.Skipf("%s: status %d (page not built?)", pg.path, w.Code)
				}
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}

// signIn runs a sign-in request (the wallet link, or the console login form with a
// credential) and returns the cookies it set.
func signIn(b testing.TB, h http.Handler, r *http.Request, credential ...string) []*http.Cookie {
	b.Helper()
	if len(credential) > 0 {
		// The login form needs its CSRF cookie and token: fetch the form first.
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/console/login", nil))
		form := url.Values{"credential": {credential[0]}, "csrf": {conCSRF(w.Body.String())}}
		r = httptest.NewRequest("POST", "/console/login", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for _, c := range w.Result().Cookies() {
			r.AddCookie(c)
		}
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Result().Cookies()
}
