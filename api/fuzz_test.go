package api_test

// Fuzzers of the HTTP API: request bodies, path segments, query strings and the Authorization
// header go through the real HTTP stack into a real platform (SQLite in a temp dir, or
// PostgreSQL with SYMBIONT_FUZZ_POSTGRES=1). Whatever the input:
//
//   - the server never answers 5xx;
//   - every answer is JSON (Content-Type application/json);
//   - every non-2xx answer is {"error":{"code":…,"message":…}} with a documented code and the
//     status that code maps to;
//   - a non-2xx answer changes nothing: the brand's consents (with history), tracking plan and
//     keys — plus, per target, brands or stored events — are the same before and after.
//
// Each input costs a few HTTP requests, so run these with a short minimisation time, e.g.
//
//	go test -run='^$' -fuzz=FuzzIngestBody -fuzztime=60s -fuzzminimizetime=5s ./api/
//
// (the default of 60 s per new input stalls the run while it shrinks large bodies).
//
// One platform serves all inputs of a target (a fuzz worker runs inputs one at a time), so an
// input costs a request and a snapshot. 2xx answers legitimately change state: the snapshot is
// then retaken, and after maxChanges changes a fresh brand is set up so that it stays small.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/symbiont/symbiont"
	"github.com/symbiont/symbiont/api"
	"github.com/symbiont/symbiont/platform"
	"github.com/symbiont/symbiont/store/storetest"
)

// errorStatus is the documented status of each error code (error.go, api/errors.go).
var errorStatus = map[string]int{
	symbiont.EINVALID:        400,
	symbiont.EUNAUTHORIZED:   401,
	symbiont.EFORBIDDEN:      403,
	symbiont.ENOTFOUND:       404,
	symbiont.ECONFLICT:       409,
	symbiont.ETOOLARGE:       413,
	symbiont.ERATELIMITED:    429,
	symbiont.ECONSENT:        403,
	symbiont.EUNAVAILABLE:    503,
	symbiont.EINTERNAL:       500,
	symbiont.EMETHOD:         405,
	symbiont.EUNSUPPORTEDMED: 415,
}

// maxChanges is how many state-changing answers a brand takes before a fresh one is set up.
const maxChanges = 100

// fuzzEnv is one platform for all inputs of a fuzz target.
type fuzzEnv struct {
	*env
	logs *syncBuffer // the server's error log, shown when an input gets a 5xx
	// postgres is true on PostgreSQL (SYMBIONT_FUZZ_POSTGRES=1).
	postgres bool
	// extra adds target-specific state (brands, events) to the snapshot.
	extra func(fe *fuzzEnv) string

	once    sync.Once
	b       brand
	wt      string // wallet token of guest-1
	snap    string
	changes int
	brands  int
}

// newFuzzEnv starts a platform behind an HTTP server for the fuzz target f. newEnv needs a
// *testing.T, which a fuzz target has only inside f.Fuzz, so this builds the same env from f.
func newFuzzEnv(f *testing.F) *fuzzEnv {
	f.Helper()
	logs := &syncBuffer{}
	e := &env{clock: symbiont.NewFakeClock(time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)), dir: f.TempDir()}
	cfg := platform.Config{DataDir: e.dir, AdminToken: adminToken, Clock: e.clock, ExpiryInterval: -1,
		Limits: &api.Limits{IngestPerKey: 1e9, APIPerKey: 1e9, WalletPerUser: 1e9},
		Log:    slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelError}))}
	if os.Getenv("SYMBIONT_FUZZ_POSTGRES") != "" {
		cfg.PostgresDSN = storetest.PostgresDSN(f)
	}
	p, err := platform.Open(context.Background(), cfg)
	if err != nil {
		f.Fatal(err)
	}
	e.p = p
	e.srv = httptest.NewServer(p.Handler())
	p.API.BaseURL = e.srv.URL
	f.Cleanup(func() {
		e.srv.Close()
		if err := p.Close(); err != nil {
			f.Errorf("close: %v", err)
		}
	})
	return &fuzzEnv{env: e, logs: logs, postgres: cfg.PostgresDSN != ""}
}

// begin binds the env to this input's t and, on the first input, sets up the brand.
func (fe *fuzzEnv) begin(t *testing.T) {
	fe.t = t
	fe.once.Do(fe.newBrandState)
	if fe.changes >= maxChanges {
		fe.newBrandState()
	}
	fe.logs.Reset()
}

// newBrandState sets up a brand with the hotel plan, a grant and an event for guest-1, and a
// wallet session for guest-1.
func (fe *fuzzEnv) newBrandState() {
	fe.brands++
	fe.b = fe.setup("Fuzz Hotel " + string(rune('A'+fe.brands%26)))
	fe.grant(fe.b, "guest-1", "purchases", "personalization")
	fe.batch(fe.b, track("guest-1", "Order Completed", map[string]any{"sku": "SKU-1"}))
	fe.wt = fe.wallet(fe.b, "guest-1")
	fe.changes = 0
	fe.snap = fe.snapshot()
}

func (fe *fuzzEnv) snapshot() string {
	s := snapshot(fe.env, fe.b, fe.wt)
	if fe.extra != nil {
		s += fe.extra(fe)
	}
	return s
}

// subst replaces the placeholders $SK, $PK, $WT, $OP and $BASIC (base64 of "<write key>:") by
// the live credentials, so that seeds can hold credentials that exist only at run time.
func (fe *fuzzEnv) subst(b []byte) []byte {
	if !bytes.Contains(b, []byte("$")) {
		return b
	}
	r := strings.NewReplacer("$SK", fe.b.SK, "$PK", fe.b.PK, "$WT", fe.wt, "$OP", adminToken,
		"$BASIC", base64.StdEncoding.EncodeToString([]byte(fe.b.PK+":")))
	return []byte(r.Replace(string(b)))
}

// send makes one request with exactly the given path (already escaped), raw query and headers.
func (fe *fuzzEnv) send(method, path, rawQuery string, body []byte, hdr map[string]string) resp {
	fe.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, fe.srv.URL, rd)
	if err != nil {
		fe.t.Fatal(err)
	}
	req.URL.Path, req.URL.RawPath = "", path
	if p, err := url.PathUnescape(path); err == nil {
		req.URL.Path = p
	} else {
		fe.t.Fatalf("bad test path %q: %v", path, err)
	}
	req.URL.RawQuery = rawQuery
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := noRedirects.Do(req)
	if err != nil {
		stacks := make([]byte, 1<<20)
		stacks = stacks[:runtime.Stack(stacks, true)]
		fe.t.Fatalf("%s %s?%s: %v\ngoroutines:\n%s", method, path, rawQuery, err, stacks)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{Status: res.StatusCode, Body: b, Header: res.Header}
}

// noRedirects sends requests as they are; an answer must come within requestTimeout.
var noRedirects = &http.Client{Timeout: requestTimeout,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

const requestTimeout = 15 * time.Second

// check asserts the properties every answer has, and that a non-2xx answer — or any answer to
// a readOnly request — changed nothing. It returns whether the answer was 2xx.
func (fe *fuzzEnv) check(what string, r resp, readOnly bool) bool {
	t := fe.t
	t.Helper()
	if r.Status >= 500 {
		t.Fatalf("%s: status %d: %s\nserver log:\n%s", what, r.Status, r.Body, fe.logs.String())
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("%s: status %d with Content-Type %q: %q", what, r.Status, ct, r.Body)
	}
	if r.Status >= 200 && r.Status < 300 {
		if !json.Valid(r.Body) {
			t.Fatalf("%s: status %d, body not JSON: %q", what, r.Status, r.Body)
		}
		if readOnly {
			if after := fe.snapshot(); after != fe.snap {
				t.Fatalf("%s: status %d to a read changed state:\nbefore %s\nafter  %s", what, r.Status, fe.snap, after)
			}
		} else {
			fe.changes++
			fe.snap = fe.snapshot()
		}
		return true
	}
	var body map[string]json.RawMessage
	if err := json.Unmarshal(r.Body, &body); err != nil || len(body) != 1 || body["error"] == nil {
		t.Fatalf("%s: status %d, not an error body: %q", what, r.Status, r.Body)
	}
	var e struct {
		Code      string          `json:"code"`
		Message   string          `json:"message"`
		RequestID string          `json:"request_id"`
		Details   json.RawMessage `json:"details"`
	}
	d := json.NewDecoder(bytes.NewReader(body["error"]))
	d.DisallowUnknownFields()
	if err := d.Decode(&e); err != nil || e.Message == "" {
		t.Fatalf("%s: status %d, malformed error %s: %v", what, r.Status, body["error"], err)
	}
	if st, known := errorStatus[e.Code]; !known || st != r.Status {
		t.Fatalf("%s: status %d with code %q (documented status %d)", what, r.Status, e.Code, st)
	}
	if after := fe.snapshot(); after != fe.snap {
		t.Fatalf("%s: status %d (%s) changed state:\nbefore %s\nafter  %s", what, r.Status, e.Code, fe.snap, after)
	}
	return false
}

// consentSeeds are bodies of a consent decision, valid and not.
var consentSeeds = []string{
	`{"category":"purchases","purpose":"personalization","duration_days":30}`,
	`{"category":"purchases","purpose":"analytics"}`,
	`{"category":"purchases","purpose":"analytics","state":"withdrawn"}`,
	`{"category":"feedback","purpose":"product_research","state":"refused"}`,
	`{"category":"contact","purpose":"marketing","duration_days":3650,"legal_basis":"consent","method":"checkout_form","jurisdiction":"EU"}`,
	`{"category":"health","purpose":"service","explicit":true,"legal_basis":"explicit_consent"}`,
	`{"category":"health","purpose":"service"}`,
	`{"category":"purchases","purpose":"personalization","notice":{"id":"privacy","version":"3","hash":"sha256:abc","language":"en","url":"https://example.com/p"}}`,
	`{"category":"purchases","purpose":"personalization","evidence":{"form":"checkout","notice":{"id":"n","version":"1"},"jurisdiction":"US-CA"}}`,
	`{"category":"purchases","purpose":"personalization","evidence":{"notice":"not an object","jurisdiction":7}}`,
	`{"category":"purchases","purpose":"personalization","evidence":null}`,
	`{"category":"purchases","purpose":"personalization","evidence":"yes"}`,
	`{"category":"purchases","purpose":"personalization","evidence":[1,2]}`,
	`{"category":"contact","purpose":"marketing","override_gpc":true}`,
	`{"category":"purchases","purpose":"personalization","duration_days":-1}`,
	`{"category":"purchases","purpose":"personalization","duration_days":3651}`,
	`{"category":"purchases","purpose":"personalization","duration_days":1e3}`,
	`{"category":"purchases","purpose":"personalization","duration_days":9223372036854775807}`,
	`{"category":"purchases","purpose":"personalization","state":"withdrawn","duration_days":5}`,
	`{"category":"purchases","purpose":"personalization","state":"maybe"}`,
	`{"category":"purchases","purpose":"personalization","legal_basis":"contract"}`,
	`{"category":"purchases","purpose":"personalization","jurisdiction":"EU-EU-EU-EU-EU-EU"}`,
	`{"category":"purchases","purpose":"personalization","method":"\u0000"}`,
	`{"category":"purchases","purpose":"personalization","jurisdiction":"\ud800"}`,
	`{"category":"dreams","purpose":"personalization"}`,
	`{"category":"purchases","purpose":"spying"}`,
	`{"category":"purchases"}`,
	`{"Category":"purchases","PURPOSE":"analytics"}`,
	`{"category":"purchases","purpose":"analytics","durationDays":3}`,
	`{"category":"purchases","purpose":"analytics"} {}`,
	`{"category":"purchases","purpose":"analytics"}]`,
	`{"category":`,
	`null`, `[]`, `""`, `0`, ``, `{}`,
}

// FuzzBrandConsentBody fuzzes the body (and the Sec-GPC header) of POST
// /v1/consumers/{id}/consents, a brand recording consent it captured.
func FuzzBrandConsentBody(f *testing.F) {
	for _, s := range consentSeeds {
		f.Add([]byte(s), false)
	}
	f.Add([]byte(`{"category":"contact","purpose":"marketing"}`), true)
	f.Add([]byte(`{"category":"purchases","purpose":"partner_sharing"}`), true)
	fe := newFuzzEnv(f)
	f.Fuzz(func(t *testing.T, body []byte, gpc bool) {
		fe.begin(t)
		hdr := map[string]string{"Authorization": "Bearer " + fe.b.SK}
		if gpc {
			hdr["Sec-GPC"] = "1"
		}
		r := fe.send("POST", "/v1/consumers/guest-1/consents", "", body, hdr)
		if fe.check("brand consent", r, false) {
			checkConsentAnswer(t, r)
		}
	})
}

// FuzzWalletConsentBody fuzzes the body (and Sec-GPC) of POST /v1/me/consents: one decision or
// {"grants":[…]}.
func FuzzWalletConsentBody(f *testing.F) {
	for _, s := range consentSeeds {
		f.Add([]byte(s), false)
	}
	for _, s := range []string{
		`{"grants":[{"category":"purchases","purpose":"analytics"},{"category":"feedback","purpose":"analytics","state":"refused"}]}`,
		`{"grants":[{"category":"health","purpose":"service","explicit":true}]}`,
		`{"grants":[{"category":"health","purpose":"service","explicit":true},{"category":"purchases","purpose":"analytics"}]}`,
		`{"grants":[]}`, `{"grants":null}`, `{"grants":{}}`, `{"grants":[null]}`, `{"grants":[{}]}`,
		`{"grants":[{"category":"purchases","purpose":"analytics"}],"category":"purchases"}`,
		`{"grants":[{"category":"purchases","purpose":"analytics","bogus":1}]}`,
		`{"grants":[{"category":"purchases","purpose":"analytics"}]} trailing`,
		`{"grants":` + strings.Repeat(`{"category":"purchases","purpose":"analytics"},`, 0) + `[` + strings.TrimSuffix(strings.Repeat(`{"category":"purchases","purpose":"analytics","state":"refused"},`, 101), ",") + `]}`,
	} {
		f.Add([]byte(s), false)
	}
	f.Add([]byte(`{"category":"contact","purpose":"marketing","override_gpc":true}`), true)
	f.Add([]byte(`{"category":"contact","purpose":"marketing"}`), true)
	fe := newFuzzEnv(f)
	f.Fuzz(func(t *testing.T, body []byte, gpc bool) {
		fe.begin(t)
		hdr := map[string]string{"Authorization": "Bearer " + fe.wt}
		if gpc {
			hdr["Sec-GPC"] = "1"
		}
		r := fe.send("POST", "/v1/me/consents", "", body, hdr)
		if fe.check("wallet consent", r, false) {
			checkConsentAnswer(t, r)
		}
	})
}

// checkConsentAnswer checks a 2xx consent answer: one decision, or {"consents":[…]}, each with
// a receipt and a valid state.
func checkConsentAnswer(t *testing.T, r resp) {
	t.Helper()
	type one struct {
		Consent struct {
			Category, Purpose, State string
		} `json:"consent"`
		Receipt string `json:"receipt"`
	}
	var m struct {
		one
		Consents []one `json:"consents"`
	}
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("consent answer: %v: %s", err, r.Body)
	}
	list := m.Consents
	if list == nil {
		list = []one{m.one}
	}
	if len(list) == 0 {
		t.Fatalf("2xx without a decision: %s", r.Body)
	}
	for _, c := range list {
		switch c.Consent.State {
		case "given", "withdrawn", "refused", "expired":
		default:
			t.Fatalf("decision with state %q: %s", c.Consent.State, r.Body)
		}
		if strings.Count(c.Receipt, ".") != 2 || c.Consent.Category == "" || c.Consent.Purpose == "" {
			t.Fatalf("decision without a receipt or names: %s", r.Body)
		}
	}
}

// FuzzTrackingPlanBody fuzzes the body of PUT /v1/tracking-plan.
func FuzzTrackingPlanBody(f *testing.F) {
	for _, s := range []string{
		`{"events":{"Order Completed":"purchases","Room Booked":"purchases","Review Submitted":"feedback"},"traits":{"email":"contact","name":"profile"}}`,
		`{"events":{"$page":"browsing","$screen":"device","$group":"profile"}}`,
		`{}`, `{"events":null}`, `null`, ``, `[]`, `{"event":{"A":"purchases"}}`, `{"events":{"A":"dreams"}}`,
		`{"events":{"":"purchases"}}`, `{"events":{"A":"purchases"},"version":2}`, `{"events":{"A":"purchases"}}]`,
		`{"events":{"A":"purchases"}} {}`, `{"traits":{"\u0000":"contact","\ud800":"contact"}}`,
		`{"events":{"` + strings.Repeat("n", 201) + `":"purchases"}}`,
	} {
		f.Add([]byte(s))
	}
	fe := newFuzzEnv(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		fe.begin(t)
		r := fe.send("PUT", "/v1/tracking-plan", "", body, map[string]string{"Authorization": "Bearer " + fe.b.SK})
		if fe.check("tracking plan", r, false) {
			// What was accepted is what is served.
			var put, got map[string]any
			json.Unmarshal(r.Body, &put)
			got = fe.must(200, "GET", "/v1/tracking-plan", fe.b.SK, nil)
			if mustJSON(put) != mustJSON(got) {
				t.Fatalf("PUT answered %v, GET serves %v", put, got)
			}
		}
	})
}

// FuzzCreateBrandBody fuzzes the body of POST /v1/brands (operator token). A rejected request
// must not create a brand.
func FuzzCreateBrandBody(f *testing.F) {
	for _, s := range []string{
		`{"name":"Aurora Hotels"}`, `{"name":"  Aurora  "}`, `{"name":""}`, `{"name":"   "}`, `{}`, `{"name":null}`,
		`{"name":1}`, `{"name":"` + strings.Repeat("x", 200) + `"}`, `{"name":"` + strings.Repeat("x", 201) + `"}`,
		`{"name":"\u0000"}`, `{"name":"\ud800"}`, `{"name":"A","id":"br_x"}`, `{"name":"A"}]`, `{"Name":"A"}`, `null`, ``,
	} {
		f.Add([]byte(s))
	}
	fe := newFuzzEnv(f)
	fe.extra = func(fe *fuzzEnv) string {
		m := fe.must(200, "GET", "/v1/brands", adminToken, nil)
		return mustJSON(m)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		fe.begin(t)
		r := fe.send("POST", "/v1/brands", "", body, map[string]string{"Authorization": "Bearer " + adminToken})
		if fe.check("create brand", r, false) {
			var b struct {
				ID, Name, SecretKey, WriteKey string
			}
			json.Unmarshal(r.Body, &b)
			var in struct{ Name string }
			firstValue(body, &in)
			if r.Status != 201 || !strings.HasPrefix(b.ID, "br_") || b.Name == "" || b.Name != strings.TrimSpace(in.Name) {
				t.Fatalf("created brand %s from %q", r.Body, body)
			}
		}
	})
}

// FuzzCreateKeyBody fuzzes the body of POST /v1/keys. A key created with scopes can do only
// what its scopes allow.
func FuzzCreateKeyBody(f *testing.F) {
	for _, s := range []string{
		`{"kind":"secret","name":"backend"}`, `{"kind":"write","name":"web"}`, `{"kind":"secret","scopes":["consents"]}`,
		`{"kind":"secret","scopes":["data","keys","tracking_plan","wallet_sessions","events","consents"]}`,
		`{"kind":"secret","scopes":[]}`, `{"kind":"write","scopes":["events"]}`, `{"kind":"root"}`, `{"kind":"secret","scopes":["everything"]}`,
		`{"kind":"secret","scopes":"consents"}`, `{"kind":"secret","scopes":[null]}`, `{"kind":"secret","name":"` + strings.Repeat("n", 101) + `"}`,
		`{"kind":"Secret"}`, `{}`, `null`, `{"kind":"secret"} x`,
	} {
		f.Add([]byte(s))
	}
	fe := newFuzzEnv(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		fe.begin(t)
		r := fe.send("POST", "/v1/keys", "", body, map[string]string{"Authorization": "Bearer " + fe.b.SK})
		if !fe.check("create key", r, false) {
			return
		}
		var k struct {
			Kind, Secret string
			Scopes       []string
		}
		json.Unmarshal(r.Body, &k)
		switch {
		case k.Kind == "write" && strings.HasPrefix(k.Secret, "pk_") && len(k.Scopes) == 0:
			// A write key cannot read anything.
			if r := fe.do("GET", "/v1/keys", k.Secret, nil); r.Status != 403 {
				t.Fatalf("write key listed keys: %d %s", r.Status, r.Body)
			}
		case k.Kind == "secret" && strings.HasPrefix(k.Secret, "sk_"):
			canKeys := false
			for _, s := range k.Scopes {
				canKeys = canKeys || s == "keys"
			}
			r := fe.do("GET", "/v1/keys", k.Secret, nil)
			if canKeys != (r.Status == 200) {
				t.Fatalf("key with scopes %v: GET /v1/keys answered %d", k.Scopes, r.Status)
			}
		default:
			t.Fatalf("created key %s from %q", r.Body, body)
		}
	})
}

// FuzzWalletSessionBody fuzzes the body of POST /v1/wallet/sessions. A session opened for
// guest-1 sees guest-1's consents and nobody else's.
func FuzzWalletSessionBody(f *testing.F) {
	for _, s := range []string{
		`{"consumer":"guest-1"}`, `{"consumer":"guest-1","ttl_seconds":60}`, `{"consumer":"guest-1","ttl_seconds":86400}`,
		`{"consumer":"guest-1","ttl_seconds":59}`, `{"consumer":"guest-1","ttl_seconds":86401}`, `{"consumer":"guest-1","ttl_seconds":-60}`,
		`{"consumer":"guest-1","ttl_seconds":9223372036854775807}`, `{"consumer":"guest-1","ttl_seconds":9223372036}`,
		`{"anonymous_id":"anon-1"}`, `{"consumer":"","anonymous_id":"anon-2"}`, `{"consumer":"` + strings.Repeat("u", 256) + `"}`,
		`{"consumer":"\xff"}`, `{"consumer":"\u0000"}`, `{"consumer":" "}`, `{}`, `{"consumer":1}`, `null`, `{"consumer":"guest-1"}}`,
	} {
		f.Add([]byte(s))
	}
	fe := newFuzzEnv(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		fe.begin(t)
		r := fe.send("POST", "/v1/wallet/sessions", "", body, map[string]string{"Authorization": "Bearer " + fe.b.SK})
		if !fe.check("wallet session", r, false) {
			return
		}
		var s struct {
			Token     string    `json:"token"`
			ExpiresAt time.Time `json:"expires_at"`
		}
		json.Unmarshal(r.Body, &s)
		now := fe.clock.Now()
		if !strings.HasPrefix(s.Token, "wt_") || !s.ExpiresAt.After(now) || s.ExpiresAt.After(now.Add(24*time.Hour)) {
			t.Fatalf("session %s", r.Body)
		}
		var in struct{ Consumer string }
		firstValue(body, &in)
		me := fe.must(200, "GET", "/v1/me", s.Token, nil)
		granted := len(me["consents"].([]any)) > 0
		if granted != (in.Consumer == "guest-1") {
			t.Fatalf("session for %q sees consents %v", in.Consumer, me["consents"])
		}
	})
}

// ingestPaths are the ingestion endpoints, long and short.
var ingestPaths = []string{"/v1/batch", "/v1/track", "/v1/identify", "/v1/page", "/v1/screen", "/v1/alias", "/v1/group",
	"/v1/b", "/v1/t", "/v1/i", "/v1/p", "/v1/s", "/v1/a", "/v1/g"}

// FuzzIngestBody fuzzes the ingestion endpoints with a write key: the body, the endpoint, how
// the key is sent (HTTP Basic, Bearer, or the body's writeKey), Sec-GPC, the Content-Encoding
// header and whether the body is gzip-compressed before it is sent (so that both the JSON
// behind a valid gzip stream and arbitrary bytes behind a gzip header are explored). Besides
// the common properties, a rejected request stores no event.
func FuzzIngestBody(f *testing.F) {
	type seed struct {
		path uint8
		body string
	}
	type encSeed struct {
		coding   string
		compress bool
	}
	encs := []encSeed{{"", false}, {"gzip", true}, {"", false}, {"x-gzip, identity", true}, {"", false}, {"br", true}, {"gzip, gzip", true}, {"identity", false}}
	batch := func(msgs ...string) string { return `{"batch":[` + strings.Join(msgs, ",") + `]}` }
	order := `{"type":"track","userId":"guest-1","event":"Order Completed","properties":{"sku":"A","revenue":12.5},"messageId":"m-1","timestamp":"2026-11-01T08:00:00Z"}`
	seeds := []seed{
		{0, batch(order)},
		{0, batch(order, order)},
		{0, batch(`{"type":"identify","userId":"guest-1","anonymousId":"anon-1","traits":{"email":"Mei@Example.com","phone":"+1 415 555 2671","name":"Mei","roomType":"suite"},"context":{"externalIds":[{"id":" ","type":"stripe","collection":"users"}]}}`)},
		{0, batch(`{"type":"alias","previousId":"anon-1","userId":"guest-1"}`, `{"type":"page","anonymousId":"anon-1","name":"Home"}`)},
		{0, batch(`{"type":"track","userId":"guest-2","event":"Order Completed"}`, `{"type":"track","userId":"guest-1","event":"Not In Plan"}`)},
		{0, batch(`{"type":"group","userId":"guest-1","groupId":"g"}`, `{"type":"screen","userId":"guest-1","name":"S"}`, `5`, `null`, `{}`)},
		{0, `{"batch":[],"writeKey":"$PK"}`},
		{0, `{"batch":[` + order + `],"writeKey":"$SK"}`},
		{0, `{"batch":[` + order + `],"writeKey":"pk_bogus"}`},
		{0, `{"batch":[` + order + `],"context":{"ip":"1.2.3.4"},"sentAt":"2026-11-01T08:00:01Z"}`},
		{0, `{"batch":[`},
		{0, `{"events":[]}`},
		{0, `[]`},
		{0, ``},
		{1, order},
		{1, `{"userId":"guest-1","event":"Order Completed","writeKey":"$PK"}`},
		{1, `{"type":"identify","userId":"guest-1","event":"Order Completed"}`},
		{2, `{"userId":"guest-1","traits":{"email":"\u0000@x.com","phone":"00441234567890"}}`},
		{3, `{"userId":"guest-1","name":"Home","properties":{"url":"https://example.com"}}`},
		{5, `{"previousId":"guest-1","userId":"guest-1"}`},
		{8, order},
		{1, `{"userId":"guest-1","event":"Order Completed","timestamp":"not a time"}`},
	}
	for i, s := range seeds {
		e := encs[i%len(encs)]
		f.Add(s.path, []byte(s.body), uint8(i%3), i%5 == 4, e.coding, e.compress)
	}
	// Raw bytes behind a gzip header: a valid stream, truncated, with a bad CRC, with trailing
	// bytes, two members, and a bomb's opening.
	valid := gz([]byte(batch(order)))
	badCRC := bytes.Clone(valid)
	badCRC[len(badCRC)-8] ^= 1
	for _, raw := range [][]byte{valid, valid[:len(valid)/2], badCRC, append(bytes.Clone(valid), "junk"...), append(bytes.Clone(valid), valid...), gz(make([]byte, 64<<10))} {
		f.Add(uint8(0), raw, uint8(0), false, "gzip", false)
	}
	fe := newFuzzEnv(f)
	fe.extra = func(fe *fuzzEnv) string {
		d := fe.must(200, "GET", "/v1/consumers/guest-1/data?purpose=personalization", fe.b.SK, nil)
		return mustJSON(d["data"])
	}
	f.Fuzz(func(t *testing.T, path uint8, body []byte, auth uint8, gpc bool, coding string, compress bool) {
		if !validHeaderValue(coding) {
			t.Skip("not a header value Go's client sends")
		}
		fe.begin(t)
		hdr := map[string]string{}
		if coding != "" {
			hdr["Content-Encoding"] = coding
		}
		switch auth % 3 {
		case 0:
			hdr["Authorization"] = "Basic " + base64.StdEncoding.EncodeToString([]byte(fe.b.PK+":"))
		case 1:
			hdr["Authorization"] = "Bearer " + fe.b.PK
		}
		if gpc {
			hdr["Sec-GPC"] = "1"
		}
		p := ingestPaths[int(path)%len(ingestPaths)]
		body = fe.subst(body)
		if compress {
			body = gz(body)
		}
		r := fe.send("POST", p, "", body, hdr)
		if fe.check("ingest "+p, r, false) {
			var res struct {
				Success  bool `json:"success"`
				Accepted *int `json:"accepted"`
				Dropped  []struct {
					Reason string `json:"reason"`
				} `json:"dropped"`
			}
			if err := json.Unmarshal(r.Body, &res); err != nil || !res.Success || res.Accepted == nil || res.Dropped == nil {
				t.Fatalf("ingest answer %s", r.Body)
			}
		}
	})
}

// FuzzConsumerDataRequest fuzzes the consumer id (any bytes, escaped into the path) and the
// raw query of GET /v1/consumers/{id}/data. A read answers only categories guest-1 granted for
// the purpose asked (purchases, for personalization), never anything else.
func FuzzConsumerDataRequest(f *testing.F) {
	for _, s := range [][2]string{
		{"guest-1", "purpose=personalization"},
		{"guest-1", "purpose=personalization&categories=purchases,feedback,contact"},
		{"guest-1", "purpose=personalization&categories=purchases&categories=%20purchases%20,,"},
		{"guest-1", "purpose=analytics"},
		{"guest-1", "purpose=marketing&categories=contact"},
		{"guest-1", ""},
		{"guest-1", "purpose="},
		{"guest-1", "purpose=spying"},
		{"guest-1", "purpose=personalization&categories=dreams"},
		{"guest-1", "purpose=personalization&purpose=analytics"},
		{"guest-1", "purpose=Personalization"},
		{"guest-1", "purpose=personalization&id_type=anonymous_id"},
		{"guest-1", "purpose=personalization&id_type=email"},
		{"guest-1", "purpose=personalization&categories=" + strings.Repeat("purchases,", 101)},
		{"guest-1", "purpose=personalization%00"},
		{"guest-1", "purpose=%zz&categories=%"},
		{"guest-1", ";purpose=personalization"},
		{"anon-1", "purpose=personalization&id_type=anonymous_id"},
		{"nobody", "purpose=personalization"},
		{"guest-1 ", "purpose=personalization"},
		{"GUEST-1", "purpose=personalization"},
		{"a/b", "purpose=personalization"},
		{"..", "purpose=personalization"},
		{"", "purpose=personalization"},
		{"\xff", "purpose=personalization"},
		{"\x00", "purpose=personalization"},
		{strings.Repeat("g", 256), "purpose=personalization"},
	} {
		f.Add(s[0], s[1])
	}
	fe := newFuzzEnv(f)
	f.Fuzz(func(t *testing.T, id, query string) {
		fe.begin(t)
		if id == "" {
			id = "guest-1" // an empty segment does not reach the route
		}
		r := fe.send("GET", "/v1/consumers/"+escapeSegment(id)+"/data", escapeQuery(query), nil,
			map[string]string{"Authorization": "Bearer " + fe.b.SK})
		if !fe.check("data", r, true) {
			return
		}
		var d struct {
			Purpose string                     `json:"purpose"`
			Data    map[string]json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(r.Body, &d); err != nil || d.Data == nil {
			t.Fatalf("data answer %s", r.Body)
		}
		for cat := range d.Data {
			if cat != "purchases" || d.Purpose != "personalization" {
				t.Fatalf("read for %q returned %q, which guest-1 granted only for personalization: %s", d.Purpose, cat, r.Body)
			}
		}
	})
}

// FuzzAuthorizationHeader fuzzes the Authorization header on one endpoint of each credential
// kind. Placeholders ($SK, $PK, $WT, $OP, $BASIC) let the fuzzer vary real credentials. A 2xx
// answer means the header carried the one credential the endpoint accepts.
func FuzzAuthorizationHeader(f *testing.F) {
	for _, s := range []string{
		"Bearer $SK", "Bearer $PK", "Bearer $WT", "Bearer $OP", "Basic $BASIC", "bearer $SK", "BEARER $SK", "Bearer  $SK ",
		"Bearer\t$SK", "Bearer $SKx", "Bearer sk_", "Bearer pk_", "Bearer wt_", "Bearer op_", "Bearer ", "Bearer", "Basic ",
		"Basic Og==", "Basic !!!", "Token $SK", "$SK", "Bearer $SK, Bearer $PK", "Bearer sk_" + strings.Repeat("A", 43),
		"Bearer test-admin-token-012345678", "Bearer \u00e9", "Bearer \xff\xfe", "",
	} {
		for route := range uint8(len(authRoutes)) {
			f.Add(s, route)
		}
	}
	fe := newFuzzEnv(f)
	f.Fuzz(func(t *testing.T, auth string, route uint8) {
		fe.begin(t)
		auth = string(fe.subst([]byte(auth)))
		if !validHeaderValue(auth) {
			return // not sendable over HTTP/1.1: the client refuses it
		}
		rt := authRoutes[int(route)%len(authRoutes)]
		var body []byte
		if rt.body != "" {
			body = []byte(rt.body)
		}
		hdr := map[string]string{}
		if auth != "" {
			hdr["Authorization"] = auth
		}
		r := fe.send(rt.method, rt.path, "", body, hdr)
		if !fe.check("auth "+rt.method+" "+rt.path, r, true) {
			return
		}
		// Which credential got in: one that the route takes, as Bearer or Basic user.
		var creds []string
		if c, ok := strings.CutPrefix(strings.Trim(auth, " \t"), "Bearer "); ok {
			creds = append(creds, strings.TrimSpace(c))
		}
		if u, _, ok := (&http.Request{Header: http.Header{"Authorization": {strings.Trim(auth, " \t")}}}).BasicAuth(); ok {
			creds = append(creds, u)
		}
		ok := false
		for _, want := range rt.accepts(fe) {
			for _, c := range creds {
				ok = ok || c == want
			}
		}
		if !ok {
			t.Fatalf("%s %s with Authorization %q answered %d", rt.method, rt.path, auth, r.Status)
		}
	})
}

type authRoute struct {
	method, path, body string
	accepts            func(fe *fuzzEnv) []string
}

var authRoutes = []authRoute{
	{"GET", "/v1/keys", "", func(fe *fuzzEnv) []string { return []string{fe.b.SK} }},
	{"GET", "/v1/me", "", func(fe *fuzzEnv) []string { return []string{fe.wt} }},
	{"GET", "/v1/brands", "", func(*fuzzEnv) []string { return []string{adminToken} }},
	{"GET", "/v1/vocabulary", "", func(fe *fuzzEnv) []string { return []string{fe.b.SK, fe.b.PK, fe.wt} }},
	{"POST", "/v1/batch", `{"batch":[]}`, func(fe *fuzzEnv) []string { return []string{fe.b.PK, fe.b.SK} }},
	{"GET", "/v1/consumers/guest-1/consents", "", func(fe *fuzzEnv) []string { return []string{fe.b.SK} }},
}

// firstValue decodes the first JSON value of body into v, as the server does.
func firstValue(body []byte, v any) {
	_ = json.NewDecoder(bytes.NewReader(body)).Decode(v)
}

// validHeaderValue reports whether Go's HTTP client will send v as a header value.
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// escapeSegment percent-encodes every byte but unreserved ones (so "." and ".." too), so that
// the route's {id} receives exactly s.
func escapeSegment(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '~' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// escapeQuery keeps a raw query as sent but percent-encodes the bytes an HTTP/1.1 request line
// cannot carry (controls, space, '#', non-ASCII), so the server sees what a client could send.
func escapeQuery(q string) string {
	var b strings.Builder
	for i := 0; i < len(q); i++ {
		c := q[i]
		if c <= ' ' || c >= 0x7f || c == '#' || c == '"' || c == '<' || c == '>' || c == '\\' || c == '^' || c == '`' || c == '{' || c == '|' || c == '}' {
			fmt.Fprintf(&b, "%%%02X", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (s *syncBuffer) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b.Reset()
}
