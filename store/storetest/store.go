package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/symbiont/symbiont/store"
)

// testViewBeforeUpdate: ViewBeforeUpdate is a read-only snapshot like View: it sees what
// committed before it, and a write inside it fails and leaves nothing.
func testViewBeforeUpdate(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	a := newBrand(t, s, "a")
	if err := s.ViewBeforeUpdate(ctx, func(tx store.Tx) error {
		eq(t, "ViewBeforeUpdate sees the committed brand", get[string](t)(tx.BrandPublicID(ctx, a.ID)), a.PublicID)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	before := brandCount(t, s)
	err := s.ViewBeforeUpdate(ctx, func(tx store.Tx) error {
		_, err := tx.CreateConsumer(ctx, a.ID, at(1))
		return err
	})
	if err == nil {
		t.Error("a write inside ViewBeforeUpdate succeeded, want it refused (read-only)")
	}
	if n := brandCount(t, s); n != before {
		t.Errorf("brands after a refused write: %d, want %d", n, before)
	}
}

// testListenChanges: an unshared store has nobody to hear from and returns at once; a shared
// one announces that it listens (ChangeConnected), then every change committed by any process
// sharing the database, once, and not one rolled back.
func testListenChanges(t *testing.T, s store.Store) {
	if !s.Shared() {
		ctx, cancel := context.WithCancel(ctxT(t))
		defer cancel()
		done := make(chan error, 1)
		go func() {
			done <- s.ListenChanges(ctx, func(c store.Change) { t.Errorf("unshared store announced %+v", c) }, nil)
		}()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("ListenChanges of an unshared store: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("ListenChanges of an unshared store did not return")
		}
		return
	}
	next := Listen(t, s)
	if c := next(); c.Kind != store.ChangeConnected {
		t.Fatalf("first notice %+v, want %q", c, store.ChangeConnected)
	}
	ctx := ctxT(t)
	a := newBrand(t, s, "a")
	if err := s.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.PutTrackingPlan(ctx, a.ID, []byte(`{"events":{}}`), at(1)); err != nil {
			return err
		}
		return errTest // rolled back: never announced
	}); err == nil {
		t.Fatal("Update returned no error")
	}
	update(t, s, func(tx store.Tx) error {
		_, err := tx.PutSignalMap(ctx, a.ID, []byte(`{}`), at(2))
		return err
	})
	if c := next(); c.Kind != store.ChangeSignals || c.BrandID != a.ID {
		t.Errorf("notice %+v, want %q of brand %d (and nothing of the rolled-back plan)", c, store.ChangeSignals, a.ID)
	}
}

// Listen listens to s's change notices until t ends and returns a function that waits for the
// next one (failing t when none comes within 10 s).
func Listen(t *testing.T, s store.Store) (next func() store.Change) {
	ctx, cancel := context.WithCancel(t.Context())
	got := make(chan store.Change, 16)
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.ListenChanges(ctx, func(c store.Change) { got <- c }, func(err error) { t.Log(err) })
	}()
	t.Cleanup(func() { cancel(); <-done })
	return func() store.Change {
		t.Helper()
		select {
		case c := <-got:
			return c
		case <-time.After(10 * time.Second):
			t.Fatal("no change notice within 10 s")
		}
		return store.Change{}
	}
}
