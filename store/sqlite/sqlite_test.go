package sqlite_test

import (
	"bytes"
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/symbiont/symbiont/store"
	"github.com/symbiont/symbiont/store/sqlite"
	"github.com/symbiont/symbiont/store/storetest"
	"github.com/symbiont/symbiont/tenant"
	"github.com/symbiont/symbiont/vault"
)

func open(t *testing.T, dir string) store.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), dir)
	if err != nil {
		t.Fatalf("sqlite.Open: %v", err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s := open(t, t.TempDir())
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		return s
	})
}

var t0 = time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)

// write makes the store write to both files, so that their WAL and shared-memory files exist.
func write(t *testing.T, s store.Store, publicID string, consumer int64) *tenant.Brand {
	t.Helper()
	b := &tenant.Brand{PublicID: publicID, Name: publicID, CreatedAt: t0, SigningKey: []byte("seed")}
	if err := s.Update(t.Context(), func(tx store.Tx) error { return tx.CreateBrand(t.Context(), b) }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Keys().PutKey(t.Context(), &vault.WrappedKey{ConsumerID: consumer, BrandID: b.ID, Wrapped: []byte("wrapped"), CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestFileModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data") // Open creates it
	s := open(t, dir)
	defer s.Close()
	write(t, s, "br_modes", 1)

	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o700 {
		t.Errorf("data directory mode %o, want 700", perm)
	}
	for _, name := range []string{sqlite.DBFile, sqlite.KeysFile} {
		for _, suffix := range []string{"", "-wal", "-shm"} {
			fi, err := os.Stat(filepath.Join(dir, name+suffix))
			if suffix == "" && err != nil {
				t.Errorf("%s: %v", name, err)
				continue
			}
			if err != nil { // no WAL or shm file: nothing to check
				continue
			}
			if perm := fi.Mode().Perm(); perm != 0o600 {
				t.Errorf("%s%s: mode %o, want 600", name, suffix, perm)
			}
		}
	}
}

func TestReopenKeepsData(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	b := write(t, s, "br_reopen", 7)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for i := range 2 { // migrations run again, and again, without harm
		s = open(t, dir)
		err := s.View(t.Context(), func(tx store.Tx) error {
			got, err := tx.BrandByPublicID(t.Context(), "br_reopen")
			if err != nil {
				return err
			}
			if got.ID != b.ID || got.Name != b.Name {
				t.Errorf("reopen %d: brand %+v, want %+v", i, got, b)
			}
			return nil
		})
		if err != nil {
			t.Errorf("reopen %d: %v", i, err)
		}
		if wk, err := s.Keys().Key(t.Context(), 7); err != nil || string(wk.Wrapped) != "wrapped" {
			t.Errorf("reopen %d: key %+v, %v", i, wk, err)
		}
		write(t, s, "br_reopen_"+string(rune('a'+i)), int64(10+i))
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	// Each migration is recorded once.
	for _, name := range []string{sqlite.DBFile, sqlite.KeysFile} {
		db := rawOpen(t, filepath.Join(dir, name))
		var n, distinct int
		if err := db.QueryRow(`SELECT COUNT(*), COUNT(DISTINCT version) FROM schema_migrations`).Scan(&n, &distinct); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if n == 0 || n != distinct {
			t.Errorf("%s: schema_migrations has %d rows for %d versions", name, n, distinct)
		}
	}
}

func TestWAL(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	defer s.Close()
	write(t, s, "br_wal", 1)
	for _, name := range []string{sqlite.DBFile, sqlite.KeysFile} {
		db := rawOpen(t, filepath.Join(dir, name))
		var mode string
		if err := db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if mode != "wal" {
			t.Errorf("%s: journal_mode %q, want wal", name, mode)
		}
	}
}

// TestReadersDoNotWaitForTheWriter: a View runs while an Update holds the write lock (WAL lets
// readers read the last committed state).
func TestReadersDoNotWaitForTheWriter(t *testing.T) {
	s := open(t, t.TempDir())
	defer s.Close()
	write(t, s, "br_readers", 1)
	inside, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- s.Update(t.Context(), func(tx store.Tx) error {
			if err := tx.PutSetting(t.Context(), "x", []byte("uncommitted")); err != nil {
				return err
			}
			close(inside)
			<-release
			return nil
		})
	}()
	<-inside
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	err := s.View(ctx, func(tx store.Tx) error {
		v, err := tx.Setting(ctx, "x")
		if v != nil {
			t.Errorf("View saw an uncommitted write: %q", v)
		}
		return err
	})
	cancel()
	close(release)
	if err != nil {
		t.Errorf("View during an Update: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestShreddedKeyLeavesNoTrace: once DeleteKeys returns, a destroyed data key is in neither
// keys.db nor its write-ahead log, while the store is still running (crypto-shredding must not
// wait for a checkpoint or a restart).
func TestShreddedKeyLeavesNoTrace(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	defer s.Close()
	ctx := t.Context()
	doomed := bytes.Repeat([]byte("DOOMED-KEY-"), 5)
	kept := bytes.Repeat([]byte("KEPT-KEY-"), 5)
	for i, w := range [][]byte{doomed, kept} {
		if _, err := s.Keys().PutKey(ctx, &vault.WrappedKey{ConsumerID: int64(i + 1), BrandID: 1, Wrapped: w, CreatedAt: t0}); err != nil {
			t.Fatal(err)
		}
	}
	files := func() map[string][]byte {
		m := map[string][]byte{}
		for _, suffix := range []string{"", "-wal"} {
			b, err := os.ReadFile(filepath.Join(dir, sqlite.KeysFile+suffix))
			if err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
			m[sqlite.KeysFile+suffix] = b
		}
		return m
	}
	found := func(m map[string][]byte, key []byte) (where []string) {
		for name, b := range m {
			if bytes.Contains(b, key) {
				where = append(where, name)
			}
		}
		return where
	}
	if where := found(files(), doomed); len(where) == 0 {
		t.Fatal("the key is nowhere on disk before DeleteKeys; the test cannot see it")
	}
	if n, err := s.Keys().DeleteKeys(ctx, []int64{1}); n != 1 || err != nil {
		t.Fatalf("DeleteKeys = %d, %v", n, err)
	}
	after := files()
	if where := found(after, doomed); len(where) != 0 {
		t.Errorf("destroyed key still readable in %v", where)
	}
	if where := found(after, kept); len(where) == 0 {
		t.Error("the key that was not deleted is gone from disk")
	}
	if wk, err := s.Keys().Key(ctx, 2); err != nil || !bytes.Equal(wk.Wrapped, kept) {
		t.Errorf("Key(2) = %v, %v", wk, err)
	}
}

func rawOpen(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestConsoleBackfill: migration 0007 computes, from the rows of a store written before it,
// the same console counters the store keeps as it goes.
func TestConsoleBackfill(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	sc := storetest.NewConsoleScenario(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, sqlite.DBFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range storetest.UndoConsoleMigration {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()
	s = open(t, dir)
	defer s.Close()
	sc.Check(t, s)
}
