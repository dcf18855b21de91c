// Package sqlstore implements store.Tx over database/sql, once for both backends: queries are
// written in the common subset of SQLite and PostgreSQL with ? placeholders, which the dialect
// rewrites. store/sqlite and store/postgres open the connections, own the migrations, tune
// each engine and implement the few operations it does its own way (Engine: locks, notices to
// other nodes); everything else a transaction does lives here, so both stores behave alike and
// pass the same conformance suite.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/symbiont/symbiont"
	"github.com/symbiont/symbiont/store"
	"github.com/symbiont/symbiont/vault"
)

// DB is an open store.
type DB struct {
	writer  *sql.DB // Update transactions
	reader  *sql.DB // View transactions; may equal writer
	keysDB  *sql.DB
	engine  Engine
	dialect Dialect // engine.Dialect(), read once
	name    string  // engine.Name()
	shared  bool    // engine.Shared()
	keys    *keyStore
	// beginWrite, when set, serialises writers in process (SQLite has one writer).
	writeMu *sync.Mutex

	queries  sync.Map // query text → dialect text
	prepared sync.Map // dialect query text → *sql.Stmt on writer

	closers   []func() error
	closeOnce sync.Once

	group       chan *groupReq // nil without group commit
	wconn       *sql.Conn      // group commit: the writer connection, held for good
	stmtMu      sync.Mutex
	connStmts   map[string]*sql.Stmt
	groupDone   chan struct{}
	groupMu     sync.RWMutex
	groupClosed bool
	closeErr    error
	wstats      writerStats
	pipe        *pipeline // group commit with SyncCommit

	readStmts readStmts // prepared on the reader pool (see readstmt.go)

	// mids is the writer's per-consumer MID sets (WriterDedup; see dedup.go).
	mids *midCache
}

// Open wraps connections into a store of engine e and prepares its hot statements. keysDB holds
// the data-key table; writeMu, if non-nil, is held for the whole of each Update.
func Open(ctx context.Context, writer, reader, keysDB *sql.DB, e Engine, writeMu *sync.Mutex, closers ...func() error) (*DB, error) {
	d := e.Dialect()
	db := &DB{writer: writer, reader: reader, keysDB: keysDB, engine: e, dialect: d, name: e.Name(), shared: e.Shared(),
		writeMu: writeMu, closers: closers}
	db.keys = &keyStore{db: db}
	if d.WriterDedup {
		db.mids = &midCache{sets: map[int64]*midSet{}, max: DefaultMIDCache}
	}
	if d.GroupCommit {
		if err := db.startGroupCommit(ctx); err != nil {
			db.Close()
			return nil, err
		}
		return db, nil
	}
	if err := db.prepare(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// Dialect names the backend.
func (db *DB) Dialect() string { return db.name }

// Shared reports whether other processes may write the same database (PostgreSQL), so that
// each process's in-memory consent index may lag and decisions that admit data must consult
// the database (Engine.Shared).
func (db *DB) Shared() bool { return db.shared }

// ListenChanges calls fn for every change another process announces, until ctx ends. It
// returns at once for an unshared store (see Engine.Listen).
func (db *DB) ListenChanges(ctx context.Context, fn func(store.Change), onError func(error)) error {
	return db.engine.Listen(ctx, func(payload string) {
		if payload == "" {
			fn(store.Change{Kind: store.ChangeConnected})
		} else if c, ok := parseChange(payload); ok {
			fn(c)
		}
	}, onError)
}

// Keys returns the data-key store.
func (db *DB) Keys() vault.KeyStore { return db.keys }

// Close closes every connection; closing again does nothing.
func (db *DB) Close() error {
	db.closeOnce.Do(func() {
		var errs []error
		if db.group != nil {
			db.groupMu.Lock()
			db.groupClosed = true
			close(db.group)
			db.groupMu.Unlock()
			<-db.groupDone
		}
		if db.wconn != nil {
			for _, st := range db.connStmts {
				errs = append(errs, st.Close())
			}
			errs = append(errs, db.wconn.Close()) // back to the pool, for the closers
		}
		errs = append(errs, db.readStmts.close()...)
		db.prepared.Range(func(_, v any) bool {
			errs = append(errs, v.(*sql.Stmt).Close())
			return true
		})
		for _, c := range db.closers {
			errs = append(errs, c())
		}
		db.closeErr = errors.Join(errs...)
	})
	return db.closeErr
}

// q returns query in the dialect's placeholder style.
func (db *DB) q(query string) string {
	if !db.dialect.Numbered {
		return query
	}
	if v, ok := db.queries.Load(query); ok {
		return v.(string)
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(query[i])
	}
	s := b.String()
	if len(query) < 4096 { // don't cache generated multi-row statements of every size
		db.queries.Store(query, s)
	}
	return s
}

// Update runs fn in a read-write transaction (with concurrent ones, on SQLite: see group.go).
func (db *DB) Update(ctx context.Context, fn func(store.Tx) error) error {
	if db.group != nil {
		return db.updateGrouped(ctx, fn)
	}
	if db.writeMu != nil {
		db.writeMu.Lock()
		defer db.writeMu.Unlock()
	}
	return db.run(ctx, db.writer, false, true, fn)
}

// UpdateAlone runs fn in a write transaction committed on its own (see store.Store).
func (db *DB) UpdateAlone(ctx context.Context, fn func(store.Tx) error) error {
	if db.group != nil {
		return db.updateGroupedAs(ctx, fn, true)
	}
	return db.Update(ctx, fn)
}

// View runs fn in a read-only transaction.
func (db *DB) View(ctx context.Context, fn func(store.Tx) error) error {
	return db.run(ctx, db.reader, true, true, fn)
}

// ViewBeforeUpdate is View without the wait for durability (see store.Store): an act then
// waits for one sync, its own commit's, instead of two.
func (db *DB) ViewBeforeUpdate(ctx context.Context, fn func(store.Tx) error) error {
	return db.run(ctx, db.reader, true, false, fn)
}

// run runs fn in a transaction on conn; a read-only one with durable returns only once what
// fn read is durable.
func (db *DB) run(ctx context.Context, conn *sql.DB, readOnly, durable bool, fn func(store.Tx) error) (err error) {
	var opts *sql.TxOptions
	if readOnly && db.dialect.ReadOnlyTx {
		opts = &sql.TxOptions{ReadOnly: true}
	}
	stx, err := conn.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("sqlstore: begin: %w", err)
	}
	tx := &Tx{db: db, tx: stx, readOnly: readOnly}
	// Roll back unless committed: after a View, when fn returns an error, when it panics (the
	// panic goes on up) and when its goroutine exits (runtime.Goexit, e.g. t.FailNow in a
	// test), which recover does not see and which would otherwise leave the transaction open
	// and its connection (on SQLite the only writer) taken for good. After Commit, Rollback is
	// a no-op.
	defer func() { _ = stx.Rollback() }()
	if err := fn(tx); err != nil {
		return err
	}
	if readOnly {
		if !durable {
			return nil
		}
		// What fn read may include a commit not yet durable (pipelined commit, group.go):
		// it goes to the caller only once it is.
		return db.durableBarrier()
	}
	if err := tx.flushCounts(ctx); err != nil {
		return err
	}
	if err := stx.Commit(); err != nil {
		return fmt.Errorf("sqlstore: commit: %w", err)
	}
	return nil
}

// Tx is a store transaction: a database/sql transaction, or, under group commit, a transaction
// opened by hand on the writer connection, whose statements are prepared once and reused.
type Tx struct {
	db   *DB
	tx   *sql.Tx
	conn *sql.Conn // group commit: the writer connection, in a transaction
	req  *groupReq // group commit: the caller whose function runs (see OnUndo)
	// readOnly: a View, whose statements are prepared once on the reader pool (readstmt.go).
	readOnly bool
	// pending are console counter deltas written just before the commit (see addCounts;
	// under group commit they wait in req instead).
	pending counts
}

var _ store.Tx = (*Tx)(nil)

func (t *Tx) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	q := t.db.q(query)
	if t.conn != nil {
		st, done, err := t.db.connStmt(ctx, t.conn, q)
		if err != nil {
			return nil, err
		}
		defer done()
		return st.ExecContext(ctx, args...)
	}
	return t.tx.ExecContext(ctx, q, args...)
}

func (t *Tx) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	q := t.db.q(query)
	if t.conn != nil {
		st, done, err := t.db.connStmt(ctx, t.conn, q)
		if err != nil {
			return nil, err
		}
		rows, err := st.QueryContext(ctx, args...)
		done() // a closed statement's rows stay readable until they are closed
		return rows, err
	}
	if t.readOnly {
		if rows, ok, err := t.readQuery(ctx, q, args...); ok {
			return rows, err
		}
	}
	return t.tx.QueryContext(ctx, q, args...)
}

// queryPrepared is query through a statement prepared once and reused by every transaction
// (the large multi-row inserts, whose parsing would otherwise cost about as much as their
// execution): on the writer connection under group commit, else as Open prepared it.
func (t *Tx) queryPrepared(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if t.conn != nil {
		return t.query(ctx, query, args...)
	}
	q := t.db.q(query)
	v, ok := t.db.prepared.Load(q)
	if !ok {
		return t.tx.QueryContext(ctx, q, args...)
	}
	return t.tx.StmtContext(ctx, v.(*sql.Stmt)).QueryContext(ctx, args...)
}

// execPrepared is exec through a statement prepared once (see queryPrepared).
func (t *Tx) execPrepared(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if t.conn != nil {
		return t.exec(ctx, query, args...)
	}
	q := t.db.q(query)
	v, ok := t.db.prepared.Load(q)
	if !ok {
		return t.tx.ExecContext(ctx, q, args...)
	}
	return t.tx.StmtContext(ctx, v.(*sql.Stmt)).ExecContext(ctx, args...)
}

// maxConnStmts bounds the statements kept prepared on the writer connection. Queries with
// IN lists of every length would otherwise fill it: past the bound, statements are prepared
// for one use and closed.
const maxConnStmts = 1024

// connStmt returns the statement for q prepared on the writer connection, and the function to
// call when done with it.
func (db *DB) connStmt(ctx context.Context, conn *sql.Conn, q string) (*sql.Stmt, func(), error) {
	db.stmtMu.Lock()
	st := db.connStmts[q]
	db.stmtMu.Unlock()
	if st != nil {
		return st, func() {}, nil
	}
	st, err := conn.PrepareContext(context.WithoutCancel(ctx), q)
	if err != nil {
		return nil, nil, err
	}
	db.stmtMu.Lock()
	defer db.stmtMu.Unlock()
	if len(db.connStmts) >= maxConnStmts {
		return st, func() { st.Close() }, nil
	}
	db.connStmts[q] = st
	return st, func() {}, nil
}

// insertID runs an INSERT of one row whose text ends in "RETURNING id" and returns the id. With
// Dialect.LastInsertID (SQLite) it runs the statement without the RETURNING clause and takes
// the rowid SQLite reports (the single writer's own connection), which spares a result set per
// insert; PostgreSQL reports no insert id, so there the clause stays.
func (t *Tx) insertID(ctx context.Context, query string, args ...any) (int64, error) {
	var id int64
	if !t.db.dialect.LastInsertID {
		err := t.queryRow(ctx, query, args...).Scan(&id)
		return id, err
	}
	q, ok := strings.CutSuffix(query, " RETURNING id")
	if !ok {
		return 0, fmt.Errorf("sqlstore: insertID needs a statement ending in RETURNING id: %q", query)
	}
	res, err := t.exec(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	return res.LastInsertId()
}

func (t *Tx) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	q := t.db.q(query)
	if t.conn != nil {
		st, done, err := t.db.connStmt(ctx, t.conn, q)
		if err != nil {
			return t.conn.QueryRowContext(ctx, q, args...) // reports the same error
		}
		defer done()
		return st.QueryRowContext(ctx, args...)
	}
	if t.readOnly {
		if row := t.readQueryRow(ctx, q, args...); row != nil {
			return row
		}
	}
	return t.tx.QueryRowContext(ctx, q, args...)
}

// prepare prepares the hot statements on the writer, before any transaction holds it.
func (db *DB) prepare(ctx context.Context) error {
	for _, size := range chunkSizes() {
		for _, conflict := range []bool{true, false} {
			q := db.q(insertEventsSQL(db.dialect, size, conflict))
			if _, ok := db.prepared.Load(q); ok {
				continue // the dialect's statement is the same either way
			}
			st, err := db.writer.PrepareContext(ctx, q)
			if err != nil {
				return fmt.Errorf("sqlstore: prepare: %w", err)
			}
			db.prepared.Store(q, st)
		}
	}
	return nil
}

// rowsDone ends a loop over rows: the error that ended the iteration (a statement's error can
// come with its rows, after some of them; Close does not report it), else Close's.
func rowsDone(rows *sql.Rows) error {
	if err := rows.Err(); err != nil {
		rows.Close()
		return err
	}
	return rows.Close()
}

// notFound turns sql.ErrNoRows into a not_found application error.
func notFound(err error, what string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return symbiont.Errorf(symbiont.ENOTFOUND, "%s not found.", what)
	}
	return err
}

func ms(t time.Time) int64       { return symbiont.Millis(t) }
func fromMS(v int64) time.Time   { return symbiont.FromMillis(v) }
func boolInt(b bool) int64       { return map[bool]int64{false: 0, true: 1}[b] }
func joinList(s []string) string { return strings.Join(s, ",") }
func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// placeholders returns "(?,?,…),(…)" for rows×cols values.
func placeholders(rows, cols int) string {
	one := "(" + strings.TrimSuffix(strings.Repeat("?,", cols), ",") + ")"
	return strings.TrimSuffix(strings.Repeat(one+",", rows), ",")
}

// inList returns "?,?,…" for n values and the values as []any.
func inList[T any](vals []T) (string, []any) {
	args := make([]any, len(vals))
	for i, v := range vals {
		args[i] = v
	}
	return strings.TrimSuffix(strings.Repeat("?,", len(vals)), ","), args
}

// Conn is a *sql.DB or *sql.Conn.
type Conn interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	BeginTx(ctx context.Context, opts *sql.TxOptions) (*sql.Tx, error)
}

// Migrate applies, in order, the numbered *.sql files of migrations not yet recorded in the
// schema_migrations table of conn. Each file runs in its own transaction.
func Migrate(ctx context.Context, conn Conn, migrations fs.FS, d Dialect) error {
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	names, err := fs.Glob(migrations, "*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		v, err := strconv.Atoi(strings.SplitN(name, "_", 2)[0])
		if err != nil {
			return fmt.Errorf("migrate: %s: file names start with a version number", name)
		}
		var n int
		q := `SELECT COUNT(*) FROM schema_migrations WHERE version = ?`
		if d.Numbered {
			q = `SELECT COUNT(*) FROM schema_migrations WHERE version = $1`
		}
		if err := conn.QueryRowContext(ctx, q, v).Scan(&n); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		if n > 0 {
			continue
		}
		body, err := fs.ReadFile(migrations, name)
		if err != nil {
			return err
		}
		tx, err := conn.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			_ = tx.Rollback()
			return fmt.Errorf("migrate: %s: %w", name, err)
		}
		ins := `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`
		if d.Numbered {
			ins = `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)`
		}
		if _, err := tx.ExecContext(ctx, ins, v, time.Now().UnixMilli()); err != nil {
			_ = tx.Rollback()
			return fmt.Errorf("migrate: %s: %w", name, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("migrate: %s: %w", name, err)
		}
	}
	return nil
}

var errNoRows = sql.ErrNoRows

func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }
