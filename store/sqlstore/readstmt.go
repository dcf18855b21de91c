package sqlstore

import (
	"context"
	"database/sql"
)

// Statements of read-only transactions on SQLite's reader pool are prepared once per query and
// reused on every reader connection (database/sql prepares a *sql.Stmt on each connection the
// first time it runs there, then keeps it). Parsing a statement anew in each View cost about
// as much as running it: with acts reading their state before the write transaction, it was a
// fifth of all CPU time. PostgreSQL's driver keeps its own statement cache.

// readStmt returns the statement for q prepared on the reader pool, or nil when statements are
// not kept there (PostgreSQL, or the bound is reached).
func (db *DB) readStmt(ctx context.Context, q string) *sql.Stmt {
	if v, ok := db.readStmts.Load(q); ok {
		return v.(*sql.Stmt)
	}
	if db.dialect.Name != "sqlite" || db.readStmtCount.Load() >= maxConnStmts {
		return nil
	}
	st, err := db.reader.PrepareContext(context.WithoutCancel(ctx), q)
	if err != nil {
		return nil // the query itself reports the error
	}
	if v, loaded := db.readStmts.LoadOrStore(q, st); loaded {
		st.Close()
		return v.(*sql.Stmt)
	}
	db.readStmtCount.Add(1)
	return st
}

// readQuery runs a query of a read-only transaction through its prepared statement.
func (t *Tx) readQuery(ctx context.Context, q string, args ...any) (*sql.Rows, bool, error) {
	st := t.db.readStmt(ctx, q)
	if st == nil {
		return nil, false, nil
	}
	rows, err := t.tx.StmtContext(ctx, st).QueryContext(ctx, args...)
	return rows, true, err
}

func (t *Tx) readQueryRow(ctx context.Context, q string, args ...any) *sql.Row {
	st := t.db.readStmt(ctx, q)
	if st == nil {
		return nil
	}
	return t.tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
}
