package symbiont_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/symbiont/symbiont"
)

type tier struct {
	Name string `json:"name"`
	Min  int64  `json:"min_points"`
}

type card struct {
	State    string            `json:"state"`
	Explicit bool              `json:"explicit"`
	Days     int               `json:"duration_days"`
	Value    float64           `json:"point_value"`
	Tiers    []tier            `json:"tiers"`
	Events   map[string]string `json:"events"`
	Evidence json.RawMessage   `json:"evidence"`
	Nested   struct {
		Tiers []tier `json:"tiers"`
	} `json:"rate_card"`
}

// goNames are what a client must never read in an error: Go's words for types and fields.
var goNames = regexp.MustCompile(`Go |struct|json:|jsontext|unmarshal|RawMessage|\[\]|map\[|int64|float64|\b(main|symbiont|consent|rewards|api|ingest|tenant|identity|json|time|reflect)\.[A-Za-z]`)

func TestDecodeJSONErrors(t *testing.T) {
	for _, c := range []struct {
		body, field, reason, message string
	}{
		{`{"state":"refused","state":"given"}`, "state", "duplicate_key", "appears twice"},
		{`{"state":"refused","st\u0061te":"given"}`, "state", "duplicate_key", "appears twice"},
		{`{"events":{"Order Completed":"purchases","Order Completed":"contact"}}`, `events["Order Completed"]`, "duplicate_key", "appears twice"},
		{`{"evidence":{"a":1,"a":2}}`, "evidence.a", "duplicate_key", ""},
		{`{"rate_card":{"tiers":[{"name":"a"},{"name":"b","name":"c"}]}}`, "rate_card.tiers[1].name", "duplicate_key", ""},
		{"{\"state\":\"giv\xffen\"}", "state", "invalid_utf8", "UTF-8"},
		{`{"state":"\ud800"}`, "state", "invalid_utf8", "UTF-8"},
		{"{\"events\":{\"\xfe\":\"x\"}}", "events", "invalid_utf8", "events is not valid UTF-8"},
		{`{"rate_card":{"tiers":[{},{},{"min_points":"ten"}]}}`, "rate_card.tiers[2].min_points", "wrong_type", "rate_card.tiers[2].min_points must be a whole number"},
		{`{"duration_days":1.5}`, "duration_days", "wrong_type", "duration_days must be a whole number"},
		{`{"duration_days":1e400}`, "duration_days", "wrong_type", ""},
		{`{"state":1}`, "state", "wrong_type", "state must be a string"},
		{`{"explicit":"yes"}`, "explicit", "wrong_type", "explicit must be true or false"},
		{`{"tiers":{"a":1}}`, "tiers", "wrong_type", "tiers must be an array"},
		{`{"events":[1]}`, "events", "wrong_type", "events must be an object"},
		{`{"point_value":"1"}`, "point_value", "wrong_type", "point_value must be a number"},
		{`{"bogus":1}`, "bogus", "unknown_field", "Unknown field bogus"},
		{`{"State":"given"}`, "State", "unknown_field", ""},
		{`{"tiers":[{"bogus":1}]}`, "tiers[0].bogus", "unknown_field", ""},
		{`[1,2]`, "", "wrong_type", "must be an object"},
		{`{"state":"given"} {}`, "", "", "after the JSON body"},
		{`{"state":"given"`, "", "", "ends too early"},
		{`{"state":given}`, "state", "", "Malformed JSON at byte 9, in state"},
		{``, "", "empty", "empty"},
		{`   `, "", "empty", "empty"},
	} {
		var v card
		err := symbiont.DecodeJSON([]byte(c.body), &v)
		var e *symbiont.Error
		if !errors.As(err, &e) || e.Code != symbiont.EINVALID {
			t.Errorf("%s: %v, want an invalid error", c.body, err)
			continue
		}
		if f, _ := e.Details["field"].(string); f != c.field {
			t.Errorf("%s: field %q, want %q (%s)", c.body, f, c.field, e.Message)
		}
		if r, _ := e.Details["reason"].(string); r != c.reason {
			t.Errorf("%s: reason %q, want %q", c.body, r, c.reason)
		}
		if !strings.Contains(e.Message, c.message) {
			t.Errorf("%s: message %q, want it to contain %q", c.body, e.Message, c.message)
		}
		if goNames.MatchString(e.Message) {
			t.Errorf("%s: message %q names Go types", c.body, e.Message)
		}
	}
	var v card
	if err := symbiont.DecodeJSON([]byte(`{"state":"given","duration_days":30,"tiers":[{"name":"会员","min_points":1}],"events":{"a":"b"},"evidence":{"x":[1,{"y":null}]}}`), &v); err != nil {
		t.Fatal(err)
	}
	if v.State != "given" || v.Days != 30 || v.Tiers[0].Name != "会员" || string(v.Evidence) != `{"x":[1,{"y":null}]}` {
		t.Errorf("decoded %+v", v)
	}
	if err := symbiont.CheckJSON([]byte(`{"a":{"b":1,"b":2}}`)); symbiont.ErrorCode(err) != symbiont.EINVALID {
		t.Errorf("CheckJSON of duplicate keys: %v", err)
	}
}

func TestFieldPath(t *testing.T) {
	for in, want := range map[string]string{
		"": "", "/state": "state", "/rate_card/tiers/2/min_points": "rate_card.tiers[2].min_points",
		"/events/Order Completed": `events["Order Completed"]`, "/a~1b/c~0d": `["a/b"]["c~d"]`, "/0": "[0]",
	} {
		if got := symbiont.FieldPath(in); got != want {
			t.Errorf("FieldPath(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzDecodeJSON: any body gives a value or an invalid error in the API's words, never a
// panic or a Go type name; what is accepted has no duplicate keys and is UTF-8.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{`{"state":"given"}`, `{"state":"a","state":"b"}`, "{\"state\":\"\xff\"}", `{"tiers":[{"min_points":"x"}]}`,
		`{"evidence":{"a":{"b":[1,2,{"c":"d"}]}}}`, `{"events":{"x":"y"}}`, `[]`, `{`, `{"rate_card":{"tiers":[]}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var v card
		err := symbiont.DecodeJSON(body, &v)
		if err == nil {
			if !json.Valid(body) || !bytes.Equal(bytes.ToValidUTF8(body, nil), body) {
				t.Fatalf("accepted %q", body)
			}
			return
		}
		var e *symbiont.Error
		if !errors.As(err, &e) || e.Code != symbiont.EINVALID || e.Message == "" || goNames.MatchString(e.Message) {
			t.Fatalf("%q: %#v", body, err)
		}
	})
}

var benchBody = []byte(`{"category":"purchases","purpose":"personalization","state":"given","duration_days":365,` +
	`"notice":{"id":"signup-form","version":"3","hash":"sha256:0f1e2d3c4b5a69788796a5b4c3d2e1f0","language":"en"},` +
	`"legal_basis":"consent","method":"web_form","jurisdiction":"EU","explicit":false,"evidence":{"ip_country":"DE","form":"signup","ts":"2026-11-01T08:00:00Z"}}`)

type benchRequest struct {
	Category     string `json:"category"`
	Purpose      string `json:"purpose"`
	State        string `json:"state"`
	DurationDays int    `json:"duration_days"`
	Notice       *struct {
		ID       string `json:"id"`
		Version  string `json:"version"`
		Hash     string `json:"hash"`
		Language string `json:"language"`
	} `json:"notice"`
	LegalBasis   string          `json:"legal_basis"`
	Method       string          `json:"method"`
	Jurisdiction string          `json:"jurisdiction"`
	Explicit     bool            `json:"explicit"`
	Evidence     json.RawMessage `json:"evidence"`
}

// BenchmarkDecodeJSON compares the strict decoder with what the API used before it
// (encoding/json v1 with DisallowUnknownFields and a trailing-data check), on a typical
// consent body.
func BenchmarkDecodeJSON(b *testing.B) {
	b.Run("strict-v2", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var v benchRequest
			if err := symbiont.DecodeJSON(benchBody, &v); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("v1-before", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var v benchRequest
			d := json.NewDecoder(bytes.NewReader(benchBody))
			d.DisallowUnknownFields()
			if err := d.Decode(&v); err != nil {
				b.Fatal(err)
			}
			if _, err := d.Token(); err == nil {
				b.Fatal("trailing data")
			}
		}
	})
}
