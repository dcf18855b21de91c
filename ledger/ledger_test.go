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

// TestRestartResumesTheTree: a restart on the same data serves the same tree; new entries
// extend it, and the old checkpoint is provably a prefix of the new one.
func TestRestartResumesTheTree(t *testing.T) {
	eachStore(t, func(t *testing.T, open func(*testing.T) *node) {
		n := open(t)
		b := n.brand("Aurora")
		for _, u := range []string{"alice", "bob", "carol"} {
			n.grant(b, u, "purchases", "personalization")
			n.read(b, u, "personalization")
		}
		n.appendMany(n.internalID(b), []int64{1001, 1002}, 300) // past the first full tile
		before := n.integrate()
		_, tileBefore := n.do("GET", "/ledger/tile/0/001.p/"+strconv.FormatInt(before.Size-256, 10), "", nil)

		n = n.reopen()
		if err := n.p.Ledger.Healthy(); err != nil {
			t.Fatalf("self-check after a clean restart: %v", err)
		}
		same, err := n.p.Ledger.Latest()
		if err != nil || same.Size != before.Size || !bytes.Equal(same.Root, before.Root) || !bytes.Equal(same.Note, before.Note) {
			t.Fatalf("after restart: %+v %v, want size %d root %x", same, err, before.Size, before.Root)
		}
		if _, tileAfter := n.do("GET", "/ledger/tile/0/001.p/"+strconv.FormatInt(before.Size-256, 10), "", nil); !bytes.Equal(tileAfter, tileBefore) {
			t.Fatal("the partial tile changed across the restart")
		}
		// New entries extend the tree.
		n.grant(b, "alice", "contact", "service")
		n.read(b, "bob", "personalization")
		after := n.integrate()
		if after.Size != before.Size+2 {
			t.Fatalf("size %d after two more acts, want %d", after.Size, before.Size+2)
		}
		old, err := n.p.Ledger.CheckpointAt(context.Background(), before.Size)
		if err != nil || !bytes.Equal(old.Root, before.Root) {
			t.Fatalf("checkpoint %d after restart: %v", before.Size, err)
		}
		key := n.p.Ledger.VerifierKey()
		po, _ := ledger.OpenCheckpoint(before.Note, key)
		pn, err := ledger.OpenCheckpoint(after.Note, key)
		if err != nil {
			t.Fatal(err)
		}
		proof, err := n.p.Ledger.ConsistencyProof(context.Background(), before.Size, after.Size)
		if err != nil {
			t.Fatal(err)
		}
		if err := ledger.CheckConsistency(proof, pn.Size, pn.Root, po.Size, po.Root); err != nil {
			t.Fatalf("consistency %d → %d across the restart: %v", before.Size, after.Size, err)
		}
		// And the new tree is the tree of all the entries (checked from the entry bundles).
		leaves := bundleLeaves(t, n, after.Size)
		if pn.Root != mth(leaves) {
			t.Fatal("the root after the restart is not the hash of the stored entries")
		}
		// Alice's chain went on from where it was.
		doc := n.proofs(n.wallet(b, "alice"))
		if len(doc.Records) != 3 || doc.Records[2].Kind != ledger.KindConsentGiven {
			t.Fatalf("alice's chain after the restart: %d records", len(doc.Records))
		}
		if _, _, err := ledger.VerifyExport(doc, httpLog{n.srv.URL}, key, nil); err != nil {
			t.Fatal(err)
		}
	})
}

// bundleLeaves reads every entry bundle of the tree of the given size over HTTP and returns the
// leaf hashes of its entries.
func bundleLeaves(t *testing.T, n *node, size int64) []tlog.Hash {
	t.Helper()
	var leaves []tlog.Hash
	for k := int64(0); k*256 < size; k++ {
		w := min(size-k*256, 256)
		path := "/ledger/" + ledger.TilePath(tlog.Tile{H: ledger.TileHeight, L: -1, N: k, W: int(w)})
		st, b := n.do("GET", path, "", nil)
		if st != 200 {
			t.Fatalf("GET %s: %d %s", path, st, b)
		}
		es := parseBundle(t, b)
		if int64(len(es)) != w {
			t.Fatalf("%s holds %d entries, want %d", path, len(es), w)
		}
		for _, e := range es {
			leaves = append(leaves, tlog.RecordHash(e))
		}
	}
	return leaves
}

// parseBundle splits a C2SP entry bundle: big-endian uint16 length, entry, repeated.
func parseBundle(t *testing.T, b []byte) [][]byte {
	t.Helper()
	var out [][]byte
	for len(b) > 0 {
		if len(b) < 2 {
			t.Fatalf("bundle ends inside a length")
		}
		l := int(b[0])<<8 | int(b[1])
		if len(b) < 2+l {
			t.Fatalf("bundle ends inside an entry")
		}
		out = append(out, b[2:2+l])
		b = b[2+l:]
	}
	return out
}

// TestProofsAndTiles: inclusion proofs verify for every index, consistency proofs for every pair
// of issued checkpoints; the tiles and entry bundles are what the entries give; tiles are
// served exactly within the checkpoint.
func TestProofsAndTiles(t *testing.T) {
	n := openNode(t, t.TempDir(), "", newClock())
	b := n.brand("Aurora")
	n.grant(b, "alice", "purchases", "personalization")
	bid := n.internalID(b)
	var sizes []int64
	for _, k := range []int{1, 2, 5, 30, 90, 127, 256, 30} { // crosses tile 0 and ends at 542
		n.appendMany(bid, []int64{2001, 2002, 2003}, k)
		sizes = append(sizes, n.integrate().Size)
	}
	size := sizes[len(sizes)-1]
	if size != 542 {
		t.Fatalf("size %d", size)
	}
	key := n.p.Ledger.VerifierKey()
	ctx := context.Background()

	// Entry bundles → leaves; their tree is the checkpoint's root.
	leaves := bundleLeaves(t, n, size)
	cp, _ := n.p.Ledger.Latest()
	pc, err := ledger.OpenCheckpoint(cp.Note, key)
	if err != nil {
		t.Fatal(err)
	}
	if pc.Root != mth(leaves) {
		t.Fatal("checkpoint root is not the tree hash of the entry bundles")
	}

	// Level-0 tiles are the leaf hashes; the level-1 tile holds the roots of full level-0 tiles.
	for k := int64(0); k*256 < size; k++ {
		w := min(size-k*256, 256)
		tile := n.tile(tlog.Tile{H: 8, L: 0, N: k, W: int(w)}, 200)
		for i := int64(0); i < w; i++ {
			if !bytes.Equal(tile[i*32:(i+1)*32], leaves[k*256+i][:]) {
				t.Fatalf("tile 0/%d hash %d is not the leaf hash of entry %d", k, i, k*256+i)
			}
		}
	}
	l1 := n.tile(tlog.Tile{H: 8, L: 1, N: 0, W: 2}, 200)
	for k := 0; k < 2; k++ {
		if want := mth(leaves[k*256 : (k+1)*256]); !bytes.Equal(l1[k*32:(k+1)*32], want[:]) {
			t.Fatalf("tile 1/0 hash %d is not the root of leaves %d…%d", k, k*256, (k+1)*256-1)
		}
	}

	// Inclusion of every index under the newest checkpoint, and under an older one.
	for _, sz := range []int64{size, sizes[3]} {
		c, err := n.p.Ledger.CheckpointAt(ctx, sz)
		if err != nil {
			t.Fatal(err)
		}
		p, err := ledger.OpenCheckpoint(c.Note, key)
		if err != nil {
			t.Fatal(err)
		}
		for i := int64(0); i < sz; i++ {
			proof, err := n.p.Ledger.InclusionProof(ctx, i, sz)
			if err != nil {
				t.Fatal(err)
			}
			if err := tlog.CheckRecord(toHashes(proof), sz, p.Root, i, leaves[i]); err != nil {
				t.Fatalf("inclusion of %d in %d: %v", i, sz, err)
			}
			if i == 7 { // the proof is bound to its leaf
				if tlog.CheckRecord(toHashes(proof), sz, p.Root, i, leaves[i+1]) == nil {
					t.Fatal("an inclusion proof verified for another leaf")
				}
			}
		}
	}
	if _, err := n.p.Ledger.InclusionProof(ctx, size, size); symbiont.ErrorCode(err) != symbiont.EINVALID {
		t.Fatalf("inclusion proof of index = size: %v", err)
	}

	// Consistency between every pair of issued checkpoints, over HTTP, with its signed notes.
	roots := map[int64]tlog.Hash{}
	for _, sz := range sizes {
		st, note := n.do("GET", "/v1/ledger/checkpoints/"+strconv.FormatInt(sz, 10), "", nil)
		p, err := ledger.OpenCheckpoint(note, key)
		if st != 200 || err != nil || p.Size != sz {
			t.Fatalf("checkpoint %d: %d %v", sz, st, err)
		}
		roots[sz] = p.Root
	}
	checked := 0
	for _, o := range sizes {
		for _, nw := range sizes {
			if o > nw {
				continue
			}
			m := n.must(200, "GET", fmt.Sprintf("/v1/ledger/consistency?old=%d&new=%d", o, nw), "", nil)
			var proof [][]byte
			for _, h := range m["proof"].([]any) {
				hb, _ := base64.StdEncoding.DecodeString(h.(string))
				proof = append(proof, hb)
			}
			if err := ledger.CheckConsistency(proof, nw, roots[nw], o, roots[o]); err != nil {
				t.Fatalf("consistency %d → %d: %v", o, nw, err)
			}
			if o < nw && o != sizes[0] && ledger.CheckConsistency(proof, nw, roots[nw], o, roots[sizes[0]]) == nil {
				t.Fatalf("consistency %d → %d verified with another old root", o, nw)
			}
			checked++
		}
	}
	if checked != len(sizes)*(len(sizes)+1)/2 {
		t.Fatalf("%d pairs", checked)
	}
	n.must(404, "GET", fmt.Sprintf("/v1/ledger/consistency?old=1&new=%d", size+1), "", nil)
	n.must(400, "GET", "/v1/ledger/consistency?old=5&new=4", "", nil)
	n.must(404, "GET", "/v1/ledger/checkpoints/3", "", nil) // inside a batch: never issued

	// tileWithin: full and partial tiles within the checkpoint, 404 beyond it.
	for _, c := range []struct {
		path string
		want int
		len  int
	}{
		{"tile/0/000", 200, 256 * 32},
		{"tile/0/001", 200, 256 * 32},
		{"tile/0/001.p/255", 200, 255 * 32}, // an older partial of a now-full tile
		{"tile/0/002.p/30", 200, 30 * 32},
		{"tile/0/002.p/29", 200, 29 * 32},
		{"tile/0/002.p/31", 404, 0}, // one beyond the checkpoint
		{"tile/0/002", 404, 0},
		{"tile/0/003.p/1", 404, 0},
		{"tile/1/000.p/2", 200, 2 * 32},
		{"tile/1/000.p/1", 200, 32},
		{"tile/1/000.p/3", 404, 0},
		{"tile/1/000", 404, 0},
		{"tile/2/000.p/1", 404, 0},
		{"tile/entries/000", 200, 256 * 34},
		{"tile/entries/002.p/30", 200, 30 * 34},
		{"tile/entries/002.p/31", 404, 0},
		{"tile/entries/002", 404, 0},
		{"tile/entries/003.p/1", 404, 0},
		// Malformed paths.
		{"tile/0/2", 404, 0},
		{"tile/0/000.p/0", 404, 0},
		{"tile/0/000.p/256", 404, 0},
		{"tile/0/000.p/01", 404, 0},
		{"tile/00/000", 404, 0},
		{"tile/-1/000", 404, 0},
		{"tile/x/000", 404, 0},
	} {
		st, body := n.do("GET", "/ledger/"+c.path, "", nil)
		if st != c.want || (st == 200 && len(body) != c.len) {
			t.Errorf("GET /ledger/%s: %d, %d bytes; want %d, %d bytes", c.path, st, len(body), c.want, c.len)
		}
	}
	// A partial tile is the prefix of the full one.
	full := n.tile(tlog.Tile{H: 8, L: 0, N: 1, W: 256}, 200)
	if part := n.tile(tlog.Tile{H: 8, L: 0, N: 1, W: 100}, 200); !bytes.Equal(part, full[:100*32]) {
		t.Fatal("tile 0/001.p/100 is not the prefix of tile 0/001")
	}
	// The tile at the edge becomes servable once the log grows into it.
	n.appendMany(bid, []int64{2001}, 1)
	n.integrate()
	if b := n.tile(tlog.Tile{H: 8, L: 0, N: 2, W: 31}, 200); len(b) != 31*32 {
		t.Fatal("tile 0/002.p/31 after growth")
	}
}

func (n *node) tile(tl tlog.Tile, want int) []byte {
	n.t.Helper()
	st, b := n.do("GET", "/ledger/"+ledger.TilePath(tl), "", nil)
	if st != want {
		n.t.Fatalf("GET /ledger/%s: %d %s", ledger.TilePath(tl), st, b)
	}
	return b
}

func toHashes(bs [][]byte) []tlog.Hash {
	out := make([]tlog.Hash, len(bs))
	for i, b := range bs {
		copy(out[i][:], b)
	}
	return out
}

var _ = []any{sql.Open, os.ReadFile, filepath.Join, slices.Sort[[]int], note.Sign, sqlite.Open, vault.New}
