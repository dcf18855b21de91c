package symbiont

import (
	"context"
	"crypto/hmac"
	"time"
)

// MaxIdempotencyKey is the longest Idempotency-Key accepted, in bytes.
const MaxIdempotencyKey = 255

// Idempotency is a client's Idempotency-Key as Symbiont keeps it: a keyed hash of the key (the
// key itself is never stored) and a keyed digest of the request it came with. Keys live in one
// space per brand and consumer, whatever the endpoint: a key used once stands for one request,
// and reusing it for any other request is refused (ECONFLICT, reason idempotency_key_reused).
// Build one with identity.Graph.Idempotency; a nil *Idempotency means "no key".
type Idempotency struct {
	Key     []byte // HMAC of the client's key
	Request []byte // HMAC of the canonical request (operation and every field)
}

// IdempotentRecord is what is stored under a key: the request's digest and its outcome.
type IdempotentRecord struct {
	Request []byte
	Result  string
}

// IdempotencyTx stores idempotency records in the act's own transaction, keyed by brand,
// consumer and the key's hash. Erasing a consumer deletes their records.
type IdempotencyTx interface {
	// Idempotent returns the record stored under the key, or nil.
	Idempotent(ctx context.Context, brandID, consumerID int64, key []byte) (*IdempotentRecord, error)
	// PutIdempotent stores a record; a key already stored is an error.
	PutIdempotent(ctx context.Context, brandID, consumerID int64, key []byte, rec IdempotentRecord, at time.Time) error
}

// IdempotencyPruneTx deletes idempotency records that have outlived their retention.
type IdempotencyPruneTx interface {
	// PruneIdempotent deletes up to limit records stored before before, oldest first, and
	// returns how many it deleted.
	PruneIdempotent(ctx context.Context, before time.Time, limit int) (int64, error)
}

// DefaultIdempotencyRetention is how long an idempotency record is kept: far longer than any
// client retries a request, short enough that the records of a busy brand do not pile up.
const DefaultIdempotencyRetention = 30 * 24 * time.Hour

// pruneBatch bounds the records one pruning transaction deletes, so that no act waits long
// behind it.
const pruneBatch = 1000

// PruneIdempotency deletes every idempotency record stored before before, pruneBatch records a
// transaction, and returns how many it deleted. A key used again after its record is gone
// starts afresh.
func PruneIdempotency(ctx context.Context, db Transactor[IdempotencyPruneTx], before time.Time) (int64, error) {
	var total int64
	for {
		var n int64
		if err := db.Update(ctx, func(tx IdempotencyPruneTx) (err error) {
			n, err = tx.PruneIdempotent(ctx, before, pruneBatch)
			return err
		}); err != nil {
			return total, err
		}
		total += n
		if n < pruneBatch {
			return total, nil
		}
	}
}

// Lookup returns the stored result when this very request was made before with this key, ""
// when the key is new (or k is nil), and ECONFLICT when the key came with another request.
// Call it inside the act's transaction, after locking the consumer.
func (k *Idempotency) Lookup(ctx context.Context, tx IdempotencyTx, brandID, consumerID int64) (string, error) {
	if k == nil {
		return "", nil
	}
	prev, err := tx.Idempotent(ctx, brandID, consumerID, k.Key)
	if err != nil || prev == nil {
		return "", err
	}
	if !hmac.Equal(prev.Request, k.Request) {
		return "", Errorf(ECONFLICT, "This Idempotency-Key was already used for a different request; use a new key for a new request.").
			With("reason", "idempotency_key_reused")
	}
	return prev.Result, nil
}

// Record stores the outcome of the request under the key, in the act's transaction (nothing
// when k is nil).
func (k *Idempotency) Record(ctx context.Context, tx IdempotencyTx, brandID, consumerID int64, result string, at time.Time) error {
	if k == nil {
		return nil
	}
	return tx.PutIdempotent(ctx, brandID, consumerID, k.Key, IdempotentRecord{Request: k.Request, Result: result}, at)
}

// ValidIdempotencyKey checks a client's key: at most MaxIdempotencyKey bytes of text without
// control characters.
func ValidIdempotencyKey(key string) error {
	if !ValidText(key, MaxIdempotencyKey) {
		return Errorf(EINVALID, "Idempotency-Key must be at most %d bytes of text without control characters.", MaxIdempotencyKey).
			With("field", "Idempotency-Key")
	}
	return nil
}
