package api_test

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/symbiont/symbiont/ledger"
	"github.com/symbiont/symbiont/platform"
	"github.com/symbiont/symbiont/store"
	"github.com/symbiont/symbiont/store/storetest"
	"github.com/symbiont/symbiont/vault"
)

// Real TC strings (see tcf/tcf_test.go for their sources and decoded values):
const (
	// TCF v2.3 (policy version 5), CMP 18, last updated 2026-01-13: consent to purposes 1–11
	// and special features 1 and 2. From iabtcf-es@839b9557, ReportedIssues.test.ts.
	tcAll = "CQd924AQd924AASACCENCNFsAP_gAEIAACiQL6QBAAGAAOANmAcAF9IAIADgAA.IL6" +
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" +
		".YIAAAAAAAAAA"
	// TCF v2.2 (policy version 5), CMP 10, last updated 2022-02-01: consent to purposes 1 and
	// 3–6 only (7–11 refused), no special feature. From iabtcf-es@839b9557, a comment in
	// ReportedIssues.test.ts.
	tcSome = "CPTtLAAPTtLAAAKAAAENAAFgALwAAEAAAAAAAOgAgABgAAAA.IAoAAgABgAAEAQAAEAAA.d4AACEAAAAAA"
	// TCF v2.0 (policy version 2): iabtcf-java@1bc03e64, TCStringV2Test.java.
	tcOld = "COtybn4PA_zT4KjACBENAPCIAEBAAECAAIAAAAAAAAAA"
)

// segConsent is a context carrying Segment's consent object.
func segConsent(prefs map[string]bool) map[string]any {
	return map[string]any{"consent": map[string]any{"categoryPreferences": prefs}}
}

func withContext(m map[string]any, ctx map[string]any) map[string]any {
	m["context"] = ctx
	return m
}

func page(user, id string) map[string]any {
	return map[string]any{"type": "page", "userId": user, "name": "Home", "messageId": id}
}

// history returns the consumer's consent history.
func (e *env) history(b brand, user string) []map[string]any {
	e.t.Helper()
	m := e.must(200, "GET", "/v1/consumers/"+user+"/consents?history=true", b.SK, nil)
	var out []map[string]any
	for _, r := range m["history"].([]any) {
		out = append(out, r.(map[string]any))
	}
	return out
}

// state returns the current state and method of each pair, "category:purpose" → "state/method".
func (e *env) states(b brand, user string) map[string]string {
	e.t.Helper()
	r := e.do("GET", "/v1/consumers/"+user+"/consents", b.SK, nil)
	out := map[string]string{}
	if r.Status == 404 {
		return out
	}
	for _, c := range r.json(e.t)["consents"].([]any) {
		c := c.(map[string]any)
		out[c["category"].(string)+":"+c["purpose"].(string)] = c["state"].(string) + "/" + c["method"].(string)
	}
	return out
}

// ledgerKinds counts the brand's ledger entries by kind.
func (e *env) ledgerKinds() map[string]int {
	e.t.Helper()
	out := map[string]int{}
	err := e.p.Store.View(context.Background(), func(tx store.Tx) error {
		return tx.ForEachLedgerEntry(context.Background(), func(en *ledger.Entry) error {
			var rec struct {
				Kind string `json:"kind"`
			}
			if err := json.Unmarshal(en.Record, &rec); err != nil {
				return err
			}
			out[rec.Kind]++
			return nil
		})
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

// TestSignalRefusalDropsThisEvent: a consent manager's refusal on an event takes effect before
// that event is gated, so the event is dropped; the refusal is a consent record with a signed
// receipt whose evidence names the signal, and a ledger entry.
func TestSignalRefusalDropsThisEvent(t *testing.T) {
	eachStore(t, func(t *testing.T, newEnv func(*testing.T) *env) {
		e := newEnv(t)
		b := e.setup("Aurora")
		e.grant(b, "guest-1", "purchases", "marketing")
		before := e.ledgerKinds()
		ev := withContext(track("guest-1", "Order Completed", map[string]any{"sku": "REFUSED"}), segConsent(map[string]bool{"Advertising": false, "Unmapped": true}))
		res := e.batch(b, ev)
		if num(res["accepted"]) != 0 || len(dropped(res)) != 1 || dropped(res)[0]["reason"] != "no_consent" {
			t.Fatalf("the event carrying the refusal was not dropped: %v", res)
		}
		if got := e.states(b, "guest-1")["purchases:marketing"]; got != "refused/cmp_signal" {
			t.Fatalf("purchases:marketing = %q, want refused/cmp_signal", got)
		}
		h := e.history(b, "guest-1")
		last := h[len(h)-1]
		ev2 := last["evidence"].(map[string]any)
		sig := ev2["signals"].([]any)[0].(map[string]any)
		if ev2["message_id"] != ev["messageId"] || sig["kind"] != "segment" || mustJSON(sig["value"]) != `{"Advertising":false,"Unmapped":true}` ||
			mustJSON(ev2["from"]) != `["Advertising"]` {
			t.Fatalf("evidence %v", ev2)
		}
		// The receipt covers the evidence: its evidence_hash is the digest of the stored evidence.
		var hist struct {
			History []struct {
				Evidence json.RawMessage `json:"evidence"`
				Receipt  string          `json:"receipt"`
			} `json:"history"`
		}
		json.Unmarshal(e.do("GET", "/v1/consumers/guest-1/consents?history=true", b.SK, nil).Body, &hist)
		lastRaw := hist.History[len(hist.History)-1]
		claims := receiptClaims(t, e, b, lastRaw.Receipt)
		sum := sha256.Sum256(lastRaw.Evidence)
		if claims["method"] != "cmp_signal" || claims["state"] != "refused" || claims["evidence_hash"] != "sha256:"+base64.RawURLEncoding.EncodeToString(sum[:]) {
			t.Fatalf("claims %v, evidence %s", claims, lastRaw.Evidence)
		}
		after := e.ledgerKinds()
		if after["consent.refused"] != before["consent.refused"]+1 {
			t.Fatalf("ledger: %v, then %v", before, after)
		}
		if d := e.must(200, "GET", "/v1/consumers/guest-1/data?purpose=marketing&categories=purchases", b.SK, nil); strings.Contains(mustJSON(d), "REFUSED") {
			t.Fatalf("the refused event was stored: %v", d)
		}
	})
}

// receiptClaims verifies a receipt with the brand's published key and returns its claims.
func receiptClaims(t *testing.T, e *env, b brand, receipt string) map[string]any {
	t.Helper()
	jwks := e.must(200, "GET", "/v1/brands/"+b.ID+"/jwks.json", "", nil)
	pub, _ := base64.RawURLEncoding.DecodeString(jwks["keys"].([]any)[0].(map[string]any)["x"].(string))
	parts := strings.Split(receipt, ".")
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	if !ed25519.Verify(pub, []byte(parts[0]+"."+parts[1]), sig) {
		t.Fatal("receipt does not verify")
	}
	cb, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var claims map[string]any
	json.Unmarshal(cb, &claims)
	return claims
}

// TestSignalGrantLandsFirstEvent: an event from someone Symbiont does not know, carrying the
// consent manager's first "accept" (a real TC string), creates the consumer with the grants
// the brand's mapping derives, and the event itself is stored. Sensitive categories are not
// granted by a signal.
func TestSignalGrantLandsFirstEvent(t *testing.T) {
	eachStore(t, func(t *testing.T, newEnv func(*testing.T) *env) {
		e := newEnv(t)
		b := e.setup("Aurora")
		res := e.batch(b, withContext(page("new-visitor", "p1"), map[string]any{"consent": map[string]any{"tcf": tcAll}}))
		if num(res["accepted"]) != 1 {
			t.Fatalf("the first event with an accept was not stored: %v", res)
		}
		st := e.states(b, "new-visitor")
		for _, p := range []string{"browsing:marketing", "purchases:marketing", "browsing:personalization", "browsing:analytics", "device:analytics", "browsing:product_research"} {
			if st[p] != "given/cmp_signal" {
				t.Errorf("%s = %q, want given/cmp_signal", p, st[p])
			}
		}
		if _, ok := st["precise_location:marketing"]; ok {
			t.Errorf("a sensitive category was granted by a signal: %v", st)
		}
		h := e.history(b, "new-visitor")
		n := h[0]["notice"].(map[string]any)
		sig := h[0]["evidence"].(map[string]any)["signals"].([]any)[0].(map[string]any)
		if n["id"] != "iab-tcf-v2" || n["version"] != "policy 5, vendor list 141" || n["language"] != "en" ||
			sig["kind"] != "tcf" || num(sig["cmp_id"]) != 18 || sig["last_updated"] != "2026-01-13T00:00:00Z" || num(sig["policy_version"]) != 5 {
			t.Fatalf("notice %v, signal %v", n, sig)
		}
		if sig["value"] != tcAll {
			t.Fatalf("evidence value %v", sig)
		}
		// An unknown visitor whose signal only refuses is not created: there is nothing to
		// refuse, and nothing is stored.
		res = e.batch(b, withContext(page("refuser", "p2"), segConsent(map[string]bool{"Advertising": false, "Analytics": false})))
		if num(res["accepted"]) != 0 || dropped(res)[0]["reason"] != "unknown_consumer" {
			t.Fatalf("refusing stranger: %v", res)
		}
		if r := e.do("GET", "/v1/consumers/refuser/consents", b.SK, nil); r.Status != 404 {
			t.Fatalf("a refusing stranger became a consumer: %d %s", r.Status, r.Body)
		}
	})
}

// TestSignalRepeatedRecordsOnce: the same signal on 1,000 events, and a retry of a whole batch,
// record once.
func TestSignalRepeatedRecordsOnce(t *testing.T) {
	e := newEnv(t)
	b := e.setup("Aurora")
	ctx := map[string]any{"consent": map[string]any{"tcf": tcSome, "categoryPreferences": map[string]bool{"Advertising": true}},
		"consentManagement": map[string]any{"provider": "oneTrust", "allowedConsentIds": []string{"C0004"}, "deniedConsentIds": []string{"C0002"}}}
	var first []map[string]any
	for i := range 10 {
		var msgs []map[string]any
		for j := range 100 {
			msgs = append(msgs, withContext(page("regular", fmt.Sprintf("r-%d-%d", i, j)), ctx))
		}
		if i == 0 {
			first = msgs
		}
		if res := e.batch(b, msgs...); num(res["accepted"]) != 100 {
			t.Fatalf("batch %d: %v", i, res)
		}
	}
	h := e.history(b, "regular")
	if res := e.batch(b, first...); num(res["duplicates"]) != 100 {
		t.Fatalf("retry: %v", res)
	}
	if h2 := e.history(b, "regular"); len(h2) != len(h) {
		t.Fatalf("a retry recorded %d more", len(h2)-len(h))
	}
	// What was recorded: each pair once. Marketing: TCF 3 and 4, Advertising and C0004 all
	// grant; analytics: TCF 8 and 9 refuse, and C0002 is denied, so nothing (there was no
	// grant to refuse).
	seen := map[string]int{}
	for _, r := range h {
		seen[r["category"].(string)+":"+r["purpose"].(string)+"/"+r["state"].(string)]++
	}
	want := map[string]int{"browsing:marketing/given": 1, "purchases:marketing/given": 1, "preferences:marketing/given": 1,
		"browsing:personalization/given": 1, "purchases:personalization/given": 1, "preferences:personalization/given": 1}
	if mustJSON(seen) != mustJSON(want) {
		t.Fatalf("history %v, want %v", seen, want)
	}
	// The evidence names all three signals.
	if s := mustJSON(h[0]["evidence"]); !strings.Contains(s, `"kind":"tcf"`) || !strings.Contains(s, `"kind":"segment"`) || !strings.Contains(s, `"provider":"oneTrust"`) {
		t.Fatalf("evidence %s", s)
	}
}

// TestSignalMalformed: a malformed signal gets a clear reason, drops its message, and changes
// nothing; the rest of the batch goes on.
func TestSignalMalformed(t *testing.T) {
	eachStore(t, func(t *testing.T, newEnv func(*testing.T) *env) {
		e := newEnv(t)
		b := e.setup("Aurora")
		e.grant(b, "guest-1", "browsing", "analytics")
		before := e.history(b, "guest-1")
		cases := []struct {
			msg    map[string]any
			detail string
		}{
			{withContext(page("guest-1", "m1"), map[string]any{"consent": map[string]any{"tcf": "BOhwdphOxFC7tAHABBFRC--AAAAuhr_7__7-_9_-_f__9uj3Or_v_f__32ccL59v_h_7v-_7fi_20nV4u_1vft9yfk1-5ctDztp507iakivXmqdeb9v_nz3_5pxP78k89r7337Ew_v8_v-b7BCON_YxEiA"}}), "tcf: version: version 1"},
			{withContext(page("guest-1", "m2"), map[string]any{"consent": map[string]any{"tcf": tcOld}}), "tcf: policy_version"},
			{withContext(page("guest-1", "m3"), map[string]any{"consent": map[string]any{"tcf": "COtybn4PA_zT4KjACBENAPCIAEB"}}), "tcf: truncated"},
			{withContext(page("guest-1", "m4"), map[string]any{"consent": map[string]any{"tcf": "CPTt+LAA"}}), "tcf: base64"},
			{withContext(page("guest-1", "m5"), map[string]any{"consent": map[string]any{"tcf": 42}}), "must be a TC string"},
			{withContext(page("guest-1", "m6"), map[string]any{"consent": map[string]any{"categoryPreferences": map[string]any{"Analytics": "no"}}}), "must be true or false"},
			{withContext(page("guest-1", "m7"), map[string]any{"consent": "accepted"}), "context.consent must be an object"},
			{withContext(page("guest-1", "m8"), map[string]any{"consentManagement": map[string]any{"deniedConsentIds": "C0002"}}), "consentManagement"},
			{merge(withContext(page("guest-1", "m9"), map[string]any{"consent": map[string]any{"tcf": tcSome}}), map[string]any{"gdpr_consent": tcAll}), "carry different TC strings"},
		}
		msgs := []map[string]any{}
		for _, c := range cases {
			msgs = append(msgs, c.msg)
		}
		msgs = append(msgs, page("guest-1", "fine"))
		res := e.batch(b, msgs...)
		if num(res["accepted"]) != 1 {
			t.Fatalf("the well-formed message of the batch: %v", res)
		}
		d := dropped(res)
		if len(d) != len(cases) {
			t.Fatalf("dropped %v", d)
		}
		for i, c := range cases {
			if d[i]["messageId"] != c.msg["messageId"] || d[i]["reason"] != "invalid_consent_signal" || !strings.Contains(d[i]["detail"].(string), c.detail) {
				t.Errorf("case %d: %v, want detail containing %q", i, d[i], c.detail)
			}
		}
		if after := e.history(b, "guest-1"); len(after) != len(before) {
			t.Fatalf("a malformed signal changed consent: %v", after)
		}
		// A single call answers the same way.
		r := e.must(200, "POST", "/v1/page", "", withContext(page("guest-1", "single"), map[string]any{"consent": map[string]any{"tcf": "C"}}), basic(b.PK))
		if dropped(r)[0]["reason"] != "invalid_consent_signal" {
			t.Fatalf("single call: %v", r)
		}
	})
}

func merge(a, b map[string]any) map[string]any {
	for k, v := range b {
		a[k] = v
	}
	return a
}

// TestSignalPrecedence: a decision the consumer made in the wallet is not overridden by a
// signal that cannot be shown to be newer; a refusal always applies.
func TestSignalPrecedence(t *testing.T) {
	e := newEnv(t)
	e.clock.Set(time.Date(2025, 12, 1, 9, 0, 0, 0, time.UTC)) // before tcAll's last update
	b := e.setup("Aurora")
	e.grant(b, "mei", "browsing", "marketing")
	wt := e.wallet(b, "mei")
	e.must(200, "DELETE", "/v1/me/consents/browsing/marketing", wt, nil)

	// Segment's signal carries no decision time: the wallet withdrawal stands, on every event.
	for i := range 3 {
		res := e.batch(b, withContext(page("mei", fmt.Sprintf("w%d", i)), segConsent(map[string]bool{"Advertising": true})))
		if num(res["accepted"]) != 0 {
			t.Fatalf("an undated signal overrode the wallet: %v", res)
		}
	}
	if st := e.states(b, "mei"); st["browsing:marketing"] != "withdrawn/wallet" || st["purchases:marketing"] != "given/cmp_signal" {
		t.Fatalf("states %v", st)
	}
	// A TC string last updated before the withdrawal does not override it either.
	e.batch(b, withContext(page("mei", "old-tcf"), map[string]any{"consent": map[string]any{"tcf": tcSome}}))
	if st := e.states(b, "mei"); st["browsing:marketing"] != "withdrawn/wallet" {
		t.Fatalf("an older TC string overrode the wallet: %v", st)
	}
	// One last updated after it does: the consumer chose again on the brand's banner.
	e.clock.Set(time.Date(2026, 2, 1, 9, 0, 0, 0, time.UTC))
	res := e.batch(b, withContext(page("mei", "new-tcf"), map[string]any{"consent": map[string]any{"tcf": tcAll}}))
	if st := e.states(b, "mei"); st["browsing:marketing"] != "given/cmp_signal" || num(res["accepted"]) != 1 {
		t.Fatalf("a newer TC string did not grant: %v %v", st, res)
	}
	// A refusal applies even to a grant the consumer made in the wallet.
	wt = e.wallet(b, "mei")
	e.must(201, "POST", "/v1/me/consents", wt, map[string]any{"category": "device", "purpose": "analytics"})
	e.batch(b, withContext(page("mei", "refuse"), segConsent(map[string]bool{"Analytics": false})))
	if st := e.states(b, "mei"); st["device:analytics"] != "refused/cmp_signal" {
		t.Fatalf("a signal refusal did not apply to a wallet grant: %v", st)
	}
	// A signal's own refusal is lifted by the signal's later grant.
	e.batch(b, withContext(page("mei", "accept"), segConsent(map[string]bool{"Analytics": true})))
	if st := e.states(b, "mei"); st["device:analytics"] != "given/cmp_signal" {
		t.Fatalf("a signal grant after a signal refusal: %v", st)
	}
}

// TestSignalGPCComposes: with Sec-GPC: 1 a signal grants nothing GPC refuses, and GPC refuses
// before the event is gated; the signal's other grants still apply.
func TestSignalGPCComposes(t *testing.T) {
	e := newEnv(t)
	b := e.setup("Aurora")
	e.grant(b, "guest-1", "purchases", "marketing")
	res := e.batch2(b, header("Sec-GPC", "1"),
		withContext(track("guest-1", "Order Completed", nil), segConsent(map[string]bool{"Advertising": true, "Analytics": true, "DataSharing": true})))
	if num(res["accepted"]) != 0 {
		t.Fatalf("GPC refused purchases:marketing before gating, the event should be dropped: %v", res)
	}
	st := e.states(b, "guest-1")
	if st["purchases:marketing"] != "refused/gpc_signal" || st["browsing:analytics"] != "given/cmp_signal" {
		t.Fatalf("states %v", st)
	}
	for p, s := range st {
		if strings.HasSuffix(p, ":marketing") && s != "refused/gpc_signal" || strings.HasSuffix(p, ":partner_sharing") {
			t.Errorf("%s = %s under GPC", p, s)
		}
	}
	// Without GPC, the same signal grants marketing again? No: GPC's refusal is not a signal's
	// and the signal is undated.
	e.batch(b, withContext(track("guest-1", "Order Completed", nil), segConsent(map[string]bool{"Advertising": true})))
	if st := e.states(b, "guest-1"); st["purchases:marketing"] != "refused/gpc_signal" {
		t.Fatalf("an undated signal overrode GPC: %v", st)
	}
}

// batch2 is batch with request options.
func (e *env) batch2(b brand, o opt, msgs ...map[string]any) map[string]any {
	e.t.Helper()
	return e.must(200, "POST", "/v1/batch", "", map[string]any{"batch": msgs}, basic(b.PK), o)
}

// TestSignalRudderStack: RudderStack's allowed and denied consent ids.
func TestSignalRudderStack(t *testing.T) {
	e := newEnv(t)
	b := e.setup("Aurora")
	e.grant(b, "r-1", "browsing", "analytics")
	cm := func(allowed, denied []string) map[string]any {
		return map[string]any{"consentManagement": map[string]any{"provider": "oneTrust", "resolutionStrategy": "and", "allowedConsentIds": allowed, "deniedConsentIds": denied}}
	}
	res := e.batch(b, withContext(page("r-1", "r1"), cm([]string{"C0001", "C0003"}, []string{"C0002", "C0004"})))
	if num(res["accepted"]) != 1 {
		t.Fatalf("%v", res) // browsing:personalization granted by C0003 admits the page
	}
	st := e.states(b, "r-1")
	if st["browsing:analytics"] != "refused/cmp_signal" || st["browsing:personalization"] != "given/cmp_signal" || st["browsing:marketing"] != "" {
		t.Fatalf("states %v", st)
	}
	// An id both allowed and denied is refused.
	e.batch(b, withContext(page("r-1", "r2"), cm([]string{"C0003"}, []string{"C0003"})))
	if st := e.states(b, "r-1"); st["browsing:personalization"] != "refused/cmp_signal" {
		t.Fatalf("states %v", st)
	}
}

// TestSignalMapAPI: GET returns the defaults until the brand sets a mapping; PUT validates
// against the vocabulary and applies from the next request.
func TestSignalMapAPI(t *testing.T) {
	e := newEnv(t)
	b := e.setup("Aurora")
	m := e.must(200, "GET", "/v1/consent-signals", b.SK, nil)
	if m["default"] != true || num(m["version"]) != 0 || m["tcf"].(map[string]any)["purposes_from"] != "core" {
		t.Fatalf("defaults: %v", m)
	}
	// The defaults, sent back, are accepted as they are.
	m2 := e.must(200, "PUT", "/v1/consent-signals", b.SK, m)
	if num(m2["version"]) != 1 || m2["default"] != nil || mustJSON(m2["categories"]) != mustJSON(m["categories"]) {
		t.Fatalf("put defaults: %v", m2)
	}
	for _, c := range []struct {
		body, field string
		status      int
	}{
		{`{"categories":{"Ads":["browsing:dreams"]}}`, "categories", 400},
		{`{"categories":{"Ads":["dreams:marketing"]}}`, "categories", 400},
		{`{"categories":{"Ads":["browsing"]}}`, "categories", 400},
		{`{"tcf":{"purposes":{"25":["browsing:marketing"]}}}`, "tcf.purposes", 400},
		{`{"tcf":{"purposes":{"03":["browsing:marketing"]}}}`, "tcf.purposes", 400},
		{`{"tcf":{"special_features":{"13":["browsing:marketing"]}}}`, "tcf.special_features", 400},
		{`{"tcf":{"purposes_from":"vendor"}}`, "tcf.purposes_from", 400},
		{`{"tcf":{"vendor_id":70000}}`, "tcf.vendor_id", 400},
		{`{"categories":{"Ads":["browsing:marketing"],"Ads":["browsing:analytics"]}}`, "categories.Ads", 400},
		{`{"categorys":{}}`, "", 400},
		{`{"categories":{"":["browsing:marketing"]}}`, "categories", 400},
		{"{\"categories\":{\"\xff\":[\"browsing:marketing\"]}}", "", 400},
		{`{"categories":{}} {}`, "", 400},
		{`{"categories":{"a":[` + strings.Repeat(`"browsing:marketing",`, 50) + `"browsing:marketing"]}}`, "categories", 413},
	} {
		r := e.do("PUT", "/v1/consent-signals", b.SK, c.body)
		if r.Status != c.status {
			t.Errorf("%s: %d %s", c.body, r.Status, r.Body)
			continue
		}
		r.errCode(t)
		details, _ := r.json(t)["error"].(map[string]any)["details"].(map[string]any)
		if f, _ := details["field"].(string); c.field != "" && f != c.field {
			t.Errorf("%s: field %q, want %q", c.body, f, c.field)
		}
	}
	if num(e.must(200, "GET", "/v1/consent-signals", b.SK, nil)["version"]) != 1 {
		t.Fatal("a rejected PUT changed the mapping")
	}
	// A brand's own mapping, with its custom vocabulary, applies from the next request.
	e.must(201, "POST", "/v1/vocabulary", b.SK, map[string]any{"kind": "category", "name": "loyalty", "label": "Loyalty"})
	e.must(200, "PUT", "/v1/tracking-plan", b.SK, map[string]any{"events": map[string]string{"Tier Changed": "loyalty"}})
	e.must(200, "PUT", "/v1/consent-signals", b.SK, `{"categories":{"Loyalty Programme":["loyalty:marketing"]},"tcf":{"purposes":{"1":["loyalty:service"]}}}`)
	res := e.batch(b, withContext(track("fan", "Tier Changed", nil), map[string]any{"consent": map[string]any{"categoryPreferences": map[string]bool{"Loyalty Programme": true, "Advertising": true}, "tcf": tcSome}}))
	if num(res["accepted"]) != 1 {
		t.Fatalf("custom mapping: %v", res)
	}
	st := e.states(b, "fan")
	if st["loyalty:marketing"] != "given/cmp_signal" || st["loyalty:service"] != "given/cmp_signal" || len(st) != 2 {
		t.Fatalf("custom mapping states %v", st)
	}
	// Scope: a key without tracking_plan may not read or change it.
	k := e.must(201, "POST", "/v1/keys", b.SK, map[string]any{"kind": "secret", "scopes": []string{"consents"}})
	if r := e.do("GET", "/v1/consent-signals", k["secret"].(string), nil); r.Status != 403 {
		t.Fatalf("scope: %d", r.Status)
	}
	if r := e.do("GET", "/v1/consent-signals", b.PK, nil); r.Status != 403 && r.Status != 401 {
		t.Fatalf("write key: %d", r.Status)
	}
}

// TestSignalMapTwoNodes: a mapping changed on one PostgreSQL node applies on the other, which
// had the old one cached.
func TestSignalMapTwoNodes(t *testing.T) {
	a, bn := twoNodes(t)
	br := a.setup("Aurora")
	ctx := segConsent(map[string]bool{"Loyal": true})
	bn.batch(br, withContext(page("x", "warm"), ctx)) // node b caches the defaults
	a.must(200, "PUT", "/v1/consent-signals", br.SK, `{"categories":{"Loyal":["browsing:service"]}}`)
	waitFor(t, func() bool {
		res := bn.batch(br, withContext(page("x", fmt.Sprintf("n%d", time.Now().UnixNano())), ctx))
		return num(res["accepted"]) == 1
	}, "node b never applied the mapping changed on node a")
	if st := a.states(br, "x"); st["browsing:service"] != "given/cmp_signal" {
		t.Fatalf("states %v", st)
	}
}

func twoNodes(t *testing.T) (*env, *env) {
	dsn := storetest.PostgresDSN(t)
	master := vault.NewMasterKey()
	return newEnvWith(t, platform.Config{PostgresDSN: dsn, MasterKey: master}), newEnvWith(t, platform.Config{PostgresDSN: dsn, MasterKey: master})
}
