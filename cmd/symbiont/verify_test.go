package main

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"

	"github.com/symbiont/symbiont/ledger"
	"github.com/symbiont/symbiont/platform"
	"github.com/symbiont/symbiont/store"
	"github.com/symbiont/symbiont/store/sqlite"
	"github.com/symbiont/symbiont/store/storetest"
)

// logWith builds a closed platform whose ledger holds n entries (in dir, on PostgreSQL at dsn
// when given) and returns the log's verifier key.
func logWith(t *testing.T, dir, dsn string, n int) string {
	t.Helper()
	ctx := context.Background()
	p, err := platform.Open(ctx, platform.Config{DataDir: dir, PostgresDSN: dsn, AdminToken: "verify-test-admin-token-0123456789",
		ExpiryInterval: -1, AccrualInterval: -1, IntegrateEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	b, err := p.Tenants.CreateBrand(ctx, "Aurora")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Store.Update(ctx, func(tx store.Tx) error {
		for i := range n {
			if _, err := p.Ledger.Append(ctx, tx, ledger.Act{BrandID: b.Brand.ID, ConsumerID: int64(1 + i%3), Kind: ledger.KindAccessRead,
				At: time.Now(), Body: map[string]int{"i": i}}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Ledger.Integrate(ctx); err != nil {
		t.Fatal(err)
	}
	key := p.Ledger.VerifierKey()
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	return key
}

func exitCode(err error) int {
	var ee *exitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.code
	}
	return 1
}

// TestVerifyFull: `symbiont verify --full` on SQLite and PostgreSQL: OK with progress, exit 1
// naming what it found in a tampered log, exit 2 when it cannot check.
func TestVerifyFull(t *testing.T) {
	defer func(d time.Duration) { progressEvery = d }(progressEvery)
	progressEvery = 0 // every batch
	ctx := context.Background()
	for _, c := range []struct {
		name string
		dsn  func(t *testing.T) string
		db   func(t *testing.T, dir, dsn string) *sql.DB
	}{
		{"sqlite", func(*testing.T) string { return "" }, func(t *testing.T, dir, _ string) *sql.DB {
			db, err := sql.Open("sqlite", filepath.Join(dir, sqlite.DBFile))
			if err != nil {
				t.Fatal(err)
			}
			return db
		}},
		{"postgres", func(t *testing.T) string { return storetest.PostgresDSN(t) }, func(t *testing.T, _, dsn string) *sql.DB {
			db, err := sql.Open("pgx", dsn)
			if err != nil {
				t.Fatal(err)
			}
			return db
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir, dsn := t.TempDir(), c.dsn(t)
			key := logWith(t, dir, dsn, 12)
			args := []string{"--full", "--data", dir}
			if dsn != "" {
				args = append(args, "--postgres", dsn)
			}
			var out, errb bytes.Buffer
			err := verify(ctx, args, &out, &errb)
			if err != nil || !strings.Contains(out.String(), "OK: the stored log is intact: 12 entries in the checkpoint of size 12 (root ") ||
				!strings.Contains(out.String(), "and the checkpoint kept in "+filepath.Join(dir, platform.LedgerHeadFile)+" is in it") ||
				!strings.Contains(out.String(), "Checked against the key stored in the database: "+key) ||
				!regexp.MustCompile(`(?m)^checked 12 of 12 entries \(100%\), `).MatchString(errb.String()) {
				t.Fatalf("verify --full: %v\nstdout:\n%s\nstderr:\n%s", err, &out, &errb)
			}
			// With the key given, it is not repeated.
			out.Reset()
			if err := verify(ctx, append(args, "--key", key), &out, &errb); err != nil || strings.Contains(out.String(), "Checked against the key stored") {
				t.Fatalf("verify --full --key: %v\n%s", err, &out)
			}
			// Another key: the log is not the one it claims to be.
			err = verify(ctx, append(args, "--key", "other.example/ledger+01234567+AWOBd2hJg1vKO4cBKzI5c8pSsfOqNsXy4J06jaXWDdB4"), &out, &errb)
			if exitCode(err) == 0 {
				t.Fatal("verify --full with another key passed")
			}

			db := c.db(t, dir, dsn)
			var rec []byte
			if err := db.QueryRow(`SELECT record FROM ledger_entries WHERE idx = 4`).Scan(&rec); err != nil {
				t.Fatal(err)
			}
			q := `UPDATE ledger_entries SET record = ? WHERE idx = 4`
			if dsn != "" {
				q = `UPDATE ledger_entries SET record = $1 WHERE idx = 4`
			}
			if _, err := db.Exec(q, bytes.Replace(rec, []byte(`"i":4`), []byte(`"i":5`), 1)); err != nil {
				t.Fatal(err)
			}
			db.Close()
			out.Reset()
			err = verify(ctx, args, &out, &errb)
			if exitCode(err) != exitFailed || !strings.Contains(err.Error(), "VERIFICATION FAILED: the stored log is not intact: entry") ||
				!strings.Contains(err.Error(), "the record does not open to its commitment") || strings.Contains(out.String(), "OK") {
				t.Fatalf("verify --full of the tampered log: exit %d, %v\n%s", exitCode(err), err, &out)
			}
		})
	}
	for name, args := range map[string][]string{
		"no database":  {"--full", "--data", filepath.Join(t.TempDir(), "none")},
		"a document":   {"--full", "--data", t.TempDir(), "doc.json"},
		"a bad flag":   {"--full", "--bogus"},
		"with --state": {"--full", "--state", "x.json"},
	} {
		if err := verify(ctx, args, &bytes.Buffer{}, &bytes.Buffer{}); exitCode(err) != exitUnchecked {
			t.Errorf("%s: exit %d (%v); want %d", name, exitCode(err), err, exitUnchecked)
		}
	}
}
