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
	"github.com/symbiont/symbiont/api/ledgerclient"
	"github.com/symbiont/symbiont/ledger"
	"github.com/symbiont/symbiont/platform"
	"github.com/symbiont/symbiont/store"
	"github.com/symbiont/symbiont/store/postgres"
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
func openNode(t *testing.T, dir, dsn string, clock *symbiont.FakeClock, with ...func(*platform.Config)) *node {
	t.Helper()
	cfg := platform.Config{
		DataDir: dir, PostgresDSN: dsn, AdminToken: adminToken, Clock: clock, ExpiryInterval: -1,
		IntegrateEvery: time.Hour, // integration (and its verification) is driven by the tests
		Limits:         &api.Limits{IngestPerKey: 1e6, APIPerKey: 1e6, WalletPerUser: 1e6},
	}
	for _, f := range with {
		f(&cfg)
	}
	p, err := platform.Open(context.Background(), cfg)
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
		if _, _, err := ledger.VerifyExport(doc, ledgerclient.ForServer(n.srv.URL, nil), key, nil); err != nil {
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

// ---------------------------------------------------------------------------------------------
// Tampering with the stored log.

// fixture is a log of three consumers, closed, with what alice verified before it was closed.
type fixture struct {
	dir string // the closed data directory (copy it before tampering); no verified state
	// verified is the same log after a start moved the verified state to its newest
	// checkpoint: the starts after it check none of it again.
	verified string
	clock    *symbiont.FakeClock
	key      string
	b        brand
	alice    string // alice's wallet token
	doc      *ledger.Export
	state    *ledger.State // what alice's verifier remembers
}

// newFixture builds the log: alice, bob and carol grant and are read, with a checkpoint after
// most acts; alice verifies her document (size 8, her records 0…3); then more is recorded.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	fx := &fixture{dir: t.TempDir(), clock: newClock()}
	n := openNode(t, fx.dir, "", fx.clock)
	fx.b = n.brand("Aurora")
	step := func(f func()) {
		fx.clock.Advance(time.Second)
		f()
		n.integrate()
	}
	step(func() { n.grant(fx.b, "alice", "purchases", "personalization") }) // 0 alice 0
	step(func() { n.grant(fx.b, "bob", "purchases", "personalization") })   // 1 bob 0
	step(func() { n.read(fx.b, "alice", "personalization") })               // 2 alice 1
	step(func() {
		n.grant(fx.b, "carol", "contact", "service") // 3 carol 0
		n.read(fx.b, "bob", "personalization")       // 4 bob 1
	})
	step(func() { n.grant(fx.b, "alice", "contact", "service") }) // 5 alice 2
	step(func() { n.read(fx.b, "alice", "service") })             // 6 alice 3
	step(func() { n.read(fx.b, "carol", "service") })             // 7 carol 1
	fx.key = n.p.Ledger.VerifierKey()
	fx.alice = n.wallet(fx.b, "alice")
	fx.doc = n.proofs(fx.alice)
	rep, state, err := ledger.VerifyExport(fx.doc, ledgerclient.ForServer(n.srv.URL, nil), fx.key, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Records != 4 || rep.Chains != 1 || rep.Pending != 0 || rep.Size != 8 || state.Size != 8 || state.Heads[fx.doc.Records[0].Subject].N != 3 {
		t.Fatalf("first verification: %+v %+v", rep, state)
	}
	fx.state = state
	step(func() { n.read(fx.b, "bob", "personalization") })       // 8 bob 2
	step(func() { n.read(fx.b, "alice", "personalization") })     // 9 alice 4
	step(func() { n.grant(fx.b, "carol", "profile", "service") }) // 10 carol 2
	// Alice verifies again: the log grew consistently.
	doc := n.proofs(fx.alice)
	if _, _, err := ledger.VerifyExport(doc, ledgerclient.ForServer(n.srv.URL, nil), fx.key, fx.state); err != nil {
		t.Fatal(err)
	}
	n.close()
	// The tests drive integration by hand (openNode): nothing was verified in the background,
	// and the first start, on the empty log, verified nothing.
	fx.verified = copyDir(t, fx.dir)
	v := openNode(t, fx.verified, "", fx.clock)
	if rep, err := v.p.Ledger.VerifyIntegrated(context.Background()); err != nil || rep.From != 11 || rep.Size != 11 || rep.Entries != 0 {
		t.Fatalf("the start did not verify the whole log (%+v, %v)", rep, err)
	}
	v.close()
	return fx
}

// copyDir copies the data directory's files.
func copyDir(t *testing.T, from string) string {
	t.Helper()
	to := t.TempDir()
	es, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		if !e.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return to
}

// rawDB opens the closed data directory's SQLite database directly.
func rawDB(t *testing.T, dir string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(dir, sqlite.DBFile))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func exec(t *testing.T, db *sql.DB, query string, args ...any) {
	t.Helper()
	if _, err := db.Exec(query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// row is a stored ledger entry.
type row struct {
	id, idx, brand, chain, n, at int64
	commitment, record, salt     []byte
}

func rows(t *testing.T, db *sql.DB) []row {
	t.Helper()
	rs, err := db.Query(`SELECT id, idx, brand_id, chain_id, n, commitment, record, salt, at FROM ledger_entries ORDER BY idx`)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	var out []row
	for rs.Next() {
		var r row
		if err := rs.Scan(&r.id, &r.idx, &r.brand, &r.chain, &r.n, &r.commitment, &r.record, &r.salt, &r.at); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

// chainOf returns the chain id of the entry with the commitment (base64).
func chainOf(t *testing.T, db *sql.DB, commitment string) int64 {
	t.Helper()
	c, _ := base64.StdEncoding.DecodeString(commitment)
	var id int64
	if err := db.QueryRow(`SELECT chain_id FROM ledger_entries WHERE commitment = ?`, c).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}

// rawLog serves the stored log exactly as it is, without the self-check: what an operator who
// tampered with the database (and silenced the check) would serve.
type rawLog struct {
	t  *testing.T
	db *sql.DB
}

func (l rawLog) ReadHashes(idx []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(idx))
	for i, x := range idx {
		var h []byte
		if err := l.db.QueryRow(`SELECT hash FROM ledger_hashes WHERE id = ?`, x).Scan(&h); err != nil {
			return nil, fmt.Errorf("stored hash %d: %w", x, err)
		}
		copy(out[i][:], h)
	}
	return out, nil
}

func (l rawLog) Checkpoint() ([]byte, error) {
	var msg []byte
	err := l.db.QueryRow(`SELECT note FROM ledger_checkpoints ORDER BY size DESC LIMIT 1`).Scan(&msg)
	return msg, err
}

func (l rawLog) Tiles() tlog.TileReader { return rawTiles{l} }

type rawTiles struct{ l rawLog }

func (rawTiles) Height() int { return ledger.TileHeight }
func (r rawTiles) ReadTiles(ts []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(ts))
	for i, t := range ts {
		b, err := tlog.ReadTileData(t, r.l)
		if err != nil {
			return nil, err
		}
		out[i] = b
	}
	return out, nil
}
func (rawTiles) SaveTiles([]tlog.Tile, [][]byte) {}

// export is the document the tampered store gives for a chain: its stored records, each with
// an inclusion proof (from the stored hashes) against the newest stored checkpoint.
func (l rawLog) export(chain int64, key string) *ledger.Export {
	l.t.Helper()
	var size int64
	var msg []byte
	if err := l.db.QueryRow(`SELECT size, note FROM ledger_checkpoints ORDER BY size DESC LIMIT 1`).Scan(&size, &msg); err != nil {
		l.t.Fatal(err)
	}
	pc, err := ledger.OpenCheckpoint(msg, key)
	if err != nil {
		l.t.Fatal(err)
	}
	doc := &ledger.Export{Format: ledger.ExportFormat, Log: ledger.ExportLog{Origin: pc.Origin, Key: key, Checkpoint: string(msg), Size: size}}
	for _, r := range rows(l.t, l.db) {
		if r.chain != chain {
			continue
		}
		var rec ledger.Record
		if err := json.Unmarshal(r.record, &rec); err != nil {
			l.t.Fatal(err)
		}
		x := ledger.ExportRecord{Subject: rec.Subject, N: r.n, Kind: rec.Kind, At: rec.At, Details: rec.Body, Record: string(r.record),
			Salt: b64(r.salt), Commitment: b64(r.commitment)}
		if r.idx >= size {
			x.Pending = true
		} else {
			proof, err := tlog.ProveRecord(size, r.idx, l)
			if err != nil {
				l.t.Fatal(err)
			}
			idx := r.idx
			x.Index = &idx
			for _, h := range proof {
				x.Proof = append(x.Proof, b64(h[:]))
			}
		}
		doc.Records = append(doc.Records, x)
	}
	slices.SortFunc(doc.Records, func(a, b ledger.ExportRecord) int { return int(a.N - b.N) })
	return doc
}

// TestTamperedLog: each way of tampering with the stored log is found by the self-check at
// start when it lies after the verified state (here: there is none, the whole log is checked;
// the ledger is then not served: /readyz and /ledger/* answer 503), and by the consumer's
// verifier, both against the honest server and against a server that serves the tampered store
// as it is. A history rebuilt with the log's key passes the self-check by construction; the
// verifier that remembers what it saw still finds it. Tampering before the verified state is
// not read again at start (unless it shrinks the log): `symbiont verify --full`
// (ledger.CheckStored) finds each.
func TestTamperedLog(t *testing.T) {
	fx := newFixture(t)
	const (
		failsSelfCheck = iota
		passesSelfCheck
	)
	cases := []struct {
		name   string
		tamper func(t *testing.T, db *sql.DB, alice int64)
		// selfCheck is what the self-check must say; verify is what alice's verifier must say
		// about the stored log served as it is (nil: the tampering is not hers to see).
		selfCheck string
		verify    []string
		want      int
		// beforeVerified is what the start says when the tampering lies before the verified
		// state ("": nothing, the ledger is served; `verify --full` says selfCheck).
		beforeVerified string
	}{
		{name: "edited record", tamper: func(t *testing.T, db *sql.DB, alice int64) {
			var rec []byte
			db.QueryRow(`SELECT record FROM ledger_entries WHERE chain_id = ? AND n = 1`, alice).Scan(&rec)
			rec = bytes.Replace(rec, []byte(`"purpose":"personalization"`), []byte(`"purpose":"service"`), 1)
			exec(t, db, `UPDATE ledger_entries SET record = ? WHERE chain_id = ? AND n = 1`, rec, alice)
		}, selfCheck: "n 1): the record does not open to its commitment",
			verify: []string{"record 1 of sub_", "the record and salt do not open its commitment: the record was altered"}},
		{name: "edited record with a new commitment", tamper: func(t *testing.T, db *sql.DB, alice int64) {
			var rec, salt []byte
			db.QueryRow(`SELECT record, salt FROM ledger_entries WHERE chain_id = ? AND n = 1`, alice).Scan(&rec, &salt)
			rec = bytes.Replace(rec, []byte(`"purpose":"personalization"`), []byte(`"purpose":"service"`), 1)
			exec(t, db, `UPDATE ledger_entries SET record = ?, commitment = ? WHERE chain_id = ? AND n = 1`, rec, ledger.Commit(rec, salt), alice)
		}, selfCheck: "record 2 does not name the commitment of record 1",
			verify: []string{"record 1 of sub_", "not in the log at index 2"}},
		{name: "deleted entry", tamper: func(t *testing.T, db *sql.DB, alice int64) {
			exec(t, db, `DELETE FROM ledger_entries WHERE chain_id = ? AND n = 1`, alice)
		}, selfCheck: "is record 2, expected 1 (a record is missing or out of order)",
			verify: []string{"record 1 is missing (the next one shown is 2)"}},
		{name: "deleted newest entry of another chain", tamper: func(t *testing.T, db *sql.DB, alice int64) {
			exec(t, db, `DELETE FROM ledger_entries WHERE idx = 10`) // carol's record 2
		}, selfCheck: "no entry has index 10 (the log is truncated or an entry was deleted)"},
		{name: "swapped indexes", tamper: func(t *testing.T, db *sql.DB, alice int64) {
			exec(t, db, `UPDATE ledger_entries SET idx = 1000 WHERE idx = 1`)
			exec(t, db, `UPDATE ledger_entries SET idx = 1 WHERE idx = 2`)
			exec(t, db, `UPDATE ledger_entries SET idx = 2 WHERE idx = 1000`)
		}, selfCheck: "stored tree hash 1 (a tile) does not match the entries",
			verify: []string{"record 1 of sub_", "not in the log at index 1"}},
		{name: "corrupted tile", tamper: func(t *testing.T, db *sql.DB, alice int64) {
			exec(t, db, `UPDATE ledger_hashes SET hash = ? WHERE id = ?`, bytes.Repeat([]byte{7}, 32), tlog.StoredHashIndex(0, 5))
		}, selfCheck: fmt.Sprintf("stored tree hash %d (a tile) does not match the entries", tlog.StoredHashIndex(0, 5)),
			verify: []string{"reading the log's tiles to prove the checkpoint seen last time consistent"}},
		{name: "truncated log", tamper: func(t *testing.T, db *sql.DB, alice int64) {
			exec(t, db, `DELETE FROM ledger_entries WHERE idx >= 6`)
			exec(t, db, `DELETE FROM ledger_hashes WHERE id >= ?`, tlog.StoredHashCount(6))
			exec(t, db, `DELETE FROM ledger_checkpoints WHERE size > 6`)
			// The newest checkpoint kept outside the database (ledger-checkpoint in the data
			// directory) remembers the size the database has lost.
		}, selfCheck: "but the database holds 6: it was truncated or rolled back",
			verify:         []string{"the checkpoint seen last time has 8 entries but the log now has only 6: the log was truncated or rebuilt"},
			beforeVerified: "the log was verified at 11 entries but the database holds 6: it was truncated or rolled back"},
		{name: "rebuilt history", tamper: func(t *testing.T, db *sql.DB, alice int64) {
			// Alice's read at index 2 (her record 1) never happened, says the rebuilt log.
			rebuild(t, db, fx, func(r row) bool { return r.chain == alice && r.n == 1 }, nil)
			// The rebuilt log is shorter than the checkpoint kept outside the database. (An
			// operator who also rewrites that file passes the self-check: only those who saw
			// the old log — alice's verifier, witnesses — can tell.)
		}, selfCheck: "but the database holds 10: it was truncated or rolled back",
			verify:         []string{"the checkpoint seen last time (size 8) is not a prefix of the log's current tree (size 10): history was rewritten"},
			beforeVerified: "the log was verified at 11 entries but the database holds 10: it was truncated or rolled back"},
		{name: "rewritten history of the same size", tamper: func(t *testing.T, db *sql.DB, alice int64) {
			// Alice's read at index 2 was for another purpose, says the rewritten log.
			rebuild(t, db, fx, func(row) bool { return false }, func(r row, rec *ledger.Record) {
				if r.chain == alice && r.n == 1 {
					rec.Body = json.RawMessage(bytes.Replace(rec.Body, []byte(`"personalization"`), []byte(`"service"`), 1))
				}
			})
		}, selfCheck: "the stored tree is not an extension of the checkpoint kept in",
			verify:         []string{"the checkpoint seen last time (size 8) is not a prefix of the log's current tree (size 11): history was rewritten"},
			beforeVerified: "the stored tree hashes do not give the root of the verified state (size 11)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := copyDir(t, fx.dir)
			db := rawDB(t, dir)
			alice := chainOf(t, db, fx.doc.Records[0].Commitment)
			c.tamper(t, db, alice)

			// The stored log served as it is: alice's verifier finds the tampering.
			raw := rawLog{t, db}
			_, _, err := ledger.VerifyExport(raw.export(alice, fx.key), raw, fx.key, fx.state)
			if c.verify == nil {
				if err != nil {
					t.Fatalf("alice's verification: %v", err)
				}
			} else {
				wantErr(t, err, c.verify...)
			}
			db.Close()

			// The platform on the tampered data.
			n := openNode(t, dir, "", fx.clock)
			health := n.p.Ledger.Healthy()
			if c.want == passesSelfCheck {
				// Consistent throughout, the ledger is served…
				if health != nil {
					t.Fatalf("self-check: %v", health)
				}
				n.must(200, "GET", "/readyz", "", nil)
				// …but alice's verifier, which remembers the checkpoint it saw, refuses it…
				_, _, err := ledger.VerifyExport(n.proofs(fx.alice), ledgerclient.ForServer(n.srv.URL, nil), fx.key, fx.state)
				wantErr(t, err, c.verify...)
				// …while someone verifying for the first time cannot tell.
				if _, _, err := ledger.VerifyExport(n.proofs(fx.alice), ledgerclient.ForServer(n.srv.URL, nil), fx.key, nil); err != nil {
					t.Fatalf("first verification of the tampered log: %v", err)
				}
				return
			}
			if health == nil || !strings.Contains(health.Error(), c.selfCheck) || !strings.Contains(health.Error(), "failed its self-check") {
				t.Fatalf("self-check: %v; want %q", health, c.selfCheck)
			}
			for _, path := range []string{"/readyz", "/ledger/checkpoint", "/ledger/tile/0/000.p/6", "/ledger/tile/entries/000.p/6"} {
				st, body := n.do("GET", path, "", nil)
				var e struct {
					Error struct{ Code, Message string }
				}
				if st != 503 || json.Unmarshal(body, &e) != nil || e.Error.Code != "unavailable" || !strings.Contains(e.Error.Message, c.selfCheck) {
					t.Errorf("GET %s: %d %s; want 503 JSON saying %q", path, st, body, c.selfCheck)
				}
			}
			// The honest server refuses to serve the log; the verifier says why.
			_, _, err = ledger.VerifyExport(fx.doc, ledgerclient.ForServer(n.srv.URL, nil), fx.key, fx.state)
			wantErr(t, err, "fetching the log's checkpoint", c.selfCheck)
			// Nothing is integrated on top of a broken log.
			n.grant(fx.b, "dave", "purchases", "personalization")
			if _, err := n.p.Ledger.Integrate(context.Background()); err == nil {
				t.Fatal("integration on a log that failed its self-check")
			}
		})
	}
	for _, c := range cases {
		t.Run(c.name+"/before the verified state", func(t *testing.T) {
			dir := copyDir(t, fx.verified)
			db := rawDB(t, dir)
			c.tamper(t, db, chainOf(t, db, fx.doc.Records[0].Commitment))
			db.Close()
			n := openNode(t, dir, "", fx.clock)
			health := n.p.Ledger.Healthy()
			switch {
			case c.beforeVerified == "" && health != nil:
				t.Fatalf("start: %v; want it to pass (what was verified is not read again)", health)
			case c.beforeVerified != "" && (health == nil || !strings.Contains(health.Error(), c.beforeVerified)):
				t.Fatalf("start: %v; want %q", health, c.beforeVerified)
			}
			n.close()
			// The full check finds it, whatever the verified state says.
			_, _, err := checkStored(t, dir, "", fx.key)
			if !ledger.IsFinding(err) {
				t.Fatalf("full check: %v; want a finding", err)
			}
			wantErr(t, err, c.selfCheck)
		})
	}
}

// checkStored runs the full check (`symbiont verify --full`) on a closed data directory
// (SQLite) or on dsn, with the checkpoint kept in dir.
func checkStored(t *testing.T, dir, dsn, key string) (string, *ledger.CheckReport, error) {
	t.Helper()
	ctx := context.Background()
	var st store.Store
	var err error
	if dsn != "" {
		st, err = postgres.Open(ctx, dsn, 2)
	} else {
		st, err = sqlite.Open(ctx, dir)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	return ledger.CheckStored(ctx, store.Narrow[ledger.IntegrationTx](st), ledger.CheckOptions{Key: key, HeadFile: filepath.Join(dir, platform.LedgerHeadFile)})
}

// rebuild rewrites the stored log as if the dropped entries had never been appended: chains
// renumbered and relinked, commitments recomputed, indexes reassigned, every tree hash
// recomputed and every checkpoint re-signed with the log's own signing key. This is what an
// operator holding the key (master.key) can do.
func rebuild(t *testing.T, db *sql.DB, fx *fixture, drop func(row) bool, edit func(row, *ledger.Record)) {
	t.Helper()
	ctx := context.Background()
	// The signing key, as ledger.Open reads it: wrapped by the master key in the settings.
	b, err := os.ReadFile(filepath.Join(fx.dir, platform.MasterKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	master, err := platform.ParseMasterKey(string(b))
	if err != nil {
		t.Fatal(err)
	}
	v, err := vault.New(master, nil, fx.clock)
	if err != nil {
		t.Fatal(err)
	}
	var wrapped, origin []byte
	db.QueryRowContext(ctx, `SELECT value FROM settings WHERE name = 'ledger_signer_key'`).Scan(&wrapped)
	db.QueryRowContext(ctx, `SELECT value FROM settings WHERE name = 'ledger_origin'`).Scan(&origin)
	skey, err := v.UnwrapSecret(wrapped, "ledger_signer_key")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := note.NewSigner(string(skey))
	if err != nil {
		t.Fatal(err)
	}

	old := rows(t, db)
	var sizes []int64
	rs, err := db.Query(`SELECT size FROM ledger_checkpoints ORDER BY size`)
	if err != nil {
		t.Fatal(err)
	}
	for rs.Next() {
		var s int64
		rs.Scan(&s)
		sizes = append(sizes, s)
	}
	rs.Close()

	// The new history.
	heads := map[int64][]byte{}
	next := map[int64]int64{}
	var kept []row
	dropped := map[int64]bool{} // old index → dropped
	for _, r := range old {
		if drop(r) {
			dropped[r.idx] = true
			continue
		}
		var rec ledger.Record
		if err := json.Unmarshal(r.record, &rec); err != nil {
			t.Fatal(err)
		}
		if edit != nil {
			edit(r, &rec)
		}
		rec.N, rec.Prev = next[r.chain], ""
		if h := heads[r.chain]; h != nil {
			rec.Prev = b64(h)
		}
		if r.record, err = rec.Encode(); err != nil {
			t.Fatal(err)
		}
		r.n, r.commitment, r.idx = rec.N, ledger.Commit(r.record, r.salt), int64(len(kept))
		heads[r.chain], next[r.chain] = r.commitment, rec.N+1
		kept = append(kept, r)
	}
	exec(t, db, `DELETE FROM ledger_entries`)
	exec(t, db, `DELETE FROM ledger_hashes`)
	exec(t, db, `DELETE FROM ledger_checkpoints`)
	var hashes []tlog.Hash
	mem := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			out[i] = hashes[x]
		}
		return out, nil
	})
	for _, r := range kept {
		exec(t, db, `INSERT INTO ledger_entries (id, idx, brand_id, chain_id, n, commitment, record, salt, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			r.id, r.idx, r.brand, r.chain, r.n, r.commitment, r.record, r.salt, r.at)
		hs, err := tlog.StoredHashesForRecordHash(r.idx, tlog.RecordHash(r.commitment), mem)
		if err != nil {
			t.Fatal(err)
		}
		hashes = append(hashes, hs...)
	}
	for i, h := range hashes {
		exec(t, db, `INSERT INTO ledger_hashes (id, hash) VALUES (?, ?)`, i, h[:])
	}
	// Every checkpoint again, at the sizes the rewritten history has at those points.
	signed := map[int64]bool{}
	for _, s := range sizes {
		ns := s
		for i := range s {
			if dropped[i] {
				ns--
			}
		}
		if ns == 0 || signed[ns] {
			continue
		}
		signed[ns] = true
		root, err := tlog.TreeHash(ns, mem)
		if err != nil {
			t.Fatal(err)
		}
		msg, err := note.Sign(&note.Note{Text: fmt.Sprintf("%s\n%d\n%s\n", origin, ns, b64(root[:]))}, signer)
		if err != nil {
			t.Fatal(err)
		}
		exec(t, db, `INSERT INTO ledger_checkpoints (size, root, note, at) VALUES (?, ?, ?, ?)`, ns, root[:], msg, fx.clock.Now().UnixMilli())
	}
}

// TestBrokenLedgerAPI: once the self-check has failed, nothing of the ledger is served as valid,
// on the /v1 routes either.
func TestBrokenLedgerAPI(t *testing.T) {
	fx := newFixture(t)
	dir := copyDir(t, fx.dir)
	db := rawDB(t, dir)
	exec(t, db, `UPDATE ledger_hashes SET hash = ? WHERE id = 0`, make([]byte, 32))
	db.Close()
	n := openNode(t, dir, "", fx.clock)
	const why = "stored tree hash 0 (a tile) does not match the entries"
	n.must(503, "GET", "/readyz", "", nil)
	// The key stays available: it is what one verifies against.
	if st, b := n.do("GET", "/ledger/key", "", nil); st != 200 || strings.TrimSpace(string(b)) != fx.key {
		t.Fatalf("GET /ledger/key: %d %s", st, b)
	}
	var bugs []string
	for _, path := range []string{"/v1/me/access-log", "/v1/ledger/checkpoints/8", "/v1/ledger/consistency?old=2&new=8"} {
		st, body := n.do("GET", path, fx.alice, nil)
		if st != 503 || !strings.Contains(string(body), why) {
			bugs = append(bugs, fmt.Sprintf("GET %s answers %d %.80q", path, st, body))
		}
	}
	if len(bugs) > 0 {
		t.Fatalf("on a ledger that failed its self-check, want 503 naming the failure: %s", strings.Join(bugs, "; "))
	}
}

// TestForeignKeyAndAlteredDetails: a checkpoint signed by another key is refused, whoever
// claims it, and so is a document whose shown details differ from the committed record.
func TestForeignKeyAndAlteredDetails(t *testing.T) {
	n := openNode(t, t.TempDir(), "", newClock())
	b := n.brand("Aurora")
	n.grant(b, "alice", "purchases", "personalization")
	n.read(b, "alice", "personalization")
	cp := n.integrate()
	key := n.p.Ledger.VerifierKey()
	log := ledgerclient.ForServer(n.srv.URL, nil)
	doc := n.proofs(n.wallet(b, "alice"))
	if _, _, err := ledger.VerifyExport(doc, log, key, nil); err != nil {
		t.Fatal(err)
	}

	// Another key of the same name (the log's origin) signs the same tree.
	sk, vk, err := note.GenerateKey(nil, n.p.Ledger.Origin())
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := note.NewSigner(sk)
	text := fmt.Sprintf("%s\n%d\n%s\n", n.p.Ledger.Origin(), cp.Size, b64(cp.Root))
	forged, err := note.Sign(&note.Note{Text: text}, signer)
	if err != nil {
		t.Fatal(err)
	}
	_, err = ledger.OpenCheckpoint(forged, key)
	wantErr(t, err, "checkpoint not signed by "+n.p.Ledger.Origin())
	_, err = ledger.OpenCheckpoint(cp.Note, vk)
	wantErr(t, err, "checkpoint not signed by")
	if pc, err := ledger.OpenCheckpoint(forged, vk); err != nil || pc.Size != cp.Size {
		t.Fatalf("the forged checkpoint under its own key: %v", err)
	}
	// The verifier trusting another key (symbiont verify --key) refuses the document…
	_, _, err = ledger.VerifyExport(doc, log, vk, nil)
	wantErr(t, err, "the document names log key", "but the trusted key is")
	// …and the log itself, when the document is made to name that key.
	d := *doc
	d.Log.Key = vk
	_, _, err = ledger.VerifyExport(&d, log, vk, nil)
	wantErr(t, err, "the log's current checkpoint: ledger: checkpoint not signed by")
	// A document carrying a checkpoint of another key.
	d = *doc
	d.Log.Checkpoint = string(forged)
	_, _, err = ledger.VerifyExport(&d, log, key, nil)
	wantErr(t, err, "the document's checkpoint: ledger: checkpoint not signed by")

	// Details shown that are not what was committed.
	for name, alter := range map[string]func(x *ledger.ExportRecord){
		"details": func(x *ledger.ExportRecord) {
			x.Details = json.RawMessage(strings.Replace(string(x.Details), "personalization", "service", 1))
		},
		"kind": func(x *ledger.ExportRecord) { x.Kind = ledger.KindConsentWithdrawn },
		"at":   func(x *ledger.ExportRecord) { x.At = x.At.Add(time.Hour) },
	} {
		d := *doc
		d.Records = slices.Clone(doc.Records)
		alter(&d.Records[0])
		_, _, err = ledger.VerifyExport(&d, log, key, nil)
		if err == nil || !strings.Contains(err.Error(), "record 0 of "+doc.Records[0].Subject+": the details shown differ from the committed record") {
			t.Errorf("altered %s: %v", name, err)
		}
	}
}
