package consent_test

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/symbiont/symbiont"
	"github.com/symbiont/symbiont/consent"
	"github.com/symbiont/symbiont/identity"
	"github.com/symbiont/symbiont/ledger"
	"github.com/symbiont/symbiont/platform"
	"github.com/symbiont/symbiont/store"
	"github.com/symbiont/symbiont/store/storetest"
)

// Apply prepares a change (current state, signed receipt) outside the write transaction and
// writes it only if the state is unchanged. These tests hold it to what a change inside one
// transaction guaranteed: one chain of receipts per category × purpose, one ledger entry per
// record, one outcome per idempotency key, under concurrency, on both engines.

type env struct {
	p     *platform.Platform
	brand int64
	actor symbiont.Actor
	keys  []consent.JWK
}

func engines(t *testing.T, fn func(t *testing.T, e *env)) { enginesOf(t, "sqlite postgres", fn) }

func enginesOf(t *testing.T, names string, fn func(t *testing.T, e *env)) {
	for _, eng := range []struct {
		name string
		cfg  func(t *testing.T) platform.Config
	}{
		{"sqlite", func(*testing.T) platform.Config { return platform.Config{} }},
		{"postgres", func(t *testing.T) platform.Config { return platform.Config{PostgresDSN: storetest.PostgresDSN(t)} }},
	} {
		if !strings.Contains(names, eng.name) {
			continue
		}
		t.Run(eng.name, func(t *testing.T) {
			ctx := context.Background()
			cfg := eng.cfg(t)
			cfg.DataDir, cfg.AdminToken, cfg.ExpiryInterval = t.TempDir(), "test-admin-token-0123456789", -1
			p, err := platform.Open(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { p.Close() })
			nb, err := p.Tenants.CreateBrand(ctx, "Test")
			if err != nil {
				t.Fatal(err)
			}
			priv, _, err := p.Tenants.ReceiptKey(ctx, nb.Brand.ID)
			if err != nil {
				t.Fatal(err)
			}
			pub := priv.Public().(ed25519.PublicKey)
			fn(t, &env{p: p, brand: nb.Brand.ID, actor: symbiont.Actor{Kind: symbiont.ActorBrand, BrandID: nb.Brand.ID, KeyID: "test"},
				keys: []consent.JWK{consent.PublicJWK(pub, consent.KeyID(pub))}})
		})
	}
}

func (e *env) change(user, state string) *consent.Change {
	return &consent.Change{BrandID: e.brand, Consumer: consent.ConsumerRef{Kind: identity.KindUserID, Value: user},
		Category: "purchases", Purpose: "personalization", State: state, Actor: e.actor, Method: consent.MethodBrand}
}

func (e *env) consumer(t *testing.T, user string) int64 {
	t.Helper()
	var id int64
	err := e.p.Store.View(context.Background(), func(tx store.Tx) (err error) {
		id, _, err = e.p.Graph.Resolve(context.Background(), tx, e.brand, identity.KindUserID, user, false, time.Now())
		return err
	})
	if err != nil || id == 0 {
		t.Fatalf("consumer %q: %d, %v", user, id, err)
	}
	return id
}

// checkChains checks that the consumer's history of purchases × personalization is one chain of
// receipts (each names the one before as previous), that the ledger holds one entry per
// record, in one unbroken chain, and that the index agrees with the last record. It returns
// the pair's records.
func (e *env) checkChains(t *testing.T, cid int64) []*consent.Record {
	t.Helper()
	ctx := context.Background()
	hist, err := e.p.Consent.History(ctx, e.brand, cid)
	if err != nil {
		t.Fatal(err)
	}
	prev := ""
	var pair []*consent.Record
	for i, r := range hist {
		if r.Category != "purchases" || r.Purpose != "personalization" {
			continue
		}
		pair = append(pair, r)
		c, err := consent.VerifyReceipt(r.Receipt, e.keys)
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if c.ReceiptID != r.ReceiptID || c.State != r.State {
			t.Errorf("record %d: receipt says %s %s, record %s %s", i, c.ReceiptID, c.State, r.ReceiptID, r.State)
		}
		if c.Previous != prev {
			t.Errorf("record %d (%s): receipt follows %q, the record before it is %q", i, r.State, c.Previous, prev)
		}
		prev = r.ReceiptID
	}
	var entries []*ledger.Entry
	if err := e.p.Store.View(ctx, func(tx store.Tx) (err error) {
		entries, err = tx.ChainEntries(ctx, []int64{cid})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(hist) {
		t.Fatalf("%d ledger entries for %d consent records", len(entries), len(hist))
	}
	var prevCommit []byte
	for i, en := range entries {
		var rec ledger.Record
		if err := json.Unmarshal(en.Record, &rec); err != nil {
			t.Fatal(err)
		}
		if rec.N != int64(i) || en.N != int64(i) {
			t.Errorf("ledger entry %d has n %d", i, rec.N)
		}
		want := ""
		if prevCommit != nil {
			want = base64.StdEncoding.EncodeToString(prevCommit)
		}
		if rec.Prev != want {
			t.Errorf("ledger entry %d follows %q, want %q", i, rec.Prev, want)
		}
		var body struct {
			ReceiptID string `json:"receipt_id"`
		}
		if err := json.Unmarshal(rec.Body, &body); err != nil {
			t.Fatal(err)
		}
		if body.ReceiptID != hist[i].ReceiptID {
			t.Errorf("ledger entry %d records %s, consent record %d is %s", i, body.ReceiptID, i, hist[i].ReceiptID)
		}
		prevCommit = en.Commitment
	}
	if len(pair) > 0 {
		// On SQLite the index is exact once the changes have returned. On PostgreSQL each node
		// reloads a consumer's entry when a change is announced, a moment later; decisions that
		// admit data read the database there (docs/architecture.md), so it must only get there.
		last := pair[len(pair)-1]
		want := last.Active(time.Now())
		deadline := time.Now().Add(10 * time.Second)
		for e.p.Store.Shared() && e.p.Consent.Allowed(e.brand, cid, "purchases", "personalization") != want && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if got := e.p.Consent.Allowed(e.brand, cid, "purchases", "personalization"); got != want {
			t.Errorf("index allows: %v; the last record (%s) allows: %v", got, last.State, want)
		}
	}
	return pair
}

func TestApplyConcurrentChangesOfOnePair(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		if _, err := e.p.Consent.Apply(ctx, []*consent.Change{e.change("alice", consent.StateGiven)}, ""); err != nil {
			t.Fatal(err)
		}
		const workers, each = 8, 12
		var wg sync.WaitGroup
		var mu sync.Mutex
		written := 0
		for w := range workers {
			wg.Go(func() {
				for i := range each {
					state := consent.StateGiven
					if (w+i)%2 == 1 {
						state = consent.StateWithdrawn
					}
					res, err := e.p.Consent.Apply(ctx, []*consent.Change{e.change("alice", state)}, "")
					if err != nil {
						t.Errorf("worker %d, change %d (%s): %v", w, i, state, err)
						return
					}
					if !res[0].Unchanged {
						mu.Lock()
						written++
						mu.Unlock()
					}
				}
			})
		}
		wg.Wait()
		hist := e.checkChains(t, e.consumer(t, "alice"))
		if len(hist) != written+1 {
			t.Errorf("%d records, %d changes reported as recorded (+1 first grant)", len(hist), written)
		}
	})
}

// hookedDB runs after once, after the first View (Apply's preparation) returns: a change made
// by someone else between the preparation and the write.
type hookedDB struct {
	symbiont.Transactor[consent.ServiceTx]
	mu    sync.Mutex
	views int
	after func()
}

func (h *hookedDB) View(ctx context.Context, fn func(consent.ServiceTx) error) error {
	err := h.Transactor.View(ctx, fn)
	h.mu.Lock()
	h.views++
	after := h.after
	h.after = nil
	h.mu.Unlock()
	if after != nil {
		after()
	}
	return err
}

func TestApplyPreparedOnAChangedState(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		first, err := e.p.Consent.Apply(ctx, []*consent.Change{e.change("bob", consent.StateGiven)}, "")
		if err != nil {
			t.Fatal(err)
		}
		db := &hookedDB{Transactor: store.Narrow[consent.ServiceTx](e.p.Store)}
		svc, _ := consent.NewService[consent.ServiceTx](db, e.p.Graph, e.p.Tenants, e.p.Ledger, symbiont.SystemClock{})
		svc.Index = e.p.Consent.Index
		var between []*consent.Result
		db.after = func() {
			var err error
			if between, err = e.p.Consent.Apply(ctx, []*consent.Change{e.change("bob", consent.StateGiven)}, ""); err != nil {
				t.Error(err)
			}
		}
		res, err := svc.Apply(ctx, []*consent.Change{e.change("bob", consent.StateWithdrawn)}, "")
		if err != nil {
			t.Fatal(err)
		}
		if db.views != 2 {
			t.Errorf("%d preparations, want 2 (the first found its state changed at the write)", db.views)
		}
		c, err := consent.VerifyReceipt(res[0].Record.Receipt, e.keys)
		if err != nil {
			t.Fatal(err)
		}
		if c.Previous != between[0].Record.ReceiptID || c.Previous == first[0].Record.ReceiptID {
			t.Errorf("the withdrawal follows %s; the grant made in between is %s", c.Previous, between[0].Record.ReceiptID)
		}
		if hist := e.checkChains(t, res[0].ConsumerID); len(hist) != 3 {
			t.Errorf("%d records, want 3", len(hist))
		}
	})
}

func TestApplyConcurrentIdempotentRetries(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		// carol exists (concurrent first grants creating a consumer: see
		// TestApplyNewConsumerConcurrently).
		other := e.change("carol", consent.StateGiven)
		other.Category = "browsing"
		if _, err := e.p.Consent.Apply(ctx, []*consent.Change{other}, ""); err != nil {
			t.Fatal(err)
		}
		const tries = 8
		ids := make([]string, tries)
		var wg sync.WaitGroup
		for i := range tries {
			wg.Go(func() {
				res, err := e.p.Consent.Apply(ctx, []*consent.Change{e.change("carol", consent.StateGiven)}, "key-1")
				if err != nil {
					t.Errorf("try %d: %v", i, err)
					return
				}
				ids[i] = res[0].Record.ReceiptID
			})
		}
		wg.Wait()
		for i := range ids {
			if ids[i] != ids[0] {
				t.Errorf("try %d got receipt %s, try 0 %s", i, ids[i], ids[0])
			}
		}
		if hist := e.checkChains(t, e.consumer(t, "carol")); len(hist) != 1 {
			t.Errorf("%d records for one idempotent request, want 1", len(hist))
		}
		// The same key for another request is refused, and changes nothing.
		_, err := e.p.Consent.Apply(ctx, []*consent.Change{e.change("carol", consent.StateWithdrawn)}, "key-1")
		if symbiont.ErrorCode(err) != symbiont.ECONFLICT {
			t.Errorf("reused key for a different request: %v, want conflict", err)
		}
	})
}

// TestApplyNewConsumerConcurrently: first grants for someone unknown create the consumer in the
// write transaction; concurrent ones must make one consumer with one chain. SQLite only: on
// PostgreSQL two transactions creating the consumer of one new user id at once each create one
// (identifiers has no unique key per user id; the identity graph's, not Apply's, to settle).
func TestApplyNewConsumerConcurrently(t *testing.T) {
	enginesOf(t, "sqlite", func(t *testing.T, e *env) {
		ctx := context.Background()
		var wg sync.WaitGroup
		ids := make([]int64, 6)
		for i := range ids {
			wg.Go(func() {
				res, err := e.p.Consent.Apply(ctx, []*consent.Change{e.change("dave", consent.StateGiven)}, "")
				if err != nil {
					t.Errorf("grant %d: %v", i, err)
					return
				}
				ids[i] = res[0].ConsumerID
			})
		}
		wg.Wait()
		for i := range ids {
			if ids[i] != ids[0] {
				t.Fatalf("grant %d made consumer %d, grant 0 consumer %d", i, ids[i], ids[0])
			}
		}
		if hist := e.checkChains(t, ids[0]); len(hist) != len(ids) {
			t.Errorf("%d records, want %d", len(hist), len(ids))
		}
		// A withdrawal for someone unknown records nothing.
		if _, err := e.p.Consent.Apply(ctx, []*consent.Change{e.change("nobody", consent.StateWithdrawn)}, ""); symbiont.ErrorCode(err) != symbiont.ENOTFOUND {
			t.Errorf("withdrawal for an unknown consumer: %v, want not_found", err)
		}
	})
}

// TestApplyFromAStaleMemory: a change prepared from the service's memory of the consumer's
// state, which another writer (here another service, as another node would be) has changed
// since, is refused at the write and prepared again from the store.
func TestApplyFromAStaleMemory(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		db := &hookedDB{Transactor: store.Narrow[consent.ServiceTx](e.p.Store)}
		svc, _ := consent.NewService[consent.ServiceTx](db, e.p.Graph, e.p.Tenants, e.p.Ledger, symbiont.SystemClock{})
		svc.Index = e.p.Consent.Index
		if _, err := svc.Apply(ctx, []*consent.Change{e.change("fay", consent.StateGiven)}, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Apply(ctx, []*consent.Change{e.change("fay", consent.StateGiven)}, ""); err != nil {
			t.Fatal(err)
		}
		views := db.views // the second was prepared from memory
		other, err := e.p.Consent.Apply(ctx, []*consent.Change{e.change("fay", consent.StateWithdrawn)}, "")
		if err != nil {
			t.Fatal(err)
		}
		res, err := svc.Apply(ctx, []*consent.Change{e.change("fay", consent.StateGiven)}, "")
		if err != nil {
			t.Fatal(err)
		}
		if db.views != views+1 {
			t.Errorf("%d preparations from the store after the memory went stale, want 1", db.views-views)
		}
		c, err := consent.VerifyReceipt(res[0].Record.Receipt, e.keys)
		if err != nil {
			t.Fatal(err)
		}
		if c.Previous != other[0].Record.ReceiptID {
			t.Errorf("the grant follows %s, want the withdrawal made elsewhere, %s", c.Previous, other[0].Record.ReceiptID)
		}
		// Remembered again: the next change needs no read. (By consumer id: on PostgreSQL every
		// announced consent change clears the identity cache.)
		views = db.views
		byID := e.change("fay", consent.StateWithdrawn)
		byID.Consumer = consent.ConsumerRef{ID: res[0].ConsumerID}
		if _, err := svc.Apply(ctx, []*consent.Change{byID}, ""); err != nil {
			t.Fatal(err)
		}
		if db.views != views {
			t.Errorf("a change prepared from a fresh memory read the store %d times", db.views-views)
		}
		if hist := e.checkChains(t, res[0].ConsumerID); len(hist) != 5 {
			t.Errorf("%d records, want 5", len(hist))
		}
	})
}
