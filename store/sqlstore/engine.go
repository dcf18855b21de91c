package sqlstore

import (
	"context"
	"database/sql"
)

// Engine is what one database engine does its own way: locks, notices to other processes, the
// recognition of a conflicting insert, and the fixed properties in Dialect. store/sqlite and
// store/postgres implement it; everything else a transaction does is written here once, in the
// SQL both engines share, so a third engine is one more package implementing Engine (and
// owning its migrations). docs/architecture.md ("Engines") says what such a package must do.
//
// The operations that run in a transaction get it as an Execer. sqlstore calls them from its
// store.Tx methods, from many goroutines at once: an implementation must be safe for
// concurrent use.
type Engine interface {
	// Name names the engine, as store.Store's Dialect reports it ("sqlite", "postgres").
	Name() string
	// Shared reports whether other processes may write the same database at the same time (the
	// nodes sharing a PostgreSQL database). sqlstore then takes its in-memory state to be
	// possibly stale (decisions that admit data consult the database), announces changes with
	// Notify, and spreads hot counter rows over shards, which concurrent writers would otherwise
	// queue on. An unshared engine has one writing process: nobody to lock against, to notify
	// or to listen to.
	Shared() bool
	// Dialect returns the engine's fixed properties. sqlstore reads it once, in Open.
	Dialect() Dialect

	// LockConsumer returns once the transaction holds the consumer's lock, which it then holds
	// until it ends (commit or rollback): it serialises the transactions, of every process,
	// that change one consumer's consent or append to its ledger chain, so that each sees what
	// the previous holder committed. An engine whose write transactions already run one at a
	// time (one writer) may do nothing.
	LockConsumer(ctx context.Context, tx Execer, consumerID int64) error
	// LockConsumers is LockConsumer of each of the consumers, taken in the order given (the
	// callers give ascending ids, the one order in which every process locks several), in as
	// few round trips as the engine can (a training read locks a thousand consumers a
	// transaction).
	LockConsumers(ctx context.Context, tx Execer, consumerIDs []int64) error
	// LockIdentifier is LockConsumer for an identifier (brand, kind and keyed hash), taken
	// before a lookup that may be followed by a link, so that two transactions do not each
	// create a consumer for one new identifier. Different identifiers may share a lock (a hash
	// of them: they only wait for each other), but never with a consumer or the ledger.
	LockIdentifier(ctx context.Context, tx Execer, brandID int64, kind string, hash []byte) error
	// LockLedger is LockConsumer for the ledger's integration: one transaction at a time
	// integrates pending entries into the log.
	LockLedger(ctx context.Context, tx Execer) error
	// Notify announces payload (a store.Change, as parseChange reads it) to every process's
	// Listen if, and only once, the transaction commits; not at all if it rolls back. An
	// unshared engine does nothing (and sqlstore may skip formatting the payload).
	Notify(ctx context.Context, tx Execer, payload string) error
	// Listen calls fn with the payload of every Notify committed by any process, until ctx
	// ends, and fn("") each time it is (again) listening: what was announced before that may
	// have been missed. It survives lost connections, reporting each failure to onError (which
	// may be nil). It returns nil when ctx ends; an unshared engine returns nil at once.
	Listen(ctx context.Context, fn func(payload string), onError func(error)) error
	// InsertConflict reports whether err, from a multi-row insert of events without a conflict
	// clause (see InsertEvents), is the engine's unique violation, or a deadlock between
	// transactions inserting the same rows, after which the statement rolled back to its
	// savepoint may be run again (with the clause). Never called with Dialect.WriterDedup.
	InsertConflict(err error) bool
}

// Dialect is an engine's fixed properties: how its SQL is written and how its connections are
// used. sqlstore reads them once, in Open, and on its hot paths as plain fields.
type Dialect struct {
	// Numbered placeholders ($1, $2, …) instead of ?.
	Numbered bool
	// KeyTable is the table of consumers' data keys (for SQLite it lives in its own file).
	KeyTable string
	// PurgeKeys, when set, is a statement run on the key database after DeleteKeys that
	// returns one row of three columns, the first non-zero when the purge could not complete.
	// It removes destroyed keys from wherever else the engine still keeps them (for SQLite: the
	// write-ahead log, which holds the key's pages until a checkpoint).
	PurgeKeys string
	// WriterDedup: the events table has no unique (consumer_id, mid) index; the single writer
	// settles duplicates from its in-memory MID sets and takes ids from the sequences table
	// (SQLite: events are appended in id order, see dedup.go). Otherwise the unique index
	// settles them (PostgreSQL), and Engine.InsertConflict recognises its violations.
	WriterDedup bool
	// LastInsertID: an INSERT's sql.Result reports the id of the row it inserted (SQLite's
	// rowid), so one-row inserts run without their RETURNING id clause, which spares a result
	// set each (see insertID); PostgreSQL's driver reports none.
	LastInsertID bool
	// ReadOnlyTx: View transactions are begun READ ONLY (PostgreSQL; SQLite's reader
	// connections are read-only by their own setting).
	ReadOnlyTx bool
	// PreparedReads: View statements are prepared once on the reader pool and reused
	// (readstmt.go; PostgreSQL's driver keeps a statement cache of its own).
	PreparedReads bool
	// GroupCommit: concurrent Update transactions are committed together (SQLite, which has
	// one writer and an fsync per commit).
	GroupCommit bool
	// SyncCommit, with GroupCommit, makes every commit so far durable: the writer's COMMIT
	// then does not wait for the disk, and callers are answered after this returns (see
	// group.go). It must be safe to call from another goroutine than the writer's.
	SyncCommit func() error
}

// Execer runs statements in the transaction an Engine operation belongs to. A query is written
// with ? placeholders, which it rewrites to the engine's (Dialect.Numbered) as it does every
// query of sqlstore's. (It is a struct, not an interface, so that the arguments of a call stay
// on the caller's stack: a lock costs no allocation more than its own statement's.)
type Execer struct{ t *Tx }

// ExecContext runs query with args in the transaction.
func (x Execer) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return x.t.exec(ctx, query, args...)
}

// execer returns t as the Execer an Engine operation runs in.
func (t *Tx) execer() Execer { return Execer{t} }
