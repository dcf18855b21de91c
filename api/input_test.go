package api_test

import (
	"strings"
	"testing"
)

// TestBadInput: every malformed or wrong request gets a JSON error with the right status and
// code, and changes nothing.
func TestBadInput(t *testing.T) {
	e := newEnv(t)
	b := e.setup("Aurora")
	e.grant(b, "guest-1", "purchases", "personalization")
	wt := e.wallet(b, "guest-1")
	big := strings.Repeat("x", 70<<10)
	bigEvent := `{"type":"track","userId":"guest-1","event":"Order Completed","properties":{"pad":"` + strings.Repeat("x", 33<<10) + `"}}`

	cases := []struct {
		name         string
		method, path string
		cred         string
		body         any
		opts         []opt
		status       int
		code         string
	}{
		{"malformed json", "POST", "/v1/consumers/guest-1/consents", b.SK, `{"category":`, nil, 400, "invalid"},
		{"empty body", "POST", "/v1/consumers/guest-1/consents", b.SK, ``, nil, 400, "invalid"},
		{"unknown field", "POST", "/v1/consumers/guest-1/consents", b.SK, map[string]any{"category": "purchases", "purpose": "personalization", "durationDays": 3}, nil, 400, "invalid"},
		{"wrong type", "POST", "/v1/consumers/guest-1/consents", b.SK, map[string]any{"category": "purchases", "purpose": "personalization", "duration_days": "3"}, nil, 400, "invalid"},
		{"trailing data", "POST", "/v1/consumers/guest-1/consents", b.SK, `{"category":"purchases","purpose":"analytics"} {}`, nil, 400, "invalid"},
		{"oversized body", "POST", "/v1/consumers/guest-1/consents", b.SK, `{"category":"` + big + `"}`, nil, 413, "too_large"},
		{"unknown category", "POST", "/v1/consumers/guest-1/consents", b.SK, map[string]any{"category": "dreams", "purpose": "personalization"}, nil, 400, "invalid"},
		{"unknown purpose", "POST", "/v1/consumers/guest-1/consents", b.SK, map[string]any{"category": "purchases", "purpose": "spying"}, nil, 400, "invalid"},
		{"negative duration", "POST", "/v1/consumers/guest-1/consents", b.SK, map[string]any{"category": "purchases", "purpose": "analytics", "duration_days": -1}, nil, 400, "invalid"},
		{"absurd duration", "POST", "/v1/consumers/guest-1/consents", b.SK, map[string]any{"category": "purchases", "purpose": "analytics", "duration_days": 100000}, nil, 400, "invalid"},
		{"bad state", "POST", "/v1/consumers/guest-1/consents", b.SK, map[string]any{"category": "purchases", "purpose": "analytics", "state": "maybe"}, nil, 400, "invalid"},
		{"evidence not object", "POST", "/v1/consumers/guest-1/consents", b.SK, map[string]any{"category": "purchases", "purpose": "analytics", "evidence": "yes"}, nil, 400, "invalid"},
		{"sensitive without explicit", "POST", "/v1/consumers/guest-1/consents", b.SK, map[string]any{"category": "health", "purpose": "service"}, nil, 400, "invalid"},
		{"sensitive bundled", "POST", "/v1/me/consents", wt, map[string]any{"grants": []map[string]any{
			{"category": "health", "purpose": "service", "explicit": true}, {"category": "purchases", "purpose": "analytics"}}}, nil, 400, "invalid"},
		{"brand overriding gpc", "POST", "/v1/consumers/guest-1/consents", b.SK, map[string]any{"category": "contact", "purpose": "marketing", "override_gpc": true}, nil, 403, "forbidden"},
		{"gpc refuses marketing", "POST", "/v1/consumers/guest-1/consents", b.SK, map[string]any{"category": "contact", "purpose": "marketing"}, []opt{header("Sec-GPC", "1")}, 409, "conflict"},
		{"withdraw never granted", "DELETE", "/v1/me/consents/contact/marketing", wt, nil, nil, 404, "not_found"},
		{"read without purpose", "GET", "/v1/consumers/guest-1/data", b.SK, nil, nil, 400, "invalid"},
		{"read unknown purpose", "GET", "/v1/consumers/guest-1/data?purpose=spying", b.SK, nil, nil, 400, "invalid"},
		{"read unknown category", "GET", "/v1/consumers/guest-1/data?purpose=analytics&categories=dreams", b.SK, nil, nil, 400, "invalid"},
		{"unknown consumer", "GET", "/v1/consumers/nobody/data?purpose=analytics", b.SK, nil, nil, 404, "not_found"},
		{"bad id_type", "GET", "/v1/consumers/guest-1/consents?id_type=email", b.SK, nil, nil, 400, "invalid"},
		{"plan unknown field", "PUT", "/v1/tracking-plan", b.SK, map[string]any{"event": map[string]string{"A": "purchases"}}, nil, 400, "invalid"},
		{"plan unknown category", "PUT", "/v1/tracking-plan", b.SK, map[string]any{"events": map[string]string{"A": "dreams"}}, nil, 400, "invalid"},
		{"batch malformed", "POST", "/v1/batch", "", `{"batch":[`, []opt{basic(b.PK)}, 400, "invalid"},
		{"batch not a batch", "POST", "/v1/batch", "", `{"events":[]}`, []opt{basic(b.PK)}, 400, "invalid"},
		{"batch too large", "POST", "/v1/batch", "", `{"batch":[],"pad":"` + strings.Repeat("x", 510<<10) + `"}`, []opt{basic(b.PK)}, 413, "too_large"},
		{"event too large", "POST", "/v1/track", "", bigEvent, []opt{basic(b.PK)}, 413, "too_large"},
		{"batch no key", "POST", "/v1/batch", "", `{"batch":[]}`, nil, 401, "unauthorized"},
		{"batch secret key without scope", "POST", "/v1/batch", "", `{"batch":[]}`, []opt{basic("sk_unknown")}, 401, "unauthorized"},
		{"unknown endpoint", "GET", "/v1/nothing", b.SK, nil, nil, 404, "not_found"},
		{"wrong method", "PATCH", "/v1/tracking-plan", b.SK, nil, nil, 405, "method_not_allowed"},
		{"brand name missing", "POST", "/v1/brands", adminToken, map[string]any{}, nil, 400, "invalid"},
		{"bad key kind", "POST", "/v1/keys", b.SK, map[string]any{"kind": "root"}, nil, 400, "invalid"},
		{"bad scope", "POST", "/v1/keys", b.SK, map[string]any{"kind": "secret", "scopes": []string{"everything"}}, nil, 400, "invalid"},
		{"session ttl too long", "POST", "/v1/wallet/sessions", b.SK, map[string]any{"consumer": "guest-1", "ttl_seconds": 999999}, nil, 400, "invalid"},
		{"session without consumer", "POST", "/v1/wallet/sessions", b.SK, map[string]any{}, nil, 400, "invalid"},
	}
	before := snapshot(e, b, wt)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.do(c.method, c.path, c.cred, c.body, c.opts...)
			if r.Status != c.status {
				t.Fatalf("status %d, want %d: %s", r.Status, c.status, r.Body)
			}
			if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
				t.Fatalf("content type %q", r.Header.Get("Content-Type"))
			}
			if c.code != "" {
				if got := r.errCode(t); got != c.code {
					t.Fatalf("code %q, want %q: %s", got, c.code, r.Body)
				}
			}
		})
	}
	if after := snapshot(e, b, wt); after != before {
		t.Fatalf("bad requests changed state:\nbefore %s\nafter  %s", before, after)
	}
}

// snapshot is the observable state of a brand: consents (history too) and data.
func snapshot(e *env, b brand, wt string) string {
	c := e.must(200, "GET", "/v1/consumers/guest-1/consents?history=true", b.SK, nil)
	p := e.must(200, "GET", "/v1/tracking-plan", b.SK, nil)
	k := e.must(200, "GET", "/v1/keys", b.SK, nil)
	return mustJSON(c) + mustJSON(p) + mustJSON(k)
}

// TestIdempotency: retried consent writes with an Idempotency-Key and retried batches with the
// same messageIds take effect once.
func TestIdempotency(t *testing.T) {
	eachStore(t, func(t *testing.T, newEnv func(*testing.T) *env) {
		e := newEnv(t)
		b := e.setup("Aurora")
		body := map[string]any{"category": "purchases", "purpose": "personalization", "duration_days": 30}
		first := e.must(201, "POST", "/v1/consumers/guest-1/consents", b.SK, body, header("Idempotency-Key", "k-1"))
		again := e.must(200, "POST", "/v1/consumers/guest-1/consents", b.SK, body, header("Idempotency-Key", "k-1"))
		if first["receipt"] != again["receipt"] {
			t.Fatal("a retry with the same Idempotency-Key produced a new receipt")
		}
		h := e.must(200, "GET", "/v1/consumers/guest-1/consents?history=true", b.SK, nil)
		if n := len(h["history"].([]any)); n != 1 {
			t.Fatalf("history has %d records after a retried grant", n)
		}
		msgs := []map[string]any{track("guest-1", "Order Completed", map[string]any{"n": 1}), track("guest-1", "Order Completed", map[string]any{"n": 2})}
		r1 := e.batch(b, msgs...)
		r2 := e.batch(b, msgs...)
		if num(r1["accepted"]) != 2 || num(r1["duplicates"]) != 0 || num(r2["accepted"]) != 2 || num(r2["duplicates"]) != 2 {
			t.Fatalf("first %v, retry %v", r1, r2)
		}
		// The same messageId twice within one batch is stored once.
		dup := track("guest-1", "Order Completed", map[string]any{"n": 3})
		r3 := e.batch(b, dup, dup)
		if num(r3["duplicates"]) != 1 {
			t.Fatalf("in-batch duplicate: %v", r3)
		}
		d := e.must(200, "GET", "/v1/consumers/guest-1/data?purpose=personalization&categories=purchases", b.SK, nil)
		if n := len(d["data"].(map[string]any)["purchases"].([]any)); n != 3 {
			t.Fatalf("%d events stored, want 3", n)
		}
	})
}
