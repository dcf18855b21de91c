package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/symbiont/symbiont/rewards"
	"github.com/symbiont/symbiont/store"
)

// paidGrant is a grant paid on the rate card's usual terms, from start for days.
func paidGrant(recordID, brandID, consumerID int64, category, purpose string, start time.Time, days int) *rewards.Grant {
	return &rewards.Grant{RecordID: recordID, ReceiptID: fmt.Sprintf("rcpt_grant_%d", recordID), BrandID: brandID, ConsumerID: consumerID,
		Category: category, Purpose: purpose, Version: 1, Start: start, End: start.Add(time.Duration(days) * 24 * time.Hour),
		PointsPer30: 30, FactorMilli: 1000, DurationDays: days}
}

func grantRecordIDs(gs []*rewards.Grant) []int64 {
	return idsOf(gs, func(g *rewards.Grant) int64 { return g.RecordID })
}

// testRewardGrants: paid grants through the life rewards.OnConsent and Accrue give them: the
// latest grant of a consumer's pair (ended or not), the unsettled ones paged in record order
// across brands, their credit recorded (days, bonus, settled, and nothing else), and the
// grants active at a time counted.
func testRewardGrants(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	a, b := newBrand(t, s, "a"), newBrand(t, s, "b")
	c1, c2, cb := newConsumer(t, s, a.ID), newConsumer(t, s, a.ID), newConsumer(t, s, b.ID)
	view(t, s, func(tx store.Tx) error {
		if g := get[*rewards.Grant](t)(tx.LatestGrant(ctx, c1, "email", "marketing")); g != nil {
			t.Errorf("LatestGrant without grants = %s", dump(g))
		}
		if gs := get[[]*rewards.Grant](t)(tx.UnsettledGrants(ctx, 0, 10)); len(gs) != 0 {
			t.Errorf("UnsettledGrants without grants = %s", dump(gs))
		}
		eq(t, "ActiveGrantCount without grants", get[int](t)(tx.ActiveGrantCount(ctx, c1, at(0))), 0)
		return nil
	})
	mail := paidGrant(30, a.ID, c1, "email", "marketing", at(0), 30)
	mail.Bonus, mail.Cap, mail.FactorMilli, mail.Version = 50, 900, 1250, 3 // every term round-trips
	ads := paidGrant(10, a.ID, c1, "location", "ads", at(0), 60)
	short := paidGrant(60, a.ID, c1, "purchases", "marketing", at(0), 5)
	other := paidGrant(40, a.ID, c2, "email", "marketing", at(0), 30)
	theirs := paidGrant(20, b.ID, cb, "email", "marketing", at(0), 30)
	update(t, s, func(tx store.Tx) error {
		for _, g := range []*rewards.Grant{mail, theirs, other, ads, short} { // not in record order
			must(t, tx.InsertGrant(ctx, g))
		}
		return nil
	})
	checkLatest := func(what string, want ...*rewards.Grant) {
		t.Helper()
		view(t, s, func(tx store.Tx) error {
			for _, w := range want {
				eq(t, fmt.Sprintf("LatestGrant(%s: consumer %d, %s/%s)", what, w.ConsumerID, w.Category, w.Purpose),
					get[*rewards.Grant](t)(tx.LatestGrant(ctx, w.ConsumerID, w.Category, w.Purpose)), w)
			}
			return nil
		})
	}
	checkLatest("inserted", mail, ads, short, other, theirs)
	view(t, s, func(tx store.Tx) error {
		for _, q := range []struct {
			consumer          int64
			category, purpose string
		}{{c1, "email", "analytics"}, {c2, "location", "ads"}, {cb + 1000, "email", "marketing"}} {
			if g := get[*rewards.Grant](t)(tx.LatestGrant(ctx, q.consumer, q.category, q.purpose)); g != nil {
				t.Errorf("LatestGrant(consumer %d, %s/%s), never granted = %s", q.consumer, q.category, q.purpose, dump(g))
			}
		}
		return nil
	})

	// A renewal: the old grant ends and one starts under the new record; the new one is the
	// latest, and stays so once ended (ending twice keeps the first end).
	renewal := paidGrant(50, a.ID, c1, "email", "marketing", at(10), 30)
	update(t, s, func(tx store.Tx) error {
		must(t, tx.EndGrant(ctx, mail.RecordID, at(10)))
		return tx.InsertGrant(ctx, renewal)
	})
	mail.Ended = at(10)
	checkLatest("renewed", renewal)
	update(t, s, func(tx store.Tx) error {
		must(t, tx.EndGrant(ctx, renewal.RecordID, at(20)))
		return tx.EndGrant(ctx, renewal.RecordID, at(30))
	})
	renewal.Ended = at(20)
	checkLatest("ended", renewal)

	// Active at now: not ended, and ending after now.
	day := func(n int) time.Time { return at(0).Add(time.Duration(n) * 24 * time.Hour) }
	view(t, s, func(tx store.Tx) error {
		for _, tc := range []struct {
			name     string
			consumer int64
			now      time.Time
			want     int
		}{
			{"two open, two ended", c1, at(30), 2},
			{"just before the short one ends", c1, day(5).Add(-time.Millisecond), 2},
			{"as the short one ends", c1, day(5), 1},
			{"as the last ends", c1, day(60), 0},
			{"another consumer of the brand", c2, at(30), 1},
			{"another brand's consumer", cb, at(30), 1},
			{"an unknown consumer", cb + 1000, at(30), 0},
		} {
			eq(t, "ActiveGrantCount("+tc.name+")", get[int](t)(tx.ActiveGrantCount(ctx, tc.consumer, tc.now)), tc.want)
		}
		return nil
	})

	// Unsettled grants, across brands, in record order after a record id, up to limit.
	view(t, s, func(tx store.Tx) error {
		eq(t, "UnsettledGrants(all)", get[[]*rewards.Grant](t)(tx.UnsettledGrants(ctx, 0, 10)), []*rewards.Grant{ads, theirs, mail, other, renewal, short})
		for _, tc := range []struct {
			name  string
			after int64
			limit int
			want  []int64
		}{
			{"first page", 0, 2, []int64{10, 20}},
			{"next page", 20, 2, []int64{30, 40}},
			{"after an id no grant has", 35, 10, []int64{40, 50, 60}},
			{"after the last", 60, 10, []int64{}},
			{"limit 0", 0, 0, []int64{}},
			{"negative limit", 0, -1, []int64{}}, // SQLite reads LIMIT -1 as no limit, PostgreSQL refuses it
		} {
			eq(t, "UnsettledGrants("+tc.name+")", grantRecordIDs(get[[]*rewards.Grant](t)(tx.UnsettledGrants(ctx, tc.after, tc.limit))), tc.want)
		}
		return nil
	})

	// Credit: days, bonus and settled are written, nothing else of the grants passed. ads and
	// other share a new state; theirs and mail (ended before a day was due) are settled.
	credit := func(g *rewards.Grant, days int, bonusPaid, settled bool) *rewards.Grant {
		g.Days, g.BonusPaid, g.Settled = days, bonusPaid, settled
		c := *g
		c.PointsPer30, c.Category, c.Ended, c.End = 999, "other", at(99), at(99) // not CreditGrants' to write
		return &c
	}
	update(t, s, func(tx store.Tx) error {
		must(t, tx.CreditGrants(ctx, []*rewards.Grant{credit(ads, 3, true, false), credit(theirs, 30, true, true),
			credit(other, 3, true, false), credit(mail, 0, false, true)}))
		return tx.CreditGrants(ctx, nil)
	})
	checkLatest("credited", ads, theirs, other, renewal, short)
	view(t, s, func(tx store.Tx) error {
		eq(t, "UnsettledGrants after credit", get[[]*rewards.Grant](t)(tx.UnsettledGrants(ctx, 0, 10)), []*rewards.Grant{ads, other, renewal, short})
		return nil
	})
	// A failed transaction's credit is not kept.
	err := s.Update(ctx, func(tx store.Tx) error {
		must(t, tx.CreditGrants(ctx, []*rewards.Grant{{RecordID: ads.RecordID, Days: 40, BonusPaid: true, Settled: true}}))
		return errTest
	})
	if !errors.Is(err, errTest) {
		t.Fatalf("Update = %v, want the deliberate error", err)
	}
	checkLatest("after a failed credit", ads)

	// Many grants in one state, as one accrual page of a large brand settles them.
	many := make([]*rewards.Grant, 1100)
	update(t, s, func(tx store.Tx) error {
		for i := range many {
			many[i] = paidGrant(int64(1000+i), b.ID, cb, "email", fmt.Sprintf("p%04d", i), at(0), 30)
			must(t, tx.InsertGrant(ctx, many[i]))
		}
		return nil
	})
	var paged []int64
	view(t, s, func(tx store.Tx) error {
		for after := int64(60); ; {
			page := get[[]*rewards.Grant](t)(tx.UnsettledGrants(ctx, after, 500))
			if len(page) == 0 {
				return nil
			}
			paged = append(paged, grantRecordIDs(page)...)
			after = page[len(page)-1].RecordID
		}
	})
	eq(t, "UnsettledGrants paged by 500", paged, grantRecordIDs(many))
	for _, g := range many {
		g.Days, g.BonusPaid, g.Settled = 30, true, true
	}
	update(t, s, func(tx store.Tx) error { return tx.CreditGrants(ctx, many) })
	checkLatest("many credited", many[0], many[999], many[1000], many[1099])
	view(t, s, func(tx store.Tx) error {
		eq(t, "UnsettledGrants after the many are settled", grantRecordIDs(get[[]*rewards.Grant](t)(tx.UnsettledGrants(ctx, 0, 2000))),
			[]int64{ads.RecordID, other.RecordID, renewal.RecordID, short.RecordID})
		return nil
	})
}

// testRewardTiers: a consumer's current tier is their latest change (by the order recorded,
// a lowering to no tier included); holders of a tier are listed once each, across brands, in
// consumer order after a consumer id, up to limit.
func testRewardTiers(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	a, b := newBrand(t, s, "a"), newBrand(t, s, "b")
	c1, c2, c3 := newConsumer(t, s, a.ID), newConsumer(t, s, a.ID), newConsumer(t, s, a.ID)
	cb := newConsumer(t, s, b.ID)
	view(t, s, func(tx store.Tx) error {
		eq(t, "CurrentTiers without changes", len(get[map[int64]*rewards.TierChange](t)(tx.CurrentTiers(ctx, []int64{c1, c2}))), 0)
		eq(t, "CurrentTiers(no consumers)", len(get[map[int64]*rewards.TierChange](t)(tx.CurrentTiers(ctx, nil))), 0)
		eq(t, "TierHolders without changes", len(get[[][2]int64](t)(tx.TierHolders(ctx, 0, 10))), 0)
		return nil
	})
	change := func(tier, previous string, n int) *rewards.TierChange {
		return &rewards.TierChange{Tier: tier, Previous: previous, Reason: fmt.Sprintf("%d points earned in the last 12 months (%s needs %d)", n*100, tier, n), At: at(n)}
	}
	c1Down := change("", "gold", 4)
	c3Gold := change("gold", "silver", 3) // at the same time as c3's silver, recorded after it
	cbGold := change("gold", "", 1)
	update(t, s, func(tx store.Tx) error {
		must(t, tx.InsertTierChange(ctx, a.ID, c1, change("silver", "", 1)))
		must(t, tx.InsertTierChange(ctx, b.ID, cb, cbGold))
		must(t, tx.InsertTierChange(ctx, a.ID, c1, change("gold", "silver", 2)))
		must(t, tx.InsertTierChange(ctx, a.ID, c3, change("silver", "", 3)))
		must(t, tx.InsertTierChange(ctx, a.ID, c1, c1Down))
		return tx.InsertTierChange(ctx, a.ID, c3, c3Gold)
	})
	manyIDs := amongUnknown(cb+1000, 1200, map[int]int64{0: c3, 499: c2, 500: c1, 999: cb})
	view(t, s, func(tx store.Tx) error {
		for _, tc := range []struct {
			name string
			ids  []int64
			want map[int64]*rewards.TierChange
		}{
			{"all", []int64{c1, c2, c3, cb, cb + 1000}, map[int64]*rewards.TierChange{c1: c1Down, c3: c3Gold, cb: cbGold}},
			{"a consumer without a change", []int64{c2}, map[int64]*rewards.TierChange{}},
			{"another brand's consumer", []int64{cb}, map[int64]*rewards.TierChange{cb: cbGold}},
			{"among many unknown ids", manyIDs, map[int64]*rewards.TierChange{c1: c1Down, c3: c3Gold, cb: cbGold}},
		} {
			eq(t, "CurrentTiers("+tc.name+")", get[map[int64]*rewards.TierChange](t)(tx.CurrentTiers(ctx, tc.ids)), tc.want)
		}
		for _, tc := range []struct {
			name  string
			after int64
			limit int
			want  [][2]int64
		}{
			{"all", 0, 10, [][2]int64{{a.ID, c1}, {a.ID, c3}, {b.ID, cb}}},
			{"first page", 0, 2, [][2]int64{{a.ID, c1}, {a.ID, c3}}},
			{"next page", c3, 2, [][2]int64{{b.ID, cb}}},
			{"after a consumer without a change", c2, 10, [][2]int64{{a.ID, c3}, {b.ID, cb}}},
			{"after the last", cb, 10, nil},
			{"limit 0", 0, 0, nil},
			{"negative limit", 0, -1, nil},
		} {
			got := get[[][2]int64](t)(tx.TierHolders(ctx, tc.after, tc.limit))
			if len(got) == 0 {
				got = nil
			}
			eq(t, "TierHolders("+tc.name+")", got, tc.want)
		}
		return nil
	})
}

// testPointsStatement: an account's statement is its postings, newest journal first and in
// line order within one, each with its journal's time and kind and its own description,
// reference and detail; Earned sums what accrual journals credited each consumer since a time
// (bonus lines included; redemptions, expiries and refunds not).
func testPointsStatement(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	a, b := newBrand(t, s, "a"), newBrand(t, s, "b")
	c1, c2, idle := newConsumer(t, s, a.ID), newConsumer(t, s, a.ID), newConsumer(t, s, a.ID)
	cb := newConsumer(t, s, b.ID)
	acct1, issued := rewards.ConsumerAccount(c1), rewards.BrandAccount(a.ID, "issued")
	view(t, s, func(tx store.Tx) error {
		if ls := get[[]rewards.StatementLine](t)(tx.Statement(ctx, acct1, 0)); len(ls) != 0 {
			t.Errorf("Statement of an unused account = %s", dump(ls))
		}
		eq(t, "Earned without journals", nonzero(get[map[int64]int64](t)(tx.Earned(ctx, []int64{c1}, at(0)))), map[int64]int64{})
		return nil
	})
	bonus := &rewards.Detail{Kind: rewards.LineBonus, Category: "email", Purpose: "marketing"}
	accrual := &rewards.Detail{Kind: rewards.LineAccrual, Category: "email", Purpose: "marketing", Days: 3, PointsPer30: 30, Factor: "1.25", GrantDays: 90, Cap: 500}
	spa := &rewards.Detail{Kind: rewards.LineRedemption, Reward: "spa", RewardName: "Spa day – für zwei"}
	expiry := &rewards.Detail{Kind: rewards.LineExpiry, Points: 2, EarnedOn: "2025-03-14"}
	journal := func(brand, consumer int64, kind string, n int, ps ...rewards.Posting) *rewards.Journal {
		return &rewards.Journal{BrandID: brand, ConsumerID: consumer, Kind: kind, IdempotencyKey: fmt.Sprintf("%s/%d/%d", kind, consumer, n), At: at(n), Postings: ps}
	}
	j1 := journal(a.ID, c1, rewards.KindAccrual, 1,
		rewards.Posting{Account: acct1, Amount: 5, Description: "Welcome bonus", Ref: "rcpt_1", Detail: bonus},
		rewards.Posting{Account: acct1, Amount: 10, Description: "3 days of email for marketing", Ref: "rcpt_1", Detail: accrual},
		rewards.Posting{Account: issued, Amount: -15, Description: "points issued"})
	j2 := journal(a.ID, c2, rewards.KindAccrual, 2,
		rewards.Posting{Account: rewards.ConsumerAccount(c2), Amount: 7, Description: "accrual"},
		rewards.Posting{Account: issued, Amount: -7, Description: "points issued"})
	j3 := journal(a.ID, c1, rewards.KindRedemption, 3,
		rewards.Posting{Account: acct1, Amount: -8, Description: "Redeemed Spa day", Ref: "spa", Detail: spa},
		rewards.Posting{Account: rewards.BrandAccount(a.ID, "redeemed"), Amount: 8, Description: "redeemed", Ref: "spa"})
	j4 := journal(a.ID, c1, rewards.KindExpiry, 4,
		rewards.Posting{Account: acct1, Amount: -2, Description: "2 points expired", Detail: expiry},
		rewards.Posting{Account: rewards.BrandAccount(a.ID, "expired"), Amount: 2, Description: "expired"})
	refund := journal(a.ID, c2, rewards.KindRedemption, 4, // a credit, but not earned
		rewards.Posting{Account: rewards.ConsumerAccount(c2), Amount: 3, Description: "refund"},
		rewards.Posting{Account: rewards.BrandAccount(a.ID, "redeemed"), Amount: -3, Description: "refund"})
	j5 := journal(a.ID, c1, rewards.KindAccrual, 5,
		rewards.Posting{Account: acct1, Amount: 4, Description: "1 day"},
		rewards.Posting{Account: issued, Amount: -4, Description: "points issued"})
	jb := journal(b.ID, cb, rewards.KindAccrual, 5,
		rewards.Posting{Account: rewards.ConsumerAccount(cb), Amount: 9, Description: "accrual"},
		rewards.Posting{Account: rewards.BrandAccount(b.ID, "issued"), Amount: -9, Description: "points issued"})
	for _, j := range []*rewards.Journal{j1, j2, j3, j4, refund, j5, jb} { // one call each: journal ids in this order
		update(t, s, func(tx store.Tx) error {
			_, err := tx.PostJournals(ctx, []*rewards.Journal{j})
			return err
		})
	}
	line := func(j *rewards.Journal, i int) rewards.StatementLine {
		p := j.Postings[i]
		return rewards.StatementLine{At: j.At, Kind: j.Kind, Points: p.Amount, Description: p.Description, Ref: p.Ref, Detail: p.Detail}
	}
	c1Lines := []rewards.StatementLine{line(j5, 0), line(j4, 0), line(j3, 0), line(j1, 0), line(j1, 1)}
	view(t, s, func(tx store.Tx) error {
		for _, tc := range []struct {
			name    string
			account string
			limit   int
			want    []rewards.StatementLine
		}{
			{"consumer", acct1, 0, c1Lines},
			{"consumer, limit 2", acct1, 2, c1Lines[:2]},
			{"consumer, limit splitting a journal", acct1, 4, c1Lines[:4]},
			{"brand's issued", issued, 10, []rewards.StatementLine{line(j5, 1), line(j2, 1), line(j1, 2)}},
			{"another brand's issued", rewards.BrandAccount(b.ID, "issued"), 0, []rewards.StatementLine{line(jb, 1)}},
			{"another consumer", rewards.ConsumerAccount(c2), 0, []rewards.StatementLine{line(refund, 0), line(j2, 0)}},
		} {
			eq(t, "Statement("+tc.name+")", get[[]rewards.StatementLine](t)(tx.Statement(ctx, tc.account, tc.limit)), tc.want)
		}

		many := amongUnknown(cb+1000, 1200, map[int]int64{499: c1, 500: c2, 999: cb, 1000: idle})
		for _, tc := range []struct {
			name  string
			ids   []int64
			since time.Time
			want  map[int64]int64
		}{
			{"all, since the start", []int64{c1, c2, idle, cb}, at(0), map[int64]int64{c1: 19, c2: 7, cb: 9}},
			{"since a journal's time exactly", []int64{c1}, at(1), map[int64]int64{c1: 19}},
			{"since just after it", []int64{c1}, at(1).Add(time.Millisecond), map[int64]int64{c1: 4}},
			{"since after the last", []int64{c1, c2, cb}, at(6), map[int64]int64{}},
			{"no consumers", nil, at(0), map[int64]int64{}},
			{"among many unknown ids", many, at(0), map[int64]int64{c1: 19, c2: 7, cb: 9}},
		} {
			eq(t, "Earned("+tc.name+")", nonzero(get[map[int64]int64](t)(tx.Earned(ctx, tc.ids, tc.since))), tc.want)
		}
		return nil
	})
}

// amongUnknown returns n consumer ids, known ones at the positions given and unknown ones
// (from unknown on) elsewhere: far more than one statement's list takes, with known ones on
// both sides of the boundaries where a store may split the list.
func amongUnknown(unknown int64, n int, known map[int]int64) []int64 {
	ids := make([]int64, n)
	for i := range ids {
		ids[i] = unknown + int64(i)
		if id, ok := known[i]; ok {
			ids[i] = id
		}
	}
	return ids
}

// nonzero drops the zero entries of m: whether Earned reports a consumer who earned nothing
// is not part of its contract.
func nonzero(m map[int64]int64) map[int64]int64 {
	out := map[int64]int64{}
	for k, v := range m {
		if v != 0 {
			out[k] = v
		}
	}
	return out
}

// testRedemptionCount: a consumer's redemptions of one reward, counted apart from other
// rewards' and other consumers' (a per-consumer limit relies on it), including one redeemed
// earlier in the same transaction, never one rolled back.
func testRedemptionCount(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	a, b := newBrand(t, s, "a"), newBrand(t, s, "b")
	c1, c2, cb := newConsumer(t, s, a.ID), newConsumer(t, s, a.ID), newConsumer(t, s, b.ID)
	n := 0
	redeem := func(tx store.Tx, brand, consumer int64, reward string) error {
		n++
		return tx.InsertRedemption(ctx, &rewards.Redemption{BrandID: brand, ConsumerID: consumer, Reward: reward, Cost: 10,
			Code: fmt.Sprintf("CODE-%d", n), IdempotencyKey: fmt.Sprintf("key-%d", n), At: at(n)})
	}
	count := func(tx store.Tx, consumer int64, reward string) int {
		return get[int](t)(tx.RedemptionCount(ctx, consumer, reward))
	}
	view(t, s, func(tx store.Tx) error {
		eq(t, "RedemptionCount without redemptions", count(tx, c1, "spa"), 0)
		return nil
	})
	update(t, s, func(tx store.Tx) error {
		must(t, redeem(tx, a.ID, c1, "spa"))
		eq(t, "RedemptionCount in the redeeming transaction", count(tx, c1, "spa"), 1)
		must(t, redeem(tx, a.ID, c1, "spa"))
		must(t, redeem(tx, a.ID, c1, "tree"))
		must(t, redeem(tx, a.ID, c2, "spa"))
		return redeem(tx, b.ID, cb, "spa") // brand b's own "spa"
	})
	err := s.Update(ctx, func(tx store.Tx) error {
		must(t, redeem(tx, a.ID, c2, "tree"))
		return errTest
	})
	if !errors.Is(err, errTest) {
		t.Fatalf("Update = %v, want the deliberate error", err)
	}
	view(t, s, func(tx store.Tx) error {
		for _, tc := range []struct {
			name     string
			consumer int64
			reward   string
			want     int
		}{
			{"twice", c1, "spa", 2},
			{"another reward", c1, "tree", 1},
			{"a reward never redeemed", c1, "upgrade", 0},
			{"another consumer", c2, "spa", 1},
			{"rolled back", c2, "tree", 0},
			{"another brand's consumer", cb, "spa", 1},
			{"an unknown consumer", cb + 1000, "spa", 0},
		} {
			eq(t, "RedemptionCount("+tc.name+")", count(tx, tc.consumer, tc.reward), tc.want)
		}
		return nil
	})
}
