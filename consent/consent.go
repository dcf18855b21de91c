// Package consent records consumers' consent per personal-data category and purpose, keeps the
// in-memory index every decision is made from, and signs consent receipts.
//
// A consent record carries the field groups of ISO/IEC TS 27560 (notice, legal basis, how and by
// whom consent was expressed, jurisdiction, duration) and a state from the W3C Data Privacy
// Vocabulary's consent states. Records are append-only history; the current state per
// (consumer, category, purpose) is the latest record.
package consent

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// Consent states, after DPV (dpv:ConsentGiven, dpv:ConsentWithdrawn, dpv:ConsentExpired,
// dpv:ConsentRefused).
const (
	StateGiven     = "given"
	StateWithdrawn = "withdrawn"
	StateExpired   = "expired"
	StateRefused   = "refused"
)

// DPVState maps a state to its DPV term.
var DPVState = map[string]string{
	StateGiven:     "dpv:ConsentGiven",
	StateWithdrawn: "dpv:ConsentWithdrawn",
	StateExpired:   "dpv:ConsentExpired",
	StateRefused:   "dpv:ConsentRefused",
}

// Legal bases.
const (
	BasisConsent         = "consent"          // GDPR Art. 6(1)(a), PIPL Art. 13(1)
	BasisExplicitConsent = "explicit_consent" // GDPR Art. 9(2)(a), PIPL Art. 29 (sensitive data)
)

// Methods: how consent was expressed.
const (
	MethodWallet = "wallet" // by the consumer in the Symbiont wallet
	// MethodWalletGPC: in the wallet, by a consumer whose browser sent a GPC signal, after
	// being told that this grant overrides it (CCPA regulations §7025(c)(3)).
	MethodWalletGPC = "wallet_gpc_override"
	MethodBrand     = "brand_ui"   // captured in the brand's own UI and recorded by its backend
	MethodGPC       = "gpc_signal" // a Global Privacy Control signal (Sec-GPC: 1)
	// MethodSignal: a consent manager's decision carried by an event (Segment's consent
	// object, RudderStack's consentManagement, an IAB TC string); the evidence names it.
	MethodSignal = "cmp_signal"
	MethodExpiry = "expiry"  // the grant's duration ran out
	MethodErase  = "erasure" // the consumer erased their data
)

// ReservedMethod reports whether a method names something only Symbiont records (the wallet,
// GPC signals, expiry, erasure), which a brand may not claim for consent it records.
func ReservedMethod(m string) bool {
	switch m {
	case MethodWallet, MethodWalletGPC, MethodGPC, MethodSignal, MethodExpiry, MethodErase:
		return true
	}
	return false
}

// Notice identifies the text the consumer was shown when deciding.
type Notice struct {
	ID       string `json:"id,omitempty"`
	Version  string `json:"version,omitempty"`
	Hash     string `json:"hash,omitempty"` // e.g. "sha256:…" of the notice text
	Language string `json:"language,omitempty"`
	URL      string `json:"url,omitempty"`
}

// Record is one consent change: a row of the append-only history.
type Record struct {
	ID         int64
	ReceiptID  string // "rcpt_…", public
	BrandID    int64
	ConsumerID int64
	Category   string
	Purpose    string
	State      string
	At         time.Time
	ExpiresAt  time.Time // zero unless State is given
	Notice     Notice
	LegalBasis string
	Method     string
	// Actor is who recorded it (symbiont.Actor.Label()).
	Actor        string
	Jurisdiction string
	Explicit     bool
	// Evidence is any further proof the brand supplied (form id, IP hash, …), as JSON.
	Evidence json.RawMessage
	// Receipt is the signed consent receipt (JWS compact serialisation).
	Receipt string
}

// ErrChanged is returned by InsertConsentRecordAfter when the current state is no longer the
// one the change was prepared on.
var ErrChanged = errors.New("consent: the current state changed since the change was prepared")

// Active reports whether r admits processing at time now.
func (r *Record) Active(now time.Time) bool {
	return r.State == StateGiven && (r.ExpiresAt.IsZero() || now.Before(r.ExpiresAt))
}

// Tx is what this package needs of a store transaction.
type Tx interface {
	// InsertConsentRecord appends r to the history and makes it the current state of its
	// (consumer, category, purpose). It sets r.ID.
	InsertConsentRecord(ctx context.Context, r *Record) error
	// InsertConsentRecordAfter is InsertConsentRecord on a condition: that the current record
	// of r's (consumer, category, purpose) is still the one with id previous (0: there is
	// none). Otherwise it writes nothing and returns ErrChanged. It lets a change be prepared
	// (its receipt, which names the previous record, signed) before the write transaction.
	InsertConsentRecordAfter(ctx context.Context, r *Record, previous int64) error
	// CurrentConsents returns the current record of every (category, purpose) the consumer
	// has ever decided on.
	CurrentConsents(ctx context.Context, brandID, consumerID int64) ([]*Record, error)
	// ConsentStates is CurrentConsents from the current-state table alone (no history row, no
	// receipt): each record has only ID, BrandID, ConsumerID, Category, Purpose, State and
	// ExpiresAt set. It serves decisions and their reasons.
	ConsentStates(ctx context.Context, brandID, consumerID int64) ([]*Record, error)
	// ConsentHistory returns every record of the consumer, oldest first.
	ConsentHistory(ctx context.Context, brandID, consumerID int64) ([]*Record, error)
	// LockConsumer serialises, until the transaction ends, the consent changes of one consumer
	// across processes sharing the database (a no-op where one process writes).
	LockConsumer(ctx context.Context, consumerID int64) error
	// ActiveGrants returns the grants in state given (expired or not) of the consumers: the
	// database's word, for decisions that must not trust another node's stale index.
	ActiveGrants(ctx context.Context, consumerIDs []int64) ([]Grant, error)
	// PurposeGrants returns the brand's grants in state given (expired or not) for a purpose,
	// of the categories asked for, by consumer then category: who may be read for it.
	PurposeGrants(ctx context.Context, brandID int64, purpose string, categories []string) ([]Grant, error)
	// ConsentRecordByReceipt returns the record with the receipt id.
	ConsentRecordByReceipt(ctx context.Context, brandID int64, receiptID string) (*Record, error)
	// DueExpiries returns up to limit current records in state given whose expiry is ≤ now.
	DueExpiries(ctx context.Context, now time.Time, limit int) ([]*Record, error)

	// Vocabulary terms a brand added to the defaults.
	CustomTerms(ctx context.Context, brandID int64) ([]Term, error)
	PutCustomTerm(ctx context.Context, brandID int64, t Term) error
}

// Grant is a current grant, as decisions need it.
type Grant struct {
	BrandID, ConsumerID int64
	Category, Purpose   string
	ExpiresAt           time.Time // zero: no expiry
}

// Active reports whether g admits processing at now.
func (g Grant) Active(now time.Time) bool { return g.ExpiresAt.IsZero() || now.Before(g.ExpiresAt) }

// Term is a brand's own category or purpose.
type Term struct {
	Kind        string `json:"kind"` // "category" or "purpose"
	Name        string `json:"name"`
	Label       string `json:"label"`
	Description string `json:"description"`
	DPV         string `json:"dpv,omitempty"`
	Sensitive   bool   `json:"sensitive,omitempty"`
}

// Loader streams every current record in state given, to build the index at start.
type Loader interface {
	ForEachActiveConsent(ctx context.Context, fn func(r *Record) error) error
}

// PublicRecord is a record as the API shows it (internal ids left out).
type PublicRecord struct {
	ReceiptID    string          `json:"receipt_id"`
	Category     string          `json:"category"`
	Purpose      string          `json:"purpose"`
	State        string          `json:"state"`
	DPVState     string          `json:"dpv_state"`
	At           time.Time       `json:"at"`
	ExpiresAt    *time.Time      `json:"expires_at,omitempty"`
	Active       bool            `json:"active"`
	Notice       *Notice         `json:"notice,omitempty"`
	LegalBasis   string          `json:"legal_basis"`
	Method       string          `json:"method"`
	Actor        string          `json:"actor"`
	Jurisdiction string          `json:"jurisdiction,omitempty"`
	Explicit     bool            `json:"explicit"`
	Evidence     json.RawMessage `json:"evidence,omitempty"`
	Receipt      string          `json:"receipt"`
}

// Public returns the API view of r at time now.
func (r *Record) Public(now time.Time) PublicRecord {
	p := PublicRecord{ReceiptID: r.ReceiptID, Category: r.Category, Purpose: r.Purpose, State: r.State, DPVState: DPVState[r.State],
		At: r.At, Active: r.Active(now), LegalBasis: r.LegalBasis, Method: r.Method, Actor: r.Actor,
		Jurisdiction: r.Jurisdiction, Explicit: r.Explicit, Evidence: r.Evidence, Receipt: r.Receipt}
	if !r.ExpiresAt.IsZero() {
		t := r.ExpiresAt
		p.ExpiresAt = &t
	}
	if r.Notice != (Notice{}) {
		n := r.Notice
		p.Notice = &n
	}
	return p
}
