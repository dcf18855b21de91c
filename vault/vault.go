// Package vault encrypts consumers' data with envelope encryption: each consumer has a random
// AES-256 data key; data is sealed with AES-256-GCM under it; the data key is stored wrapped
// (AES-256-GCM) by the master key, in a key store kept apart from the data. Erasing a consumer
// destroys their data key, which makes every copy of their data unreadable at once — the rows in
// the live database and any old backup of it (crypto-shredding).
package vault

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/symbiont/symbiont"
)

// KeySize is the size of master and data keys: AES-256.
const KeySize = 32

// WrappedKey is a consumer's data key, wrapped by the master key.
type WrappedKey struct {
	ConsumerID int64
	BrandID    int64
	Wrapped    []byte
	CreatedAt  time.Time
}

// KeyStore holds consumers' data keys apart from the data they protect. Each call is its own
// durable transaction, so a key is always committed before anything sealed with it.
type KeyStore interface {
	// PutKey stores k unless a key exists for the consumer; it returns the stored key.
	PutKey(ctx context.Context, k *WrappedKey) (*WrappedKey, error)
	// Key returns the consumer's key; an error with code ENOTFOUND when there is none.
	Key(ctx context.Context, consumerID int64) (*WrappedKey, error)
	// DeleteKeys destroys the keys of the given consumers and returns how many existed.
	DeleteKeys(ctx context.Context, consumerIDs []int64) (int64, error)
}

// ErrShredded is returned when a consumer's key has been destroyed.
var ErrShredded = symbiont.Errorf(symbiont.ENOTFOUND, "The consumer's data has been erased.")

// Vault seals and opens consumer data. It caches unwrapped data keys in memory; the cache is
// bounded and dropped entry by entry on erasure.
type Vault struct {
	master    cipher.AEAD
	masterRaw []byte
	keys      KeyStore
	clock     symbiont.Clock

	mu       sync.RWMutex
	cache    map[int64]cachedKey
	maxCache int
}

type cachedKey struct {
	brandID int64
	aead    cipher.AEAD
}

// New returns a vault using the 32-byte master key and the key store.
func New(master []byte, keys KeyStore, clock symbiont.Clock) (*Vault, error) {
	if len(master) != KeySize {
		return nil, fmt.Errorf("vault: master key must be %d bytes, got %d", KeySize, len(master))
	}
	m, err := newAEAD(master)
	if err != nil {
		return nil, err
	}
	return &Vault{master: m, masterRaw: append([]byte(nil), master...), keys: keys, clock: clock, cache: make(map[int64]cachedKey), maxCache: 1 << 20}, nil
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// wrapAAD binds a wrapped key to its consumer, so a wrapped key copied onto another consumer's
// row does not open.
func wrapAAD(brandID, consumerID int64) []byte {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(brandID))
	binary.BigEndian.PutUint64(b[8:], uint64(consumerID))
	return b[:]
}

// aead returns the consumer's data key, creating and storing one if create is true and none
// exists.
func (v *Vault) aead(ctx context.Context, brandID, consumerID int64, create bool) (cipher.AEAD, error) {
	v.mu.RLock()
	ck, ok := v.cache[consumerID]
	v.mu.RUnlock()
	if ok {
		if ck.brandID != brandID {
			return nil, fmt.Errorf("vault: data key of consumer %d belongs to another brand", consumerID)
		}
		return ck.aead, nil
	}
	wk, err := v.keys.Key(ctx, consumerID)
	if symbiont.ErrorCode(err) == symbiont.ENOTFOUND {
		if !create {
			return nil, ErrShredded
		}
		dk := make([]byte, KeySize)
		if _, err := rand.Read(dk); err != nil {
			return nil, err
		}
		nk := &WrappedKey{ConsumerID: consumerID, BrandID: brandID, CreatedAt: v.clock.Now(),
			Wrapped: v.seal(v.master, dk, wrapAAD(brandID, consumerID))}
		wk, err = v.keys.PutKey(ctx, nk)
	}
	if err != nil {
		return nil, fmt.Errorf("vault: data key of consumer %d: %w", consumerID, err)
	}
	if wk.BrandID != brandID {
		return nil, fmt.Errorf("vault: data key of consumer %d belongs to another brand", consumerID)
	}
	dk, err := v.open(v.master, wk.Wrapped, wrapAAD(brandID, consumerID))
	if err != nil {
		return nil, fmt.Errorf("vault: unwrap data key of consumer %d: %w", consumerID, err)
	}
	a, err := newAEAD(dk)
	if err != nil {
		return nil, err
	}
	v.mu.Lock()
	if len(v.cache) >= v.maxCache {
		for k := range v.cache { // evict an arbitrary entry; map order is random
			delete(v.cache, k)
			break
		}
	}
	v.cache[consumerID] = cachedKey{brandID, a}
	v.mu.Unlock()
	return a, nil
}

// EnsureKey creates the consumer's data key if it does not exist yet.
func (v *Vault) EnsureKey(ctx context.Context, brandID, consumerID int64) error {
	_, err := v.aead(ctx, brandID, consumerID, true)
	return err
}

// Seal encrypts plaintext for the consumer (creating their data key on first use). aad is bound
// to the ciphertext and must be given again to Open.
func (v *Vault) Seal(ctx context.Context, brandID, consumerID int64, plaintext, aad []byte) ([]byte, error) {
	a, err := v.aead(ctx, brandID, consumerID, true)
	if err != nil {
		return nil, err
	}
	return v.seal(a, plaintext, aad), nil
}

// Open decrypts what Seal sealed for the consumer whose key sealed it (keyOwner). It returns
// ErrShredded when that key has been destroyed.
func (v *Vault) Open(ctx context.Context, brandID, keyOwner int64, ciphertext, aad []byte) ([]byte, error) {
	return v.OpenTo(ctx, nil, brandID, keyOwner, ciphertext, aad)
}

// OpenTo is Open appending the plaintext to dst (to decrypt many values into one buffer).
func (v *Vault) OpenTo(ctx context.Context, dst []byte, brandID, keyOwner int64, ciphertext, aad []byte) ([]byte, error) {
	a, err := v.aead(ctx, brandID, keyOwner, false)
	if err != nil {
		return nil, err
	}
	n := a.NonceSize()
	if len(ciphertext) < n+a.Overhead() {
		return nil, errCorrupt
	}
	out, err := a.Open(dst, ciphertext[:n], ciphertext[n:], aad)
	if err != nil {
		return nil, errCorrupt
	}
	return out, nil
}

// Shred destroys the data keys of the given consumers: what they sealed can never be opened
// again. The keys are dropped from the cache before the store deletes them.
func (v *Vault) Shred(ctx context.Context, consumerIDs []int64) (int64, error) {
	v.mu.Lock()
	for _, id := range consumerIDs {
		delete(v.cache, id)
	}
	v.mu.Unlock()
	return v.keys.DeleteKeys(ctx, consumerIDs)
}

// WrapSecret and UnwrapSecret protect small secrets the platform keeps (brands' signing keys)
// under the master key, bound to a label.
func (v *Vault) WrapSecret(secret []byte, label string) []byte {
	return v.seal(v.master, secret, []byte(label))
}

// UnwrapSecret opens what WrapSecret wrapped with the same label.
func (v *Vault) UnwrapSecret(wrapped []byte, label string) ([]byte, error) {
	return v.open(v.master, wrapped, []byte(label))
}

// DeriveKey derives a 32-byte key for a named use from the master key (HKDF-SHA-256), e.g. the
// per-brand key that hashes identifiers. The same label always gives the same key.
func (v *Vault) DeriveKey(label string) []byte {
	k, err := hkdf.Key(sha256.New, v.masterRaw, nil, "symbiont/"+label, KeySize)
	if err != nil {
		panic("vault: hkdf: " + err.Error()) // only for lengths HKDF cannot produce
	}
	return k
}

// seal returns nonce || ciphertext.
func (v *Vault) seal(a cipher.AEAD, plaintext, aad []byte) []byte {
	out := make([]byte, a.NonceSize(), a.NonceSize()+len(plaintext)+a.Overhead())
	if _, err := rand.Read(out); err != nil {
		panic("vault: crypto/rand failed: " + err.Error()) // never returns an error on Linux
	}
	return a.Seal(out, out, plaintext, aad)
}

var errCorrupt = errors.New("vault: ciphertext is corrupt or was sealed for something else")

func (v *Vault) open(a cipher.AEAD, sealed, aad []byte) ([]byte, error) {
	n := a.NonceSize()
	if len(sealed) < n+a.Overhead() {
		return nil, errCorrupt
	}
	pt, err := a.Open(nil, sealed[:n], sealed[n:], aad)
	if err != nil {
		return nil, errCorrupt
	}
	return pt, nil
}

// NewMasterKey returns a fresh random master key.
func NewMasterKey() []byte {
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		panic("vault: crypto/rand failed: " + err.Error())
	}
	return k
}
