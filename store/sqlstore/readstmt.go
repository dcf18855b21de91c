package sqlstore

import (
	"context"
	"database/sql"
	"sync"
)

// Statements of read-only transactions on SQLite's reader pool are prepared once per query and
// reused on every reader connection (database/sql prepares a *sql.Stmt on each connection the
// first time it runs there, then keeps it). Parsing a statement anew in each View cost about
// as much as running it: with acts reading their state before the write transaction, it was a
// fifth of all CPU time. PostgreSQL's driver keeps its own statement cache.
//
// A query seen for the first time runs unprepared while it is prepared in the background:
// preparing on the pool takes a connection, and a View waiting for one while holding another
// would deadlock once every connection is held by such a View.

type readStmts struct {
	mu     sync.Mutex
	m      map[string]*sql.Stmt // nil value: being prepared
	closed bool
	// busy counts preparations under way: Close waits for them, so that none opens a
	// connection (and the database's files) after the store is closed.
	busy sync.WaitGroup
}

// readStmt returns the statement for q prepared on the reader pool, or nil when it is not
// (yet) prepared: a dialect without PreparedReads, a query seen for the first time, or the
// bound reached.
func (db *DB) readStmt(q string) *sql.Stmt {
	if !db.dialect.PreparedReads {
		return nil
	}
	rs := &db.readStmts
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.m == nil {
		rs.m = map[string]*sql.Stmt{}
	}
	st, seen := rs.m[q]
	if seen || rs.closed || len(rs.m) >= maxConnStmts {
		return st
	}
	rs.m[q] = nil
	rs.busy.Add(1)
	go func() {
		defer rs.busy.Done()
		st, err := db.reader.PrepareContext(context.Background(), q)
		rs.mu.Lock()
		defer rs.mu.Unlock()
		switch {
		case err != nil:
			delete(rs.m, q) // the query reports its error when it runs; try again later
		case rs.closed:
			st.Close()
		default:
			rs.m[q] = st
		}
	}()
	return nil
}

// close closes the prepared statements, waiting for those being prepared (which close
// themselves once they see closed).
func (rs *readStmts) close() []error {
	rs.mu.Lock()
	rs.closed = true
	var errs []error
	for _, st := range rs.m {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	rs.mu.Unlock()
	rs.busy.Wait()
	return errs
}

// readQuery runs a query of a read-only transaction through its prepared statement; ok is
// false when there is none.
func (t *Tx) readQuery(ctx context.Context, q string, args ...any) (rows *sql.Rows, ok bool, err error) {
	st := t.db.readStmt(q)
	if st == nil {
		return nil, false, nil
	}
	rows, err = t.tx.StmtContext(ctx, st).QueryContext(ctx, args...)
	return rows, true, err
}

func (t *Tx) readQueryRow(ctx context.Context, q string, args ...any) *sql.Row {
	st := t.db.readStmt(q)
	if st == nil {
		return nil
	}
	return t.tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
}
