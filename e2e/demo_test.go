package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestDemoSmoke starts `serve --demo` as a newcomer would, takes the keys and links it prints,
// and runs the printed curl commands (parsed from its output, sent with net/http): the
// purpose-bound read, an event, the wallet's export and the wallet's withdrawal. After the
// withdrawal a new purchase event for the demo member is dropped for lack of consent and the
// brand's read lists purchases as withheld, also after a restart of the demo.
func TestDemoSmoke(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	s := startServer(t, dataDir, serverOptions{demo: true, noAdmin: true})
	out := waitOutput(t, s, "/v1/me/consents/purchases/personalization")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("demo output:\n%s", out)
		}
	})

	field := func(label, pattern string) string {
		t.Helper()
		m := regexp.MustCompile(`(?m)^\s*` + label + `\s+(` + pattern + `)\s*$`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("the demo output has no %q line matching %s", label, pattern)
		}
		return m[1]
	}
	api := field("API", `http://\S+`)
	operator := field("Operator token", `op_\S+`)
	sk := field("Secret key", `sk_\S+`)
	wk := field("Write key", `pk_\S+`)
	walletURL := field("Wallet", `http://\S+`)
	if api != s.Base {
		t.Errorf("printed API %s, but the server listens on %s", api, s.Base)
	}
	if !strings.Contains(out, "8 members and") || !strings.Contains(out, "events seeded") {
		t.Errorf("the demo output does not report the seeded members and events")
	}
	wu, err := url.Parse(walletURL)
	if err != nil || !strings.HasPrefix(wu.Query().Get("token"), "wt_") || wu.Scheme+"://"+wu.Host != s.Base {
		t.Fatalf("wallet link %q: want %s/…?token=wt_…", walletURL, s.Base)
	}
	walletToken := wu.Query().Get("token")

	// The generated operator token works (the demo printed it because none was configured).
	var brands struct {
		Brands []struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"brands"`
	}
	mustCall(t, "GET", s.Base+"/v1/brands", bearer(operator), nil, http.StatusOK, &brands)
	if len(brands.Brands) != 1 || brands.Brands[0].Name != "Aurora Hotels & Resorts" {
		t.Errorf("GET /v1/brands with the printed operator token: %+v, want the one demo brand", brands.Brands)
	}

	cmds := curlLines(t, out)
	if len(cmds) != 5 {
		t.Fatalf("want 5 curl commands under Try:, found %d", len(cmds))
	}

	// 1. The purpose-bound read.
	st, body, _ := cmds[0].run(t)
	var d dataAnswer
	if st != http.StatusOK || json.Unmarshal(body, &d) != nil {
		t.Fatalf("printed read: status %d: %s", st, tail(string(body), 500))
	}
	if d.Purpose != "personalization" || len(d.Data["purchases"]) == 0 {
		t.Errorf("printed read: want purchases for personalization, got purpose %q and categories %v", d.Purpose, keys(d.Data))
	}
	if !strings.Contains(cmds[0].auth, sk) {
		t.Errorf("the printed read does not use the printed secret key")
	}

	// 2. The printed event.
	st, body, _ = cmds[1].run(t)
	var ia ingestAnswer
	if st != http.StatusOK || json.Unmarshal(body, &ia) != nil || ia.Accepted != 1 || len(ia.Dropped) != 0 {
		t.Fatalf("printed track call: status %d: %s", st, tail(string(body), 500))
	}
	if cmds[1].auth != basic(wk) {
		t.Errorf("the printed track call does not use the printed write key")
	}

	// 3. The wallet's export: a complete document.
	st, body, hdr := cmds[2].run(t)
	if st != http.StatusOK {
		t.Fatalf("printed export: status %d: %s", st, tail(string(body), 500))
	}
	if cd := hdr.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment") {
		t.Errorf("export Content-Disposition %q, want an attachment", cd)
	}
	checkDemoExport(t, body, s.Base)

	// 4. Withdrawal in the wallet.
	st, body, _ = cmds[3].run(t)
	var wd struct {
		Consent struct {
			Category string `json:"category"`
			Purpose  string `json:"purpose"`
			State    string `json:"state"`
		} `json:"consent"`
		Receipt string `json:"receipt"`
	}
	if (st != http.StatusOK && st != http.StatusCreated) || json.Unmarshal(body, &wd) != nil {
		t.Fatalf("printed withdrawal: status %d: %s", st, tail(string(body), 500))
	}
	if wd.Consent.Category != "purchases" || wd.Consent.Purpose != "personalization" || wd.Consent.State != "withdrawn" || wd.Receipt == "" {
		t.Errorf("withdrawal answer: %s", body)
	}
	if !strings.Contains(cmds[3].auth, walletToken) {
		t.Errorf("the printed withdrawal does not use the printed wallet token")
	}

	// 5. The member's rewards: months of seeded history, a tier, redemptions; every line says why.
	st, body, _ = cmds[4].run(t)
	var rw struct {
		Balance     int64 `json:"balance"`
		Tier        struct{ Name, Reason string }
		Statement   []struct{ Kind, Description string }
		Redemptions []struct{ Code string }
	}
	if st != http.StatusOK || json.Unmarshal(body, &rw) != nil {
		t.Fatalf("printed rewards: status %d: %s", st, tail(string(body), 500))
	}
	kinds := map[string]int{}
	for _, l := range rw.Statement {
		kinds[l.Kind]++
		if l.Description == "" {
			t.Errorf("a statement line without its reason: %+v", l)
		}
	}
	if rw.Balance <= 0 || rw.Tier.Name == "" || rw.Tier.Reason == "" || kinds["accrual"] < 8 || kinds["redemption"] < 1 || len(rw.Redemptions) < 1 {
		t.Errorf("demo rewards: want a balance, a tier with its reason, months of accrual and a redemption: %s", tail(string(body), 800))
	}

	// The member's bookings also train the recommendations (a grant of its own): withdrawn in
	// the wallet too, a new purchase of the member is not stored any more…
	mustCall(t, "DELETE", s.Base+"/v1/me/consents/purchases/model_training", "Bearer "+walletToken, nil, http.StatusOK, nil)
	checkPurchaseDropped(t, s, wk, "e2e-after-withdrawal-1")
	// …and the brand's read says why.
	checkPurchasesWithheld(t, s, sk)

	// The wallet link opens the wallet page (it moves the token into a cookie and redirects).
	jar, _ := cookiejar.New(nil)
	wc := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	if resp, err := wc.Get(walletURL); err != nil {
		t.Errorf("the printed wallet link: %v", err)
	} else {
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/wallet" || resp.Request.URL.Query().Get("token") != "" ||
			!strings.Contains(string(page), "What I share") {
			t.Errorf("the printed wallet link: status %d at %s: %s", resp.StatusCode, resp.Request.URL, tail(string(page), 300))
		}
	}
	if console := field("Console", `http://\S+`); console != s.Base+"/console/login" {
		t.Errorf("printed console sign-in %q, want %s/console/login", console, s.Base)
	}

	// Restart the demo on the same data: the data and the withdrawal are kept, fresh keys issued.
	s.stop(30 * time.Second)
	s2 := startServer(t, dataDir, serverOptions{demo: true, noAdmin: true})
	out2 := waitOutput(t, s2, "/v1/me/consents/purchases/personalization")
	if !strings.Contains(out2, "existing demo data kept") {
		t.Errorf("restarted demo does not say it kept the data:\n%s", out2)
	}
	m := regexp.MustCompile(`(?m)^\s*Secret key\s+(sk_\S+)`).FindStringSubmatch(out2)
	mw := regexp.MustCompile(`(?m)^\s*Write key\s+(pk_\S+)`).FindStringSubmatch(out2)
	if m == nil || mw == nil {
		t.Fatalf("restarted demo prints no keys:\n%s", out2)
	}
	checkPurchasesWithheld(t, s2, m[1])
	checkPurchaseDropped(t, s2, mw[1], "e2e-after-restart-1")
	s2.stop(30 * time.Second)
}

// checkDemoExport checks the export document of the demo member guest-0001.
func checkDemoExport(t *testing.T, body []byte, base string) {
	t.Helper()
	var ex struct {
		Format     string `json:"format"`
		ExportedAt string `json:"exported_at"`
		Brand      struct {
			ID          string `json:"id"`
			Name        string `json:"name"`
			ReceiptKeys string `json:"receipt_keys"`
		} `json:"brand"`
		Identifiers []struct {
			Kind  string `json:"kind"`
			Value string `json:"value"`
		} `json:"identifiers"`
		Consents []struct {
			Category string `json:"category"`
			Purpose  string `json:"purpose"`
			State    string `json:"state"`
		} `json:"consents"`
		History   []json.RawMessage            `json:"consent_history"`
		Data      map[string][]json.RawMessage `json:"data"`
		AccessLog []struct {
			Action  string `json:"action"`
			Purpose string `json:"purpose"`
		} `json:"access_log"`
	}
	if err := json.Unmarshal(body, &ex); err != nil {
		t.Fatalf("export is not JSON: %v", err)
	}
	if ex.Format != "symbiont-export/1" || ex.ExportedAt == "" {
		t.Errorf("export format %q exported_at %q", ex.Format, ex.ExportedAt)
	}
	if ex.Brand.Name != "Aurora Hotels & Resorts" || ex.Brand.ID == "" || !strings.HasPrefix(ex.Brand.ReceiptKeys, base+"/v1/brands/") {
		t.Errorf("export brand: %+v", ex.Brand)
	}
	hasEmail := false
	for _, id := range ex.Identifiers {
		if id.Kind == "email" && id.Value == "mei.chen@example.com" {
			hasEmail = true
		}
	}
	if !hasEmail {
		t.Errorf("export identifiers lack the member's email: %+v", ex.Identifiers)
	}
	given := map[string]bool{}
	for _, c := range ex.Consents {
		if c.State == "given" {
			given[c.Category+"/"+c.Purpose] = true
		}
	}
	for _, want := range []string{"purchases/personalization", "profile/service", "contact/service"} {
		if !given[want] {
			t.Errorf("export consents lack %s (given): %+v", want, ex.Consents)
		}
	}
	if len(ex.History) < len(ex.Consents) {
		t.Errorf("export has %d history records for %d consents", len(ex.History), len(ex.Consents))
	}
	for _, cat := range []string{"purchases", "contact", "profile", "browsing"} {
		if len(ex.Data[cat]) == 0 {
			t.Errorf("export has no %s data (has %v)", cat, keys(ex.Data))
		}
	}
	// The event just sent by the printed curl command is in it.
	found := false
	for _, raw := range ex.Data["purchases"] {
		var m struct {
			Event      string `json:"event"`
			UserID     string `json:"userId"`
			Properties struct {
				Treatment string `json:"treatment"`
			} `json:"properties"`
		}
		if json.Unmarshal(raw, &m) == nil && m.Event == "Spa Treatment Booked" && m.UserID == "guest-0001" && m.Properties.Treatment == "Jade facial" {
			found = true
		}
	}
	if !found {
		t.Errorf("export lacks the Spa Treatment Booked event sent with the printed curl command")
	}
	actions := map[string]bool{}
	for _, a := range ex.AccessLog {
		actions[a.Action+"/"+a.Purpose] = true
	}
	if !actions["read/personalization"] || !actions["export/consumer_request"] {
		t.Errorf("export access log lacks the brand's read or the export itself: %+v", ex.AccessLog)
	}
}

func checkPurchaseDropped(t *testing.T, s *server, wk, messageID string) {
	t.Helper()
	var ia ingestAnswer
	mustCall(t, "POST", s.Base+"/v1/track", basic(wk), map[string]any{
		"userId": "guest-0001", "event": "Room Booked", "messageId": messageID,
		"properties": map[string]any{"hotel": "Aurora Sanya Bay", "nights": 2, "revenue": 480.0, "currency": "USD"},
	}, http.StatusOK, &ia)
	if ia.Accepted != 0 || len(ia.Dropped) != 1 || ia.Dropped[0].MessageID != messageID || ia.Dropped[0].Reason != "no_consent" {
		t.Errorf("purchase after withdrawal: %+v, want it dropped with reason no_consent", ia)
	}
}

func checkPurchasesWithheld(t *testing.T, s *server, sk string) {
	t.Helper()
	d := readData(t, s, sk, "guest-0001", "personalization")
	if r, ok := d.withheld("purchases"); !ok || r != "withdrawn" {
		t.Errorf("read after withdrawal: purchases withheld=%v reason %q, want withheld as withdrawn (withheld: %+v)", ok, r, d.Withheld)
	}
	if _, ok := d.Data["purchases"]; ok {
		t.Errorf("read after withdrawal still returns purchases")
	}
	if len(d.Data["preferences"]) == 0 {
		t.Errorf("read after withdrawal: other personalization data (preferences) is gone too: %v", keys(d.Data))
	}
}

// waitOutput waits until the server's stdout contains marker and returns it.
func waitOutput(t *testing.T, s *server, marker string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		out := s.stdout.String()
		if strings.Contains(out, marker) {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("stdout never contained %q:\n%s", marker, out)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// curlCmd is a printed curl command: the subset of curl the demo uses (-s, -H, -u, -X, -d).
type curlCmd struct {
	line   string
	method string
	url    string
	auth   string
	header http.Header
	body   string
	form   bool // -d: curl sends application/x-www-form-urlencoded
}

func curlLines(t *testing.T, out string) []*curlCmd {
	t.Helper()
	var cmds []*curlCmd
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "curl ") || strings.Contains(line, "symbiont verify") {
			continue // the ledger verification line is a pipeline, tested in ledger_test.go
		}
		c, err := parseCurl(line)
		if err != nil {
			t.Fatalf("cannot parse %q: %v", line, err)
		}
		cmds = append(cmds, c)
	}
	return cmds
}

func parseCurl(line string) (*curlCmd, error) {
	args, err := shellWords(line)
	if err != nil {
		return nil, err
	}
	c := &curlCmd{line: line, method: "GET", header: http.Header{}}
	for i := 1; i < len(args); i++ {
		a := args[i]
		next := func() (string, error) {
			if i+1 >= len(args) {
				return "", fmt.Errorf("%s needs a value", a)
			}
			i++
			return args[i], nil
		}
		var v string
		switch a {
		case "-s", "--silent":
			continue
		case "-H", "-u", "-X", "-d":
			if v, err = next(); err != nil {
				return nil, err
			}
		default:
			if strings.HasPrefix(a, "-") {
				return nil, fmt.Errorf("unsupported curl option %s", a)
			}
			c.url = a
			continue
		}
		switch a {
		case "-H":
			k, val, ok := strings.Cut(v, ":")
			if !ok {
				return nil, fmt.Errorf("bad header %q", v)
			}
			c.header.Set(strings.TrimSpace(k), strings.TrimSpace(val))
		case "-u":
			user, pass, _ := strings.Cut(v, ":")
			r, _ := http.NewRequest("GET", "http://x", nil)
			r.SetBasicAuth(user, pass)
			c.header.Set("Authorization", r.Header.Get("Authorization"))
		case "-X":
			c.method = v
		case "-d":
			c.body, c.form = v, true
			if c.method == "GET" {
				c.method = "POST"
			}
		}
	}
	if c.url == "" {
		return nil, fmt.Errorf("no URL")
	}
	c.auth = c.header.Get("Authorization")
	return c, nil
}

// shellWords splits a command line with single quotes (as the demo prints them).
func shellWords(s string) ([]string, error) {
	var out []string
	var cur strings.Builder
	inWord, quoted := false, false
	for _, r := range s {
		switch {
		case quoted:
			if r == '\'' {
				quoted = false
			} else {
				cur.WriteRune(r)
			}
		case r == '\'':
			quoted, inWord = true, true
		case r == ' ' || r == '\t':
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quoted {
		return nil, fmt.Errorf("unterminated quote")
	}
	if inWord {
		out = append(out, cur.String())
	}
	return out, nil
}

func (c *curlCmd) run(t *testing.T) (int, []byte, http.Header) {
	t.Helper()
	var rd io.Reader
	if c.body != "" {
		rd = strings.NewReader(c.body)
	}
	req, err := http.NewRequest(c.method, c.url, rd)
	if err != nil {
		t.Fatalf("%s: %v", c.line, err)
	}
	req.Header = c.header.Clone()
	if c.form {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", c.line, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s: %v", c.line, err)
	}
	return resp.StatusCode, b, resp.Header
}
