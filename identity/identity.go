// Package identity keeps each brand's identity graph: which identifiers (userId, anonymousId,
// email, phone, external platform ids) belong to which consumer, merging consumers when an
// identify or alias call shows two are the same person, and refusing to merge on identifiers
// shared by too many people.
//
// Identifiers are stored only as keyed hashes (HMAC-SHA-256 with a per-brand key derived from
// the master key), so the database alone cannot be searched for an email address or phone number.
package identity

import (
	"context"
	"time"
)

// Identifier kinds. External platform ids use "ext:<platform>".
const (
	KindUserID      = "user_id"
	KindAnonymousID = "anonymous_id"
	KindEmail       = "email"
	KindPhone       = "phone"
)

// Identifier links one hashed identifier to a consumer.
type Identifier struct {
	BrandID    int64
	Kind       string
	Hash       []byte
	ConsumerID int64
	// Sealed is the identifier's value encrypted with the consumer's data key, so that the
	// consumer's export can show it; nil when not kept.
	Sealed []byte
	// KeyOwner is the consumer whose data key sealed it.
	KeyOwner  int64
	CreatedAt time.Time
}

// Consumer is a person as one brand knows them.
type Consumer struct {
	ID         int64
	BrandID    int64
	CreatedAt  time.Time
	MergedInto int64 // non-zero when merged into another consumer
}

// Conflict reports an identifier shared by more consumers than the over-merge guard allows.
type Conflict struct {
	BrandID   int64     `json:"-"`
	Kind      string    `json:"kind"`
	Hash      []byte    `json:"-"`
	HashHex   string    `json:"hash"`
	Consumers int       `json:"consumers"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
}

// Tx is what this package needs of a store transaction.
type Tx interface {
	CreateConsumer(ctx context.Context, brandID int64, at time.Time) (int64, error)
	Consumer(ctx context.Context, brandID, id int64) (*Consumer, error)
	// LookupIdentifier returns the consumers linked to the identifier (live ones only).
	LookupIdentifier(ctx context.Context, brandID int64, kind string, hash []byte) ([]int64, error)
	// LinkIdentifier links an identifier to a consumer; linking twice is a no-op.
	LinkIdentifier(ctx context.Context, id *Identifier) error
	// LockIdentifier serialises, until the transaction ends, the transactions of processes
	// sharing the database that link one identifier (no-op when nothing else writes it); a
	// lookup after it sees what an earlier holder committed.
	LockIdentifier(ctx context.Context, brandID int64, kind string, hash []byte) error
	ConsumerIdentifiers(ctx context.Context, brandID, consumerID int64) ([]*Identifier, error)
	// MergeConsumers moves everything of consumer from into consumer into, every domain's rows
	// as that domain declares (store.ConsumerTables: identifiers, events, consent — the more
	// recent decision per category and purpose wins —, points, access records, …), and marks
	// from as merged.
	MergeConsumers(ctx context.Context, brandID, from, into int64, at time.Time) error
	// MergedFrom returns the ids of every consumer ever merged into id, transitively.
	MergedFrom(ctx context.Context, brandID, id int64) ([]int64, error)
	RecordConflict(ctx context.Context, c *Conflict) error
	Conflicts(ctx context.Context, brandID int64) ([]*Conflict, error)
}
