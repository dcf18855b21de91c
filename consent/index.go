package consent

import (
	"sync"
	"sync/atomic"
	"time"
)

// Index holds every active grant in memory so that a consent decision is a map lookup and an
// expiry check, with no I/O. It is loaded at start and updated by the same code that commits a
// change: withdrawals before their transaction commits (so that nothing slips through while it
// commits), grants after. Anything the index does not know is denied. Reloads from the
// database (Reload, Load) never overwrite a newer state: see reload.go.
//
// A grant is packed into one uint64 (category and purpose as interned numbers, a flag, the
// expiry in Unix seconds rounded down — so a grant ends up to a second early, never late), and
// a consumer's first grants live inline in the map slot: a decision touches one or two cache
// lines even with millions of consumers.
type Index struct {
	shards [indexShards]indexShard

	termsMu sync.RWMutex
	terms   map[termKey]uint64    // a brand's category and purpose names → numbers
	names   map[termNumber]string // and back
	counts  map[int64]uint64      // names numbered per brand
	// numbered counts the names numbered so far: words computed from names (PairWords) stay
	// valid while it is unchanged.
	numbered atomic.Uint64
}

const indexShards = 64

type indexShard struct {
	mu sync.RWMutex
	m  map[consumerKey]grants

	// What keeps a reload from the database from overwriting newer state (see reload.go):
	// seq counts changes, changed has each consumer's last one while reads are in flight, and
	// holds the consumers this node is changing now.
	seq     uint64
	readers int
	changed map[consumerKey]uint64
	holds   map[consumerKey]*hold
}

type consumerKey struct{ brand, consumer int64 }

// grants is a consumer's active grants: inline first, the rest in more.
type grants struct {
	inline [5]uint64
	more   []uint64
}

// Packing of a grant: bits 0-31 expiry (Unix seconds, 0 = none), 32 the GPC-override flag,
// 33-47 purpose number, 48-62 category number. Numbers start at 1, so a zero word is empty.
const (
	expiryMask  = 1<<32 - 1
	gpcFlag     = 1 << 32
	purposeBit  = 33
	categoryBit = 48
	termMask    = 1<<15 - 1
)

func (g *grants) each(fn func(w uint64) bool) {
	for _, w := range g.inline {
		if w != 0 && !fn(w) {
			return
		}
	}
	for _, w := range g.more {
		if !fn(w) {
			return
		}
	}
}

func fromWords(ws []uint64) grants {
	var g grants
	n := copy(g.inline[:], ws)
	if n < len(ws) {
		g.more = append([]uint64(nil), ws[n:]...)
	}
	return g
}

// NewIndex returns an empty index.
func NewIndex() *Index {
	ix := &Index{terms: map[termKey]uint64{}, names: map[termNumber]string{}, counts: map[int64]uint64{}}
	for i := range ix.shards {
		ix.shards[i].m = make(map[consumerKey]grants)
		ix.shards[i].changed = make(map[consumerKey]uint64)
		ix.shards[i].holds = make(map[consumerKey]*hold)
	}
	return ix
}

// term returns the number of a brand's category or purpose name; with add false, 0 for names
// it has never seen. Numbers are per brand, so that one brand's many custom terms cannot use
// up another's. ok is false when the brand has more names than a grant word can number.
func (ix *Index) term(brand int64, name string, add bool) (n uint64, ok bool) {
	k := termKey{brand, name}
	ix.termsMu.RLock()
	n = ix.terms[k]
	ix.termsMu.RUnlock()
	if n != 0 || !add {
		return n, true
	}
	ix.termsMu.Lock()
	defer ix.termsMu.Unlock()
	if n = ix.terms[k]; n == 0 {
		if ix.counts[brand] >= termMask {
			return 0, false
		}
		ix.counts[brand]++
		n = ix.counts[brand]
		ix.terms[k] = n
		ix.names[k.withNumber(n)] = name
		ix.numbered.Add(1)
	}
	return n, true
}

type termKey struct {
	brand int64
	name  string
}

type termNumber struct {
	brand int64
	n     uint64
}

func (k termKey) withNumber(n uint64) termNumber { return termNumber{k.brand, n} }

func (ix *Index) shard(consumer int64) *indexShard {
	return &ix.shards[uint64(consumer)%indexShards]
}

func live(w uint64, now int64) bool {
	exp := int64(w & expiryMask)
	return exp == 0 || now < exp
}

// Allowed reports whether the consumer has an active grant for the category and purpose at now.
func (ix *Index) Allowed(brand, consumer int64, category, purpose string, now time.Time) bool {
	c, _ := ix.term(brand, category, false)
	p, _ := ix.term(brand, purpose, false)
	if c == 0 || p == 0 {
		return false
	}
	return ix.match(brand, consumer, termMask<<categoryBit|termMask<<purposeBit, c<<categoryBit|p<<purposeBit, now)
}

// AllowedAny reports whether the consumer has an active grant for the category for any purpose:
// the test for storing data of that category at all.
func (ix *Index) AllowedAny(brand, consumer int64, category string, now time.Time) bool {
	c, _ := ix.term(brand, category, false)
	if c == 0 {
		return false
	}
	return ix.match(brand, consumer, termMask<<categoryBit, c<<categoryBit, now)
}

// match reports whether the consumer has a live grant whose word, masked, equals want.
func (ix *Index) match(brand, consumer int64, mask, want uint64, now time.Time) bool {
	n := now.Unix()
	s := ix.shard(consumer)
	s.mu.RLock()
	g, ok := s.m[consumerKey{brand, consumer}]
	s.mu.RUnlock()
	if !ok {
		return false
	}
	found := false
	g.each(func(w uint64) bool {
		found = w&mask == want && live(w, n)
		return !found
	})
	return found
}

// GPCRefusable returns the active grants for the given purposes that a Global Privacy Control
// signal refuses (all but those the consumer gave in spite of the signal), as [category, purpose].
func (ix *Index) GPCRefusable(brand, consumer int64, purposes []string, now time.Time) [][2]string {
	s := ix.shard(consumer)
	s.mu.RLock()
	g, ok := s.m[consumerKey{brand, consumer}]
	s.mu.RUnlock()
	if !ok {
		return nil
	}
	want := map[uint64]string{}
	for _, p := range purposes {
		if n, _ := ix.term(brand, p, false); n != 0 {
			want[n] = p
		}
	}
	n := now.Unix()
	var out [][2]string
	g.each(func(w uint64) bool {
		if w&gpcFlag == 0 && live(w, n) {
			if p, ok := want[w>>purposeBit&termMask]; ok {
				out = append(out, [2]string{ix.name(brand, w>>categoryBit&termMask), p})
			}
		}
		return true
	})
	return out
}

func (ix *Index) name(brand int64, n uint64) string {
	ix.termsMu.RLock()
	defer ix.termsMu.RUnlock()
	return ix.names[termNumber{brand, n}]
}

// pack packs an active grant; ok is false when its brand has run out of term numbers (then
// the grant is not indexed: it is denied, never misread).
func (ix *Index) pack(r *Record) (w uint64, ok bool) {
	c, ok1 := ix.term(r.BrandID, r.Category, true)
	p, ok2 := ix.term(r.BrandID, r.Purpose, true)
	if !ok1 || !ok2 {
		return 0, false
	}
	w = c<<categoryBit | p<<purposeBit
	if !r.ExpiresAt.IsZero() {
		exp := r.ExpiresAt.Unix()
		if exp <= 0 {
			exp = 1 // expired before 1970: treat as long expired, not as "no expiry"
		}
		w |= uint64(min(exp, expiryMask))
	}
	if r.Method == MethodWalletGPC {
		w |= gpcFlag
	}
	return w, true
}

// Set records r's state for its consumer, category and purpose: an active grant is added or
// replaced, anything else removes the grant. While changes of the consumer are held (Hold),
// a record older than one already set for its pair (a lower ID: records of one pair are
// written in order, each on top of the last) is ignored, so that a grant set after its
// commit never lands on a withdrawal that committed after it.
func (ix *Index) Set(r *Record) {
	w, ok := ix.pack(r)
	if !ok {
		// Cannot be numbered: make sure nothing stale admits it either.
		ix.Forget(r.BrandID, r.ConsumerID)
		return
	}
	s := ix.shard(r.ConsumerID)
	k := consumerKey{r.BrandID, r.ConsumerID}
	s.mu.Lock()
	defer s.mu.Unlock()
	if h := s.holds[k]; h != nil && r.ID != 0 {
		pair := w & (termMask<<categoryBit | termMask<<purposeBit)
		if h.latest[pair] > r.ID {
			return
		}
		if h.latest == nil {
			h.latest = map[uint64]int64{}
		}
		h.latest[pair] = r.ID
	}
	s.setWord(k, w, r.State == StateGiven)
	s.touch(k)
}

// setWord replaces k's grant of w's category and purpose with w, or removes it unless given
// (s.mu held).
func (s *indexShard) setWord(k consumerKey, w uint64, given bool) {
	const mask = termMask<<categoryBit | termMask<<purposeBit
	g := s.m[k]
	var next []uint64
	g.each(func(old uint64) bool {
		if old&mask != w&mask {
			next = append(next, old)
		}
		return true
	})
	if given {
		next = append(next, w)
	}
	s.put(k, next)
}

// put sets k's grants to ws (s.mu held).
func (s *indexShard) put(k consumerKey, ws []uint64) {
	if len(ws) == 0 {
		delete(s.m, k)
	} else {
		s.m[k] = fromWords(ws)
	}
}

func (ix *Index) restore(brand, consumer int64, ws []uint64) {
	s := ix.shard(consumer)
	k := consumerKey{brand, consumer}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.put(k, ws)
	s.touch(k)
}

// words packs the active grants among current.
func (ix *Index) words(current []*Record) []uint64 {
	var ws []uint64
	for _, r := range current {
		if r.State == StateGiven {
			if w, ok := ix.pack(r); ok {
				ws = append(ws, w)
			}
		}
	}
	return ws
}

// Forget drops every grant of the consumer (erasure, or merged away).
func (ix *Index) Forget(brand, consumer int64) { ix.restore(brand, consumer, nil) }

// Clear drops every grant.
func (ix *Index) Clear() {
	for i := range ix.shards {
		s := &ix.shards[i]
		s.mu.Lock()
		clear(s.m)
		s.mu.Unlock()
	}
}

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
