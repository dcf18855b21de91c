package storetest

import (
	"context"
	"encoding/binary"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/symbiont/symbiont/consent"
	"github.com/symbiont/symbiont/ledger"
	"github.com/symbiont/symbiont/store"
	"github.com/symbiont/symbiont/tenant"
)

// Bench runs the store's write hot paths as sub-benchmarks on s, an empty migrated store:
//
//	InsertEvents   a batch of 256 new events in one UpdateAlone (the ingestion writer's), one at a time
//	ConsentRecord  LockConsumer and InsertConsentRecord in one Update (a consent change)
//	LedgerAppend   LockLedger and a one-entry InsertLedgerEntries in one Update (an act's append)
//
// The other two run from b.RunParallel's goroutines, as concurrent callers would.
func Bench(b *testing.B, s store.Store) {
	ctx := context.Background()
	at := time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)
	brand := &tenant.Brand{PublicID: "br_bench", Name: "Bench", CreatedAt: at, SigningKey: []byte("seed")}
	const consumers = 64
	var ids [consumers]int64
	if err := s.Update(ctx, func(tx store.Tx) error {
		if err := tx.CreateBrand(ctx, brand); err != nil {
			return err
		}
		for i := range ids {
			id, err := tx.CreateConsumer(ctx, brand.ID, at)
			if err != nil {
				return err
			}
			ids[i] = id
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	b.Run("InsertEvents", func(b *testing.B) {
		const batch = 256
		var seq uint64
		events := make([]*store.Event, batch)
		b.ReportAllocs()
		for b.Loop() {
			for i := range events {
				mid := make([]byte, 16)
				binary.BigEndian.PutUint64(mid, seq)
				seq++
				c := ids[seq%consumers]
				events[i] = &store.Event{BrandID: brand.ID, ConsumerID: c, Category: "purchases", MID: mid,
					Timestamp: at, ReceivedAt: at, KeyOwner: c, Payload: make([]byte, 200)}
			}
			if err := s.UpdateAlone(ctx, func(tx store.Tx) error {
				_, err := tx.InsertEvents(ctx, events)
				return err
			}); err != nil {
				b.Fatal(err)
			}
		}
	})
	var receipts atomic.Int64
	b.Run("ConsentRecord", func(b *testing.B) {
		b.ReportAllocs()
		ch := make(chan int64, consumers)
		for _, id := range ids {
			ch <- id
		}
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				c := <-ch
				r := &consent.Record{ReceiptID: "rcpt_" + strconv.FormatInt(receipts.Add(1), 10), BrandID: brand.ID, ConsumerID: c, Category: "purchases",
					Purpose: "personalization", State: consent.StateGiven, At: at, ExpiresAt: at.AddDate(1, 0, 0),
					LegalBasis: "consent", Method: "api", Actor: "bench", Jurisdiction: "EU", Explicit: true,
					Evidence: []byte(`{}`), Receipt: "x.y.z"}
				err := s.Update(ctx, func(tx store.Tx) error {
					if err := tx.LockConsumer(ctx, c); err != nil {
						return err
					}
					return tx.InsertConsentRecord(ctx, r)
				})
				ch <- c
				if err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	var next [consumers]int64 // each chain's last n, across the runs of LedgerAppend
	b.Run("LedgerAppend", func(b *testing.B) {
		b.ReportAllocs()
		ch := make(chan int, consumers)
		for i := range ids {
			ch <- i
		}
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				i := <-ch
				next[i]++
				e := &ledger.Entry{Index: -1, BrandID: brand.ID, ChainID: ids[i], N: next[i], Commitment: make([]byte, 32),
					Record: make([]byte, 300), Salt: make([]byte, 16), At: at}
				err := s.Update(ctx, func(tx store.Tx) error {
					if err := tx.LockLedger(ctx); err != nil {
						return err
					}
					return tx.InsertLedgerEntries(ctx, []*ledger.Entry{e})
				})
				if err != nil {
					next[i]-- // not stored
				}
				ch <- i
				if err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
