package ingest

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/symbiont/symbiont"
	"github.com/symbiont/symbiont/consent"
	"github.com/symbiont/symbiont/segment"
)

// A real TCF v2.2 string: purposes 1, 3-6 consented, 7-11 not; no special feature
// (iabtcf-es@839b9557, modules/core/test/ReportedIssues.test.ts; see tcf/tcf_test.go).
const tcSome = "CPTtLAAPTtLAAAKAAAENAAFgALwAAEAAAAAAAOgAgABgAAAA.IAoAAgABgAAEAQAAEAAA.d4AACEAAAAAA"

func message(t testing.TB, body string) *segment.Message {
	t.Helper()
	b, err := segment.ParseSingle(segment.TypePage, []byte(body))
	if err != nil || b.Messages[0].Err != nil {
		t.Fatalf("%s: %v %v", body, err, b.Messages[0].Err)
	}
	return &b.Messages[0]
}

// said lists what a reading says, "category:purpose=grant|refuse".
func said(r *reading) map[string]string {
	out := map[string]string{}
	for i, p := range r.pairs {
		v := "refuse"
		if r.grant[i] {
			v = "grant"
		}
		out[p[0]+":"+p[1]] = v
	}
	return out
}

func TestReadings(t *testing.T) {
	st := compileSignals(DefaultSignalMap(), symbiont.DefaultVocabulary())
	tests := []struct {
		name, ctx string
		want      map[string]string
		bad       string
	}{
		{"segment", `{"consent":{"categoryPreferences":{"Advertising":true,"Analytics":false,"Other":true}}}`,
			map[string]string{"browsing:marketing": "grant", "purchases:marketing": "grant", "preferences:marketing": "grant", "browsing:analytics": "refuse", "device:analytics": "refuse"}, ""},
		// Two category ids mapping to one pair: a refusal by either wins.
		{"conflict", `{"consent":{"categoryPreferences":{"Advertising":true,"C0004":false}}}`,
			map[string]string{"browsing:marketing": "refuse", "purchases:marketing": "refuse", "preferences:marketing": "refuse"}, ""},
		{"rudderstack", `{"consentManagement":{"provider":"ketch","allowedConsentIds":["C0003",""],"deniedConsentIds":["C0002"]}}`,
			map[string]string{"browsing:personalization": "grant", "preferences:personalization": "grant", "browsing:analytics": "refuse", "device:analytics": "refuse"}, ""},
		// TCF: 3 and 4 grant marketing; 5 and 6 personalisation; 8 and 9 refuse analytics, 10
		// product research; special feature 1 not opted in refuses precise location.
		{"tcf", `{"consent":{"tcf":"` + tcSome + `"}}`, map[string]string{
			"browsing:marketing": "grant", "purchases:marketing": "grant", "preferences:marketing": "grant",
			"browsing:personalization": "grant", "purchases:personalization": "grant", "preferences:personalization": "grant",
			"browsing:analytics": "refuse", "device:analytics": "refuse", "browsing:product_research": "refuse", "device:product_research": "refuse",
			"precise_location:marketing": "refuse", "precise_location:personalization": "refuse", "precise_location:analytics": "refuse"}, ""},
		{"empty", `{"consent":{"categoryPreferences":{}}}`, map[string]string{}, ""},
		{"null", `{"consent":{"categoryPreferences":null,"tcf":null},"consentManagement":null}`, nil, ""},
		{"empty TC string", `{"gdpr_consent":""}`, nil, ""},
		{"dup inside", `{"consent":{"categoryPreferences":{"A":true,"A":false}}}`, nil, "twice"},
		{"not bool", `{"consent":{"categoryPreferences":{"A":1}}}`, nil, "true or false"},
		{"prefs array", `{"consent":{"categoryPreferences":[]}}`, nil, "must be an object"},
		{"ids not strings", `{"consentManagement":{"allowedConsentIds":[1]}}`, nil, "arrays of strings"},
		{"management array", `{"consentManagement":[]}`, nil, "must be an object"},
		{"global scope", `{"gdpr_consent":"COtybn4PA_zT4KjACBENAPCIAEBAAECAAIAAAAAAAAAA"}`, nil, "policy_version"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := message(t, `{"userId":"u","context":`+tc.ctx+`}`)
			r := st.read(m.Consent)
			switch {
			case tc.bad != "":
				if r == nil || !strings.Contains(r.bad, tc.bad) {
					t.Fatalf("reading %+v, want bad containing %q", r, tc.bad)
				}
			case tc.want == nil:
				if r != nil {
					t.Fatalf("reading %+v, want none", r)
				}
			default:
				if r == nil || r.bad != "" {
					t.Fatalf("reading %+v", r)
				}
				if got := said(r); mustJSON(got) != mustJSON(tc.want) {
					t.Fatalf("got %v\nwant %v", got, tc.want)
				}
				if r2 := st.read(m.Consent); r2 != r {
					t.Fatal("a second read is not the cached reading")
				}
			}
		})
	}
}

func mustJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

// TestReadingOptions: purposes from the publisher segment, and the brand's vendor id.
func TestReadingOptions(t *testing.T) {
	v := symbiont.DefaultVocabulary()
	m := DefaultSignalMap()
	m.TCF.PurposesFrom = "publisher"
	st := compileSignals(m, v)
	r := st.read(message(t, `{"userId":"u","context":{"consent":{"tcf":"`+tcSome+`"}}}`).Consent)
	// The publisher segment consents to 1, 3-6 too: the same verdicts for those.
	if said(r)["browsing:marketing"] != "grant" || said(r)["browsing:analytics"] != "refuse" {
		t.Fatalf("publisher purposes: %v", said(r))
	}
	m = DefaultSignalMap()
	m.TCF.VendorID = 12 // tcSome consents to vendors 11, 28 and 29 only
	st = compileSignals(m, v)
	r = st.read(message(t, `{"userId":"u","context":{"consent":{"tcf":"`+tcSome+`"}}}`).Consent)
	if said(r)["browsing:marketing"] != "refuse" {
		t.Fatalf("without vendor consent: %v", said(r))
	}
	m.TCF.VendorID = 11
	st = compileSignals(m, v)
	r = st.read(message(t, `{"userId":"u","context":{"consent":{"tcf":"`+tcSome+`"}}}`).Consent)
	if said(r)["browsing:marketing"] != "grant" {
		t.Fatalf("with vendor consent: %v", said(r))
	}
}

func TestMayGrant(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	rec := func(state, method string, at time.Time, exp time.Time) *consent.Record {
		return &consent.Record{State: state, Method: method, At: at, ExpiresAt: exp}
	}
	tests := []struct {
		name    string
		cur     *consent.Record
		decided time.Time
		want    bool
	}{
		{"never decided", nil, time.Time{}, true},
		{"active grant", rec("given", "brand_ui", now.Add(-day), now.Add(day)), time.Time{}, false},
		{"expired grant", rec("given", "brand_ui", now.Add(-400*day), now.Add(-day)), time.Time{}, true},
		{"expiry record", rec("expired", "expiry", now.Add(-day), time.Time{}), time.Time{}, true},
		{"a signal's refusal", rec("refused", "cmp_signal", now.Add(-day), time.Time{}), time.Time{}, true},
		{"wallet withdrawal, undated signal", rec("withdrawn", "wallet", now.Add(-day), time.Time{}), time.Time{}, false},
		{"wallet withdrawal, older TC string", rec("withdrawn", "wallet", now.Add(-day), time.Time{}), now.Add(-2 * day), false},
		// TC strings are dated to the day: one from the day of the withdrawal is not newer.
		{"wallet withdrawal, same day", rec("withdrawn", "wallet", now, time.Time{}), now.Truncate(day), false},
		{"wallet withdrawal, newer TC string", rec("withdrawn", "wallet", now.Add(-2*day), time.Time{}), now.Add(-day), true},
		{"brand refusal", rec("refused", "brand_ui", now.Add(-day), time.Time{}), time.Time{}, false},
		{"GPC refusal", rec("refused", "gpc_signal", now.Add(-day), time.Time{}), time.Time{}, false},
		{"erasure", rec("withdrawn", "erasure", now.Add(-day), time.Time{}), time.Time{}, false},
	}
	for _, tc := range tests {
		if got := mayGrant(tc.cur, tc.decided, now); got != tc.want {
			t.Errorf("%s: mayGrant = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestEvidenceValueDigest(t *testing.T) {
	e := map[string]any{}
	evidenceValue(e, []byte(`"`+strings.Repeat("A", maxEvidenceValue)+`"`))
	if e["value"] != nil || e["value_sha256"] == nil || e["value_bytes"] != maxEvidenceValue+2 {
		t.Fatalf("%v", e)
	}
}

// steadyService is a Service whose consent index holds the grants a signal asks for, so that
// applySignals is in its steady state (nothing to change) and touches no store.
func steadyService(tb testing.TB, r func(*signalState) *reading) (*Service, *segment.Message) {
	clock := symbiont.NewFakeClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	cs, _ := consent.NewService[consent.ServiceTx](nil, nil, nil, nil, clock)
	s := &Service{consent: cs, clock: clock}
	st := compileSignals(DefaultSignalMap(), symbiont.DefaultVocabulary())
	s.signalStates = map[int64]*signalState{1: st}
	m := message(tb, `{"userId":"u","messageId":"m","context":{"consent":{"categoryPreferences":{"Advertising":true,"Analytics":true,"Functional":true},"tcf":"`+tcSome+`"}}}`)
	rd := st.read(m.Consent)
	for i, p := range rd.pairs {
		if rd.grant[i] {
			s.consent.Index.Set(&consent.Record{BrandID: 1, ConsumerID: 7, Category: p[0], Purpose: p[1], State: consent.StateGiven, ExpiresAt: clock.Now().Add(time.Hour)})
		}
	}
	return s, m
}

// TestSteadyStateTouchesNothing: with the grants in place, a repeated signal records nothing
// (the Service has no store: any write would fail the test).
func TestSteadyStateTouchesNothing(t *testing.T) {
	s, m := steadyService(t, nil)
	for range 1000 {
		cid, created, bad, err := s.applySignals(context.Background(), 1, 7, m, false, symbiont.Actor{}, s.clock.Now())
		if cid != 7 || created || bad != "" || err != nil {
			t.Fatalf("%d %v %q %v", cid, created, bad, err)
		}
	}
}

// BenchmarkSignalSteadyState is what a signal costs an event once it has been recorded: the
// reading's cache lookups and one lookup of the consumer in the consent index.
func BenchmarkSignalSteadyState(b *testing.B) {
	s, m := steadyService(b, nil)
	ctx, now := context.Background(), s.clock.Now()
	b.ReportAllocs()
	for b.Loop() {
		if _, _, _, err := s.applySignals(ctx, 1, 7, m, false, symbiont.Actor{}, now); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzSignalReading: whatever a message's context holds, reading its signals never panics,
// and a reading that is not bad says one thing of each pair, each from at least one element.
func FuzzSignalReading(f *testing.F) {
	for _, s := range []string{
		`{"consent":{"categoryPreferences":{"Advertising":true,"Analytics":false}}}`,
		`{"consent":{"tcf":"` + tcSome + `"},"consentManagement":{"allowedConsentIds":["C0004"],"deniedConsentIds":["C0002"]}}`,
		`{"gdpr_consent":"` + tcSome + `","consent":{"tcf":"` + tcSome + `"}}`,
		`{"consent":{"categoryPreferences":{"A":true,"A":false}}}`,
		`{"consentManagement":{"allowedConsentIds":null,"provider":7}}`,
		`{"consent":[]}`,
	} {
		f.Add(s)
	}
	st := compileSignals(DefaultSignalMap(), symbiont.DefaultVocabulary())
	f.Fuzz(func(t *testing.T, ctx string) {
		b, err := segment.ParseSingle(segment.TypePage, []byte(`{"userId":"u","context":`+ctx+`}`))
		if err != nil || b.Messages[0].Err != nil || b.Messages[0].Consent == nil {
			return
		}
		r := st.read(b.Messages[0].Consent)
		if r == nil || r.bad != "" {
			return
		}
		seen := map[[2]string]bool{}
		if len(r.grant) != len(r.pairs) || len(r.from) != len(r.pairs) || len(r.gpc) != len(r.pairs) {
			t.Fatalf("reading %+v", r)
		}
		for i, p := range r.pairs {
			if seen[p] || len(r.from[i]) == 0 {
				t.Fatalf("pair %v twice or from nothing: %+v", p, r)
			}
			seen[p] = true
		}
		for _, e := range r.signals {
			if !json.Valid(e) {
				t.Fatalf("evidence %s", e)
			}
		}
	})
}

// FuzzParseSignalMap: a mapping either fails with an *Error or, stored and parsed again,
// means the same.
func FuzzParseSignalMap(f *testing.F) {
	def, _ := json.Marshal(DefaultSignalMap())
	for _, s := range []string{string(def), `{}`, `{"categories":{"A":["browsing:marketing"]},"tcf":{"purposes":{"1":[]},"vendor_id":3}}`,
		`{"categories":{"A":[],"A":[]}}`, `{"tcf":{"purposes":{"07":[]}}}`, `null`, `{"categories":{"\u0000":[]}}`} {
		f.Add(s)
	}
	v := symbiont.DefaultVocabulary()
	f.Fuzz(func(t *testing.T, body string) {
		m, err := ParseSignalMap([]byte(body), v)
		if err != nil {
			if symbiont.ErrorCode(err) != symbiont.EINVALID && symbiont.ErrorCode(err) != symbiont.ETOOLARGE {
				t.Fatalf("%q: %v", body, err)
			}
			return
		}
		raw, _ := json.Marshal(m)
		m2, err := ParseSignalMap(raw, v)
		if err != nil || mustJSON(m2) != mustJSON(m) {
			t.Fatalf("%q: again %v: %s vs %s", body, err, mustJSON(m2), raw)
		}
		compileSignals(m, v)
	})
}
