package consent

import "time"

// Numbered returns a number that changes whenever the index numbers a new name, and so
// whenever PairWords could answer differently.
func (ix *Index) Numbered() uint64 { return ix.numbered.Load() }

// PairWords returns, for each [category, purpose] pair, the word the index would match a grant
// of it by (without expiry or flags), or 0 for a pair whose names the index has never numbered
// for the brand, which nobody can hold a grant of yet. Callers that check the same pairs often
// (consent signals) keep the words, with Numbered, and ask ActiveWords; words, once non-zero,
// never change.
func (ix *Index) PairWords(brand int64, pairs [][2]string, out []uint64) []uint64 {
	out = out[:0]
	for _, p := range pairs {
		c, _ := ix.term(brand, p[0], false)
		q, _ := ix.term(brand, p[1], false)
		w := uint64(0)
		if c != 0 && q != 0 {
			w = c<<categoryBit | q<<purposeBit
		}
		out = append(out, w)
	}
	return out
}

// ActiveWords reports, for each word of PairWords, whether the consumer holds a live grant of
// that pair at now: one lookup of the consumer for all of them.
func (ix *Index) ActiveWords(brand, consumer int64, words []uint64, now time.Time, out []bool) []bool {
	const mask = termMask<<categoryBit | termMask<<purposeBit
	out = out[:0]
	for range words {
		out = append(out, false)
	}
	if consumer == 0 {
		return out
	}
	s := ix.shard(consumer)
	s.mu.RLock()
	g, ok := s.m[consumerKey{brand, consumer}]
	s.mu.RUnlock()
	if !ok {
		return out
	}
	n := now.Unix()
	g.each(func(w uint64) bool {
		if live(w, n) {
			for i, want := range words {
				if want != 0 && w&mask == want {
					out[i] = true
				}
			}
		}
		return true
	})
	return out
}
