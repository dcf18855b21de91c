package consent

import (
	"slices"
	"sync"
)

// stateCache remembers, per consumer, the current record of each category × purpose as this
// process last read or wrote it: enough to prepare a change (the record it follows, whether it
// is active) without a read. It is a hint, never the word: a change prepared from it is
// written only on top of the record it names (InsertConsentRecordAfter), so a stale entry
// (a merge, an erasure, the expiry sweep, another node) costs a retry from the store. Records
// are kept trimmed (no receipt, notice or evidence) and shared, never changed in place.
type stateCache struct {
	mu  sync.Mutex
	m   map[[2]int64][]*Record
	max int
}

func newStateCache(max int) *stateCache { return &stateCache{m: map[[2]int64][]*Record{}, max: max} }

func (c *stateCache) get(brandID, consumerID int64) ([]*Record, bool) {
	c.mu.Lock()
	recs, ok := c.m[[2]int64{brandID, consumerID}]
	c.mu.Unlock()
	return recs, ok
}

// put remembers the consumer's current records, all of them, as read from the store. A
// snapshot read before a change that committed (and was remembered, wrote) since never
// replaces that change's record: per pair the newer record stays, the one with the larger
// id (ids are taken in commit order within a pair, whose changes hold the consumer's lock).
func (c *stateCache) put(brandID, consumerID int64, current []*Record) {
	recs := make([]*Record, len(current))
	for i, r := range current {
		recs[i] = trimmed(r)
	}
	key := [2]int64{brandID, consumerID}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.m[key]; ok {
		for _, o := range old {
			i := slices.IndexFunc(recs, func(r *Record) bool { return r.Category == o.Category && r.Purpose == o.Purpose })
			switch {
			case i < 0:
				recs = append(recs, o) // written after the snapshot
			case o.ID > recs[i].ID:
				recs[i] = o
			}
		}
	}
	if len(c.m) >= c.max {
		clear(c.m)
	}
	c.m[key] = recs
}

// wrote records committed writes. Each must follow what is remembered for its pair; if one
// does not (writes of one consumer committing in another order than they update the cache),
// the consumer is forgotten.
func (c *stateCache) wrote(brandID, consumerID int64, writes []planned) {
	if len(writes) == 0 {
		return
	}
	key := [2]int64{brandID, consumerID}
	c.mu.Lock()
	defer c.mu.Unlock()
	old, ok := c.m[key]
	if !ok {
		return
	}
	recs := append([]*Record(nil), old...)
	for _, w := range writes {
		i := -1
		for j, r := range recs {
			if r.Category == w.r.Category && r.Purpose == w.r.Purpose {
				i = j
			}
		}
		previous := w.previous
		if w.follows > 0 {
			previous = writes[w.follows-1].r.ID
		}
		switch {
		case i < 0 && previous == 0:
			recs = append(recs, trimmed(w.r))
		case i >= 0 && recs[i].ID == previous:
			recs[i] = trimmed(w.r)
		default:
			delete(c.m, key)
			return
		}
	}
	c.m[key] = recs
}

func (c *stateCache) forget(brandID, consumerID int64) {
	c.mu.Lock()
	delete(c.m, [2]int64{brandID, consumerID})
	c.mu.Unlock()
}

func (c *stateCache) clear() {
	c.mu.Lock()
	clear(c.m)
	c.mu.Unlock()
}

// trimmed is r with what preparing a change needs.
func trimmed(r *Record) *Record {
	return &Record{ID: r.ID, ReceiptID: r.ReceiptID, BrandID: r.BrandID, ConsumerID: r.ConsumerID, Category: r.Category,
		Purpose: r.Purpose, State: r.State, ExpiresAt: r.ExpiresAt}
}
