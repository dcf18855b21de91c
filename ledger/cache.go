package ledger

import "sync"

// hashCache keeps stored tree hashes in memory. They never change once written, so the cache
// needs no invalidation; it is cleared wholesale when full.
type hashCache struct {
	mu  sync.RWMutex
	m   map[int64][]byte
	max int
}

func newHashCache(max int) *hashCache { return &hashCache{m: map[int64][]byte{}, max: max} }

func (c *hashCache) get(i int64) ([]byte, bool) {
	c.mu.RLock()
	h, ok := c.m[i]
	c.mu.RUnlock()
	return h, ok
}

func (c *hashCache) put(i int64, h []byte) {
	c.mu.Lock()
	if len(c.m) >= c.max {
		clear(c.m)
	}
	c.m[i] = h
	c.mu.Unlock()
}
