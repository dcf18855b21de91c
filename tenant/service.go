package tenant

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/symbiont/symbiont"
)

// Credential prefixes.
const (
	PrefixSecret   = "sk_"
	PrefixWrite    = "pk_"
	PrefixWallet   = "wt_"
	PrefixOperator = "op_"
)

// Session lifetimes.
const (
	DefaultSessionTTL = time.Hour
	MaxSessionTTL     = 24 * time.Hour
)

// Wrapper protects secrets at rest (the vault's master key does it).
type Wrapper interface {
	WrapSecret(secret []byte, label string) []byte
	UnwrapSecret(wrapped []byte, label string) ([]byte, error)
}

// Service manages brands, keys, sessions and the operator token, and authenticates credentials.
type Service struct {
	db    symbiont.Transactor[Tx]
	wrap  Wrapper
	clock symbiont.Clock

	operatorHash []byte

	mu      sync.RWMutex
	keys    map[[32]byte]*Key // by secret hash; revocation updates it at once
	signers map[int64]ed25519.PrivateKey
	brands  map[int64]*Brand
}

// NewService returns a tenant service.
func NewService(db symbiont.Transactor[Tx], wrap Wrapper, clock symbiont.Clock) *Service {
	return &Service{db: db, wrap: wrap, clock: clock, keys: map[[32]byte]*Key{}, signers: map[int64]ed25519.PrivateKey{}, brands: map[int64]*Brand{}}
}

func hash(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

func randomString(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func randomID(prefix string) string {
	b := make([]byte, 10)
	rand.Read(b)
	return prefix + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}

const operatorSetting = "operator_token_sha256"

// Setting returns the installation's named value (nil when unset): small state of the
// platform's own, such as which brand the demo seeded.
func (s *Service) Setting(ctx context.Context, name string) (v []byte, err error) {
	err = s.db.View(ctx, func(tx Tx) (err error) {
		v, err = tx.Setting(ctx, name)
		return err
	})
	return v, err
}

// PutSetting sets the installation's named value.
func (s *Service) PutSetting(ctx context.Context, name string, value []byte) error {
	return s.db.Update(ctx, func(tx Tx) error { return tx.PutSetting(ctx, name, value) })
}

// InitOperator sets up the operator token. With token non-empty it becomes the token (from
// SYMBIONT_ADMIN_TOKEN). Otherwise the stored one is used, or, on first start, a new one is
// generated and returned so the caller can show it once.
func (s *Service) InitOperator(ctx context.Context, token string) (generated string, err error) {
	if token != "" {
		if len(token) < 16 {
			return "", symbiont.Errorf(symbiont.EINVALID, "The admin token must be at least 16 characters.")
		}
		for _, p := range []string{PrefixSecret, PrefixWrite, PrefixWallet} {
			if strings.HasPrefix(token, p) {
				return "", symbiont.Errorf(symbiont.EINVALID, "The admin token must not start with %q: that prefix marks another kind of credential.", p)
			}
		}
		s.operatorHash = hash(token)
		return "", nil
	}
	err = s.db.Update(ctx, func(tx Tx) error {
		h, err := tx.Setting(ctx, operatorSetting)
		if err != nil || h != nil {
			s.operatorHash = h
			return err
		}
		generated = PrefixOperator + randomString(32)
		s.operatorHash = hash(generated)
		return tx.PutSetting(ctx, operatorSetting, s.operatorHash)
	})
	return generated, err
}

// Authenticate turns a bearer credential into an actor. Wallet tokens are checked against
// their session's expiry and revocation on every call.
func (s *Service) Authenticate(ctx context.Context, credential string) (symbiont.Actor, error) {
	unauth := symbiont.Errorf(symbiont.EUNAUTHORIZED, "The credential is not valid.")
	switch {
	case credential == "":
		return symbiont.Actor{}, symbiont.Errorf(symbiont.EUNAUTHORIZED, "A credential is required: send Authorization: Bearer <key>.")
	case strings.HasPrefix(credential, PrefixSecret), strings.HasPrefix(credential, PrefixWrite):
		k, err := s.key(ctx, credential)
		if err != nil {
			return symbiont.Actor{}, err
		}
		return symbiont.Actor{Kind: symbiont.ActorBrand, BrandID: k.BrandID, KeyID: k.ID, Scopes: k.Scopes, WriteOnly: k.Kind == KindWrite}, nil
	case strings.HasPrefix(credential, PrefixWallet):
		var sess *Session
		err := s.db.View(ctx, func(tx Tx) (err error) {
			sess, err = tx.SessionByHash(ctx, hash(credential))
			return err
		})
		if symbiont.ErrorCode(err) == symbiont.ENOTFOUND {
			return symbiont.Actor{}, unauth
		} else if err != nil {
			return symbiont.Actor{}, err
		}
		if !sess.RevokedAt.IsZero() {
			return symbiont.Actor{}, symbiont.Errorf(symbiont.EUNAUTHORIZED, "The wallet session has ended.")
		}
		if !s.clock.Now().Before(sess.ExpiresAt) {
			return symbiont.Actor{}, symbiont.Errorf(symbiont.EUNAUTHORIZED, "The wallet session has expired; ask the brand for a new link.").With("reason", "expired")
		}
		return symbiont.Actor{Kind: symbiont.ActorConsumer, BrandID: sess.BrandID, KeyID: sess.ID, ConsumerID: sess.ConsumerID, ExpiresAt: sess.ExpiresAt}, nil
	default:
		if s.operatorHash != nil && subtle.ConstantTimeCompare(hash(credential), s.operatorHash) == 1 {
			return symbiont.Actor{Kind: symbiont.ActorOperator}, nil
		}
		return symbiont.Actor{}, unauth
	}
}

// key returns the active key for a secret, from memory when possible.
func (s *Service) key(ctx context.Context, secret string) (*Key, error) {
	h := [32]byte(hash(secret))
	s.mu.RLock()
	k := s.keys[h]
	s.mu.RUnlock()
	if k == nil {
		err := s.db.View(ctx, func(tx Tx) (err error) {
			k, err = tx.KeyByHash(ctx, h[:])
			return err
		})
		if symbiont.ErrorCode(err) == symbiont.ENOTFOUND {
			return nil, symbiont.Errorf(symbiont.EUNAUTHORIZED, "The key is not valid.")
		} else if err != nil {
			return nil, err
		}
		s.mu.Lock()
		if len(s.keys) > 100000 {
			clear(s.keys)
		}
		s.keys[h] = k
		s.mu.Unlock()
	}
	if !k.RevokedAt.IsZero() {
		return nil, symbiont.Errorf(symbiont.EUNAUTHORIZED, "The key has been revoked.")
	}
	return k, nil
}

// NewBrand is a created brand with its first keys, whose secrets are shown only now.
type NewBrand struct {
	Brand     *Brand
	SecretKey string
	WriteKey  string
}

// CreateBrand creates a brand with a receipt signing key, a secret key and a write key.
func (s *Service) CreateBrand(ctx context.Context, name string) (*NewBrand, error) {
	name = strings.TrimSpace(name)
	if name == "" || !symbiont.ValidText(name, 200) {
		return nil, symbiont.Errorf(symbiont.EINVALID, "name is required: 1-200 bytes of text without control characters.").With("field", "name")
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	b := &Brand{PublicID: randomID("br_"), Name: name, CreatedAt: now}
	b.SigningKey = s.wrap.WrapSecret(priv.Seed(), "receipt-key/"+b.PublicID)
	out := &NewBrand{Brand: b}
	err = s.db.Update(ctx, func(tx Tx) error {
		if err := tx.CreateBrand(ctx, b); err != nil {
			return err
		}
		if out.SecretKey, _, err = s.createKey(ctx, tx, b.ID, KindSecret, "default", nil, now); err != nil {
			return err
		}
		out.WriteKey, _, err = s.createKey(ctx, tx, b.ID, KindWrite, "default", nil, now)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (s *Service) createKey(ctx context.Context, tx Tx, brandID int64, kind, name string, scopes []string, now time.Time) (string, *Key, error) {
	prefix := PrefixSecret
	if kind == KindWrite {
		prefix = PrefixWrite
	}
	secret := prefix + randomString(32)
	k := &Key{ID: randomID("key_"), BrandID: brandID, Kind: kind, Hash: hash(secret), Prefix: secret[:10], Name: name, Scopes: scopes, CreatedAt: now}
	return secret, k, tx.CreateKey(ctx, k)
}

// CreateKey creates an API key for a brand and returns its secret (shown only now).
// A key given scopes=nil has every scope; an empty, non-nil list is refused (it would read as
// "all" once stored). within, when not nil, bounds the scopes the new key may have: a key can
// only create keys with scopes it has itself.
func (s *Service) CreateKey(ctx context.Context, brandID int64, kind, name string, scopes []string, within ...[]string) (string, *Key, error) {
	if scopes != nil && len(scopes) == 0 {
		return "", nil, symbiont.Errorf(symbiont.EINVALID, "scopes must name at least one scope; leave it out for every scope.").With("field", "scopes")
	}
	if len(within) > 0 && within[0] != nil {
		need := scopes
		if need == nil && kind == KindSecret {
			need = AllScopes
		}
		for _, sc := range need {
			if !slices.Contains(within[0], sc) {
				return "", nil, symbiont.Errorf(symbiont.EFORBIDDEN, "This key cannot create a key with the %q scope, which it does not have itself.", sc).With("field", "scopes")
			}
		}
	}
	if kind != KindSecret && kind != KindWrite {
		return "", nil, symbiont.Errorf(symbiont.EINVALID, `kind must be "secret" or "write".`).With("field", "kind")
	}
	if !symbiont.ValidText(name, 100) {
		return "", nil, symbiont.Errorf(symbiont.EINVALID, "name is at most 100 bytes of text without control characters.").With("field", "name")
	}
	for _, sc := range scopes {
		if !slices.Contains(AllScopes, sc) {
			return "", nil, symbiont.Errorf(symbiont.EINVALID, "Unknown scope %q; scopes are %s.", sc, strings.Join(AllScopes, ", ")).With("field", "scopes")
		}
	}
	if kind == KindWrite && len(scopes) > 0 {
		return "", nil, symbiont.Errorf(symbiont.EINVALID, "Write keys can only send events; they take no scopes.").With("field", "scopes")
	}
	var secret string
	var k *Key
	err := s.db.Update(ctx, func(tx Tx) (err error) {
		secret, k, err = s.createKey(ctx, tx, brandID, kind, name, scopes, s.clock.Now())
		return err
	})
	return secret, k, err
}

// ForgetKeys empties the key cache (another node revoked a key).
func (s *Service) ForgetKeys() {
	s.mu.Lock()
	clear(s.keys)
	s.mu.Unlock()
}

// RevokeKey revokes a brand's key; it stops working on the next request.
func (s *Service) RevokeKey(ctx context.Context, brandID int64, keyID string) error {
	err := s.db.Update(ctx, func(tx Tx) error { return tx.RevokeKey(ctx, brandID, keyID, s.clock.Now()) })
	if err != nil {
		return err
	}
	s.mu.Lock()
	for h, k := range s.keys {
		if k.ID == keyID {
			delete(s.keys, h)
		}
	}
	s.mu.Unlock()
	return nil
}

// Keys lists a brand's keys (without secrets).
func (s *Service) Keys(ctx context.Context, brandID int64) ([]*Key, error) {
	var out []*Key
	err := s.db.View(ctx, func(tx Tx) (err error) {
		out, err = tx.ListKeys(ctx, brandID)
		return err
	})
	return out, err
}

// Brand returns a brand by internal id (cached: brands do not change).
func (s *Service) Brand(ctx context.Context, id int64) (*Brand, error) {
	s.mu.RLock()
	b := s.brands[id]
	s.mu.RUnlock()
	if b != nil {
		return b, nil
	}
	err := s.db.View(ctx, func(tx Tx) (err error) {
		b, err = tx.BrandByID(ctx, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.brands[id] = b
	s.mu.Unlock()
	return b, nil
}

// BrandByPublicID returns a brand by its public id.
func (s *Service) BrandByPublicID(ctx context.Context, publicID string) (*Brand, error) {
	var b *Brand
	err := s.db.View(ctx, func(tx Tx) (err error) {
		b, err = tx.BrandByPublicID(ctx, publicID)
		return err
	})
	return b, err
}

// Brands lists every brand.
func (s *Service) Brands(ctx context.Context) ([]*Brand, error) {
	var out []*Brand
	err := s.db.View(ctx, func(tx Tx) (err error) {
		out, err = tx.ListBrands(ctx)
		return err
	})
	return out, err
}

// ReceiptKey returns the brand's receipt signing key and public id.
func (s *Service) ReceiptKey(ctx context.Context, brandID int64) (ed25519.PrivateKey, string, error) {
	b, err := s.Brand(ctx, brandID)
	if err != nil {
		return nil, "", err
	}
	s.mu.RLock()
	k := s.signers[brandID]
	s.mu.RUnlock()
	if k != nil {
		return k, b.PublicID, nil
	}
	seed, err := s.wrap.UnwrapSecret(b.SigningKey, "receipt-key/"+b.PublicID)
	if err != nil {
		return nil, "", err
	}
	k = ed25519.NewKeyFromSeed(seed)
	s.mu.Lock()
	s.signers[brandID] = k
	s.mu.Unlock()
	return k, b.PublicID, nil
}

// ValidSessionTTL checks a requested session lifetime (0: the default).
func ValidSessionTTL(ttl time.Duration) error {
	if ttl != 0 && (ttl < time.Minute || ttl > MaxSessionTTL) {
		return symbiont.Errorf(symbiont.EINVALID, "ttl_seconds must be between 60 and %d.", int(MaxSessionTTL/time.Second)).With("field", "ttl_seconds")
	}
	return nil
}

// OpenedSession is a new wallet session; Token is shown only now.
type OpenedSession struct {
	Session *Session
	Token   string
}

// OpenSession opens a wallet session for a consumer.
func (s *Service) OpenSession(ctx context.Context, brandID, consumerID int64, ttl time.Duration) (*OpenedSession, error) {
	if err := ValidSessionTTL(ttl); err != nil {
		return nil, err
	}
	if ttl == 0 {
		ttl = DefaultSessionTTL
	}
	now := s.clock.Now()
	token := PrefixWallet + randomString(32)
	sess := &Session{ID: randomID("ws_"), BrandID: brandID, ConsumerID: consumerID, Hash: hash(token), CreatedAt: now, ExpiresAt: now.Add(ttl)}
	if err := s.db.Update(ctx, func(tx Tx) error { return tx.CreateSession(ctx, sess) }); err != nil {
		return nil, err
	}
	return &OpenedSession{Session: sess, Token: token}, nil
}
