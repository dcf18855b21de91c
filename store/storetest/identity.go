package storetest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/symbiont/symbiont/identity"
	"github.com/symbiont/symbiont/store"
)

// testLockIdentifier: transactions locking one identifier hold it one at a time, each seeing
// what the one before it committed, so that looking the identifier up and linking it when
// unknown, under the lock, links it once however many transactions race (SQLite has one
// writer, so it holds there trivially; PostgreSQL needs the lock). The lock may be taken twice
// in a transaction (Resolve, then Link, do) and ends with it, committed or rolled back.
func testLockIdentifier(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	a := newBrand(t, s, "a")
	kind, h := identity.KindUserID, hash("racing-user")
	const n = 4
	var holders, overlaps atomic.Int32
	created := make([]int64, n) // the consumer each transaction created, 0 when it found one
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			errs[i] = s.Update(ctx, func(tx store.Tx) error {
				if err := tx.LockIdentifier(ctx, a.ID, kind, h); err != nil {
					return err
				}
				if holders.Add(1) > 1 {
					overlaps.Add(1)
				}
				defer holders.Add(-1) // before the commit, so before the next holder's Add
				ids, err := tx.LookupIdentifier(ctx, a.ID, kind, h)
				if err != nil || len(ids) != 0 {
					return err
				}
				c, err := tx.CreateConsumer(ctx, a.ID, at(1))
				if err != nil {
					return err
				}
				if err := tx.LinkIdentifier(ctx, &identity.Identifier{BrandID: a.ID, Kind: kind, Hash: h, ConsumerID: c, CreatedAt: at(1)}); err != nil {
					return err
				}
				created[i] = c
				time.Sleep(50 * time.Millisecond) // hold the lock while the others wait for it
				return nil
			})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("transaction %d: %v", i, err)
		}
	}
	if k := overlaps.Load(); k != 0 {
		t.Errorf("%d transactions held the lock on one identifier while another did", k)
	}
	var owners []int64
	for _, c := range created {
		if c != 0 {
			owners = append(owners, c)
		}
	}
	if len(owners) != 1 {
		t.Fatalf("%d racing transactions created a consumer for one identifier (%v), want 1", len(owners), created)
	}
	view(t, s, func(tx store.Tx) error {
		eq(t, "consumers of the raced identifier", get[[]int64](t)(tx.LookupIdentifier(ctx, a.ID, kind, h)), owners)
		return nil
	})

	// Taken twice in one transaction, rolled back; then committed: each time released.
	lockWithin := func(what string, fn func(tx store.Tx) error) error {
		t.Helper()
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		return s.Update(ctx, func(tx store.Tx) error {
			for range 2 {
				if err := tx.LockIdentifier(ctx, a.ID, kind, h); err != nil {
					t.Errorf("LockIdentifier %s: %v (is the lock still held?)", what, err)
					return err
				}
			}
			return fn(tx)
		})
	}
	if err := lockWithin("in a transaction that fails", func(store.Tx) error { return errTest }); !errors.Is(err, errTest) {
		t.Errorf("Update = %v, want the deliberate error", err)
	}
	must(t, lockWithin("after a rolled-back holder", func(store.Tx) error { return nil }))
	must(t, lockWithin("after a committed holder", func(store.Tx) error { return nil }))
}

// testLockConsumers: transactions locking several consumers at once (ascending, as every
// caller locks several) hold each of them: transactions whose sets share only their last
// consumer run one at a time.
func testLockConsumers(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	a := newBrand(t, s, "a")
	var cs []int64
	for range 5 {
		cs = append(cs, newConsumer(t, s, a.ID))
	}
	update(t, s, func(tx store.Tx) error { return tx.LockConsumers(ctx, nil) }) // none: nothing to wait for
	sets := [][]int64{{cs[0], cs[4]}, {cs[1], cs[4]}, {cs[2], cs[4]}, {cs[3], cs[4]}, cs}
	var holders, overlaps atomic.Int32
	errs := make([]error, len(sets))
	var wg sync.WaitGroup
	for i, set := range sets {
		wg.Go(func() {
			errs[i] = s.Update(ctx, func(tx store.Tx) error {
				if err := tx.LockConsumers(ctx, set); err != nil {
					return err
				}
				if holders.Add(1) > 1 {
					overlaps.Add(1)
				}
				defer holders.Add(-1) // before the commit, so before the next holder's Add
				time.Sleep(30 * time.Millisecond)
				return nil
			})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("transaction %d: %v", i, err)
		}
	}
	if k := overlaps.Load(); k != 0 {
		t.Errorf("%d transactions held their consumers' locks while another holding one of them did", k)
	}
}
