package storetest

import (
	"errors"
	"testing"

	"github.com/symbiont/symbiont/consent"
	"github.com/symbiont/symbiont/store"
)

// testConsentRecordAfter: InsertConsentRecordAfter writes only on top of the record it names
// (none, or a given id), and when the current record is another one it writes nothing at all,
// not even the history row, even if the transaction goes on and commits. ConsentStates says
// what CurrentConsents says, less the records' contents.
func testConsentRecordAfter(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	b := newBrand(t, s, "after")
	c := newConsumer(t, s, b.ID)
	first := grant(b.ID, c, "email", "marketing", consent.StateGiven, at(1))
	update(t, s, func(tx store.Tx) error { return tx.InsertConsentRecordAfter(ctx, first, 0) })
	if first.ID == 0 {
		t.Fatal("InsertConsentRecordAfter did not set ID")
	}
	for _, tc := range []struct {
		name     string
		previous int64
	}{
		{"none, where there is one", 0},
		{"a record that is not the current one", first.ID + 1000},
	} {
		r := grant(b.ID, c, "email", "marketing", consent.StateWithdrawn, at(2))
		update(t, s, func(tx store.Tx) error {
			if err := tx.InsertConsentRecordAfter(ctx, r, tc.previous); !errors.Is(err, consent.ErrChanged) {
				t.Errorf("after %s: %v, want ErrChanged", tc.name, err)
			}
			return nil // commit: nothing of r may be in it
		})
	}
	second := grant(b.ID, c, "email", "marketing", consent.StateWithdrawn, at(3))
	other := grant(b.ID, c, "email", "analytics", consent.StateGiven, at(3))
	update(t, s, func(tx store.Tx) error {
		must(t, tx.InsertConsentRecordAfter(ctx, second, first.ID))
		return tx.InsertConsentRecordAfter(ctx, other, 0) // another pair has none yet
	})
	view(t, s, func(tx store.Tx) error {
		cur := get[[]*consent.Record](t)(tx.CurrentConsents(ctx, b.ID, c))
		eq(t, "current after conditional inserts", cur, []*consent.Record{other, second})
		var states []*consent.Record
		for _, r := range cur {
			states = append(states, &consent.Record{ID: r.ID, BrandID: r.BrandID, ConsumerID: r.ConsumerID, Category: r.Category,
				Purpose: r.Purpose, State: r.State, ExpiresAt: r.ExpiresAt})
		}
		eq(t, "ConsentStates", get[[]*consent.Record](t)(tx.ConsentStates(ctx, b.ID, c)), states)
		hist := get[[]*consent.Record](t)(tx.ConsentHistory(ctx, b.ID, c))
		eq(t, "history after conditional inserts", hist, []*consent.Record{first, second, other})
		return nil
	})
}
