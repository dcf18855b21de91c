package api_test

import (
	"strings"
	"testing"
	"time"
)

// TestTenantIsolation: one brand's keys reach nothing of another's; a wallet token reads only
// its own consumer; each key type is confined to its endpoints.
func TestTenantIsolation(t *testing.T) {
	eachStore(t, func(t *testing.T, newEnv func(*testing.T) *env) {
		e := newEnv(t)
		a := e.setup("Brand A")
		b := e.setup("Brand B")
		e.grant(a, "alice", "purchases", "personalization")
		e.grant(b, "bob", "purchases", "personalization")
		e.batch(a, track("alice", "Order Completed", map[string]any{"sku": "A-SECRET"}))
		e.batch(b, track("bob", "Order Completed", map[string]any{"sku": "B-SECRET"}))

		// Brand A's secret key cannot see Brand B's consumer, even knowing the user id.
		for _, path := range []string{
			"/v1/consumers/bob/data?purpose=personalization",
			"/v1/consumers/bob/consents",
			"/v1/consumers/bob/access-log",
		} {
			r := e.do("GET", path, a.SK, nil)
			if r.Status != 404 || r.errCode(t) != "not_found" || strings.Contains(string(r.Body), "B-SECRET") {
				t.Errorf("A reads %s: %d %s", path, r.Status, r.Body)
			}
		}
		// Brand A's write key sending bob's events stores nothing anywhere.
		res := e.batch(a, track("bob", "Order Completed", map[string]any{"sku": "A-WRITES-BOB"}))
		if num(res["accepted"]) != 0 {
			t.Fatalf("A's write key stored an event for B's consumer: %v", res)
		}
		d := e.must(200, "GET", "/v1/consumers/bob/data?purpose=personalization&categories=purchases", b.SK, nil)
		if s := mustJSON(d); strings.Contains(s, "A-WRITES-BOB") || !strings.Contains(s, "B-SECRET") {
			t.Fatalf("B's data: %s", s)
		}
		// Brand A cannot revoke Brand B's keys.
		keys := e.must(200, "GET", "/v1/keys", b.SK, nil)["keys"].([]any)
		bKey := keys[0].(map[string]any)["id"].(string)
		if r := e.do("DELETE", "/v1/keys/"+bKey, a.SK, nil); r.Status != 404 {
			t.Fatalf("A revoking B's key: %d %s", r.Status, r.Body)
		}

		// A wallet token reads only its consumer, and no brand endpoint.
		wa := e.wallet(a, "alice")
		if s := mustJSON(e.must(200, "GET", "/v1/me/export", wa, nil)); strings.Contains(s, "B-SECRET") || !strings.Contains(s, "A-SECRET") {
			t.Fatalf("alice's export: %s", s)
		}
		for _, c := range []struct{ method, path string }{
			{"GET", "/v1/consumers/alice/data?purpose=personalization"},
			{"GET", "/v1/consumers/bob/data?purpose=personalization"},
			{"PUT", "/v1/tracking-plan"},
			{"POST", "/v1/wallet/sessions"},
			{"GET", "/v1/keys"},
			{"POST", "/v1/brands"},
		} {
			if r := e.do(c.method, c.path, wa, map[string]any{}); r.Status != 403 {
				t.Errorf("wallet token on %s %s: %d %s", c.method, c.path, r.Status, r.Body)
			}
		}
		// A second consumer's wallet sees only its own data.
		e.grant(a, "anna", "purchases", "personalization")
		wanna := e.wallet(a, "anna")
		if s := mustJSON(e.must(200, "GET", "/v1/me/export", wanna, nil)); strings.Contains(s, "A-SECRET") {
			t.Fatalf("anna sees alice's data: %s", s)
		}
		// Write keys only send events; secret keys cannot act as wallets; brands cannot create brands.
		for _, c := range []struct{ method, path, cred string }{
			{"GET", "/v1/consumers/alice/data?purpose=personalization", a.PK},
			{"GET", "/v1/me", a.SK},
			{"GET", "/v1/me", a.PK},
			{"POST", "/v1/brands", a.SK},
			{"GET", "/v1/brands", a.SK},
		} {
			if r := e.do(c.method, c.path, c.cred, map[string]any{"name": "x"}); r.Status != 403 {
				t.Errorf("%s %s with %s…: %d %s", c.method, c.path, c.cred[:3], r.Status, r.Body)
			}
		}
		// The operator is not a brand: it reads no consumer data.
		if r := e.do("GET", "/v1/consumers/alice/data?purpose=personalization", adminToken, nil); r.Status != 403 {
			t.Errorf("operator reading consumer data: %d", r.Status)
		}
	})
}

// TestCredentials: missing, malformed, unknown, revoked and expired credentials get 401.
func TestCredentials(t *testing.T) {
	e := newEnv(t)
	a := e.setup("Brand A")
	e.grant(a, "alice", "purchases", "personalization")
	path := "/v1/consumers/alice/consents"
	for name, cred := range map[string]string{"none": "", "unknown sk": "sk_nope", "unknown pk": "pk_nope", "unknown wallet": "wt_nope", "junk": "hello"} {
		r := e.do("GET", path, cred, nil)
		if r.Status != 401 || r.errCode(t) != "unauthorized" {
			t.Errorf("%s: %d %s", name, r.Status, r.Body)
		}
	}
	if r := e.do("GET", path, "", nil, header("Authorization", "Token abc")); r.Status != 401 {
		t.Errorf("malformed header: %d", r.Status)
	}
	// A revoked key stops working on the next request.
	k := e.must(201, "POST", "/v1/keys", a.SK, map[string]any{"kind": "secret", "name": "ci", "scopes": []string{"consents"}})
	sk2 := k["secret"].(string)
	e.must(200, "GET", path, sk2, nil)
	if r := e.do("GET", "/v1/consumers/alice/data?purpose=personalization", sk2, nil); r.Status != 403 || r.errCode(t) != "forbidden" {
		t.Errorf("key without data scope: %d %s", r.Status, r.Body)
	}
	e.must(200, "DELETE", "/v1/keys/"+k["id"].(string), a.SK, nil)
	if r := e.do("GET", path, sk2, nil); r.Status != 401 {
		t.Errorf("revoked key: %d %s", r.Status, r.Body)
	}
	// Revoked write key can no longer send events.
	w := e.must(201, "POST", "/v1/keys", a.SK, map[string]any{"kind": "write"})
	e.must(200, "POST", "/v1/track", "", track("alice", "Order Completed", nil), basic(w["secret"].(string)))
	e.must(200, "DELETE", "/v1/keys/"+w["id"].(string), a.SK, nil)
	if r := e.do("POST", "/v1/track", "", track("alice", "Order Completed", nil), basic(w["secret"].(string))); r.Status != 401 {
		t.Errorf("revoked write key: %d", r.Status)
	}
	// Wallet sessions expire.
	m := e.must(201, "POST", "/v1/wallet/sessions", a.SK, map[string]any{"consumer": "alice", "ttl_seconds": 600})
	wt := m["token"].(string)
	e.must(200, "GET", "/v1/me", wt, nil)
	e.clock.Advance(11 * time.Minute)
	if r := e.do("GET", "/v1/me", wt, nil); r.Status != 401 || !strings.Contains(string(r.Body), "expired") {
		t.Errorf("expired wallet token: %d %s", r.Status, r.Body)
	}
}
