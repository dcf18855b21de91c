// Package postgres is Symbiont's scale-out store: PostgreSQL through pgx (github.com/jackc/pgx/v5)
// behind database/sql, with the same transaction code as the embedded store (package sqlstore).
// Several `symbiont serve` nodes may share one database; migrations take an advisory lock so
// that only one node applies them.
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver

	"github.com/symbiont/symbiont/store/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

var dialect = sqlstore.Dialect{Numbered: true, KeyTable: "vault_keys", ReadOnlyTx: true}

// Advisory-lock keys, each XORed with the schema's lock space (see engine).
const (
	// migrationLock serialises migrations across nodes (a session lock, taken by migrate).
	migrationLock = 0x53594d42 // "SYMB"
	// ledgerLock serialises ledger integration across nodes.
	ledgerLock = 0x4c454447 // "LEDG"
)

// engine is PostgreSQL's sqlstore.Engine: several nodes share the database, so its locks are
// transaction-scoped advisory locks and its notices NOTIFY on the schema's channel.
type engine struct {
	dsn string // for the LISTEN connection
	// lockSpace is XORed into advisory-lock keys (consumer ids stay far below 2^47), so that
	// schemas sharing a database (deployments, test schemas) have keys of their own and do not
	// wait on each other's locks.
	lockSpace int64
	// channel is the schema's notification channel (ChangeChannel), on which every change
	// other nodes may have cached is announced (see store.Change): "consent:brand:consumer",
	// "key:id", "plan:brand", "signals:brand", "vocab:brand".
	channel string
}

var _ sqlstore.Engine = (*engine)(nil)

func newEngine(dsn, schema string) *engine {
	return &engine{dsn: dsn, lockSpace: int64(schemaHash(schema)>>48) << 47, channel: ChangeChannel(schema)}
}

func (*engine) Name() string { return "postgres" }

func (*engine) Shared() bool { return true }

func (*engine) Dialect() sqlstore.Dialect { return dialect }

// LockConsumer takes a transaction-scoped advisory lock on the consumer's id.
func (e *engine) LockConsumer(ctx context.Context, tx sqlstore.Execer, consumerID int64) error {
	_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(?)`, consumerID^e.lockSpace)
	return err
}

// LockConsumers takes the consumers' locks in one statement: unnest yields the keys in the
// array's order, and the locks are taken row by row in it (a consumer's key is its id XOR the
// lock space, which stays in the bits above any id, so ascending ids give ascending keys).
func (e *engine) LockConsumers(ctx context.Context, tx sqlstore.Execer, consumerIDs []int64) error {
	switch len(consumerIDs) {
	case 0:
		return nil
	case 1:
		return e.LockConsumer(ctx, tx, consumerIDs[0])
	}
	keys := make([]int64, len(consumerIDs))
	for i, c := range consumerIDs {
		keys[i] = c ^ e.lockSpace
	}
	_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(k) FROM unnest(?::bigint[]) WITH ORDINALITY AS u(k, i) ORDER BY i`, keys)
	return err
}

// LockIdentifier takes a transaction-scoped advisory lock in the two-key space of advisory
// locks, apart from the one-key locks of consumers and the ledger: the schema's lock space and
// 32 bits of a hash of the identifier (two identifiers sharing them only wait for each other).
func (e *engine) LockIdentifier(ctx context.Context, tx sqlstore.Execer, brandID int64, kind string, hash []byte) error {
	h := fnv.New32a()
	h.Write(binary.BigEndian.AppendUint64(nil, uint64(brandID)))
	h.Write([]byte(kind))
	h.Write([]byte{0})
	h.Write(hash)
	_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(?, ?)`, int32(e.lockSpace>>47), int32(h.Sum32()))
	return err
}

// LockLedger takes the transaction-scoped advisory lock of integration.
func (e *engine) LockLedger(ctx context.Context, tx sqlstore.Execer) error {
	_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(?)`, ledgerLock^e.lockSpace)
	return err
}

// Notify is pg_notify on the schema's channel. NOTIFY is transactional: it is delivered only
// if the transaction commits.
func (e *engine) Notify(ctx context.Context, tx sqlstore.Execer, payload string) error {
	_, err := tx.ExecContext(ctx, `SELECT pg_notify(?, ?)`, e.channel, payload)
	return err
}

// Listen listens on the schema's channel (see listen).
func (e *engine) Listen(ctx context.Context, fn func(payload string), onError func(error)) error {
	return listen(ctx, e.dsn, e.channel, fn, onError)
}

// InsertConflict reports whether err is unique_violation (SQLSTATE 23505) or deadlock_detected
// (40P01: two transactions inserting the same messages in different orders wait for each other).
func (*engine) InsertConflict(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "23505" || pe.Code == "40P01")
}

// Open connects to the database at dsn (a libpq URL or key=value string), migrating it if
// needed. maxConns bounds the pool (0: 16).
func Open(ctx context.Context, dsn string, maxConns int) (*sqlstore.DB, error) {
	if maxConns <= 0 {
		maxConns = 16
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	db.SetMaxOpenConns(maxConns)
	db.SetMaxIdleConns(maxConns)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	if err := migrate(ctx, db); err != nil {
		db.Close()
		return nil, err
	}
	// Advisory locks and NOTIFY channels are database-wide: the schema's have a space and a
	// channel of their own (see engine). Without, a node would also wait on other schemas'
	// locks, and reload consumers of its schema whenever another schema announced a change to
	// a consumer with the same id.
	var schema string
	if err := db.QueryRowContext(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("postgres: current schema: %w", err)
	}
	return sqlstore.Open(ctx, db, db, db, newEngine(dsn, schema), nil, db.Close)
}

// ChangeChannel returns the notification channel of the nodes sharing schema:
// "symbiont_changes_" and 16 hex digits of the schema name's FNV-1a 64-bit hash (a channel name
// is an identifier of at most 63 bytes, and schema names can be as long and hold any character).
func ChangeChannel(schema string) string {
	return fmt.Sprintf("symbiont_changes_%016x", schemaHash(schema))
}

func schemaHash(schema string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(schema))
	return h.Sum64()
}

// listen delivers the payloads of notifications on channel until ctx ends, reconnecting after
// a lost connection. It calls fn("") each time it is (re)connected and listening: changes
// made while it was not may have been missed. Failures go to onError. (LISTEN needs a session
// of its own: behind a pooler in transaction mode it would not hear anything.)
func listen(ctx context.Context, dsn, channel string, fn func(payload string), onError func(error)) error {
	for ctx.Err() == nil {
		conn, err := pgx.Connect(ctx, dsn)
		if err == nil {
			if _, err = conn.Exec(ctx, "LISTEN "+pgx.Identifier{channel}.Sanitize()); err == nil {
				fn("")
				for {
					n, werr := conn.WaitForNotification(ctx)
					if werr != nil {
						err = werr
						break
					}
					fn(n.Payload)
				}
			}
			conn.Close(context.WithoutCancel(ctx))
		}
		if ctx.Err() != nil {
			return nil
		}
		if onError != nil {
			onError(fmt.Errorf("postgres: listening for changes: %w", err))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
	return nil
}

func migrate(ctx context.Context, db *sql.DB) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, migrationLock); err != nil {
		return fmt.Errorf("postgres: migration lock: %w", err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, migrationLock)
	m, _ := fs.Sub(migrations, "migrations")
	if err := sqlstore.Migrate(ctx, conn, m, dialect); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	return nil
}
