package demo

import (
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"
)

// Every demo item is valid, with its price broken down where it has a breakdown, and ids are
// distinct: PutBatch would refuse the whole catalogue otherwise.
func TestItemsValid(t *testing.T) {
	seen := map[string]bool{}
	cats := map[string]int{}
	for _, it := range Items {
		c := *it
		if err := c.Validate(); err != nil {
			t.Errorf("item %s: %v", it.ID, err)
		}
		if seen[it.ID] {
			t.Errorf("item id %s twice", it.ID)
		}
		seen[it.ID] = true
		cats[it.Category]++
		if it.Attributes["city"] == "" {
			t.Errorf("item %s: no city for hotel %q", it.ID, it.Attributes["hotel"])
		}
	}
	for _, c := range []string{"rooms", "dining", "spa", "packages"} {
		if cats[c] < 4 {
			t.Errorf("%d items of %s, want at least 4", cats[c], c)
		}
	}
}

// Every booking of the demo's story names a catalogue item that the demo's event kinds read as
// a purchase: the story gives recommendations something to learn from.
func TestStorySignals(t *testing.T) {
	ids := map[string]bool{}
	for _, it := range Items {
		ids[it.ID] = true
	}
	rng := rand.New(rand.NewPCG(1, 2))
	signals := 0
	for i, m := range members {
		for _, msg := range memberEvents(m, i, rng, time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)) {
			b, err := json.Marshal(msg)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range EventKinds.Signals(b) {
				signals++
				if !ids[s.Item] {
					t.Errorf("member %s: a signal on %q, not in the catalogue", m.id, s.Item)
				}
			}
		}
	}
	if signals < 2*len(members) {
		t.Errorf("%d signals from %d members' stories, want at least two each", signals, len(members))
	}
}
