package ingest_test

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/symbiont/symbiont"
	"github.com/symbiont/symbiont/ingest"
)

// planSeeds are real tracking plans and the edge cases of ParsePlan: unknown and misspelt
// fields, wrong types, name and category limits, duplicates, trailing data, odd JSON.
var planSeeds = []string{
	`{"events":{"Order Completed":"purchases","Room Booked":"purchases","Review Submitted":"feedback","Dietary Need Noted":"health"},` +
		`"traits":{"email":"contact","phone":"contact","name":"profile","roomType":"preferences"}}`,
	`{"events":{"$page":"browsing","$screen":"device","$group":"profile"}}`,
	`{"traits":{"email":"contact"}}`,
	`{}`,
	`{"events":{},"traits":{}}`,
	`{"events":null,"traits":null}`,
	`null`,
	``,
	`   `,
	`[]`,
	`"events"`,
	`{"event":{"A":"purchases"}}`,
	`{"events":{"A":"purchases"},"version":3}`,
	`{"events":{"A":"purchases"},"version":null}`,
	`{"events":{"A":"purchases"},"version":"3"}`,
	`{"events":{"A":"purchases"},"version":1.5}`,
	`{"events":{"A":"purchases"},"versions":3}`,
	`{"Events":{"A":"purchases"},"TRAITS":{"b":"contact"}}`,
	`{"events":{"A":"dreams"}}`,
	`{"events":{"A":""}}`,
	`{"events":{"":"purchases"}}`,
	`{"events":{"A":1}}`,
	`{"events":["A"]}`,
	`{"events":{"A":"purchases"},"events":{"B":"feedback"}}`,
	`{"events":{"A":"purchases"},"events":{"B":"dreams"}}`,
	`{"events":{"A":"purchases","A":"feedback"}}`,
	`{"events":{"` + strings.Repeat("n", 200) + `":"purchases"}}`,
	`{"events":{"` + strings.Repeat("n", 201) + `":"purchases"}}`,
	`{"events":{"` + strings.Repeat("é", 100) + `":"purchases"}}`,
	`{"events":{"\ud83d":"purchases","\u0000":"browsing"}}`,
	"{\"events\":{\"\xff\xfe\":\"purchases\"}}",
	`{"events":{"A":"Purchases"}}`,
	`{"events":{"A":"purchases"}} {}`,
	`{"events":{"A":"purchases"}}x`,
	`{"events":{"A":"purchases"}`,
	`{"events":{"A":"purchases"}}` + "\n",
	`{"traits":{"a":"contact"},"traits":null}`,
	`{"events":{"A":"purchases"}}/**/`,
	`{"events":{"A":"purchases"}}]`,
	`{} }`,
}

// FuzzParsePlan: ParsePlan never panics; what it accepts is a single JSON object holding only
// events and traits, each entry a 1-200 byte UTF-8 name mapped to a category of the vocabulary,
// at most MaxPlanEntries in all, equal to what the JSON says; what it rejects is an
// *symbiont.Error coded invalid or too_large.
func FuzzParsePlan(f *testing.F) {
	for _, s := range planSeeds {
		f.Add([]byte(s))
	}
	// A plan at the entry limit and one past it.
	f.Add(bigPlan(ingest.MaxPlanEntries))
	f.Add(bigPlan(ingest.MaxPlanEntries + 1))

	vocab := symbiont.DefaultVocabulary()
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := ingest.ParsePlan(body, vocab)
		if err != nil {
			if p != nil {
				t.Fatalf("both a plan and an error")
			}
			var e *symbiont.Error
			if !errors.As(err, &e) {
				t.Fatalf("error is not a *symbiont.Error: %T %v", err, err)
			}
			if e.Code != symbiont.EINVALID && e.Code != symbiont.ETOOLARGE {
				t.Fatalf("error code %q, want invalid or too_large: %v", e.Code, err)
			}
			if e.Message == "" {
				t.Fatalf("error without a message")
			}
			return
		}
		if p == nil || p.Events == nil || p.Traits == nil {
			t.Fatalf("accepted plan with nil parts: %+v", p)
		}
		if n := len(p.Events) + len(p.Traits); n > ingest.MaxPlanEntries {
			t.Fatalf("accepted %d entries", n)
		}
		for field, m := range map[string]map[string]string{"events": p.Events, "traits": p.Traits} {
			for name, cat := range m {
				if name == "" || len(name) > 200 || !utf8.ValidString(name) {
					t.Fatalf("%s: accepted name %q (%d bytes)", field, name, len(name))
				}
				if _, ok := vocab.Category(cat); !ok {
					t.Fatalf("%s[%q]: accepted unknown category %q", field, name, cat)
				}
			}
		}

		// The body is one JSON value, an object (or null), and nothing follows it.
		if !json.Valid(body) {
			t.Fatalf("accepted a body that is not one JSON value: %q", body)
		}
		var top map[string]json.RawMessage
		if err := json.Unmarshal(body, &top); err != nil {
			t.Fatalf("accepted a body that is not a JSON object: %q: %v", body, err)
		}
		// Only events, traits and version, as GET returns them (encoding/json matches field
		// names case-insensitively); version is a whole number or null.
		for k, v := range top {
			switch {
			case strings.EqualFold(k, "events"), strings.EqualFold(k, "traits"):
			case strings.EqualFold(k, "version"):
				var n *int64
				if err := json.Unmarshal(v, &n); err != nil {
					t.Fatalf("accepted version %s", v)
				}
			default:
				t.Fatalf("accepted unknown top-level field %q", k)
			}
		}
		// The plan is what the JSON says: the same entries, decoded independently.
		var want struct{ Events, Traits map[string]string }
		if err := json.Unmarshal(body, &want); err != nil {
			t.Fatalf("accepted, but does not decode: %v", err)
		}
		if !sameMap(p.Events, want.Events) || !sameMap(p.Traits, want.Traits) {
			t.Fatalf("plan %+v differs from its JSON %+v", p, want)
		}
		// An accepted plan, written back as JSON (as GET serves it), parses to itself.
		again, err := ingest.ParsePlan(mustMarshal(t, p), vocab)
		if err != nil {
			t.Fatalf("accepted plan does not parse again: %v", err)
		}
		if !sameMap(again.Events, p.Events) || !sameMap(again.Traits, p.Traits) {
			t.Fatalf("plan changes when parsed again: %+v vs %+v", again, p)
		}
	})
}

func bigPlan(n int) []byte {
	events := make(map[string]string, n)
	for i := range n {
		events["Event "+strings.Repeat("x", i%7)+string(rune('A'+i%26))+strconv.Itoa(i)] = "purchases"
	}
	b, _ := json.Marshal(map[string]any{"events": events})
	return b
}

func sameMap(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
