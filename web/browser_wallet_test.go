package web_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// openWallet opens the demo's wallet link: the ?token= link sets the session cookie and
// redirects to /wallet without the token.
func openWallet(t *testing.T) (*site, *tab) {
	t.Helper()
	t.Parallel()   // each test has its own platform and browser context
	needBrowser(t) // skip before seeding when there is no browser
	s := newSite(t)
	tb := newTab(t, s)
	if st := tb.open(s.Demo.WalletURL); st != http.StatusOK {
		t.Fatalf("wallet link: status %d; page: %.500s", st, tb.text())
	}
	if p := tb.path(); p != "/wallet" {
		t.Fatalf("the wallet link landed on %s, want /wallet (the token moved into a cookie)", p)
	}
	return s, tb
}

// cardInfo is one consent card of "What I share", as read on screen: its heading, the state
// it shows, whether it offers to stop sharing, and whether it says the data is sensitive.
type cardInfo struct {
	Name      string
	State     string
	On        bool
	Sensitive bool
}

var cardStates = []string{"Shared", "Not shared", "Withdrawn", "Expired", "Refused"}

const sensitiveNote = "Sensitive data: asked for separately, and only used with your explicit consent."

func (tb *tab) cards() []cardInfo {
	tb.t.Helper()
	var out []cardInfo
	for _, name := range tb.page().names("article") {
		out = append(out, tb.card(name))
	}
	return out
}

func (tb *tab) card(name string) cardInfo {
	tb.t.Helper()
	c := tb.in("article", name)
	info := cardInfo{Name: name, On: c.has("button", "Stop sharing"), Sensitive: strings.Contains(c.text(), sensitiveNote)}
	for _, l := range c.lines() {
		if slices.Contains(cardStates, l) {
			info.State = l
			break
		}
	}
	return info
}

var firstNumber = regexp.MustCompile(`-?\d[\d,]*`)

// number is the first integer in a text.
func (tb *tab) number(what, txt string) int64 {
	tb.t.Helper()
	m := firstNumber.FindString(txt)
	n, err := strconv.ParseInt(strings.ReplaceAll(m, ",", ""), 10, 64)
	if err != nil {
		tb.t.Fatalf("%s: %s has no number: %q", tb.path(), what, txt)
	}
	return n
}

var sharedCount = regexp.MustCompile(`You share (\d+) of these\.`)

// active is the count the page says: "You share N of these."
func (tb *tab) active() int {
	tb.t.Helper()
	m := sharedCount.FindStringSubmatch(tb.text())
	if m == nil {
		tb.t.Fatalf("%s: the page does not say how many are shared: %.300s", tb.path(), tb.text())
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// withdraw taps "Stop sharing" on an active card and checks the result: the flash, the card
// saying "Withdrawn" and offering "Share" again, one fewer shared.
func (tb *tab) withdraw(name string) {
	tb.t.Helper()
	t := tb.t
	active := tb.active()
	if st := tb.in("article", name).click("button", "Stop sharing"); st != http.StatusOK {
		t.Fatalf("withdraw %s: status %d: %s", name, st, tb.text())
	}
	if p := tb.path(); p != "/wallet?done=withdrawn" {
		t.Errorf("after withdrawing: at %s, want /wallet?done=withdrawn", p)
	}
	tb.in("status", "").expectText("Done: you no longer share this.")
	if c := tb.card(name); c.On || c.State != "Withdrawn" {
		t.Errorf("withdrawn card %q: %+v, want state Withdrawn and no Stop sharing", name, c)
	}
	tb.in("article", name).mustFind("button", "Share")
	if n := tb.active(); n != active-1 {
		t.Errorf("shared count after withdrawing = %d, want %d", n, active-1)
	}
}

// grant chooses a duration and taps "Share" on a card (ticking the explicit-consent box of a
// sensitive one) and checks the result: the flash, the card saying "Shared" with a signed
// receipt and the chosen end date, one more shared.
func (tb *tab) grant(name string, days int) {
	tb.t.Helper()
	t := tb.t
	active := tb.active()
	c := tb.in("article", name)
	c.choose("For how long", strconv.Itoa(days)+" days")
	if tb.card(name).Sensitive {
		c.press("checkbox", "I explicitly agree to this use of sensitive data.")
	}
	if st := c.click("button", "Share"); st != http.StatusOK {
		t.Fatalf("grant %s: status %d: %s", name, st, tb.text())
	}
	if p := tb.path(); p != "/wallet?done=granted" {
		t.Errorf("after granting: at %s, want /wallet?done=granted", p)
	}
	tb.in("status", "").expectText("Done: you now share this.")
	if got := tb.card(name); !got.On || got.State != "Shared" {
		t.Errorf("granted card %q: %+v, want Shared with Stop sharing", name, got)
	}
	c = tb.in("article", name)
	var summary string
	for _, n := range c.names("button") {
		if strings.HasPrefix(n, "Signed receipt ") {
			summary = n
		}
	}
	if summary == "" {
		t.Fatalf("granted card %q shows no signed receipt: %s", name, c.text())
	}
	c.press("button", summary) // opens the receipt
	if r := c.value("textbox", "Signed receipt"); strings.Count(r, ".") != 2 {
		t.Errorf("receipt of %s is not a compact JWS: %.80q", name, r)
	}
	until := time.Now().UTC().AddDate(0, 0, days)
	state := c.text()
	if !strings.Contains(state, "until "+until.Format("2006-01-02")) && !strings.Contains(state, "until "+until.AddDate(0, 0, -1).Format("2006-01-02")) {
		t.Errorf("granted for %d days, the card says %q (want until %s)", days, state, until.Format("2006-01-02"))
	}
	if n := tb.active(); n != active+1 {
		t.Errorf("shared count after granting = %d, want %d", n, active+1)
	}
}

// TestBrowserWalletShare checks the cards of "What I share", then grants a card that is not
// shared (stopping it first when the demo member already shares it) for 90 days, checks it
// turns shared with a signed receipt and the right end date, and stops it. A sensitive card
// is refused by the server without the explicit-consent box and granted with it.
func TestBrowserWalletShare(t *testing.T) {
	_, tb := openWallet(t)
	if cur := tb.in("navigation", "Symbiont").attr("link", "What I share", "aria-current"); cur != "page" {
		t.Errorf("the What I share tab is not marked current (aria-current=%q)", cur)
	}
	cards := tb.cards()
	if len(cards) == 0 {
		t.Fatal("no consent cards on /wallet")
	}
	on := 0
	var plain, sensitive cardInfo
	for _, c := range cards {
		if c.On {
			on++
		}
		if c.On != (c.State == "Shared") || c.State == "" {
			t.Errorf("card %q (Stop sharing offered: %v) says %q", c.Name, c.On, c.State)
		}
		switch {
		case c.Sensitive && (sensitive.Name == "" || sensitive.On && !c.On):
			sensitive = c
		case !c.Sensitive && (plain.Name == "" || plain.On && !c.On):
			plain = c
		}
	}
	if n := tb.active(); n != on {
		t.Errorf("the page says %d shared, %d cards offer to stop sharing", n, on)
	}
	if plain.Name == "" {
		t.Fatalf("no non-sensitive card: %+v", cards)
	}
	if plain.On {
		tb.withdraw(plain.Name)
	}
	tb.grant(plain.Name, 90)
	tb.withdraw(plain.Name)

	if sensitive.Name == "" {
		t.Log("the demo has no sensitive card: explicit consent not exercised")
		return
	}
	if sensitive.On {
		tb.withdraw(sensitive.Name)
	}
	// Without the box (the browser's `required` removed, to send the form anyway) the server
	// refuses, and nothing changes.
	box := tb.in("article", sensitive.Name).element("checkbox", "I explicitly agree to this use of sensitive data.")
	eval[bool](tb, "("+box+").removeAttribute('required') || true")
	st := tb.in("article", sensitive.Name).click("button", "Share")
	if st < 400 {
		t.Errorf("granting sensitive %s without explicit consent: status %d, page %q; want an error", sensitive.Name, st, tb.text())
	}
	tb.in("alert", "").expectText("is sensitive data: tick the box to agree explicitly")
	tb.open("/wallet")
	if tb.card(sensitive.Name).On {
		t.Fatalf("sensitive %s became shared without explicit consent", sensitive.Name)
	}
	tb.grant(sensitive.Name, 30)
}

// exportDoc is the part of the export the test reads.
type exportDoc struct {
	Format string `json:"format"`
	Brand  struct {
		ID, Name    string
		ReceiptKeys string `json:"receipt_keys"`
	} `json:"brand"`
	Identifiers []json.RawMessage            `json:"identifiers"`
	Consents    []json.RawMessage            `json:"consents"`
	History     []json.RawMessage            `json:"consent_history"`
	Data        map[string][]json.RawMessage `json:"data"`
	AccessLog   []json.RawMessage            `json:"access_log"`
}

// TestBrowserWalletData shows "My data" and downloads the export from the page's own link
// (fetched with its cookie), checking it is complete: the categories and records the page
// lists, the same data the API's export gives, consents, history, identifiers and access log.
func TestBrowserWalletData(t *testing.T) {
	s, tb := openWallet(t)
	nav := tb.in("navigation", "Symbiont")
	nav.click("link", "My data")
	if cur := nav.attr("link", "My data", "aria-current"); cur != "page" {
		t.Errorf("the My data tab is not marked current (aria-current=%q)", cur)
	}
	tb.mustFind("link", "Erase everything…")
	// Each category is a section headed "<label> (N records)", listing N records.
	vocab, err := s.P.Consent.Vocabulary(context.Background(), brandID(t, s))
	if err != nil {
		t.Fatal(err)
	}
	groups := map[string]int{}
	heading := regexp.MustCompile(`^(.+) \((\d+) records?\)$`)
	for _, h := range tb.page().names("region") {
		m := heading.FindStringSubmatch(h)
		if m == nil {
			continue
		}
		n, _ := strconv.Atoi(m[2])
		if items := len(tb.in("region", h).names("listitem")); items != n {
			t.Errorf("%q lists %d records", h, items)
		}
		for _, c := range vocab.Categories {
			if c.Label == m[1] {
				groups[c.Name] = n
			}
		}
	}
	if len(groups) == 0 {
		t.Fatalf("/wallet/data lists no data: %.500s", tb.text())
	}

	type download struct {
		Status      int       `json:"status"`
		Type        string    `json:"type"`
		Disposition string    `json:"disposition"`
		Body        exportDoc `json:"body"`
	}
	link := tb.page().element("link", "Download everything (JSON)")
	tb.mustFind("link", "Download everything (JSON)")
	got := evalAsync[download](tb, `fetch((`+link+`).href, {credentials: 'same-origin'}).then(function(r){
	  return r.json().then(function(b){ return {status: r.status, type: r.headers.get('content-type'),
	    disposition: r.headers.get('content-disposition'), body: b}; }); })`)
	if got.Status != http.StatusOK || !strings.HasPrefix(got.Type, "application/json") ||
		!strings.Contains(got.Disposition, `attachment; filename="symbiont-export.json"`) {
		t.Errorf("export download: status %d, type %q, disposition %q", got.Status, got.Type, got.Disposition)
	}
	ex := got.Body
	if ex.Format == "" || ex.Brand.ID != s.Demo.BrandID || ex.Brand.Name == "" ||
		ex.Brand.ReceiptKeys != s.URL+"/v1/brands/"+s.Demo.BrandID+"/jwks.json" {
		t.Errorf("export header: format %q, brand %+v (want id %s, keys under %s)", ex.Format, ex.Brand, s.Demo.BrandID, s.URL)
	}
	if len(ex.Identifiers) == 0 || len(ex.Consents) == 0 || len(ex.History) == 0 || len(ex.AccessLog) == 0 {
		t.Errorf("export is missing parts: %d identifiers, %d consents, %d history, %d access log entries",
			len(ex.Identifiers), len(ex.Consents), len(ex.History), len(ex.AccessLog))
	}
	exported := map[string]int{}
	for c, recs := range ex.Data {
		exported[c] = len(recs)
	}
	if !equalCounts(exported, groups) {
		t.Errorf("the export's records by category %v differ from the page's %v", exported, groups)
	}

	// The same as the API's export for the same session.
	req, _ := http.NewRequest("GET", s.URL+"/v1/me/export", nil)
	req.Header.Set("Authorization", "Bearer "+s.Demo.WalletToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var api exportDoc
	if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &api) != nil {
		t.Fatalf("GET /v1/me/export: %d %.300s", resp.StatusCode, b)
	}
	apiCounts := map[string]int{}
	for c, recs := range api.Data {
		apiCounts[c] = len(recs)
	}
	if !equalCounts(exported, apiCounts) || len(api.Consents) != len(ex.Consents) || len(api.History) != len(ex.History) {
		t.Errorf("wallet export (%v, %d consents, %d history) differs from the API's (%v, %d, %d)",
			exported, len(ex.Consents), len(ex.History), apiCounts, len(api.Consents), len(api.History))
	}
}

func brandID(t *testing.T, s *site) int64 {
	t.Helper()
	b, err := s.P.Tenants.BrandByPublicID(context.Background(), s.Demo.BrandID)
	if err != nil {
		t.Fatal(err)
	}
	return b.ID
}

func equalCounts(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

var priceRE = regexp.MustCompile(`(\d[\d,]*) points(?: · (\d+) left)?`)

// TestBrowserWalletRewards checks which rewards can be redeemed at the balance shown, redeems
// one and checks the code and the new balance.
func TestBrowserWalletRewards(t *testing.T) {
	_, tb := openWallet(t)
	tb.in("navigation", "Symbiont").click("link", "My rewards")
	balanceOf := func() int64 { return tb.number("the balance", tb.in("region", "Balance").text()) }
	balance := balanceOf()
	catalog := tb.in("region", "Rewards")
	items := catalog.names("listitem")
	if len(items) == 0 {
		t.Fatal("no rewards in the catalogue")
	}
	var pick string
	var cost int64
	for _, item := range items {
		m := priceRE.FindStringSubmatch(item)
		if m == nil {
			t.Fatalf("reward %q shows no cost", item)
		}
		c, _ := strconv.ParseInt(strings.ReplaceAll(m[1], ",", ""), 10, 64)
		disabled := catalog.in("listitem", item).disabled("button", "Redeem")
		if want := c > balance || m[2] == "0"; disabled != want {
			t.Errorf("reward %q costs %d, balance %d: Redeem disabled=%v, want %v", item, c, balance, disabled, want)
		}
		if !disabled && (pick == "" || c > cost) {
			pick, cost = item, c
		}
	}
	if pick == "" {
		t.Fatalf("balance %d affords no reward: %q", balance, items)
	}
	if st := catalog.in("listitem", pick).click("button", "Redeem"); st != http.StatusOK {
		t.Fatalf("redeem %q: status %d: %s", pick, st, tb.text())
	}
	if p := tb.path(); !strings.HasPrefix(p, "/wallet/rewards?") || !strings.Contains(p, "done=redeemed") {
		t.Errorf("after redeeming: at %s", p)
	}
	tb.expectText("Redeemed. Your code is below.")
	var codeRegion string
	for _, r := range tb.page().names("status") {
		if strings.HasPrefix(r, "Your code for ") {
			codeRegion = r
		}
	}
	if codeRegion == "" {
		t.Fatalf("no code shown after redeeming: %.500s", tb.text())
	}
	code := regexp.MustCompile(`[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}`).FindString(tb.in("status", codeRegion).text())
	if code == "" {
		t.Fatalf("the code region shows no code: %q", tb.in("status", codeRegion).text())
	}
	if after := balanceOf(); after != balance-cost {
		t.Errorf("balance after redeeming %q (cost %d) = %d, want %d", pick, cost, after, balance-cost)
	}
	tb.in("region", "Your redemptions").expectText(code)
	// Reloading the result page redeems nothing more (the POST was answered with a redirect).
	tb.open(tb.path())
	if after := balanceOf(); after != balance-cost {
		t.Errorf("balance after reloading = %d, want %d", after, balance-cost)
	}
}

// TestBrowserWalletActivity checks "Who used my data": every record is verified against the
// ledger's checkpoint and none failed; the proof bundle downloads.
func TestBrowserWalletActivity(t *testing.T) {
	_, tb := openWallet(t)
	tb.in("navigation", "Symbiont").click("link", "Who used my data")
	uses := tb.in("list", "Who used my data").names("listitem")
	var verified, pending, failed int
	for _, u := range uses {
		switch {
		case strings.Contains(u, "✓ Verified"):
			verified++
		case strings.Contains(u, "… Being added to the ledger"):
			pending++
		case strings.Contains(u, "✗ Failed verification"):
			failed++
		}
	}
	if len(uses) == 0 || verified == 0 {
		t.Fatalf("activity: %d records, %d verified: %.500s", len(uses), verified, tb.text())
	}
	if failed > 0 || verified+pending != len(uses) {
		t.Errorf("activity: %d records, %d verified, %d pending, %d failed", len(uses), verified, pending, failed)
	}
	tb.expectText(strconv.Itoa(verified) + " of these records verified")
	tb.mustFind("link", "Download the proof bundle")
	proofs := evalAsync[struct {
		Status  int               `json:"status"`
		Records []json.RawMessage `json:"records"`
	}](tb, `fetch((`+tb.page().element("link", "Download the proof bundle")+`).href, {credentials: 'same-origin'}).then(function(r){
	  return r.json().then(function(b){ return {status: r.status, records: b.records || []}; }); })`)
	if proofs.Status != http.StatusOK || len(proofs.Records) < len(uses) {
		t.Errorf("proof bundle: status %d, %d records (page shows %d)", proofs.Status, len(proofs.Records), len(uses))
	}
}

// TestBrowserWalletErase erases everything from "My data": the box, the browser's
// confirmation dialog (accepted), the signed-out page, and the wallet no longer opens.
func TestBrowserWalletErase(t *testing.T) {
	s, tb := openWallet(t)
	tb.open("/wallet/data")
	tb.click("link", "Erase everything…")
	tb.page().press("checkbox", "Erase everything?")
	msg, st := tb.page().clickConfirm("button", "Erase everything")
	if msg != "confirm: Erase everything?" {
		t.Errorf("confirmation dialog = %q, want the form's data-confirm", msg)
	}
	if st != http.StatusOK || tb.path() != "/wallet/signed-out?done=erased" {
		t.Fatalf("after erasing: status %d at %s: %.300s", st, tb.path(), tb.text())
	}
	tb.mustFind("heading", "Your data was erased")
	tb.in("status", "").expectText("Your data was erased.")
	// The cookie is gone: /wallet asks for a link.
	if st := tb.open("/wallet"); st != http.StatusUnauthorized {
		t.Errorf("/wallet after erasing: status %d, %q", st, tb.text())
	}
	tb.in("alert", "").expectText("Open your wallet from the link your brand gave you")
	// And the link itself no longer opens the wallet.
	if st := tb.open(s.Demo.WalletURL); st < 400 || len(tb.page().names("article")) > 0 {
		t.Errorf("the wallet link after erasing: status %d at %s: %.300s", st, tb.path(), tb.text())
	}
}

// TestBrowserWalletLanguage switches to Chinese with the header link and back.
func TestBrowserWalletLanguage(t *testing.T) {
	_, tb := openWallet(t)
	lang := func() string { return eval[string](tb, "document.documentElement.lang") }
	if l := lang(); l != "en" {
		t.Fatalf("html lang = %q, want en", l)
	}
	tb.mustFind("heading", "What I share")
	tb.click("link", "Language: 中文")
	if p, l := tb.path(), lang(); p != "/wallet" || l != "zh-CN" {
		t.Fatalf("after switching: at %s with lang %q, want /wallet and zh-CN", p, l)
	}
	tb.mustFind("heading", "我的授权")
	// The choice is remembered across pages; switching back returns to the same page.
	tb.in("navigation", "Symbiont").click("link", "我的奖励")
	if l := lang(); l != "zh-CN" {
		t.Errorf("/wallet/rewards after switching: lang %q", l)
	}
	tb.click("link", "语言: English")
	if p, l := tb.path(), lang(); p != "/wallet/rewards" || l != "en" {
		t.Errorf("after switching back: at %s with lang %q, want /wallet/rewards and en", p, l)
	}
	tb.mustFind("heading", "My rewards")
}

// TestBrowserWalletPhone checks every wallet page at a phone's width (390x844), with every
// <details> opened, in both languages: no horizontal scroll.
func TestBrowserWalletPhone(t *testing.T) {
	_, tb := openWallet(t)
	tb.setViewport(phoneWidth, phoneHeight)
	pages := []string{"/wallet", "/wallet/for-you", "/wallet/data", "/wallet/activity", "/wallet/rewards", "/wallet/erase"}
	for _, lang := range []string{"en", "zh-CN"} {
		tb.open("/lang?lang=" + lang + "&back=/wallet")
		for _, p := range pages {
			if st := tb.open(p); st != http.StatusOK {
				t.Errorf("%s: status %d", p, st)
				continue
			}
			tb.openDetails()
			tb.noHorizontalScroll(phoneWidth)
			if w := eval[int](tb, "window.innerWidth"); w != phoneWidth {
				t.Errorf("%s (%s): innerWidth %d at a %dpx phone (zoomed out?)", p, lang, w, phoneWidth)
			}
		}
	}
	// Every tab is on screen (none hidden off the edge of a strip), and each can be tapped.
	tb.open("/lang?lang=en&back=/wallet")
	nav := tb.in("navigation", "Symbiont")
	tabs := nav.names("link")
	if len(tabs) != 5 {
		t.Errorf("phone: %d tabs: %q", len(tabs), tabs)
	}
	for _, name := range tabs {
		nav.mustFind("link", name) // visible and not covered
		off := eval[bool](tb, `(function(){ var r = (`+nav.element("link", name)+`).getBoundingClientRect(); return r.left < 0 || r.right > window.innerWidth; })()`)
		if off {
			t.Errorf("phone: the tab %q is off screen", name)
		}
	}
}

// openDetails opens every disclosure on the page, as a person reading everything would.
func (tb *tab) openDetails() {
	tb.t.Helper()
	eval[bool](tb, `(function(){ document.querySelectorAll('details').forEach(function(d){ d.open = true; }); return true; })()`)
}
