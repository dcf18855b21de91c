// Package tenant holds brands (the tenants), their API keys, the operator token and consumer
// wallet sessions: everything that turns a credential into an Actor.
//
// Credentials are random 256-bit secrets and are stored only as SHA-256 hashes; a plain hash is
// enough for secrets with that much entropy and lets authentication be one indexed lookup.
package tenant

import (
	"context"
	"time"
)

// Key kinds.
const (
	KindSecret = "secret" // sk_…: server-side calls; scoped
	KindWrite  = "write"  // pk_…: may only send events
)

// Scopes a secret key may carry. A key with no scopes listed has them all.
const (
	ScopeConsents       = "consents"        // record and read consent
	ScopeData           = "data"            // purpose-bound reads of consumer data
	ScopeTrackingPlan   = "tracking_plan"   // edit tracking plan and vocabulary
	ScopeWalletSessions = "wallet_sessions" // open wallet sessions for consumers
	ScopeKeys           = "keys"            // create, list and revoke keys
	ScopeEvents         = "events"          // send events with a secret key
	ScopeRewards        = "rewards"         // rate card, catalogue, rewards reports
	ScopeCatalog        = "catalog"         // the brand's items (what it offers)
)

// AllScopes lists every scope, for validation and docs.
var AllScopes = []string{ScopeConsents, ScopeData, ScopeTrackingPlan, ScopeWalletSessions, ScopeKeys, ScopeEvents, ScopeRewards, ScopeCatalog}

// Brand is a tenant: a company that collects consented data about its customers.
type Brand struct {
	ID        int64     // internal
	PublicID  string    // "br_…", used in URLs and the API
	Name      string    //
	CreatedAt time.Time //
	// SigningKey is the brand's Ed25519 seed for consent receipts, wrapped by the master key.
	SigningKey []byte
}

// Key is an API key of a brand. The secret itself is never stored.
type Key struct {
	ID        string // "key_…"
	BrandID   int64
	Kind      string // KindSecret or KindWrite
	Hash      []byte // SHA-256 of the secret
	Prefix    string // first characters of the secret, to recognise it in a list
	Name      string
	Scopes    []string
	CreatedAt time.Time
	RevokedAt time.Time // zero while active
}

// Session is a consumer's wallet session, opened by the brand's backend for one consumer.
type Session struct {
	ID         string // "ws_…"
	BrandID    int64
	ConsumerID int64
	Hash       []byte // SHA-256 of the token
	CreatedAt  time.Time
	ExpiresAt  time.Time
	RevokedAt  time.Time
}

// Tx is what this package needs of a store transaction.
type Tx interface {
	CreateBrand(ctx context.Context, b *Brand) error // sets b.ID
	BrandByID(ctx context.Context, id int64) (*Brand, error)
	BrandByPublicID(ctx context.Context, publicID string) (*Brand, error)
	ListBrands(ctx context.Context) ([]*Brand, error)

	CreateKey(ctx context.Context, k *Key) error
	KeyByHash(ctx context.Context, hash []byte) (*Key, error)
	ListKeys(ctx context.Context, brandID int64) ([]*Key, error)
	RevokeKey(ctx context.Context, brandID int64, keyID string, at time.Time) error

	CreateSession(ctx context.Context, s *Session) error
	SessionByHash(ctx context.Context, hash []byte) (*Session, error)
	RevokeSessions(ctx context.Context, brandID, consumerID int64, at time.Time) error

	// Setting and PutSetting keep small named values (the operator token's hash).
	Setting(ctx context.Context, name string) ([]byte, error) // nil, nil when unset
	PutSetting(ctx context.Context, name string, value []byte) error
}
