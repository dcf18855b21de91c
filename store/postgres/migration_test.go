package postgres_test

import (
	"database/sql"
	"testing"

	"github.com/symbiont/symbiont"
	"github.com/symbiont/symbiont/store"
	"github.com/symbiont/symbiont/store/postgres"
	"github.com/symbiont/symbiont/store/storetest"
)

// TestMigration0006DropsPlaintextIdempotency: a schema from before migration 0006, whose
// idempotency records name consumers in clear, is upgraded: the old records are gone and the
// new, keyed table works.
func TestMigration0006DropsPlaintextIdempotency(t *testing.T) {
	dsn := storetest.PostgresDSN(t)
	s, err := postgres.Open(t.Context(), dsn, 2)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{
		`DELETE FROM schema_migrations WHERE version = 6`,
		`DROP TABLE idempotency_keys`,
		`CREATE TABLE idempotency_keys (brand_id BIGINT NOT NULL, scope TEXT NOT NULL, key TEXT NOT NULL, result TEXT NOT NULL,
			created_at BIGINT NOT NULL, PRIMARY KEY (brand_id, scope, key))`,
		`INSERT INTO idempotency_keys VALUES (1, 'consent/brand/user_id:zz-legacy-user-0006/0', 'k1', '{"receipts":["r"]}', 1)`,
	} {
		if _, err := db.ExecContext(t.Context(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	s2 := open(t, dsn)
	if err := s2.Update(t.Context(), func(tx store.Tx) error {
		return tx.PutIdempotent(t.Context(), 1, 2, []byte("hmac"), symbiont.IdempotentRecord{Request: []byte("req"), Result: "r"}, t0)
	}); err != nil {
		t.Fatalf("the new table after the upgrade: %v", err)
	}
	var n, legacy int
	if err := db.QueryRowContext(t.Context(), `SELECT COUNT(*), COUNT(*) FILTER (WHERE consumer_id = 2) FROM idempotency_keys`).Scan(&legacy, &n); err != nil {
		t.Fatal(err)
	}
	if n != 1 || legacy != 1 {
		t.Errorf("after the upgrade: %d rows, %d new; want only the new one", legacy, n)
	}
}
