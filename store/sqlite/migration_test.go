package sqlite_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

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

// TestMigration0008EventsAppended: events stored before migration 0008, placed by their
// message digest, keep their ids and are found through the consumer index afterwards;
// deduplication is still exact (a stored message is a duplicate, a new one is not), reads
// return everything in order, new events get later ids, and erasure leaves nothing the writer
// still counts.
func TestMigration0008EventsAppended(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	b := write(t, s, "brand-0008", 7)
	s.Close()
	// The pre-0008 layout: slot = consumer << 24 | digest bits (a probe moved m3 past m1).
	old := []struct {
		consumer, low, seq int64
		mid                string
	}{
		{7, 900, 1, "m1"}, {9, 5, 2, "n1"}, {7, 17, 3, "m2"}, {7, 901, 4, "m3"}, {9, 3, 5, "n2"},
	}
	db := rawOpen(t, filepath.Join(dir, sqlite.DBFile))
	for _, q := range []string{
		`DELETE FROM schema_migrations WHERE version = 8`,
		`DROP TABLE events`,
		`CREATE TABLE events (slot INTEGER PRIMARY KEY, seq INTEGER NOT NULL, brand_id INTEGER NOT NULL, consumer_id INTEGER NOT NULL,
			category TEXT NOT NULL, mid BLOB NOT NULL, ts INTEGER NOT NULL, received_at INTEGER NOT NULL, key_owner INTEGER NOT NULL, payload BLOB NOT NULL)`,
		`UPDATE sequences SET value = 5 WHERE name = 'events'`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	for _, o := range old {
		if _, err := db.Exec(`INSERT INTO events (slot, seq, brand_id, consumer_id, category, mid, ts, received_at, key_owner, payload) VALUES (?, ?, ?, ?, 'email', ?, ?, ?, ?, ?)`,
			o.consumer<<24|o.low, o.seq, b.ID, o.consumer, []byte(o.mid), t0.UnixMilli(), t0.UnixMilli()+o.seq, o.consumer, []byte("p-"+o.mid)); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	s = open(t, dir)
	defer s.Close()
	read := func(consumer int64) (out []string) {
		t.Helper()
		if err := s.View(t.Context(), func(tx store.Tx) error {
			es, err := tx.ConsumerEvents(t.Context(), b.ID, consumer, nil, 0)
			for _, e := range es {
				out = append(out, fmt.Sprintf("%d:%s:%s", e.ID, e.MID, e.Payload))
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	if got, want := read(7), []string{"1:m1:p-m1", "3:m2:p-m2", "4:m3:p-m3"}; !slices.Equal(got, want) {
		t.Errorf("consumer 7 after 0008 = %v, want %v", got, want)
	}
	if got, want := read(9), []string{"2:n1:p-n1", "5:n2:p-n2"}; !slices.Equal(got, want) {
		t.Errorf("consumer 9 after 0008 = %v, want %v", got, want)
	}

	ev := func(consumer int64, mid string) *store.Event {
		return &store.Event{BrandID: b.ID, ConsumerID: consumer, Category: "email", MID: []byte(mid), Timestamp: t0, ReceivedAt: t0.Add(time.Second), KeyOwner: consumer, Payload: []byte("p-" + mid)}
	}
	insert := func(es ...*store.Event) (ins []bool) {
		t.Helper()
		if err := s.Update(t.Context(), func(tx store.Tx) (err error) {
			ins, err = tx.InsertEvents(t.Context(), es)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return ins
	}
	if got, want := insert(ev(7, "m3"), ev(7, "m4"), ev(9, "n1"), ev(9, "m1")), []bool{false, true, false, true}; !slices.Equal(got, want) {
		t.Errorf("InsertEvents(stored, new, stored, other consumer's) = %v, want %v", got, want)
	}
	if got, want := read(7), []string{"1:m1:p-m1", "3:m2:p-m2", "4:m3:p-m3", "6:m4:p-m4"}; !slices.Equal(got, want) {
		t.Errorf("consumer 7 after an insert = %v, want %v", got, want)
	}
	// Erasure: the consumer's messages are gone from the writer's sets too.
	if err := s.Update(t.Context(), func(tx store.Tx) error {
		_, err := tx.DeleteConsumerData(t.Context(), b.ID, []int64{7}, t0)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if got, want := insert(ev(7, "m1"), ev(9, "n2")), []bool{true, false}; !slices.Equal(got, want) {
		t.Errorf("InsertEvents(erased consumer's, stored) = %v, want %v", got, want)
	}
	if got, want := read(7), []string{"8:m1:p-m1"}; !slices.Equal(got, want) {
		t.Errorf("consumer 7 after erasure and an insert = %v, want %v", got, want)
	}
}
