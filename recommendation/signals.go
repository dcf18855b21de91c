package recommendation

import (
	"encoding/json"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Kinds of interaction a recommendation learns from.
const (
	KindView      = "view"
	KindCart      = "add_to_cart"
	KindPurchase  = "purchase"
	KindRating    = "rating"
	KindDismissal = "dismissal"
)

// Signal is one interaction of a consumer with an item, read from a stored event.
type Signal struct {
	Kind   string
	Item   string  // the catalogue item's id
	Rating float64 // KindRating only: as sent (Segment: 1–5 by convention)
}

// EventKinds maps event names to interaction kinds. DefaultEventKinds follows Segment's
// E-commerce spec (v2) names, plus a dismissal event of our own; a brand whose events are named
// otherwise maps its own.
type EventKinds map[string]string

// DefaultEventKinds is Segment's E-commerce spec v2 and "Recommendation Dismissed".
var DefaultEventKinds = EventKinds{
	"Product Viewed":           KindView,
	"Product Clicked":          KindView,
	"Product Added":            KindCart,
	"Order Completed":          KindPurchase,
	"Product Reviewed":         KindRating,
	"Recommendation Dismissed": KindDismissal,
	"Product Dismissed":        KindDismissal,
}

// maxItemID bounds an item id read from an event (the catalogue's limit).
const maxItemID = 128

// Signals reads the interactions a stored Segment message carries: none unless it is a track
// call whose event the map knows. The item is properties.product_id (else sku, else id); an
// order's items are those of properties.products. A message that is not JSON, or an item id
// that is not a string or number of 1–128 bytes, gives nothing (the event is kept, it just
// teaches nothing).
func (k EventKinds) Signals(message []byte) []Signal {
	var m struct {
		Type       string          `json:"type"`
		Event      string          `json:"event"`
		Properties json.RawMessage `json:"properties"`
	}
	if json.Unmarshal(message, &m) != nil || m.Type != "track" {
		return nil
	}
	kind, ok := k[m.Event]
	if !ok {
		return nil
	}
	var props map[string]json.RawMessage
	if json.Unmarshal(m.Properties, &props) != nil {
		return nil
	}
	if kind == KindPurchase {
		var products []map[string]json.RawMessage
		if raw, ok := props["products"]; ok && json.Unmarshal(raw, &products) == nil && len(products) > 0 {
			var out []Signal
			for _, p := range products {
				if id := itemID(p); id != "" {
					out = append(out, Signal{Kind: KindPurchase, Item: id})
				}
			}
			return out
		}
	}
	id := itemID(props)
	if id == "" {
		return nil
	}
	s := Signal{Kind: kind, Item: id}
	if kind == KindRating {
		if json.Unmarshal(props["rating"], &s.Rating) != nil {
			return nil
		}
	}
	return []Signal{s}
}

// itemID is the first of product_id, sku and id that is a string or a number.
func itemID(props map[string]json.RawMessage) string {
	for _, key := range []string{"product_id", "sku", "id"} {
		raw, ok := props[key]
		if !ok {
			continue
		}
		var s string
		if json.Unmarshal(raw, &s) != nil {
			var n json.Number
			if json.Unmarshal(raw, &n) != nil {
				continue
			}
			s = n.String()
		}
		s = strings.TrimSpace(s)
		if s != "" && len(s) <= maxItemID && utf8.ValidString(s) {
			return s
		}
	}
	return ""
}

// Builder gathers consumers' signals into Interactions over a catalogue: each consumer is a
// user, each catalogue item an item; a signal on an item not in the catalogue (deleted, or
// never listed) teaches nothing, and an item the consumer dismissed is not one of theirs.
// Views, carts, purchases and ratings of 3 or more count as interactions.
type Builder struct {
	kinds     EventKinds
	items     map[string]int
	ItemIDs   []string
	Consumers []int64 // user u is consumer Consumers[u]
	users     [][]int
	// RecentSince, when set, makes Recent count the consumers who interacted with each item
	// at or after it (AddTimed): the "trending" list.
	RecentSince time.Time
	recent      []float64
}

// NewBuilder starts interactions over the catalogue's items, in that order.
func NewBuilder(kinds EventKinds, itemIDs []string) *Builder {
	b := &Builder{kinds: kinds, items: make(map[string]int, len(itemIDs)), ItemIDs: itemIDs}
	for i, id := range itemIDs {
		b.items[id] = i
	}
	return b
}

// Add reads one consumer's stored messages; a consumer left with no interaction is not added.
func (b *Builder) Add(consumer int64, messages [][]byte) { b.AddTimed(consumer, messages, nil) }

// AddTimed is Add with each message's time (at[k] for messages[k]; nil for none), for Recent.
func (b *Builder) AddTimed(consumer int64, messages [][]byte, at []time.Time) {
	have, dismissed, recent := map[int]bool{}, map[int]bool{}, map[int]bool{}
	for k, m := range messages {
		for _, s := range b.kinds.Signals(m) {
			i, ok := b.items[s.Item]
			if !ok {
				continue
			}
			switch {
			case s.Kind == KindDismissal:
				dismissed[i] = true
			case s.Kind == KindRating && s.Rating < 3:
			default:
				have[i] = true
				if at != nil && !b.RecentSince.IsZero() && !at[k].Before(b.RecentSince) {
					recent[i] = true
				}
			}
		}
	}
	var h []int
	for i := range have {
		if !dismissed[i] {
			h = append(h, i)
			if recent[i] {
				if b.recent == nil {
					b.recent = make([]float64, len(b.ItemIDs))
				}
				b.recent[i]++
			}
		}
	}
	if len(h) == 0 {
		return
	}
	slices.Sort(h)
	b.Consumers = append(b.Consumers, consumer)
	b.users = append(b.users, h)
}

// Recent returns, per item, how many consumers interacted with it since RecentSince.
func (b *Builder) Recent() []float64 {
	if b.recent == nil {
		return make([]float64, len(b.ItemIDs))
	}
	return b.recent
}

// Interactions returns what was added.
func (b *Builder) Interactions() *Interactions {
	return &Interactions{Items: len(b.ItemIDs), Users: b.users}
}
