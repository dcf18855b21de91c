// Package store declares the transaction interface Symbiont's services run on. It embeds the
// narrow interfaces each concept declares (tenant.Tx, consent.Tx, identity.Tx) and adds the rows
// the services own (events, tracking plans, the access log). store/sqlite and store/postgres
// implement it; store/storetest is the conformance suite both pass.
package store

import (
	"context"
	"time"

	"github.com/symbiont/symbiont"
	"github.com/symbiont/symbiont/catalog"
	"github.com/symbiont/symbiont/consent"
	"github.com/symbiont/symbiont/identity"
	"github.com/symbiont/symbiont/ledger"
	"github.com/symbiont/symbiont/overview"
	"github.com/symbiont/symbiont/rewards"
	"github.com/symbiont/symbiont/tenant"
	"github.com/symbiont/symbiont/vault"
)

// Event is one stored event: routing fields in clear, everything about the person sealed.
type Event struct {
	ID         int64
	BrandID    int64
	ConsumerID int64
	Category   string
	// MID is a 16-byte digest of the brand and the client's messageId: with ConsumerID, the
	// dedup key.
	MID        []byte
	Timestamp  time.Time // as sent by the client (or received time when absent)
	ReceivedAt time.Time
	// KeyOwner is the consumer whose data key sealed Payload (differs from ConsumerID after a
	// merge).
	KeyOwner int64
	// Payload is the message JSON sealed by the vault.
	Payload []byte
}

// AppendAAD appends the additional data e's payload is sealed with: its dedup key and its
// category, so that a payload moved onto another row does not open.
func (e *Event) AppendAAD(dst []byte) []byte {
	return append(append(dst, e.MID...), e.Category...)
}

// AccessRecord is one read of a consumer's data: who, for what purpose, which categories were
// returned and which withheld, when.
type AccessRecord struct {
	ID         int64
	BrandID    int64
	ConsumerID int64
	Actor      string // symbiont.Actor.Label()
	Purpose    string
	Categories []string // returned
	Withheld   []string // asked for but withheld
	Records    int      // number of items returned
	Action     string   // "read", "export", "erase"
	RequestID  string
	At         time.Time
}

// Tx is a store transaction: every method a service may call inside Update or View.
type Tx interface {
	tenant.Tx
	consent.Tx
	identity.Tx
	ledger.Tx
	ledger.IntegrationTx
	rewards.Tx
	catalog.Tx
	overview.Tx
	symbiont.IdempotencyTx
	symbiont.IdempotencyPruneTx

	// InsertEvents stores events, skipping any whose (consumer, MID) exists: a message is
	// deduplicated per consumer (MID digests the brand and the client's messageId). It returns, per
	// event, whether it was inserted (false: a duplicate) and sets ID on inserted ones.
	InsertEvents(ctx context.Context, events []*Event) ([]bool, error)
	// ConsumerEvents returns the consumer's events in the given categories (all when empty),
	// in arrival order (ReceivedAt, then ID), at most limit (no limit when ≤ 0).
	ConsumerEvents(ctx context.Context, brandID, consumerID int64, categories []string, limit int) ([]*Event, error)
	// DeleteConsumerData erases the given consumers from every domain's rows: each table of
	// ConsumerTables is emptied of theirs, but those a domain keeps, with its reason (consent
	// history and access records as the brand's evidence, points as its books, the ledger),
	// which hold no personal data in clear. It returns the number of events deleted.
	DeleteConsumerData(ctx context.Context, brandID int64, consumerIDs []int64, at time.Time) (int64, error)

	TrackingPlan(ctx context.Context, brandID int64) (plan []byte, version int64, err error)
	PutTrackingPlan(ctx context.Context, brandID int64, plan []byte, at time.Time) (version int64, err error)
	// SignalMap returns a brand's consent signal mapping (JSON) and version; nil and 0 when the
	// brand never set one.
	SignalMap(ctx context.Context, brandID int64) (m []byte, version int64, err error)
	PutSignalMap(ctx context.Context, brandID int64, m []byte, at time.Time) (version int64, err error)

	InsertAccess(ctx context.Context, r *AccessRecord) error
	// InsertAccesses appends access records, in order, in multi-row statements (a bulk read's
	// records: one per consumer), and sets their IDs.
	InsertAccesses(ctx context.Context, rs []*AccessRecord) error
	AccessLog(ctx context.Context, brandID, consumerID int64, limit int) ([]*AccessRecord, error)
}

// Store is an open database.
type Store interface {
	symbiont.Transactor[Tx]
	consent.Loader
	ConsumerRows
	// Keys returns the separate store of consumers' data keys (see package vault).
	Keys() vault.KeyStore
	// UpdateAlone is Update for a caller that batches its own work into one large transaction
	// (the ingestion writer): it is committed on its own, never grouped with other callers'
	// transactions, so it needs no savepoint (which costs a copy of every page it touches).
	UpdateAlone(ctx context.Context, fn func(Tx) error) error
	// ViewBeforeUpdate is View for a read whose results reach nobody until a later Update of
	// the same caller has committed (an act that reads, then records the read): it does not
	// wait for the commits it saw to become durable, as View does, since that Update is
	// answered only once it is durable itself, and with it everything committed before it.
	ViewBeforeUpdate(ctx context.Context, fn func(Tx) error) error
	// Dialect names the backend: "sqlite" or "postgres".
	Dialect() string
	// Shared reports whether other processes may write the same database (PostgreSQL): then
	// in-memory consent indexes may lag, and decisions that admit data consult the database.
	Shared() bool
	// ListenChanges calls fn for each change other processes announce (PostgreSQL) until ctx
	// ends; it returns at once for an unshared store. Each (re)connection is announced as a
	// Change of kind ChangeConnected: changes may have been missed before it.
	ListenChanges(ctx context.Context, fn func(Change), onError func(error)) error
	Close() error
}

// Change kinds announced to other processes sharing the database.
const (
	ChangeConnected = "connected" // the listener (re)connected; resynchronise everything
	ChangeConsent   = "consent"   // a consumer's consent changed (or moved: merge, erasure)
	ChangeKey       = "key"       // an API key was revoked
	ChangePlan      = "plan"      // a brand's tracking plan changed
	ChangeSignals   = "signals"   // a brand's consent signal mapping changed
	ChangeVocab     = "vocab"     // a brand's vocabulary changed
)

// Change is a change another process made that this one may have cached.
type Change struct {
	Kind       string
	BrandID    int64
	ConsumerID int64
	KeyID      string
}

// Narrow returns s as a Transactor of a concept's narrow transaction type T, which store.Tx
// must satisfy (checked when the function is instantiated with a T that Tx does not implement:
// the assertion panics at the first use, and the conformance tests use every one).
func Narrow[T any](s Store) symbiont.Transactor[T] { return narrowed[T]{s} }

type narrowed[T any] struct{ s Store }

func (n narrowed[T]) Update(ctx context.Context, fn func(T) error) error {
	return n.s.Update(ctx, func(tx Tx) error { return fn(any(tx).(T)) })
}

func (n narrowed[T]) View(ctx context.Context, fn func(T) error) error {
	return n.s.View(ctx, func(tx Tx) error { return fn(any(tx).(T)) })
}

// Compile-time proof that Tx satisfies every concept's Tx.
var (
	_ tenant.Tx         = Tx(nil)
	_ consent.Tx        = Tx(nil)
	_ identity.Tx       = Tx(nil)
	_ ledger.Tx         = Tx(nil)
	_ rewards.ServiceTx = Tx(nil)
	_ catalog.Tx        = Tx(nil)
)
