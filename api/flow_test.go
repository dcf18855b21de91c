package api_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestConsentLifecycle walks the whole promise of the data wallet over HTTP: grant, ingest,
// read with a purpose, withdraw, read denied, new events dropped, export complete, erase, and
// no plaintext left in the database files.
func TestConsentLifecycle(t *testing.T) {
	eachStore(t, func(t *testing.T, newEnv func(*testing.T) *env) {
		e := newEnv(t)
		b := e.setup("Aurora")
		const marker = "ZZ-PLAINTEXT-MARKER-4711"
		const email = "zz-unique-4711@example.com"

		g := e.grant(b, "guest-1", "purchases", "personalization")
		if g["receipt"] == "" || g["consent"].(map[string]any)["state"] != "given" {
			t.Fatalf("grant response: %v", g)
		}
		e.grant(b, "guest-1", "contact", "service")

		res := e.batch(b,
			map[string]any{"type": "identify", "userId": "guest-1", "messageId": "id-1", "traits": map[string]any{"email": email, "name": "Mei"}},
			track("guest-1", "Order Completed", map[string]any{"sku": "SKU-1", "revenue": 120.5, "note": marker}),
			track("guest-1", "Review Submitted", map[string]any{"rating": 5}),   // feedback: no grant
			track("guest-2", "Order Completed", map[string]any{"sku": "SKU-2"}), // unknown person
			track("guest-1", "Not In Plan", nil),
		)
		if num(res["accepted"]) != 2 {
			t.Fatalf("accepted = %v, want 2 (identify + order): %v", res["accepted"], res)
		}
		reasons := map[string]bool{}
		for _, d := range dropped(res) {
			reasons[d["reason"].(string)] = true
		}
		for _, want := range []string{"no_consent", "unknown_consumer", "not_in_tracking_plan"} {
			if !reasons[want] {
				t.Errorf("no drop with reason %s: %v", want, res["dropped"])
			}
		}

		// Purpose-bound read: purchases for personalization, nothing else.
		d := e.must(200, "GET", "/v1/consumers/guest-1/data?purpose=personalization&categories=purchases,feedback,contact", b.SK, nil)
		data := d["data"].(map[string]any)
		if got := data["purchases"].([]any); len(got) != 1 || !strings.Contains(mustJSON(got[0]), marker) {
			t.Fatalf("purchases = %v", data["purchases"])
		}
		if _, ok := data["contact"]; ok {
			t.Fatalf("contact returned for personalization, granted only for service: %v", data)
		}
		withheld := map[string]string{}
		for _, w := range d["withheld"].([]any) {
			w := w.(map[string]any)
			withheld[w["category"].(string)] = w["reason"].(string)
		}
		if withheld["feedback"] != "no_consent" || withheld["contact"] != "no_consent" {
			t.Fatalf("withheld = %v", withheld)
		}
		// Contact for service returns the email trait only.
		d = e.must(200, "GET", "/v1/consumers/guest-1/data?purpose=service&categories=contact", b.SK, nil)
		if c := mustJSON(d["data"]); !strings.Contains(c, email) || strings.Contains(c, "Mei") {
			t.Fatalf("contact data = %s", c)
		}

		// Withdraw in the wallet: effective on the very next request.
		wt := e.wallet(b, "guest-1")
		w := e.must(200, "DELETE", "/v1/me/consents/purchases/personalization", wt, nil)
		if w["consent"].(map[string]any)["state"] != "withdrawn" {
			t.Fatalf("withdraw: %v", w)
		}
		d = e.must(200, "GET", "/v1/consumers/guest-1/data?purpose=personalization&categories=purchases", b.SK, nil)
		if len(d["data"].(map[string]any)) != 0 || d["withheld"].([]any)[0].(map[string]any)["reason"] != "withdrawn" {
			t.Fatalf("read after withdrawal: %v", d)
		}
		res = e.batch(b, track("guest-1", "Order Completed", map[string]any{"sku": "SKU-3"}))
		if num(res["accepted"]) != 0 || dropped(res)[0]["reason"] != "no_consent" {
			t.Fatalf("event after withdrawal: %v", res)
		}

		// Export is complete: identifiers, consents with receipts, all data, the access log.
		ex := e.must(200, "GET", "/v1/me/export", wt, nil)
		exs := mustJSON(ex)
		for _, want := range []string{marker, email, `"format":"symbiont-export/1"`, `"consent_history"`, `"action":"read"`, `"state":"withdrawn"`} {
			if !strings.Contains(exs, want) {
				t.Errorf("export lacks %s", want)
			}
		}
		if len(ex["consent_history"].([]any)) != 3 {
			t.Errorf("history has %d records, want 3", len(ex["consent_history"].([]any)))
		}

		// The access log names every read, with purpose and categories.
		log := e.must(200, "GET", "/v1/me/access-log", wt, nil)
		if n := len(log["records"].([]any)); n < 4 {
			t.Fatalf("access log has %d records: %v", n, log)
		}

		// Erase.
		er := e.must(200, "DELETE", "/v1/me", wt, nil)
		if num(er["events_deleted"]) != 2 || num(er["keys_destroyed"]) != 1 {
			t.Fatalf("erasure: %v", er)
		}
		if r := e.do("GET", "/v1/me/export", wt, nil); r.Status != 401 {
			t.Fatalf("wallet after erasure: %d", r.Status)
		}
		if r := e.do("GET", "/v1/consumers/guest-1/data?purpose=personalization", b.SK, nil); r.Status != 404 {
			t.Fatalf("brand read after erasure: %d %s", r.Status, r.Body)
		}
		res = e.batch(b, track("guest-1", "Order Completed", map[string]any{"sku": "SKU-4"}))
		if num(res["accepted"]) != 0 {
			t.Fatalf("event after erasure accepted: %v", res)
		}

		// Nothing readable survives in any file of the data directory.
		if e.p.Store.Dialect() == "sqlite" {
			e.p.Close() // flush and close files; Cleanup's second Close is harmless
			assertNoPlaintext(t, e.dir, marker, email, "guest-1")
		}
	})
}

func assertNoPlaintext(t *testing.T, dir string, needles ...string) {
	t.Helper()
	files := 0
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		files++
		for _, n := range needles {
			if bytes.Contains(b, []byte(n)) {
				t.Errorf("%s contains %q", filepath.Base(path), n)
			}
		}
		return nil
	})
	if files < 2 {
		t.Fatalf("only %d files in %s", files, dir)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestReceiptVerifiesWithPublishedKey checks a receipt with nothing but the brand's published
// JWKS and the standard library: any third party can do the same.
func TestReceiptVerifiesWithPublishedKey(t *testing.T) {
	e := newEnv(t)
	b := e.setup("Aurora")
	g := e.grant(b, "guest-1", "purchases", "personalization", map[string]any{
		"notice": map[string]any{"id": "privacy", "version": "3", "hash": "sha256:abc", "language": "en"}, "jurisdiction": "EU",
		"evidence": map[string]any{"form": "checkout"}})
	receipt := g["receipt"].(string)
	jwks := e.must(200, "GET", "/v1/brands/"+b.ID+"/jwks.json", "", nil)
	key := jwks["keys"].([]any)[0].(map[string]any)
	pub, _ := base64.RawURLEncoding.DecodeString(key["x"].(string))
	parts := strings.Split(receipt, ".")
	if len(parts) != 3 {
		t.Fatalf("receipt is not a compact JWS: %s", receipt)
	}
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	if !ed25519.Verify(pub, []byte(parts[0]+"."+parts[1]), sig) {
		t.Fatal("receipt signature does not verify with the published key")
	}
	var hdr, claims map[string]any
	hb, _ := base64.RawURLEncoding.DecodeString(parts[0])
	cb, _ := base64.RawURLEncoding.DecodeString(parts[1])
	json.Unmarshal(hb, &hdr)
	json.Unmarshal(cb, &claims)
	if hdr["alg"] != "EdDSA" || hdr["kid"] != key["kid"] {
		t.Fatalf("header %v, key %v", hdr, key)
	}
	if claims["category"] != "purchases" || claims["state"] != "given" || claims["iss"] != b.ID || claims["jurisdiction"] != "EU" ||
		claims["notice"].(map[string]any)["version"] != "3" || claims["evidence_hash"] == nil {
		t.Fatalf("claims %v", claims)
	}
	if strings.Contains(string(cb), "guest-1") {
		t.Fatal("receipt names the consumer in clear; it must carry a pseudonym")
	}
	// A tampered receipt fails.
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString(bytes.Replace(cb, []byte("given"), []byte("GIVEN"), 1)) + "." + parts[2]
	tp := strings.Split(tampered, ".")
	if ed25519.Verify(pub, []byte(tp[0]+"."+tp[1]), sig) {
		t.Fatal("tampered receipt verifies")
	}
	// Withdrawal receipts chain to the grant they end.
	wt := e.wallet(b, "guest-1")
	w := e.must(200, "DELETE", "/v1/me/consents/purchases/personalization", wt, nil)
	wparts := strings.Split(w["receipt"].(string), ".")
	wb, _ := base64.RawURLEncoding.DecodeString(wparts[1])
	var wc map[string]any
	json.Unmarshal(wb, &wc)
	if wc["previous"] != claims["jti"] || wc["state"] != "withdrawn" || wc["sub"] != claims["sub"] {
		t.Fatalf("withdrawal claims %v, grant %v", wc, claims)
	}
}

// TestExpiry: a grant stops admitting data the moment it expires, and the sweep records it.
func TestExpiry(t *testing.T) {
	eachStore(t, func(t *testing.T, newEnv func(*testing.T) *env) {
		e := newEnv(t)
		b := e.setup("Aurora")
		e.grant(b, "guest-1", "purchases", "personalization", map[string]any{"duration_days": 2})
		e.batch(b, track("guest-1", "Order Completed", map[string]any{"sku": "A"}))
		e.clock.Advance(49 * time.Hour)
		d := e.must(200, "GET", "/v1/consumers/guest-1/data?purpose=personalization&categories=purchases", b.SK, nil)
		if len(d["data"].(map[string]any)) != 0 || d["withheld"].([]any)[0].(map[string]any)["reason"] != "expired" {
			t.Fatalf("after expiry: %v", d)
		}
		res := e.batch(b, track("guest-1", "Order Completed", map[string]any{"sku": "B"}))
		if num(res["accepted"]) != 0 {
			t.Fatalf("event after expiry accepted: %v", res)
		}
		n, err := e.p.Consent.ExpireDue(t.Context())
		if err != nil || n != 1 {
			t.Fatalf("ExpireDue = %d, %v", n, err)
		}
		c := e.must(200, "GET", "/v1/consumers/guest-1/consents?history=true", b.SK, nil)
		cur := c["consents"].([]any)[0].(map[string]any)
		if cur["state"] != "expired" || cur["method"] != "expiry" || len(c["history"].([]any)) != 2 {
			t.Fatalf("consents after sweep: %v", c)
		}
		// Renewal works and admits data again.
		e.grant(b, "guest-1", "purchases", "personalization")
		if res := e.batch(b, track("guest-1", "Order Completed", map[string]any{"sku": "C"})); num(res["accepted"]) != 1 {
			t.Fatalf("after renewal: %v", res)
		}
	})
}
