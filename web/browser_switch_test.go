package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/symbiont/symbiont/demo"
)

// TestBrowserWalletSwitch: a wallet link for another person, opened in a browser that is
// signed in to a wallet, asks before it replaces the session, in the page's language. "Stay"
// keeps the first wallet; "Open" switches to the link's, and the cookie then lives as long as
// the link's session, not a fixed day.
func TestBrowserWalletSwitch(t *testing.T) {
	s, tb := openWallet(t) // A: the demo member Mei Chen (guest-0001)
	const (
		emailA = "mei.chen@example.com"
		emailB = "james.walker@example.com"
	)
	ctx := context.Background()
	a, err := s.P.Tenants.Authenticate(ctx, s.Demo.WalletToken)
	if err != nil {
		t.Fatal(err)
	}
	tb.expectCookie(s.Demo.WalletToken, a.ExpiresAt)
	tb.in("navigation", "Symbiont").click("link", "My data")
	tb.in("region", "Identifiers linked to you").expectText(emailA)

	// B: the brand's backend opens a 45-minute wallet session for another member, James
	// Walker, as a brand does for its customer (and as anyone can for their own wallet).
	linkB, tokB, expB := brandWalletLink(t, s, "guest-0002", 45*time.Minute)

	// Followed in A's browser, B's link asks first and leaves A's session alone.
	keep, open := "Stay in my wallet with "+demo.BrandName, "Open the wallet with "+demo.BrandName
	if st := tb.open(linkB); st != http.StatusOK {
		t.Fatalf("B's link in A's browser: status %d: %.300s", st, tb.text())
	}
	tb.mustFind("heading", "Open another wallet?")
	tb.expectText("This browser is signed in to a wallet with "+demo.BrandName+".",
		"The link you followed opens a different person's wallet with the same brand.",
		"Only continue if you asked for this link yourself.")
	tb.mustFind("button", keep)
	tb.mustFind("button", open)
	tb.expectCookie(s.Demo.WalletToken, a.ExpiresAt)

	// "Stay": back in A's wallet, without the link's token in the address.
	if st := tb.click("button", keep); st != http.StatusOK {
		t.Fatalf("stay: status %d: %.300s", st, tb.text())
	}
	if p := tb.path(); p != "/wallet" {
		t.Errorf("after staying: at %s, want /wallet", p)
	}
	tb.mustFind("heading", "What I share")
	tb.in("navigation", "Symbiont").click("link", "My data")
	tb.in("region", "Identifiers linked to you").expectText(emailA)
	tb.expectNoText(emailB)
	tb.expectCookie(s.Demo.WalletToken, a.ExpiresAt)

	// In Chinese, the same question; "Open" switches to B's wallet.
	tb.click("link", "Language: 中文")
	tb.mustFind("heading", "我的数据")
	if st := tb.open(linkB); st != http.StatusOK {
		t.Fatalf("B's link again: status %d: %.300s", st, tb.text())
	}
	if l := eval[string](tb, "document.documentElement.lang"); l != "zh-CN" {
		t.Errorf("the switch page after choosing Chinese: lang %q", l)
	}
	tb.mustFind("heading", "打开另一个钱包？")
	tb.expectText("此浏览器已登录 "+demo.BrandName+" 的一个数据钱包。", "您打开的链接会进入同一品牌下另一个人的钱包。",
		"只有在链接是您本人申请的情况下才继续。")
	tb.mustFind("button", "留在我在 "+demo.BrandName+" 的钱包")
	tb.expectNoText("Open another wallet?", keep)
	tb.expectCookie(s.Demo.WalletToken, a.ExpiresAt)
	if st := tb.click("button", "打开 "+demo.BrandName+" 的钱包"); st != http.StatusOK {
		t.Fatalf("open B's wallet: status %d: %.300s", st, tb.text())
	}
	if p := tb.path(); p != "/wallet" {
		t.Errorf("after switching: at %s, want /wallet", p)
	}
	tb.mustFind("heading", "我的授权")
	tb.in("navigation", "Symbiont").click("link", "我的数据")
	tb.in("region", "与您关联的标识").expectText(emailB)
	tb.expectNoText(emailA)
	tb.expectCookie(tokB, expB)
}

// brandWalletLink opens a wallet session for the demo member with the brand's secret key
// (POST /v1/wallet/sessions) and returns its link, token and expiry.
func brandWalletLink(t *testing.T, s *site, member string, ttl time.Duration) (link, token string, expires time.Time) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"consumer": member, "ttl_seconds": int(ttl.Seconds())})
	req, _ := http.NewRequest("POST", s.URL+"/v1/wallet/sessions", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+s.Demo.SecretKey)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out struct {
		Token     string    `json:"token"`
		URL       string    `json:"url"`
		ExpiresAt time.Time `json:"expires_at"`
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil || res.StatusCode != http.StatusCreated || out.Token == "" {
		t.Fatalf("POST /v1/wallet/sessions: %d, %+v, %v", res.StatusCode, out, err)
	}
	if got := time.Until(out.ExpiresAt); got < ttl-time.Minute || got > ttl {
		t.Fatalf("session expires in %v, want %v", got, ttl)
	}
	return out.URL, out.Token, out.ExpiresAt
}

// expectCookie fails the test unless the browser's wallet cookie holds the token and expires
// with its session: within a few seconds before the session's end (Max-Age is whole seconds,
// counted from the response), never after it.
func (tb *tab) expectCookie(token string, expires time.Time) {
	tb.t.Helper()
	res, err := chromedp.Call(tb.ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{tb.base + "/wallet"}})
	if err != nil {
		tb.t.Fatalf("read the browser's cookies: %v", err)
	}
	var found []string
	for _, c := range res.Cookies {
		if c.Name != "symbiont_wallet" {
			found = append(found, c.Name)
			continue
		}
		if c.Value != token {
			tb.t.Fatalf("%s: the wallet cookie holds %.12s…, want %.12s…", tb.path(), c.Value, token)
		}
		if c.Session || c.Expires <= 0 {
			tb.t.Fatalf("%s: the wallet cookie has no expiry (session %v, expires %v)", tb.path(), c.Session, c.Expires)
		}
		sec, frac := math.Modf(c.Expires)
		got := time.Unix(int64(sec), int64(frac*1e9))
		if d := expires.Sub(got); d < -time.Second || d > 10*time.Second {
			tb.t.Errorf("%s: the wallet cookie expires at %s, the session at %s (%v apart)", tb.path(),
				got.UTC().Format(time.RFC3339), expires.UTC().Format(time.RFC3339), d)
		}
		if !c.HTTPOnly || c.SameSite != network.CookieSameSiteStrict || c.Path != "/wallet" {
			tb.t.Errorf("wallet cookie: HttpOnly %v, SameSite %q, Path %q; want HttpOnly, Strict, /wallet", c.HTTPOnly, c.SameSite, c.Path)
		}
		return
	}
	tb.t.Fatalf("%s: the browser holds no wallet cookie (cookies: %s)", tb.path(), strings.Join(found, ", "))
}
