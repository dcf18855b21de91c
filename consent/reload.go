package consent

import (
	"context"
	"fmt"
	"sync"
)

// Reloading a consumer's grants from the database (Reload: another node changed them, or a
// merge moved them; Load: the whole index) races with this node's own changes, which update
// the index themselves: withdrawals before their transaction commits, grants after. A reload
// that read the database before such a change committed and applied its read after the change
// updated the index would undo it: bring back a grant just withdrawn (consent would fail
// open) or drop one just given.
//
// So a reload applies its read only if nothing changed the consumer here from before the read
// to the apply; else it reads again. Changes are of two kinds:
//   - held: from before this node's change can commit until it has updated the index after
//     the commit (Hold ... release). A reload waits until no change of the consumer is held
//     before it reads; one held while it reads is stale.
//   - every update of the index (Set, Forget, a reload's own apply) counts as a change while
//     reads are in flight in its shard (touch), so an older read never lands on top of it.
//
// Since a reload reads only after every change held at its start was released, and any later
// change is seen at its apply, what it applies was read after the last change of the consumer
// made here. Changes of other nodes reach it by their notifications, in commit order.

// hold is the consumers' changes in progress on this node.
type hold struct {
	n    int
	done chan struct{} // made by the first reload to wait; closed when n falls to 0
	// latest is the ID of the newest record Set for each pair (category and purpose bits of
	// its word) while held: concurrent changes of one pair update the index in commit order.
	latest map[uint64]int64
}

// maxReloads bounds the reads of one Reload when the consumer keeps changing meanwhile.
const maxReloads = 16

// touch records a change of k's grants (s.mu held).
func (s *indexShard) touch(k consumerKey) {
	s.seq++
	if s.readers > 0 {
		s.changed[k] = s.seq
	}
}

// stale reports whether k has been changed since seq, or a change of it is held (s.mu held).
func (s *indexShard) stale(k consumerKey, since uint64) bool {
	return s.holds[k] != nil || s.changed[k] > since
}

// beginRead counts a read in flight and returns the sequence it must see unchanged (s.mu held).
func (s *indexShard) beginRead() uint64 {
	s.readers++
	return s.seq
}

func (s *indexShard) endRead() {
	if s.readers--; s.readers == 0 {
		clear(s.changed)
	}
}

// Hold announces a change of the consumer's consent by this node: from before its transaction
// commits (and before a withdrawal is marked) until the index is updated after the commit,
// when release is called (once or more). No reload of the consumer reads meanwhile, and none
// that read before applies.
func (ix *Index) Hold(brand, consumer int64) (release func()) {
	s := ix.shard(consumer)
	k := consumerKey{brand, consumer}
	s.mu.Lock()
	h := s.holds[k]
	if h == nil {
		h = &hold{}
		s.holds[k] = h
	}
	h.n++
	s.touch(k)
	s.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.touch(k)
			if h.n--; h.n == 0 {
				delete(s.holds, k)
				if h.done != nil {
					close(h.done)
				}
			}
		})
	}
}

// Reload sets the consumer's grants to the active ones among the records read returns (their
// current records, read from the database), unless this node changed the consumer while read
// ran: then it reads again. It waits for changes of the consumer held here to be released
// before it reads (until ctx ends). When read fails, or the consumer changed during each of
// maxReloads reads, the consumer's grants are dropped (denied until their next change) and
// the error returned.
func (ix *Index) Reload(ctx context.Context, brand, consumer int64, read func() ([]*Record, error)) error {
	s := ix.shard(consumer)
	k := consumerKey{brand, consumer}
	for tries := 0; tries < maxReloads; {
		s.mu.Lock()
		if h := s.holds[k]; h != nil {
			if h.done == nil {
				h.done = make(chan struct{})
			}
			done := h.done
			s.mu.Unlock()
			select {
			case <-done:
				continue
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		since := s.beginRead()
		s.mu.Unlock()
		cur, err := read()
		ws := ix.words(cur) // outside s.mu: numbering takes the terms lock
		s.mu.Lock()
		applied := err == nil && !s.stale(k, since)
		if applied {
			s.put(k, ws)
			s.touch(k)
		}
		s.endRead()
		s.mu.Unlock()
		if err != nil {
			ix.Forget(brand, consumer)
			return err
		}
		if applied {
			return nil
		}
		tries++
	}
	ix.Forget(brand, consumer)
	return fmt.Errorf("consent: consumer %d changed during each of %d reloads; their grants are denied until their next change", consumer, maxReloads)
}

// loading is a load of the whole index in progress: a read of every shard at once. A row of a
// consumer changed here since the load began is skipped (it may predate the change); Load
// reloads those consumers after.
type loading struct {
	ix      *Index
	since   [indexShards]uint64
	skipped map[consumerKey]struct{}
}

func (ix *Index) beginLoad() *loading {
	l := &loading{ix: ix, skipped: map[consumerKey]struct{}{}}
	for i := range ix.shards {
		s := &ix.shards[i]
		s.mu.Lock()
		l.since[i] = s.beginRead()
		s.mu.Unlock()
	}
	return l
}

// set indexes one active record read by the load; false when it was skipped.
func (l *loading) set(r *Record) bool {
	w, ok := l.ix.pack(r)
	if !ok {
		return false // cannot be numbered: denied
	}
	k := consumerKey{r.BrandID, r.ConsumerID}
	i := uint64(r.ConsumerID) % indexShards
	s := &l.ix.shards[i]
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stale(k, l.since[i]) {
		l.skipped[k] = struct{}{}
		return false
	}
	// Not a touch: the load's own rows of one consumer must not make each other stale.
	s.setWord(k, w, r.State == StateGiven)
	return true
}

// end ends the load and returns the consumers whose rows it skipped.
func (l *loading) end() []consumerKey {
	for i := range l.ix.shards {
		s := &l.ix.shards[i]
		s.mu.Lock()
		s.endRead()
		s.mu.Unlock()
	}
	out := make([]consumerKey, 0, len(l.skipped))
	for k := range l.skipped {
		out = append(out, k)
	}
	return out
}
