package ledger

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"golang.org/x/mod/sumdb/tlog"
)

// Proof document formats. ExportFormat is what Export writes; VerifyExport also reads
// ExportFormatV1, so that documents saved before keep verifying.
const (
	ExportFormat   = "symbiont-ledger-proofs/2"
	ExportFormatV1 = "symbiont-ledger-proofs/1"
)

// Export is a consumer's ledger records with everything needed to verify them offline: each
// record's bytes and salt (to open its commitment), its log index and an inclusion proof
// against the one signed checkpoint of the document. Records not yet integrated are listed as
// pending, without a proof; ask again a second later.
//
// In Go a document is always expanded: every record carries its subject, position, kind, time
// and details, its commitment and its whole inclusion proof. On the wire (MarshalJSON,
// UnmarshalJSON) format 2 writes each of those once: the committed bytes are the only copy of
// what a record says (the rest is read from them), the commitment is computed from the bytes
// and the salt, and the proofs' hashes are in one table (Export's "hashes") to which each
// record's proof refers. Format 1 wrote everything with every record, and each proof twice.
type Export struct {
	Format  string
	Log     ExportLog
	Records []ExportRecord
}

// ExportLog names the log and the checkpoint the proofs are against.
type ExportLog struct {
	Origin     string `json:"origin"`
	Key        string `json:"key"`        // signed-note verifier key
	Checkpoint string `json:"checkpoint"` // C2SP tlog-checkpoint, signed
	Size       int64  `json:"size"`
}

// ExportRecord is one record with its proof.
type ExportRecord struct {
	// What the record says (format 1: as the document shows it, to be checked against the
	// committed bytes; format 2: read from them).
	Subject string
	N       int64
	Kind    string
	At      time.Time
	Details json.RawMessage

	Record     string // the exact committed bytes
	Salt       string // base64
	Commitment string // base64 (format 2: computed from Record and Salt)
	Pending    bool
	Index      *int64
	// Proof is the RFC 6962 inclusion proof of the entry at Index under the document's
	// checkpoint, base64 hashes from the leaf up.
	Proof []string

	parsed     *Record // Record parsed, while it is parsedFrom
	parsedFrom string
}

// Export builds the proof document of the chains, in one read transaction.
func (s *Service) Export(ctx context.Context, chainIDs []int64) (*Export, error) {
	cp, err := s.Latest()
	if err != nil {
		return nil, err
	}
	doc := &Export{Format: ExportFormat, Log: ExportLog{Origin: s.origin, Key: s.vkey}, Records: []ExportRecord{}}
	if cp != nil {
		doc.Log.Checkpoint, doc.Log.Size = string(cp.Note), cp.Size
	}
	var es []*Entry
	proofs := map[int64]tlog.RecordProof{}
	err = s.db.View(ctx, func(tx IntegrationTx) error {
		if es, err = tx.ChainEntries(ctx, chainIDs); err != nil || cp == nil {
			return err
		}
		var idx []int64
		for _, e := range es {
			if e.Index >= 0 && e.Index < cp.Size {
				idx = append(idx, e.Index)
			}
		}
		return s.proveAll(ctx, tx, cp.Size, idx, proofs)
	})
	if err != nil {
		return nil, err
	}
	for _, e := range es {
		x := ExportRecord{Record: string(e.Record), Salt: b64(e.Salt), Commitment: b64(e.Commitment)}
		r, err := x.open()
		if err != nil {
			return nil, fmt.Errorf("ledger: entry %d: %w", e.ID, err)
		}
		x.Subject, x.N, x.Kind, x.At, x.Details = r.Subject, e.N, r.Kind, r.At, r.Body
		if p, ok := proofs[e.Index]; ok && e.Index >= 0 {
			idx := e.Index
			x.Index = &idx
			x.Proof = make([]string, len(p))
			for i := range p {
				x.Proof[i] = b64(p[i][:])
			}
		} else {
			x.Pending = true
		}
		doc.Records = append(doc.Records, x)
	}
	return doc, nil
}

// proveAll builds the inclusion proofs of the entries at indexes in the tree of the given
// size, reading every stored hash they need that is not in the cache at once: tlog.ProveRecord
// asks for the hashes of a proof before it computes anything, so a pass that answers from the
// cache and notes what is missing (answering zeros) gives the list, and only the proofs that
// missed something are made again.
func (s *Service) proveAll(ctx context.Context, tx IntegrationTx, size int64, indexes []int64, out map[int64]tlog.RecordProof) error {
	missing := map[int64]bool{}
	var again []int64
	cached := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		hs := make([]tlog.Hash, len(idx))
		n := len(missing)
		for i, x := range idx {
			if h, ok := s.hashes.get(x); ok {
				copy(hs[i][:], h)
			} else {
				missing[x] = true
			}
		}
		if len(missing) > n {
			return hs, errMissed
		}
		return hs, nil
	})
	for _, i := range indexes {
		p, err := tlog.ProveRecord(size, i, cached)
		if errors.Is(err, errMissed) {
			again = append(again, i)
			continue
		} else if err != nil {
			return err
		}
		out[i] = p
	}
	if len(again) == 0 {
		return nil
	}
	got := make(map[int64][]byte, len(missing))
	ids := make([]int64, 0, len(missing))
	for x := range missing {
		ids = append(ids, x)
	}
	hs, err := tx.LedgerHashes(ctx, ids)
	if err != nil {
		return err
	}
	for j, h := range hs {
		got[ids[j]] = h
		s.hashes.put(ids[j], h)
	}
	r := s.reader(ctx, tx, got)
	for _, i := range again {
		p, err := tlog.ProveRecord(size, i, r)
		if err != nil {
			return err
		}
		out[i] = p
	}
	return nil
}

// errMissed stops a proof whose hashes are not all in the cache.
var errMissed = errors.New("ledger: stored hash not cached")

// TlogProof returns record i's proof as a C2SP tlog-proof (c2sp.org/tlog-proof@v1): the
// index, the inclusion proof and the document's checkpoint, verifiable on its own by any
// tlog-proof client (with the record's commitment as the entry).
func (d *Export) TlogProof(i int) (string, error) {
	if i < 0 || i >= len(d.Records) {
		return "", fmt.Errorf("ledger: no record %d in the document", i)
	}
	x := &d.Records[i]
	if x.Pending || x.Index == nil || d.Log.Checkpoint == "" {
		return "", fmt.Errorf("ledger: record %d of %s is not in a checkpoint yet", x.N, x.Subject)
	}
	proof, err := x.proofBytes()
	if err != nil {
		return "", err
	}
	return FormatProof(*x.Index, proof, []byte(d.Log.Checkpoint)), nil
}

func (x *ExportRecord) proofBytes() ([][]byte, error) {
	proof := make([][]byte, len(x.Proof))
	for j, h := range x.Proof {
		var err error
		if proof[j], err = base64.StdEncoding.DecodeString(h); err != nil || len(proof[j]) != tlog.HashSize {
			return nil, fmt.Errorf("record %d of %s: malformed proof", x.N, x.Subject)
		}
	}
	return proof, nil
}

// The wire forms.

type wireDoc[R any] struct {
	Format  string    `json:"format"`
	Log     ExportLog `json:"log"`
	Hashes  []string  `json:"hashes,omitempty"` // format 2
	Records R         `json:"records"`
}

// wireRecord is a record of format 2.
type wireRecord struct {
	Record  string `json:"record"`
	Salt    string `json:"salt"`
	Pending bool   `json:"pending,omitempty"`
	Index   *int64 `json:"index,omitempty"`
	Proof   []int  `json:"proof,omitempty"` // positions in the document's hashes
}

// wireRecordV1 is a record of format 1.
type wireRecordV1 struct {
	Subject    string          `json:"subject"`
	N          int64           `json:"n"`
	Kind       string          `json:"kind"`
	At         time.Time       `json:"at"`
	Details    json.RawMessage `json:"details"`
	Record     string          `json:"record"`
	Salt       string          `json:"salt"`
	Commitment string          `json:"commitment"`
	Pending    bool            `json:"pending,omitempty"`
	Index      *int64          `json:"index,omitempty"`
	Proof      []string        `json:"inclusion_proof,omitempty"`
	TlogProof  string          `json:"tlog_proof,omitempty"` // the same proof again, with the checkpoint
}

// wireRecordAny reads a record of either format in one pass over the document.
type wireRecordAny struct {
	wireRecordV1
	Refs []int `json:"proof,omitempty"`
}

// MarshalJSON writes the document in its format (2 unless it was read as 1).
func (d Export) MarshalJSON() ([]byte, error) {
	if d.Format == ExportFormatV1 {
		rs := make([]wireRecordV1, len(d.Records))
		for i, x := range d.Records {
			rs[i] = wireRecordV1{Subject: x.Subject, N: x.N, Kind: x.Kind, At: x.At, Details: x.Details, Record: x.Record,
				Salt: x.Salt, Commitment: x.Commitment, Pending: x.Pending, Index: x.Index, Proof: x.Proof}
		}
		return marshal(wireDoc[[]wireRecordV1]{Format: d.Format, Log: d.Log, Records: rs})
	}
	hashes, rs := d.hashTable()
	return marshal(wireDoc[[]wireRecord]{Format: d.Format, Log: d.Log, Hashes: hashes, Records: rs})
}

// hashTable puts every hash of the records' proofs in one table, once, and returns the records
// with their proofs as positions in it. Hashes near the root, which most proofs share, come
// first, so that the positions written most often are short.
func (d Export) hashTable() ([]string, []wireRecord) {
	rs := make([]wireRecord, len(d.Records))
	longest := 0
	for i, x := range d.Records {
		rs[i] = wireRecord{Record: x.Record, Salt: x.Salt, Pending: x.Pending, Index: x.Index}
		if len(x.Proof) > 0 {
			rs[i].Proof = make([]int, len(x.Proof))
		}
		longest = max(longest, len(x.Proof))
	}
	pos := map[string]int{}
	table := []string{}
	for up := 1; up <= longest; up++ { // up: distance from the root
		for i, x := range d.Records {
			j := len(x.Proof) - up
			if j < 0 {
				continue
			}
			p, ok := pos[x.Proof[j]]
			if !ok {
				p = len(table)
				pos[x.Proof[j]] = p
				table = append(table, x.Proof[j])
			}
			rs[i].Proof[j] = p
		}
	}
	return table, rs
}

// UnmarshalJSON reads a document of format 1 or 2 (see DecodeExport).
func (d *Export) UnmarshalJSON(b []byte) error {
	e, err := DecodeExport(b)
	if err != nil {
		return err
	}
	*d = *e
	return nil
}

// DecodeExport reads a proof document of format 1 or 2. Nothing read is trusted: VerifyExport
// and ExportRecord.Check decide. (It is json.Unmarshal into an Export without the second pass
// over the bytes that encoding/json makes before it calls UnmarshalJSON.)
func DecodeExport(b []byte) (*Export, error) {
	var w wireDoc[[]wireRecordAny]
	if err := json.Unmarshal(b, &w); err != nil {
		return nil, err
	}
	d := &Export{Format: w.Format, Log: w.Log, Records: make([]ExportRecord, len(w.Records))}
	if w.Format == ExportFormatV1 {
		for i, x := range w.Records {
			d.Records[i] = ExportRecord{Subject: x.Subject, N: x.N, Kind: x.Kind, At: x.At, Details: x.Details, Record: x.Record,
				Salt: x.Salt, Commitment: x.Commitment, Pending: x.Pending, Index: x.Index, Proof: x.Proof}
		}
		return d, nil
	}
	for i, x := range w.Records {
		e := &d.Records[i]
		*e = ExportRecord{Record: x.Record, Salt: x.Salt, Pending: x.Pending, Index: x.Index}
		// What the record says, from its committed bytes. A record that is not one is left
		// blank here; Check says what is wrong with it.
		if r, err := e.open(); err == nil {
			e.Subject, e.N, e.Kind, e.At, e.Details = r.Subject, r.N, r.Kind, r.At, r.Body
		}
		if salt, err := base64.StdEncoding.DecodeString(x.Salt); err == nil {
			e.Commitment = b64(Commit([]byte(x.Record), salt))
		}
		if len(x.Refs) > 0 {
			e.Proof = make([]string, len(x.Refs))
			for j, p := range x.Refs {
				if p < 0 || p >= len(w.Hashes) {
					return nil, fmt.Errorf("record %d: its proof names hash %d, but the document has %d", i, p, len(w.Hashes))
				}
				e.Proof[j] = w.Hashes[p]
			}
		}
	}
	return d, nil
}

// open parses the record's committed bytes, once for as long as they do not change.
func (x *ExportRecord) open() (*Record, error) {
	if x.parsed != nil && x.parsedFrom == x.Record {
		return x.parsed, nil
	}
	var r Record
	if err := json.Unmarshal([]byte(x.Record), &r); err != nil {
		return nil, err
	}
	x.parsed, x.parsedFrom = &r, x.Record
	return &r, nil
}

// marshal is json.Marshal without HTML escaping: the records' bytes stay as they are.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}
