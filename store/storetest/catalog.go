package storetest

import (
	"fmt"
	"testing"

	"github.com/symbiont/symbiont"
	"github.com/symbiont/symbiont/catalog"
	"github.com/symbiont/symbiont/store"
)

// testCatalog runs the catalogue's store methods: upserts in batches larger than a statement,
// versions, the stored item read back field for field, pages by id, soft deletion and
// undeletion, and brands kept apart.
func testCatalog(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	a, b := newBrand(t, s, "a"), newBrand(t, s, "b")
	no := false
	suite := &catalog.Item{ID: "room:lake-suite", Title: "Lake View Suite 湖景套房", Category: "rooms", Tags: []string{"lake", "suite"},
		Attributes: map[string]string{"view": "lake", "beds": "2"}, Price: &catalog.Price{Amount: 42000, Currency: "EUR"},
		Locale: "en", Costs: []catalog.Cost{{Label: "Room", Amount: 36000}, {Label: "City tax", Amount: 6000}}}
	spa := &catalog.Item{ID: "spa:massage", Title: "Massage", Category: "spa", Available: &no}
	for _, it := range []*catalog.Item{suite, spa} {
		must(t, it.Validate())
	}
	var many []*catalog.Item // more than one statement's worth
	for i := range 1203 {
		it := &catalog.Item{ID: fmt.Sprintf("item:%04d", i), Title: fmt.Sprintf("Item %d", i), Category: "packages"}
		must(t, it.Validate())
		many = append(many, it)
	}
	update(t, s, func(tx store.Tx) error {
		return tx.PutItems(ctx, a.ID, append([]*catalog.Item{suite, spa}, many...), at(1))
	})
	eq(t, "version after the first put", suite.Version, int64(1))
	eq(t, "UpdatedAt after the first put", suite.UpdatedAt, at(1))
	if many[1202].Version != 1 {
		t.Errorf("the last item of the batch has version %d, want 1", many[1202].Version)
	}
	view(t, s, func(tx store.Tx) error {
		eq(t, "Item(suite)", get[*catalog.Item](t)(tx.Item(ctx, a.ID, suite.ID)), suite)
		eq(t, "Item(spa)", get[*catalog.Item](t)(tx.Item(ctx, a.ID, spa.ID)), spa)
		_, err := tx.Item(ctx, b.ID, suite.ID)
		wantCode(t, "Item of another brand", err, symbiont.ENOTFOUND)
		_, err = tx.Item(ctx, a.ID, "room:none")
		wantCode(t, "Item(unknown)", err, symbiont.ENOTFOUND)
		page := get[[]*catalog.Item](t)(tx.Items(ctx, a.ID, "", 3))
		eq(t, "Items first page", idsOf(page, itemSeq), []int64{0, 1, 2})
		page = get[[]*catalog.Item](t)(tx.Items(ctx, a.ID, "item:1201", 10))
		eq(t, "Items last page ids", []string{page[0].ID, page[1].ID, page[2].ID}, []string{"item:1202", "room:lake-suite", "spa:massage"})
		for _, limit := range []int{0, -1} {
			if got := get[[]*catalog.Item](t)(tx.Items(ctx, a.ID, "", limit)); len(got) != 0 {
				t.Errorf("Items(limit %d) = %d items, want none", limit, len(got))
			}
		}
		if got := get[[]*catalog.Item](t)(tx.Items(ctx, b.ID, "", 10)); len(got) != 0 {
			t.Errorf("brand b lists %d of brand a's items", len(got))
		}
		return nil
	})

	// A replacement is one version up; deletion hides the item from pages but not from Item;
	// a put brings it back.
	suite.Title, suite.Price, suite.Costs = "Lake Suite", &catalog.Price{Amount: 45000, Currency: "EUR"}, nil
	update(t, s, func(tx store.Tx) error { return tx.PutItems(ctx, a.ID, []*catalog.Item{suite}, at(2)) })
	eq(t, "version after the replacement", suite.Version, int64(2))
	var deleted, again bool
	update(t, s, func(tx store.Tx) (err error) {
		if deleted, err = tx.DeleteItem(ctx, a.ID, suite.ID, at(3)); err != nil {
			return err
		}
		again, err = tx.DeleteItem(ctx, a.ID, suite.ID, at(4))
		return err
	})
	if !deleted || again {
		t.Errorf("DeleteItem: %v then %v, want true then false", deleted, again)
	}
	view(t, s, func(tx store.Tx) error {
		it := get[*catalog.Item](t)(tx.Item(ctx, a.ID, suite.ID))
		if it.DeletedAt == nil || !it.DeletedAt.Equal(at(3)) || it.IsAvailable() || it.Version != 3 || it.Title != "Lake Suite" {
			t.Errorf("deleted item read back as %s", dump(it))
		}
		for _, it := range get[[]*catalog.Item](t)(tx.Items(ctx, a.ID, "item:1202", 10)) {
			if it.ID == suite.ID {
				t.Error("a deleted item is listed")
			}
		}
		return nil
	})
	update(t, s, func(tx store.Tx) error {
		if ok := get[bool](t)(tx.DeleteItem(ctx, b.ID, spa.ID, at(4))); ok {
			t.Error("brand b deleted brand a's item")
		}
		return nil
	})
	update(t, s, func(tx store.Tx) error { return tx.PutItems(ctx, a.ID, []*catalog.Item{suite}, at(5)) })
	view(t, s, func(tx store.Tx) error {
		it := get[*catalog.Item](t)(tx.Item(ctx, a.ID, suite.ID))
		if it.DeletedAt != nil || it.Version != 4 || !it.IsAvailable() {
			t.Errorf("undeleted item read back as %s", dump(it))
		}
		return nil
	})
}

// itemSeq is the number of a generated item ("item:0042" → 42), -1 for the others.
func itemSeq(it *catalog.Item) int64 {
	var n int64
	if _, err := fmt.Sscanf(it.ID, "item:%d", &n); err != nil {
		return -1
	}
	return n
}
