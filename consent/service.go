package consent

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/symbiont/symbiont"
	"github.com/symbiont/symbiont/identity"
	"github.com/symbiont/symbiont/ledger"
	"github.com/symbiont/symbiont/tenant"
)

// Limits on grants.
const (
	// MaxCustomTerms bounds the categories and purposes a brand adds to the defaults.
	MaxCustomTerms      = 500
	DefaultDurationDays = 365
	MaxDurationDays     = 3650
	maxEvidenceBytes    = 8 << 10
)

// ServiceTx is what the consent service needs of a transaction: its own rows, the identity graph
// (to resolve or create the consumer) and idempotency keys.
type ServiceTx interface {
	Tx
	identity.Tx
	ledger.Tx
	symbiont.IdempotencyTx
}

var _ ServiceTx = (interface {
	Tx
	identity.Tx
	tenant.Tx
	ledger.Tx
	symbiont.IdempotencyTx
})(nil)

// ReceiptKeys gives the consent service each brand's receipt signing key.
type ReceiptKeys interface {
	// ReceiptKey returns the brand's Ed25519 signing key and its public id (the issuer).
	ReceiptKey(ctx context.Context, brandID int64) (ed25519.PrivateKey, string, error)
}

// Service records consent changes and answers consent decisions.
type Service struct {
	db    symbiont.Transactor[ServiceTx]
	Index *Index
	// Ledger, when set, records every change in the verifiable ledger.
	Ledger *ledger.Service
	// OnChange functions run for every recorded change, in its transaction (the transaction is
	// passed as the store's type: each asserts the interface it needs). An error rolls the
	// change back. The rewards service starts and ends paid grants here.
	OnChange []func(ctx context.Context, tx any, r *Record) error
	graph    *identity.Graph
	keys     ReceiptKeys
	clock    symbiont.Clock

	mu    sync.RWMutex
	vocab map[int64]symbiont.Vocabulary
}

// NewService returns a consent service. Call Load before serving.
func NewService(db symbiont.Transactor[ServiceTx], graph *identity.Graph, keys ReceiptKeys, clock symbiont.Clock) *Service {
	return &Service{db: db, Index: NewIndex(), graph: graph, keys: keys, clock: clock, vocab: map[int64]symbiont.Vocabulary{}}
}

// Load fills the index with every active grant.
func (s *Service) Load(ctx context.Context, l Loader) (int, error) {
	n := 0
	err := l.ForEachActiveConsent(ctx, func(r *Record) error {
		s.Index.Set(r)
		n++
		return nil
	})
	return n, err
}

// Refresh reloads one consumer's grants into the index from the database (another node changed
// them).
func (s *Service) Refresh(ctx context.Context, brandID, consumerID int64) error {
	var cur []*Record
	if err := s.db.View(ctx, func(tx ServiceTx) (err error) {
		cur, err = tx.CurrentConsents(ctx, brandID, consumerID)
		return err
	}); err != nil {
		return err
	}
	s.Index.Replace(brandID, consumerID, cur)
	return nil
}

// Resync rebuilds the whole index from the database (after changes may have been missed).
// Until it finishes, grants it has not reloaded yet are denied: it fails closed.
func (s *Service) Resync(ctx context.Context, l Loader) (int, error) {
	s.Index.Clear()
	return s.Load(ctx, l)
}

// Allowed reports whether the consumer's data of the category may be used for the purpose now.
func (s *Service) Allowed(brandID, consumerID int64, category, purpose string) bool {
	return s.Index.Allowed(brandID, consumerID, category, purpose, s.clock.Now())
}

// ConsumerRef names a consumer: by internal id (wallet sessions) or by an identifier the brand
// knows them by (user_id or anonymous_id).
type ConsumerRef struct {
	ID    int64
	Kind  string
	Value string
}

// Change is a request to record one consent decision.
type Change struct {
	BrandID      int64
	Consumer     ConsumerRef
	Category     string
	Purpose      string
	State        string // StateGiven, StateWithdrawn or StateRefused
	DurationDays int    // for grants; 0 = DefaultDurationDays
	Notice       Notice
	LegalBasis   string // default: consent, or explicit_consent for sensitive categories
	Method       string
	Actor        symbiont.Actor
	Jurisdiction string
	Explicit     bool
	Evidence     json.RawMessage
	// GPC is true when the request carried Sec-GPC: 1. It refuses marketing and partner
	// sharing unless the consumer themself grants in the wallet (GPCOverride).
	GPC         bool
	GPCOverride bool
	// Skip, when set, is asked inside the transaction with the pair's current record (nil if
	// it was never decided); true leaves this change out (Result.Unchanged, Record = the
	// current one). Consent signals use it to decide against the committed state.
	Skip func(current *Record) bool
}

// Result is a recorded decision with the consumer it resolved to.
type Result struct {
	Record     *Record
	ConsumerID int64
	// Unchanged is true when nothing was recorded (an idempotent retry, or a withdrawal of
	// something not granted).
	Unchanged bool
}

// Vocabulary returns the brand's categories and purposes.
func (s *Service) Vocabulary(ctx context.Context, brandID int64) (symbiont.Vocabulary, error) {
	s.mu.RLock()
	v, ok := s.vocab[brandID]
	s.mu.RUnlock()
	if ok {
		return v, nil
	}
	var terms []Term
	if err := s.db.View(ctx, func(tx ServiceTx) (err error) {
		terms, err = tx.CustomTerms(ctx, brandID)
		return err
	}); err != nil {
		return symbiont.Vocabulary{}, err
	}
	var cats []symbiont.CategoryDef
	var purps []symbiont.PurposeDef
	for _, t := range terms {
		if t.Kind == "category" {
			cats = append(cats, symbiont.CategoryDef{Name: t.Name, Label: t.Label, Description: t.Description, DPV: t.DPV, Sensitive: t.Sensitive})
		} else {
			purps = append(purps, symbiont.PurposeDef{Name: t.Name, Label: t.Label, Description: t.Description, DPV: t.DPV})
		}
	}
	v = symbiont.WithCustom(cats, purps)
	s.mu.Lock()
	s.vocab[brandID] = v
	s.mu.Unlock()
	return v, nil
}

// ForgetVocabulary drops a brand's cached vocabulary (0: every brand's), after another node
// changed it.
func (s *Service) ForgetVocabulary(brandID int64) {
	s.mu.Lock()
	if brandID == 0 {
		clear(s.vocab)
	} else {
		delete(s.vocab, brandID)
	}
	s.mu.Unlock()
}

// PutTerm adds a brand's own category or purpose. Built-in terms cannot be redefined.
func (s *Service) PutTerm(ctx context.Context, brandID int64, t Term) error {
	if t.Kind != "category" && t.Kind != "purpose" {
		return symbiont.Errorf(symbiont.EINVALID, `kind must be "category" or "purpose".`).With("field", "kind")
	}
	if !symbiont.ValidName(t.Name) {
		return symbiont.Errorf(symbiont.EINVALID, "name must be 1-40 lower-case letters, digits or underscores, starting with a letter.").With("field", "name")
	}
	if t.Label == "" || !symbiont.ValidText(t.Label, 100) || !symbiont.ValidText(t.Description, 500) || !symbiont.ValidText(t.DPV, 200) {
		return symbiont.Errorf(symbiont.EINVALID, "label (1-100 bytes) is required; description is at most 500 bytes and dpv 200, all text without control characters.").With("field", "label")
	}
	if t.Kind == "purpose" && t.Sensitive {
		return symbiont.Errorf(symbiont.EINVALID, "Only categories can be sensitive.").With("field", "sensitive")
	}
	def := symbiont.DefaultVocabulary()
	if _, ok := def.Category(t.Name); ok && t.Kind == "category" {
		return symbiont.Errorf(symbiont.ECONFLICT, "%q is a built-in category.", t.Name)
	}
	if _, ok := def.Purpose(t.Name); ok && t.Kind == "purpose" {
		return symbiont.Errorf(symbiont.ECONFLICT, "%q is a built-in purpose.", t.Name)
	}
	err := s.db.Update(ctx, func(tx ServiceTx) error {
		terms, err := tx.CustomTerms(ctx, brandID)
		if err != nil {
			return err
		}
		exists := false
		for _, old := range terms {
			if old.Kind == t.Kind && old.Name == t.Name {
				exists = true
				// Grants given before a category became sensitive were not explicit, and ones
				// given after it turned explicit must stay so: sensitivity never changes.
				if old.Sensitive != t.Sensitive {
					return symbiont.Errorf(symbiont.ECONFLICT, "%q was defined with sensitive=%v; that cannot change. Define a new category instead.", t.Name, old.Sensitive).With("field", "sensitive")
				}
			}
		}
		if !exists && len(terms) >= MaxCustomTerms {
			return symbiont.Errorf(symbiont.ETOOLARGE, "A brand may define at most %d categories and purposes of its own.", MaxCustomTerms)
		}
		return tx.PutCustomTerm(ctx, brandID, t)
	})
	s.mu.Lock()
	delete(s.vocab, brandID)
	s.mu.Unlock()
	return err
}

// validate checks a change against the vocabulary and the rules for sensitive data and GPC.
func (s *Service) validate(ctx context.Context, c *Change, bundled bool) error {
	v, err := s.Vocabulary(ctx, c.BrandID)
	if err != nil {
		return err
	}
	cat, ok := v.Category(c.Category)
	if !ok {
		return symbiont.Errorf(symbiont.EINVALID, "Unknown category %q.", c.Category).With("field", "category")
	}
	if _, ok := v.Purpose(c.Purpose); !ok {
		return symbiont.Errorf(symbiont.EINVALID, "Unknown purpose %q.", c.Purpose).With("field", "purpose")
	}
	switch c.State {
	case StateGiven:
		if c.DurationDays == 0 {
			c.DurationDays = DefaultDurationDays
		}
		if c.DurationDays < 0 || c.DurationDays > MaxDurationDays {
			return symbiont.Errorf(symbiont.EINVALID, "duration_days must be between 1 and %d.", MaxDurationDays).With("field", "duration_days")
		}
		if cat.Sensitive {
			if !c.Explicit {
				return symbiont.Errorf(symbiont.EINVALID, "%q is a sensitive category: consent must be explicit (set \"explicit\": true after showing a separate notice).", c.Category).
					With("reason", "explicit_consent_required")
			}
			if bundled {
				return symbiont.Errorf(symbiont.EINVALID, "%q is a sensitive category: consent to it must be given on its own, not bundled with other grants.", c.Category).
					With("reason", "separate_consent_required")
			}
			c.LegalBasis = BasisExplicitConsent
		}
		if c.GPC && slices.Contains(symbiont.GPCPurposes, c.Purpose) {
			if c.GPCOverride && c.Actor.Kind == symbiont.ActorConsumer {
				c.Method = MethodWalletGPC
				break
			}
			return symbiont.Errorf(symbiont.ECONFLICT, "The request carries a Global Privacy Control signal, which refuses %s; only the consumer can grant it, in their wallet.", c.Purpose).
				With("reason", "gpc_refusal")
		}
	case StateWithdrawn, StateRefused:
	default:
		return symbiont.Errorf(symbiont.EINVALID, "state must be given, withdrawn or refused.").With("field", "state")
	}
	if c.LegalBasis == "" {
		c.LegalBasis = BasisConsent
	}
	if c.LegalBasis != BasisConsent && c.LegalBasis != BasisExplicitConsent {
		return symbiont.Errorf(symbiont.EINVALID, "legal_basis must be consent or explicit_consent.").With("field", "legal_basis")
	}
	if len(c.Evidence) > maxEvidenceBytes {
		return symbiont.Errorf(symbiont.ETOOLARGE, "evidence is larger than %d bytes.", maxEvidenceBytes).With("field", "evidence")
	}
	if len(c.Evidence) > 0 && !json.Valid(c.Evidence) {
		return symbiont.Errorf(symbiont.EINVALID, "evidence must be JSON.").With("field", "evidence")
	}
	for _, f := range []struct {
		name, value string
		max         int
	}{
		{"jurisdiction", c.Jurisdiction, 16}, {"method", c.Method, 40}, {"notice.id", c.Notice.ID, 200},
		{"notice.version", c.Notice.Version, 50}, {"notice.hash", c.Notice.Hash, 200},
		{"notice.language", c.Notice.Language, 35}, {"notice.url", c.Notice.URL, 2000},
	} {
		if !symbiont.ValidText(f.value, f.max) {
			return symbiont.Errorf(symbiont.EINVALID, "%s must be at most %d bytes of text without control characters.", f.name, f.max).With("field", f.name)
		}
	}
	if !utf8.Valid(c.Evidence) {
		return symbiont.Errorf(symbiont.EINVALID, "evidence must be UTF-8.").With("field", "evidence")
	}
	return nil
}

// Apply records the changes, all or none, in one transaction, each with a signed receipt.
// With an idempotency key (the client's Idempotency-Key), a retry of the same request returns
// the first outcome, and the key reused for any other request of the consumer is refused
// (ECONFLICT): keys live in one space per brand and consumer (see symbiont.Idempotency).
func (s *Service) Apply(ctx context.Context, changes []*Change, idempotencyKey string) ([]*Result, error) {
	if len(changes) == 0 {
		return nil, symbiont.Errorf(symbiont.EINVALID, "No consent change given.")
	}
	for _, c := range changes {
		if c.BrandID != changes[0].BrandID || c.Consumer != changes[0].Consumer {
			return nil, symbiont.Errorf(symbiont.EINVALID, "All changes in one request must be for one consumer.")
		}
		if err := s.validate(ctx, c, len(changes) > 1); err != nil {
			return nil, err
		}
	}
	brandID := changes[0].BrandID
	priv, issuer, err := s.keys.ReceiptKey(ctx, brandID)
	if err != nil {
		return nil, err
	}
	now := s.clock.Now().Truncate(time.Millisecond) // the precision the store keeps

	var idem *symbiont.Idempotency // stays nil without a key
	if idempotencyKey != "" {
		if idem, err = s.graph.Idempotency(brandID, idempotencyKey, canonicalChanges(changes)); err != nil {
			return nil, err
		}
	}
	var results []*Result
	var restore []func()
	err = s.db.Update(ctx, func(tx ServiceTx) error {
		results = nil
		ref := changes[0].Consumer
		consumerID := ref.ID
		if consumerID == 0 {
			// Only a grant creates a consumer: withdrawing for someone unknown records nothing.
			create := slices.ContainsFunc(changes, func(c *Change) bool { return c.State != StateWithdrawn })
			consumerID, _, err = s.graph.Resolve(ctx, tx, brandID, ref.Kind, ref.Value, create, now)
			if err != nil {
				return err
			}
			if consumerID == 0 {
				return symbiont.Errorf(symbiont.ENOTFOUND, "No consumer %q is known.", ref.Value)
			}
		} else if _, err := tx.Consumer(ctx, brandID, consumerID); err != nil {
			return err
		}
		if err := tx.LockConsumer(ctx, consumerID); err != nil {
			return err
		}
		// The key is looked up once the consumer is known: one key space per consumer, whether
		// the request named them by id, by the brand's user id or through a wallet session.
		if prev, err := idem.Lookup(ctx, tx, brandID, consumerID); err != nil {
			return err
		} else if prev != "" {
			return s.replay(ctx, tx, brandID, prev, &results)
		}
		current, err := tx.CurrentConsents(ctx, brandID, consumerID)
		if err != nil {
			return err
		}
		byPair := map[[2]string]*Record{}
		for _, r := range current {
			byPair[[2]string{r.Category, r.Purpose}] = r
		}
		var receiptIDs []string
		for _, c := range changes {
			prev := byPair[[2]string{c.Category, c.Purpose}]
			if c.Skip != nil && c.Skip(prev) {
				results = append(results, &Result{Record: prev, ConsumerID: consumerID, Unchanged: true})
				if prev != nil {
					receiptIDs = append(receiptIDs, prev.ReceiptID)
				}
				continue
			}
			if c.State != StateGiven && (prev == nil || !prev.Active(now)) {
				if prev == nil && c.State == StateWithdrawn {
					return symbiont.Errorf(symbiont.ENOTFOUND, "There is no grant of %s for %s to withdraw.", c.Category, c.Purpose)
				}
				if prev != nil && prev.State == c.State {
					results = append(results, &Result{Record: prev, ConsumerID: consumerID, Unchanged: true})
					receiptIDs = append(receiptIDs, prev.ReceiptID)
					continue
				}
			}
			r := &Record{
				ReceiptID: NewReceiptID(), BrandID: brandID, ConsumerID: consumerID, Category: c.Category, Purpose: c.Purpose,
				State: c.State, At: now, Notice: c.Notice, LegalBasis: c.LegalBasis, Method: c.Method, Actor: c.Actor.Label(),
				Jurisdiction: c.Jurisdiction, Explicit: c.Explicit, Evidence: c.Evidence,
			}
			if c.State == StateGiven {
				r.ExpiresAt = now.AddDate(0, 0, c.DurationDays)
			}
			var previous string
			if prev != nil {
				previous = prev.ReceiptID
			}
			sub := s.graph.Subject(brandID, consumerID)
			if r.Receipt, err = SignReceipt(claimsOf(r, issuer, sub, previous), priv); err != nil {
				return err
			}
			if err := tx.InsertConsentRecord(ctx, r); err != nil {
				return err
			}
			if err := s.record(ctx, tx, r); err != nil {
				return err
			}
			byPair[[2]string{c.Category, c.Purpose}] = r
			if r.State != StateGiven {
				// Deny from this moment, before the commit, so nothing slips in while it commits.
				snap := s.Index.snapshot(brandID, consumerID)
				restore = append(restore, func() { s.Index.restore(brandID, consumerID, snap) })
				s.Index.Set(r)
			}
			results = append(results, &Result{Record: r, ConsumerID: consumerID})
			receiptIDs = append(receiptIDs, r.ReceiptID)
		}
		b, _ := json.Marshal(idempotentResult{Receipts: receiptIDs})
		return idem.Record(ctx, tx, brandID, consumerID, string(b), now)
	})
	if err != nil {
		for i := len(restore) - 1; i >= 0; i-- {
			restore[i]()
		}
		return nil, err
	}
	for _, res := range results {
		if !res.Unchanged && res.Record.State == StateGiven {
			s.Index.Set(res.Record)
		}
	}
	return results, nil
}

// idempotentResult is what an Idempotency-Key's record keeps: the receipts its request produced.
type idempotentResult struct {
	Receipts []string `json:"receipts"`
}

// canonicalChanges says a consent request in one canonical form for its idempotency digest:
// the operation (consent), who asked (a brand or the consumer) and every field of every change,
// so that a key reused for a withdrawal, a grant, another pair or another duration is refused.
func canonicalChanges(changes []*Change) []byte {
	all := make([][]any, 0, len(changes))
	for _, c := range changes {
		all = append(all, []any{c.Actor.Kind, c.Category, c.Purpose, c.State, c.DurationDays, c.Notice, c.LegalBasis, c.Method,
			c.Jurisdiction, c.Explicit, string(c.Evidence), c.GPC, c.GPCOverride})
	}
	b, _ := json.Marshal(map[string]any{"op": "consent", "changes": all})
	return b
}

// replay loads the outcome of an earlier request with the same idempotency key.
func (s *Service) replay(ctx context.Context, tx ServiceTx, brandID int64, prev string, results *[]*Result) error {
	var r idempotentResult
	if err := json.Unmarshal([]byte(prev), &r); err != nil || len(r.Receipts) == 0 {
		return fmt.Errorf("consent: unreadable idempotency record: %v", err)
	}
	return s.findReceipts(ctx, tx, brandID, r.Receipts, results)
}

func (s *Service) findReceipts(ctx context.Context, tx ServiceTx, brandID int64, ids []string, results *[]*Result) error {
	for _, id := range ids {
		r, err := tx.ConsentRecordByReceipt(ctx, brandID, id)
		if err != nil {
			return err
		}
		*results = append(*results, &Result{Record: r, ConsumerID: r.ConsumerID, Unchanged: true})
	}
	return nil
}

// record appends a consent change to the verifiable ledger and runs the OnChange functions, in
// the change's transaction.
func (s *Service) record(ctx context.Context, tx ServiceTx, r *Record) error {
	for _, fn := range s.OnChange {
		if err := fn(ctx, tx, r); err != nil {
			return err
		}
	}
	if s.Ledger == nil {
		return nil
	}
	body := map[string]any{"receipt_id": r.ReceiptID, "category": r.Category, "purpose": r.Purpose, "state": r.State,
		"legal_basis": r.LegalBasis, "method": r.Method, "actor": r.Actor}
	if !r.ExpiresAt.IsZero() {
		body["expires_at"] = r.ExpiresAt.UTC().Format(time.RFC3339)
	}
	if r.Jurisdiction != "" {
		body["jurisdiction"] = r.Jurisdiction
	}
	_, err := s.Ledger.Append(ctx, tx, ledger.Act{BrandID: r.BrandID, ConsumerID: r.ConsumerID, Kind: "consent." + r.State, At: r.At, Body: body})
	return err
}

// NewReceiptID returns a fresh receipt id.
func NewReceiptID() string {
	b := make([]byte, 15)
	rand.Read(b)
	return "rcpt_" + base64.RawURLEncoding.EncodeToString(b)
}

// Current returns the consumer's current decisions.
func (s *Service) Current(ctx context.Context, brandID, consumerID int64) ([]*Record, error) {
	var out []*Record
	err := s.db.View(ctx, func(tx ServiceTx) (err error) {
		out, err = tx.CurrentConsents(ctx, brandID, consumerID)
		return err
	})
	return out, err
}

// History returns every decision of the consumer, oldest first.
func (s *Service) History(ctx context.Context, brandID, consumerID int64) ([]*Record, error) {
	var out []*Record
	err := s.db.View(ctx, func(tx ServiceTx) (err error) {
		out, err = tx.ConsentHistory(ctx, brandID, consumerID)
		return err
	})
	return out, err
}

// ExpireDue records the expiry of every grant whose duration has run out (the index already
// denies them; this writes the history and receipts). It returns how many expired.
func (s *Service) ExpireDue(ctx context.Context) (int, error) {
	total := 0
	for {
		now := s.clock.Now()
		var due []*Record
		if err := s.db.View(ctx, func(tx ServiceTx) (err error) {
			due, err = tx.DueExpiries(ctx, now, 500)
			return err
		}); err != nil || len(due) == 0 {
			return total, err
		}
		for _, d := range due {
			priv, issuer, err := s.keys.ReceiptKey(ctx, d.BrandID)
			if err != nil {
				return total, err
			}
			r := &Record{ReceiptID: NewReceiptID(), BrandID: d.BrandID, ConsumerID: d.ConsumerID, Category: d.Category,
				Purpose: d.Purpose, State: StateExpired, At: d.ExpiresAt, Notice: d.Notice, LegalBasis: d.LegalBasis,
				Method: MethodExpiry, Actor: symbiont.ActorSystem, Jurisdiction: d.Jurisdiction}
			if r.Receipt, err = SignReceipt(claimsOf(r, issuer, s.graph.Subject(d.BrandID, d.ConsumerID), d.ReceiptID), priv); err != nil {
				return total, err
			}
			inserted := false
			err = s.db.Update(ctx, func(tx ServiceTx) error {
				inserted = false
				if err := tx.LockConsumer(ctx, d.ConsumerID); err != nil {
					return err
				}
				// Re-check inside the transaction: the consumer may have renewed meanwhile (or
				// another node recorded the expiry).
				cur, err := tx.CurrentConsents(ctx, d.BrandID, d.ConsumerID)
				if err != nil {
					return err
				}
				for _, c := range cur {
					if c.Category == d.Category && c.Purpose == d.Purpose && c.ID == d.ID {
						inserted = true
						if err := tx.InsertConsentRecord(ctx, r); err != nil {
							return err
						}
						return s.record(ctx, tx, r)
					}
				}
				return nil
			})
			if err != nil {
				return total, err
			}
			if inserted { // a renewal in between must stay in the index
				s.Index.Set(r)
				total++
			}
		}
	}
}

// RefuseGPC records a Global Privacy Control signal for a consumer: every active grant for a
// GPC purpose (marketing, partner sharing) becomes refused, except grants the consumer gave in
// the wallet in spite of the signal. It costs a map lookup when there is nothing to refuse.
func (s *Service) RefuseGPC(ctx context.Context, brandID, consumerID int64, actor symbiont.Actor) error {
	pairs := s.Index.GPCRefusable(brandID, consumerID, symbiont.GPCPurposes, s.clock.Now())
	if len(pairs) == 0 {
		return nil
	}
	changes := make([]*Change, len(pairs))
	for i, p := range pairs {
		changes[i] = &Change{BrandID: brandID, Consumer: ConsumerRef{ID: consumerID}, Category: p[0], Purpose: p[1],
			State: StateRefused, Method: MethodGPC, Actor: actor}
	}
	_, err := s.Apply(ctx, changes, "")
	return err
}

// Signer returns a ReceiptKeys backed by a function; handy for wiring and tests.
type ReceiptKeysFunc func(ctx context.Context, brandID int64) (ed25519.PrivateKey, string, error)

// ReceiptKey calls f.
func (f ReceiptKeysFunc) ReceiptKey(ctx context.Context, brandID int64) (ed25519.PrivateKey, string, error) {
	return f(ctx, brandID)
}
