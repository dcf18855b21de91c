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

// headCache keeps chain heads (the last entry's N and commitment) for the single writer, so
// that an append need not read its chain's head (see AppendAll). Forgetting is always safe:
// a chain not in the cache is read from the store.
type headCache struct {
	mu  sync.Mutex
	m   map[int64]Head
	max int
}

func newHeadCache(max int) *headCache { return &headCache{m: map[int64]Head{}, max: max} }

// fill copies the cached heads of chains into into and returns the chains not cached.
func (c *headCache) fill(into map[int64]Head, chains []int64) (missing []int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ch := range chains {
		if h, ok := c.m[ch]; ok {
			into[ch] = h
		} else {
			missing = append(missing, ch)
		}
	}
	return missing
}

func (c *headCache) put(chains []int64, heads map[int64]Head) {
	c.mu.Lock()
	if len(c.m)+len(chains) > c.max {
		clear(c.m)
	}
	for _, ch := range chains {
		c.m[ch] = heads[ch]
	}
	c.mu.Unlock()
}

func (c *headCache) forget(chains []int64) {
	c.mu.Lock()
	for _, ch := range chains {
		delete(c.m, ch)
	}
	c.mu.Unlock()
}
