package symbiont

import "time"

// Actor kinds: who did something. Recorded with every consent change and data access.
const (
	ActorConsumer = "consumer" // the data subject, through a wallet session
	ActorBrand    = "brand"    // a brand's backend, with a secret key
	ActorOperator = "operator" // the Symbiont operator, with the admin token
	ActorSystem   = "system"   // Symbiont itself (expiry sweeps, GPC, features)
)

// Actor is an authenticated principal.
type Actor struct {
	Kind    string // one of the Actor* constants
	BrandID int64  // 0 for the operator
	// KeyID is the API key's id for brand actors, the session id for consumers.
	KeyID string
	// ConsumerID is set for consumer actors: the only consumer they may touch.
	ConsumerID int64
	// Scopes granted to a brand secret key; nil means all.
	Scopes []string
	// WriteOnly is true for write keys (pk_…): they may only send events.
	WriteOnly bool
	// ExpiresAt is when a consumer's wallet session ends (zero for other actors): the wallet
	// cookie lives exactly as long.
	ExpiresAt time.Time
}

// Can reports whether a brand actor's key has the scope (keys without scopes have all).
func (a Actor) Can(scope string) bool {
	if a.Kind != ActorBrand || a.WriteOnly {
		return false
	}
	if len(a.Scopes) == 0 {
		return true
	}
	for _, s := range a.Scopes {
		if s == scope {
			return true
		}
	}
	return false
}

// Label is a short description for logs and access records, e.g. "brand:key_abc".
func (a Actor) Label() string {
	if a.KeyID == "" {
		return a.Kind
	}
	return a.Kind + ":" + a.KeyID
}
