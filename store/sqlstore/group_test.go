package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/symbiont/symbiont/store"
	"github.com/symbiont/symbiont/store/sqlite"
	"github.com/symbiont/symbiont/tenant"
)

// TestGroupIsolatesCallers queues callers that succeed, fail, panic and exit their goroutine
// behind a transaction that holds the writer, so that they are committed as one group, and
// checks that each sees only its own outcome, that only the successful ones' writes commit (the
// console counters they add too: the committer writes those once for the group), and that
// OnUndo runs for exactly the others.
func TestGroupIsolatesCallers(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	brand := func(tx store.Tx, name string) error {
		return tx.CreateBrand(ctx, &tenant.Brand{PublicID: "br_" + name, Name: name, CreatedAt: time.UnixMilli(1), SigningKey: []byte{1}})
	}
	counted := &tenant.Brand{PublicID: "br_counted", Name: "counted", CreatedAt: time.UnixMilli(1), SigningKey: []byte{1}}
	if err := db.Update(ctx, func(tx store.Tx) error { return tx.CreateBrand(ctx, counted) }); err != nil {
		t.Fatal(err)
	}
	hold, held := make(chan struct{}), make(chan struct{})
	go db.Update(ctx, func(tx store.Tx) error { close(held); <-hold; return nil })
	<-held

	const n = 40
	errBoom := errors.New("boom")
	var undone sync.Map
	outcome := make([]any, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			defer func() {
				if p := recover(); p != nil {
					outcome[i] = p
				}
			}()
			outcome[i] = db.Update(ctx, func(tx store.Tx) error {
				if !tx.(interface{ OnUndo(func()) bool }).OnUndo(func() { undone.Store(i, true) }) {
					t.Error("OnUndo not offered on SQLite")
				}
				if err := brand(tx, fmt.Sprint("b", i)); err != nil {
					return err
				}
				if _, err := tx.CreateConsumer(ctx, counted.ID, time.UnixMilli(1000)); err != nil {
					return err
				}
				switch i % 4 {
				case 1:
					return errBoom
				case 2:
					panic(fmt.Sprint("panic ", i))
				case 3:
					runtime.Goexit()
				}
				return nil
			})
		})
	}
	time.Sleep(200 * time.Millisecond) // let every caller queue behind the held transaction
	close(hold)
	wg.Wait()
	if s := db.WriterStats(); s.Groups > 4 {
		t.Logf("callers were committed in %d groups (want few; the test still checks isolation)", s.Groups)
	}
	for i := range n {
		_, wasUndone := undone.Load(i)
		var found bool
		if err := db.View(ctx, func(tx store.Tx) error {
			_, err := tx.BrandByPublicID(ctx, fmt.Sprint("br_b", i))
			found = err == nil
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		switch i % 4 {
		case 0:
			if outcome[i] != nil || !found || wasUndone {
				t.Errorf("caller %d (succeeds): outcome %v, committed %v, undone %v", i, outcome[i], found, wasUndone)
			}
		case 1:
			if outcome[i] != errBoom || found || !wasUndone {
				t.Errorf("caller %d (fails): outcome %v, committed %v, undone %v", i, outcome[i], found, wasUndone)
			}
		case 2:
			if outcome[i] != fmt.Sprint("panic ", i) || found || !wasUndone {
				t.Errorf("caller %d (panics): outcome %v, committed %v, undone %v", i, outcome[i], found, wasUndone)
			}
		case 3:
			if err, _ := outcome[i].(error); err == nil || found || !wasUndone {
				t.Errorf("caller %d (exits its goroutine): outcome %v, committed %v, undone %v", i, outcome[i], found, wasUndone)
			}
		}
	}
	// One consumer counted for each caller that succeeded, none for the others.
	if err := db.View(ctx, func(tx store.Tx) error {
		days, err := tx.ConsentDays(ctx, counted.ID, time.UnixMilli(0), 1, time.UnixMilli(2000))
		if err == nil && days.Total != n/4 {
			t.Errorf("consumers counted: %d, want %d (the callers that succeeded)", days.Total, n/4)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	// The writer works on after runners were lost to Goexit.
	if err := db.Update(ctx, func(tx store.Tx) error { return brand(tx, "after") }); err != nil {
		t.Fatal(err)
	}
}
