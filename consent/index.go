package consent

import (
	"sync"
	"time"
)

// Index holds every active grant in memory so that a consent decision is a map lookup and an
// expiry check, with no I/O. It is loaded at start and updated by the same code that commits a
// change: withdrawals before their transaction commits (so that nothing slips through while it
// commits), grants after. Anything the index does not know is denied.
type Index struct {
	shards [indexShards]indexShard
}

const indexShards = 64

type indexShard struct {
	mu sync.RWMutex
	m  map[consumerKey][]entry
}

type consumerKey struct{ brand, consumer int64 }

// entry is one active grant. Consumers hold few (categories × purposes), so a slice scan beats a
// nested map.
type entry struct {
	category, purpose string
	expires           int64 // Unix ms; 0 = no expiry
	// gpcOverride marks a grant the consumer gave in the wallet while their browser sent a
	// Global Privacy Control signal: their explicit choice, which later GPC signals respect.
	gpcOverride bool
}

func entryOf(r *Record) entry {
	var exp int64
	if !r.ExpiresAt.IsZero() {
		exp = r.ExpiresAt.UnixMilli()
	}
	return entry{r.Category, r.Purpose, exp, r.Method == MethodWalletGPC}
}

// NewIndex returns an empty index.
func NewIndex() *Index {
	ix := &Index{}
	for i := range ix.shards {
		ix.shards[i].m = make(map[consumerKey][]entry)
	}
	return ix
}

func (ix *Index) shard(consumer int64) *indexShard {
	return &ix.shards[uint64(consumer)%indexShards]
}

// Allowed reports whether the consumer has an active grant for the category and purpose at now.
func (ix *Index) Allowed(brand, consumer int64, category, purpose string, now time.Time) bool {
	s := ix.shard(consumer)
	n := now.UnixMilli()
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, e := range s.m[consumerKey{brand, consumer}] {
		if e.category == category && e.purpose == purpose {
			return e.expires == 0 || n < e.expires
		}
	}
	return false
}

// AllowedAny reports whether the consumer has an active grant for the category for any purpose:
// the test for storing data of that category at all.
func (ix *Index) AllowedAny(brand, consumer int64, category string, now time.Time) bool {
	s := ix.shard(consumer)
	n := now.UnixMilli()
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, e := range s.m[consumerKey{brand, consumer}] {
		if e.category == category && (e.expires == 0 || n < e.expires) {
			return true
		}
	}
	return false
}

// GPCRefusable returns the active grants for the given purposes that a Global Privacy Control
// signal refuses (all but those the consumer gave in spite of the signal), as [category, purpose].
func (ix *Index) GPCRefusable(brand, consumer int64, purposes []string, now time.Time) [][2]string {
	s := ix.shard(consumer)
	n := now.UnixMilli()
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out [][2]string
	for _, e := range s.m[consumerKey{brand, consumer}] {
		if e.gpcOverride || (e.expires != 0 && n >= e.expires) {
			continue
		}
		for _, p := range purposes {
			if e.purpose == p {
				out = append(out, [2]string{e.category, e.purpose})
			}
		}
	}
	return out
}

// Set records r's state for its consumer, category and purpose: an active grant is added or
// replaced, anything else removes the grant.
func (ix *Index) Set(r *Record) {
	s := ix.shard(r.ConsumerID)
	k := consumerKey{r.BrandID, r.ConsumerID}
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.m[k]
	next := make([]entry, 0, len(old)+1)
	for _, e := range old {
		if e.category != r.Category || e.purpose != r.Purpose {
			next = append(next, e)
		}
	}
	if r.State == StateGiven {
		next = append(next, entryOf(r))
	}
	if len(next) == 0 {
		delete(s.m, k)
	} else {
		s.m[k] = next
	}
}

// snapshot returns the consumer's entries, for restoring after a failed change.
func (ix *Index) snapshot(brand, consumer int64) []entry {
	s := ix.shard(consumer)
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.m[consumerKey{brand, consumer}]
}

func (ix *Index) restore(brand, consumer int64, es []entry) {
	s := ix.shard(consumer)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(es) == 0 {
		delete(s.m, consumerKey{brand, consumer})
	} else {
		s.m[consumerKey{brand, consumer}] = es
	}
}

// Replace sets the consumer's grants to exactly the active ones among current (after a merge).
func (ix *Index) Replace(brand, consumer int64, current []*Record) {
	var es []entry
	for _, r := range current {
		if r.State == StateGiven {
			es = append(es, entryOf(r))
		}
	}
	ix.restore(brand, consumer, es)
}

// Forget drops every grant of the consumer (erasure, or merged away).
func (ix *Index) Forget(brand, consumer int64) { ix.restore(brand, consumer, nil) }

// Len returns the number of consumers with at least one grant.
func (ix *Index) Len() int {
	n := 0
	for i := range ix.shards {
		s := &ix.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}
