package demo

import "testing"

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
