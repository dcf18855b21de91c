package api_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"

	tlogformat "github.com/transparency-dev/formats/log"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/tessera/client"
	"golang.org/x/mod/sumdb/note"

	"github.com/symbiont/symbiont/ledger"
	"github.com/symbiont/symbiont/store"
)

// TestLedgerIndependentClient reads our log with Tessera's tlog-tiles client
// (github.com/transparency-dev/tessera/client, its own path layout and fetch logic) and checks
// it with github.com/transparency-dev/merkle, none of it our code: the checkpoint is signed by
// the key at /ledger/key; every entry in the entry bundles hashes to the leaf in the level-0
// tiles; an inclusion proof built from our tiles verifies for every index; the consumer's
// proof document is about those very entries; and the log at an earlier checkpoint is a
// prefix of the current one (Tessera's consistency proof, and ours, which must be the same).
func TestLedgerIndependentClient(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	b := e.setup("Aurora")
	for _, u := range []string{"alice", "bob", "carol"} {
		e.grant(b, u, "purchases", "personalization")
		e.must(200, "GET", "/v1/consumers/"+u+"/data?purpose=personalization", b.SK, nil)
	}
	if _, err := e.p.Ledger.Integrate(ctx); err != nil {
		t.Fatal(err)
	}
	old, _ := e.p.Ledger.Latest()
	// Enough entries for full and partial tiles and bundles: 6 + 300.
	br, err := e.p.Tenants.BrandByPublicID(ctx, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.p.Store.Update(ctx, func(tx store.Tx) error {
		for i := range 300 {
			if _, err := e.p.Ledger.Append(ctx, tx, ledger.Act{BrandID: br.ID, ConsumerID: int64(9000 + i%7), Kind: ledger.KindAccessRead,
				At: e.clock.Now(), Body: map[string]int{"i": i}}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	e.grant(b, "alice", "contact", "service")
	if _, err := e.p.Ledger.Integrate(ctx); err != nil {
		t.Fatal(err)
	}

	// The log's key and checkpoint, through the client.
	key := strings.TrimSpace(string(e.do("GET", "/ledger/key", "", nil).Body))
	verifier, err := note.NewVerifier(key)
	if err != nil {
		t.Fatalf("/ledger/key %q: %v", key, err)
	}
	origin := verifier.Name()
	root, _ := url.Parse(e.srv.URL + "/ledger/")
	f, err := client.NewHTTPFetcher(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	cp, cpRaw, _, err := client.FetchCheckpoint(ctx, f.ReadCheckpoint, verifier, origin)
	if err != nil {
		t.Fatal(err)
	}
	if cp.Size != 307 || cp.Origin != origin {
		t.Fatalf("checkpoint %+v", cp)
	}
	other, _ := note.NewVerifier(otherKey(t, origin))
	if _, _, _, err := client.FetchCheckpoint(ctx, f.ReadCheckpoint, other, origin); err == nil {
		t.Fatal("the checkpoint opened with another key of the same name")
	}

	// Entries (bundles) against leaves (level-0 tiles).
	h := rfc6962.DefaultHasher
	leaves, err := client.FetchLeafHashes(ctx, f.ReadTile, 0, cp.Size, cp.Size)
	if err != nil {
		t.Fatal(err)
	}
	if uint64(len(leaves)) != cp.Size {
		t.Fatalf("%d leaf hashes", len(leaves))
	}
	var entries [][]byte
	for i := uint64(0); i*256 < cp.Size; i++ {
		bundle, err := client.GetEntryBundle(ctx, f.ReadEntryBundle, i, cp.Size)
		if err != nil {
			t.Fatalf("entry bundle %d: %v", i, err)
		}
		if want := min(cp.Size-i*256, 256); uint64(len(bundle.Entries)) != want {
			t.Fatalf("entry bundle %d: %d entries, want %d", i, len(bundle.Entries), want)
		}
		entries = append(entries, bundle.Entries...)
	}
	for i, entry := range entries {
		if len(entry) != 32 {
			t.Fatalf("entry %d is %d bytes, want a 32-byte commitment", i, len(entry))
		}
		if !bytes.Equal(h.HashLeaf(entry), leaves[i]) {
			t.Fatalf("entry %d does not hash to leaf %d of the tiles", i, i)
		}
	}

	// Inclusion of every entry, with proofs built from our tiles by Tessera.
	pb, err := client.NewProofBuilder(ctx, cp.Size, f.ReadTile)
	if err != nil {
		t.Fatal(err)
	}
	for i := uint64(0); i < cp.Size; i++ {
		p, err := pb.InclusionProof(ctx, i)
		if err != nil {
			t.Fatalf("inclusion proof %d: %v", i, err)
		}
		if err := proof.VerifyInclusion(h, i, cp.Size, leaves[i], p, cp.Hash); err != nil {
			t.Fatalf("inclusion of %d: %v", i, err)
		}
		if i == 42 && proof.VerifyInclusion(h, i, cp.Size, leaves[i+1], p, cp.Hash) == nil {
			t.Fatal("an inclusion proof verified for another leaf")
		}
	}

	// The consumer's proof document is about these entries, and its proofs verify. It is read
	// here as docs/api.md describes it (format 2), not with our decoder: the checkpoint once,
	// every proof hash once in a table, each record's bytes, salt, index and proof (positions
	// in the table); the commitment is computed as docs/ledger.md says.
	wt := e.wallet(b, "alice")
	r := e.do("GET", "/v1/me/access-log", wt, nil)
	var wire struct {
		Format string `json:"format"`
		Log    struct {
			Checkpoint string `json:"checkpoint"`
		} `json:"log"`
		Hashes  []string `json:"hashes"`
		Records []struct {
			Record  string  `json:"record"`
			Salt    string  `json:"salt"`
			Index   *uint64 `json:"index"`
			Proof   []int   `json:"proof"`
			Pending bool    `json:"pending"`
		} `json:"records"`
	}
	if r.Status != 200 || json.Unmarshal(r.Body, &wire) != nil || wire.Format != "symbiont-ledger-proofs/2" {
		t.Fatalf("GET /v1/me/access-log: %d %s", r.Status, r.Body)
	}
	docCP, _, _, err := tlogformat.ParseCheckpoint([]byte(wire.Log.Checkpoint), origin, verifier)
	if err != nil || docCP.Size != cp.Size || !bytes.Equal(docCP.Hash, cp.Hash) || wire.Log.Checkpoint != string(cpRaw) {
		t.Fatalf("document checkpoint: %+v %v", docCP, err)
	}
	if len(wire.Records) != 3 {
		t.Fatalf("alice has %d records", len(wire.Records))
	}
	if bytes.Count(r.Body, []byte("— "+origin)) != 1 {
		t.Fatalf("the checkpoint's signature appears %d times in the document", bytes.Count(r.Body, []byte("— "+origin)))
	}
	seen := map[string]bool{}
	for _, x := range wire.Hashes {
		if seen[x] {
			t.Fatalf("hash %s is in the document's table twice", x)
		}
		seen[x] = true
	}
	used := map[int]bool{}
	for i, x := range wire.Records {
		salt, _ := base64.StdEncoding.DecodeString(x.Salt)
		sum := sha256.Sum256(append(append([]byte("symbiont-ledger-record/v1\x00"), x.Record...), salt...))
		c := sum[:]
		if x.Pending || x.Index == nil || !bytes.Equal(entries[*x.Index], c) {
			t.Fatalf("alice's record %d (index %v) is not the entry at its index", i, x.Index)
		}
		var p [][]byte
		for _, k := range x.Proof {
			hb, _ := base64.StdEncoding.DecodeString(wire.Hashes[k])
			p = append(p, hb)
			used[k] = true
		}
		if err := proof.VerifyInclusion(h, *x.Index, docCP.Size, h.HashLeaf(c), p, docCP.Hash); err != nil {
			t.Fatalf("alice's record %d: the document's inclusion proof: %v", i, err)
		}
	}
	if len(used) != len(wire.Hashes) {
		t.Fatalf("the document's table has %d hashes, its proofs use %d", len(wire.Hashes), len(used))
	}
	// Each record's proof as a C2SP tlog-proof (derived from the document), read as the spec
	// says (c2sp.org/tlog-proof: header, index, hashes, blank line, checkpoint) and checked.
	var doc ledger.Export
	if err := json.Unmarshal(r.Body, &doc); err != nil {
		t.Fatal(err)
	}
	for i, x := range wire.Records {
		tp, err := doc.TlogProof(i)
		if err != nil {
			t.Fatal(err)
		}
		head, note, ok := strings.Cut(tp, "\n\n")
		lines := strings.Split(head, "\n")
		if !ok || len(lines) < 2 || lines[0] != "c2sp.org/tlog-proof@v1" || lines[1] != fmt.Sprintf("index %d", *x.Index) {
			t.Fatalf("record %d: tlog-proof %q", i, tp)
		}
		pc, _, _, err := tlogformat.ParseCheckpoint([]byte(note), origin, verifier)
		if err != nil {
			t.Fatalf("record %d: the tlog-proof's checkpoint: %v", i, err)
		}
		var p [][]byte
		for _, l := range lines[2:] {
			hb, err := base64.StdEncoding.DecodeString(l)
			if err != nil {
				t.Fatalf("record %d: tlog-proof hash %q", i, l)
			}
			p = append(p, hb)
		}
		salt, _ := base64.StdEncoding.DecodeString(x.Salt)
		sum := sha256.Sum256(append(append([]byte("symbiont-ledger-record/v1\x00"), x.Record...), salt...))
		if err := proof.VerifyInclusion(h, *x.Index, pc.Size, h.HashLeaf(sum[:]), p, pc.Hash); err != nil {
			t.Fatalf("record %d: the tlog-proof: %v", i, err)
		}
	}

	// The earlier checkpoint is a prefix of this one.
	oldRaw := e.do("GET", "/v1/ledger/checkpoints/"+strconv.FormatInt(old.Size, 10), "", nil).Body
	oc, _, _, err := tlogformat.ParseCheckpoint(oldRaw, origin, verifier)
	if err != nil || oc.Size != 6 {
		t.Fatalf("checkpoint 6: %+v %v", oc, err)
	}
	cproof, err := pb.ConsistencyProof(ctx, oc.Size, cp.Size)
	if err != nil {
		t.Fatal(err)
	}
	if err := proof.VerifyConsistency(h, oc.Size, cp.Size, cproof, oc.Hash, cp.Hash); err != nil {
		t.Fatalf("consistency %d → %d: %v", oc.Size, cp.Size, err)
	}
	ours := e.must(200, "GET", fmt.Sprintf("/v1/ledger/consistency?old=%d&new=%d", oc.Size, cp.Size), "", nil)
	var ourProof [][]byte
	for _, s := range ours["proof"].([]any) {
		hb, _ := base64.StdEncoding.DecodeString(s.(string))
		ourProof = append(ourProof, hb)
	}
	if fmt.Sprint(ourProof) != fmt.Sprint(cproof) {
		t.Fatalf("our consistency proof differs from Tessera's")
	}
	if proof.VerifyConsistency(h, oc.Size, cp.Size, cproof, leaves[0], cp.Hash) == nil {
		t.Fatal("a consistency proof verified for another old root")
	}
	// And Tessera's own monitor accepts the log's growth from the earlier checkpoint.
	lst, err := client.NewLogStateTracker(ctx, f.ReadTile, oldRaw, verifier, origin, client.UnilateralConsensus(f.ReadCheckpoint))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := lst.Update(ctx); err != nil {
		t.Fatalf("Tessera's log state tracker: %v", err)
	}
	if got := lst.Latest(); got.Size != cp.Size || !bytes.Equal(got.Hash, cp.Hash) {
		t.Fatalf("tracker at %+v", got)
	}
}

// otherKey is a verifier key of another signer with the same name.
func otherKey(t *testing.T, name string) string {
	t.Helper()
	_, vk, err := note.GenerateKey(nil, name)
	if err != nil {
		t.Fatal(err)
	}
	return vk
}
