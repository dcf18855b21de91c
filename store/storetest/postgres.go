package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// PostgresEnv names the environment variable holding the DSN of the PostgreSQL database tests
// run against; DefaultPostgresDSN is used when it is unset.
const (
	PostgresEnv        = "SYMBIONT_TEST_POSTGRES"
	DefaultPostgresDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
)

// unreachable remembers, per base DSN, why PostgreSQL could not be reached, so that a suite of
// many subtests tries once rather than once per subtest.
var unreachable sync.Map // base DSN → error

// PostgresDSN returns a DSN to a fresh, empty schema of the test PostgreSQL database (see
// PostgresBaseDSN): search_path is set to the schema, so everything created through the DSN
// lands in it. The schema is dropped when t ends; register the store's Close with t.Cleanup
// after calling PostgresDSN so that it runs first.
//
// When PostgreSQL cannot be reached, t is skipped, or failed when $CI is true.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	return PostgresSchemaDSN(t, PostgresBaseDSN())
}

// PostgresBaseDSN returns the DSN of the test database: $SYMBIONT_TEST_POSTGRES, else
// DefaultPostgresDSN.
func PostgresBaseDSN() string {
	if dsn := os.Getenv(PostgresEnv); dsn != "" {
		return dsn
	}
	return DefaultPostgresDSN
}

// RequirePostgres skips t (fails it when $CI is true) unless the test database (see
// PostgresBaseDSN) is reachable: call it first in a test whose subtests each take a
// PostgresDSN, so that the test is skipped once rather than subtest by subtest.
func RequirePostgres(t testing.TB) {
	t.Helper()
	base := PostgresBaseDSN()
	conn := connect(t, base)
	conn.Close(context.Background())
}

// connect connects to base, or skips or fails t when it cannot.
func connect(t testing.TB, base string) *pgx.Conn {
	t.Helper()
	if err, ok := unreachable.Load(base); ok {
		postgresUnreachable(t, base, err.(error))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		unreachable.Store(base, err)
		postgresUnreachable(t, base, err)
	}
	return conn
}

// PostgresSchemaDSN is PostgresDSN for the database at base: it returns a DSN to a fresh schema
// there, dropped when t ends, and skips (fails when $CI is true) t when base is unreachable.
func PostgresSchemaDSN(t testing.TB, base string) string {
	t.Helper()
	conn := connect(t, base)
	defer conn.Close(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	var b [8]byte
	_, _ = rand.Read(b[:])
	schema := "symbiont_test_" + hex.EncodeToString(b[:])
	quoted := pgx.Identifier{schema}.Sanitize()
	if _, err := conn.Exec(ctx, `CREATE SCHEMA `+quoted); err != nil {
		t.Fatalf("storetest: create schema %s: %v", schema, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("storetest: drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(ctx, `DROP SCHEMA IF EXISTS `+quoted+` CASCADE`); err != nil {
			t.Errorf("storetest: drop schema %s: %v", schema, err)
		}
	})
	return withSearchPath(base, schema)
}

// withSearchPath adds search_path=schema to a URL or key=value DSN.
func withSearchPath(dsn, schema string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err == nil {
			q := u.Query()
			q.Set("search_path", schema)
			u.RawQuery = q.Encode()
			return u.String()
		}
	}
	return strings.TrimSpace(dsn) + " search_path=" + schema
}

func postgresUnreachable(t testing.TB, dsn string, err error) {
	t.Helper()
	const how = "start PostgreSQL on 127.0.0.1:5432 (trust auth for user postgres, a database named test), " +
		"or set " + PostgresEnv + " to the DSN of a database the tests may create schemas in"
	if ci, _ := strconv.ParseBool(os.Getenv("CI")); ci {
		t.Fatalf("PostgreSQL is unreachable at %s: %v\nCI=true, so the PostgreSQL tests must run: %s", redact(dsn), err, how)
	}
	t.Skipf("PostgreSQL is unreachable at %s (%v); skipping. To run these tests, %s", redact(dsn), err, how)
}

// redact hides a password in a URL DSN.
func redact(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		if _, ok := u.User.Password(); ok {
			return u.Redacted()
		}
	}
	return dsn
}
