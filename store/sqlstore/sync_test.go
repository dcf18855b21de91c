package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/symbiont/symbiont/store"
)

// pipelined opens a bare group-commit store on one table t(v) whose durability is sync.
func pipelined(t *testing.T, sync func() error) *DB {
	t.Helper()
	path := filepath.Join(t.TempDir(), "p.db")
	open := func() *sql.DB {
		d, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=busy_timeout(5000)")
		if err != nil {
			t.Fatal(err)
		}
		d.SetMaxOpenConns(1)
		return d
	}
	w, r := open(), open()
	if _, err := w.Exec(`CREATE TABLE t (v INTEGER)`); err != nil {
		t.Fatal(err)
	}
	db, err := Open(t.Context(), w, r, w, &bareEngine{Dialect{GroupCommit: true, SyncCommit: sync}}, nil, r.Close, w.Close)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// bareEngine is an unshared engine of the given dialect whose operations do nothing.
type bareEngine struct{ d Dialect }

func (*bareEngine) Name() string                                                        { return "sqlite" }
func (*bareEngine) Shared() bool                                                        { return false }
func (e *bareEngine) Dialect() Dialect                                                  { return e.d }
func (*bareEngine) LockConsumer(context.Context, Execer, int64) error                   { return nil }
func (*bareEngine) LockConsumers(context.Context, Execer, []int64) error                { return nil }
func (*bareEngine) LockIdentifier(context.Context, Execer, int64, string, []byte) error { return nil }
func (*bareEngine) LockLedger(context.Context, Execer) error                            { return nil }
func (*bareEngine) Notify(context.Context, Execer, string) error                        { return nil }
func (*bareEngine) Listen(context.Context, func(string), func(error)) error             { return nil }
func (*bareEngine) InsertConflict(error) bool                                           { return false }

func insertV(db *DB, v int) error {
	return db.Update(context.Background(), func(tx store.Tx) error {
		_, err := tx.(*Tx).exec(context.Background(), `INSERT INTO t (v) VALUES (?)`, v)
		return err
	})
}

func countV(db *DB) (n int, err error) {
	err = db.View(context.Background(), func(tx store.Tx) error {
		return tx.(*Tx).queryRow(context.Background(), `SELECT COUNT(*) FROM t`).Scan(&n)
	})
	return n, err
}

// TestFailedSyncFailsTheStore: when the log cannot be made durable, the group's callers are
// not told they committed, and the store accepts no write and serves no read after.
func TestFailedSyncFailsTheStore(t *testing.T) {
	errDisk := errors.New("disk gone")
	var failing atomic.Bool
	var syncs atomic.Int64
	db := pipelined(t, func() error {
		syncs.Add(1)
		if failing.Load() {
			return errDisk
		}
		return nil
	})
	if err := insertV(db, 1); err != nil {
		t.Fatal(err)
	}
	if syncs.Load() == 0 {
		t.Fatal("a commit was answered without a sync")
	}
	failing.Store(true)
	if err := insertV(db, 2); !errors.Is(err, errDisk) {
		t.Fatalf("Update whose sync failed = %v, want %v", err, errDisk)
	}
	if err := insertV(db, 3); !errors.Is(err, errDisk) {
		t.Errorf("Update after a failed sync = %v, want %v", err, errDisk)
	}
	if _, err := countV(db); !errors.Is(err, errDisk) {
		t.Errorf("View after a failed sync = %v, want %v", err, errDisk)
	}
}

// heldCommit opens a pipelined store and commits one row whose sync is held: it returns once
// the row is committed and not yet durable. Clearing hold and closing release lets syncs go on;
// wait returns the insert's error once it is answered.
func heldCommit(t *testing.T) (db *DB, hold *atomic.Bool, release chan struct{}, wait func() error) {
	hold = new(atomic.Bool)
	entered, release := make(chan struct{}, 1), make(chan struct{})
	db = pipelined(t, func() error {
		if hold.Load() {
			entered <- struct{}{}
			<-release
		}
		return nil
	})
	hold.Store(true)
	done := make(chan error, 1)
	go func() { done <- insertV(db, 1) }()
	<-entered
	return db, hold, release, func() error { return <-done }
}

// TestViewWaitsForDurability: a read that may see a commit not yet durable returns only once
// it is.
func TestViewWaitsForDurability(t *testing.T) {
	db, hold, release, wait := heldCommit(t)
	var released atomic.Bool
	var sawReleased bool
	var n int
	var viewErr error
	viewed := make(chan struct{})
	go func() {
		defer close(viewed)
		n, viewErr = countV(db)
		sawReleased = released.Load()
	}()
	released.Store(true)
	hold.Store(false)
	close(release)
	<-viewed
	if updErr := wait(); updErr != nil || viewErr != nil {
		t.Fatal(updErr, viewErr)
	}
	if n == 1 && !sawReleased {
		t.Error("a View returned a commit before it was durable")
	}
}

// TestViewBeforeUpdateDoesNotWait: a read whose results only feed a later write sees a commit
// that is not yet durable without waiting for its sync (the write waits for its own), while a
// View reading it waits.
func TestViewBeforeUpdateDoesNotWait(t *testing.T) {
	db, hold, release, wait := heldCommit(t)
	snapshot := make(chan error, 1)
	var n int
	go func() {
		snapshot <- db.ViewBeforeUpdate(context.Background(), func(tx store.Tx) error {
			return tx.(*Tx).queryRow(context.Background(), `SELECT COUNT(*) FROM t`).Scan(&n)
		})
	}()
	select {
	case err := <-snapshot:
		if err != nil || n != 1 {
			t.Errorf("ViewBeforeUpdate: %d rows, %v; want the commit's row", n, err)
		}
	case <-time.After(30 * time.Second):
		t.Error("ViewBeforeUpdate waited for the sync of a commit it saw")
	}
	view := make(chan error, 1)
	go func() { _, err := countV(db); view <- err }()
	select {
	case <-view:
		t.Error("View returned before the commit it saw was durable")
	case <-time.After(200 * time.Millisecond):
	}
	hold.Store(false)
	close(release)
	if updErr, err := wait(), <-view; updErr != nil || err != nil {
		t.Fatal(updErr, err)
	}
}
