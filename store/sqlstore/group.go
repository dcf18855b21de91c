package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/symbiont/symbiont/store"
)

// Group commit (SQLite). SQLite has one writer and pays an fsync per commit; transactions from
// concurrent callers are therefore run one after the other inside one database transaction and
// committed together. When several are grouped, each caller's function runs inside its own
// SAVEPOINT: when it fails, only its own writes are rolled back and only it sees the error; when
// the commit fails, every caller in the group sees that error. A transaction alone in its group
// needs no savepoint, and one that asks to be alone (UpdateAlone: a large, self-batched
// transaction, for which a savepoint would copy every page it touches into the sub-journal)
// is never grouped. A caller returns only after the commit, so "acknowledged means
// durable" holds as before.

// maxGroup bounds the transactions committed together.
const maxGroup = 128

type groupReq struct {
	alone    bool
	ctx      context.Context
	fn       func(store.Tx) error
	err      error
	panicked any
	done     chan struct{}
}

// errExited is reported when a transaction function ended its goroutine (runtime.Goexit).
var errExited = errors.New("sqlstore: the transaction function exited without returning")

// startGroupCommit takes the writer connection for good and starts the committer; Close stops
// it.
func (db *DB) startGroupCommit(ctx context.Context) error {
	conn, err := db.writer.Conn(ctx)
	if err != nil {
		return fmt.Errorf("sqlstore: writer connection: %w", err)
	}
	db.wconn, db.connStmts = conn, map[string]*sql.Stmt{}
	db.group = make(chan *groupReq, 4*maxGroup)
	db.groupDone = make(chan struct{})
	go func() {
		defer close(db.groupDone)
		for req := range db.group {
			batch := []*groupReq{req}
			var next *groupReq
		fill:
			for !req.alone && len(batch) < maxGroup {
				select {
				case r, ok := <-db.group:
					if !ok {
						break fill
					}
					if r.alone {
						next = r
						break fill
					}
					batch = append(batch, r)
				default:
					break fill
				}
			}
			db.commitGroup(batch)
			if next != nil {
				db.commitGroup([]*groupReq{next})
			}
		}
	}()
	return nil
}

// updateGrouped queues fn for the committer and waits for the group's commit.
func (db *DB) updateGrouped(ctx context.Context, fn func(store.Tx) error) error {
	return db.updateGroupedAs(ctx, fn, false)
}

func (db *DB) updateGroupedAs(ctx context.Context, fn func(store.Tx) error, alone bool) error {
	req := &groupReq{ctx: ctx, fn: fn, done: make(chan struct{}), alone: alone}
	db.groupMu.RLock()
	if db.groupClosed {
		db.groupMu.RUnlock()
		return errors.New("sqlstore: the store is closed")
	}
	select {
	case db.group <- req:
		db.groupMu.RUnlock()
	case <-ctx.Done():
		db.groupMu.RUnlock()
		return ctx.Err()
	}
	<-req.done
	if req.panicked != nil {
		panic(req.panicked)
	}
	return req.err
}

func (db *DB) commitGroup(batch []*groupReq) {
	finish := func(err error) {
		for _, r := range batch {
			if r.err == nil && r.panicked == nil {
				r.err = err
			}
			close(r.done)
		}
	}
	ctx := context.Background()
	exec := func(q string) error { _, err := db.wconn.ExecContext(ctx, q); return err }
	if err := exec("BEGIN IMMEDIATE"); err != nil {
		finish(fmt.Errorf("sqlstore: begin: %w", err))
		return
	}
	rollback := func() { _ = exec("ROLLBACK") }
	tx := &Tx{db: db, conn: db.wconn}
	ok := 0
	grouped := batch
	if len(batch) == 1 { // alone: the transaction itself is the isolation, no savepoint
		r := batch[0]
		if r.err = r.ctx.Err(); r.err == nil {
			runIsolated(r, tx)
		}
		if r.err == nil && r.panicked == nil {
			ok++
		}
		grouped = nil
	}
	for i, r := range grouped {
		if err := r.ctx.Err(); err != nil {
			r.err = err
			continue
		}
		sp := fmt.Sprintf("g%d", i)
		if err := exec("SAVEPOINT " + sp); err != nil {
			r.err = err
			continue
		}
		runIsolated(r, tx)
		if r.err != nil || r.panicked != nil {
			if err := exec("ROLLBACK TO " + sp); err != nil {
				// The transaction is in an unknown state: give up on the whole group.
				rollback()
				finish(fmt.Errorf("sqlstore: rollback to savepoint: %w", err))
				return
			}
		} else {
			ok++
		}
		if err := exec("RELEASE " + sp); err != nil {
			rollback()
			finish(fmt.Errorf("sqlstore: release savepoint: %w", err))
			return
		}
	}
	if ok == 0 {
		rollback()
		finish(nil)
		return
	}
	if err := exec("COMMIT"); err != nil {
		rollback() // SQLite may leave the transaction open after a failed COMMIT
		finish(fmt.Errorf("sqlstore: commit: %w", err))
		return
	}
	finish(nil)
}

// runIsolated runs a caller's function on a goroutine of its own, so that a panic or a
// runtime.Goexit in it (t.FailNow in a test) reaches only that caller and never stops the
// committer.
func runIsolated(r *groupReq, tx *Tx) {
	done := make(chan struct{})
	go func() {
		returned := false
		defer func() {
			if p := recover(); p != nil {
				r.panicked = p
			} else if !returned {
				r.err = errExited
			}
			close(done)
		}()
		r.err = r.fn(tx)
		returned = true
	}()
	<-done
}
