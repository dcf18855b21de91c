package api_test

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/symbiont/symbiont/api"
	"github.com/symbiont/symbiont/platform"
)

// errDetail is the error object of an error response.
func errDetail(t *testing.T, r resp) map[string]any {
	t.Helper()
	e, _ := r.json(t)["error"].(map[string]any)
	if e == nil {
		t.Fatalf("not an error body: %s", r.Body)
	}
	return e
}

func reason(t *testing.T, r resp) string {
	t.Helper()
	d, _ := errDetail(t, r)["details"].(map[string]any)
	s, _ := d["reason"].(string)
	return s
}

// TestIdempotencyKeySpace: one Idempotency-Key stands for one request of one consumer, across
// methods and endpoints (brand and wallet consents, redemptions): reused for any other
// request it is refused with 409 and changes nothing; the same request replays its first
// answer; other consumers and brands have key spaces of their own.
func TestIdempotencyKeySpace(t *testing.T) {
	eachStore(t, func(t *testing.T, newEnv func(*testing.T) *env) {
		e := newEnv(t)
		b, other := e.setup("Aurora"), e.setup("Other")
		e.must(200, "PUT", "/v1/rate-card", b.SK, hotelCard)
		e.grant(b, "u1", "contact", "marketing")
		key := header("Idempotency-Key", "k-withdraw")

		// The case: a key used for a withdrawal cannot then grant.
		w1 := e.must(200, "DELETE", "/v1/consumers/u1/consents/contact/marketing", b.SK, nil, key)
		if st := w1["consent"].(map[string]any)["state"]; st != "withdrawn" {
			t.Fatalf("withdrawal: %v", w1)
		}
		r := e.do("POST", "/v1/consumers/u1/consents", b.SK, map[string]any{"category": "contact", "purpose": "marketing"}, key)
		if r.Status != http.StatusConflict || r.errCode(t) != "conflict" || reason(t, r) != "idempotency_key_reused" {
			t.Fatalf("grant with the withdrawal's key: %d %s, want 409 idempotency_key_reused", r.Status, r.Body)
		}
		state := func(user string) string {
			cs := e.must(200, "GET", "/v1/consumers/"+user+"/consents", b.SK, nil)["consents"].([]any)
			for _, c := range cs {
				if m := c.(map[string]any); m["category"] == "contact" && m["purpose"] == "marketing" {
					return m["state"].(string)
				}
			}
			return ""
		}
		if s := state("u1"); s != "withdrawn" {
			t.Fatalf("after the refused reuse the state is %q, want withdrawn", s)
		}
		// The same request replays the first answer, which still matches the state.
		w2 := e.must(200, "DELETE", "/v1/consumers/u1/consents/contact/marketing", b.SK, nil, key)
		if w2["receipt"] != w1["receipt"] {
			t.Error("the replayed withdrawal has another receipt")
		}
		// Another pair, the same key: another request.
		e.grant(b, "u1", "profile", "service")
		if r := e.do("DELETE", "/v1/consumers/u1/consents/profile/service", b.SK, nil, key); r.Status != http.StatusConflict {
			t.Errorf("withdrawing another pair with the key: %d, want 409", r.Status)
		}
		// The consumer's wallet shares the consumer's key space.
		wt := e.wallet(b, "u1")
		if r := e.do("POST", "/v1/me/consents", wt, map[string]any{"category": "contact", "purpose": "marketing"}, key); r.Status != http.StatusConflict {
			t.Errorf("wallet grant with the brand's key: %d, want 409", r.Status)
		}
		if r := e.do("DELETE", "/v1/me/consents/contact/marketing", wt, nil, key); r.Status != http.StatusConflict {
			t.Errorf("wallet withdrawal with the brand's key: %d %s, want 409", r.Status, r.Body)
		}
		// A grant's key: a retry with the same body replays (200, same receipt), also when the
		// consumer is named another way; any change of body is refused.
		gk := header("Idempotency-Key", "k-grant")
		body := map[string]any{"category": "purchases", "purpose": "personalization", "duration_days": 90}
		g1 := e.must(201, "POST", "/v1/consumers/u1/consents", b.SK, body, gk)
		g2 := e.must(200, "POST", "/v1/consumers/u1/consents", b.SK, body, gk)
		if g1["receipt"] != g2["receipt"] {
			t.Error("replayed grant has another receipt")
		}
		for _, changed := range []map[string]any{
			{"category": "purchases", "purpose": "personalization", "duration_days": 30},
			{"category": "purchases", "purpose": "personalization", "state": "refused"},
			{"category": "purchases", "purpose": "analytics", "duration_days": 90},
			{"category": "purchases", "purpose": "personalization", "duration_days": 90, "jurisdiction": "EU"},
		} {
			if r := e.do("POST", "/v1/consumers/u1/consents", b.SK, changed, gk); r.Status != http.StatusConflict || reason(t, r) != "idempotency_key_reused" {
				t.Errorf("grant key reused with %v: %d %s", changed, r.Status, r.Body)
			}
		}
		// Keys are per consumer and per brand: the same key elsewhere is a new key.
		e.must(201, "POST", "/v1/consumers/u2/consents", b.SK, map[string]any{"category": "contact", "purpose": "marketing"}, key)
		e.must(201, "POST", "/v1/consumers/u1/consents", other.SK, map[string]any{"category": "contact", "purpose": "marketing"}, key)

		// Redemptions live in the same key space.
		e.must(200, "PUT", "/v1/rewards/catalog/tree", b.SK, map[string]any{"name": "Plant a tree", "kind": "donation", "cost": 10, "stock": -1, "active": true})
		e.clock.Advance(31 * 24 * time.Hour)
		e.accrue(t)
		wt = e.wallet(b, "u1")
		before := balance(e, b, "u1")
		if r := e.do("POST", "/v1/me/redemptions", wt, map[string]any{"reward": "tree"}, key); r.Status != http.StatusConflict || reason(t, r) != "idempotency_key_reused" {
			t.Errorf("redemption with a consent's key: %d %s, want 409", r.Status, r.Body)
		}
		rk := header("Idempotency-Key", "k-redeem")
		red := e.must(201, "POST", "/v1/me/redemptions", wt, map[string]any{"reward": "tree"}, rk)
		if again := e.must(200, "POST", "/v1/me/redemptions", wt, map[string]any{"reward": "tree"}, rk); again["code"] != red["code"] {
			t.Error("replayed redemption has another code")
		}
		if r := e.do("POST", "/v1/me/consents", wt, map[string]any{"category": "contact", "purpose": "marketing"}, rk); r.Status != http.StatusConflict {
			t.Errorf("wallet grant with a redemption's key: %d, want 409", r.Status)
		}
		if got := balance(e, b, "u1"); got != before-10 {
			t.Errorf("balance %d, want %d: one redemption", got, before-10)
		}
		if r := e.do("POST", "/v1/consumers/u1/consents", b.SK, map[string]any{"category": "contact", "purpose": "marketing"},
			header("Idempotency-Key", strings.Repeat("k", 256))); r.Status != http.StatusBadRequest {
			t.Errorf("key of 256 bytes: %d", r.Status)
		}
		if r := e.do("POST", "/v1/me/redemptions", wt, map[string]any{"reward": "tree", "idempotency_key": "bad\x01key"}); r.Status != http.StatusBadRequest {
			t.Errorf("key with a control character: %d", r.Status)
		}
	})
}

// goNames are Go's words for types and fields, which no error message may show.
var goNames = regexp.MustCompile(`Go |struct|json:|jsontext|unmarshal|RawMessage|\[\]|map\[|int64|float64|\b(main|symbiont|consent|rewards|api|ingest|tenant|identity|json|time|reflect)\.[A-Za-z]`)

// TestStrictBodies: every endpoint that takes a JSON body refuses duplicate keys, text that is
// not UTF-8 and ill-typed or unknown fields with 400, a message that names the field as the API
// does (a path like rates[0].bonus) and never a Go type, and changes nothing.
func TestStrictBodies(t *testing.T) {
	e := newEnv(t)
	b := e.setup("Aurora")
	e.grant(b, "u1", "purchases", "personalization")
	wt := e.wallet(b, "u1")
	type call struct{ method, path, auth string }
	fams := map[string]call{
		"brands":      {"POST", "/v1/brands", adminToken},
		"vocabulary":  {"POST", "/v1/vocabulary", b.SK},
		"plan":        {"PUT", "/v1/tracking-plan", b.SK},
		"consent":     {"POST", "/v1/consumers/u1/consents", b.SK},
		"session":     {"POST", "/v1/wallet/sessions", b.SK},
		"keys":        {"POST", "/v1/keys", b.SK},
		"my-consent":  {"POST", "/v1/me/consents", wt},
		"rate-card":   {"PUT", "/v1/rate-card", b.SK},
		"catalogue":   {"PUT", "/v1/rewards/catalog/tree", b.SK},
		"redemptions": {"POST", "/v1/me/redemptions", wt},
		"signals":     {"PUT", "/v1/consent-signals", b.SK},
	}
	for _, c := range []struct {
		fam, body, field, reason string
	}{
		{"brands", `{"name":"A","name":"B"}`, "name", "duplicate_key"},
		{"brands", "{\"name\":\"Bad \xff brand\"}", "name", "invalid_utf8"},
		{"brands", `{"name":7}`, "name", "wrong_type"},
		{"vocabulary", `{"kind":"category","name":"loyalty","label":"L","label":"M"}`, "label", "duplicate_key"},
		{"vocabulary", "{\"kind\":\"category\",\"name\":\"loyalty\",\"label\":\"Loyal\xc3\x28ty\"}", "label", "invalid_utf8"},
		{"vocabulary", `{"kind":"category","name":"loyalty","label":"\udc00"}`, "label", "invalid_utf8"},
		{"vocabulary", `{"kind":"category","name":"loyalty","label":"L","sensitive":"no"}`, "sensitive", "wrong_type"},
		{"plan", `{"events":{"Order Completed":"purchases","Order Completed":"contact"}}`, `events["Order Completed"]`, "duplicate_key"},
		{"plan", "{\"events\":{\"Order \xff\":\"purchases\"}}", "events", "invalid_utf8"},
		{"plan", `{"events":{"Order Completed":1}}`, `events["Order Completed"]`, "wrong_type"},
		{"plan", `{"events":{},"Traits":{}}`, "Traits", "unknown_field"},
		{"consent", `{"category":"contact","purpose":"marketing","state":"refused","state":"given"}`, "state", "duplicate_key"},
		{"consent", `{"category":"contact","purpose":"marketing","evidence":{"form":"a","form":"b"}}`, "evidence.form", "duplicate_key"},
		{"consent", "{\"category\":\"contact\",\"purpose\":\"marketing\",\"jurisdiction\":\"E\xffU\"}", "jurisdiction", "invalid_utf8"},
		{"consent", `{"category":"contact","purpose":"marketing","duration_days":"30"}`, "duration_days", "wrong_type"},
		{"consent", `{"category":"contact","purpose":"marketing","notice":{"version":3}}`, "notice.version", "wrong_type"},
		{"consent", `{"category":"contact","purpose":"marketing","Explicit":true}`, "Explicit", "unknown_field"},
		{"session", `{"consumer":"u1","consumer":"u2"}`, "consumer", "duplicate_key"},
		{"session", `{"consumer":"u1","ttl_seconds":"600"}`, "ttl_seconds", "wrong_type"},
		{"keys", `{"kind":"secret","scopes":["data"],"scopes":["keys"]}`, "scopes", "duplicate_key"},
		{"keys", "{\"kind\":\"secret\",\"name\":\"k\xff\"}", "name", "invalid_utf8"},
		{"keys", `{"kind":"secret","scopes":"data"}`, "scopes", "wrong_type"},
		{"my-consent", `{"grants":[{"category":"contact","purpose":"marketing","state":"refused","state":"given"}]}`, "grants[0].state", "duplicate_key"},
		{"my-consent", `{"category":"contact","purpose":"marketing","state":"refused","state":"given"}`, "state", "duplicate_key"},
		{"my-consent", `{"grants":[{"category":"contact","purpose":"marketing","duration_days":1.5}]}`, "grants[0].duration_days", "wrong_type"},
		{"rate-card", `{"currency":"USD","rates":[{"category":"purchases","purpose":"personalization","bonus":1,"bonus":1000000}]}`, "rates[0].bonus", "duplicate_key"},
		{"rate-card", `{"currency":"USD","rates":[{"category":"purchases","purpose":"personalization","points_per_30_days":"10"}]}`, "rates[0].points_per_30_days", "wrong_type"},
		{"rate-card", `{"currency":"USD","tiers":{"levels":[{"name":"Gold","min":"x"}]},"rates":[]}`, "tiers.levels[0].min", "wrong_type"},
		{"rate-card", "{\"currency\":\"US\xffD\",\"rates\":[]}", "currency", "invalid_utf8"},
		{"catalogue", `{"name":"Tree","kind":"donation","cost":10,"cost":0}`, "cost", "duplicate_key"},
		{"catalogue", "{\"name\":\"Tr\xffee\",\"kind\":\"donation\",\"cost\":10}", "name", "invalid_utf8"},
		{"catalogue", `{"name":"Tree","kind":"donation","cost":"10"}`, "cost", "wrong_type"},
		{"catalogue", `{"name":"Tree","kind":"donation","cost":10,"stock":1.5}`, "stock", "wrong_type"},
		{"redemptions", `{"reward":"tree","reward":"spa","idempotency_key":"a"}`, "reward", "duplicate_key"},
		{"redemptions", "{\"reward\":\"tree\",\"idempotency_key\":\"a\xff\"}", "idempotency_key", "invalid_utf8"},
		{"redemptions", `{"reward":["tree"],"idempotency_key":"a"}`, "reward", "wrong_type"},
		{"signals", `{"categories":{"Ads":["browsing:marketing"],"Ads":["browsing:analytics"]}}`, "categories.Ads", "duplicate_key"},
		{"signals", "{\"categories\":{\"Ads\":[\"browsing:\xffmarketing\"]}}", "categories.Ads[0]", "invalid_utf8"},
		{"signals", `{"tcf":{"vendor_id":"7"}}`, "tcf.vendor_id", "wrong_type"},
	} {
		fc, ok := fams[c.fam]
		if !ok {
			t.Fatalf("no family %s", c.fam)
		}
		r := e.do(fc.method, fc.path, fc.auth, []byte(c.body))
		if r.Status != http.StatusBadRequest || r.errCode(t) != "invalid" {
			t.Errorf("%s %s: %d %s, want 400 invalid", c.fam, c.body, r.Status, r.Body)
			continue
		}
		d := errDetail(t, r)
		details, _ := d["details"].(map[string]any)
		msg, _ := d["message"].(string)
		if f, _ := details["field"].(string); f != c.field {
			t.Errorf("%s %s: field %q, want %q (%s)", c.fam, c.body, f, c.field, msg)
		}
		if rs, _ := details["reason"].(string); rs != c.reason {
			t.Errorf("%s %s: reason %q, want %q (%s)", c.fam, c.body, rs, c.reason, msg)
		}
		if goNames.MatchString(msg) {
			t.Errorf("%s %s: message %q names Go types or fields", c.fam, c.body, msg)
		}
		if c.reason == "wrong_type" && !strings.Contains(msg, c.field+" must be ") {
			t.Errorf("%s %s: message %q does not say what %s must be", c.fam, c.body, msg, c.field)
		}
	}
	// Nothing was changed by any of them.
	if bs := e.must(200, "GET", "/v1/brands", adminToken, nil)["brands"].([]any); len(bs) != 1 {
		t.Errorf("%d brands, want 1", len(bs))
	}
	cs := e.must(200, "GET", "/v1/consumers/u1/consents?history=true", b.SK, nil)
	if h := cs["history"].([]any); len(h) != 1 {
		t.Errorf("consent history of u1 has %d records, want the 1 grant", len(h))
	}
	if r := e.do("GET", "/v1/rate-card", b.SK, nil); r.Status != http.StatusNotFound {
		t.Errorf("rate card: %d, want none published", r.Status)
	}
	if cat := e.must(200, "GET", "/v1/rewards/catalog", b.SK, nil)["rewards"].([]any); len(cat) != 0 {
		t.Errorf("catalogue: %v", cat)
	}
	plan := e.must(200, "GET", "/v1/tracking-plan", b.SK, nil)
	if ev := plan["events"].(map[string]any); ev["Order Completed"] != "purchases" || len(ev) != 4 {
		t.Errorf("tracking plan changed: %v", plan)
	}
	if v := e.must(200, "GET", "/v1/vocabulary", b.SK, nil); strings.Contains(mustJSON(v), "loyalty") {
		t.Error("a term was stored")
	}
}

// TestMetricsNotPublic: /metrics, whose counts span every tenant, is not on the public
// handler; the operations handler serves it.
func TestMetricsNotPublic(t *testing.T) {
	e := newEnv(t)
	e.newBrand("Aurora")
	if r := e.do("GET", "/metrics", "", nil); r.Status != http.StatusNotFound || bytes.Contains(r.Body, []byte("symbiont_http_requests_total")) {
		t.Errorf("public /metrics: %d %.200s, want 404", r.Status, r.Body)
	}
	if r := e.do("GET", "/metrics", adminToken, nil); r.Status != http.StatusNotFound {
		t.Errorf("public /metrics with the operator token: %d, want 404", r.Status)
	}
	ops := httptest.NewServer(e.p.OpsHandler())
	defer ops.Close()
	res, err := http.Get(ops.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !bytes.Contains(body, []byte(`symbiont_http_requests_total{route="POST /v1/brands",status="201"} 1`)) {
		t.Errorf("ops /metrics: %d %.300s", res.StatusCode, body)
	}
	if res, err := http.Get(ops.URL + "/debug/pprof/"); err != nil || res.StatusCode != 200 {
		t.Errorf("ops pprof: %v %v", res, err)
	}
}

// TestLogsCarryNoConsumerIDs: request lines name consumers in paths by a keyed hash, the same
// for the same id, never the id itself (nor an email used as one).
func TestLogsCarryNoConsumerIDs(t *testing.T) {
	var logs syncBuf
	e := newEnvWith(t, platform.Config{Log: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	b := e.setup("Aurora")
	const user = "zz.log-user+4711@example.com"
	e.grant(b, user, "purchases", "personalization")
	e.must(200, "GET", "/v1/consumers/"+user+"/consents", b.SK, nil)
	e.must(200, "GET", "/v1/consumers/"+strings.ReplaceAll(user, "@", "%40")+"/access-log", b.SK, nil)
	e.do("GET", "/v1/consumers/"+user+"/nope", b.SK, nil)
	e.do("GET", "/v1/consumers/a%2Fzz-slash-user/consents", b.SK, nil)
	e.do("GET", "/console/consumers/"+user, "", nil)
	out := logs.String()
	for _, leak := range []string{user, "zz.log-user", "example.com", "zz-slash-user"} {
		if strings.Contains(out, leak) {
			t.Errorf("the log holds %q:\n%s", leak, out)
		}
	}
	h := e.p.Graph.Pseudonym(user)
	if n := strings.Count(out, "/v1/consumers/"+h+"/"); n < 3 {
		t.Errorf("want request lines with /v1/consumers/%s/…, found %d:\n%s", h, n, out)
	}
	if got := api.LogPath("/v1/consumers/u%2Fv/consents", func(s string) string { return "<" + s + ">" }); got != "/v1/consumers/<u/v>/consents" {
		t.Errorf("LogPath = %q", got)
	}
	if got := api.LogPath("/v1/brands", func(string) string { return "x" }); got != "/v1/brands" {
		t.Errorf("LogPath = %q", got)
	}
}

type syncBuf struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuf) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuf) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
