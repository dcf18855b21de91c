package recommendation

import (
	"encoding/json"
	"reflect"
	"testing"
	"unicode/utf8"
)

func TestSignals(t *testing.T) {
	for _, tt := range []struct {
		name, msg string
		want      []Signal
	}{
		{"viewed", `{"type":"track","event":"Product Viewed","properties":{"product_id":"room:lake-suite"}}`, []Signal{{Kind: KindView, Item: "room:lake-suite"}}},
		{"added by sku", `{"type":"track","event":"Product Added","properties":{"sku":"spa:massage"}}`, []Signal{{Kind: KindCart, Item: "spa:massage"}}},
		{"numeric id", `{"type":"track","event":"Product Clicked","properties":{"product_id":507}}`, []Signal{{Kind: KindView, Item: "507"}}},
		{"order of products", `{"type":"track","event":"Order Completed","properties":{"order_id":"o1","products":[{"product_id":"a"},{"sku":"b"},{"name":"no id"}]}}`,
			[]Signal{{Kind: KindPurchase, Item: "a"}, {Kind: KindPurchase, Item: "b"}}},
		{"order of one", `{"type":"track","event":"Order Completed","properties":{"product_id":"a"}}`, []Signal{{Kind: KindPurchase, Item: "a"}}},
		{"rating", `{"type":"track","event":"Product Reviewed","properties":{"product_id":"a","rating":4}}`, []Signal{{Kind: KindRating, Item: "a", Rating: 4}}},
		{"rating without value", `{"type":"track","event":"Product Reviewed","properties":{"product_id":"a"}}`, nil},
		{"dismissed", `{"type":"track","event":"Recommendation Dismissed","properties":{"product_id":"a"}}`, []Signal{{Kind: KindDismissal, Item: "a"}}},
		{"unknown event", `{"type":"track","event":"Checked In","properties":{"product_id":"a"}}`, nil},
		{"not a track", `{"type":"page","event":"Product Viewed","properties":{"product_id":"a"}}`, nil},
		{"no item", `{"type":"track","event":"Product Viewed","properties":{}}`, nil},
		{"item not a string", `{"type":"track","event":"Product Viewed","properties":{"product_id":{"x":1}}}`, nil},
		{"not JSON", `{`, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := DefaultEventKinds.Signals([]byte(tt.msg)); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Signals = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// FuzzSignals: any stored message gives signals of known kinds on items of 1–128 bytes of
// UTF-8, or none; never a panic.
func FuzzSignals(f *testing.F) {
	f.Add(`{"type":"track","event":"Order Completed","properties":{"products":[{"product_id":"a"},{"sku":7}]}}`)
	f.Add(`{"type":"track","event":"Product Reviewed","properties":{"id":"x","rating":5}}`)
	f.Fuzz(func(t *testing.T, msg string) {
		for _, s := range DefaultEventKinds.Signals([]byte(msg)) {
			switch s.Kind {
			case KindView, KindCart, KindPurchase, KindRating, KindDismissal:
			default:
				t.Fatalf("kind %q", s.Kind)
			}
			if s.Item == "" || len(s.Item) > maxItemID || !utf8.ValidString(s.Item) {
				t.Fatalf("item %q", s.Item)
			}
			if !json.Valid([]byte(msg)) {
				t.Fatalf("signals from invalid JSON %q", msg)
			}
		}
	})
}

// The builder keeps catalogue items only, drops what a consumer dismissed and ratings below 3,
// and leaves out a consumer with nothing left.
func TestBuilder(t *testing.T) {
	track := func(event, props string) []byte {
		return []byte(`{"type":"track","event":"` + event + `","properties":` + props + `}`)
	}
	b := NewBuilder(DefaultEventKinds, []string{"a", "b", "c"})
	b.Add(1, [][]byte{track("Product Viewed", `{"product_id":"a"}`), track("Order Completed", `{"products":[{"product_id":"b"},{"product_id":"gone"}]}`),
		track("Product Reviewed", `{"product_id":"c","rating":2}`)})
	b.Add(2, [][]byte{track("Product Viewed", `{"product_id":"a"}`), track("Recommendation Dismissed", `{"product_id":"a"}`)})
	b.Add(3, [][]byte{track("Product Reviewed", `{"product_id":"c","rating":5}`)})
	x := b.Interactions()
	if !reflect.DeepEqual(b.Consumers, []int64{1, 3}) || !reflect.DeepEqual(x.Users, [][]int{{0, 1}, {2}}) || x.Items != 3 {
		t.Errorf("consumers %v, users %v (items %d)", b.Consumers, x.Users, x.Items)
	}
}
