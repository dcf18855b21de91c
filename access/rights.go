package access

import (
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/symbiont/symbiont"
	"github.com/symbiont/symbiont/consent"
	"github.com/symbiont/symbiont/ledger"
	"github.com/symbiont/symbiont/store"
)

// ExportFormat names the version of the export document.
const ExportFormat = "symbiont-export/1"

// Export is everything a brand holds about a consumer, in one machine-readable document (GDPR
// Art. 15 and 20, PIPL Art. 45).
type Export struct {
	Format      string                       `json:"format"`
	ExportedAt  time.Time                    `json:"exported_at"`
	Brand       ExportBrand                  `json:"brand"`
	Identifiers []ExportIdentifier           `json:"identifiers"`
	Consents    []consent.PublicRecord       `json:"consents"`
	History     []consent.PublicRecord       `json:"consent_history"`
	Data        map[string][]json.RawMessage `json:"data"`
	AccessLog   []AccessEntry                `json:"access_log"`
}

// ExportBrand names the brand the export is from.
type ExportBrand struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// ReceiptKeys is where the brand publishes the keys that verify the consent receipts.
	ReceiptKeys string `json:"receipt_keys"`
}

// ExportIdentifier is one identifier the brand links to the consumer. Value is present where
// the brand keeps it (sealed); user and anonymous ids are kept only as keyed hashes.
type ExportIdentifier struct {
	Kind     string    `json:"kind"`
	Value    string    `json:"value,omitempty"`
	LinkedAt time.Time `json:"linked_at"`
}

// AccessEntry is an access record as the consumer sees it.
type AccessEntry struct {
	ID         int64     `json:"id"`
	At         time.Time `json:"at"`
	Actor      string    `json:"actor"`
	Action     string    `json:"action"`
	Purpose    string    `json:"purpose"`
	Categories []string  `json:"categories"`
	Withheld   []string  `json:"withheld"`
	Records    int       `json:"records"`
}

// Entry converts a stored access record.
func Entry(r *store.AccessRecord) AccessEntry {
	e := AccessEntry{ID: r.ID, At: r.At, Actor: r.Actor, Action: r.Action, Purpose: r.Purpose, Categories: r.Categories, Withheld: r.Withheld, Records: r.Records}
	if e.Categories == nil {
		e.Categories = []string{}
	}
	if e.Withheld == nil {
		e.Withheld = []string{}
	}
	return e
}

// PurposeConsumerRequest is the purpose recorded for accesses the consumer asked for.
const PurposeConsumerRequest = "consumer_request"

// Export assembles the consumer's complete export and records the access.
func (s *Service) Export(ctx context.Context, brand ExportBrand, brandID, consumerID int64, actor symbiont.Actor, requestID string) (*Export, error) {
	now := s.clock.Now()
	ex := &Export{Format: ExportFormat, ExportedAt: now, Brand: brand, Identifiers: []ExportIdentifier{}, Consents: []consent.PublicRecord{},
		History: []consent.PublicRecord{}, Data: map[string][]json.RawMessage{}, AccessLog: []AccessEntry{}}
	var events []*store.Event
	var cur, hist []*consent.Record
	var log []*store.AccessRecord
	var ids []exportID
	err := s.store.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.Consumer(ctx, brandID, consumerID); err != nil {
			return err
		}
		var err error
		if events, err = tx.ConsumerEvents(ctx, brandID, consumerID, nil, 0); err != nil {
			return err
		}
		if cur, err = tx.CurrentConsents(ctx, brandID, consumerID); err != nil {
			return err
		}
		if hist, err = tx.ConsentHistory(ctx, brandID, consumerID); err != nil {
			return err
		}
		idents, err := tx.ConsumerIdentifiers(ctx, brandID, consumerID)
		if err != nil {
			return err
		}
		for _, id := range idents {
			ids = append(ids, exportID{kind: id.Kind, hash: id.Hash, sealed: id.Sealed, owner: id.KeyOwner, at: id.CreatedAt})
		}
		cats := map[string]bool{}
		for _, e := range events {
			cats[e.Category] = true
		}
		rec := &store.AccessRecord{BrandID: brandID, ConsumerID: consumerID, Actor: actor.Label(), Purpose: PurposeConsumerRequest,
			Categories: sortedKeys(cats), Records: len(events), Action: "export", RequestID: requestID, At: now}
		if err := s.recordAccess(ctx, tx, rec); err != nil {
			return err
		}
		log, err = tx.AccessLog(ctx, brandID, consumerID, 0)
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := s.openAll(ctx, events, ex.Data); err != nil {
		return nil, err
	}
	for _, id := range ids {
		ei := ExportIdentifier{Kind: id.kind, LinkedAt: id.at}
		if id.sealed != nil {
			if v, err := s.vault.Open(ctx, brandID, id.owner, id.sealed, id.hash); err == nil {
				ei.Value = string(v)
			}
		}
		ex.Identifiers = append(ex.Identifiers, ei)
	}
	for _, r := range cur {
		ex.Consents = append(ex.Consents, r.Public(now))
	}
	for _, r := range hist {
		ex.History = append(ex.History, r.Public(now))
	}
	for _, r := range log {
		ex.AccessLog = append(ex.AccessLog, Entry(r))
	}
	return ex, nil
}

type exportID struct {
	kind   string
	hash   []byte
	sealed []byte
	owner  int64
	at     time.Time
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Erasure is the outcome of an erasure.
type Erasure struct {
	Events    int64     `json:"events_deleted"`
	Keys      int64     `json:"keys_destroyed"`
	Consumers int       `json:"profiles_erased"`
	At        time.Time `json:"erased_at"`
}

// profiles returns the consumer and every profile ever merged into them (their ledger chains,
// their data keys); ENOTFOUND when there is no such consumer.
func (s *Service) profiles(ctx context.Context, brandID, consumerID int64) ([]int64, error) {
	var ids []int64
	err := s.store.View(ctx, func(tx store.Tx) error {
		if _, err := tx.Consumer(ctx, brandID, consumerID); err != nil {
			return err
		}
		from, err := tx.MergedFrom(ctx, brandID, consumerID)
		ids = append([]int64{consumerID}, from...)
		return err
	})
	return ids, err
}

// ProofDocument returns the consumer's proof document: every record of their ledger chains
// (and of every profile merged into them) with its salt, log index and an inclusion proof
// against the newest checkpoint, for `symbiont verify`. It fails while the ledger's self-check
// has found it altered.
func (s *Service) ProofDocument(ctx context.Context, brandID, consumerID int64) (*ledger.Export, error) {
	if err := s.Ledger.Healthy(); err != nil {
		return nil, err
	}
	chains, err := s.profiles(ctx, brandID, consumerID)
	if err != nil {
		return nil, err
	}
	return s.Ledger.Export(ctx, chains)
}

// Erase erases everything about the consumer (and every profile merged into them): consent is
// ended at once, their data keys are destroyed — which makes every copy of their data
// unreadable, backups included — and then their rows are deleted. Consent history and access
// records, which hold no personal data in clear, stay as the brand's evidence; an erasure
// record is added to them.
func (s *Service) Erase(ctx context.Context, brandID, consumerID int64, actor symbiont.Actor, requestID string) (*Erasure, error) {
	now := s.clock.Now()
	ids, err := s.profiles(ctx, brandID, consumerID)
	if err != nil {
		return nil, err
	}
	// 1. End every active grant, with signed receipts: nothing new is accepted or read.
	cur, err := s.consent.Current(ctx, brandID, consumerID)
	if err != nil {
		return nil, err
	}
	var changes []*consent.Change
	var cats []string
	for _, r := range cur {
		if !slices.Contains(cats, r.Category) {
			cats = append(cats, r.Category)
		}
		if r.State == consent.StateGiven {
			changes = append(changes, &consent.Change{BrandID: brandID, Consumer: consent.ConsumerRef{ID: consumerID}, Category: r.Category,
				Purpose: r.Purpose, State: consent.StateWithdrawn, Method: consent.MethodErase, Actor: actor, Jurisdiction: r.Jurisdiction})
		}
	}
	if len(changes) > 0 {
		if _, err := s.consent.Apply(ctx, changes, ""); err != nil {
			return nil, err
		}
	}
	for _, id := range ids {
		s.consent.Index.Forget(brandID, id)
	}
	s.graph.Forget()
	// 2. Destroy the keys first: if we crash after this, the rows left are unreadable and a
	// retry deletes them.
	keys, err := s.vault.Shred(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := &Erasure{Keys: keys, Consumers: len(ids), At: now}
	// 3. Delete the rows and record the erasure, in one transaction.
	err = s.store.Update(ctx, func(tx store.Tx) error {
		var err error
		if out.Events, err = tx.DeleteConsumerData(ctx, brandID, ids, now); err != nil {
			return err
		}
		return s.recordAccess(ctx, tx, &store.AccessRecord{BrandID: brandID, ConsumerID: consumerID, Actor: actor.Label(),
			Purpose: PurposeConsumerRequest, Categories: cats, Records: int(out.Events), Action: "erase", RequestID: requestID, At: now})
	})
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		s.consent.Index.Forget(brandID, id)
	}
	s.graph.Forget()
	return out, nil
}
