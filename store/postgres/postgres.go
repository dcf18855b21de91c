// Package postgres is Symbiont's scale-out store: PostgreSQL through pgx (github.com/jackc/pgx/v5)
// behind database/sql, with the same transaction code as the embedded store (package sqlstore).
// Several `symbiont serve` nodes may share one database; migrations take an advisory lock so
// that only one node applies them.
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver

	"github.com/symbiont/symbiont/store/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

var dialect = sqlstore.Dialect{Name: "postgres", Numbered: true, KeyTable: "vault_keys"}

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
	return sqlstore.Open(ctx, db, db, db, dialect, nil, db.Close)
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
