package ledger_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
	_ "modernc.org/sqlite"

	"github.com/symbiont/symbiont"
	"github.com/symbiont/symbiont/api"
	"github.com/symbiont/symbiont/ledger"
	"github.com/symbiont/symbiont/platform"
	"github.com/symbiont/symbiont/store"
	"github.com/symbiont/symbiont/store/sqlite"
	"github.com/symbiont/symbiont/store/storetest"
	"github.com/symbiont/symbiont/vault"
)

// These tests drive the ledger through the platform as it runs (platform.Open, HTTP), on SQLite
// in a temporary directory and, where it is cheap, on PostgreSQL. Integration is driven
// explicitly with Ledger.Integrate (the background integrator is set to an hour), so that every
// checkpoint size is known.

const adminToken = "ledger-test-admin-token-0123456789"

var hotelPlan = map[string]any{
	"events": map[string]string{"Order Completed": "purchases"},
	"traits": map[string]string{"email": "contact", "name": "profile"},
}

// node is a running platform behind an HTTP server.
type node struct {
	t     *testing.T
	dir   string
	dsn   string
	clock *symbiont.FakeClock
	p     *platform.Platform
	srv   *httptest.Server
}

func newClock() *symbiont.FakeClock {
	return symbiont.NewFakeClock(time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC))
}

// openNode opens the platform on dir (SQLite) or dsn (PostgreSQL, with dir for the master key).
func openNode(t *testing.T, dir, dsn string, clock *symbiont.FakeClock) *node {
	t.Helper()
	p, err := platform.Open(context.Background(), platform.Config{
		DataDir: dir, PostgresDSN: dsn, AdminToken: adminToken, Clock: clock, ExpiryInterval: -1,
		IntegrateEvery: time.Hour, // integration is driven by the tests
		Limits:         &api.Limits{IngestPerKey: 1e6, APIPerKey: 1e6, WalletPerUser: 1e6},
	})
	if err != nil {
		t.Fatal(err)
	}
	n := &node{t: t, dir: dir, dsn: dsn, clock: clock, p: p}
	n.srv = httptest.NewServer(p.Handler())
	p.API.BaseURL = n.srv.URL
	t.Cleanup(n.close)
	return n
}

// close stops the server and the platform (idempotent).
func (n *node) close() {
	n.srv.Close()
	if err := n.p.Close(); err != nil {
		n.t.Errorf("close: %v", err)
	}
}

// reopen closes the node and opens the same data again.
func (n *node) reopen() *node {
	n.t.Helper()
	n.close()
	return openNode(n.t, n.dir, n.dsn, n.clock)
}

func (n *node) do(method, path, auth string, body any) (int, []byte) {
	n.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			n.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, n.srv.URL+path, rd)
	if err != nil {
		n.t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", "Bearer "+auth)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		n.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

func (n *node) must(want int, method, path, auth string, body any) map[string]any {
	n.t.Helper()
	st, b := n.do(method, path, auth, body)
	if st != want {
		n.t.Fatalf("%s %s: status %d, want %d: %s", method, path, st, want, b)
	}
	var m map[string]any
	if len(b) > 0 && b[0] == '{' {
		if err := json.Unmarshal(b, &m); err != nil {
			n.t.Fatalf("%s %s: %v", method, path, err)
		}
	}
	return m
}

type brand struct{ ID, SK string }

func (n *node) brand(name string) brand {
	n.t.Helper()
	m := n.must(201, "POST", "/v1/brands", adminToken, map[string]any{"name": name})
	b := brand{ID: m["id"].(string), SK: m["secret_key"].(string)}
	n.must(200, "PUT", "/v1/tracking-plan", b.SK, hotelPlan)
	return b
}

// internalID is the brand's store id (what ledger.Act takes).
func (n *node) internalID(b brand) int64 {
	n.t.Helper()
	br, err := n.p.Tenants.BrandByPublicID(context.Background(), b.ID)
	if err != nil {
		n.t.Fatal(err)
	}
	return br.ID
}

func (n *node) grant(b brand, user, category, purpose string) {
	n.t.Helper()
	n.must(201, "POST", "/v1/consumers/"+user+"/consents", b.SK, map[string]any{"category": category, "purpose": purpose, "duration_days": 30})
}

func (n *node) read(b brand, user, purpose string) {
	n.t.Helper()
	n.must(200, "GET", "/v1/consumers/"+user+"/data?purpose="+purpose, b.SK, nil)
}

func (n *node) wallet(b brand, user string) string {
	n.t.Helper()
	return n.must(201, "POST", "/v1/wallet/sessions", b.SK, map[string]any{"consumer": user})["token"].(string)
}

// proofs is the consumer's proof document (GET /v1/me/access-log).
func (n *node) proofs(token string) *ledger.Export {
	n.t.Helper()
	st, b := n.do("GET", "/v1/me/access-log", token, nil)
	if st != 200 {
		n.t.Fatalf("GET /v1/me/access-log: %d %s", st, b)
	}
	var doc ledger.Export
	if err := json.Unmarshal(b, &doc); err != nil {
		n.t.Fatal(err)
	}
	return &doc
}

// integrate integrates what is pending and returns the newest checkpoint.
func (n *node) integrate() *ledger.Checkpoint {
	n.t.Helper()
	if _, err := n.p.Ledger.Integrate(context.Background()); err != nil {
		n.t.Fatal(err)
	}
	cp, err := n.p.Ledger.Latest()
	if err != nil {
		n.t.Fatal(err)
	}
	return cp
}

// size is the integrated log size after integrating what is pending.
func (n *node) size() int64 {
	n.t.Helper()
	if cp := n.integrate(); cp != nil {
		return cp.Size
	}
	return 0
}

// appendMany appends count records directly (in one transaction per 100), spread over chains.
func (n *node) appendMany(brandID int64, chains []int64, count int) {
	n.t.Helper()
	ctx := context.Background()
	for done := 0; done < count; {
		err := n.p.Store.Update(ctx, func(tx store.Tx) error {
			for i := 0; i < 100 && done+i < count; i++ {
				c := chains[(done+i)%len(chains)]
				if _, err := n.p.Ledger.Append(ctx, tx, ledger.Act{BrandID: brandID, ConsumerID: c, Kind: ledger.KindAccessRead,
					At: n.clock.Now(), Body: map[string]any{"i": done + i}}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			n.t.Fatal(err)
		}
		done = min(done+100, count)
	}
}

// httpLog is the verifier's view of a log served over HTTP (as `symbiont verify` reads it).
type httpLog struct{ base string }

func (l httpLog) get(path string) ([]byte, error) {
	res, err := http.Get(l.base + "/ledger/" + path)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		return nil, fmt.Errorf("GET %s: %d: %s", path, res.StatusCode, b)
	}
	return b, nil
}

func (l httpLog) Checkpoint() ([]byte, error) { return l.get("checkpoint") }
func (l httpLog) Tiles() tlog.TileReader      { return tileReader{l.get} }

// tileReader reads C2SP tiles with get(path).
type tileReader struct{ get func(string) ([]byte, error) }

func (tileReader) Height() int { return ledger.TileHeight }
func (r tileReader) ReadTiles(ts []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(ts))
	for i, t := range ts {
		b, err := r.get(ledger.TilePath(t))
		if err != nil {
			return nil, err
		}
		out[i] = b
	}
	return out, nil
}
func (tileReader) SaveTiles([]tlog.Tile, [][]byte) {}

// mth is the RFC 6962 Merkle tree hash of leaf hashes, computed from the definition (not with
// tlog's stored hashes).
func mth(leaves []tlog.Hash) tlog.Hash {
	switch len(leaves) {
	case 0:
		return sha256.Sum256(nil)
	case 1:
		return leaves[0]
	}
	k := 1
	for k*2 < len(leaves) {
		k *= 2
	}
	return tlog.NodeHash(mth(leaves[:k]), mth(leaves[k:]))
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func wantErr(t *testing.T, err error, substrings ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error; want one containing %q", substrings)
	}
	for _, s := range substrings {
		if !strings.Contains(err.Error(), s) {
			t.Fatalf("error %q does not contain %q", err, s)
		}
	}
}

// eachStore runs fn on SQLite and on PostgreSQL (skipped when PostgreSQL is not reachable).
func eachStore(t *testing.T, fn func(t *testing.T, open func(t *testing.T) *node)) {
	t.Run("sqlite", func(t *testing.T) {
		fn(t, func(t *testing.T) *node { return openNode(t, t.TempDir(), "", newClock()) })
	})
	t.Run("postgres", func(t *testing.T) {
		dsn := storetest.PostgresDSN(t)
		fn(t, func(t *testing.T) *node { return openNode(t, t.TempDir(), dsn, newClock()) })
	})
}

// ---------------------------------------------------------------------------------------------

// TestAppendedInTheActsTransaction: every consent change and access adds exactly one entry, and
// an act that fails (validation, or an error later in its transaction) leaves none.
func TestAppendedInTheActsTransaction(t *testing.T) {
	eachStore(t, func(t *testing.T, open func(*testing.T) *node) {
		n := open(t)
		b := n.brand("Aurora")
		if st, body := n.do("GET", "/ledger/checkpoint", "", nil); st != 404 || !json.Valid(body) {
			t.Fatalf("checkpoint of an empty log: %d %s, want 404 JSON", st, body)
		}
		if n.size() != 0 {
			t.Fatal("creating a brand appended to the ledger")
		}
		n.grant(b, "alice", "purchases", "personalization")
		if s := n.size(); s != 1 {
			t.Fatalf("after a grant: size %d, want 1", s)
		}
		n.read(b, "alice", "personalization")
		if s := n.size(); s != 2 {
			t.Fatalf("after a read: size %d, want 2", s)
		}
		// Validation fails before the transaction.
		n.must(400, "POST", "/v1/consumers/alice/consents", b.SK, map[string]any{"category": "no-such-category", "purpose": "personalization"})
		n.must(400, "GET", "/v1/consumers/alice/data?purpose=no-such-purpose", b.SK, nil)
		// The transaction fails after the first change was recorded (with its ledger entry):
		// the withdrawal of something never granted rolls the grant back, entry included.
		wt := n.wallet(b, "alice")
		n.must(404, "POST", "/v1/me/consents", wt, map[string]any{"grants": []map[string]any{
			{"category": "contact", "purpose": "service"},
			{"category": "profile", "purpose": "service", "state": "withdrawn"},
		}})
		if s := n.size(); s != 2 {
			t.Fatalf("failed acts appended: size %d, want 2", s)
		}
		cs := n.must(200, "GET", "/v1/me/consents", wt, nil)
		if strings.Contains(fmt.Sprint(cs), "contact") {
			t.Fatalf("the rolled-back grant is visible: %v", cs)
		}
		// The chain continues without a hole where the failed act was.
		n.grant(b, "alice", "contact", "service")
		doc := n.proofs(wt)
		if len(doc.Records) != 3 || doc.Records[2].N != 2 || doc.Records[2].Kind != ledger.KindConsentGiven {
			t.Fatalf("alice's chain: %+v", doc.Records)
		}
	})
}

// TestChainsAndIntegration: chains are contiguous per consumer and linked; integration gives
// indexes in commit order; every checkpoint is signed by the log's key and names the tree of
// the entries.
func TestChainsAndIntegration(t *testing.T) {
	eachStore(t, func(t *testing.T, open func(*testing.T) *node) {
		n := open(t)
		b := n.brand("Aurora")
		users := []string{"alice", "bob", "carol"}
		// Interleaved acts, one clock tick each; integrate after some of them only, so that
		// entries are integrated both one by one and in batches.
		type act struct{ user, kind string }
		var acts []act
		issued := map[int64]bool{}
		for i := 0; i < 12; i++ {
			u := users[(i*7)%len(users)]
			n.clock.Advance(time.Second)
			if i < 3 || i%4 == 0 {
				n.grant(b, u, []string{"purchases", "contact", "profile"}[i%3], "service")
				acts = append(acts, act{u, ledger.KindConsentGiven})
			} else {
				n.read(b, u, "service")
				acts = append(acts, act{u, ledger.KindAccessRead})
			}
			if i%3 == 0 {
				issued[n.integrate().Size] = true
			}
		}
		cp := n.integrate()
		issued[cp.Size] = true
		if cp.Size != int64(len(acts)) {
			t.Fatalf("log size %d, want %d", cp.Size, len(acts))
		}
		key := n.p.Ledger.VerifierKey()
		pc, err := ledger.OpenCheckpoint(cp.Note, key)
		if err != nil {
			t.Fatal(err)
		}
		if pc.Origin != n.p.Ledger.Origin() || pc.Size != cp.Size || !bytes.Equal(pc.Root[:], cp.Root) {
			t.Fatalf("checkpoint %+v does not match the stored %d %x", pc, cp.Size, cp.Root)
		}
		byIndex := make([]*ledger.ExportRecord, cp.Size)
		var leaves []tlog.Hash
		for _, u := range users {
			doc := n.proofs(n.wallet(b, u))
			if doc.Log.Key != key || doc.Log.Size != cp.Size || doc.Log.Checkpoint != string(cp.Note) {
				t.Fatalf("%s's document names another log state: %+v", u, doc.Log)
			}
			prev := ""
			for i := range doc.Records {
				x := &doc.Records[i]
				var r ledger.Record
				if err := json.Unmarshal([]byte(x.Record), &r); err != nil {
					t.Fatal(err)
				}
				if x.N != int64(i) || r.N != x.N || r.Prev != prev || r.Subject != doc.Records[0].Subject || r.Log != pc.Origin {
					t.Fatalf("%s record %d: n %d/%d, prev %q (want %q), subject %s, log %s", u, i, x.N, r.N, r.Prev, prev, r.Subject, r.Log)
				}
				salt, _ := base64.StdEncoding.DecodeString(x.Salt)
				if b64(ledger.Commit([]byte(x.Record), salt)) != x.Commitment {
					t.Fatalf("%s record %d does not open its commitment", u, i)
				}
				prev = x.Commitment
				if x.Pending || x.Index == nil || byIndex[*x.Index] != nil {
					t.Fatalf("%s record %d: pending %v, index %v (or taken twice)", u, i, x.Pending, x.Index)
				}
				byIndex[*x.Index] = x
			}
		}
		// Commit order: index i is act i.
		subjects := map[string]string{}
		for i, x := range byIndex {
			if x == nil {
				t.Fatalf("no record has index %d", i)
			}
			if s, ok := subjects[acts[i].user]; ok && s != x.Subject {
				t.Fatalf("index %d is %s's record, want %s's (commit order)", i, x.Subject, acts[i].user)
			}
			subjects[acts[i].user] = x.Subject
			if x.Kind != acts[i].kind || !x.At.Equal(newClock().Now().Add(time.Duration(i+1)*time.Second)) {
				t.Fatalf("index %d: %s at %v, want act %d (%s)", i, x.Kind, x.At, i, acts[i].kind)
			}
			c, _ := base64.StdEncoding.DecodeString(x.Commitment)
			leaves = append(leaves, tlog.RecordHash(c))
		}
		if len(subjects) != 3 || subjects["alice"] == subjects["bob"] {
			t.Fatalf("subjects %v", subjects)
		}
		// The root is the RFC 6962 hash of the leaves in index order, for every checkpoint.
		for size := int64(1); size <= cp.Size; size++ {
			c, err := n.p.Ledger.CheckpointAt(context.Background(), size)
			if !issued[size] { // sizes inside a batch have no checkpoint
				if symbiont.ErrorCode(err) != symbiont.ENOTFOUND {
					t.Fatalf("checkpoint %d, never issued: %v", size, err)
				}
				continue
			}
			if err != nil {
				t.Fatalf("checkpoint %d: %v", size, err)
			}
			pc, err := ledger.OpenCheckpoint(c.Note, key)
			if err != nil {
				t.Fatal(err)
			}
			if pc.Size != size || pc.Root != mth(leaves[:size]) {
				t.Fatalf("checkpoint %d names size %d root %x, want root %x", size, pc.Size, pc.Root[:6], mth(leaves[:size]))
			}
		}
	})
}
