package sqlite_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/symbiont/symbiont"
	"github.com/symbiont/symbiont/store"
	"github.com/symbiont/symbiont/store/sqlite"
)

// TestMigration0006DropsPlaintextIdempotency: a data directory from before migration 0006,
// whose idempotency records name consumers in clear, is upgraded: the old records are gone
// (from the file too) and the new, keyed table works.
func TestMigration0006DropsPlaintextIdempotency(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	s.Close()
	// Put the database back to its pre-0006 shape, with a legacy record.
	db := rawOpen(t, filepath.Join(dir, sqlite.DBFile))
	for _, q := range []string{
		`DELETE FROM schema_migrations WHERE version = 6`,
		`DROP TABLE idempotency_keys`,
		`CREATE TABLE idempotency_keys (brand_id INTEGER NOT NULL, scope TEXT NOT NULL, key TEXT NOT NULL, result TEXT NOT NULL,
			created_at INTEGER NOT NULL, PRIMARY KEY (brand_id, scope, key))`,
		`INSERT INTO idempotency_keys VALUES (1, 'consent/brand/user_id:zz-legacy-user-0006/0', 'k1', '{"receipts":["r"]}', 1)`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if found := grepDir(t, dir, "zz-legacy-user-0006"); len(found) == 0 {
		t.Fatal("the legacy record is on no file: the scan cannot see it")
	}
	db.Close()
	s = open(t, dir)
	defer s.Close()
	if err := s.Update(t.Context(), func(tx store.Tx) error {
		return tx.PutIdempotent(t.Context(), 1, 2, []byte("hmac"), idemRecord, t0)
	}); err != nil {
		t.Fatalf("the new table after the upgrade: %v", err)
	}
	db = rawOpen(t, filepath.Join(dir, sqlite.DBFile))
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM idempotency_keys WHERE consumer_id = 2`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("rows after the upgrade: %d, %v", n, err)
	}
	if _, err := db.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		t.Fatal(err)
	}
	if found := grepDir(t, dir, "zz-legacy-user-0006"); len(found) > 0 {
		t.Errorf("the legacy record's user id is still in %v", found)
	}
}

var idemRecord = symbiont.IdempotentRecord{Request: []byte("req"), Result: "r"}

// grepDir lists the files under dir that hold s.
func grepDir(t *testing.T, dir, s string) (where []string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(s)) {
			where = append(where, e.Name())
		}
	}
	return where
}
