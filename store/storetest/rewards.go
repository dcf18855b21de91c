package storetest

import (
	"strconv"
	"testing"
	"time"

	"github.com/symbiont/symbiont/rewards"
	"github.com/symbiont/symbiont/store"
)

// testRewardsStore runs the rewards' rate card, lot and catalogue methods.
func testRewardsStore(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	a, b := newBrand(t, s, "a"), newBrand(t, s, "b")
	c := newConsumer(t, s, a.ID)

	// Rate cards are versioned per brand; version 0 asks for the newest.
	view(t, s, func(tx store.Tx) error {
		card, v := get2[[]byte, int64](t)(tx.RateCard(ctx, a.ID, 0))
		if card != nil || v != 0 {
			t.Errorf("RateCard of a brand without one = %q v%d, want nil", card, v)
		}
		return nil
	})
	var v1, v2 int64
	update(t, s, func(tx store.Tx) (err error) {
		if v1, err = tx.PutRateCard(ctx, a.ID, []byte(`{"v":1}`), at(1)); err != nil {
			return err
		}
		v2, err = tx.PutRateCard(ctx, a.ID, []byte(`{"v":2}`), at(2))
		return err
	})
	if v2 <= v1 {
		t.Fatalf("rate card versions %d then %d: want increasing", v1, v2)
	}
	view(t, s, func(tx store.Tx) error {
		card, v := get2[[]byte, int64](t)(tx.RateCard(ctx, a.ID, 0))
		eq(t, "RateCard(newest)", string(card)+"@"+itoa64(v), `{"v":2}@`+itoa64(v2))
		card, v = get2[[]byte, int64](t)(tx.RateCard(ctx, a.ID, v1))
		eq(t, "RateCard(v1)", string(card)+"@"+itoa64(v), `{"v":1}@`+itoa64(v1))
		card, _ = get2[[]byte, int64](t)(tx.RateCard(ctx, b.ID, 0))
		if card != nil {
			t.Errorf("brand b sees a rate card: %q", card)
		}
		return nil
	})

	// Lots are spent oldest first, unexpired only; expired ones with points left are found.
	lots := []*rewards.Lot{
		{BrandID: a.ID, ConsumerID: c, Amount: 10, Remaining: 10, EarnedAt: at(1), ExpiresAt: at(5)},
		{BrandID: a.ID, ConsumerID: c, Amount: 20, Remaining: 20, EarnedAt: at(2)},
		{BrandID: a.ID, ConsumerID: c, Amount: 30, Remaining: 30, EarnedAt: at(3), ExpiresAt: at(100)},
	}
	update(t, s, func(tx store.Tx) error { return tx.InsertLots(ctx, lots) })
	for _, l := range lots {
		if l.ID == 0 {
			t.Fatalf("InsertLots left a lot without an id: %+v", l)
		}
	}
	// Spendable lots: unexpired with points left, oldest first. (The rewards spend them first
	// in first out: 10 from the first, 5 from the second.)
	spendable := func(now time.Time) (ids []int64, left []int64) {
		view(t, s, func(tx store.Tx) error {
			for _, l := range get[[]*rewards.Lot](t)(tx.SpendableLots(ctx, c, now)) {
				if l.ConsumerID != c || l.BrandID != a.ID {
					t.Errorf("SpendableLots returned a lot of consumer %d brand %d", l.ConsumerID, l.BrandID)
				}
				ids, left = append(ids, l.ID), append(left, l.Remaining)
			}
			return nil
		})
		return ids, left
	}
	other := newConsumer(t, s, a.ID) // a lot of another consumer is never the consumer's
	update(t, s, func(tx store.Tx) error {
		return tx.InsertLots(ctx, []*rewards.Lot{{BrandID: a.ID, ConsumerID: other, Amount: 99, Remaining: 99, EarnedAt: at(0)}})
	})
	ids, left := spendable(at(2))
	eq(t, "SpendableLots(at 2)", [][]int64{ids, left}, [][]int64{{lots[0].ID, lots[1].ID, lots[2].ID}, {10, 20, 30}})
	update(t, s, func(tx store.Tx) error {
		must(t, tx.SpendLot(ctx, lots[0].ID, 10))
		return tx.SpendLot(ctx, lots[1].ID, 5)
	})
	ids, left = spendable(at(2))
	eq(t, "SpendableLots after spending 15", [][]int64{ids, left}, [][]int64{{lots[1].ID, lots[2].ID}, {15, 30}})
	view(t, s, func(tx store.Tx) error {
		ex := get[[]*rewards.Lot](t)(tx.ExpiredLots(ctx, at(6), 10))
		if len(ex) != 0 {
			t.Errorf("ExpiredLots after the expiring lot was spent: %+v, want none (nothing left in it)", ex)
		}
		return nil
	})
	// At 200 the third lot has expired: only the second's 15 points are spendable.
	ids, left = spendable(at(200))
	eq(t, "SpendableLots(at 200)", [][]int64{ids, left}, [][]int64{{lots[1].ID}, {15}})
	update(t, s, func(tx store.Tx) error { return tx.SpendLot(ctx, lots[1].ID, 15) })
	if ids, _ := spendable(at(200)); len(ids) != 0 {
		t.Errorf("SpendableLots after spending everything = %v, want none", ids)
	}
	if ids, _ := spendable(at(2)); len(ids) != 1 || ids[0] != lots[2].ID {
		t.Errorf("SpendableLots(at 2) after spending the first two lots = %v, want the third", ids)
	}
	view(t, s, func(tx store.Tx) error {
		ex := get[[]*rewards.Lot](t)(tx.ExpiredLots(ctx, at(200), 10))
		if len(ex) != 1 || ex[0].ID != lots[2].ID || ex[0].Remaining != 30 {
			t.Errorf("ExpiredLots(at 200) = %+v, want the third lot, untouched (expired lots are not spent)", ex)
		}
		if ex := get[[]*rewards.Lot](t)(tx.ExpiredLots(ctx, at(50), 10)); len(ex) != 0 {
			t.Errorf("ExpiredLots(at 50) = %+v, want none yet", ex)
		}
		// Up to limit: none for a limit ≤ 0, in every dialect.
		for _, limit := range []int{0, -1} {
			if ex, err := tx.ExpiredLots(ctx, at(200), limit); err != nil || len(ex) != 0 {
				t.Errorf("ExpiredLots(limit %d) = %d lots, %v; want none, nil", limit, len(ex), err)
			}
		}
		return nil
	})
	update(t, s, func(tx store.Tx) error { return tx.EmptyLot(ctx, lots[2].ID) })
	view(t, s, func(tx store.Tx) error {
		if ex := get[[]*rewards.Lot](t)(tx.ExpiredLots(ctx, at(200), 10)); len(ex) != 0 {
			t.Errorf("ExpiredLots after EmptyLot = %+v, want none", ex)
		}
		return nil
	})

	// The catalogue: per brand, replaced by id, stock taken until none is left.
	spa := &rewards.Reward{ID: "spa", Name: "Spa", Kind: "experience", Cost: 100, Stock: 2, Active: true, BrandID: a.ID}
	tree := &rewards.Reward{ID: "tree", Name: "A tree", Kind: "donation", Cost: 5, Stock: -1, Active: true, BrandID: a.ID}
	update(t, s, func(tx store.Tx) error {
		must(t, tx.PutReward(ctx, spa))
		must(t, tx.PutReward(ctx, tree))
		spa.Name = "Spa day"
		return tx.PutReward(ctx, spa)
	})
	view(t, s, func(tx store.Tx) error {
		rs := get[[]*rewards.Reward](t)(tx.Rewards(ctx, a.ID))
		if len(rs) != 2 {
			t.Errorf("Rewards(a) = %d, want 2", len(rs))
		}
		r := get[*rewards.Reward](t)(tx.Reward(ctx, a.ID, "spa"))
		if r == nil || r.Name != "Spa day" || r.Cost != 100 || r.Stock != 2 {
			t.Errorf("Reward(spa) = %+v", r)
		}
		if rs := get[[]*rewards.Reward](t)(tx.Rewards(ctx, b.ID)); len(rs) != 0 {
			t.Errorf("brand b sees a's rewards: %+v", rs)
		}
		return nil
	})
	take := func(id string) (ok bool) {
		update(t, s, func(tx store.Tx) (err error) {
			ok, err = tx.TakeStock(ctx, a.ID, id)
			return err
		})
		return ok
	}
	eq(t, "TakeStock(spa) ×3", []bool{take("spa"), take("spa"), take("spa")}, []bool{true, true, false})
	eq(t, "TakeStock(tree, unlimited)", take("tree"), true)
}

func itoa64(n int64) string { return strconv.FormatInt(n, 10) }

// get2 is get for calls returning two values and an error.
func get2[A, B any](t *testing.T) func(a A, b B, err error) (A, B) {
	return func(a A, b B, err error) (A, B) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return a, b
	}
}
