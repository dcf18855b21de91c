package storetest

import (
	"errors"
	"testing"

	"github.com/symbiont/symbiont/store"
	"github.com/symbiont/symbiont/tenant"
)

// testOnUndo: a store whose writer is this process's alone (not Shared) keeps OnUndo's
// functions and runs each if, and only if, its transaction's writes are undone; a shared one
// keeps none and says so. Services rely on it to cache what only this writer changes.
func testOnUndo(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	var kept, ran bool
	err := s.Update(ctx, func(tx store.Tx) error {
		kept = tx.OnUndo(func() { ran = true })
		must(t, tx.CreateBrand(ctx, &tenant.Brand{PublicID: "br_undone", Name: "Undone", CreatedAt: at(0), SigningKey: hash("sign:undone")}))
		return errTest
	})
	if !errors.Is(err, errTest) {
		t.Fatalf("Update = %v, want the function's error", err)
	}
	if kept == s.Shared() {
		t.Errorf("OnUndo reported %v on a store with Shared() = %v; want it kept only by an unshared store", kept, s.Shared())
	}
	if ran != kept {
		t.Errorf("after the rollback the undo function ran = %v, want %v", ran, kept)
	}
	ran = false
	update(t, s, func(tx store.Tx) error {
		tx.OnUndo(func() { ran = true })
		return nil
	})
	if ran {
		t.Error("the undo function of a committed transaction ran")
	}
}
