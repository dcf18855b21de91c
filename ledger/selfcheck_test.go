package ledger_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/symbiont/symbiont"
	"github.com/symbiont/symbiont/api/ledgerclient"
	"github.com/symbiont/symbiont/identity"
	"github.com/symbiont/symbiont/ledger"
	"github.com/symbiont/symbiont/platform"
	"github.com/symbiont/symbiont/store"
	"github.com/symbiont/symbiont/store/postgres"
	"github.com/symbiont/symbiont/store/sqlite"
	"github.com/symbiont/symbiont/vault"
)

// The self-check from the verified state: what a start reads, what it finds, and what it
// leaves to `symbiont verify --full`.

// syncBuffer is a log the platform writes while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startCheck is what the platform logged of its start's self-check.
type startCheck struct {
	Size           int64 `json:"size"`
	VerifiedFrom   int64 `json:"verified_from"`
	EntriesChecked int64 `json:"entries_checked"`
	Pending        int64 `json:"pending"`
}

// openLogged opens the node with a JSON log and returns what its start's self-check said
// (nil if it failed).
func openLogged(t *testing.T, dir, dsn string, clock *symbiont.FakeClock) (*node, *startCheck) {
	t.Helper()
	var buf syncBuffer
	n := openNode(t, dir, dsn, clock, func(c *platform.Config) { c.Log = slog.New(slog.NewJSONHandler(&buf, nil)) })
	for _, line := range strings.Split(buf.String(), "\n") {
		if strings.Contains(line, `"msg":"ledger self-check passed"`) {
			var sc startCheck
			if err := json.Unmarshal([]byte(line), &sc); err != nil {
				t.Fatal(err)
			}
			return n, &sc
		}
	}
	return n, nil
}

// setting reads a settings row of a closed SQLite data directory.
func setting(t *testing.T, db *sql.DB, name string) []byte {
	t.Helper()
	var v []byte
	if err := db.QueryRow(`SELECT value FROM settings WHERE name = ?`, name).Scan(&v); err != nil {
		t.Fatalf("setting %s: %v", name, err)
	}
	return v
}

// TestVerifiedState: a start reads only what was integrated since the verified state (and
// what is pending); tampering after it is found at start, before it by the full check; the
// verified state itself is tamper-evident and can only make a start read more.
func TestVerifiedState(t *testing.T) {
	ctx := context.Background()
	clock := newClock()
	dir := t.TempDir()
	n := openNode(t, dir, "", clock)
	b := n.brand("Aurora")
	for _, u := range []string{"alice", "bob", "carol", "dave"} {
		n.grant(b, u, "purchases", "personalization") // 0-3: alice, bob, carol, dave 0
	}
	for _, u := range []string{"alice", "bob", "carol", "dave"} {
		n.read(b, u, "personalization") // 4-7: their 1
	}
	if n.size() != 8 {
		t.Fatal("size")
	}
	key := n.p.Ledger.VerifierKey()
	// The background pass, by hand (it runs every IntegrateEvery, an hour in these tests).
	if rep, err := n.p.Ledger.VerifyIntegrated(ctx); err != nil || rep.From != 0 || rep.Size != 8 || rep.Entries != 8 {
		t.Fatalf("first pass: %+v %v", rep, err)
	}
	if rep, err := n.p.Ledger.VerifyIntegrated(ctx); err != nil || rep.From != 8 || rep.Size != 8 || rep.Entries != 0 || n.p.Ledger.Verified() != 8 {
		t.Fatalf("second pass: %+v %v", rep, err)
	}
	n.close()
	at8 := copyDir(t, dir) // the log at 8 entries, verified
	n = openNode(t, dir, "", clock)
	n.read(b, "alice", "personalization")     // 8: alice 2
	n.read(b, "bob", "personalization")       // 9: bob 2
	n.grant(b, "alice", "contact", "service") // 10: alice 3
	if n.size() != 11 {
		t.Fatal("size")
	}
	n.close() // verified state still at 8
	var sealed8 []byte
	{
		db := rawDB(t, dir)
		sealed8 = setting(t, db, "ledger_verified_state")
		db.Close()
	}

	t.Run("untouched", func(t *testing.T) {
		d := copyDir(t, dir)
		m, sc := openLogged(t, d, "", clock)
		if sc == nil || *sc != (startCheck{Size: 11, VerifiedFrom: 8, EntriesChecked: 3}) {
			t.Fatalf("start: %+v (%v)", sc, m.p.Ledger.Healthy())
		}
		if m.p.Ledger.Verified() != 11 {
			t.Fatalf("verified state at %d after the start", m.p.Ledger.Verified())
		}
		m.close()
		m, sc = openLogged(t, d, "", clock)
		if sc == nil || *sc != (startCheck{Size: 11, VerifiedFrom: 11}) {
			t.Fatalf("second start: %+v", sc)
		}
		m.close()
		if _, rep, err := checkStored(t, d, "", key); err != nil || rep.Entries != 11 || rep.Size != 11 || rep.From != 0 {
			t.Fatalf("full check: %+v %v", rep, err)
		}
	})

	// Tampering with what a start reads and with what it does not.
	for _, c := range []struct {
		name     string
		tamper   func(t *testing.T, db *sql.DB)
		start    string // what the start says ("": it passes)
		full     string // what the full check says ("": it passes)
		fromZero bool   // the start read the whole log
	}{
		{name: "entry after the verified state", tamper: func(t *testing.T, db *sql.DB) {
			exec(t, db, `UPDATE ledger_entries SET record = replace(record, 'personalization', 'service') WHERE idx = 9`)
		}, start: "the record does not open to its commitment", full: "the record does not open to its commitment"},
		{name: "entry before the verified state", tamper: func(t *testing.T, db *sql.DB) {
			exec(t, db, `UPDATE ledger_entries SET record = replace(record, 'personalization', 'service') WHERE idx = 5`)
		}, full: "the record does not open to its commitment"},
		{name: "tile of the verified tree", tamper: func(t *testing.T, db *sql.DB) {
			// The hash of leaves 0-7, which the start reads to prove the tree extends the
			// verified one.
			exec(t, db, `UPDATE ledger_hashes SET hash = ? WHERE id = ?`, bytes.Repeat([]byte{7}, 32), tlog.StoredHashIndex(3, 0))
		}, start: "the stored tree hashes do not give the root of the verified state (size 8)",
			full: fmt.Sprintf("stored tree hash %d (a tile) does not match the entries", tlog.StoredHashIndex(3, 0))},
		{name: "verified state altered", tamper: func(t *testing.T, db *sql.DB) {
			v := setting(t, db, "ledger_verified_state")
			v[len(v)-1] ^= 1
			exec(t, db, `UPDATE settings SET value = ? WHERE name = 'ledger_verified_state'`, v)
		}, start: "the verified state stored in the database does not open with the master key: it was altered"},
		{name: "verified state sealed for something else", tamper: func(t *testing.T, db *sql.DB) {
			// The wrapped signing key is sealed by the same master key, under another label.
			exec(t, db, `UPDATE settings SET value = ? WHERE name = 'ledger_verified_state'`, setting(t, db, "ledger_signer_key"))
		}, start: "does not open with the master key: it was altered"},
		{name: "verified state deleted", tamper: func(t *testing.T, db *sql.DB) {
			exec(t, db, `DELETE FROM settings WHERE name = 'ledger_verified_state'`)
		}, fromZero: true},
		{name: "verified state deleted and an old entry edited", tamper: func(t *testing.T, db *sql.DB) {
			exec(t, db, `DELETE FROM settings WHERE name = 'ledger_verified_state'`)
			exec(t, db, `UPDATE ledger_entries SET record = replace(record, 'personalization', 'service') WHERE idx = 5`)
		}, start: "the record does not open to its commitment", full: "the record does not open to its commitment"},
		{name: "verifier key replaced", tamper: func(t *testing.T, db *sql.DB) {
			_, vk, err := note.GenerateKey(nil, "other.example/ledger")
			if err != nil {
				t.Fatal(err)
			}
			exec(t, db, `UPDATE settings SET value = ? WHERE name = 'ledger_verifier_key'`, []byte(vk))
		}, start: "is not the signing key's (the settings were altered)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := copyDir(t, dir)
			db := rawDB(t, d)
			c.tamper(t, db)
			db.Close()
			m, sc := openLogged(t, d, "", clock)
			health := m.p.Ledger.Healthy()
			switch {
			case c.start == "" && (health != nil || sc == nil):
				t.Fatalf("start: %v; want it to pass", health)
			case c.start != "" && (health == nil || !strings.Contains(health.Error(), c.start)):
				t.Fatalf("start: %v; want %q", health, c.start)
			case c.start == "" && c.fromZero && *sc != (startCheck{Size: 11, EntriesChecked: 11}):
				t.Fatalf("start: %+v; want the whole log read", sc)
			case c.start == "" && !c.fromZero && *sc != (startCheck{Size: 11, VerifiedFrom: 8, EntriesChecked: 3}):
				t.Fatalf("start: %+v; want entries 8-10 read", sc)
			}
			if c.start != "" {
				m.must(503, "GET", "/readyz", "", nil)
			}
			m.close()
			_, _, err := checkStored(t, d, "", key)
			if c.full == "" && err != nil {
				t.Fatalf("full check: %v", err)
			}
			if c.full != "" {
				if !ledger.IsFinding(err) {
					t.Fatalf("full check: %v; want a finding", err)
				}
				wantErr(t, err, c.full)
			}
		})
	}

	t.Run("older verified state", func(t *testing.T) {
		// A state seen before, put back: the start reads more, and passes.
		d := copyDir(t, dir)
		m := openNode(t, d, "", clock)
		m.close() // verified state now 11
		db := rawDB(t, d)
		exec(t, db, `UPDATE settings SET value = ? WHERE name = 'ledger_verified_state'`, sealed8)
		db.Close()
		m, sc := openLogged(t, d, "", clock)
		if sc == nil || *sc != (startCheck{Size: 11, VerifiedFrom: 8, EntriesChecked: 3}) {
			t.Fatalf("start: %+v (%v)", sc, m.p.Ledger.Healthy())
		}
	})

	t.Run("verified state beyond the log", func(t *testing.T) {
		// The log rolled back to 8 entries (with the checkpoint kept outside the database)
		// under a verified state of 11: the state is larger than the log.
		d := copyDir(t, dir)
		m := openNode(t, d, "", clock)
		m.close()
		db := rawDB(t, d)
		sealed11 := setting(t, db, "ledger_verified_state")
		db.Close()
		old := copyDir(t, at8)
		db = rawDB(t, old)
		exec(t, db, `UPDATE settings SET value = ? WHERE name = 'ledger_verified_state'`, sealed11)
		db.Close()
		m = openNode(t, old, "", clock)
		wantErr(t, m.p.Ledger.Healthy(), "the log was verified at 11 entries but the database holds 8: it was truncated or rolled back")
	})
}

// offline opens the ledger of a closed node's store as another process would: with the master
// key from the data directory (records name the brand brandID). through wraps the store's
// transactions.
func offline(t *testing.T, dir, dsn, brandID string, clock symbiont.Clock, through func(symbiont.Transactor[ledger.IntegrationTx]) symbiont.Transactor[ledger.IntegrationTx]) (*ledger.Service, store.Store) {
	t.Helper()
	ctx := context.Background()
	var st store.Store
	var err error
	if dsn != "" {
		st, err = postgres.Open(ctx, dsn, 4)
	} else {
		st, err = sqlite.Open(ctx, dir)
	}
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, platform.MasterKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	master, err := platform.ParseMasterKey(string(b))
	if err != nil {
		t.Fatal(err)
	}
	v, err := vault.New(master, nil, clock)
	if err != nil {
		t.Fatal(err)
	}
	db := store.Narrow[ledger.IntegrationTx](st)
	if through != nil {
		db = through(db)
	}
	svc, err := ledger.Open(ctx, db, v, clock, ledger.Options{
		Subject:  identity.NewGraph(v.DeriveKey).Subject,
		BrandID:  func(context.Context, ledger.Tx, int64) (string, error) { return brandID, nil },
		HeadFile: filepath.Join(dir, platform.LedgerHeadFile),
	})
	if err != nil {
		st.Close()
		t.Fatal(err)
	}
	return svc, st
}

// crashing makes every integration fail at its last step, after its indexes and tree hashes
// are written: the transaction rolls back, as it does when the process dies there.
type crashing struct {
	symbiont.Transactor[ledger.IntegrationTx]
}

func (c crashing) Update(ctx context.Context, fn func(ledger.IntegrationTx) error) error {
	return c.Transactor.Update(ctx, func(tx ledger.IntegrationTx) error { return fn(crashingTx{tx}) })
}

type crashingTx struct{ ledger.IntegrationTx }

var errCrash = errors.New("killed while integrating")

func (crashingTx) PutCheckpoint(context.Context, *ledger.Checkpoint) error { return errCrash }

// TestStartAfterCrash: the process died in the middle of an integration (its transaction never
// committed), after an earlier integration whose checkpoint it had not yet written outside the
// database, and before the background pass verified it. The start reads the entries integrated
// since the verified state and the pending ones, and integration resumes where it was.
func TestStartAfterCrash(t *testing.T) {
	eachStore(t, func(t *testing.T, open func(t *testing.T) *node) {
		ctx := context.Background()
		n := open(t)
		dir, dsn, clock := n.dir, n.dsn, n.clock
		b := n.brand("Aurora")
		n.grant(b, "alice", "purchases", "personalization")
		n.grant(b, "bob", "purchases", "personalization")
		n.read(b, "alice", "personalization")
		n.integrate() // 3
		if rep, err := n.p.Ledger.VerifyIntegrated(ctx); err != nil || rep.Size != 3 {
			t.Fatalf("verification: %+v %v", rep, err)
		}
		alice := n.wallet(b, "alice")
		_, state, err := ledger.VerifyExport(n.proofs(alice), ledgerclient.ForServer(n.srv.URL, nil), n.p.Ledger.VerifierKey(), nil)
		if err != nil {
			t.Fatal(err)
		}
		head := filepath.Join(dir, platform.LedgerHeadFile)
		kept3, err := os.ReadFile(head)
		if err != nil {
			t.Fatal(err)
		}
		n.read(b, "bob", "personalization")
		n.read(b, "alice", "personalization")
		n.integrate() // 5, not verified
		// Two more of alice's records, then an integration that dies before it commits.
		brandID := n.internalID(b)
		n.close()
		// It died before writing checkpoint 5 outside the database.
		if err := os.WriteFile(head, kept3, 0o600); err != nil {
			t.Fatal(err)
		}
		svc, st := offline(t, dir, dsn, b.ID, clock, func(db symbiont.Transactor[ledger.IntegrationTx]) symbiont.Transactor[ledger.IntegrationTx] {
			return crashing{db}
		})
		var chain int64
		if err := st.View(ctx, func(tx store.Tx) error {
			es, err := tx.LedgerEntries(ctx, 0, 1)
			if err == nil {
				chain = es[0].ChainID
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if err := st.Update(ctx, func(tx store.Tx) error {
			_, err := svc.AppendAll(ctx, tx, []ledger.Act{
				{BrandID: brandID, ConsumerID: chain, Kind: ledger.KindAccessRead, At: clock.Now(), Body: map[string]any{"offline": 1}},
				{BrandID: brandID, ConsumerID: chain, Kind: ledger.KindAccessRead, At: clock.Now(), Body: map[string]any{"offline": 2}},
			})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Integrate(ctx); !errors.Is(err, errCrash) {
			t.Fatalf("integration: %v; want it to die", err)
		}
		st.Close()

		if dsn == "" {
			// The pending entries are read in full too.
			d := copyDir(t, dir)
			db := rawDB(t, d)
			exec(t, db, `UPDATE ledger_entries SET record = replace(record, '"offline":2', '"offline":3') WHERE idx IS NULL`)
			db.Close()
			m := openNode(t, d, "", clock)
			wantErr(t, m.p.Ledger.Healthy(), "n 4): the record does not open to its commitment")
			m.close()
		}
		m, sc := openLogged(t, dir, dsn, clock)
		if sc == nil || *sc != (startCheck{Size: 5, VerifiedFrom: 3, EntriesChecked: 4, Pending: 2}) {
			t.Fatalf("start: %+v (%v)", sc, m.p.Ledger.Healthy())
		}
		if got, _ := os.ReadFile(head); !bytes.Equal(got, kept3) {
			t.Fatal("the start rewrote the checkpoint kept outside the database")
		}
		if m.size() != 7 {
			t.Fatalf("size %d after the resumed integration, want 7", m.size())
		}
		if rep, err := m.p.Ledger.VerifyIntegrated(ctx); err != nil || rep.From != 5 || rep.Size != 7 || rep.Entries != 2 {
			t.Fatalf("verification of the resumed integration: %+v %v", rep, err)
		}
		// Alice's records, the two appended before the crash included, verify against what she
		// saw before it.
		rep, _, err := ledger.VerifyExport(m.proofs(m.wallet(b, "alice")), ledgerclient.ForServer(m.srv.URL, nil), m.p.Ledger.VerifierKey(), state)
		if err != nil || rep.Records != 5 || rep.Pending != 0 || rep.PreviousSize != 3 {
			t.Fatalf("alice's verification: %+v %v", rep, err)
		}
		key := m.p.Ledger.VerifierKey()
		m.close()
		if _, rep, err := checkStored(t, dir, dsn, key); err != nil || rep.Size != 7 || rep.Entries != 7 {
			t.Fatalf("full check: %+v %v", rep, err)
		}
	})
}

// TestVerifiedInBackground: while the server runs, what it integrates is verified soon after,
// so that the next start has almost nothing to read; the full check agrees.
func TestVerifiedInBackground(t *testing.T) {
	eachStore(t, func(t *testing.T, open func(t *testing.T) *node) {
		n := open(t)
		b := n.brand("Aurora")
		n.close()
		n = openNode(t, n.dir, n.dsn, n.clock, func(c *platform.Config) { c.IntegrateEvery = 20 * time.Millisecond })
		n.grant(b, "alice", "purchases", "personalization")
		for range 20 {
			n.read(b, "alice", "personalization")
		}
		deadline := time.Now().Add(10 * time.Second)
		for n.p.Ledger.Verified() < 21 {
			if time.Now().After(deadline) {
				t.Fatalf("verified state at %d, log at %d", n.p.Ledger.Verified(), n.size())
			}
			time.Sleep(10 * time.Millisecond)
		}
		key := n.p.Ledger.VerifierKey()
		n.close()
		m, sc := openLogged(t, n.dir, n.dsn, n.clock)
		if sc == nil || sc.VerifiedFrom != 21 || sc.EntriesChecked != 0 {
			t.Fatalf("start after the background verification: %+v", sc)
		}
		m.close()
		if _, rep, err := checkStored(t, n.dir, n.dsn, key); err != nil || rep.Size != 21 {
			t.Fatalf("full check: %+v %v", rep, err)
		}
	})
}

// FuzzChainFields: what the self-check reads of a record straight from its canonical prefix is
// what json.Unmarshal reads, whenever it reads anything.
func FuzzChainFields(f *testing.F) {
	r := ledger.Record{Version: 1, Log: "example.test/ledger", Brand: "br_x", Subject: "sub_y", N: 7, Prev: "AAAA",
		Kind: ledger.KindAccessRead, At: time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC), Body: json.RawMessage(`{"purpose":"service"}`)}
	canonical, err := r.Encode()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(canonical)
	for _, s := range []string{
		`{"v":1,"log":"a","brand":"b","sub":"c","n":3,"prev":"","kind":"k","n":4}`,
		`{"v":1,"log":"a","brand":"b","sub":"c","n":3,"prev":"","kind":"k","N":4}`,
		`{"v":1,"log":"a","brand":"b","sub":"c","n":3,"prev":"","kind":"k","\u006e":4}`,
		`{"v":1,"log":"a","brand":"b","sub":"c","n":3,"prev":"p","kind":"k","body":{"Prev":"q"}}`,
		`{"v":1,"log":"a","brand":"b","sub":"c","n":03,"prev":"","kind":"k"}`,
		`{"v":1,"log":"a","brand":"b","sub":"c","n":99999999999999999999,"prev":"","kind":"k"}`,
		`{"v":1,"log":"a","brand":"b","sub":"c","n":3,"prev":"","kind":"k"`,
		`{"v":1,"log":"a","brand":"b","sub":"c","n":3,"prev":"","kind":"k", "LOG" : "z"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, rec []byte) {
		fast, ok := ledger.CanonicalChainFields(rec)
		if !ok {
			return
		}
		var slow struct {
			N    int64  `json:"n"`
			Prev string `json:"prev"`
			Log  string `json:"log"`
		}
		if err := json.Unmarshal(rec, &slow); err != nil {
			t.Fatalf("read %+v from %q, which json.Unmarshal refuses: %v", fast, rec, err)
		}
		if fast.N != slow.N || fast.Prev != slow.Prev || fast.Log != slow.Log {
			t.Fatalf("read n %d prev %q log %q from %q; json.Unmarshal reads n %d prev %q log %q", fast.N, fast.Prev, fast.Log, rec, slow.N, slow.Prev, slow.Log)
		}
	})
}

// TestBackgroundPassFindsTampering: an entry altered between its integration and the
// background pass (here: re-linked to a made-up predecessor, its commitment recomputed so that
// it opens) is found by the pass, against the chain head it remembers from the pass before; the
// ledger is then served as broken, as after a failed start.
func TestBackgroundPassFindsTampering(t *testing.T) {
	ctx := context.Background()
	n := openNode(t, t.TempDir(), "", newClock())
	b := n.brand("Aurora")
	n.grant(b, "alice", "purchases", "personalization")
	n.integrate()
	if rep, err := n.p.Ledger.VerifyIntegrated(ctx); err != nil || rep.Size != 1 {
		t.Fatalf("first pass: %+v %v", rep, err)
	}
	n.read(b, "alice", "personalization")
	n.integrate()
	// The database written behind the running server's back.
	db := rawDB(t, n.dir)
	var rec, salt []byte
	if err := db.QueryRow(`SELECT record, salt FROM ledger_entries WHERE idx = 1`).Scan(&rec, &salt); err != nil {
		t.Fatal(err)
	}
	var r ledger.Record
	if err := json.Unmarshal(rec, &r); err != nil {
		t.Fatal(err)
	}
	r.Prev = b64(bytes.Repeat([]byte{1}, 32))
	forged, err := r.Encode()
	if err != nil {
		t.Fatal(err)
	}
	exec(t, db, `UPDATE ledger_entries SET record = ?, commitment = ? WHERE idx = 1`, forged, ledger.Commit(forged, salt))
	db.Close()
	_, err = n.p.Ledger.VerifyIntegrated(ctx)
	if !ledger.IsFinding(err) {
		t.Fatalf("pass: %v; want a finding", err)
	}
	wantErr(t, err, "record 1 does not name the commitment of record 0")
	wantErr(t, n.p.Ledger.Healthy(), "record 1 does not name the commitment of record 0")
	n.must(503, "GET", "/readyz", "", nil)
	if n.p.Ledger.Verified() != 1 {
		t.Fatalf("verified state moved to %d", n.p.Ledger.Verified())
	}
}
