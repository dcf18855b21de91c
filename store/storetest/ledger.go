package storetest

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/symbiont/symbiont"
	"github.com/symbiont/symbiont/ledger"
	"github.com/symbiont/symbiont/store"
)

// testLedger runs the ledger's store methods (ledger.Tx and ledger.IntegrationTx) through one
// log's life: entries appended to two chains, integrated in two passes with their tree hashes
// and checkpoints, and read back every way the ledger reads them.
func testLedger(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	a := newBrand(t, s, "a")
	c1, c2 := newConsumer(t, s, a.ID), newConsumer(t, s, a.ID)
	entry := func(chain, n int64) *ledger.Entry {
		rec := []byte(fmt.Sprintf(`{"chain":%d,"n":%d}`, chain, n))
		salt := bytes.Repeat([]byte{byte(n + 1)}, 32)
		return &ledger.Entry{Index: -1, BrandID: a.ID, ChainID: chain, N: n, Commitment: ledger.Commit(rec, salt), Record: rec, Salt: salt, At: at(int(n))}
	}
	// Appends: c1 gets records 0..2, c2 gets 0..1, interleaved, in three transactions.
	batches := [][]*ledger.Entry{{entry(c1, 0), entry(c2, 0)}, {entry(c1, 1)}, {entry(c2, 1), entry(c1, 2)}}
	var all []*ledger.Entry
	for _, b := range batches {
		update(t, s, func(tx store.Tx) error {
			must(t, tx.LockConsumer(ctx, b[0].ChainID))
			return tx.InsertLedgerEntries(ctx, b)
		})
		all = append(all, b...)
	}
	for i := 1; i < len(all); i++ {
		if all[i].ID <= all[i-1].ID {
			t.Fatalf("entry ids %d then %d: want increasing in insertion order", all[i-1].ID, all[i].ID)
		}
	}
	view(t, s, func(tx store.Tx) error {
		eq(t, "BrandPublicID", get[string](t)(tx.BrandPublicID(ctx, a.ID)), a.PublicID)
		_, err := tx.BrandPublicID(ctx, a.ID+1000)
		wantCode(t, "BrandPublicID(unknown brand)", err, symbiont.ENOTFOUND)
		heads := get[map[int64]ledger.Head](t)(tx.LedgerHeads(ctx, []int64{c1, c2, c2 + 1000}))
		eq(t, "LedgerHeads(c1).N", heads[c1].N, int64(2))
		eq(t, "LedgerHeads(c2).N", heads[c2].N, int64(1))
		if _, ok := heads[c2+1000]; ok {
			t.Error("LedgerHeads reports a head for an empty chain")
		}
		for _, limit := range []int{0, -1} {
			if es := get[[]*ledger.Entry](t)(tx.PendingLedgerEntries(ctx, limit)); len(es) != 0 {
				t.Errorf("PendingLedgerEntries(limit %d) = %d entries, want none", limit, len(es))
			}
		}
		pending := get[[]*ledger.Entry](t)(tx.PendingLedgerEntries(ctx, 3))
		eq(t, "PendingLedgerEntries(limit 3)", entryIDs(pending), entryIDs(all[:3]))
		var streamed []*ledger.Entry
		must(t, tx.ForEachPendingLedgerEntry(ctx, func(e *ledger.Entry) error { streamed = append(streamed, e); return nil }))
		eq(t, "ForEachPendingLedgerEntry", entryIDs(streamed), entryIDs(all))
		return nil
	})

	// Integration, in two passes: indexes, tree hashes, a checkpoint each.
	hash := func(i int64) []byte { return bytes.Repeat([]byte{byte(i)}, 32) }
	integrate := func(es []*ledger.Entry, start int64, hashes int64) {
		update(t, s, func(tx store.Tx) error {
			must(t, tx.LockLedger(ctx))
			ids := make([]int64, len(es))
			for i, e := range es {
				ids[i], e.Index = e.ID, start+int64(i)
			}
			must(t, tx.AssignLedgerIndexes(ctx, ids, start))
			n := get[int64](t)(tx.LedgerHashCount(ctx))
			var hs [][]byte
			for i := n; i < hashes; i++ {
				hs = append(hs, hash(i))
			}
			must(t, tx.PutLedgerHashes(ctx, n, hs))
			size := start + int64(len(es))
			return tx.PutCheckpoint(ctx, &ledger.Checkpoint{Size: size, Root: hash(100 + size), Note: []byte(fmt.Sprintf("note %d", size)), At: at(10 + int(size))})
		})
	}
	integrate(all[:2], 0, 3)
	integrate(all[2:], 2, 8)
	view(t, s, func(tx store.Tx) error {
		eq(t, "PendingLedgerEntries after integration", len(get[[]*ledger.Entry](t)(tx.PendingLedgerEntries(ctx, 10))), 0)
		eq(t, "LedgerHashCount", get[int64](t)(tx.LedgerHashCount(ctx)), int64(8))
		got := get[[][]byte](t)(tx.LedgerHashes(ctx, []int64{7, 0, 3}))
		if len(got) != 3 || !bytes.Equal(got[0], hash(7)) || !bytes.Equal(got[1], hash(0)) || !bytes.Equal(got[2], hash(3)) {
			t.Errorf("LedgerHashes(7, 0, 3) = %x", got)
		}
		if _, err := tx.LedgerHashes(ctx, []int64{2, 8}); symbiont.ErrorCode(err) != symbiont.ENOTFOUND {
			t.Errorf("LedgerHashes of a missing index: %v, want not_found", err)
		}
		rng := get[[][]byte](t)(tx.LedgerHashRange(ctx, 2, 5))
		if len(rng) != 3 || !bytes.Equal(rng[0], hash(2)) || !bytes.Equal(rng[2], hash(4)) {
			t.Errorf("LedgerHashRange(2, 5) = %x", rng)
		}
		if _, err := tx.LedgerHashRange(ctx, 6, 9); symbiont.ErrorCode(err) != symbiont.ENOTFOUND {
			t.Errorf("LedgerHashRange past the end: %v, want not_found", err)
		}
		cp := get[*ledger.Checkpoint](t)(tx.LatestCheckpoint(ctx))
		if cp == nil || cp.Size != 5 || !bytes.Equal(cp.Root, hash(105)) || string(cp.Note) != "note 5" || !cp.At.Equal(at(15)) {
			t.Errorf("LatestCheckpoint = %+v, want size 5", cp)
		}
		if cp := get[*ledger.Checkpoint](t)(tx.CheckpointAt(ctx, 2)); cp == nil || cp.Size != 2 || string(cp.Note) != "note 2" {
			t.Errorf("CheckpointAt(2) = %+v", cp)
		}
		if _, err := tx.CheckpointAt(ctx, 3); symbiont.ErrorCode(err) != symbiont.ENOTFOUND {
			t.Errorf("CheckpointAt(3), never issued: %v, want not_found", err)
		}
		byIndex := get[[]*ledger.Entry](t)(tx.LedgerEntries(ctx, 1, 4))
		eq(t, "LedgerEntries(1, 4)", entryIDs(byIndex), entryIDs(all[1:4]))
		for i, e := range byIndex {
			w := all[1+i]
			if e.Index != int64(1+i) || e.ChainID != w.ChainID || e.N != w.N || e.BrandID != a.ID ||
				!bytes.Equal(e.Record, w.Record) || !bytes.Equal(e.Salt, w.Salt) || !bytes.Equal(e.Commitment, w.Commitment) || !e.At.Equal(w.At) {
				t.Errorf("LedgerEntries[%d] = %+v, want %+v", i, e, w)
			}
		}
		chain := get[[]*ledger.Entry](t)(tx.ChainEntries(ctx, []int64{c1}))
		if len(chain) != 3 || chain[0].N != 0 || chain[2].N != 2 || chain[1].ChainID != c1 {
			t.Errorf("ChainEntries(c1) = %d entries %v", len(chain), entryIDs(chain))
		}
		n := 0
		must(t, tx.ForEachLedgerEntry(ctx, func(*ledger.Entry) error { n++; return nil }))
		eq(t, "ForEachLedgerEntry", n, len(all))
		links := get[[]*ledger.Entry](t)(tx.LedgerLinks(ctx, []ledger.ChainPos{{Chain: c2, N: 1}, {Chain: c1, N: 0}, {Chain: c1, N: 9}}))
		if len(links) != 2 {
			t.Errorf("LedgerLinks = %d entries, want the 2 that exist", len(links))
		}
		for _, l := range links {
			if l.Index < 0 || len(l.Commitment) == 0 {
				t.Errorf("LedgerLinks entry %+v: want its index and commitment", l)
			}
		}
		return nil
	})
}

func entryIDs(es []*ledger.Entry) []int64 {
	return idsOf(es, func(e *ledger.Entry) int64 { return e.ID })
}

// testLedgerBulk: a bulk append (a training read's: hundreds of chains in one call, in
// multi-row statements) gives every entry its own id, in insertion order, as stored.
func testLedgerBulk(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	a := newBrand(t, s, "a")
	var chains []int64
	for range 3 {
		chains = append(chains, newConsumer(t, s, a.ID))
	}
	var es []*ledger.Entry
	for i := range 450 { // 200 + 200 + 50 rows
		chain, n := chains[i%3], int64(i/3)
		rec := []byte(fmt.Sprintf(`{"chain":%d,"n":%d}`, chain, n))
		salt := bytes.Repeat([]byte{byte(i)}, 32)
		es = append(es, &ledger.Entry{Index: -1, BrandID: a.ID, ChainID: chain, N: n, Commitment: ledger.Commit(rec, salt), Record: rec, Salt: salt, At: at(1)})
	}
	update(t, s, func(tx store.Tx) error {
		must(t, tx.LockConsumers(ctx, chains))
		return tx.InsertLedgerEntries(ctx, es)
	})
	byID := map[int64]*ledger.Entry{}
	for i, e := range es {
		if e.ID == 0 || (i > 0 && e.ID <= es[i-1].ID) {
			t.Fatalf("entry %d has id %d after %d: want ids set, increasing in insertion order", i, e.ID, es[max(i-1, 0)].ID)
		}
		byID[e.ID] = e
	}
	view(t, s, func(tx store.Tx) error {
		got := get[[]*ledger.Entry](t)(tx.ChainEntries(ctx, chains))
		eq(t, "ChainEntries after a bulk append", len(got), len(es))
		for _, g := range got {
			w := byID[g.ID]
			if w == nil || w.ChainID != g.ChainID || w.N != g.N || !bytes.Equal(w.Record, g.Record) || !bytes.Equal(w.Commitment, g.Commitment) {
				t.Fatalf("stored entry %d (chain %d, n %d) is not the one appended with that id", g.ID, g.ChainID, g.N)
			}
		}
		return nil
	})
}
