package catalog_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/symbiont/symbiont"
	"github.com/symbiont/symbiont/catalog"
)

func TestValidate(t *testing.T) {
	const ok = `"id":"room:lake-suite","title":"Lake View Suite","category":"rooms"`
	for _, tt := range []struct {
		name, body, field string // field "" when valid
	}{
		{"minimal", `{` + ok + `}`, ""},
		{"full", `{` + ok + `,"tags":["lake","suite","lake"],"attributes":{"view":"lake"},"price":{"amount":42000,"currency":"EUR"},
			"available":false,"locale":"zh-CN","cost_breakdown":[{"label":"Room","amount":36000},{"label":"Tax","amount":6000}]}`, ""},
		{"no id", `{"title":"T","category":"rooms"}`, "id"},
		{"id with a slash", `{"id":"a/b","title":"T","category":"rooms"}`, "id"},
		{"id too long", `{"id":"` + strings.Repeat("a", 129) + `","title":"T","category":"rooms"}`, "id"},
		{"no title", `{"id":"a","category":"rooms"}`, "title"},
		{"title with a newline", `{"id":"a","title":"a\nb","category":"rooms"}`, "title"},
		{"title too long", `{"id":"a","title":"` + strings.Repeat("é", 201) + `","category":"rooms"}`, "title"},
		{"capital category", `{"id":"a","title":"T","category":"Rooms"}`, "category"},
		{"empty tag", `{` + ok + `,"tags":[""]}`, "tags"},
		{"too many tags", `{` + ok + `,"tags":[` + strings.Repeat(`"t",`, 32) + `"u"]}`, "tags"},
		{"bad attribute name", `{` + ok + `,"attributes":{"View":"lake"}}`, "attributes"},
		{"negative price", `{` + ok + `,"price":{"amount":-1,"currency":"EUR"}}`, "price.amount"},
		{"lower-case currency", `{` + ok + `,"price":{"amount":1,"currency":"eur"}}`, "price.currency"},
		{"bad locale", `{` + ok + `,"locale":"english"}`, "locale"},
		{"dangling locale", `{` + ok + `,"locale":"en-"}`, "locale"},
		{"breakdown without price", `{` + ok + `,"cost_breakdown":[{"label":"Room","amount":1}]}`, "cost_breakdown"},
		{"breakdown not summing", `{` + ok + `,"price":{"amount":10,"currency":"EUR"},"cost_breakdown":[{"label":"Room","amount":9}]}`, "cost_breakdown"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var it catalog.Item
			if err := symbiont.DecodeJSON([]byte(tt.body), &it); err != nil {
				t.Fatalf("decode: %v", err)
			}
			err := it.Validate()
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				if it.Available == nil {
					t.Error("availability not set")
				}
				return
			}
			e, isErr := err.(*symbiont.Error)
			if !isErr || e.Code != symbiont.EINVALID || e.Details["field"] != tt.field {
				t.Fatalf("Validate = %#v, want invalid field %q", err, tt.field)
			}
		})
	}
	var it catalog.Item
	symbiont.DecodeJSON([]byte(`{`+ok+`,"tags":["lake","suite","lake"]}`), &it)
	if it.Validate(); !reflect.DeepEqual(it.Tags, []string{"lake", "suite"}) {
		t.Errorf("tags after Validate: %q, want duplicates dropped", it.Tags)
	}
}

// FuzzItem: whatever a client sends, Validate accepts it or names a field; an accepted item's
// stored body reads back as the same item, and is still valid.
func FuzzItem(f *testing.F) {
	f.Add(`{"id":"a","title":"T","category":"rooms","tags":["x"],"price":{"amount":5,"currency":"EUR"},"cost_breakdown":[{"label":"x","amount":5}]}`)
	f.Add(`{"id":"b:1","title":"湖","category":"spa","attributes":{"k":"v"},"locale":"zh-Hans-CN","available":false}`)
	f.Fuzz(func(t *testing.T, body string) {
		var it catalog.Item
		if symbiont.DecodeJSON([]byte(body), &it) != nil {
			return
		}
		if err := it.Validate(); err != nil {
			if e, ok := err.(*symbiont.Error); !ok || e.Code != symbiont.EINVALID || e.Details["field"] == nil {
				t.Fatalf("Validate(%s) = %#v: want an invalid error naming a field", body, err)
			}
			return
		}
		stored, err := it.Body()
		if err != nil {
			t.Fatal(err)
		}
		var back catalog.Item
		if err := json.Unmarshal(stored, &back); err != nil {
			t.Fatalf("stored body %s does not decode: %v", stored, err)
		}
		if err := back.Validate(); err != nil {
			t.Fatalf("stored body %s no longer valid: %v", stored, err)
		}
		if !reflect.DeepEqual(normal(&back), normal(&it)) {
			t.Fatalf("round trip changed the item:\n%+v\n%+v", back, it)
		}
	})
}

// normal makes empty and nil collections alike, as JSON's omitempty does.
func normal(it *catalog.Item) catalog.Item {
	c := *it
	if len(c.Tags) == 0 {
		c.Tags = nil
	}
	if len(c.Attributes) == 0 {
		c.Attributes = nil
	}
	if len(c.Costs) == 0 {
		c.Costs = nil
	}
	return c
}
