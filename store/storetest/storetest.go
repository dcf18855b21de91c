// Package storetest is the conformance suite every store backend must pass: store/sqlite and
// store/postgres run it from their tests, so both engines are held to one behaviour. It also
// offers helpers other packages' tests use to get a store (see PostgresDSN).
package storetest

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/symbiont/symbiont"
	"github.com/symbiont/symbiont/consent"
	"github.com/symbiont/symbiont/identity"
	"github.com/symbiont/symbiont/rewards"
	"github.com/symbiont/symbiont/store"
	"github.com/symbiont/symbiont/tenant"
	"github.com/symbiont/symbiont/vault"
)

// Run runs the conformance suite. open must return a fresh, empty, migrated store and close it
// through t.Cleanup. Subtests run in parallel, each on its own store.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"Brands", testBrands},
		{"Keys", testKeys},
		{"Sessions", testSessions},
		{"Settings", testSettings},
		{"Idempotency", testIdempotency},
		{"IdempotencyPrune", testIdempotencyPrune},
		{"ConsentRecords", testConsentRecords},
		{"ConsentIsolation", testConsentIsolation},
		{"DueExpiries", testDueExpiries},
		{"ForEachActiveConsent", testForEachActiveConsent},
		{"ConsentRecordByReceipt", testConsentRecordByReceipt},
		{"ActiveGrants", testActiveGrants},
		{"CustomTerms", testCustomTerms},
		{"Consumers", testConsumers},
		{"Identifiers", testIdentifiers},
		{"IdentifiersRacingCreators", testIdentifiersRacingCreators},
		{"LockIdentifier", testLockIdentifier},
		{"LockConsumers", testLockConsumers},
		{"Merge", testMerge},
		{"MergeChain", testMergeChain},
		{"Conflicts", testConflicts},
		{"Ledger", testLedger},
		{"LedgerBulk", testLedgerBulk},
		{"RewardsStore", testRewardsStore},
		{"Catalog", testCatalog},
		{"RewardGrants", testRewardGrants},
		{"RewardTiers", testRewardTiers},
		{"PointsStatement", testPointsStatement},
		{"RedemptionCount", testRedemptionCount},
		{"InsertEvents", testInsertEvents},
		{"InsertEventsChunks", testInsertEventsChunks},
		{"InsertEventsDuplicateInTx", testInsertEventsDuplicateInTx},
		{"InsertEventsRacingDuplicates", testInsertEventsRacingDuplicates},
		{"ConsumerEvents", testConsumerEvents},
		{"DeleteConsumerData", testDeleteConsumerData},
		{"EraseEveryDomain", testEraseEveryDomain},
		{"MergeEveryDomain", testMergeEveryDomain},
		{"Console", testConsole},
		{"IngestCounts", testIngestCounts},
		{"TrackingPlan", testTrackingPlan},
		{"SignalMap", testSignalMap},
		{"AccessLog", testAccessLog},
		{"KeyStore", testKeyStore},
		{"TextOrder", testTextOrder},
		{"Dialect", testDialect},
		{"ConsentRecordAfter", testConsentRecordAfter},
		{"PurposeGrants", testPurposeGrants},
		{"TxErrorRollsBack", testTxErrorRollsBack},
		{"OnUndo", testOnUndo},
		{"ViewBeforeUpdate", testViewBeforeUpdate},
		{"ListenChanges", testListenChanges},
		{"TxPanicRollsBack", testTxPanicRollsBack},
		{"TxGoexitRollsBack", testTxGoexitRollsBack},
		{"TxVisibility", testTxVisibility},
		{"Narrow", testNarrow},
		{"ConcurrentUpdates", testConcurrentUpdates},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open(t))
		})
	}
}

// ---- helpers ----

var errTest = errors.New("storetest: deliberate error")

// t0 is the suite's epoch; every time is a whole number of milliseconds, as stored.
var t0 = time.Date(2025, 3, 14, 9, 26, 53, 589_000_000, time.UTC)

// at returns t0 plus n minutes.
func at(n int) time.Time { return t0.Add(time.Duration(n) * time.Minute) }

func ctxT(t *testing.T) context.Context { return t.Context() }

func update(t *testing.T, s store.Store, fn func(tx store.Tx) error) {
	t.Helper()
	if err := s.Update(ctxT(t), fn); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

func view(t *testing.T, s store.Store, fn func(tx store.Tx) error) {
	t.Helper()
	if err := s.View(ctxT(t), fn); err != nil {
		t.Fatalf("View: %v", err)
	}
}

// must fails t on err; for use inside transactions (a failed test rolls the transaction back).
func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func get[T any](t *testing.T) func(v T, err error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if got := symbiont.ErrorCode(err); got != code {
		t.Errorf("%s: error %v (code %q), want code %q", what, err, got, code)
	}
}

func eq(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got  %s\n want %s", what, dump(got), dump(want))
	}
}

func dump(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%+v", v)
	}
	return string(b)
}

func hash(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

func mid(s string) []byte { return hash("mid:" + s)[:16] }

func newBrand(t *testing.T, s store.Store, name string) *tenant.Brand {
	t.Helper()
	b := &tenant.Brand{PublicID: "br_" + name, Name: "Brand " + name, CreatedAt: at(0), SigningKey: hash("sign:" + name)}
	update(t, s, func(tx store.Tx) error { return tx.CreateBrand(ctxT(t), b) })
	if b.ID == 0 {
		t.Fatal("CreateBrand did not set ID")
	}
	return b
}

func newConsumer(t *testing.T, s store.Store, brandID int64) int64 {
	t.Helper()
	var id int64
	update(t, s, func(tx store.Tx) (err error) {
		id, err = tx.CreateConsumer(ctxT(t), brandID, at(0))
		return err
	})
	if id == 0 {
		t.Fatal("CreateConsumer returned 0")
	}
	return id
}

var receiptSeq struct {
	sync.Mutex
	n int
}

// grant returns a consent record; receipt ids are unique across the whole test binary.
func grant(brandID, consumerID int64, category, purpose, state string, when time.Time) *consent.Record {
	receiptSeq.Lock()
	receiptSeq.n++
	n := receiptSeq.n
	receiptSeq.Unlock()
	return &consent.Record{
		ReceiptID: fmt.Sprintf("rcpt_%06d", n), BrandID: brandID, ConsumerID: consumerID,
		Category: category, Purpose: purpose, State: state, At: when,
		LegalBasis: consent.BasisConsent, Method: consent.MethodBrand, Actor: "key:key_test",
	}
}

func insertRecords(t *testing.T, s store.Store, rs ...*consent.Record) {
	t.Helper()
	update(t, s, func(tx store.Tx) error {
		for _, r := range rs {
			if err := tx.InsertConsentRecord(ctxT(t), r); err != nil {
				return err
			}
			if r.ID == 0 {
				return fmt.Errorf("InsertConsentRecord did not set ID")
			}
		}
		return nil
	})
}

func event(brandID, consumerID int64, category, m string, n int) *store.Event {
	return &store.Event{
		BrandID: brandID, ConsumerID: consumerID, Category: category, MID: mid(m),
		Timestamp: at(n), ReceivedAt: at(n).Add(1500 * time.Millisecond), KeyOwner: consumerID,
		Payload: []byte(`sealed:` + m),
	}
}

func insertEvents(t *testing.T, s store.Store, es ...*store.Event) []bool {
	t.Helper()
	var ins []bool
	update(t, s, func(tx store.Tx) (err error) {
		ins, err = tx.InsertEvents(ctxT(t), es)
		return err
	})
	if len(ins) != len(es) {
		t.Fatalf("InsertEvents returned %d flags for %d events", len(ins), len(es))
	}
	return ins
}

func consumerEvents(t *testing.T, s store.Store, brandID, consumerID int64, cats []string, limit int) []*store.Event {
	t.Helper()
	var out []*store.Event
	view(t, s, func(tx store.Tx) (err error) {
		out, err = tx.ConsumerEvents(ctxT(t), brandID, consumerID, cats, limit)
		return err
	})
	return out
}

// idsOf lists the ids of xs, in order.
func idsOf[T any](xs []T, id func(T) int64) []int64 {
	out := make([]int64, len(xs))
	for i, x := range xs {
		out[i] = id(x)
	}
	return out
}

func eventIDs(es []*store.Event) []int64 {
	return idsOf(es, func(e *store.Event) int64 { return e.ID })
}

func recordIDs(rs []*consent.Record) []int64 {
	return idsOf(rs, func(r *consent.Record) int64 { return r.ID })
}

// ---- tenant ----

func testBrands(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	view(t, s, func(tx store.Tx) error {
		bs, err := tx.ListBrands(ctx)
		must(t, err)
		if len(bs) != 0 {
			t.Errorf("ListBrands of an empty store: %d brands", len(bs))
		}
		return nil
	})
	a := newBrand(t, s, "alpha")
	b := newBrand(t, s, "beta")
	c := newBrand(t, s, "gamma")
	if a.ID == b.ID || b.ID == c.ID || a.ID == c.ID {
		t.Fatalf("brand ids not distinct: %d %d %d", a.ID, b.ID, c.ID)
	}
	view(t, s, func(tx store.Tx) error {
		for _, want := range []*tenant.Brand{a, b, c} {
			eq(t, "BrandByID", get[*tenant.Brand](t)(tx.BrandByID(ctx, want.ID)), want)
			eq(t, "BrandByPublicID", get[*tenant.Brand](t)(tx.BrandByPublicID(ctx, want.PublicID)), want)
		}
		_, err := tx.BrandByID(ctx, c.ID+1000)
		wantCode(t, "BrandByID(unknown)", err, symbiont.ENOTFOUND)
		_, err = tx.BrandByPublicID(ctx, "br_unknown")
		wantCode(t, "BrandByPublicID(unknown)", err, symbiont.ENOTFOUND)
		eq(t, "ListBrands", get[[]*tenant.Brand](t)(tx.ListBrands(ctx)), []*tenant.Brand{a, b, c})
		return nil
	})
	// Public ids are unique.
	err := s.Update(ctx, func(tx store.Tx) error {
		return tx.CreateBrand(ctx, &tenant.Brand{PublicID: a.PublicID, Name: "dup", CreatedAt: at(1), SigningKey: []byte{1}})
	})
	if err == nil {
		t.Error("CreateBrand with a taken public id succeeded")
	}
	view(t, s, func(tx store.Tx) error {
		if n := len(get[[]*tenant.Brand](t)(tx.ListBrands(ctx))); n != 3 {
			t.Errorf("after a failed CreateBrand: %d brands, want 3", n)
		}
		return nil
	})
}

func testKeys(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	a, b := newBrand(t, s, "a"), newBrand(t, s, "b")
	// kA1 is created after kA2: lists are ordered by creation time, not insertion.
	kA1 := &tenant.Key{ID: "key_a1", BrandID: a.ID, Kind: tenant.KindSecret, Hash: hash("sk_a1"), Prefix: "sk_a1",
		Name: "server", Scopes: []string{tenant.ScopeConsents, tenant.ScopeData}, CreatedAt: at(2)}
	kA2 := &tenant.Key{ID: "key_a2", BrandID: a.ID, Kind: tenant.KindWrite, Hash: hash("pk_a2"), Prefix: "pk_a2", CreatedAt: at(1)}
	kB1 := &tenant.Key{ID: "key_b1", BrandID: b.ID, Kind: tenant.KindSecret, Hash: hash("sk_b1"), Prefix: "sk_b1",
		Name: "b", Scopes: []string{tenant.ScopeKeys}, CreatedAt: at(1)}
	update(t, s, func(tx store.Tx) error {
		for _, k := range []*tenant.Key{kA1, kA2, kB1} {
			must(t, tx.CreateKey(ctx, k))
		}
		return nil
	})
	view(t, s, func(tx store.Tx) error {
		for _, want := range []*tenant.Key{kA1, kA2, kB1} {
			eq(t, "KeyByHash", get[*tenant.Key](t)(tx.KeyByHash(ctx, want.Hash)), want)
		}
		_, err := tx.KeyByHash(ctx, hash("unknown"))
		wantCode(t, "KeyByHash(unknown)", err, symbiont.ENOTFOUND)
		eq(t, "ListKeys(a)", get[[]*tenant.Key](t)(tx.ListKeys(ctx, a.ID)), []*tenant.Key{kA2, kA1})
		eq(t, "ListKeys(b)", get[[]*tenant.Key](t)(tx.ListKeys(ctx, b.ID)), []*tenant.Key{kB1})
		if ks := get[[]*tenant.Key](t)(tx.ListKeys(ctx, b.ID+1000)); len(ks) != 0 {
			t.Errorf("ListKeys(unknown brand): %d keys", len(ks))
		}
		return nil
	})

	// Revoking twice keeps the first time.
	update(t, s, func(tx store.Tx) error { return tx.RevokeKey(ctx, a.ID, kA1.ID, at(10)) })
	update(t, s, func(tx store.Tx) error { return tx.RevokeKey(ctx, a.ID, kA1.ID, at(20)) })
	// Tenant isolation: brand b cannot revoke a's key, and unknown keys are not found.
	err := s.Update(ctx, func(tx store.Tx) error { return tx.RevokeKey(ctx, b.ID, kA2.ID, at(30)) })
	wantCode(t, "RevokeKey(another brand's key)", err, symbiont.ENOTFOUND)
	err = s.Update(ctx, func(tx store.Tx) error { return tx.RevokeKey(ctx, a.ID, "key_unknown", at(30)) })
	wantCode(t, "RevokeKey(unknown)", err, symbiont.ENOTFOUND)
	view(t, s, func(tx store.Tx) error {
		if got := get[*tenant.Key](t)(tx.KeyByHash(ctx, kA1.Hash)).RevokedAt; !got.Equal(at(10)) {
			t.Errorf("RevokedAt after revoking twice = %v, want the first time %v", got, at(10))
		}
		if got := get[*tenant.Key](t)(tx.KeyByHash(ctx, kA2.Hash)).RevokedAt; !got.IsZero() {
			t.Errorf("key revoked through another brand: RevokedAt = %v", got)
		}
		return nil
	})

	// Hashes are unique.
	err = s.Update(ctx, func(tx store.Tx) error {
		return tx.CreateKey(ctx, &tenant.Key{ID: "key_dup", BrandID: b.ID, Kind: tenant.KindWrite, Hash: kA1.Hash, Prefix: "x", CreatedAt: at(3)})
	})
	if err == nil {
		t.Error("CreateKey with a taken hash succeeded")
	}
}

func testSessions(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	a, b := newBrand(t, s, "a"), newBrand(t, s, "b")
	c1, c2 := newConsumer(t, s, a.ID), newConsumer(t, s, a.ID)
	s1 := &tenant.Session{ID: "ws_1", BrandID: a.ID, ConsumerID: c1, Hash: hash("ws1"), CreatedAt: at(1), ExpiresAt: at(61)}
	s2 := &tenant.Session{ID: "ws_2", BrandID: a.ID, ConsumerID: c1, Hash: hash("ws2"), CreatedAt: at(2), ExpiresAt: at(62)}
	s3 := &tenant.Session{ID: "ws_3", BrandID: a.ID, ConsumerID: c2, Hash: hash("ws3"), CreatedAt: at(3), ExpiresAt: at(63)}
	update(t, s, func(tx store.Tx) error {
		for _, ss := range []*tenant.Session{s1, s2, s3} {
			must(t, tx.CreateSession(ctx, ss))
		}
		return nil
	})
	view(t, s, func(tx store.Tx) error {
		for _, want := range []*tenant.Session{s1, s2, s3} {
			eq(t, "SessionByHash", get[*tenant.Session](t)(tx.SessionByHash(ctx, want.Hash)), want)
		}
		_, err := tx.SessionByHash(ctx, hash("unknown"))
		wantCode(t, "SessionByHash(unknown)", err, symbiont.ENOTFOUND)
		return nil
	})
	update(t, s, func(tx store.Tx) error { return tx.RevokeSessions(ctx, a.ID, c1, at(10)) })
	update(t, s, func(tx store.Tx) error { return tx.RevokeSessions(ctx, a.ID, c1, at(20)) }) // keeps the first time
	update(t, s, func(tx store.Tx) error { return tx.RevokeSessions(ctx, b.ID, c2, at(20)) }) // other brand: no effect
	view(t, s, func(tx store.Tx) error {
		for _, ss := range []*tenant.Session{s1, s2} {
			if got := get[*tenant.Session](t)(tx.SessionByHash(ctx, ss.Hash)).RevokedAt; !got.Equal(at(10)) {
				t.Errorf("session %s RevokedAt = %v, want %v", ss.ID, got, at(10))
			}
		}
		if got := get[*tenant.Session](t)(tx.SessionByHash(ctx, s3.Hash)).RevokedAt; !got.IsZero() {
			t.Errorf("session of another consumer (or revoked through another brand) revoked at %v", got)
		}
		return nil
	})
}

func testSettings(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	view(t, s, func(tx store.Tx) error {
		v, err := tx.Setting(ctx, "operator_token")
		if v != nil || err != nil {
			t.Errorf("Setting(unset) = %q, %v; want nil, nil", v, err)
		}
		return nil
	})
	update(t, s, func(tx store.Tx) error {
		must(t, tx.PutSetting(ctx, "operator_token", []byte("one")))
		return tx.PutSetting(ctx, "other", []byte("x"))
	})
	view(t, s, func(tx store.Tx) error {
		eq(t, "Setting", get[[]byte](t)(tx.Setting(ctx, "operator_token")), []byte("one"))
		return nil
	})
	update(t, s, func(tx store.Tx) error { return tx.PutSetting(ctx, "operator_token", []byte("two")) })
	view(t, s, func(tx store.Tx) error {
		eq(t, "Setting after overwrite", get[[]byte](t)(tx.Setting(ctx, "operator_token")), []byte("two"))
		eq(t, "Setting(other)", get[[]byte](t)(tx.Setting(ctx, "other")), []byte("x"))
		return nil
	})
	// An empty value is set, not unset: non-nil.
	update(t, s, func(tx store.Tx) error { return tx.PutSetting(ctx, "empty", []byte{}) })
	view(t, s, func(tx store.Tx) error {
		if v := get[[]byte](t)(tx.Setting(ctx, "empty")); v == nil || len(v) != 0 {
			t.Errorf("Setting(empty value) = %#v, want []byte{}", v)
		}
		return nil
	})
}

// Pruning deletes the records stored before a time, oldest first and at most limit a call, of
// every brand and consumer, and leaves the younger ones.
func testIdempotencyPrune(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	a, b := newBrand(t, s, "a"), newBrand(t, s, "b")
	ca, cb := newConsumer(t, s, a.ID), newConsumer(t, s, b.ID)
	key := func(i int) []byte { return []byte(fmt.Sprintf("hmac-of-key-%d", i)) }
	update(t, s, func(tx store.Tx) error {
		for i := range 10 { // a, then b, alternately; record i at time i
			brand, consumer := a.ID, ca
			if i%2 == 1 {
				brand, consumer = b.ID, cb
			}
			must(t, tx.PutIdempotent(ctx, brand, consumer, key(i), symbiont.IdempotentRecord{Request: []byte("r"), Result: "x"}, at(i)))
		}
		return nil
	})
	prune := func(before time.Time, limit int) (n int64) {
		update(t, s, func(tx store.Tx) (err error) {
			n, err = tx.PruneIdempotent(ctx, before, limit)
			return err
		})
		return n
	}
	kept := func() (out []int) {
		view(t, s, func(tx store.Tx) error {
			for i := range 10 {
				brand, consumer := a.ID, ca
				if i%2 == 1 {
					brand, consumer = b.ID, cb
				}
				if r := get[*symbiont.IdempotentRecord](t)(tx.Idempotent(ctx, brand, consumer, key(i))); r != nil {
					out = append(out, i)
				}
			}
			return nil
		})
		return out
	}
	eq(t, "PruneIdempotent(before 0)", prune(at(0), 100), int64(0))
	eq(t, "PruneIdempotent(limit 0)", prune(at(6), 0), int64(0))
	eq(t, "PruneIdempotent(limit -1)", prune(at(6), -1), int64(0))
	eq(t, "PruneIdempotent(before 6, limit 4)", prune(at(6), 4), int64(4))
	eq(t, "kept after the first 4", kept(), []int{4, 5, 6, 7, 8, 9})
	eq(t, "PruneIdempotent(before 6)", prune(at(6), 100), int64(2))
	eq(t, "PruneIdempotent(before 6) again", prune(at(6), 100), int64(0))
	eq(t, "kept", kept(), []int{6, 7, 8, 9})
	// A key whose record is gone starts afresh.
	update(t, s, func(tx store.Tx) error {
		return tx.PutIdempotent(ctx, a.ID, ca, key(0), symbiont.IdempotentRecord{Request: []byte("other"), Result: "y"}, at(20))
	})
}

func testIdempotency(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	a, b := newBrand(t, s, "a"), newBrand(t, s, "b")
	c1, c2, c3 := newConsumer(t, s, a.ID), newConsumer(t, s, a.ID), newConsumer(t, s, a.ID)
	cb := newConsumer(t, s, b.ID)
	k1, k2 := []byte("hmac-of-key-1"), []byte("hmac-of-key-2")
	rec := func(req, res string) symbiont.IdempotentRecord {
		return symbiont.IdempotentRecord{Request: []byte(req), Result: res}
	}
	lookup := func(tx store.Tx, brand, consumer int64, key []byte) string {
		r := get[*symbiont.IdempotentRecord](t)(tx.Idempotent(ctx, brand, consumer, key))
		if r == nil {
			return ""
		}
		return string(r.Request) + "=" + r.Result
	}
	view(t, s, func(tx store.Tx) error {
		eq(t, "Idempotent(absent)", lookup(tx, a.ID, c1, k1), "")
		return nil
	})
	update(t, s, func(tx store.Tx) error { return tx.PutIdempotent(ctx, a.ID, c1, k1, rec("req1", `{"id":1}`), at(1)) })
	view(t, s, func(tx store.Tx) error {
		eq(t, "Idempotent", lookup(tx, a.ID, c1, k1), `req1={"id":1}`)
		eq(t, "Idempotent(other key)", lookup(tx, a.ID, c1, k2), "")
		eq(t, "Idempotent(other consumer)", lookup(tx, a.ID, c2, k1), "")
		eq(t, "Idempotent(other brand)", lookup(tx, b.ID, c1, k1), "")
		return nil
	})
	err := s.Update(ctx, func(tx store.Tx) error { return tx.PutIdempotent(ctx, a.ID, c1, k1, rec("req2", `{"id":2}`), at(2)) })
	if err == nil {
		t.Error("second PutIdempotent of the same key succeeded")
	}
	// The same key for another consumer or brand is another key.
	update(t, s, func(tx store.Tx) error {
		must(t, tx.PutIdempotent(ctx, a.ID, c2, k1, rec("req", "c2"), at(2)))
		must(t, tx.PutIdempotent(ctx, a.ID, c3, k1, rec("req", "c3"), at(2)))
		must(t, tx.PutIdempotent(ctx, a.ID, c3, k2, rec("req", "c3-k2"), at(2)))
		return tx.PutIdempotent(ctx, b.ID, cb, k1, rec("req", "b"), at(2))
	})
	view(t, s, func(tx store.Tx) error {
		eq(t, "Idempotent after failed overwrite", lookup(tx, a.ID, c1, k1), `req1={"id":1}`)
		eq(t, "Idempotent(other consumer)", lookup(tx, a.ID, c2, k1), "req=c2")
		eq(t, "Idempotent(other brand)", lookup(tx, b.ID, cb, k1), "req=b")
		return nil
	})
	// A merge moves the records to the surviving profile; where both used a key, the
	// survivor's record stands.
	update(t, s, func(tx store.Tx) error { return tx.MergeConsumers(ctx, a.ID, c3, c2, at(3)) })
	view(t, s, func(tx store.Tx) error {
		eq(t, "after merge: survivor's own key", lookup(tx, a.ID, c2, k1), "req=c2")
		eq(t, "after merge: merged profile's key", lookup(tx, a.ID, c2, k2), "req=c3-k2")
		eq(t, "after merge: merged profile", lookup(tx, a.ID, c3, k2), "")
		return nil
	})
	// Redemptions keep their client's key until erasure (journals of old redemptions too).
	redeemed := func(c int64, key string) {
		update(t, s, func(tx store.Tx) error {
			_, err := tx.PostJournals(ctx, []*rewards.Journal{{BrandID: a.ID, ConsumerID: c, Kind: rewards.KindRedemption, At: at(3),
				IdempotencyKey: "redeem/" + key, Postings: []rewards.Posting{{Account: rewards.BrandAccount(a.ID, "issued"), Amount: -5},
					{Account: rewards.BrandAccount(a.ID, "redeemed"), Amount: 5}}}})
			must(t, err)
			return tx.InsertRedemption(ctx, &rewards.Redemption{BrandID: a.ID, ConsumerID: c, Reward: "tree", Cost: 5, Code: "CODE-" + key,
				IdempotencyKey: key, At: at(3)})
		})
	}
	redeemed(c1, "client-key-c1")
	redeemed(c2, "client-key-c2")
	// Erasure deletes the consumer's records, and only theirs.
	update(t, s, func(tx store.Tx) error {
		_, err := tx.DeleteConsumerData(ctx, a.ID, []int64{c2, c3}, at(4))
		return err
	})
	view(t, s, func(tx store.Tx) error {
		if r := get[*rewards.Redemption](t)(tx.RedemptionByKey(ctx, c2, "client-key-c2")); r != nil {
			t.Errorf("the erased consumer's redemption keeps its client key: %+v", r)
		}
		rs := get[[]*rewards.Redemption](t)(tx.Redemptions(ctx, c2))
		if len(rs) != 1 || !strings.HasPrefix(rs[0].IdempotencyKey, "erased:") || rs[0].Code != "CODE-client-key-c2" {
			t.Errorf("the erased consumer's redemptions: %+v, want one, its key erased:…", rs)
		}
		if j := get[*rewards.Journal](t)(tx.JournalByKey(ctx, a.ID, "redeem/client-key-c2")); j != nil {
			t.Errorf("the erased consumer's journal keeps the client key: %+v", j)
		}
		if r := get[*rewards.Redemption](t)(tx.RedemptionByKey(ctx, c1, "client-key-c1")); r == nil {
			t.Error("another consumer's redemption lost its key")
		}
		if j := get[*rewards.Journal](t)(tx.JournalByKey(ctx, a.ID, "redeem/client-key-c1")); j == nil {
			t.Error("another consumer's journal lost its key")
		}
		return nil
	})
	view(t, s, func(tx store.Tx) error {
		eq(t, "after erasure", lookup(tx, a.ID, c2, k1)+lookup(tx, a.ID, c2, k2)+lookup(tx, a.ID, c3, k1), "")
		eq(t, "after another's erasure", lookup(tx, a.ID, c1, k1), `req1={"id":1}`)
		eq(t, "other brand after erasure", lookup(tx, b.ID, cb, k1), "req=b")
		return nil
	})
}

// ---- consent ----

func testConsentRecords(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	a := newBrand(t, s, "a")
	c := newConsumer(t, s, a.ID)
	r1 := grant(a.ID, c, "email", "marketing", consent.StateGiven, at(1))
	r1.ExpiresAt = at(60 * 24 * 365)
	r1.Notice = consent.Notice{ID: "privacy", Version: "3", Hash: "sha256:" + hex.EncodeToString(hash("notice")), Language: "de-CH", URL: "https://example.com/privacy?v=3"}
	r1.LegalBasis, r1.Method, r1.Actor = consent.BasisExplicitConsent, consent.MethodWallet, "wallet:ws_1"
	r1.Jurisdiction, r1.Explicit = "CH", true
	r1.Evidence = json.RawMessage(`{"form":"signup","ip_hash":"ab12","checkboxes":[1,2]}`)
	r1.Receipt = "eyJhbGciOiJFZERTQSJ9.e30.sig"
	r2 := grant(a.ID, c, "email", "analytics", consent.StateGiven, at(2))
	r3 := grant(a.ID, c, "email", "marketing", consent.StateWithdrawn, at(3))
	r3.Method = consent.MethodGPC
	r4 := grant(a.ID, c, "location", "ads", consent.StateRefused, at(4))
	r5 := grant(a.ID, c, "email", "analytics", consent.StateGiven, at(5)) // renewed
	r5.ExpiresAt = at(100)
	insertRecords(t, s, r1, r2, r3, r4, r5)
	if !(r1.ID < r2.ID && r2.ID < r3.ID && r3.ID < r4.ID && r4.ID < r5.ID) {
		t.Errorf("record ids not increasing: %v", recordIDs([]*consent.Record{r1, r2, r3, r4, r5}))
	}
	view(t, s, func(tx store.Tx) error {
		// Current: the latest per (category, purpose), ordered by category, purpose.
		eq(t, "CurrentConsents", get[[]*consent.Record](t)(tx.CurrentConsents(ctx, a.ID, c)), []*consent.Record{r5, r3, r4})
		// History: everything, oldest first, every field round-tripped.
		eq(t, "ConsentHistory", get[[]*consent.Record](t)(tx.ConsentHistory(ctx, a.ID, c)), []*consent.Record{r1, r2, r3, r4, r5})
		return nil
	})
	view(t, s, func(tx store.Tx) error {
		if rs := get[[]*consent.Record](t)(tx.CurrentConsents(ctx, a.ID, c+1000)); len(rs) != 0 {
			t.Errorf("CurrentConsents of an unknown consumer: %d records", len(rs))
		}
		if rs := get[[]*consent.Record](t)(tx.ConsentHistory(ctx, a.ID, c+1000)); len(rs) != 0 {
			t.Errorf("ConsentHistory of an unknown consumer: %d records", len(rs))
		}
		return nil
	})
	// Receipt ids are unique.
	dup := grant(a.ID, c, "email", "marketing", consent.StateGiven, at(6))
	dup.ReceiptID = r1.ReceiptID
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.InsertConsentRecord(ctx, dup) }); err == nil {
		t.Error("InsertConsentRecord with a taken receipt id succeeded")
	}
}

func testConsentIsolation(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	a, b := newBrand(t, s, "a"), newBrand(t, s, "b")
	ca, cb := newConsumer(t, s, a.ID), newConsumer(t, s, b.ID)
	ra := grant(a.ID, ca, "email", "marketing", consent.StateGiven, at(1))
	rb := grant(b.ID, cb, "email", "marketing", consent.StateGiven, at(2))
	insertRecords(t, s, ra, rb)
	view(t, s, func(tx store.Tx) error {
		eq(t, "CurrentConsents(a, ca)", get[[]*consent.Record](t)(tx.CurrentConsents(ctx, a.ID, ca)), []*consent.Record{ra})
		eq(t, "CurrentConsents(b, cb)", get[[]*consent.Record](t)(tx.CurrentConsents(ctx, b.ID, cb)), []*consent.Record{rb})
		for _, q := range []struct{ brand, consumer int64 }{{a.ID, cb}, {b.ID, ca}} {
			if rs := get[[]*consent.Record](t)(tx.CurrentConsents(ctx, q.brand, q.consumer)); len(rs) != 0 {
				t.Errorf("CurrentConsents(brand %d, consumer %d of another brand) = %s", q.brand, q.consumer, dump(rs))
			}
			if rs := get[[]*consent.Record](t)(tx.ConsentHistory(ctx, q.brand, q.consumer)); len(rs) != 0 {
				t.Errorf("ConsentHistory(brand %d, consumer %d of another brand) = %s", q.brand, q.consumer, dump(rs))
			}
		}
		return nil
	})
}

func testDueExpiries(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	a, b := newBrand(t, s, "a"), newBrand(t, s, "b")
	var cs [7]int64
	for i := range cs {
		brand := a.ID
		if i == 1 {
			brand = b.ID // expiries are found across brands
		}
		cs[i] = newConsumer(t, s, brand)
	}
	due10 := grant(a.ID, cs[0], "email", "marketing", consent.StateGiven, at(1))
	due10.ExpiresAt = at(10)
	due20 := grant(b.ID, cs[1], "email", "marketing", consent.StateGiven, at(1))
	due20.ExpiresAt = at(20)
	dueNow := grant(a.ID, cs[2], "email", "analytics", consent.StateGiven, at(1))
	dueNow.ExpiresAt = at(25) // exactly now: due
	later := grant(a.ID, cs[3], "email", "marketing", consent.StateGiven, at(1))
	later.ExpiresAt = at(26)
	forever := grant(a.ID, cs[4], "email", "marketing", consent.StateGiven, at(1))
	// Withdrawn after a grant that would be due: the current state is withdrawn.
	gone := grant(a.ID, cs[5], "email", "marketing", consent.StateGiven, at(1))
	gone.ExpiresAt = at(5)
	goneW := grant(a.ID, cs[5], "email", "marketing", consent.StateWithdrawn, at(2))
	goneW.ExpiresAt = at(5) // even with an expiry on the withdrawal
	// Renewed: the old grant was due, the current one is not.
	old := grant(a.ID, cs[6], "email", "marketing", consent.StateGiven, at(1))
	old.ExpiresAt = at(5)
	renewed := grant(a.ID, cs[6], "email", "marketing", consent.StateGiven, at(3))
	renewed.ExpiresAt = at(500)
	insertRecords(t, s, due20, later, due10, forever, dueNow, gone, goneW, old, renewed)

	view(t, s, func(tx store.Tx) error {
		eq(t, "DueExpiries(now, 10)", recordIDs(get[[]*consent.Record](t)(tx.DueExpiries(ctx, at(25), 10))),
			recordIDs([]*consent.Record{due10, due20, dueNow}))
		eq(t, "DueExpiries(now, 2)", recordIDs(get[[]*consent.Record](t)(tx.DueExpiries(ctx, at(25), 2))),
			recordIDs([]*consent.Record{due10, due20}))
		eq(t, "DueExpiries(earlier)", recordIDs(get[[]*consent.Record](t)(tx.DueExpiries(ctx, at(15), 10))),
			recordIDs([]*consent.Record{due10}))
		if rs := get[[]*consent.Record](t)(tx.DueExpiries(ctx, at(9), 10)); len(rs) != 0 {
			t.Errorf("DueExpiries before any expiry: %s", dump(recordIDs(rs)))
		}
		eq(t, "DueExpiries(full record)", get[[]*consent.Record](t)(tx.DueExpiries(ctx, at(10), 10)), []*consent.Record{due10})
		// Up to limit: none for a limit ≤ 0, in every dialect.
		for _, limit := range []int{0, -1} {
			if rs, err := tx.DueExpiries(ctx, at(25), limit); err != nil || len(rs) != 0 {
				t.Errorf("DueExpiries(limit %d) = %d records, %v; want none, nil", limit, len(rs), err)
			}
		}
		return nil
	})
}

func testForEachActiveConsent(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	a, b := newBrand(t, s, "a"), newBrand(t, s, "b")
	c1, c2, c3 := newConsumer(t, s, a.ID), newConsumer(t, s, a.ID), newConsumer(t, s, b.ID)
	g1 := grant(a.ID, c1, "email", "marketing", consent.StateGiven, at(1))
	g1.ExpiresAt = at(2) // lapsed but not yet expired by the sweeper: still state given
	g1old := grant(a.ID, c1, "email", "analytics", consent.StateGiven, at(1))
	w1 := grant(a.ID, c1, "email", "analytics", consent.StateWithdrawn, at(2))
	r2 := grant(a.ID, c2, "email", "marketing", consent.StateRefused, at(1))
	e2 := grant(a.ID, c2, "phone", "marketing", consent.StateExpired, at(1))
	g2 := grant(a.ID, c2, "phone", "ads", consent.StateGiven, at(3))
	g3 := grant(b.ID, c3, "email", "marketing", consent.StateGiven, at(1))
	g3.Evidence = json.RawMessage(`{"x":true}`)
	insertRecords(t, s, g1, g1old, w1, r2, e2, g2, g3)

	var got []*consent.Record
	if err := s.ForEachActiveConsent(ctx, func(r *consent.Record) error { got = append(got, r); return nil }); err != nil {
		t.Fatalf("ForEachActiveConsent: %v", err)
	}
	slices.SortFunc(got, func(x, y *consent.Record) int { return int(x.ID - y.ID) })
	eq(t, "ForEachActiveConsent", got, []*consent.Record{g1, g2, g3})

	n := 0
	err := s.ForEachActiveConsent(ctx, func(*consent.Record) error { n++; return errTest })
	if !errors.Is(err, errTest) || n != 1 {
		t.Errorf("ForEachActiveConsent with fn failing: err %v after %d calls; want errTest after 1", err, n)
	}
	// The store is still usable after the stream was abandoned.
	update(t, s, func(tx store.Tx) error {
		return tx.InsertConsentRecord(ctx, grant(a.ID, c1, "x", "y", consent.StateGiven, at(9)))
	})
}

func testCustomTerms(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	a, b := newBrand(t, s, "a"), newBrand(t, s, "b")
	view(t, s, func(tx store.Tx) error {
		if ts := get[[]consent.Term](t)(tx.CustomTerms(ctx, a.ID)); len(ts) != 0 {
			t.Errorf("CustomTerms of a new brand: %s", dump(ts))
		}
		return nil
	})
	loyalty := consent.Term{Kind: "category", Name: "loyalty", Label: "Loyalty", Description: "Points and tiers"}
	health := consent.Term{Kind: "category", Name: "health_data", Label: "Health", Description: "Fitness data", DPV: "dpv-pd:Health", Sensitive: true}
	raffle := consent.Term{Kind: "purpose", Name: "raffle", Label: "Raffles", Description: "Prize draws", DPV: "dpv:Marketing"}
	update(t, s, func(tx store.Tx) error {
		for _, term := range []consent.Term{raffle, loyalty, health} {
			must(t, tx.PutCustomTerm(ctx, a.ID, term))
		}
		return tx.PutCustomTerm(ctx, b.ID, consent.Term{Kind: "purpose", Name: "raffle", Label: "B raffles", Description: "b"})
	})
	view(t, s, func(tx store.Tx) error {
		eq(t, "CustomTerms", get[[]consent.Term](t)(tx.CustomTerms(ctx, a.ID)), []consent.Term{health, loyalty, raffle})
		return nil
	})
	// Update in place: same kind and name.
	loyalty2 := consent.Term{Kind: "category", Name: "loyalty", Label: "Loyalty programme", Description: "Points", DPV: "dpv-pd:Loyalty", Sensitive: true}
	health2 := health
	health2.Sensitive, health2.DPV = false, ""
	update(t, s, func(tx store.Tx) error {
		must(t, tx.PutCustomTerm(ctx, a.ID, loyalty2))
		return tx.PutCustomTerm(ctx, a.ID, health2)
	})
	view(t, s, func(tx store.Tx) error {
		eq(t, "CustomTerms after update", get[[]consent.Term](t)(tx.CustomTerms(ctx, a.ID)), []consent.Term{health2, loyalty2, raffle})
		eq(t, "CustomTerms(other brand)", get[[]consent.Term](t)(tx.CustomTerms(ctx, b.ID)),
			[]consent.Term{{Kind: "purpose", Name: "raffle", Label: "B raffles", Description: "b"}})
		return nil
	})
}

// ---- identity ----

func testConsumers(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	a, b := newBrand(t, s, "a"), newBrand(t, s, "b")
	var c1, c2 int64
	update(t, s, func(tx store.Tx) (err error) {
		c1 = get[int64](t)(tx.CreateConsumer(ctx, a.ID, at(1)))
		c2 = get[int64](t)(tx.CreateConsumer(ctx, a.ID, at(2)))
		return nil
	})
	if c1 == 0 || c2 == 0 || c1 == c2 {
		t.Fatalf("consumer ids %d, %d", c1, c2)
	}
	view(t, s, func(tx store.Tx) error {
		eq(t, "Consumer", get[*identity.Consumer](t)(tx.Consumer(ctx, a.ID, c1)), &identity.Consumer{ID: c1, BrandID: a.ID, CreatedAt: at(1)})
		eq(t, "Consumer", get[*identity.Consumer](t)(tx.Consumer(ctx, a.ID, c2)), &identity.Consumer{ID: c2, BrandID: a.ID, CreatedAt: at(2)})
		_, err := tx.Consumer(ctx, b.ID, c1)
		wantCode(t, "Consumer(another brand's)", err, symbiont.ENOTFOUND)
		_, err = tx.Consumer(ctx, a.ID, c2+1000)
		wantCode(t, "Consumer(unknown)", err, symbiont.ENOTFOUND)
		return nil
	})
}

// Transactions creating the consumer of one new user id at the same time (two first requests
// for a new user, on two nodes) create one consumer; transactions linking one new user id to
// different consumers at the same time link it to one of them.
func testIdentifiersRacingCreators(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	a := newBrand(t, s, "a")
	g := identity.NewGraph(func(label string) []byte { return []byte("test key " + label) })
	const n = 4
	race := func(fn func(i int, tx store.Tx) error) {
		t.Helper()
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				errs[i] = s.Update(ctx, func(tx store.Tx) error {
					if err := fn(i, tx); err != nil {
						return err
					}
					time.Sleep(50 * time.Millisecond) // hold the transaction open while the others go on
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
	}
	ids := make([]int64, n)
	race(func(i int, tx store.Tx) (err error) {
		ids[i], _, err = g.Resolve(ctx, tx, a.ID, identity.KindUserID, "new-user", true, at(1))
		return err
	})
	for i := range ids {
		if ids[i] == 0 || ids[i] != ids[0] {
			t.Fatalf("Resolve gave consumers %v for one new user id, want one", ids)
		}
	}
	hash := g.Hash(a.ID, identity.KindUserID, "new-user")
	view(t, s, func(tx store.Tx) error {
		eq(t, "consumers of the new user id", get[[]int64](t)(tx.LookupIdentifier(ctx, a.ID, identity.KindUserID, hash)), []int64{ids[0]})
		return nil
	})

	consumers := make([]int64, n)
	for i := range consumers {
		consumers[i] = newConsumer(t, s, a.ID)
	}
	linked := make([]bool, n)
	other := g.Hash(a.ID, identity.KindUserID, "linked-user")
	race(func(i int, tx store.Tx) (err error) {
		linked[i], err = g.Link(ctx, tx, a.ID, consumers[i], identity.KindUserID, other, nil, 0, at(2))
		return err
	})
	var owners []int64
	for i, ok := range linked {
		if ok {
			owners = append(owners, consumers[i])
		}
	}
	view(t, s, func(tx store.Tx) error {
		got := get[[]int64](t)(tx.LookupIdentifier(ctx, a.ID, identity.KindUserID, other))
		if len(owners) != 1 || len(got) != 1 || got[0] != owners[0] {
			t.Errorf("one user id linked to %v (Link reported %v), want exactly one consumer", got, linked)
		}
		return nil
	})
}

func testIdentifiers(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	a, b := newBrand(t, s, "a"), newBrand(t, s, "b")
	c1, c2 := newConsumer(t, s, a.ID), newConsumer(t, s, a.ID)
	email := &identity.Identifier{BrandID: a.ID, Kind: identity.KindEmail, Hash: hash("ann@example.com"), ConsumerID: c1,
		Sealed: []byte("sealed-email"), KeyOwner: c1, CreatedAt: at(1)}
	anon := &identity.Identifier{BrandID: a.ID, Kind: identity.KindAnonymousID, Hash: hash("anon-1"), ConsumerID: c1, CreatedAt: at(1)}
	ext := &identity.Identifier{BrandID: a.ID, Kind: "ext:shopify", Hash: hash("shop-9"), ConsumerID: c1, CreatedAt: at(3)}
	shared := &identity.Identifier{BrandID: a.ID, Kind: identity.KindEmail, Hash: email.Hash, ConsumerID: c2, CreatedAt: at(2)}
	update(t, s, func(tx store.Tx) error {
		for _, id := range []*identity.Identifier{ext, email, anon, shared} {
			must(t, tx.LinkIdentifier(ctx, id))
		}
		// Linking again is a no-op, whatever else differs.
		again := *email
		again.Sealed, again.CreatedAt = []byte("other"), at(9)
		return tx.LinkIdentifier(ctx, &again)
	})
	view(t, s, func(tx store.Tx) error {
		// Ordered by creation time, then kind.
		eq(t, "ConsumerIdentifiers(c1)", get[[]*identity.Identifier](t)(tx.ConsumerIdentifiers(ctx, a.ID, c1)),
			[]*identity.Identifier{anon, email, ext})
		eq(t, "ConsumerIdentifiers(c2)", get[[]*identity.Identifier](t)(tx.ConsumerIdentifiers(ctx, a.ID, c2)),
			[]*identity.Identifier{shared})
		eq(t, "LookupIdentifier(shared email)", get[[]int64](t)(tx.LookupIdentifier(ctx, a.ID, identity.KindEmail, email.Hash)), []int64{c1, c2})
		eq(t, "LookupIdentifier(anon)", get[[]int64](t)(tx.LookupIdentifier(ctx, a.ID, identity.KindAnonymousID, anon.Hash)), []int64{c1})
		if ids := get[[]int64](t)(tx.LookupIdentifier(ctx, a.ID, identity.KindUserID, email.Hash)); len(ids) != 0 {
			t.Errorf("LookupIdentifier with another kind: %v", ids)
		}
		if ids := get[[]int64](t)(tx.LookupIdentifier(ctx, b.ID, identity.KindEmail, email.Hash)); len(ids) != 0 {
			t.Errorf("LookupIdentifier in another brand: %v", ids)
		}
		if ids := get[[]int64](t)(tx.LookupIdentifier(ctx, a.ID, identity.KindEmail, hash("nobody"))); len(ids) != 0 {
			t.Errorf("LookupIdentifier(unknown): %v", ids)
		}
		if ids := get[[]*identity.Identifier](t)(tx.ConsumerIdentifiers(ctx, b.ID, c1)); len(ids) != 0 {
			t.Errorf("ConsumerIdentifiers through another brand: %s", dump(ids))
		}
		return nil
	})
}

func testMerge(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	a := newBrand(t, s, "a")
	from, into, other := newConsumer(t, s, a.ID), newConsumer(t, s, a.ID), newConsumer(t, s, a.ID)

	// Identifiers: one shared by both (deduplicated), one each.
	fEmail := &identity.Identifier{BrandID: a.ID, Kind: identity.KindEmail, Hash: hash("e"), ConsumerID: from, Sealed: []byte("f"), KeyOwner: from, CreatedAt: at(1)}
	fAnon := &identity.Identifier{BrandID: a.ID, Kind: identity.KindAnonymousID, Hash: hash("anon"), ConsumerID: from, CreatedAt: at(2)}
	iEmail := &identity.Identifier{BrandID: a.ID, Kind: identity.KindEmail, Hash: hash("e"), ConsumerID: into, Sealed: []byte("i"), KeyOwner: into, CreatedAt: at(3)}
	iUser := &identity.Identifier{BrandID: a.ID, Kind: identity.KindUserID, Hash: hash("u"), ConsumerID: into, CreatedAt: at(4)}
	oAnon := &identity.Identifier{BrandID: a.ID, Kind: identity.KindAnonymousID, Hash: hash("o"), ConsumerID: other, CreatedAt: at(1)}
	update(t, s, func(tx store.Tx) error {
		for _, id := range []*identity.Identifier{fEmail, fAnon, iEmail, iUser, oAnon} {
			must(t, tx.LinkIdentifier(ctx, id))
		}
		return nil
	})
	// Events.
	f1, i1, f2, o1 := event(a.ID, from, "email", "f1", 1), event(a.ID, into, "email", "i1", 2), event(a.ID, from, "location", "f2", 3), event(a.ID, other, "email", "o1", 4)
	// The same message stored under both (a retry straddling the merge) is kept once.
	sameF, sameI := event(a.ID, from, "email", "same", 5), event(a.ID, into, "email", "same", 5)
	insertEvents(t, s, f1, i1, f2, o1, sameF, sameI)
	// Consents: the more recent decision per (category, purpose) wins, whichever side it is on.
	intoOld := grant(a.ID, into, "email", "marketing", consent.StateWithdrawn, at(3))
	fromNew := grant(a.ID, from, "email", "marketing", consent.StateGiven, at(5)) // from wins
	fromOld := grant(a.ID, from, "email", "analytics", consent.StateGiven, at(2))
	intoNew := grant(a.ID, into, "email", "analytics", consent.StateWithdrawn, at(6)) // into wins
	fromOnly := grant(a.ID, from, "phone", "ads", consent.StateGiven, at(1))
	intoOnly := grant(a.ID, into, "location", "ads", consent.StateRefused, at(1))
	otherR := grant(a.ID, other, "email", "marketing", consent.StateGiven, at(1))
	// History: an older from record superseded by fromNew.
	fromHist := grant(a.ID, from, "email", "marketing", consent.StateRefused, at(0))
	insertRecords(t, s, fromHist, intoOld, fromNew, fromOld, intoNew, fromOnly, intoOnly, otherR)
	// Access records and wallet sessions.
	aF := &store.AccessRecord{BrandID: a.ID, ConsumerID: from, Actor: "key:k", Purpose: "support", Categories: []string{"email"}, Records: 1, Action: "read", At: at(1)}
	aI := &store.AccessRecord{BrandID: a.ID, ConsumerID: into, Actor: "key:k", Purpose: "support", Categories: []string{"email"}, Records: 2, Action: "read", At: at(2)}
	sF := &tenant.Session{ID: "ws_from", BrandID: a.ID, ConsumerID: from, Hash: hash("wsf"), CreatedAt: at(1), ExpiresAt: at(100)}
	update(t, s, func(tx store.Tx) error {
		must(t, tx.InsertAccess(ctx, aF))
		must(t, tx.InsertAccess(ctx, aI))
		return tx.CreateSession(ctx, sF)
	})

	update(t, s, func(tx store.Tx) error { return tx.MergeConsumers(ctx, a.ID, from, into, at(10)) })

	view(t, s, func(tx store.Tx) error {
		// Identifiers moved, the shared one kept once (into's row).
		eq(t, "ConsumerIdentifiers(into)", get[[]*identity.Identifier](t)(tx.ConsumerIdentifiers(ctx, a.ID, into)), []*identity.Identifier{
			{BrandID: a.ID, Kind: identity.KindAnonymousID, Hash: hash("anon"), ConsumerID: into, CreatedAt: at(2)},
			iEmail, iUser,
		})
		if ids := get[[]*identity.Identifier](t)(tx.ConsumerIdentifiers(ctx, a.ID, from)); len(ids) != 0 {
			t.Errorf("from still has identifiers: %s", dump(ids))
		}
		eq(t, "LookupIdentifier(shared)", get[[]int64](t)(tx.LookupIdentifier(ctx, a.ID, identity.KindEmail, hash("e"))), []int64{into})
		eq(t, "LookupIdentifier(from's)", get[[]int64](t)(tx.LookupIdentifier(ctx, a.ID, identity.KindAnonymousID, hash("anon"))), []int64{into})

		// Events moved, in arrival order; the key owner stays the consumer whose key sealed
		// them. (A store may re-key moved events, so they are matched by MID.)
		evs := get[[]*store.Event](t)(tx.ConsumerEvents(ctx, a.ID, into, nil, 0))
		var mids []string
		same := 0
		for _, e := range evs {
			if string(e.MID) == string(sameF.MID) {
				same++
			} else {
				mids = append(mids, string(e.MID))
			}
		}
		eq(t, "ConsumerEvents(into) mids", mids, []string{string(f1.MID), string(i1.MID), string(f2.MID)})
		if same != 1 {
			t.Errorf("a message stored under both consumers is under the merged one %d times, want once", same)
		}
		for _, e := range evs {
			if string(e.MID) == string(f1.MID) && (e.ConsumerID != into || e.KeyOwner != from) {
				t.Errorf("moved event: consumer %d key owner %d; want %d, %d", e.ConsumerID, e.KeyOwner, into, from)
			}
		}
		if evs := get[[]*store.Event](t)(tx.ConsumerEvents(ctx, a.ID, from, nil, 0)); len(evs) != 0 {
			t.Errorf("from still has %d events", len(evs))
		}

		// Consents.
		cur := get[[]*consent.Record](t)(tx.CurrentConsents(ctx, a.ID, into))
		byKey := map[string]*consent.Record{}
		for _, r := range cur {
			if r.ConsumerID != into {
				t.Errorf("current record %d has consumer %d, want %d", r.ID, r.ConsumerID, into)
			}
			byKey[r.Category+"/"+r.Purpose] = r
		}
		for k, want := range map[string]*consent.Record{
			"email/marketing": fromNew, "email/analytics": intoNew, "phone/ads": fromOnly, "location/ads": intoOnly,
		} {
			if got := byKey[k]; got == nil || got.ID != want.ID || got.State != want.State {
				t.Errorf("current %s after merge = %s, want record %d (%s)", k, dump(got), want.ID, want.State)
			}
		}
		if len(cur) != 4 {
			t.Errorf("into has %d current consents, want 4: %s", len(cur), dump(cur))
		}
		if rs := get[[]*consent.Record](t)(tx.CurrentConsents(ctx, a.ID, from)); len(rs) != 0 {
			t.Errorf("from still has current consents: %s", dump(rs))
		}
		eq(t, "ConsentHistory(into)", recordIDs(get[[]*consent.Record](t)(tx.ConsentHistory(ctx, a.ID, into))),
			recordIDs([]*consent.Record{fromHist, intoOld, fromNew, fromOld, intoNew, fromOnly, intoOnly}))
		if rs := get[[]*consent.Record](t)(tx.ConsentHistory(ctx, a.ID, from)); len(rs) != 0 {
			t.Errorf("from still has consent history: %d records", len(rs))
		}

		// Access records and sessions.
		log := get[[]*store.AccessRecord](t)(tx.AccessLog(ctx, a.ID, into, 0))
		if len(log) != 2 || log[0].ID != aI.ID || log[1].ID != aF.ID {
			t.Errorf("AccessLog(into) = %s, want records %d, %d", dump(log), aI.ID, aF.ID)
		}
		if log := get[[]*store.AccessRecord](t)(tx.AccessLog(ctx, a.ID, from, 0)); len(log) != 0 {
			t.Errorf("from still has access records: %s", dump(log))
		}
		if ss := get[*tenant.Session](t)(tx.SessionByHash(ctx, sF.Hash)); ss.ConsumerID != into {
			t.Errorf("from's wallet session belongs to %d, want %d", ss.ConsumerID, into)
		}

		// Merge marks.
		if c := get[*identity.Consumer](t)(tx.Consumer(ctx, a.ID, from)); c.MergedInto != into {
			t.Errorf("from.MergedInto = %d, want %d", c.MergedInto, into)
		}
		if c := get[*identity.Consumer](t)(tx.Consumer(ctx, a.ID, into)); c.MergedInto != 0 {
			t.Errorf("into.MergedInto = %d, want 0", c.MergedInto)
		}
		eq(t, "MergedFrom(into)", get[[]int64](t)(tx.MergedFrom(ctx, a.ID, into)), []int64{from})
		if ids := get[[]int64](t)(tx.MergedFrom(ctx, a.ID, other)); len(ids) != 0 {
			t.Errorf("MergedFrom(other) = %v", ids)
		}

		// The bystander is untouched.
		eq(t, "ConsumerIdentifiers(other)", get[[]*identity.Identifier](t)(tx.ConsumerIdentifiers(ctx, a.ID, other)), []*identity.Identifier{oAnon})
		eq(t, "ConsumerEvents(other)", eventIDs(get[[]*store.Event](t)(tx.ConsumerEvents(ctx, a.ID, other, nil, 0))), []int64{o1.ID})
		eq(t, "CurrentConsents(other)", recordIDs(get[[]*consent.Record](t)(tx.CurrentConsents(ctx, a.ID, other))), []int64{otherR.ID})
		return nil
	})

	// LookupIdentifier finds live consumers only: a link made to the merged consumer afterwards
	// (say by a node with a stale cache) is not found.
	update(t, s, func(tx store.Tx) error {
		return tx.LinkIdentifier(ctx, &identity.Identifier{BrandID: a.ID, Kind: identity.KindAnonymousID, Hash: hash("late"), ConsumerID: from, CreatedAt: at(11)})
	})
	view(t, s, func(tx store.Tx) error {
		if ids := get[[]int64](t)(tx.LookupIdentifier(ctx, a.ID, identity.KindAnonymousID, hash("late"))); len(ids) != 0 {
			t.Errorf("LookupIdentifier found merged consumers %v", ids)
		}
		return nil
	})
}

func testMergeChain(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	a, b := newBrand(t, s, "a"), newBrand(t, s, "b")
	ca, cb, cc, cd := newConsumer(t, s, a.ID), newConsumer(t, s, a.ID), newConsumer(t, s, a.ID), newConsumer(t, s, a.ID)
	x := newConsumer(t, s, a.ID) // merged into ca before ca is merged on
	update(t, s, func(tx store.Tx) error {
		must(t, tx.MergeConsumers(ctx, a.ID, x, ca, at(1)))
		must(t, tx.MergeConsumers(ctx, a.ID, ca, cb, at(2)))
		return tx.MergeConsumers(ctx, a.ID, cb, cc, at(3))
	})
	sorted := func(ids []int64) []int64 { slices.Sort(ids); return ids }
	view(t, s, func(tx store.Tx) error {
		eq(t, "MergedFrom(C) after X→A, A→B, B→C", sorted(get[[]int64](t)(tx.MergedFrom(ctx, a.ID, cc))), sorted([]int64{x, ca, cb}))
		for _, id := range []int64{x, ca, cb} {
			if c := get[*identity.Consumer](t)(tx.Consumer(ctx, a.ID, id)); c.MergedInto == 0 {
				t.Errorf("consumer %d merged but MergedInto = 0", id)
			}
		}
		if c := get[*identity.Consumer](t)(tx.Consumer(ctx, a.ID, cb)); c.MergedInto != cc {
			t.Errorf("B.MergedInto = %d, want C (%d)", c.MergedInto, cc)
		}
		if ids := get[[]int64](t)(tx.MergedFrom(ctx, b.ID, cc)); len(ids) != 0 {
			t.Errorf("MergedFrom through another brand: %v", ids)
		}
		return nil
	})
	update(t, s, func(tx store.Tx) error { return tx.MergeConsumers(ctx, a.ID, cc, cd, at(4)) })
	view(t, s, func(tx store.Tx) error {
		eq(t, "MergedFrom(D) after C→D", sorted(get[[]int64](t)(tx.MergedFrom(ctx, a.ID, cd))), sorted([]int64{x, ca, cb, cc}))
		return nil
	})
}

func testConflicts(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	a, b := newBrand(t, s, "a"), newBrand(t, s, "b")
	view(t, s, func(tx store.Tx) error {
		if cs := get[[]*identity.Conflict](t)(tx.Conflicts(ctx, a.ID)); len(cs) != 0 {
			t.Errorf("Conflicts of a new brand: %s", dump(cs))
		}
		return nil
	})
	email := &identity.Conflict{BrandID: a.ID, Kind: identity.KindEmail, Hash: hash("shared@example.com"), Consumers: 3, FirstSeen: at(1), LastSeen: at(1)}
	phone := &identity.Conflict{BrandID: a.ID, Kind: identity.KindPhone, Hash: hash("+41000"), Consumers: 4, FirstSeen: at(2), LastSeen: at(2)}
	update(t, s, func(tx store.Tx) error {
		must(t, tx.RecordConflict(ctx, email))
		must(t, tx.RecordConflict(ctx, phone))
		return tx.RecordConflict(ctx, &identity.Conflict{BrandID: b.ID, Kind: identity.KindEmail, Hash: email.Hash, Consumers: 9, FirstSeen: at(1), LastSeen: at(1)})
	})
	withHex := func(c identity.Conflict) *identity.Conflict { c.HashHex = hex.EncodeToString(c.Hash); return &c }
	view(t, s, func(tx store.Tx) error {
		eq(t, "Conflicts", get[[]*identity.Conflict](t)(tx.Conflicts(ctx, a.ID)), []*identity.Conflict{withHex(*phone), withHex(*email)})
		return nil
	})
	// Refresh: consumers and last seen change, first seen stays.
	update(t, s, func(tx store.Tx) error {
		return tx.RecordConflict(ctx, &identity.Conflict{BrandID: a.ID, Kind: identity.KindEmail, Hash: email.Hash, Consumers: 5, FirstSeen: at(9), LastSeen: at(9)})
	})
	refreshed := *email
	refreshed.Consumers, refreshed.LastSeen = 5, at(9)
	view(t, s, func(tx store.Tx) error {
		eq(t, "Conflicts after refresh", get[[]*identity.Conflict](t)(tx.Conflicts(ctx, a.ID)), []*identity.Conflict{withHex(refreshed), withHex(*phone)})
		cs := get[[]*identity.Conflict](t)(tx.Conflicts(ctx, b.ID))
		if len(cs) != 1 || cs[0].Consumers != 9 {
			t.Errorf("Conflicts(b) = %s", dump(cs))
		}
		return nil
	})
}

// ---- events ----

func testInsertEvents(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	a := newBrand(t, s, "a")
	c := newConsumer(t, s, a.ID)
	e1, e2, e3 := event(a.ID, c, "email", "m1", 1), event(a.ID, c, "email", "m2", 2), event(a.ID, c, "location", "m3", 3)
	eq(t, "InsertEvents(new)", insertEvents(t, s, e1, e2, e3), []bool{true, true, true})
	if e1.ID == 0 || !(e1.ID < e2.ID && e2.ID < e3.ID) {
		t.Errorf("ids %d, %d, %d: want set and increasing", e1.ID, e2.ID, e3.ID)
	}
	// A duplicate of a stored event, across calls.
	d1, e4 := event(a.ID, c, "email", "m1", 9), event(a.ID, c, "email", "m4", 4)
	eq(t, "InsertEvents(dup, new)", insertEvents(t, s, d1, e4), []bool{false, true})
	if d1.ID != 0 || e4.ID <= e3.ID {
		t.Errorf("duplicate got ID %d (want 0); new got %d (want > %d)", d1.ID, e4.ID, e3.ID)
	}
	// A duplicate within one call: the second occurrence is the duplicate.
	e5, e6, d5 := event(a.ID, c, "email", "m5", 5), event(a.ID, c, "email", "m6", 6), event(a.ID, c, "phone", "m5", 7)
	eq(t, "InsertEvents(x, y, x)", insertEvents(t, s, e5, e6, d5), []bool{true, true, false})
	if e5.ID == 0 || e6.ID == 0 || d5.ID != 0 {
		t.Errorf("ids %d, %d, %d: want set, set, 0", e5.ID, e6.ID, d5.ID)
	}
	// Only duplicates; and nothing at all.
	eq(t, "InsertEvents(all dups)", insertEvents(t, s, event(a.ID, c, "email", "m2", 1), event(a.ID, c, "email", "m6", 1)), []bool{false, false})
	update(t, s, func(tx store.Tx) error {
		ins, err := tx.InsertEvents(ctx, nil)
		if err != nil || len(ins) != 0 {
			t.Errorf("InsertEvents(nil) = %v, %v", ins, err)
		}
		return nil
	})
	got := consumerEvents(t, s, a.ID, c, nil, 0)
	eq(t, "stored events", got, []*store.Event{e1, e2, e3, e4, e5, e6})

	// Deduplication is per consumer: the same MID for another consumer is another event, across
	// calls and within one.
	c2, c3 := newConsumer(t, s, a.ID), newConsumer(t, s, a.ID)
	o1 := event(a.ID, c2, "email", "m1", 1)
	eq(t, "InsertEvents(stored MID, other consumer)", insertEvents(t, s, o1), []bool{true})
	x2, x3, dx3 := event(a.ID, c2, "email", "shared", 1), event(a.ID, c3, "email", "shared", 1), event(a.ID, c3, "email", "shared", 2)
	eq(t, "InsertEvents(MID for two consumers, then again)", insertEvents(t, s, x2, x3, dx3), []bool{true, true, false})
	if o1.ID == 0 || x2.ID == 0 || x3.ID == 0 || x2.ID == x3.ID || dx3.ID != 0 {
		t.Errorf("ids %d, %d, %d, %d: want three distinct, then 0", o1.ID, x2.ID, x3.ID, dx3.ID)
	}
	eq(t, "events of c2", consumerEvents(t, s, a.ID, c2, nil, 0), []*store.Event{o1, x2})
	eq(t, "events of c3", consumerEvents(t, s, a.ID, c3, nil, 0), []*store.Event{x3})
	eq(t, "events of c unchanged", eventIDs(consumerEvents(t, s, a.ID, c, nil, 0)), eventIDs(got))
}

// A duplicate of a stored event in the middle of a transaction's writes leaves the transaction
// whole: what it wrote before and after commits, and only the duplicate is skipped.
func testInsertEventsDuplicateInTx(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	a := newBrand(t, s, "a")
	c := newConsumer(t, s, a.ID)
	stored := event(a.ID, c, "email", "stored", 1)
	insertEvents(t, s, stored)
	before, dup, after := event(a.ID, c, "email", "before", 2), event(a.ID, c, "email", "stored", 3), event(a.ID, c, "email", "after", 200)
	others := make([]*store.Event, 100)
	for i := range others {
		others[i] = event(a.ID, c, "email", fmt.Sprintf("batch%d", i), 5+i)
	}
	update(t, s, func(tx store.Tx) error {
		eq(t, "InsertEvents(new)", get[[]bool](t)(tx.InsertEvents(ctx, []*store.Event{before})), []bool{true})
		batch := append(slices.Clone(others[:50]), append([]*store.Event{dup}, others[50:]...)...)
		ins := get[[]bool](t)(tx.InsertEvents(ctx, batch))
		for i, ok := range ins {
			if want := batch[i] != dup; ok != want || (batch[i].ID != 0) != want {
				t.Errorf("event %d of the batch: inserted %v, ID %d; want inserted %v", i, ok, batch[i].ID, want)
			}
		}
		eq(t, "InsertEvents(new, after the duplicate)", get[[]bool](t)(tx.InsertEvents(ctx, []*store.Event{after})), []bool{true})
		return nil
	})
	want := append([]*store.Event{stored, before}, others[:50]...)
	want = append(append(want, others[50:]...), after)
	eq(t, "stored events", eventIDs(consumerEvents(t, s, a.ID, c, nil, 0)), eventIDs(want))
}

// Transactions inserting the same messages at the same time store each once: one of them
// reports it inserted, every other a duplicate, and none fails.
func testInsertEventsRacingDuplicates(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	a := newBrand(t, s, "a")
	c := newConsumer(t, s, a.ID)
	const workers, rounds, perRound = 4, 20, 10
	var mu sync.Mutex
	wins := map[string]int{}
	var wg sync.WaitGroup
	errs := make(chan error, workers*rounds)
	for w := range workers {
		wg.Go(func() {
			for r := range rounds {
				// The same messages for every worker, in an order of its own.
				var batch []*store.Event
				for i := range perRound {
					batch = append(batch, event(a.ID, c, "email", fmt.Sprintf("r%d-%d", r, (i+w*3)%perRound), i))
				}
				err := s.Update(ctx, func(tx store.Tx) error {
					ins, err := tx.InsertEvents(ctx, batch)
					if err != nil {
						return err
					}
					mu.Lock()
					defer mu.Unlock()
					for i, ok := range ins {
						if ok {
							wins[string(batch[i].MID)]++
						}
					}
					return nil
				})
				if err != nil {
					errs <- fmt.Errorf("worker %d, round %d: %w", w, r, err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if len(wins) != rounds*perRound {
		t.Errorf("%d messages reported inserted, want %d", len(wins), rounds*perRound)
	}
	for m, n := range wins {
		if n != 1 {
			t.Errorf("message %x reported inserted %d times", m, n)
		}
	}
	if n := len(consumerEvents(t, s, a.ID, c, nil, 0)); n != rounds*perRound {
		t.Errorf("%d events stored, want %d", n, rounds*perRound)
	}
}

func testInsertEventsChunks(t *testing.T, s store.Store) {
	a := newBrand(t, s, "a")
	c := newConsumer(t, s, a.ID)
	// Some events already stored; they will reappear in the big batch.
	pre := []*store.Event{event(a.ID, c, "email", "pre0", 0), event(a.ID, c, "email", "pre1", 0)}
	insertEvents(t, s, pre...)

	const n = 650 // several chunks of any size up to a few hundred
	var batch []*store.Event
	var want []bool
	var newOnes []*store.Event
	seen := map[string]bool{"pre0": true, "pre1": true}
	add := func(m string) {
		e := event(a.ID, c, "email", m, len(batch))
		batch = append(batch, e)
		want = append(want, !seen[m])
		if !seen[m] {
			newOnes = append(newOnes, e)
		}
		seen[m] = true
	}
	for i := range n {
		add(fmt.Sprintf("big%d", i))
		switch i {
		case 5, 250, 430:
			add("pre0") // already stored
		case 210, 420, 640:
			add(fmt.Sprintf("big%d", i-200)) // repeated within the call, across chunks
		case 300:
			add("big300") // repeated right away
		}
		if i == 620 {
			add("pre1")
		}
	}
	// Every 7th message also for a second consumer: not a duplicate.
	c2 := newConsumer(t, s, a.ID)
	for i := 0; i < n; i += 7 {
		e := event(a.ID, c2, "email", fmt.Sprintf("big%d", i), i)
		pos := min(len(batch), i*3/2)
		batch = slices.Insert(batch, pos, e)
		want = slices.Insert(want, pos, true)
	}
	got := insertEvents(t, s, batch...)
	eq(t, "InsertEvents(multi-chunk) flags", got, want)
	ids := map[int64]bool{}
	for i, e := range batch {
		if want[i] != (e.ID != 0) {
			t.Errorf("event %d (inserted %v) has ID %d", i, want[i], e.ID)
		}
		if e.ID != 0 {
			if ids[e.ID] {
				t.Errorf("ID %d given twice", e.ID)
			}
			ids[e.ID] = true
		}
	}
	if got := len(consumerEvents(t, s, a.ID, c2, nil, 0)); got != (n+6)/7 {
		t.Errorf("second consumer has %d events, want %d", got, (n+6)/7)
	}
	stored := consumerEvents(t, s, a.ID, c, nil, 0)
	if len(stored) != len(pre)+len(newOnes) {
		t.Fatalf("stored %d events, want %d", len(stored), len(pre)+len(newOnes))
	}
	byID := map[int64]*store.Event{}
	for _, e := range stored {
		byID[e.ID] = e
	}
	for _, e := range newOnes {
		if got := byID[e.ID]; !reflect.DeepEqual(got, e) {
			t.Fatalf("event %d stored as %s, want %s", e.ID, dump(got), dump(e))
		}
	}
}

func testConsumerEvents(t *testing.T, s store.Store) {
	a, b := newBrand(t, s, "a"), newBrand(t, s, "b")
	c, other := newConsumer(t, s, a.ID), newConsumer(t, s, a.ID)
	cb := newConsumer(t, s, b.ID)
	e1 := event(a.ID, c, "email", "1", 1)
	e2 := event(a.ID, c, "location", "2", 2)
	e3 := event(a.ID, other, "email", "3", 3)
	e4 := event(a.ID, c, "email", "4", 0) // received earlier, though inserted later: order is by arrival
	e5 := event(a.ID, c, "phone", "5", 5)
	e6 := event(b.ID, cb, "email", "6", 6)
	e6.KeyOwner = cb + 7 // key owner differs from the consumer after a merge
	insertEvents(t, s, e1, e2, e3, e4, e5, e6)
	eq(t, "all", consumerEvents(t, s, a.ID, c, nil, 0), []*store.Event{e4, e1, e2, e5})
	eq(t, "empty categories", eventIDs(consumerEvents(t, s, a.ID, c, []string{}, -1)), eventIDs([]*store.Event{e4, e1, e2, e5}))
	eq(t, "email", consumerEvents(t, s, a.ID, c, []string{"email"}, 0), []*store.Event{e4, e1})
	eq(t, "email+phone", eventIDs(consumerEvents(t, s, a.ID, c, []string{"phone", "email"}, 0)), eventIDs([]*store.Event{e4, e1, e5}))
	eq(t, "limit 2", eventIDs(consumerEvents(t, s, a.ID, c, nil, 2)), eventIDs([]*store.Event{e4, e1}))
	eq(t, "email limit 1", eventIDs(consumerEvents(t, s, a.ID, c, []string{"email"}, 1)), eventIDs([]*store.Event{e4}))
	if evs := consumerEvents(t, s, a.ID, c, []string{"health"}, 0); len(evs) != 0 {
		t.Errorf("unknown category: %d events", len(evs))
	}
	if evs := consumerEvents(t, s, b.ID, c, nil, 0); len(evs) != 0 {
		t.Errorf("through another brand: %d events", len(evs))
	}
	eq(t, "brand b", consumerEvents(t, s, b.ID, cb, nil, 0), []*store.Event{e6})
}

func testDeleteConsumerData(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	a, b := newBrand(t, s, "a"), newBrand(t, s, "b")
	c1, c2, keep := newConsumer(t, s, a.ID), newConsumer(t, s, a.ID), newConsumer(t, s, a.ID)
	type seeded struct {
		events  []*store.Event
		ident   *identity.Identifier
		records []*consent.Record
		access  *store.AccessRecord
		session *tenant.Session
	}
	seed := func(c int64, name string, nEvents int) *seeded {
		sd := &seeded{
			ident:   &identity.Identifier{BrandID: a.ID, Kind: identity.KindEmail, Hash: hash(name), ConsumerID: c, Sealed: []byte(name), KeyOwner: c, CreatedAt: at(1)},
			records: []*consent.Record{grant(a.ID, c, "email", "marketing", consent.StateGiven, at(1)), grant(a.ID, c, "email", "analytics", consent.StateGiven, at(2))},
			access:  &store.AccessRecord{BrandID: a.ID, ConsumerID: c, Actor: "key:k", Purpose: "support", Categories: []string{"email"}, Records: nEvents, Action: "read", At: at(3)},
			session: &tenant.Session{ID: "ws_" + name, BrandID: a.ID, ConsumerID: c, Hash: hash("ws" + name), CreatedAt: at(1), ExpiresAt: at(100)},
		}
		for i := range nEvents {
			sd.events = append(sd.events, event(a.ID, c, "email", fmt.Sprintf("%s-%d", name, i), i))
		}
		insertEvents(t, s, sd.events...)
		insertRecords(t, s, sd.records...)
		update(t, s, func(tx store.Tx) error {
			must(t, tx.LinkIdentifier(ctx, sd.ident))
			must(t, tx.InsertAccess(ctx, sd.access))
			return tx.CreateSession(ctx, sd.session)
		})
		return sd
	}
	d1, d2, k := seed(c1, "c1", 3), seed(c2, "c2", 2), seed(keep, "keep", 4)
	// c2 has a second session, revoked earlier: it keeps its revocation time.
	early := &tenant.Session{ID: "ws_early", BrandID: a.ID, ConsumerID: c2, Hash: hash("early"), CreatedAt: at(1), ExpiresAt: at(100), RevokedAt: at(5)}
	update(t, s, func(tx store.Tx) error { return tx.CreateSession(ctx, early) })

	var n int64
	update(t, s, func(tx store.Tx) (err error) {
		n, err = tx.DeleteConsumerData(ctx, a.ID, []int64{c1, c2}, at(50))
		return err
	})
	if n != 5 {
		t.Errorf("DeleteConsumerData = %d, want 5 events", n)
	}
	view(t, s, func(tx store.Tx) error {
		for _, sd := range []*seeded{d1, d2} {
			c := sd.ident.ConsumerID
			if evs := get[[]*store.Event](t)(tx.ConsumerEvents(ctx, a.ID, c, nil, 0)); len(evs) != 0 {
				t.Errorf("consumer %d: %d events left", c, len(evs))
			}
			if ids := get[[]*identity.Identifier](t)(tx.ConsumerIdentifiers(ctx, a.ID, c)); len(ids) != 0 {
				t.Errorf("consumer %d: identifiers left: %s", c, dump(ids))
			}
			if ids := get[[]int64](t)(tx.LookupIdentifier(ctx, a.ID, sd.ident.Kind, sd.ident.Hash)); len(ids) != 0 {
				t.Errorf("consumer %d: identifier still found: %v", c, ids)
			}
			if rs := get[[]*consent.Record](t)(tx.CurrentConsents(ctx, a.ID, c)); len(rs) != 0 {
				t.Errorf("consumer %d: consent state left: %s", c, dump(rs))
			}
			// Evidence is kept.
			eq(t, "ConsentHistory kept", get[[]*consent.Record](t)(tx.ConsentHistory(ctx, a.ID, c)), sd.records)
			eq(t, "AccessLog kept", get[[]*store.AccessRecord](t)(tx.AccessLog(ctx, a.ID, c, 0)), []*store.AccessRecord{sd.access})
			if got := get[*tenant.Session](t)(tx.SessionByHash(ctx, sd.session.Hash)).RevokedAt; !got.Equal(at(50)) {
				t.Errorf("consumer %d: session RevokedAt = %v, want %v", c, got, at(50))
			}
		}
		if got := get[*tenant.Session](t)(tx.SessionByHash(ctx, early.Hash)).RevokedAt; !got.Equal(at(5)) {
			t.Errorf("session revoked before the erasure: RevokedAt = %v, want %v", got, at(5))
		}
		// The other consumer is untouched.
		eq(t, "kept events", get[[]*store.Event](t)(tx.ConsumerEvents(ctx, a.ID, keep, nil, 0)), k.events)
		eq(t, "kept identifiers", get[[]*identity.Identifier](t)(tx.ConsumerIdentifiers(ctx, a.ID, keep)), []*identity.Identifier{k.ident})
		eq(t, "kept consents", recordIDs(get[[]*consent.Record](t)(tx.CurrentConsents(ctx, a.ID, keep))), []int64{k.records[1].ID, k.records[0].ID})
		eq(t, "kept session", get[*tenant.Session](t)(tx.SessionByHash(ctx, k.session.Hash)), k.session)
		return nil
	})
	// Another brand cannot erase a's consumer; no consumers is a no-op.
	update(t, s, func(tx store.Tx) (err error) {
		if n := get[int64](t)(tx.DeleteConsumerData(ctx, b.ID, []int64{keep}, at(60))); n != 0 {
			t.Errorf("DeleteConsumerData through another brand deleted %d events", n)
		}
		if n := get[int64](t)(tx.DeleteConsumerData(ctx, a.ID, nil, at(60))); n != 0 {
			t.Errorf("DeleteConsumerData(no consumers) = %d", n)
		}
		return nil
	})
	view(t, s, func(tx store.Tx) error {
		eq(t, "events after erasure through another brand", eventIDs(get[[]*store.Event](t)(tx.ConsumerEvents(ctx, a.ID, keep, nil, 0))), eventIDs(k.events))
		if ids := get[[]*identity.Identifier](t)(tx.ConsumerIdentifiers(ctx, a.ID, keep)); len(ids) != 1 {
			t.Errorf("identifiers after erasure through another brand: %s", dump(ids))
		}
		if rs := get[[]*consent.Record](t)(tx.CurrentConsents(ctx, a.ID, keep)); len(rs) != 2 {
			t.Errorf("consents after erasure through another brand: %s", dump(rs))
		}
		if got := get[*tenant.Session](t)(tx.SessionByHash(ctx, k.session.Hash)).RevokedAt; !got.IsZero() {
			t.Errorf("session revoked through another brand at %v", got)
		}
		return nil
	})
}

// ---- tracking plan, access log ----

func testTrackingPlan(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	a, b := newBrand(t, s, "a"), newBrand(t, s, "b")
	check := func(brand int64, wantPlan []byte, wantVersion int64) {
		t.Helper()
		view(t, s, func(tx store.Tx) error {
			plan, v, err := tx.TrackingPlan(ctx, brand)
			if err != nil || !reflect.DeepEqual(plan, wantPlan) || v != wantVersion {
				t.Errorf("TrackingPlan(%d) = %q, %d, %v; want %q, %d, nil", brand, plan, v, err, wantPlan, wantVersion)
			}
			return nil
		})
	}
	check(a.ID, nil, 0)
	p1 := []byte(`{"events":{"Order Completed":{"category":"purchases"}}}`)
	p2 := []byte(`{"events":{}}`)
	put := func(brand int64, plan []byte, when time.Time) (v int64) {
		t.Helper()
		update(t, s, func(tx store.Tx) (err error) {
			v, err = tx.PutTrackingPlan(ctx, brand, plan, when)
			return err
		})
		return v
	}
	if v := put(a.ID, p1, at(1)); v != 1 {
		t.Errorf("first PutTrackingPlan = version %d, want 1", v)
	}
	check(a.ID, p1, 1)
	if v := put(a.ID, p2, at(2)); v != 2 {
		t.Errorf("second PutTrackingPlan = version %d, want 2", v)
	}
	check(a.ID, p2, 2)
	check(b.ID, nil, 0)
	if v := put(b.ID, p1, at(3)); v != 1 {
		t.Errorf("first PutTrackingPlan of brand b = version %d, want 1", v)
	}
	check(a.ID, p2, 2)
}

// testSignalMap: a brand's consent signal mapping is versioned per brand, replaced whole, and
// kept byte for byte (including text outside ASCII, which CMP category names use).
func testSignalMap(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	a, b := newBrand(t, s, "a"), newBrand(t, s, "b")
	check := func(brand int64, want []byte, wantVersion int64) {
		t.Helper()
		view(t, s, func(tx store.Tx) error {
			m, v, err := tx.SignalMap(ctx, brand)
			if err != nil || !reflect.DeepEqual(m, want) || v != wantVersion {
				t.Errorf("SignalMap(%d) = %q, %d, %v; want %q, %d, nil", brand, m, v, err, want, wantVersion)
			}
			return nil
		})
	}
	put := func(brand int64, m []byte, when time.Time) (v int64) {
		t.Helper()
		update(t, s, func(tx store.Tx) (err error) {
			v, err = tx.PutSignalMap(ctx, brand, m, when)
			return err
		})
		return v
	}
	check(a.ID, nil, 0)
	m1 := []byte(`{"categories":{"Werbung – Partner":["browsing:marketing"]},"tcf":{"purposes":{"3":["browsing:marketing"]}}}`)
	m2 := []byte(`{"categories":{}}`)
	eq(t, "first PutSignalMap", put(a.ID, m1, at(1)), int64(1))
	check(a.ID, m1, 1)
	eq(t, "second PutSignalMap", put(a.ID, m2, at(2)), int64(2))
	check(a.ID, m2, 2)
	check(b.ID, nil, 0)
	eq(t, "first PutSignalMap of brand b", put(b.ID, m1, at(3)), int64(1))
	check(a.ID, m2, 2)
	check(b.ID, m1, 1)
	// A failed transaction leaves the mapping as it was.
	err := s.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.PutSignalMap(ctx, a.ID, m1, at(4)); err != nil {
			return err
		}
		return errTest
	})
	if !errors.Is(err, errTest) {
		t.Fatalf("Update = %v", err)
	}
	check(a.ID, m2, 2)
}

func testAccessLog(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	a, b := newBrand(t, s, "a"), newBrand(t, s, "b")
	c, other := newConsumer(t, s, a.ID), newConsumer(t, s, a.ID)
	r1 := &store.AccessRecord{BrandID: a.ID, ConsumerID: c, Actor: "key:key_1", Purpose: "support",
		Categories: []string{"email", "purchases"}, Withheld: []string{"location"}, Records: 12, Action: "read", RequestID: "req_1", At: at(1)}
	r2 := &store.AccessRecord{BrandID: a.ID, ConsumerID: c, Actor: "wallet:ws_1", Purpose: "access_request", Records: 0, Action: "export", At: at(2)}
	r3 := &store.AccessRecord{BrandID: a.ID, ConsumerID: c, Actor: "operator", Purpose: "erasure", Categories: []string{"email"}, Records: 3, Action: "erase", RequestID: "req_3", At: at(2)}
	rOther := &store.AccessRecord{BrandID: a.ID, ConsumerID: other, Actor: "key:key_1", Purpose: "support", Records: 1, Action: "read", At: at(4)}
	update(t, s, func(tx store.Tx) error {
		for _, r := range []*store.AccessRecord{r1, r2, r3, rOther} {
			must(t, tx.InsertAccess(ctx, r))
			if r.ID == 0 {
				t.Error("InsertAccess did not set ID")
			}
		}
		return nil
	})
	view(t, s, func(tx store.Tx) error {
		eq(t, "AccessLog", get[[]*store.AccessRecord](t)(tx.AccessLog(ctx, a.ID, c, 0)), []*store.AccessRecord{r3, r2, r1})
		eq(t, "AccessLog(limit 2)", get[[]*store.AccessRecord](t)(tx.AccessLog(ctx, a.ID, c, 2)), []*store.AccessRecord{r3, r2})
		eq(t, "AccessLog(other)", get[[]*store.AccessRecord](t)(tx.AccessLog(ctx, a.ID, other, 10)), []*store.AccessRecord{rOther})
		if rs := get[[]*store.AccessRecord](t)(tx.AccessLog(ctx, b.ID, c, 0)); len(rs) != 0 {
			t.Errorf("AccessLog through another brand: %s", dump(rs))
		}
		return nil
	})

	// A bulk read's records, in multi-row statements of several sizes (300 = 256 + 32 + 8 + 4),
	// alternating between two consumers: each gets its id, in insertion order, and reads back.
	var bulk []*store.AccessRecord
	for i := range 300 {
		var withheld []string
		if i%3 > 0 {
			withheld = []string{"email", "location"}[:i%3]
		}
		bulk = append(bulk, &store.AccessRecord{BrandID: a.ID, ConsumerID: []int64{c, other}[i%2], Actor: "system:bench", Purpose: "model_training",
			Categories: []string{"purchases"}, Withheld: withheld, Records: i, Action: "train", RequestID: fmt.Sprint("req_bulk_", i), At: at(5)})
	}
	update(t, s, func(tx store.Tx) error { return tx.InsertAccesses(ctx, bulk) })
	for i, r := range bulk {
		if r.ID == 0 || (i > 0 && r.ID <= bulk[i-1].ID) {
			t.Fatalf("InsertAccesses: record %d has id %d after %d; want ids set, increasing in order", i, r.ID, bulk[max(i-1, 0)].ID)
		}
	}
	update(t, s, func(tx store.Tx) error { return tx.InsertAccesses(ctx, bulk[:0]) })
	view(t, s, func(tx store.Tx) error {
		for k, consumer := range []int64{c, other} {
			var want []*store.AccessRecord
			for i := len(bulk) - 1; i >= 0; i-- {
				if i%2 == k {
					want = append(want, bulk[i])
				}
			}
			got := get[[]*store.AccessRecord](t)(tx.AccessLog(ctx, a.ID, consumer, len(want)))
			eq(t, fmt.Sprint("AccessLog after InsertAccesses (consumer ", k, ")"), got, want)
		}
		return nil
	})
}

// ---- key store ----

func testKeyStore(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	ks := s.Keys()
	k1 := &vault.WrappedKey{ConsumerID: 101, BrandID: 7, Wrapped: hash("wrapped-101"), CreatedAt: at(1)}
	k2 := &vault.WrappedKey{ConsumerID: 102, BrandID: 7, Wrapped: hash("wrapped-102"), CreatedAt: at(2)}
	k3 := &vault.WrappedKey{ConsumerID: 103, BrandID: 8, Wrapped: hash("wrapped-103"), CreatedAt: at(3)}
	for _, k := range []*vault.WrappedKey{k1, k2, k3} {
		got, err := ks.PutKey(ctx, k)
		if err != nil {
			t.Fatalf("PutKey: %v", err)
		}
		eq(t, "PutKey", got, k)
	}
	// The first key stays: a racing second Put gets it back.
	got, err := ks.PutKey(ctx, &vault.WrappedKey{ConsumerID: 101, BrandID: 7, Wrapped: hash("other"), CreatedAt: at(9)})
	if err != nil {
		t.Fatalf("second PutKey: %v", err)
	}
	eq(t, "second PutKey returns the first key", got, k1)
	got, err = ks.Key(ctx, 101)
	if err != nil {
		t.Fatalf("Key: %v", err)
	}
	eq(t, "Key", got, k1)
	_, err = ks.Key(ctx, 999)
	wantCode(t, "Key(unknown)", err, symbiont.ENOTFOUND)

	n, err := ks.DeleteKeys(ctx, []int64{101, 103, 999})
	if err != nil || n != 2 {
		t.Errorf("DeleteKeys = %d, %v; want 2, nil", n, err)
	}
	for _, id := range []int64{101, 103} {
		_, err := ks.Key(ctx, id)
		wantCode(t, fmt.Sprintf("Key(%d) after DeleteKeys", id), err, symbiont.ENOTFOUND)
	}
	if got, err := ks.Key(ctx, 102); err != nil || !reflect.DeepEqual(got, k2) {
		t.Errorf("Key(102) after deleting others = %s, %v", dump(got), err)
	}
	if n, err := ks.DeleteKeys(ctx, nil); n != 0 || err != nil {
		t.Errorf("DeleteKeys(nil) = %d, %v", n, err)
	}
	if n, err := ks.DeleteKeys(ctx, []int64{101}); n != 0 || err != nil {
		t.Errorf("DeleteKeys(already deleted) = %d, %v", n, err)
	}
	// A deleted consumer may get a new key (e.g. ids are never reused, but the store allows it).
	k1b := &vault.WrappedKey{ConsumerID: 101, BrandID: 7, Wrapped: hash("new"), CreatedAt: at(10)}
	if got, err := ks.PutKey(ctx, k1b); err != nil || !reflect.DeepEqual(got, k1b) {
		t.Errorf("PutKey after DeleteKeys = %s, %v", dump(got), err)
	}
	// Keys are not part of store transactions: one put during a failed Update stays.
	err = s.Update(ctx, func(tx store.Tx) error {
		if _, err := ks.PutKey(ctx, &vault.WrappedKey{ConsumerID: 104, BrandID: 7, Wrapped: []byte("k"), CreatedAt: at(11)}); err != nil {
			return err
		}
		return errTest
	})
	if !errors.Is(err, errTest) {
		t.Fatalf("Update: %v", err)
	}
	if _, err := ks.Key(ctx, 104); err != nil {
		t.Errorf("key put during a failed Update: %v", err)
	}
}

// testTextOrder: text sorts bytewise (as Go compares strings) in every dialect, whatever the
// database's locale: PostgreSQL's linguistic collations would put "adjust" before
// "ad_personalisation" and "alpha" before "Zeta".
func testTextOrder(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	a := newBrand(t, s, "a")
	c := newConsumer(t, s, a.ID)
	names := []string{"adjust", "ad_personalisation", "Zeta", "alpha", "ad-hoc", "éclair", "e", "Ad"}
	sorted := slices.Clone(names)
	slices.Sort(sorted)
	update(t, s, func(tx store.Tx) error {
		for _, n := range names {
			must(t, tx.InsertConsentRecord(ctx, grant(a.ID, c, n, "p", consent.StateGiven, at(1))))
			must(t, tx.InsertConsentRecord(ctx, grant(a.ID, c, "same", n, consent.StateGiven, at(1))))
			must(t, tx.PutCustomTerm(ctx, a.ID, consent.Term{Kind: "category", Name: n, Label: n, Description: n}))
			must(t, tx.CreateKey(ctx, &tenant.Key{ID: "key_" + n, BrandID: a.ID, Kind: tenant.KindWrite, Hash: hash(n), Prefix: "pk", CreatedAt: at(1)}))
			must(t, tx.LinkIdentifier(ctx, &identity.Identifier{BrandID: a.ID, Kind: "ext:" + n, Hash: hash(n), ConsumerID: c, CreatedAt: at(1)}))
		}
		return nil
	})
	view(t, s, func(tx store.Tx) error {
		var pairs, wantPairs, terms, keys, kinds []string
		for _, r := range get[[]*consent.Record](t)(tx.CurrentConsents(ctx, a.ID, c)) {
			pairs = append(pairs, r.Category+" / "+r.Purpose)
		}
		for _, n := range names {
			wantPairs = append(wantPairs, n+" / p", "same / "+n)
		}
		slices.SortFunc(wantPairs, func(x, y string) int {
			xc, xp, _ := strings.Cut(x, " / ")
			yc, yp, _ := strings.Cut(y, " / ")
			return cmp.Or(strings.Compare(xc, yc), strings.Compare(xp, yp))
		})
		for _, term := range get[[]consent.Term](t)(tx.CustomTerms(ctx, a.ID)) {
			terms = append(terms, term.Name)
		}
		for _, k := range get[[]*tenant.Key](t)(tx.ListKeys(ctx, a.ID)) {
			keys = append(keys, strings.TrimPrefix(k.ID, "key_"))
		}
		for _, id := range get[[]*identity.Identifier](t)(tx.ConsumerIdentifiers(ctx, a.ID, c)) {
			kinds = append(kinds, strings.TrimPrefix(id.Kind, "ext:"))
		}
		eq(t, "CurrentConsents (category, purpose) order", pairs, wantPairs)
		eq(t, "CustomTerms name order", terms, sorted)
		eq(t, "ListKeys id order (same creation time)", keys, sorted)
		eq(t, "ConsumerIdentifiers kind order (same creation time)", kinds, sorted)
		return nil
	})
}

func testDialect(t *testing.T, s store.Store) {
	if d := s.Dialect(); d != "sqlite" && d != "postgres" {
		t.Errorf("Dialect() = %q", d)
	}
}

// ---- transactions ----

func brandCount(t *testing.T, s store.Store) int {
	t.Helper()
	var n int
	view(t, s, func(tx store.Tx) error {
		n = len(get[[]*tenant.Brand](t)(tx.ListBrands(ctxT(t))))
		return nil
	})
	return n
}

func testTxErrorRollsBack(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	err := s.Update(ctx, func(tx store.Tx) error {
		b := &tenant.Brand{PublicID: "br_x", Name: "x", CreatedAt: at(1), SigningKey: []byte{1}}
		must(t, tx.CreateBrand(ctx, b))
		c := get[int64](t)(tx.CreateConsumer(ctx, b.ID, at(1)))
		get[[]bool](t)(tx.InsertEvents(ctx, []*store.Event{event(b.ID, c, "email", "x", 1)}))
		// Visible inside the transaction.
		if _, err := tx.BrandByPublicID(ctx, "br_x"); err != nil {
			t.Errorf("own write not visible inside the transaction: %v", err)
		}
		return fmt.Errorf("wrapped: %w", errTest)
	})
	if !errors.Is(err, errTest) {
		t.Errorf("Update returned %v, want fn's error", err)
	}
	view(t, s, func(tx store.Tx) error {
		_, err := tx.BrandByPublicID(ctx, "br_x")
		wantCode(t, "brand of a failed Update", err, symbiont.ENOTFOUND)
		return nil
	})
	if n := brandCount(t, s); n != 0 {
		t.Errorf("%d brands after a failed Update", n)
	}
	// View's error comes back too.
	if err := s.View(ctx, func(store.Tx) error { return errTest }); !errors.Is(err, errTest) {
		t.Errorf("View returned %v, want fn's error", err)
	}
	// A View cannot write.
	err = s.View(ctx, func(tx store.Tx) error {
		return tx.CreateBrand(ctx, &tenant.Brand{PublicID: "br_v", Name: "v", CreatedAt: at(1), SigningKey: []byte{1}})
	})
	if err == nil {
		t.Error("CreateBrand inside View succeeded")
	}
	if n := brandCount(t, s); n != 0 {
		t.Errorf("%d brands after a write in View", n)
	}
	// The store works afterwards.
	newBrand(t, s, "after")
}

func testTxPanicRollsBack(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	type boom struct{ n int }
	func() {
		defer func() {
			p := recover()
			if p != (boom{42}) {
				t.Errorf("recovered %v, want the panic of fn", p)
			}
		}()
		_ = s.Update(ctx, func(tx store.Tx) error {
			must(t, tx.CreateBrand(ctx, &tenant.Brand{PublicID: "br_p", Name: "p", CreatedAt: at(1), SigningKey: []byte{1}}))
			panic(boom{42})
		})
		t.Error("Update returned after fn panicked")
	}()
	if n := brandCount(t, s); n != 0 {
		t.Errorf("%d brands after a panicking Update", n)
	}
	// The writer is free again (SQLite has one writer connection).
	updateWithin(t, s, 10*time.Second)
	if n := brandCount(t, s); n != 1 {
		t.Errorf("%d brands, want 1", n)
	}
}

// testTxGoexitRollsBack: fn stopping its goroutine (t.FailNow inside a transaction does that)
// must roll back and release the connection, not leave the transaction open.
func testTxGoexitRollsBack(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.Update(ctx, func(tx store.Tx) error {
			if err := tx.CreateBrand(ctx, &tenant.Brand{PublicID: "br_g", Name: "g", CreatedAt: at(1), SigningKey: []byte{1}}); err != nil {
				return err
			}
			runtime.Goexit()
			return nil
		})
	}()
	<-done
	updateWithin(t, s, 10*time.Second)
	view(t, s, func(tx store.Tx) error {
		_, err := tx.BrandByPublicID(ctx, "br_g")
		wantCode(t, "brand of an Update whose goroutine exited", err, symbiont.ENOTFOUND)
		return nil
	})
}

// updateWithin creates a brand in an Update that must finish within d.
func updateWithin(t *testing.T, s store.Store, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctxT(t), d)
	defer cancel()
	err := s.Update(ctx, func(tx store.Tx) error {
		return tx.CreateBrand(ctx, &tenant.Brand{PublicID: "br_next", Name: "next", CreatedAt: at(2), SigningKey: []byte{2}})
	})
	if err != nil {
		t.Fatalf("Update after an aborted one: %v (is the aborted transaction still open?)", err)
	}
}

func testTxVisibility(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	b := newBrand(t, s, "v")
	// After Update returns, a View sees its writes (read committed, which both engines give).
	for i := range 20 {
		c := newConsumer(t, s, b.ID)
		update(t, s, func(tx store.Tx) error {
			return tx.PutSetting(ctx, "counter", []byte(fmt.Sprint(i)))
		})
		view(t, s, func(tx store.Tx) error {
			eq(t, "Setting after Update", string(get[[]byte](t)(tx.Setting(ctx, "counter"))), fmt.Sprint(i))
			_, err := tx.Consumer(ctx, b.ID, c)
			must(t, err)
			return nil
		})
	}
	// A second Update sees the first one's writes.
	update(t, s, func(tx store.Tx) error {
		eq(t, "Setting in a later Update", string(get[[]byte](t)(tx.Setting(ctx, "counter"))), "19")
		return nil
	})
}

// testNarrow uses store.Narrow with every concept's Tx, so that a store.Tx missing a method of
// one would panic here.
func testNarrow(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	b := &tenant.Brand{PublicID: "br_n", Name: "n", CreatedAt: at(1), SigningKey: []byte{1}}
	if err := store.Narrow[tenant.Tx](s).Update(ctx, func(tx tenant.Tx) error { return tx.CreateBrand(ctx, b) }); err != nil {
		t.Fatal(err)
	}
	var c int64
	if err := store.Narrow[identity.Tx](s).Update(ctx, func(tx identity.Tx) (err error) {
		c, err = tx.CreateConsumer(ctx, b.ID, at(1))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	r := grant(b.ID, c, "email", "marketing", consent.StateGiven, at(1))
	if err := store.Narrow[consent.Tx](s).Update(ctx, func(tx consent.Tx) error { return tx.InsertConsentRecord(ctx, r) }); err != nil {
		t.Fatal(err)
	}
	if err := store.Narrow[consent.Tx](s).View(ctx, func(tx consent.Tx) error {
		eq(t, "Narrow[consent.Tx] View", get[[]*consent.Record](t)(tx.CurrentConsents(ctx, b.ID, c)), []*consent.Record{r})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := store.Narrow[tenant.Tx](s).View(ctx, func(tx tenant.Tx) error {
		eq(t, "Narrow[tenant.Tx] View", get[*tenant.Brand](t)(tx.BrandByID(ctx, b.ID)), b)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := store.Narrow[identity.Tx](s).View(ctx, func(tx identity.Tx) error {
		_, err := tx.Consumer(ctx, b.ID, c)
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

// ---- concurrency ----

func testConcurrentUpdates(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	b := newBrand(t, s, "c")
	c := newConsumer(t, s, b.ID)
	const workers, perWorker = 8, 50
	var wg sync.WaitGroup
	errs := make(chan error, workers*perWorker+workers)
	stop := make(chan struct{})
	// Readers run alongside the writers.
	var readers sync.WaitGroup
	for range 2 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			last := 0
			for {
				select {
				case <-stop:
					return
				default:
				}
				err := s.View(ctx, func(tx store.Tx) error {
					evs, err := tx.ConsumerEvents(ctx, b.ID, c, nil, 0)
					if err != nil {
						return err
					}
					if len(evs) < last {
						return fmt.Errorf("a later View saw %d events, an earlier one %d", len(evs), last)
					}
					last = len(evs)
					return nil
				})
				if err != nil {
					errs <- fmt.Errorf("View: %w", err)
					return
				}
			}
		}()
	}
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWorker {
				err := s.Update(ctx, func(tx store.Tx) error {
					ins, err := tx.InsertEvents(ctx, []*store.Event{event(b.ID, c, "email", fmt.Sprintf("w%d-%d", w, i), i)})
					if err != nil {
						return err
					}
					if !ins[0] {
						return fmt.Errorf("event w%d-%d reported as a duplicate", w, i)
					}
					return nil
				})
				if err != nil {
					errs <- fmt.Errorf("worker %d, update %d: %w", w, i, err)
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	readers.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	evs := consumerEvents(t, s, b.ID, c, nil, 0)
	if len(evs) != workers*perWorker {
		t.Errorf("%d events stored, want %d", len(evs), workers*perWorker)
	}
	ids := map[int64]bool{}
	for _, e := range evs {
		if ids[e.ID] {
			t.Errorf("event id %d twice", e.ID)
		}
		ids[e.ID] = true
	}
}
