package web_test

import (
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
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
		t.Fatalf("wallet link: status %d; page: %.500s", st, tb.text("main"))
	}
	if p := tb.path(); p != "/wallet" {
		t.Fatalf("the wallet link landed on %s, want /wallet (the token moved into a cookie)", p)
	}
	return s, tb
}

// cardInfo is one consent card of "What I share".
type cardInfo struct {
	ID        string `json:"id"`
	On        bool   `json:"on"`
	Sensitive bool   `json:"sensitive"`
	Badge     string `json:"badge"`
}

func (tb *tab) cards() []cardInfo {
	tb.t.Helper()
	return eval[[]cardInfo](tb, `Array.from(document.querySelectorAll('article.card.consent')).map(function(c){
	  var b = c.querySelector('.badge');
	  return {id: c.id, on: c.classList.contains('on'), sensitive: !!c.querySelector('.note.sensitive'),
	          badge: b ? b.className : ''}; })`)
}

func (tb *tab) card(id string) cardInfo {
	tb.t.Helper()
	for _, c := range tb.cards() {
		if c.ID == id {
			return c
		}
	}
	tb.t.Fatalf("%s: no card #%s", tb.path(), id)
	return cardInfo{}
}

var firstNumber = regexp.MustCompile(`-?\d[\d,]*`)

// number is the first integer in the element's text.
func (tb *tab) number(sel string) int64 {
	tb.t.Helper()
	txt := tb.text(sel)
	m := firstNumber.FindString(txt)
	n, err := strconv.ParseInt(strings.ReplaceAll(m, ",", ""), 10, 64)
	if err != nil {
		tb.t.Fatalf("%s: %s has no number: %q", tb.path(), sel, txt)
	}
	return n
}

// withdraw taps "Stop sharing" on an active card and checks the result: the flash, the card
// no longer active (.badge.off "Withdrawn", a grant form again), one fewer active.
func (tb *tab) withdraw(id string) {
	tb.t.Helper()
	t, sel := tb.t, "#"+id
	active := tb.number("main > p.muted")
	if st := tb.click(sel + ` button[name=action][value=withdraw]`); st != http.StatusOK {
		t.Fatalf("withdraw %s: status %d: %s", id, st, tb.text("main"))
	}
	if p := tb.path(); p != "/wallet?done=withdrawn" {
		t.Errorf("after withdrawing: at %s, want /wallet?done=withdrawn", p)
	}
	if f := tb.text("p.flash"); !strings.Contains(f, "you no longer share this") {
		t.Errorf("flash after withdrawing = %q", f)
	}
	if c := tb.card(id); c.On || !strings.Contains(c.Badge, "off") {
		t.Errorf("withdrawn card #%s: %+v, want not .on, with .badge.off", id, c)
	}
	if b := tb.text(sel + " .badge"); b != "Withdrawn" {
		t.Errorf("withdrawn card's badge says %q", b)
	}
	tb.must(sel + ` button[name=action][value=grant]`)
	if n := tb.number("main > p.muted"); n != active-1 {
		t.Errorf("active count after withdrawing = %d, want %d", n, active-1)
	}
}

// grant chooses a duration and taps "Share" on an inactive card (ticking the explicit-consent
// box of a sensitive one) and checks the result: the flash, the card active (.on, .badge.on)
// with a signed receipt and the chosen end date, one more active.
func (tb *tab) grant(id string, days int) {
	tb.t.Helper()
	t, sel := tb.t, "#"+id
	active := tb.number("main > p.muted")
	tb.do(chromedp.SetValue(chromedp.CSS(sel+` select[name=duration_days]`), strconv.Itoa(days)))
	if tb.card(id).Sensitive {
		tb.do(chromedp.Click(chromedp.CSS(sel + ` input[name=explicit]`)))
	}
	if st := tb.click(sel + ` button[name=action][value=grant]`); st != http.StatusOK {
		t.Fatalf("grant %s: status %d: %s", id, st, tb.text("main"))
	}
	if p := tb.path(); p != "/wallet?done=granted" {
		t.Errorf("after granting: at %s, want /wallet?done=granted", p)
	}
	if f := tb.text("p.flash"); !strings.Contains(f, "you now share this") {
		t.Errorf("flash after granting = %q", f)
	}
	tb.must(sel + `.card.consent.on .badge.on`)
	tb.must(sel + ` details.receipt summary code`)
	if r := eval[string](tb, `document.querySelector(`+q(sel+` details.receipt textarea`)+`).value`); strings.Count(r, ".") != 2 {
		t.Errorf("receipt of %s is not a compact JWS: %.80q", id, r)
	}
	until := time.Now().UTC().AddDate(0, 0, days)
	state := tb.text(sel + ` p.state`)
	if !strings.Contains(state, until.Format("2006-01-02")) && !strings.Contains(state, until.AddDate(0, 0, -1).Format("2006-01-02")) {
		t.Errorf("granted for %d days, the card says %q (want until %s)", days, state, until.Format("2006-01-02"))
	}
	if n := tb.number("main > p.muted"); n != active+1 {
		t.Errorf("active count after granting = %d, want %d", n, active+1)
	}
}

// TestBrowserWalletShare checks the cards of "What I share", then grants a card that is not
// active (withdrawing it first when the demo member already shares it) for 90 days, checks it
// turns active with a signed receipt and the right end date, and withdraws it. A sensitive
// card is refused by the server without the explicit-consent box and granted with it.
func TestBrowserWalletShare(t *testing.T) {
	_, tb := openWallet(t)
	tb.must(`nav.tabs a[href="/wallet"][aria-current="page"]`)
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
		if c.On != strings.Contains(c.Badge, "on") || !c.On && !strings.Contains(c.Badge, "off") {
			t.Errorf("card #%s (active %v) has badge %q", c.ID, c.On, c.Badge)
		}
		switch {
		case c.Sensitive && (sensitive.ID == "" || sensitive.On && !c.On):
			sensitive = c
		case !c.Sensitive && (plain.ID == "" || plain.On && !c.On):
			plain = c
		}
	}
	if n := tb.number("main > p.muted"); int(n) != on {
		t.Errorf("the page says %d active, %d cards are .on", n, on)
	}
	if plain.ID == "" {
		t.Fatalf("no non-sensitive card: %+v", cards)
	}
	if plain.On {
		tb.withdraw(plain.ID)
	}
	tb.grant(plain.ID, 90)
	tb.withdraw(plain.ID)

	if sensitive.ID == "" {
		t.Log("the demo has no sensitive card: explicit consent not exercised")
		return
	}
	if sensitive.On {
		tb.withdraw(sensitive.ID)
	}
	// Without the box (the browser's `required` removed, to send the form anyway) the server
	// refuses, and nothing changes.
	sel := "#" + sensitive.ID
	tb.do(chromedp.Evaluate[chromedp.Void](`document.querySelector(` + q(sel+` input[name=explicit]`) + `).removeAttribute('required')`))
	st := tb.click(sel + ` button[name=action][value=grant]`)
	if st < 400 || !tb.has(".error-message") {
		t.Errorf("granting sensitive %s without explicit consent: status %d, page %q; want an error", sensitive.ID, st, tb.text("main"))
	}
	tb.open("/wallet")
	if tb.card(sensitive.ID).On {
		t.Fatalf("sensitive %s became active without explicit consent", sensitive.ID)
	}
	tb.grant(sensitive.ID, 30)
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

// TestBrowserWalletData shows "My data" and downloads the export from the page (the page's
// own fetch, with its cookie), checking it is complete: the categories and records the page
// lists, the same data the API's export gives, consents, history, identifiers and access log.
func TestBrowserWalletData(t *testing.T) {
	s, tb := openWallet(t)
	tb.click(`nav.tabs a[href="/wallet/data"]`)
	tb.must(`nav.tabs a[href="/wallet/data"][aria-current="page"]`)
	tb.must(`a[href="/wallet/export"][download]`)
	tb.must(`a.button.danger[href="/wallet/erase"]`)
	groups := eval[map[string]int](tb, `Object.fromEntries(Array.from(document.querySelectorAll('section.data-group')).map(function(g){
	  return [g.id.replace(/^data-/, ''), g.querySelectorAll('.records li').length]; }))`)
	if len(groups) == 0 {
		t.Fatalf("/wallet/data lists no data: %.500s", tb.text("main"))
	}

	type download struct {
		Status      int       `json:"status"`
		Type        string    `json:"type"`
		Disposition string    `json:"disposition"`
		Body        exportDoc `json:"body"`
	}
	got := evalAsync[download](tb, `fetch(document.querySelector('a[href="/wallet/export"]').href, {credentials: 'same-origin'}).then(function(r){
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

// rewardInfo is one reward of the catalogue.
type rewardInfo struct {
	ID       string `json:"id"`
	Price    string `json:"price"`
	Disabled bool   `json:"disabled"`
}

// TestBrowserWalletRewards checks which rewards can be redeemed at the balance shown, redeems
// one and checks the code and the new balance.
func TestBrowserWalletRewards(t *testing.T) {
	_, tb := openWallet(t)
	tb.click(`nav.tabs a[href="/wallet/rewards"]`)
	balance := tb.number("#balance")
	rewards := eval[[]rewardInfo](tb, `Array.from(document.querySelectorAll('li.reward')).map(function(r){
	  var b = r.querySelector('form button[type=submit]');
	  return {id: r.id, price: r.querySelector('.price').textContent, disabled: !b || b.disabled}; })`)
	if len(rewards) == 0 {
		t.Fatal("no rewards in the catalogue")
	}
	var pick *rewardInfo
	var cost int64
	for i, r := range rewards {
		c, err := strconv.ParseInt(strings.ReplaceAll(firstNumber.FindString(r.Price), ",", ""), 10, 64)
		if err != nil {
			t.Fatalf("reward %s: no cost in %q", r.ID, r.Price)
		}
		soldOut := strings.Contains(r.Price, " 0 left")
		if want := c > balance || soldOut; r.Disabled != want {
			t.Errorf("reward %s costs %d (%q), balance %d: button disabled=%v, want %v", r.ID, c, r.Price, balance, r.Disabled, want)
		}
		if !r.Disabled && (pick == nil || c > cost) {
			pick, cost = &rewards[i], c
		}
	}
	if pick == nil {
		t.Fatalf("balance %d affords no reward: %+v", balance, rewards)
	}
	if st := tb.click("#" + pick.ID + " form button[type=submit]"); st != http.StatusOK {
		t.Fatalf("redeem %s: status %d: %s", pick.ID, st, tb.text("main"))
	}
	if p := tb.path(); !strings.HasPrefix(p, "/wallet/rewards?") || !strings.Contains(p, "done=redeemed") {
		t.Errorf("after redeeming: at %s", p)
	}
	if f := tb.text("p.flash"); !strings.HasPrefix(f, "Redeemed") {
		t.Errorf("flash after redeeming = %q", f)
	}
	code := tb.text(".redeem-code code")
	if code == "" {
		t.Fatalf("no code shown after redeeming: %.500s", tb.text("main"))
	}
	if after := tb.number("#balance"); after != balance-cost {
		t.Errorf("balance after redeeming %s (cost %d) = %d, want %d", pick.ID, cost, after, balance-cost)
	}
	if !strings.Contains(tb.text("main"), code) || tb.count("table code") == 0 {
		t.Errorf("the redemption %s is not listed", code)
	}
	// Reloading the result page redeems nothing more (the POST was answered with a redirect).
	tb.open(tb.path())
	if after := tb.number("#balance"); after != balance-cost {
		t.Errorf("balance after reloading = %d, want %d", after, balance-cost)
	}
}

// TestBrowserWalletActivity checks "Who used my data": every record is verified against the
// ledger's checkpoint and none failed; the proof bundle downloads.
func TestBrowserWalletActivity(t *testing.T) {
	_, tb := openWallet(t)
	tb.click(`nav.tabs a[href="/wallet/activity"]`)
	n := tb.count("li.use")
	v := tb.count("li.use .mark.verified")
	if n == 0 || v == 0 {
		t.Fatalf("activity: %d records, %d verified: %.500s", n, v, tb.text("main"))
	}
	tb.mustNot(".mark.failed")
	if p := tb.count("li.use .mark.pending"); p+v != n {
		t.Errorf("activity: %d records, %d verified, %d pending", n, v, p)
	}
	if s := tb.text("p.summary"); !strings.HasPrefix(s, strconv.Itoa(v)+" of these records verified") {
		t.Errorf("summary %q, %d verified marks", s, v)
	}
	proofs := evalAsync[struct {
		Status  int               `json:"status"`
		Records []json.RawMessage `json:"records"`
	}](tb, `fetch('/wallet/proofs', {credentials: 'same-origin'}).then(function(r){
	  return r.json().then(function(b){ return {status: r.status, records: b.records || []}; }); })`)
	if proofs.Status != http.StatusOK || len(proofs.Records) < n {
		t.Errorf("proof bundle: status %d, %d records (page shows %d)", proofs.Status, len(proofs.Records), n)
	}
}

// TestBrowserWalletErase erases everything from "My data": the box, the browser's
// confirmation dialog (accepted), the signed-out page, and the wallet no longer opens.
func TestBrowserWalletErase(t *testing.T) {
	s, tb := openWallet(t)
	tb.open("/wallet/data")
	tb.click(`a[href="/wallet/erase"]`)
	tb.must(`form.erase[data-confirm]`)
	tb.do(chromedp.Click(chromedp.CSS(`form.erase input[name=confirm]`)))
	msg, st := tb.clickConfirm(`form.erase button[type=submit]`)
	if msg != "confirm: Erase everything?" {
		t.Errorf("confirmation dialog = %q, want the form's data-confirm", msg)
	}
	if st != http.StatusOK || tb.path() != "/wallet/signed-out?done=erased" {
		t.Fatalf("after erasing: status %d at %s: %.300s", st, tb.path(), tb.text("main"))
	}
	if h := tb.text("h1"); h != "Your data was erased" {
		t.Errorf("signed-out page heading %q", h)
	}
	if f := tb.text("p.flash"); f != "Your data was erased." {
		t.Errorf("signed-out flash %q", f)
	}
	// The cookie is gone: /wallet asks for a link.
	if st := tb.open("/wallet"); st != http.StatusUnauthorized || !tb.has(".error-message") {
		t.Errorf("/wallet after erasing: status %d, %q", st, tb.text("main"))
	}
	// And the link itself no longer opens the wallet.
	if st := tb.open(s.Demo.WalletURL); st < 400 || tb.has("article.card.consent") {
		t.Errorf("the wallet link after erasing: status %d at %s: %.300s", st, tb.path(), tb.text("main"))
	}
}

// TestBrowserWalletLanguage switches to Chinese with the header link and back.
func TestBrowserWalletLanguage(t *testing.T) {
	_, tb := openWallet(t)
	if l := tb.attr("html", "lang"); l != "en" {
		t.Fatalf("html lang = %q, want en", l)
	}
	enTitle := tb.text("h1")
	if l := tb.text("a.lang"); l != "中文" {
		t.Fatalf("language link says %q, want 中文", l)
	}
	tb.click("a.lang")
	if p, l := tb.path(), tb.attr("html", "lang"); p != "/wallet" || l != "zh-CN" {
		t.Fatalf("after switching: at %s with lang %q, want /wallet and zh-CN", p, l)
	}
	if h := tb.text("h1"); h == enTitle || h != "我的授权" {
		t.Errorf("Chinese heading %q", h)
	}
	if l := tb.text("a.lang"); l != "English" {
		t.Errorf("language link in Chinese says %q", l)
	}
	// The choice is remembered across pages; switching back returns to the same page.
	tb.click(`nav.tabs a[href="/wallet/rewards"]`)
	if l := tb.attr("html", "lang"); l != "zh-CN" {
		t.Errorf("/wallet/rewards after switching: lang %q", l)
	}
	tb.click("a.lang")
	if p, l := tb.path(), tb.attr("html", "lang"); p != "/wallet/rewards" || l != "en" {
		t.Errorf("after switching back: at %s with lang %q, want /wallet/rewards and en", p, l)
	}
}

// TestBrowserWalletPhone checks every wallet page at a phone's width (390x844), with every
// <details> opened, in both languages: no horizontal scroll.
func TestBrowserWalletPhone(t *testing.T) {
	_, tb := openWallet(t)
	tb.setViewport(phoneWidth, phoneHeight)
	pages := []string{"/wallet", "/wallet/data", "/wallet/activity", "/wallet/rewards", "/wallet/erase"}
	for _, lang := range []string{"en", "zh-CN"} {
		tb.open("/lang?lang=" + lang + "&back=/wallet")
		for _, p := range pages {
			if st := tb.open(p); st != http.StatusOK {
				t.Errorf("%s: status %d", p, st)
				continue
			}
			tb.do(chromedp.Evaluate[chromedp.Void](`document.querySelectorAll('details').forEach(function(d){ d.open = true; })`))
			tb.noHorizontalScroll(phoneWidth)
			if w := eval[int](tb, "window.innerWidth"); w != phoneWidth {
				t.Errorf("%s (%s): innerWidth %d at a %dpx phone (zoomed out?)", p, lang, w, phoneWidth)
			}
		}
	}
	// Every tab is on screen (none hidden off the edge of a strip).
	tb.open("/wallet")
	hidden := eval[[]string](tb, `Array.from(document.querySelectorAll('nav.tabs a')).filter(function(a){
	  var r = a.getBoundingClientRect(); return r.left < 0 || r.right > window.innerWidth; }).map(function(a){ return a.textContent; })`)
	if n := tb.count("nav.tabs a"); n != 4 || len(hidden) > 0 {
		t.Errorf("phone: %d tabs, off screen: %q", n, hidden)
	}
}
