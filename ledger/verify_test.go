package ledger_test

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/symbiont/symbiont/ledger"
)

// VerifyExport against an in-memory log: what the verifier must refuse, and say.

const fakeOrigin = "example.test/ledger"

// fakeLog is an RFC 6962 log in memory with a signing key, serving C2SP tiles.
type fakeLog struct {
	t       *testing.T
	origin  string
	signer  note.Signer
	key     string
	hashes  []tlog.Hash
	size    int64
	index   map[string]int64 // commitment (base64) → index
	signed  map[int64][]byte
	current []byte // the checkpoint Checkpoint serves
}

func newFakeLog(t *testing.T, origin string) *fakeLog {
	t.Helper()
	sk, vk, err := note.GenerateKey(rand.Reader, origin)
	if err != nil {
		t.Fatal(err)
	}
	s, err := note.NewSigner(sk)
	if err != nil {
		t.Fatal(err)
	}
	return &fakeLog{t: t, origin: origin, signer: s, key: vk, index: map[string]int64{}, signed: map[int64][]byte{}}
}

// fork is a log under the same key (and origin) with a history of its own.
func (l *fakeLog) fork() *fakeLog {
	return &fakeLog{t: l.t, origin: l.origin, signer: l.signer, key: l.key, index: map[string]int64{}, signed: map[int64][]byte{}}
}

func (l *fakeLog) ReadHashes(idx []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(idx))
	for i, x := range idx {
		if x >= int64(len(l.hashes)) {
			return nil, fmt.Errorf("no hash %d", x)
		}
		out[i] = l.hashes[x]
	}
	return out, nil
}

func (l *fakeLog) add(commitment []byte) {
	l.t.Helper()
	hs, err := tlog.StoredHashesForRecordHash(l.size, tlog.RecordHash(commitment), l)
	if err != nil {
		l.t.Fatal(err)
	}
	l.hashes = append(l.hashes, hs...)
	l.index[b64(commitment)] = l.size
	l.size++
}

// sign issues a checkpoint of the current size and serves it.
func (l *fakeLog) sign() []byte {
	l.t.Helper()
	root, err := tlog.TreeHash(l.size, l)
	if err != nil {
		l.t.Fatal(err)
	}
	msg, err := note.Sign(&note.Note{Text: fmt.Sprintf("%s\n%d\n%s\n", l.origin, l.size, b64(root[:]))}, l.signer)
	if err != nil {
		l.t.Fatal(err)
	}
	l.signed[l.size] = msg
	l.current = msg
	return msg
}

func (l *fakeLog) Checkpoint() ([]byte, error) { return l.current, nil }
func (l *fakeLog) Tiles() tlog.TileReader      { return fakeTiles{l} }

type fakeTiles struct{ l *fakeLog }

func (fakeTiles) Height() int { return ledger.TileHeight }
func (r fakeTiles) ReadTiles(ts []tlog.Tile) ([][]byte, error) {
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
func (fakeTiles) SaveTiles([]tlog.Tile, [][]byte) {}

// chain is a consumer's chain being written.
type chain struct {
	subject string
	n       int64
	prev    string
	recs    []ledger.ExportRecord
}

var t0 = time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)

// rec builds a record of the chain (n and prev as given) and appends it to the log.
func (l *fakeLog) rec(c *chain, n int64, prev string, logName string) ledger.ExportRecord {
	l.t.Helper()
	r := ledger.Record{Version: ledger.Version, Log: logName, Brand: "br_test", Subject: c.subject, N: n, Prev: prev,
		Kind: ledger.KindAccessRead, At: t0.Add(time.Duration(l.size) * time.Second), Body: json.RawMessage(fmt.Sprintf(`{"purpose":"service","i":%d}`, l.size))}
	b, err := r.Encode()
	if err != nil {
		l.t.Fatal(err)
	}
	salt := make([]byte, 32)
	rand.Read(salt)
	cm := ledger.Commit(b, salt)
	l.add(cm)
	return ledger.ExportRecord{Subject: c.subject, N: n, Kind: r.Kind, At: r.At, Details: r.Body, Record: string(b), Salt: b64(salt), Commitment: b64(cm)}
}

// next appends the chain's next record.
func (l *fakeLog) next(c *chain) {
	l.t.Helper()
	x := l.rec(c, c.n, c.prev, l.origin)
	c.n, c.prev = c.n+1, x.Commitment
	c.recs = append(c.recs, x)
}

// export is the proof document of records against the checkpoint of size (records beyond it
// are pending).
func (l *fakeLog) export(size int64, recs []ledger.ExportRecord) *ledger.Export {
	l.t.Helper()
	doc := &ledger.Export{Format: ledger.ExportFormat, Log: ledger.ExportLog{Origin: l.origin, Key: l.key, Checkpoint: string(l.signed[size]), Size: size}}
	for _, x := range recs {
		idx := l.index[x.Commitment]
		if idx >= size {
			x.Pending = true
		} else {
			p, err := tlog.ProveRecord(size, idx, l)
			if err != nil {
				l.t.Fatal(err)
			}
			x.Index = &idx
			for _, h := range p {
				x.Proof = append(x.Proof, b64(h[:]))
			}
		}
		doc.Records = append(doc.Records, x)
	}
	return doc
}

// scenario: alice has 3 records and bob 2, interleaved, under a checkpoint of size 5.
func scenario(t *testing.T) (*fakeLog, *chain, *chain) {
	l := newFakeLog(t, fakeOrigin)
	alice, bob := &chain{subject: "sub_alice"}, &chain{subject: "sub_bob"}
	l.next(alice)
	l.next(bob)
	l.next(alice)
	l.next(bob)
	l.next(alice)
	l.sign()
	return l, alice, bob
}

func TestVerifyExportAccepts(t *testing.T) {
	l, alice, bob := scenario(t)
	rep, st, err := ledger.VerifyExport(l.export(5, alice.recs), l, l.key, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Records != 3 || rep.Chains != 1 || rep.Pending != 0 || rep.Size != 5 || rep.PreviousSize != 0 {
		t.Fatalf("report %+v", rep)
	}
	if st.Origin != fakeOrigin || st.Key != l.key || st.Size != 5 || st.Heads["sub_alice"] != (ledger.Head{N: 2, Commitment: alice.recs[2].Commitment}) {
		t.Fatalf("state %+v", st)
	}
	// A merged consumer's document holds two chains; their order in the document is free.
	both := append(slices.Clone(bob.recs), alice.recs...)
	slices.Reverse(both)
	rep, st2, err := ledger.VerifyExport(l.export(5, both), l, l.key, st)
	if err != nil || rep.Chains != 2 || rep.PreviousSize != 5 || len(st2.Heads) != 2 {
		t.Fatalf("two chains: %+v %v", rep, err)
	}
	// The log grows; the next run is consistent with the state, through the tiles.
	for range 300 {
		l.next(bob)
	}
	l.next(alice)
	l.sign()
	rep, st3, err := ledger.VerifyExport(l.export(l.size, append(slices.Clone(bob.recs), alice.recs...)), l, l.key, st2)
	if err != nil || rep.PreviousSize != 5 || rep.Size != 306 || st3.Heads["sub_alice"].N != 3 || st3.Heads["sub_bob"].N != 301 {
		t.Fatalf("after growth: %+v %+v %v", rep, st3, err)
	}
}

func TestVerifyExportRefuses(t *testing.T) {
	type tc struct {
		name string
		// build returns the document, the log to check against and the previous state.
		build func(t *testing.T) (*ledger.Export, ledger.Log, *ledger.State)
		want  []string
	}
	verified := func(t *testing.T) (*fakeLog, *chain, *chain, *ledger.State) {
		l, alice, bob := scenario(t)
		_, st, err := ledger.VerifyExport(l.export(5, alice.recs), l, l.key, nil)
		if err != nil {
			t.Fatal(err)
		}
		return l, alice, bob, st
	}
	for _, c := range []tc{
		{"not a proof document", func(t *testing.T) (*ledger.Export, ledger.Log, *ledger.State) {
			l, alice, _ := scenario(t)
			doc := l.export(5, alice.recs)
			doc.Format = "symbiont-export/1"
			return doc, l, nil
		}, []string{`not a ledger proof document (format "symbiont-export/1"`}},
		{"withheld tail", func(t *testing.T) (*ledger.Export, ledger.Log, *ledger.State) {
			l, alice, _, st := verified(t)
			l.next(alice)
			l.sign()
			return l.export(6, alice.recs[:2]), l, st
		}, []string{"chain sub_alice: 2 records shown, but 3 were verified last time: records were withheld"}},
		{"withheld chain", func(t *testing.T) (*ledger.Export, ledger.Log, *ledger.State) {
			l, alice, bob := scenario(t)
			_, st, err := ledger.VerifyExport(l.export(5, append(slices.Clone(alice.recs), bob.recs...)), l, l.key, nil)
			if err != nil {
				t.Fatal(err)
			}
			return l.export(5, alice.recs), l, st
		}, []string{"chain sub_bob (2 records verified last time) is missing from the document"}},
		{"gap in a chain", func(t *testing.T) (*ledger.Export, ledger.Log, *ledger.State) {
			l, alice, _ := scenario(t)
			return l.export(5, []ledger.ExportRecord{alice.recs[0], alice.recs[2]}), l, nil
		}, []string{"chain sub_alice: record 1 is missing (the next one shown is 2)"}},
		{"chain not starting at 0", func(t *testing.T) (*ledger.Export, ledger.Log, *ledger.State) {
			l, alice, _ := scenario(t)
			return l.export(5, alice.recs[1:]), l, nil
		}, []string{"chain sub_alice: record 0 is missing (the next one shown is 1)"}},
		{"reordered pair", func(t *testing.T) (*ledger.Export, ledger.Log, *ledger.State) {
			// Records 1 and 2 were appended in the wrong order: 2 (naming 0) first, then 1
			// (naming 2). Each is in the log; the chain does not link.
			l := newFakeLog(t, fakeOrigin)
			c := &chain{subject: "sub_alice"}
			l.next(c)
			r2 := l.rec(c, 2, c.recs[0].Commitment, l.origin)
			r1 := l.rec(c, 1, r2.Commitment, l.origin)
			l.sign()
			return l.export(3, []ledger.ExportRecord{c.recs[0], r1, r2}), l, nil
		}, []string{"chain sub_alice: record 1 does not follow record 0 (a record was replaced or reordered)"}},
		{"record replaced", func(t *testing.T) (*ledger.Export, ledger.Log, *ledger.State) {
			// A second record 1 (same n, naming record 0) was appended, and the document shows it
			// instead of the first.
			l, alice, _ := scenario(t)
			other := l.rec(alice, 1, alice.recs[0].Commitment, l.origin)
			l.sign()
			return l.export(6, []ledger.ExportRecord{alice.recs[0], other, alice.recs[2]}), l, nil
		}, []string{"chain sub_alice: record 2 does not follow record 1 (a record was replaced or reordered)"}},
		{"head rewritten", func(t *testing.T) (*ledger.Export, ledger.Log, *ledger.State) {
			l, alice, _, st := verified(t)
			h := st.Heads["sub_alice"]
			h.Commitment = alice.recs[1].Commitment
			st.Heads["sub_alice"] = h
			return l.export(5, alice.recs), l, st
		}, []string{"chain sub_alice: record 2 differs from the one verified last time: history was rewritten"}},
		{"altered salt", func(t *testing.T) (*ledger.Export, ledger.Log, *ledger.State) {
			l, alice, _ := scenario(t)
			doc := l.export(5, alice.recs)
			s, _ := base64.StdEncoding.DecodeString(doc.Records[1].Salt)
			s[0] ^= 1
			doc.Records[1].Salt = b64(s)
			return doc, l, nil
		}, []string{"record 1 of sub_alice: the record and salt do not open its commitment: the record was altered"}},
		{"malformed salt", func(t *testing.T) (*ledger.Export, ledger.Log, *ledger.State) {
			l, alice, _ := scenario(t)
			doc := l.export(5, alice.recs)
			doc.Records[0].Salt = "%%%"
			return doc, l, nil
		}, []string{"record 0 of sub_alice: malformed salt"}},
		{"altered record", func(t *testing.T) (*ledger.Export, ledger.Log, *ledger.State) {
			l, alice, _ := scenario(t)
			doc := l.export(5, alice.recs)
			doc.Records[2].Record = doc.Records[2].Record[:len(doc.Records[2].Record)-2] + "9}"
			return doc, l, nil
		}, []string{"record 2 of sub_alice: the record and salt do not open its commitment"}},
		{"wrong origin", func(t *testing.T) (*ledger.Export, ledger.Log, *ledger.State) {
			l, alice, _ := scenario(t)
			doc := l.export(5, alice.recs)
			doc.Log.Origin = "other.test/ledger"
			return doc, l, nil
		}, []string{`the log calls itself "example.test/ledger", the document "other.test/ledger"`}},
		{"record committed to another log", func(t *testing.T) (*ledger.Export, ledger.Log, *ledger.State) {
			l := newFakeLog(t, fakeOrigin)
			c := &chain{subject: "sub_alice"}
			x := l.rec(c, 0, "", "other.test/ledger")
			l.sign()
			return l.export(1, []ledger.ExportRecord{x}), l, nil
		}, []string{`record 0 of sub_alice: committed to log "other.test/ledger"`}},
		{"checkpoint of another log", func(t *testing.T) (*ledger.Export, ledger.Log, *ledger.State) {
			// Same origin, another key: the document's proofs are against another log's tree.
			l, _, _ := scenario(t)
			other := newFakeLog(t, fakeOrigin)
			oc := &chain{subject: "sub_alice"}
			for range 3 {
				other.next(oc)
			}
			other.sign()
			doc := other.export(3, oc.recs)
			doc.Log.Key = l.key
			return doc, l, nil
		}, []string{"the document's checkpoint: ledger: checkpoint not signed by example.test/ledger"}},
		{"checkpoint of a fork", func(t *testing.T) (*ledger.Export, ledger.Log, *ledger.State) {
			// The log's own key signed another tree of the same size: a split view.
			l, _, _ := scenario(t)
			f := l.fork()
			fc := &chain{subject: "sub_alice"}
			for range 5 {
				f.next(fc)
			}
			f.sign()
			return f.export(5, fc.recs), l, nil
		}, []string{"the document's checkpoint (size 5) is not a prefix of the log's current tree (size 5): history was rewritten"}},
		{"proof against the wrong index", func(t *testing.T) (*ledger.Export, ledger.Log, *ledger.State) {
			l, alice, _ := scenario(t)
			doc := l.export(5, alice.recs)
			i := int64(1)
			doc.Records[0].Index = &i
			return doc, l, nil
		}, []string{"record 0 of sub_alice: not in the log at index 1 under the checkpoint (size 5)"}},
		{"record without a proof", func(t *testing.T) (*ledger.Export, ledger.Log, *ledger.State) {
			l, alice, _ := scenario(t)
			doc := l.export(5, alice.recs)
			doc.Records[1].Index, doc.Records[1].Proof = nil, nil
			return doc, l, nil
		}, []string{"record 1 of sub_alice: no index or checkpoint to prove it against"}},
		{"state from another log", func(t *testing.T) (*ledger.Export, ledger.Log, *ledger.State) {
			l, alice, _, st := verified(t)
			st.Origin = "other.test/ledger"
			return l.export(5, alice.recs), l, st
		}, []string{`the saved state is for log "other.test/ledger", not "example.test/ledger"`}},
		{"state with another log's root", func(t *testing.T) (*ledger.Export, ledger.Log, *ledger.State) {
			l, alice, _, st := verified(t)
			other := newFakeLog(t, fakeOrigin)
			for range 5 {
				other.next(&chain{subject: "sub_x"})
			}
			o, err := ledger.OpenCheckpoint(other.sign(), other.key)
			if err != nil {
				t.Fatal(err)
			}
			st.Root = b64(o.Root[:])
			return l.export(5, alice.recs), l, st
		}, []string{"the checkpoint seen last time (size 5) is not a prefix of the log's current tree (size 5): history was rewritten"}},
		{"shrunk log", func(t *testing.T) (*ledger.Export, ledger.Log, *ledger.State) {
			l, _, _, st := verified(t)
			small := l.fork() // the same key
			c := &chain{subject: "sub_alice"}
			small.next(c)
			small.next(c)
			small.next(c)
			small.sign() // the log now says it has 3 entries
			return small.export(3, c.recs), small, st
		}, []string{"the checkpoint seen last time has 5 entries but the log now has only 3: the log was truncated or rebuilt"}},
		{"document checkpoint ahead of the log", func(t *testing.T) (*ledger.Export, ledger.Log, *ledger.State) {
			l, alice, _ := scenario(t)
			l.next(alice)
			l.sign()
			doc := l.export(6, alice.recs)
			l.current = l.signed[5]
			return doc, l, nil
		}, []string{"the document's checkpoint has 6 entries but the log now has only 5"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			doc, log, st := c.build(t)
			rep, next, err := ledger.VerifyExport(doc, log, doc.Log.Key, st)
			if err == nil {
				t.Fatalf("verified: %+v %+v", rep, next)
			}
			wantErr(t, err, c.want...)
		})
	}
}

// TestVerifyExportPending: records not yet in a checkpoint are accepted and counted, but not
// remembered as verified; their bytes must still open their commitments.
func TestVerifyExportPending(t *testing.T) {
	l, alice, _ := scenario(t)
	l.next(alice) // index 5, after the checkpoint of size 5
	doc := l.export(5, alice.recs)
	if !doc.Records[3].Pending || doc.Records[3].Index != nil {
		t.Fatalf("record 3: %+v", doc.Records[3])
	}
	rep, st, err := ledger.VerifyExport(doc, l, l.key, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Records != 4 || rep.Pending != 1 || st.Heads["sub_alice"].N != 2 {
		t.Fatalf("report %+v, head %+v", rep, st.Heads["sub_alice"])
	}
	// A pending record is not exempt from opening its commitment.
	bad := l.export(5, alice.recs)
	bad.Records[3].Details = json.RawMessage(`{"purpose":"marketing"}`)
	_, _, err = ledger.VerifyExport(bad, l, l.key, nil)
	wantErr(t, err, "record 3 of sub_alice: the details shown differ from the committed record")
	// Once integrated, the same record is proven and becomes the head.
	l.sign()
	rep, st, err = ledger.VerifyExport(l.export(6, alice.recs), l, l.key, st)
	if err != nil || rep.Pending != 0 || st.Heads["sub_alice"].N != 3 {
		t.Fatalf("after integration: %+v %+v %v", rep, st.Heads, err)
	}
}
