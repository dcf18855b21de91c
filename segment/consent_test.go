package segment

import (
	"bytes"
	"encoding/json"
	"testing"
	"unsafe"
)

// checkConsent asserts that m.Consent is what encoding/json reads at the same places of Raw,
// and that every slice of it lies inside Raw.
func checkConsent(t testing.TB, m *Message, obj map[string]json.RawMessage) {
	t.Helper()
	get := func(o map[string]json.RawMessage, key string) json.RawMessage {
		if o == nil {
			return nil
		}
		return o[key]
	}
	object := func(raw json.RawMessage) map[string]json.RawMessage {
		var o map[string]json.RawMessage
		if json.Unmarshal(raw, &o) != nil {
			return nil
		}
		return o
	}
	ctx := object(obj["context"])
	cons := get(ctx, "consent")
	want := Consent{Object: cons, Management: get(ctx, "consentManagement")}
	if c := object(cons); c != nil && bytes.HasPrefix(bytes.TrimSpace(cons), []byte("{")) {
		want.CategoryPreferences, want.TCF = get(c, "categoryPreferences"), get(c, "tcf")
	}
	want.GDPRConsent = [3]json.RawMessage{obj["gdpr_consent"], get(ctx, "gdpr_consent"), get(object(obj["properties"]), "gdpr_consent")}
	var got Consent
	if m.Consent != nil {
		got = *m.Consent
		if e, _ := json.Marshal(&got); string(e) == `{"Object":null,"CategoryPreferences":null,"TCF":null,"Management":null,"GDPRConsent":[null,null,null]}` {
			t.Errorf("Consent is set but empty")
		}
	}
	lo, hi := uintptr(unsafe.Pointer(unsafe.SliceData(m.Raw))), uintptr(unsafe.Pointer(unsafe.SliceData(m.Raw)))+uintptr(len(m.Raw))
	pairs := [][2]json.RawMessage{{got.Object, want.Object}, {got.CategoryPreferences, want.CategoryPreferences}, {got.TCF, want.TCF},
		{got.Management, want.Management}, {got.GDPRConsent[0], want.GDPRConsent[0]}, {got.GDPRConsent[1], want.GDPRConsent[1]}, {got.GDPRConsent[2], want.GDPRConsent[2]}}
	for i, p := range pairs {
		if (p[0] == nil) != (p[1] == nil) || !bytes.Equal(p[0], p[1]) {
			t.Errorf("consent field %d = %s, encoding/json reads %s (Raw %s)", i, p[0], p[1], m.Raw)
			continue
		}
		if p[0] != nil {
			if at := uintptr(unsafe.Pointer(unsafe.SliceData(p[0]))); at < lo || at+uintptr(len(p[0])) > hi || cap(p[0]) != len(p[0]) {
				t.Errorf("consent field %d is not a capped sub-slice of Raw", i)
			}
		}
	}
}

func TestConsentFields(t *testing.T) {
	tests := []struct {
		name, body string
		want       Consent // compared as text
		none       bool
	}{
		{name: "none", body: `{"batch":[{"type":"track","event":"E","userId":"u","context":{"ip":"1.2.3.4"}}]}`, none: true},
		{name: "consent elsewhere", body: `{"batch":[{"type":"track","event":"E","userId":"u","properties":{"consent":{"categoryPreferences":{"A":true}}},"context":{"page":{"consent":1}}}]}`, none: true},
		{name: "segment", body: `{"batch":[{"type":"track","event":"E","userId":"u","context":{"ip":"1","consent":{"categoryPreferences":{"Advertising":true,"Analytics":false}}}}]}`,
			want: Consent{Object: raw(`{"categoryPreferences":{"Advertising":true,"Analytics":false}}`), CategoryPreferences: raw(`{"Advertising":true,"Analytics":false}`)}},
		{name: "tcf in consent", body: `{"batch":[{"type":"page","userId":"u","context":{"consent":{"tcf":"CPTt.d4"}}}]}`,
			want: Consent{Object: raw(`{"tcf":"CPTt.d4"}`), TCF: raw(`"CPTt.d4"`)}},
		{name: "consent not an object", body: `{"batch":[{"type":"page","userId":"u","context":{"consent":"yes"}}]}`,
			want: Consent{Object: raw(`"yes"`)}},
		{name: "rudderstack", body: `{"batch":[{"type":"track","event":"E","userId":"u","context":{"consentManagement":{"provider":"oneTrust","allowedConsentIds":["C0001"],"deniedConsentIds":[]}}}]}`,
			want: Consent{Management: raw(`{"provider":"oneTrust","allowedConsentIds":["C0001"],"deniedConsentIds":[]}`)}},
		{name: "gdpr_consent everywhere", body: `{"batch":[{"type":"track","event":"E","userId":"u","gdpr_consent":"T","context":{"gdpr_consent":"C"},"properties":{"x":1,"gdpr_consent":"P"}}]}`,
			want: Consent{GDPRConsent: [3]json.RawMessage{raw(`"T"`), raw(`"C"`), raw(`"P"`)}}},
		{name: "escaped keys", body: `{"batch":[{"type":"track","event":"E","userId":"u","context":{"cons\u0065nt":{"categoryPr\u0065ferences":{"A":false}}}}]}`,
			want: Consent{Object: raw(`{"categoryPr\u0065ferences":{"A":false}}`), CategoryPreferences: raw(`{"A":false}`)}},
		{name: "batch-level context", body: `{"batch":[{"type":"track","event":"E","userId":"u"},{"type":"track","event":"E","userId":"v","context":null}],"context":{"consent":{"categoryPreferences":{"A":true}}}}`,
			want: Consent{Object: raw(`{"categoryPreferences":{"A":true}}`), CategoryPreferences: raw(`{"A":true}`)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := ParseBatch([]byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			for i := range b.Messages {
				m := &b.Messages[i]
				checkMessage(t, m)
				if tc.none {
					if m.Consent != nil {
						t.Fatalf("Consent = %+v, want nil", m.Consent)
					}
					continue
				}
				if m.Consent == nil {
					t.Fatalf("message %d: no Consent", i)
				}
				got, _ := json.Marshal(m.Consent)
				want, _ := json.Marshal(&tc.want)
				if !bytes.Equal(got, want) {
					t.Errorf("message %d: Consent = %s, want %s", i, got, want)
				}
			}
		})
	}
}

func raw(s string) json.RawMessage { return json.RawMessage(s) }

// TestConsentDuplicates: a consent member given twice rejects the message (encoding/json would
// read the last, a scanner the first), like a duplicated top-level key.
func TestConsentDuplicates(t *testing.T) {
	for _, body := range []string{
		`{"batch":[{"type":"track","event":"E","userId":"u","context":{"consent":{},"consent":{}}}]}`,
		`{"batch":[{"type":"track","event":"E","userId":"u","context":{"consent":{"tcf":"A","tcf":"B"}}}]}`,
		`{"batch":[{"type":"track","event":"E","userId":"u","context":{"consent":{"categoryPreferences":{},"categoryPreferences":{"A":true}}}}]}`,
		`{"batch":[{"type":"track","event":"E","userId":"u","context":{"consentManagement":{},"consentManagement":{}}}]}`,
		`{"batch":[{"type":"track","event":"E","userId":"u","context":{"gdpr_consent":"A","gdpr_consent":"B"}}]}`,
		`{"batch":[{"type":"track","event":"E","userId":"u","properties":{"gdpr_consent":"A","gdpr_consent":"B"}}]}`,
		`{"batch":[{"type":"track","event":"E","userId":"u","gdpr_consent":"A","gdpr_consent":"B"}]}`,
		`{"batch":[{"type":"track","event":"E","userId":"u"}],"context":{"consent":{"tcf":"A","tcf":"B"}}}`,
	} {
		b, err := ParseBatch([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		if m := b.Messages[0]; m.Err == nil || m.Err.Reason != "invalid_field" || m.Consent != nil {
			t.Errorf("%s: %+v", body, m)
		}
	}
	// Raw stays byte-exact when consent is present.
	body := `{"type":"track","event":"E","userId":"u","context":{ "consent" : {"tcf" : "X"} }, "gdpr_consent" :"Y"}`
	b, err := ParseSingle(TypeTrack, []byte(body))
	if err != nil || string(b.Messages[0].Raw) != body || string(b.Messages[0].Consent.TCF) != `"X"` {
		t.Fatalf("%v %s %+v", err, b.Messages[0].Raw, b.Messages[0].Consent)
	}
}

// BenchmarkParseBatchConsent is BenchmarkParseBatch with a consent object and a TC string in
// every message's context, as a consent-aware SDK sends them.
func BenchmarkParseBatchConsent(b *testing.B) {
	const n = 100
	body := bytes.ReplaceAll(orderBatch(n), []byte(`"context":{`), []byte(`"context":{"consent":{"categoryPreferences":{"Advertising":true,"Analytics":false,"Functional":true},"tcf":"CPTtLAAPTtLAAAKAAAENAAFgALwAAEAAAAAAAOgAgABgAAAA.IAoAAgABgAAEAQAAEAAA.d4AACEAAAAAA"},`))
	if bt, err := ParseBatch(body); err != nil || bt.Messages[n-1].Consent == nil {
		b.Fatalf("setup: %v", err)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseBatch(body); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/msg")
}
