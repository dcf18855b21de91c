package ingest

import (
	"context"
	"sync"
	"time"

	"github.com/symbiont/symbiont"
	"github.com/symbiont/symbiont/store"
)

// Outcomes of a message at commit.
const (
	outcomeInserted = iota
	outcomeDuplicate
	outcomeDenied // consent went away between the gate and the commit
)

// writer commits events. Concurrent requests queue their messages; each writer goroutine takes
// everything queued (up to MaxGroup events) into one transaction — one fsync for many requests —
// and answers each request after the commit (group commit).
type writer struct {
	s        *Service
	ch       chan *job
	maxGroup int
	wg       sync.WaitGroup

	mu     sync.RWMutex
	closed bool
}

type job struct {
	work    []*pending
	outcome []int
	err     error
	done    chan struct{}
}

func newWriter(s *Service, opt Options) *writer {
	w := &writer{s: s, ch: make(chan *job, 1024), maxGroup: opt.MaxGroup}
	for range opt.Writers {
		w.wg.Add(1)
		go w.loop()
	}
	return w
}

// submit queues work and waits for its commit. The caller's context only bounds the wait for
// a place in the queue: once queued, work is committed even if the client goes away, so that
// what a retry finds is settled.
func (w *writer) submit(ctx context.Context, work []*pending) ([]int, error) {
	j := &job{work: work, done: make(chan struct{})}
	w.mu.RLock()
	if w.closed {
		w.mu.RUnlock()
		return nil, symbiont.Errorf(symbiont.EUNAVAILABLE, "The server is shutting down; retry.")
	}
	select {
	case w.ch <- j:
		w.mu.RUnlock()
	case <-ctx.Done():
		w.mu.RUnlock()
		return nil, ctx.Err()
	}
	<-j.done
	return j.outcome, j.err
}

func (w *writer) close() {
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		close(w.ch)
	}
	w.mu.Unlock()
	w.wg.Wait()
}

func (w *writer) loop() {
	defer w.wg.Done()
	for j := range w.ch {
		group := []*job{j}
		n := j.size()
	fill:
		for n < w.maxGroup {
			select {
			case j2, ok := <-w.ch:
				if !ok {
					break fill
				}
				group = append(group, j2)
				n += j2.size()
			default:
				break fill
			}
		}
		start := time.Now()
		err := w.commit(group)
		w.s.commitDur.Observe(time.Since(start).Seconds())
		if err != nil && len(group) > 1 {
			// One job's failure must not fail the others: retry each on its own.
			for _, j := range group {
				j.err = w.commit([]*job{j})
			}
		} else {
			for _, j := range group {
				j.err = err
			}
		}
		for _, j := range group {
			close(j.done)
		}
		w.s.batchSize.Observe(float64(n))
	}
}

func (j *job) size() int {
	n := 0
	for _, p := range j.work {
		n += len(p.events)
	}
	return n
}

// commit stores the events of a group in one transaction, re-checking consent inside it: with
// one writer the check and the insert are atomic with respect to withdrawals, which mark the
// index before their own commit.
func (w *writer) commit(group []*job) error {
	ctx := context.Background()
	return w.s.store.UpdateAlone(ctx, func(tx store.Tx) error {
		now := w.s.clock.Now()
		allowedAny := func(e *store.Event) bool {
			return w.s.consent.Index.AllowedAny(e.BrandID, e.ConsumerID, e.Category, now)
		}
		if w.s.store.Shared() {
			// Other nodes change consent too, and this node's index may lag: the database
			// decides, inside this transaction.
			var err error
			if allowedAny, err = dbDecider(ctx, tx, group, now); err != nil {
				return err
			}
		}
		var events []*store.Event
		type ref struct{ j, p int }
		var refs []ref
		for ji, j := range group {
			j.outcome = make([]int, len(j.work))
			for pi, p := range j.work {
				allowed := true
				for _, e := range p.events {
					if !allowedAny(e) {
						allowed = false
					}
				}
				if !allowed {
					j.outcome[pi] = outcomeDenied
					continue
				}
				j.outcome[pi] = outcomeDuplicate // until an insert says otherwise
				for _, e := range p.events {
					events = append(events, e)
					refs = append(refs, ref{ji, pi})
				}
			}
		}
		if len(events) == 0 {
			return nil
		}
		inserted, err := tx.InsertEvents(ctx, events)
		if err != nil {
			return err
		}
		for i, ok := range inserted {
			if ok {
				group[refs[i].j].outcome[refs[i].p] = outcomeInserted
			}
		}
		return nil
	})
}

// dbDecider loads the current grants of every consumer in the group and decides from them.
func dbDecider(ctx context.Context, tx store.Tx, group []*job, now time.Time) (func(*store.Event) bool, error) {
	seen := map[int64]bool{}
	var ids []int64
	for _, j := range group {
		for _, p := range j.work {
			for _, e := range p.events {
				if !seen[e.ConsumerID] {
					seen[e.ConsumerID] = true
					ids = append(ids, e.ConsumerID)
				}
			}
		}
	}
	grants, err := tx.ActiveGrants(ctx, ids)
	if err != nil {
		return nil, err
	}
	type key struct {
		brand, consumer int64
		category        string
	}
	ok := map[key]bool{}
	for _, g := range grants {
		if g.Active(now) {
			ok[key{g.BrandID, g.ConsumerID, g.Category}] = true
		}
	}
	return func(e *store.Event) bool { return ok[key{e.BrandID, e.ConsumerID, e.Category}] }, nil
}
