package ledger

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"time"
)

// ExportFormat names the version of the proof document.
const ExportFormat = "symbiont-ledger-proofs/1"

// Export is a consumer's ledger records with everything needed to verify them offline: each
// record's bytes and salt (to open its commitment), its log index and an inclusion proof
// against a signed checkpoint (also as a C2SP tlog-proof). Records not yet integrated are
// listed as pending, without a proof; ask again a second later.
type Export struct {
	Format  string         `json:"format"`
	Log     ExportLog      `json:"log"`
	Records []ExportRecord `json:"records"`
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
	Subject    string          `json:"subject"`
	N          int64           `json:"n"`
	Kind       string          `json:"kind"`
	At         time.Time       `json:"at"`
	Details    json.RawMessage `json:"details"`
	Record     string          `json:"record"` // the exact committed bytes
	Salt       string          `json:"salt"`   // base64
	Commitment string          `json:"commitment"`
	Pending    bool            `json:"pending,omitempty"`
	Index      *int64          `json:"index,omitempty"`
	Proof      []string        `json:"inclusion_proof,omitempty"`
	TlogProof  string          `json:"tlog_proof,omitempty"`
}

// Export builds the proof document of the chains.
func (s *Service) Export(ctx context.Context, chainIDs []int64) (*Export, error) {
	cp, err := s.Latest()
	if err != nil {
		return nil, err
	}
	es, err := s.Chains(ctx, chainIDs)
	if err != nil {
		return nil, err
	}
	doc := &Export{Format: ExportFormat, Log: ExportLog{Origin: s.origin, Key: s.vkey}, Records: []ExportRecord{}}
	if cp != nil {
		doc.Log.Checkpoint, doc.Log.Size = string(cp.Note), cp.Size
	}
	for _, e := range es {
		var r Record
		if err := json.Unmarshal(e.Record, &r); err != nil {
			return nil, err
		}
		x := ExportRecord{Subject: r.Subject, N: e.N, Kind: r.Kind, At: r.At, Details: r.Body, Record: string(e.Record),
			Salt: base64.StdEncoding.EncodeToString(e.Salt), Commitment: base64.StdEncoding.EncodeToString(e.Commitment)}
		if e.Index < 0 || cp == nil || e.Index >= cp.Size {
			x.Pending = true
		} else {
			proof, err := s.InclusionProof(ctx, e.Index, cp.Size)
			if err != nil {
				return nil, err
			}
			idx := e.Index
			x.Index = &idx
			for _, h := range proof {
				x.Proof = append(x.Proof, base64.StdEncoding.EncodeToString(h))
			}
			x.TlogProof = FormatProof(e.Index, proof, cp.Note)
		}
		doc.Records = append(doc.Records, x)
	}
	return doc, nil
}
