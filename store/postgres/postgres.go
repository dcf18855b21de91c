// Package postgres is Symbiont's scale-out store: PostgreSQL through pgx (github.com/jackc/pgx/v5)
// behind database/sql, with the same transaction code as the embedded store (package sqlstore).
// Several `symbiont serve` nodes may share one database; migrations take an advisory lock so
// that only one node applies them.
package postgres

import (
	"context"
	"database/sql"
	"embed"
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

var dialect = sqlstore.Dialect{Name: "postgres", Numbered: true, KeyTable: "vault_keys", Shared: true, ReadOnlyTx: true,
	InsertConflict: insertConflict}

// insertConflict reports whether err is unique_violation (SQLSTATE 23505) or deadlock_detected
// (40P01: two transactions inserting the same messages in different orders wait for each other).
func insertConflict(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "23505" || pe.Code == "40P01")
}

// migrationLock is the pg_advisory_lock key that serialises migrations across nodes.
const migrationLock = 0x53594d42 // "SYMB"

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
	st, err := sqlstore.Open(ctx, db, db, db, dialect, nil, db.Close)
	if err != nil {
		return nil, err
	}
	// Advisory locks are database-wide: give this schema's keys a space of their own, so that
	// deployments (or test schemas) sharing a database do not wait on each other's locks.
	var schema string
	if err := db.QueryRowContext(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		st.Close()
		return nil, fmt.Errorf("postgres: current schema: %w", err)
	}
	st.LockSpace = int64(schemaHash(schema)>>48) << 47
	// NOTIFY channels are database-wide too: without a channel of its own, a node would reload
	// consumers of its schema whenever another schema announced a change to a consumer with the
	// same id.
	st.Channel = ChangeChannel(schema)
	st.Listen = func(ctx context.Context, channel string, fn func(payload string), onError func(error)) error {
		return listen(ctx, dsn, channel, fn, onError)
	}
	return st, nil
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
