package storetest

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/symbiont/symbiont"
	"github.com/symbiont/symbiont/consent"
	"github.com/symbiont/symbiont/identity"
	"github.com/symbiont/symbiont/ledger"
	"github.com/symbiont/symbiont/rewards"
	"github.com/symbiont/symbiont/store"
	"github.com/symbiont/symbiont/tenant"
)

// fillConsumer gives consumer c of brandID a row in every table of per-consumer rows: an
// identifier, an event, a consent decision (its current state and its record), a reward grant,
// a lot, a journal with its postings and balance, a redemption, a tier change, an idempotency
// record, an access record, a wallet session and a ledger entry. tag keeps the rows of
// several consumers apart. A domain adding a table adds its row here (testEraseEveryDomain
// fails until it does).
func fillConsumer(t *testing.T, s store.Store, brandID, c int64, tag string) {
	t.Helper()
	ctx := ctxT(t)
	r := grant(brandID, c, "email", "marketing", consent.StateGiven, at(1))
	insertRecords(t, s, r)
	insertEvents(t, s, event(brandID, c, "email", "fill-"+tag, 1))
	account := rewards.ConsumerAccount(c)
	update(t, s, func(tx store.Tx) error {
		must(t, tx.LinkIdentifier(ctx, &identity.Identifier{BrandID: brandID, Kind: identity.KindUserID, Hash: hash("user-" + tag), ConsumerID: c, CreatedAt: at(1)}))
		must(t, tx.InsertGrant(ctx, &rewards.Grant{RecordID: r.ID, ReceiptID: r.ReceiptID, BrandID: brandID, ConsumerID: c, Category: "email", Purpose: "marketing",
			Version: 1, Start: at(1), End: at(1).Add(30 * 24 * time.Hour), PointsPer30: 30, DurationDays: 30}))
		must(t, tx.InsertLots(ctx, []*rewards.Lot{{BrandID: brandID, ConsumerID: c, Amount: 50, Remaining: 50, EarnedAt: at(2)}}))
		if _, err := tx.PostJournals(ctx, []*rewards.Journal{
			{BrandID: brandID, ConsumerID: c, Kind: rewards.KindAccrual, IdempotencyKey: "accrual-" + tag, At: at(2),
				Postings: []rewards.Posting{{Account: account, Amount: 50, Description: "fill"}, {Account: rewards.BrandAccount(brandID, "issued"), Amount: -50}}},
			{BrandID: brandID, ConsumerID: c, Kind: rewards.KindRedemption, IdempotencyKey: "redeem-" + tag, At: at(3),
				Postings: []rewards.Posting{{Account: account, Amount: -10, Description: "fill"}, {Account: rewards.BrandAccount(brandID, "redeemed"), Amount: 10}}},
		}); err != nil {
			return err
		}
		must(t, tx.InsertRedemption(ctx, &rewards.Redemption{BrandID: brandID, ConsumerID: c, Reward: "spa", Cost: 10, Code: "CODE-" + tag, IdempotencyKey: "redeem-" + tag, At: at(3)}))
		must(t, tx.InsertTierChange(ctx, brandID, c, &rewards.TierChange{Tier: "silver", Previous: "", Reason: "fill", At: at(3)}))
		must(t, tx.PutIdempotent(ctx, brandID, c, hash("idem-"+tag), symbiont.IdempotentRecord{Request: []byte("{}"), Result: "{}"}, at(3)))
		must(t, tx.InsertAccess(ctx, &store.AccessRecord{BrandID: brandID, ConsumerID: c, Actor: "key:k", Purpose: "support", Categories: []string{"email"}, Records: 1, Action: "read", At: at(3)}))
		must(t, tx.CreateSession(ctx, &tenant.Session{ID: "ws_" + tag, BrandID: brandID, ConsumerID: c, Hash: hash("ws-" + tag), CreatedAt: at(3), ExpiresAt: at(100)}))
		must(t, tx.LockConsumer(ctx, c))
		rec, salt := []byte(`{"fill":"`+tag+`"}`), bytes.Repeat([]byte{7}, 32)
		return tx.InsertLedgerEntries(ctx, []*ledger.Entry{{Index: -1, BrandID: brandID, ChainID: c, N: 0, Commitment: ledger.Commit(rec, salt), Record: rec, Salt: salt, At: at(3)}})
	})
}

// rowCounts returns the rows of each consumer of ids, per table of s.ConsumerTables().
func rowCounts(t *testing.T, s store.Store, brandID int64, ids ...int64) map[string]int64 {
	t.Helper()
	n, err := s.ConsumerRowCounts(ctxT(t), brandID, ids)
	if err != nil {
		t.Fatalf("ConsumerRowCounts: %v", err)
	}
	return n
}

// testEraseEveryDomain: erasure reaches every domain's rows. A consumer with a row in every
// table of per-consumer rows is erased; every table the domains do not declare kept then holds
// none of theirs, the kept ones hold what they held (with the client's own keys scrubbed), and
// a bystander, in the same brand and in another, keeps everything.
func testEraseEveryDomain(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	a, b := newBrand(t, s, "a"), newBrand(t, s, "b")
	c, bystander, other := newConsumer(t, s, a.ID), newConsumer(t, s, a.ID), newConsumer(t, s, b.ID)
	fillConsumer(t, s, a.ID, c, fmt.Sprint("c", c))
	fillConsumer(t, s, a.ID, bystander, fmt.Sprint("c", bystander))
	fillConsumer(t, s, b.ID, other, fmt.Sprint("c", other))
	tables := s.ConsumerTables()
	if len(tables) < 10 {
		t.Fatalf("the store declares %d tables of per-consumer rows; want every domain's", len(tables))
	}
	before := rowCounts(t, s, a.ID, c)
	for _, tb := range tables {
		if before[tb.Name] == 0 {
			t.Errorf("fillConsumer made no row in %s: a domain added a table of consumer rows; give the consumer a row there in fillConsumer (store/storetest/rows.go)", tb.Name)
		}
	}
	byst, oth := rowCounts(t, s, a.ID, bystander), rowCounts(t, s, b.ID, other)

	update(t, s, func(tx store.Tx) error {
		_, err := tx.DeleteConsumerData(ctx, a.ID, []int64{c}, at(50))
		return err
	})
	after := rowCounts(t, s, a.ID, c)
	for _, tb := range tables {
		switch {
		case tb.Kept == "" && after[tb.Name] != 0:
			t.Errorf("after erasure %s holds %d rows of the consumer, want none", tb.Name, after[tb.Name])
		case tb.Kept != "" && after[tb.Name] != before[tb.Name]:
			t.Errorf("after erasure %s holds %d rows of the consumer, want the %d it held (kept: %s)", tb.Name, after[tb.Name], before[tb.Name], tb.Kept)
		}
	}
	eq(t, "the bystander's rows after erasure", rowCounts(t, s, a.ID, bystander), byst)
	eq(t, "another brand's consumer's rows after erasure", rowCounts(t, s, b.ID, other), oth)
	view(t, s, func(tx store.Tx) error {
		if r := get[*rewards.Redemption](t)(tx.RedemptionByKey(ctx, c, fmt.Sprint("redeem-c", c))); r != nil {
			t.Errorf("an erased consumer's redemption still carries the client's key: %+v", r)
		}
		if j := get[*rewards.Journal](t)(tx.JournalByKey(ctx, a.ID, fmt.Sprint("redeem-c", c))); j != nil {
			t.Errorf("an erased consumer's redemption journal still carries the client's key: %+v", j)
		}
		if ss := get[*tenant.Session](t)(tx.SessionByHash(ctx, hash(fmt.Sprint("ws-c", c)))); ss == nil || ss.RevokedAt.IsZero() {
			t.Errorf("an erased consumer's wallet session is not revoked: %+v", ss)
		}
		return nil
	})
}

// testMergeEveryDomain: a merge reaches every domain's rows. Two consumers with a row in every
// table are merged; the merged one then holds nothing in any table but those a domain says
// stay, and the survivor holds both's rows (the two balances become one, and of two decisions on one
// category × purpose the more recent stands).
func testMergeEveryDomain(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	a := newBrand(t, s, "a")
	from, into := newConsumer(t, s, a.ID), newConsumer(t, s, a.ID)
	fillConsumer(t, s, a.ID, from, fmt.Sprint("c", from))
	fillConsumer(t, s, a.ID, into, fmt.Sprint("c", into))
	bf, bi := rowCounts(t, s, a.ID, from), rowCounts(t, s, a.ID, into)
	update(t, s, func(tx store.Tx) error { return tx.MergeConsumers(ctx, a.ID, from, into, at(50)) })
	af, ai := rowCounts(t, s, a.ID, from), rowCounts(t, s, a.ID, into)
	for _, tb := range s.ConsumerTables() {
		want := bf[tb.Name] + bi[tb.Name]
		switch tb.Name {
		case "points_balances": // one balance per account
			want = 1
		case "consents": // both decided email × marketing: the more recent decision stands
			want = 1
		}
		switch {
		case tb.Stays != "":
			if af[tb.Name] != bf[tb.Name] || ai[tb.Name] != bi[tb.Name] {
				t.Errorf("after the merge %s holds %d rows of the merged consumer and %d of the survivor, want %d and %d (they stay: %s)",
					tb.Name, af[tb.Name], ai[tb.Name], bf[tb.Name], bi[tb.Name], tb.Stays)
			}
		case af[tb.Name] != 0:
			t.Errorf("after the merge %s still holds %d rows of the merged consumer, want none", tb.Name, af[tb.Name])
		case ai[tb.Name] != want:
			t.Errorf("after the merge %s holds %d rows of the survivor, want %d (both's)", tb.Name, ai[tb.Name], want)
		}
	}
	view(t, s, func(tx store.Tx) error {
		eq(t, "the survivor's balance", get[int64](t)(tx.Balance(ctx, rewards.ConsumerAccount(into))), int64(80))
		eq(t, "the merged consumer's balance", get[int64](t)(tx.Balance(ctx, rewards.ConsumerAccount(from))), int64(0))
		return nil
	})
}
