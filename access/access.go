// Package access is the one door for reading consumer data. Every read names a purpose; for
// each category asked for, the consent index decides; only consented categories are read and
// opened; what was withheld is said, with why; and nothing is returned unless the access was
// recorded by a transaction that found every returned category still granted, so no read goes
// unrecorded. Export and erasure, the
// consumer's own rights, live here too.
package access

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/symbiont/symbiont"
	"github.com/symbiont/symbiont/consent"
	"github.com/symbiont/symbiont/identity"
	"github.com/symbiont/symbiont/ledger"
	"github.com/symbiont/symbiont/store"
	"github.com/symbiont/symbiont/vault"
)

// Withheld reasons.
const (
	ReasonNoConsent = "no_consent" // never granted for this purpose
	ReasonWithdrawn = "withdrawn"
	ReasonExpired   = "expired"
	ReasonRefused   = "refused"
)

// Service reads, exports and erases consumer data.
type Service struct {
	store   store.Store
	consent *consent.Service
	graph   *identity.Graph
	vault   *vault.Vault
	clock   symbiont.Clock
	// Ledger records every access in the verifiable ledger (required: NewService).
	Ledger *ledger.Service
	// MaxEvents bounds the events one read returns (newest are kept when over).
	MaxEvents int
}

// NewService returns the access service, recording every access in l.
func NewService(st store.Store, cs *consent.Service, g *identity.Graph, v *vault.Vault, l *ledger.Service, clock symbiont.Clock) *Service {
	return &Service{store: st, consent: cs, graph: g, vault: v, Ledger: l, clock: clock, MaxEvents: 10000}
}

// Withheld is a category not returned, with the reason.
type Withheld struct {
	Category string `json:"category"`
	Reason   string `json:"reason"`
}

// Data is the answer to a purpose-bound read.
type Data struct {
	Purpose  string                       `json:"purpose"`
	Data     map[string][]json.RawMessage `json:"data"`
	Withheld []Withheld                   `json:"withheld"`
	// Truncated is true when more events existed than MaxEvents.
	Truncated bool `json:"truncated,omitempty"`
}

// Request is a purpose-bound read.
type Request struct {
	BrandID    int64
	ConsumerID int64
	Purpose    string
	Categories []string // empty: every category of the brand's vocabulary
	Actor      symbiont.Actor
	RequestID  string
	// Model, when set, names the model version the data is read for ("recs-v12" serving a
	// consumer's recommendations): the consumer's ledger entry says it.
	Model string
}

// Read returns the consumer's data in the requested categories that the consumer has granted
// for the purpose, and records the access.
//
// The write transaction (on SQLite the single writer) holds only the record: the decision and
// the rows are taken before it from a read-only snapshot (gather, on the reader pool), and
// decryption follows its commit. Inside it, consent is decided again for every category about
// to be returned (on SQLite from the index, which is authoritative under the write lock; on
// PostgreSQL from the database), and the access is recorded only if each is still granted;
// otherwise the read starts over from a new snapshot, which withholds what was withdrawn
// (after maxSnapshots tries, everything happens inside the write transaction). Nothing is
// returned before the record has committed.
func (s *Service) Read(ctx context.Context, req Request) (*Data, error) {
	v, err := s.consent.Vocabulary(ctx, req.BrandID)
	if err != nil {
		return nil, err
	}
	if _, ok := v.Purpose(req.Purpose); !ok {
		if req.Purpose == "" {
			return nil, symbiont.Errorf(symbiont.EINVALID, "Every read must name a purpose (?purpose=…).").With("field", "purpose")
		}
		return nil, symbiont.Errorf(symbiont.EINVALID, "Unknown purpose %q.", req.Purpose).With("field", "purpose")
	}
	cats := req.Categories
	if len(cats) == 0 {
		cats = v.CategoryNames()
	}
	if len(req.Model) > 100 {
		return nil, symbiont.Errorf(symbiont.EINVALID, "A model name is at most 100 bytes.").With("field", "model")
	}
	if len(cats) > 100 {
		return nil, symbiont.Errorf(symbiont.EINVALID, "At most 100 categories in one read.").With("field", "categories")
	}
	for _, c := range cats {
		if _, ok := v.Category(c); !ok {
			return nil, symbiont.Errorf(symbiont.EINVALID, "Unknown category %q.", c).With("field", "categories")
		}
	}
	cats = dedupe(cats)

	for try := 0; ; try++ {
		var rd *reading
		if try < maxSnapshots {
			// Nothing read here is returned before the record below commits (durably).
			if err := s.store.ViewBeforeUpdate(ctx, func(tx store.Tx) (err error) {
				rd, err = s.gather(ctx, tx, req, cats)
				return err
			}); err != nil {
				return nil, err
			}
		}
		var rec *store.AccessRecord
		var entry *ledger.Prepared
		if rd != nil { // encoded before the write transaction
			if rec, entry, err = s.accessRecord(req, rd); err != nil {
				return nil, err
			}
		}
		err := s.store.Update(ctx, func(tx store.Tx) (err error) {
			if rd == nil {
				if rd, err = s.gather(ctx, tx, req, cats); err != nil {
					return err
				}
				if rec, entry, err = s.accessRecord(req, rd); err != nil {
					return err
				}
			} else if err := s.stillGranted(ctx, tx, req, rd.allowed); err != nil {
				return err
			}
			return s.recordPrepared(ctx, tx, rec, entry)
		})
		if errors.Is(err, errWithdrawn) && try < maxSnapshots {
			continue
		}
		if err != nil {
			return nil, err
		}
		if err := s.openAll(ctx, rd.events, rd.out.Data); err != nil {
			return nil, err
		}
		return rd.out, nil
	}
}

// maxSnapshots bounds the reads taken from a snapshot whose consent changed before the record
// (consent flapping under a reader); the next try decides and reads inside the write
// transaction, where nothing can change it.
const maxSnapshots = 3

// errWithdrawn: a category read from the snapshot is no longer granted at the record.
var errWithdrawn = errors.New("access: consent changed between the read and its record")

// reading is what one purpose-bound read decided and read.
type reading struct {
	at              time.Time
	out             *Data
	allowed, denied []string
	events          []*store.Event // sealed; opened after the record commits
}

// gather decides each category for the purpose and reads the sealed events of the allowed
// ones, in tx: a read-only snapshot, or the write transaction.
func (s *Service) gather(ctx context.Context, tx store.Tx, req Request, cats []string) (*reading, error) {
	rd := &reading{at: s.clock.Now(), out: &Data{Purpose: req.Purpose, Data: map[string][]json.RawMessage{}, Withheld: []Withheld{}}}
	// From the in-memory index, or, when other nodes share the database and this node's index
	// may lag, from the database's current consent.
	var cur []*consent.Record
	allowedFor := func(c string) bool {
		return s.consent.Index.Allowed(req.BrandID, req.ConsumerID, c, req.Purpose, rd.at)
	}
	if s.store.Shared() {
		var err error
		if cur, err = tx.ConsentStates(ctx, req.BrandID, req.ConsumerID); err != nil {
			return nil, err
		}
		allowedFor = func(c string) bool { return reason(cur, c, req.Purpose, rd.at) == "" }
	}
	for _, c := range cats {
		if allowedFor(c) {
			rd.allowed = append(rd.allowed, c)
		} else {
			rd.denied = append(rd.denied, c)
		}
	}
	// The consumer must exist. When this node's index grants them anything, they do: erasure
	// withdraws every grant before it deletes a consumer (and the write transaction decides
	// again from the index), a merge moves grants within the brand, and the index holds only
	// consents this store recorded. Otherwise (nothing granted, or other nodes share the
	// database) the snapshot is asked: an unknown consumer is ENOTFOUND.
	if len(rd.allowed) == 0 || s.store.Shared() {
		if _, err := tx.Consumer(ctx, req.BrandID, req.ConsumerID); err != nil {
			return nil, err
		}
	}
	if len(rd.denied) > 0 {
		if cur == nil {
			// The reasons: from what the consent service remembers when it agrees with the
			// index (it may be a change behind), else from the snapshot.
			if mem, ok := s.consent.Remembered(req.BrandID, req.ConsumerID); ok && agrees(mem, rd.denied, req.Purpose, rd.at) {
				cur = mem
			}
		}
		if cur == nil {
			var err error
			if cur, err = tx.ConsentStates(ctx, req.BrandID, req.ConsumerID); err != nil {
				return nil, err
			}
		}
		for _, c := range rd.denied {
			r := reason(cur, c, req.Purpose, rd.at)
			if r == "" {
				r = ReasonNoConsent // the index denies what the database has not caught up to
			}
			rd.out.Withheld = append(rd.out.Withheld, Withheld{Category: c, Reason: r})
		}
	}
	if len(rd.allowed) > 0 {
		var err error
		filter := rd.allowed
		if len(rd.denied) == 0 && len(req.Categories) == 0 {
			filter = nil // everything is allowed: no need to filter rows
		}
		if rd.events, err = tx.ConsumerEvents(ctx, req.BrandID, req.ConsumerID, filter, 0); err != nil {
			return nil, err
		}
	}
	if len(rd.events) > s.MaxEvents {
		rd.events, rd.out.Truncated = rd.events[len(rd.events)-s.MaxEvents:], true
	}
	for _, c := range rd.allowed {
		rd.out.Data[c] = []json.RawMessage{}
	}
	return rd, nil
}

// stillGranted decides again, in the write transaction, every category a snapshot allowed, and
// returns errWithdrawn if one is no longer granted. On SQLite the index is authoritative here:
// a withdrawal marks it before its own transaction commits, and both hold the one write lock.
// On PostgreSQL it reads the consumer's grants in the transaction, as the ingestion writer does.
func (s *Service) stillGranted(ctx context.Context, tx store.Tx, req Request, allowed []string) error {
	if len(allowed) == 0 {
		return nil
	}
	now := s.clock.Now()
	granted := func(c string) bool { return s.consent.Index.Allowed(req.BrandID, req.ConsumerID, c, req.Purpose, now) }
	if s.store.Shared() {
		grants, err := tx.ActiveGrants(ctx, []int64{req.ConsumerID})
		if err != nil {
			return err
		}
		granted = func(c string) bool {
			return slices.ContainsFunc(grants, func(g consent.Grant) bool {
				return g.BrandID == req.BrandID && g.Category == c && g.Purpose == req.Purpose && (g.ExpiresAt.IsZero() || now.Before(g.ExpiresAt))
			})
		}
	}
	for _, c := range allowed {
		if !granted(c) {
			return errWithdrawn
		}
	}
	return nil
}

// openAll decrypts events into data by category, into one shared buffer as large as the
// sealed payloads (a plaintext is shorter than its nonce, ciphertext and tag).
func (s *Service) openAll(ctx context.Context, events []*store.Event, data map[string][]json.RawMessage) error {
	total := 0
	for _, e := range events {
		total += len(e.Payload)
	}
	buf, aad := make([]byte, 0, total), []byte(nil)
	for _, e := range events {
		if cap(buf)-len(buf) < len(e.Payload) {
			buf = make([]byte, 0, len(e.Payload))
		}
		aad = e.AppendAAD(aad[:0])
		start := len(buf)
		var err error
		if buf, err = s.vault.OpenTo(ctx, buf, e.BrandID, e.KeyOwner, e.Payload, aad); err != nil {
			return fmt.Errorf("access: open event %d: %w", e.ID, err)
		}
		data[e.Category] = append(data[e.Category], buf[start:len(buf):len(buf)])
	}
	return nil
}

// reason explains why the current records withhold a category for a purpose; "" when they
// allow it.
func reason(cur []*consent.Record, category, purpose string, now time.Time) string {
	for _, r := range cur {
		if r.Category != category || r.Purpose != purpose {
			continue
		}
		switch {
		case r.Active(now):
			return ""
		case r.State == consent.StateWithdrawn:
			return ReasonWithdrawn
		case r.State == consent.StateRefused:
			return ReasonRefused
		case r.State == consent.StateExpired, r.State == consent.StateGiven:
			return ReasonExpired
		}
	}
	return ReasonNoConsent
}

// agrees reports whether remembered records deny every category the index denied: one that
// still says granted is older than the index (a withdrawal not yet remembered).
func agrees(mem []*consent.Record, denied []string, purpose string, now time.Time) bool {
	for _, c := range denied {
		if reason(mem, c, purpose, now) == "" {
			return false
		}
	}
	return true
}

func dedupe(s []string) []string {
	out := make([]string, 0, len(s))
	for _, v := range s {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// recordAccess records an access in the access log and in the verifiable ledger, in the
// access's transaction.
func (s *Service) recordAccess(ctx context.Context, tx store.Tx, r *store.AccessRecord) error {
	entry, err := s.prepareEntry(r, "")
	if err != nil {
		return err
	}
	return s.recordPrepared(ctx, tx, r, entry)
}

// recordPrepared is recordAccess of a record whose ledger entry is prepared (nil: no ledger).
func (s *Service) recordPrepared(ctx context.Context, tx store.Tx, r *store.AccessRecord, entry *ledger.Prepared) error {
	if err := tx.InsertAccess(ctx, r); err != nil {
		return err
	}
	if entry == nil {
		return nil
	}
	_, err := s.Ledger.AppendPrepared(ctx, tx, entry)
	return err
}

// accessRecord is the record of a read and its ledger entry, encoded (ledger.Prepare).
func (s *Service) accessRecord(req Request, rd *reading) (*store.AccessRecord, *ledger.Prepared, error) {
	r := &store.AccessRecord{BrandID: req.BrandID, ConsumerID: req.ConsumerID, Actor: req.Actor.Label(), Purpose: req.Purpose,
		Categories: rd.allowed, Withheld: rd.denied, Records: len(rd.events), Action: "read", RequestID: req.RequestID, At: rd.at}
	entry, err := s.prepareEntry(r, req.Model)
	return r, entry, err
}

// accessBody is the body of an access record's ledger entry. Its fields are in the order of
// their names, as the map it replaced encoded them (the bytes of the records are unchanged).
type accessBody struct {
	Action     string   `json:"action"`
	Actor      string   `json:"actor"`
	Categories []string `json:"categories"`
	Purpose    string   `json:"purpose"`
	Records    int      `json:"records"`
	RequestID  string   `json:"request_id,omitempty"`
	Withheld   []string `json:"withheld"`
	// Model is the model version a read served (absent otherwise, so older entries' bytes
	// are unchanged).
	Model string `json:"model,omitempty"`
}

// prepareEntry encodes an access record's ledger entry.
func (s *Service) prepareEntry(r *store.AccessRecord, model string) (*ledger.Prepared, error) {
	body := &accessBody{Action: r.Action, Actor: r.Actor, Categories: nonNil(r.Categories), Purpose: r.Purpose, Records: r.Records,
		RequestID: r.RequestID, Withheld: nonNil(r.Withheld), Model: model}
	return s.Ledger.Prepare(ledger.Act{BrandID: r.BrandID, ConsumerID: r.ConsumerID, Kind: "access." + r.Action, At: r.At, Body: body})
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// Log returns the consumer's access records, newest first.
func (s *Service) Log(ctx context.Context, brandID, consumerID int64, limit int) ([]*store.AccessRecord, error) {
	var out []*store.AccessRecord
	err := s.store.View(ctx, func(tx store.Tx) (err error) {
		out, err = tx.AccessLog(ctx, brandID, consumerID, limit)
		return err
	})
	return out, err
}
