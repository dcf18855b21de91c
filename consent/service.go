package consent

import (
	"cmp"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
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
	db    transactor
	Index *Index
	// Ledger records every change in the verifiable ledger (required: NewService).
	Ledger *ledger.Service
	graph  *identity.Graph
	keys   ReceiptKeys
	clock  symbiont.Clock

	mu    sync.RWMutex
	vocab map[int64]symbiont.Vocabulary
	// states remembers consumers' current records, so that most changes are prepared
	// without reading the store (see prepareFromMemory).
	states *stateCache

	refreshRead atomic.Pointer[func(brandID, consumerID int64, read []*Record)]
}

// NewService returns a consent service recording every change in l. Call Load before serving.
//
// The hooks it returns run for every recorded change, inside the change's transaction, and
// see that transaction as db's own type T: a hook of another domain (the rewards start and end
// paid grants there) takes the wider transaction it needs, and the compiler checks that T
// offers it. An error from a hook rolls the change back.
func NewService[T ServiceTx](db symbiont.Transactor[T], graph *identity.Graph, keys ReceiptKeys, l *ledger.Service, clock symbiont.Clock) (*Service, *Hooks[T]) {
	h := &Hooks[T]{}
	s := &Service{Index: NewIndex(), graph: graph, keys: keys, Ledger: l, clock: clock, vocab: map[int64]symbiont.Vocabulary{},
		states: newStateCache(1 << 18)}
	if db != nil {
		s.db = transactor{
			view: func(ctx context.Context, fn func(ServiceTx) error) error {
				return db.View(ctx, func(tx T) error { return fn(tx) })
			},
			update: func(ctx context.Context, fn func(*changeTx) error) error {
				return db.Update(ctx, func(tx T) error {
					return fn(&changeTx{ServiceTx: tx, changed: func(ctx context.Context, r *Record) error { return h.run(ctx, tx, r) }})
				})
			},
		}
	}
	return s, h
}

// Hooks are the functions run for every recorded consent change, in its transaction, which
// they see as T (see NewService). Add them while wiring, before the service is used.
type Hooks[T ServiceTx] struct {
	fns []func(ctx context.Context, tx T, r *Record) error
}

// Add appends fn to the hooks.
func (h *Hooks[T]) Add(fn func(ctx context.Context, tx T, r *Record) error) {
	h.fns = append(h.fns, fn)
}

func (h *Hooks[T]) run(ctx context.Context, tx T, r *Record) error {
	for _, fn := range h.fns {
		if err := fn(ctx, tx, r); err != nil {
			return err
		}
	}
	return nil
}

// transactor is the service's store: View as db's, Update with the hooks bound to each write
// transaction.
type transactor struct {
	view   func(ctx context.Context, fn func(ServiceTx) error) error
	update func(ctx context.Context, fn func(*changeTx) error) error
}

func (t transactor) View(ctx context.Context, fn func(ServiceTx) error) error { return t.view(ctx, fn) }

func (t transactor) Update(ctx context.Context, fn func(*changeTx) error) error {
	return t.update(ctx, fn)
}

// changeTx is a write transaction of the service, carrying its change hooks.
type changeTx struct {
	ServiceTx
	changed func(ctx context.Context, r *Record) error
}

// Load fills the index with every active grant. Consumers changed on this node while it
// streams are reloaded one by one after (see Index.Reload), so that none gets an older state.
func (s *Service) Load(ctx context.Context, l Loader) (int, error) {
	n := 0
	ld := s.Index.beginLoad()
	err := l.ForEachActiveConsent(ctx, func(r *Record) error {
		if ld.set(r) {
			n++
		}
		return nil
	})
	skipped := ld.end()
	if err != nil {
		return n, err
	}
	for _, k := range skipped {
		if err := s.Refresh(ctx, k.brand, k.consumer); err != nil {
			return n, err
		}
	}
	return n, nil
}

// Refresh reloads one consumer's grants into the index from the database (another node changed
// them, or a merge moved them), never over a change this node made meanwhile (Index.Reload).
func (s *Service) Refresh(ctx context.Context, brandID, consumerID int64) error {
	defer s.states.forget(brandID, consumerID) // changed elsewhere: prepare from the store
	return s.Index.Reload(ctx, brandID, consumerID, func() ([]*Record, error) {
		var cur []*Record
		if err := s.db.View(ctx, func(tx ServiceTx) (err error) {
			cur, err = tx.CurrentConsents(ctx, brandID, consumerID)
			return err
		}); err != nil {
			return nil, err
		}
		if fn := s.refreshRead.Load(); fn != nil {
			(*fn)(brandID, consumerID, cur)
		}
		return cur, nil
	})
}

// OnRefreshRead makes every Refresh call fn between its read of the database and its update of
// the index (nil: nothing). Tests use it to interleave a refresh with other changes.
func (s *Service) OnRefreshRead(fn func(brandID, consumerID int64, read []*Record)) {
	if fn == nil {
		s.refreshRead.Store(nil)
	} else {
		s.refreshRead.Store(&fn)
	}
}

// Resync rebuilds the whole index from the database (after changes may have been missed).
// Until it finishes, grants it has not reloaded yet are denied: it fails closed.
func (s *Service) Resync(ctx context.Context, l Loader) (int, error) {
	s.Index.Clear()
	s.states.clear()
	return s.Load(ctx, l)
}

// Remembered returns the consumer's current records as this process last read or wrote them
// (trimmed: ids, pairs, states and expiries), or false when it does not remember them. They
// are never authoritative — the index decides — but they explain a denial without a read:
// the access service takes the reasons for withheld categories from them.
func (s *Service) Remembered(brandID, consumerID int64) ([]*Record, bool) {
	return s.states.get(brandID, consumerID)
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
	// Skip, when set, is asked with the pair's current record as committed (nil if it was
	// never decided), read when the change is prepared (never from memory); true leaves this
	// change out (Result.Unchanged, Record = the current one). A change it lets through is
	// written only if that record is still the current one at the write, so consent signals
	// decide against the committed state.
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
	err := s.db.Update(ctx, func(tx *changeTx) error {
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
//
// What needs no write lock is done before the write transaction, which on SQLite holds the
// single writer: validation; then, from memory (prepareFromMemory) or in a read transaction
// (prepare), the consumer, the idempotency lookup (a replay ends there), its current state,
// and the new records with their signed receipts, each naming the record it follows. The write transaction (commit) then
// stores only the act: each record on the condition that the current record is still the one
// its receipt follows (InsertConsentRecordAfter, checked by the statement that replaces it),
// the change hooks and the ledger entry, the idempotency record; and it marks
// withdrawals in the index before it commits (grants after). If the state changed in between,
// the change is prepared again. After maxPrepared tries, and when the change creates the
// consumer, it is prepared inside the write transaction instead, where nothing can change it.
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
	a := &applying{changes: changes, brandID: changes[0].BrandID}
	var err error
	if a.priv, a.issuer, err = s.keys.ReceiptKey(ctx, a.brandID); err != nil {
		return nil, err
	}
	a.now = s.clock.Now().Truncate(time.Millisecond) // the precision the store keeps
	if idempotencyKey != "" {
		if a.idem, err = s.graph.Idempotency(a.brandID, idempotencyKey, canonicalChanges(changes)); err != nil {
			return nil, err
		}
	}
	for try := 0; ; try++ {
		var p *plan
		if try == 0 {
			p = s.prepareFromMemory(a)
		}
		if p == nil && try < maxPrepared {
			if err := s.db.View(ctx, func(tx ServiceTx) (err error) {
				p, err = s.prepare(ctx, tx, a, false)
				return err
			}); err != nil {
				return nil, err
			}
			if p.final {
				return p.results, nil
			}
			if p.create {
				p = nil // the consumer is created in the write transaction
			}
		}
		results, err := s.commit(ctx, a, p)
		if errors.Is(err, ErrChanged) && try < maxPrepared {
			continue
		}
		return results, err
	}
}

// maxPrepared bounds how often Apply prepares a change outside the write transaction and
// finds the state changed at commit (concurrent changes to one consumer); the next try
// prepares inside it.
const maxPrepared = 3

// applying is one call of Apply.
type applying struct {
	changes []*Change
	brandID int64
	idem    *symbiont.Idempotency // nil without an Idempotency-Key
	priv    ed25519.PrivateKey
	issuer  string
	now     time.Time
}

// plan is a prepared Apply: what to write, and what to answer once it is written.
type plan struct {
	// final: results are the answer and nothing is to be written (an idempotent replay, or
	// only changes that change nothing, without an idempotency key to record).
	final bool
	// create: the consumer does not exist yet and a change creates it; prepared outside the
	// write transaction, nothing else is filled in.
	create     bool
	consumerID int64
	results    []*Result
	writes     []planned
	receiptIDs []string
}

// planned is one record to write: on top of the current record previous (0: none), or, when
// follows > 0, on top of the request's own earlier write follows-1 of the same pair.
type planned struct {
	r        *Record
	previous int64
	follows  int
	entry    *ledger.Prepared // its ledger entry, encoded (nil without a ledger)
}

// prepare reads what the changes depend on in tx and builds their records and receipts.
// inWrite: tx is the write transaction (the consumer may be created, and locked).
func (s *Service) prepare(ctx context.Context, tx ServiceTx, a *applying, inWrite bool) (*plan, error) {
	p := &plan{}
	ref := a.changes[0].Consumer
	p.consumerID = ref.ID
	if p.consumerID == 0 {
		// Only a grant creates a consumer: withdrawing for someone unknown records nothing.
		create := slices.ContainsFunc(a.changes, func(c *Change) bool { return c.State != StateWithdrawn })
		var err error
		p.consumerID, _, err = s.graph.Resolve(ctx, tx, a.brandID, ref.Kind, ref.Value, create && inWrite, a.now)
		if err != nil {
			return nil, err
		}
		if p.consumerID == 0 {
			if create && !inWrite {
				p.create = true
				return p, nil
			}
			return nil, symbiont.Errorf(symbiont.ENOTFOUND, "No consumer %q is known.", ref.Value)
		}
	} else if _, err := tx.Consumer(ctx, a.brandID, p.consumerID); err != nil {
		return nil, err
	}
	if inWrite {
		if err := tx.LockConsumer(ctx, p.consumerID); err != nil {
			return nil, err
		}
	}
	// The key is looked up once the consumer is known (one key space per consumer, however the
	// request named them); a replay ends here, without writing.
	if prev, err := a.idem.Lookup(ctx, tx, a.brandID, p.consumerID); err != nil {
		return nil, err
	} else if prev != "" {
		p.final = true
		return p, s.replay(ctx, tx, a.brandID, prev, &p.results)
	}
	current, err := tx.CurrentConsents(ctx, a.brandID, p.consumerID)
	if err != nil {
		return nil, err
	}
	if !inWrite { // a snapshot, and no more: commit checks each record it writes against the store
		s.states.put(a.brandID, p.consumerID, current)
	}
	if _, err := s.plan(a, p, current, false); err != nil {
		return nil, err
	}
	return p, nil
}

// prepareFromMemory prepares the changes from what this process remembers (the identity cache
// and the states cache), without a transaction; nil when something is not in memory or when a
// change would record nothing (such an answer must come from the store: it writes nothing that
// the store could refuse). A stale memory costs a retry, never a wrong record: commit writes
// each record only on top of the record the memory named.
func (s *Service) prepareFromMemory(a *applying) *plan {
	if a.idem != nil {
		return nil // the idempotency record is in the store
	}
	p := &plan{}
	ref := a.changes[0].Consumer
	if p.consumerID = ref.ID; p.consumerID == 0 {
		hash, ok := s.graph.HashValue(a.brandID, ref.Kind, ref.Value)
		if !ok {
			return nil
		}
		if p.consumerID, ok = s.graph.Cached(a.brandID, ref.Kind, hash); !ok || p.consumerID == 0 {
			return nil
		}
	}
	current, ok := s.states.get(a.brandID, p.consumerID) // remembered: the consumer exists
	if !ok {
		return nil
	}
	if ok, err := s.plan(a, p, current, true); !ok || err != nil {
		return nil
	}
	return p
}

// plan fills p with the records of the changes on top of the current records, signed. With
// writesOnly, it stops (false) at the first change that would record nothing.
func (s *Service) plan(a *applying, p *plan, current []*Record, writesOnly bool) (bool, error) {
	byPair := map[[2]string]*Record{}
	for _, r := range current {
		byPair[[2]string{r.Category, r.Purpose}] = r
	}
	sub := s.graph.Subject(a.brandID, p.consumerID)
	written := map[[2]string]int{} // pair → index+1 of this request's write of it
	for _, c := range a.changes {
		prev := byPair[[2]string{c.Category, c.Purpose}]
		if c.Skip != nil {
			if writesOnly {
				return false, nil // Skip may look at any field of the record: ask it the store's
			}
			if c.Skip(prev) {
				p.results = append(p.results, &Result{Record: prev, ConsumerID: p.consumerID, Unchanged: true})
				if prev != nil {
					p.receiptIDs = append(p.receiptIDs, prev.ReceiptID)
				}
				continue
			}
		}
		if c.State != StateGiven && (prev == nil || !prev.Active(a.now)) {
			if writesOnly {
				return false, nil
			}
			if prev == nil && c.State == StateWithdrawn {
				return false, symbiont.Errorf(symbiont.ENOTFOUND, "There is no grant of %s for %s to withdraw.", c.Category, c.Purpose)
			}
			if prev != nil && prev.State == c.State {
				p.results = append(p.results, &Result{Record: prev, ConsumerID: p.consumerID, Unchanged: true})
				p.receiptIDs = append(p.receiptIDs, prev.ReceiptID)
				continue
			}
		}
		r := &Record{
			ReceiptID: NewReceiptID(), BrandID: a.brandID, ConsumerID: p.consumerID, Category: c.Category, Purpose: c.Purpose,
			State: c.State, At: a.now, Notice: c.Notice, LegalBasis: c.LegalBasis, Method: c.Method, Actor: c.Actor.Label(),
			Jurisdiction: c.Jurisdiction, Explicit: c.Explicit, Evidence: c.Evidence,
		}
		if c.State == StateGiven {
			r.ExpiresAt = a.now.AddDate(0, 0, c.DurationDays)
		}
		w := planned{r: r, follows: written[[2]string{c.Category, c.Purpose}]}
		var previous string
		if prev != nil {
			previous, w.previous = prev.ReceiptID, prev.ID
		}
		var err error
		if r.Receipt, err = SignReceipt(claimsOf(r, a.issuer, sub, previous), a.priv); err != nil {
			return false, err
		}
		if w.entry, err = s.prepareEntry(r); err != nil {
			return false, err
		}
		byPair[[2]string{c.Category, c.Purpose}] = r
		p.writes = append(p.writes, w)
		written[[2]string{c.Category, c.Purpose}] = len(p.writes)
		p.results = append(p.results, &Result{Record: r, ConsumerID: p.consumerID})
		p.receiptIDs = append(p.receiptIDs, r.ReceiptID)
	}
	p.final = len(p.writes) == 0 && a.idem == nil
	return true, nil
}

// commit writes a plan in one write transaction; with no plan, it prepares one inside it.
// It returns ErrChanged when the state the plan was prepared on changed meanwhile (nothing is
// written then).
func (s *Service) commit(ctx context.Context, a *applying, p *plan) ([]*Result, error) {
	var results []*Result
	var marked []int64 // consumers whose withdrawals were marked in the index before commit
	var holds []func()
	release := func() {
		for _, r := range holds {
			r()
		}
	}
	defer release()
	var q *plan
	err := s.db.Update(ctx, func(tx *changeTx) (err error) {
		if q = p; q == nil {
			if q, err = s.prepare(ctx, tx, a, true); err != nil {
				return err
			}
			if q.final {
				results = q.results
				return nil
			}
		} else {
			if err := tx.LockConsumer(ctx, q.consumerID); err != nil {
				return err
			}
			// A request with the same key committed since the plan was made (checked under the
			// consumer's lock, which such a request holds until it commits): the next
			// preparation replays it.
			if prev, err := a.idem.Lookup(ctx, tx, a.brandID, q.consumerID); err != nil || prev != "" {
				return cmp.Or(err, ErrChanged)
			}
		}
		holds = append(holds, s.Index.Hold(a.brandID, q.consumerID)) // until the index is updated
		for _, w := range q.writes {
			previous := w.previous
			if w.follows > 0 { // its id is known only now
				previous = q.writes[w.follows-1].r.ID
			}
			if err := tx.InsertConsentRecordAfter(ctx, w.r, previous); err != nil {
				return err
			}
			if err := s.record(ctx, tx, w.r, w.entry); err != nil {
				return err
			}
			if w.r.State != StateGiven {
				// Deny from this moment, before the commit, so nothing slips in while it commits.
				marked = append(marked, q.consumerID)
				s.Index.Set(w.r)
			}
		}
		results = q.results
		b, _ := json.Marshal(idempotentResult{Receipts: q.receiptIDs})
		return a.idem.Record(ctx, tx, a.brandID, q.consumerID, string(b), a.now)
	})
	if err != nil {
		if q != nil {
			s.states.forget(a.brandID, q.consumerID)
		}
		// Rolled back: the marked withdrawals deny until the consumer is read back from the
		// database (not restored from memory, which a concurrent change may have outdated).
		release()
		for _, id := range slices.Compact(marked) {
			s.Refresh(context.WithoutCancel(ctx), a.brandID, id) // on failure it denies
		}
		return nil, err
	}
	s.states.wrote(a.brandID, q.consumerID, q.writes)
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

// record runs the change hooks and appends a consent change (its entry made by prepareEntry)
// to the verifiable ledger, in the change's transaction.
func (s *Service) record(ctx context.Context, tx *changeTx, r *Record, entry *ledger.Prepared) error {
	if err := tx.changed(ctx, r); err != nil {
		return err
	}
	_, err := s.Ledger.AppendPrepared(ctx, tx, entry)
	return err
}

// prepareEntry encodes the ledger's account of a consent record before the write transaction
// (ledger.Prepare).
func (s *Service) prepareEntry(r *Record) (*ledger.Prepared, error) {
	return s.Ledger.Prepare(ledgerAct(r))
}

// ledgerBody is the body of a consent record's ledger entry. Its fields are in the order of
// their names, as the map it replaced encoded them (the bytes of the records are unchanged).
type ledgerBody struct {
	Actor        string `json:"actor"`
	Category     string `json:"category"`
	ExpiresAt    string `json:"expires_at,omitempty"`
	Jurisdiction string `json:"jurisdiction,omitempty"`
	LegalBasis   string `json:"legal_basis"`
	Method       string `json:"method"`
	Purpose      string `json:"purpose"`
	ReceiptID    string `json:"receipt_id"`
	State        string `json:"state"`
}

// ledgerAct is the ledger's account of a consent record.
func ledgerAct(r *Record) ledger.Act {
	body := &ledgerBody{Actor: r.Actor, Category: r.Category, Jurisdiction: r.Jurisdiction, LegalBasis: r.LegalBasis,
		Method: r.Method, Purpose: r.Purpose, ReceiptID: r.ReceiptID, State: r.State}
	if !r.ExpiresAt.IsZero() {
		body.ExpiresAt = r.ExpiresAt.UTC().Format(time.RFC3339)
	}
	return ledger.Act{BrandID: r.BrandID, ConsumerID: r.ConsumerID, Kind: "consent." + r.State, At: r.At, Body: body}
}

// NewReceiptID returns a fresh receipt id: "rcpt_", the time in milliseconds as 10 digits of
// Crockford's base32 (whose digits sort as their values), then 72 random bits. The store's
// unique index of receipt ids then grows at its end, as the records do, instead of taking
// every new id at a random place (a page split and a rewritten page per consent change,
// measured in docs/benchmarks.md); the time it shows is in the signed receipt anyway.
func NewReceiptID() string {
	return newReceiptID(time.Now())
}

func newReceiptID(at time.Time) string {
	const digits = "0123456789ABCDEFGHJKMNPQRSTVWXYZ" // Crockford's base32, in ASCII order
	var b [5 + 10 + 12]byte
	copy(b[:], "rcpt_")
	ms := uint64(at.UnixMilli())
	for i := 14; i >= 5; i-- {
		b[i] = digits[ms&31]
		ms >>= 5
	}
	var r [9]byte
	rand.Read(r[:])
	base64.RawURLEncoding.Encode(b[15:], r[:])
	return string(b[:])
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
			entry, err := s.prepareEntry(r)
			if err != nil {
				return total, err
			}
			// Only if the grant is still the current record: the consumer may have renewed
			// meanwhile (or another node recorded the expiry).
			release := s.Index.Hold(d.BrandID, d.ConsumerID) // until the index is updated
			err = s.db.Update(ctx, func(tx *changeTx) error {
				if err := tx.LockConsumer(ctx, d.ConsumerID); err != nil {
					return err
				}
				if err := tx.InsertConsentRecordAfter(ctx, r, d.ID); err != nil {
					return err
				}
				return s.record(ctx, tx, r, entry)
			})
			inserted := err == nil
			s.states.forget(d.BrandID, d.ConsumerID)
			if inserted { // a renewal in between must stay in the index
				s.Index.Set(r)
				total++
			}
			release()
			if errors.Is(err, ErrChanged) {
				err = nil
			}
			if err != nil {
				return total, err
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
