package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// planVersion is the version a tracking plan field's label names.
func planVersion(label string) int {
	m := regexp.MustCompile(`version (\d+)`).FindStringSubmatch(label)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// openConsole seeds a site and opens a tab on the console's sign-in page.
func openConsole(t *testing.T) (*site, *tab) {
	t.Helper()
	t.Parallel() // each test has its own platform and browser context
	needBrowser(t)
	s := newSite(t)
	tb := newTab(t, s)
	if st := tb.open("/console/login"); st != http.StatusOK {
		t.Fatalf("/console/login: status %d: %.500s", st, tb.text())
	}
	return s, tb
}

// signIn types a credential into the sign-in form and sends it; it returns the status.
func (tb *tab) signIn(credential string) int64 {
	tb.t.Helper()
	tb.fill("Secret key or operator token", credential)
	return tb.click("button", "Sign in")
}

// TestBrowserConsoleSignIn: a wrong key shows an error, the demo's secret key opens the
// overview (two charts and the liability figure), and signing out (a POST form in the header)
// ends the session.
func TestBrowserConsoleSignIn(t *testing.T) {
	s, tb := openConsole(t)
	if typ := tb.attr("textbox", "Secret key or operator token", "type"); typ != "password" {
		t.Errorf("the credential field is type=%q, want password (a secret key must not show on screen)", typ)
	}

	tb.signIn("sk_wrong-key-0123456789abcdefghijklmnop")
	tb.in("alert", "").expectText("That key is not valid")
	if tb.has("region", "Points liability") {
		t.Fatal("a wrong key opened the console")
	}

	if st := tb.signIn(s.Demo.SecretKey); st != http.StatusOK {
		t.Fatalf("sign in with the demo's secret key: status %d: %.500s", st, tb.text())
	}
	if p := tb.path(); p != "/console" && !strings.HasPrefix(p, "/console?") {
		t.Errorf("signed in at %s, want /console", p)
	}
	tb.mustFind("heading", "Overview")
	if alerts := tb.page().names("alert"); len(alerts) > 0 {
		t.Errorf("the overview shows errors: %q", alerts)
	}
	var charts []string
	for _, n := range tb.page().names("img") {
		if strings.HasPrefix(n, "Consent rate by category and purpose, last 30 days") || strings.HasPrefix(n, "Events in and dropped, last 30 days") {
			charts = append(charts, n)
		}
	}
	if len(charts) != 2 {
		t.Errorf("the overview shows %d of its 2 charts: images named %q", len(charts), tb.page().names("img"))
	}
	if l := tb.in("region", "Points liability").text(); !regexp.MustCompile(`\d+ points`).MatchString(l) {
		t.Errorf("the liability shows no points: %q", l)
	}
	if strings.Contains(eval[string](tb, "document.documentElement.outerHTML"), s.Demo.SecretKey) {
		t.Error("the console page shows the secret key it was signed in with")
	}

	// Sign out: a POST form in the header.
	tb.click("button", "Sign out")
	if tb.has("region", "Points liability") {
		t.Fatalf("still signed in after signing out, at %s", tb.path())
	}
	st := tb.open("/console")
	if tb.has("region", "Points liability") || (st == http.StatusOK && !tb.has("textbox", "Secret key or operator token")) {
		t.Errorf("/console after signing out: status %d at %s, %.300s", st, tb.path(), tb.text())
	}
}

// TestBrowserConsolePlan edits the tracking plan in its textarea: adding an event mapping is
// saved (flash, and the plan the platform uses); invalid JSON shows an error and changes nothing.
func TestBrowserConsolePlan(t *testing.T) {
	s, tb := openConsole(t)
	if st := tb.signIn(s.Demo.SecretKey); st != http.StatusOK {
		t.Fatalf("sign in: status %d", st)
	}
	tb.click("link", "Tracking plan")
	if p := tb.path(); p != "/console/plan" {
		t.Fatalf("the Tracking plan link led to %s", p)
	}
	label := ""
	for _, n := range tb.page().names("textbox") {
		if strings.HasPrefix(n, "Tracking plan (JSON, version ") {
			label = n
		}
	}
	if label == "" {
		t.Fatalf("no tracking plan field: text boxes %q", tb.page().names("textbox"))
	}
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

	text := tb.page().value("textbox", label)
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
	tb.fill(label, string(edited))
	if st := tb.click("button", "Save tracking plan"); st != http.StatusOK {
		t.Fatalf("save the plan: status %d: %.500s", st, tb.text())
	}
	tb.in("status", "").expectText("Tracking plan saved.")
	if alerts := tb.page().names("alert"); len(alerts) > 0 {
		t.Errorf("saving the plan shows errors: %q", alerts)
	}
	if got := current()["Browser Test Booked"]; got != "purchases" {
		t.Errorf("after saving, the platform maps Browser Test Booked to %q, want purchases", got)
	}
	if len(current()) != len(before)+1 {
		t.Errorf("after adding one mapping the plan has %d events, had %d", len(current()), len(before))
	}
	label = strings.Replace(label, fmt.Sprintf("version %d", planVersion(label)), fmt.Sprintf("version %d", planVersion(label)+1), 1)
	if v := tb.page().value("textbox", label); !strings.Contains(v, "Browser Test Booked") {
		t.Errorf("the saved plan page does not show the new mapping: %.300s", v)
	}

	// Invalid JSON: an error, nothing changed.
	saved := current()
	tb.fill(label, `{"events": {"Broken": `)
	if st := tb.click("button", "Save tracking plan"); st < 400 {
		t.Errorf("saving invalid JSON: status %d", st)
	}
	if alerts := tb.page().names("alert"); len(alerts) == 0 {
		t.Errorf("saving invalid JSON shows no error: %.300s", tb.text())
	}
	if tb.has("status", "") {
		t.Errorf("saving invalid JSON shows a success message: %q", tb.in("status", "").text())
	}
	after := current()
	if len(after) != len(saved) || after["Broken"] != "" {
		t.Errorf("invalid JSON changed the plan: %v", after)
	}
	if v := tb.page().value("textbox", label); !strings.Contains(v, `"Broken"`) {
		t.Errorf("after the error the field does not keep what was typed: %.200s", v)
	}
}
