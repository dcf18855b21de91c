package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// openConsole seeds a site and opens a tab on the console's sign-in page; it skips while the
// console is not built yet (the page answers 404).
func openConsole(t *testing.T) (*site, *tab) {
	t.Helper()
	t.Parallel() // each test has its own platform and browser context
	needBrowser(t)
	s := newSite(t)
	tb := newTab(t, s)
	st := tb.open("/console/login")
	if st == http.StatusNotFound {
		t.Skip("console page not built yet: GET /console/login answers 404")
	}
	if st != http.StatusOK {
		t.Fatalf("/console/login: status %d: %.500s", st, tb.text("main"))
	}
	return s, tb
}

// signIn types a credential into the sign-in form and sends it; it returns the status.
func (tb *tab) signIn(credential string) int64 {
	tb.t.Helper()
	tb.must(`input#credential[name=credential]`)
	tb.do(chromedp.SetValue(chromedp.ID("credential"), credential))
	return tb.click(`form:has(#credential) button[type=submit]`)
}

// TestBrowserConsoleSignIn: a wrong key shows an error, the demo's secret key opens the
// overview (two charts and the liability figure), and signing out (a POST form in the header)
// ends the session.
func TestBrowserConsoleSignIn(t *testing.T) {
	s, tb := openConsole(t)
	tb.must(`form:has(#credential) button[type=submit]`)
	if typ := tb.attr("#credential", "type"); typ != "password" {
		t.Errorf("the credential field is type=%q, want password (a secret key must not show on screen)", typ)
	}

	tb.signIn("sk_wrong-key-0123456789abcdefghijklmnop")
	tb.must(".error-message")
	if tb.has("#liability") {
		t.Fatal("a wrong key opened the console")
	}

	if st := tb.signIn(s.Demo.SecretKey); st != http.StatusOK {
		t.Fatalf("sign in with the demo's secret key: status %d: %.500s", st, tb.text("main"))
	}
	if p := tb.path(); p != "/console" && !strings.HasPrefix(p, "/console?") {
		t.Errorf("signed in at %s, want /console", p)
	}
	tb.mustNot(".error-message")
	tb.must(`figure.chart#chart-consent svg`)
	tb.must(`figure.chart#chart-events svg`)
	tb.must(`#liability`)
	if tb.text("#liability") == "" {
		t.Error("#liability is empty")
	}
	if strings.Contains(eval[string](tb, "document.documentElement.outerHTML"), s.Demo.SecretKey) {
		t.Error("the console page shows the secret key it was signed in with")
	}

	// Sign out: a POST form in the header.
	tb.must(`header form[method=post] button.link`)
	tb.click(`header form[method=post] button.link`)
	if tb.has("#liability") {
		t.Fatalf("still signed in after signing out, at %s", tb.path())
	}
	st := tb.open("/console")
	if tb.has("#liability") || (st == http.StatusOK && !tb.has("#credential")) {
		t.Errorf("/console after signing out: status %d at %s, %.300s", st, tb.path(), tb.text("main"))
	}
}

// TestBrowserConsolePlan edits the tracking plan in its textarea: adding an event mapping is
// saved (flash, and the plan the platform uses); invalid JSON shows an error and changes nothing.
func TestBrowserConsolePlan(t *testing.T) {
	s, tb := openConsole(t)
	if st := tb.signIn(s.Demo.SecretKey); st != http.StatusOK {
		t.Fatalf("sign in: status %d", st)
	}
	if st := tb.open("/console/plan"); st != http.StatusOK {
		if st == http.StatusNotFound {
			t.Skip("console page not built yet: GET /console/plan answers 404")
		}
		t.Fatalf("/console/plan: status %d: %.300s", st, tb.text("main"))
	}
	tb.must("textarea#plan")
	current := func() map[string]string {
		t.Helper()
		ctx := context.Background()
		b, err := s.P.Tenants.BrandByPublicID(ctx, s.Demo.BrandID)
		if err != nil {
			t.Fatal(err)
		}
		p, err := s.P.Ingest.Plan(ctx, b.ID)
		if err != nil || p == nil {
			t.Fatalf("the plan: %v", err)
		}
		return p.Events
	}
	before := current()

	text := eval[string](tb, `document.getElementById('plan').value`)
	var plan map[string]any
	if err := json.Unmarshal([]byte(text), &plan); err != nil {
		t.Fatalf("textarea#plan does not hold JSON: %v: %.300s", err, text)
	}
	events, ok := plan["events"].(map[string]any)
	if !ok {
		t.Fatalf("textarea#plan has no events object: %.300s", text)
	}
	events["Browser Test Booked"] = "purchases"
	edited, _ := json.MarshalIndent(plan, "", "  ")
	submit := `form:has(#plan) button[type=submit]`
	tb.do(chromedp.SetValue(chromedp.ID("plan"), string(edited)))
	if st := tb.click(submit); st != http.StatusOK {
		t.Fatalf("save the plan: status %d: %.500s", st, tb.text("main"))
	}
	tb.must("p.flash")
	tb.mustNot(".error-message")
	if got := current()["Browser Test Booked"]; got != "purchases" {
		t.Errorf("after saving, the platform maps Browser Test Booked to %q, want purchases", got)
	}
	if len(current()) != len(before)+1 {
		t.Errorf("after adding one mapping the plan has %d events, had %d", len(current()), len(before))
	}
	if v := eval[string](tb, `(document.getElementById('plan')||{value:''}).value`); v != "" && !strings.Contains(v, "Browser Test Booked") {
		t.Errorf("the saved plan page does not show the new mapping: %.300s", v)
	}

	// Invalid JSON: an error, nothing changed.
	saved := current()
	if !tb.has("textarea#plan") {
		tb.open("/console/plan")
	}
	tb.do(chromedp.SetValue(chromedp.ID("plan"), `{"events": {"Broken": `))
	tb.click(submit)
	tb.must(".error-message")
	tb.mustNot("p.flash")
	after := current()
	if len(after) != len(saved) || after["Broken"] != "" {
		t.Errorf("invalid JSON changed the plan: %v", after)
	}
	if v := eval[string](tb, `(document.getElementById('plan')||{value:''}).value`); v != "" && !strings.Contains(v, `"Broken"`) {
		t.Logf("note: after the error the textarea does not keep what was typed: %.200s", v)
	}
}
