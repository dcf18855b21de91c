package sqlstore

import (
	"context"
	"database/sql"

	"github.com/symbiont/symbiont/store"
)

// Events on SQLite: appended, deduplicated by the writer.
//
// SQLite stores a table in the B-tree of its integer key, so the key decides which pages a
// commit writes. Events are keyed by their id, taken in arrival order from the sequences
// table, so a commit appends its events to the last pages of the table (about one page per
// ten events, split at the right edge: SQLite's cheap balance_quick). A consumer's events are
// found through the small index events_consumer (consumer_id, id): its entries are a few bytes,
// so a commit writes about one index page per consumer it touches and that page seldom splits.
// (Migration 0008 replaced the layout of issue 2, where the key was consumer_id << 24 | a slot
// from the message digest: a consumer's rows were contiguous, but each commit wrote about 1.7
// pages per event into the middle of the tree, each insert into a full page splitting it and
// rewriting its neighbours; see docs/benchmarks.md, issue 14.)
//
// There is no unique (consumer_id, mid) index either, which would write a page per event at
// a random place: the single writer keeps each consumer's set of stored MIDs in memory
// (midCache), loaded from the consumer's rows the first time a transaction writes its events.
// Every write of the events table goes through that writer connection, so the set is exact —
// the consumer's MIDs as the writer's own transaction sees them — as long as every change of
// a consumer's events drops or updates its set, and an undone transaction drops the sets it
// touched (Tx.OnUndo). A false duplicate would drop an acknowledged event and a missed one
// store an event twice; neither can happen while that holds.

// midSet is the MIDs of one consumer's stored events.
type midSet struct {
	m16 map[[16]byte]struct{}
	// other holds MIDs that are not 16 bytes (ingest's are; the store accepts any).
	other map[string]struct{}
}

func (s *midSet) has(mid []byte) bool {
	if len(mid) == 16 {
		_, ok := s.m16[[16]byte(mid)]
		return ok
	}
	_, ok := s.other[string(mid)]
	return ok
}

func (s *midSet) add(mid []byte) {
	if len(mid) == 16 {
		s.m16[[16]byte(mid)] = struct{}{}
		return
	}
	if s.other == nil {
		s.other = map[string]struct{}{}
	}
	s.other[string(mid)] = struct{}{}
}

func (s *midSet) len() int { return len(s.m16) + len(s.other) }

// DefaultMIDCache bounds the MIDs the writer keeps in memory (about 40 bytes each).
const DefaultMIDCache = 4 << 20

// midCache holds the writer's per-consumer MID sets. Only the writer uses it (its committer and
// runner goroutines, which hand over through channels), so it needs no lock. Entries are
// dropped whole — on eviction, on erasure and merge, and when a transaction that changed them
// is undone — and reloaded from the table on next use; dropping is therefore always safe.
type midCache struct {
	sets map[int64]*midSet
	n    int // MIDs held
	max  int
}

func (c *midCache) drop(consumer int64) {
	if s, ok := c.sets[consumer]; ok {
		c.n -= s.len()
		delete(c.sets, consumer)
	}
}

// evict drops consumers not in keep until at most max MIDs remain (the consumers of the call
// at hand stay, so a single huge consumer may exceed the bound for as long as it is used).
func (c *midCache) evict(keep map[int64]bool) {
	for id := range c.sets { // map order: a random victim each time
		if c.n <= c.max {
			return
		}
		if !keep[id] {
			c.drop(id)
		}
	}
}

// midSet returns the writer's set for consumer, loading it from the table when absent.
func (t *Tx) midSet(ctx context.Context, consumer int64) (*midSet, error) {
	c := t.db.mids
	if s, ok := c.sets[consumer]; ok {
		return s, nil
	}
	rows, err := t.query(ctx, `SELECT mid FROM events WHERE consumer_id = ?`, consumer)
	if err != nil {
		return nil, err
	}
	s := &midSet{m16: map[[16]byte]struct{}{}}
	for rows.Next() {
		var mid sql.RawBytes
		if err := rows.Scan(&mid); err != nil {
			rows.Close()
			return nil, err
		}
		s.add(mid)
	}
	if err := rowsDone(rows); err != nil {
		return nil, err
	}
	c.sets[consumer] = s
	c.n += s.len()
	return s, nil
}

// trackUndo arranges for the consumers' sets to be dropped should this transaction's writes be
// undone, and runs fn with the set of consumers to add to. Without a writer that can report an
// undo (never for SQLite, which always groups), the sets are dropped when fn returns.
func (t *Tx) trackUndo(fn func(touched map[int64]bool) error) error {
	touched := map[int64]bool{}
	dropAll := func() {
		for id := range touched {
			t.db.mids.drop(id)
		}
	}
	if !t.OnUndo(dropAll) {
		defer dropAll()
	}
	return fn(touched)
}

// insertDeduped stores the events[todo] (already free of in-call duplicates) that their
// consumers' sets do not hold, setting inserted and each inserted event's ID.
func (t *Tx) insertDeduped(ctx context.Context, events []*store.Event, todo []int, inserted []bool) error {
	if len(todo) == 0 {
		return nil
	}
	return t.trackUndo(func(touched map[int64]bool) error {
		for _, i := range todo {
			touched[events[i].ConsumerID] = true
		}
		t.db.mids.evict(touched)
		fresh := make([]int, 0, len(todo))
		for _, i := range todo {
			e := events[i]
			set, err := t.midSet(ctx, e.ConsumerID)
			if err != nil {
				return err
			}
			if set.has(e.MID) {
				continue // stored before: a duplicate
			}
			set.add(e.MID)
			t.db.mids.n++
			fresh = append(fresh, i)
		}
		if len(fresh) == 0 {
			return nil
		}
		var last int64
		if err := t.queryRow(ctx, `UPDATE sequences SET value = value + ? WHERE name = 'events' RETURNING value`, len(fresh)).Scan(&last); err != nil {
			return err
		}
		// One single-row statement per event, in id order (appending): a multi-row INSERT
		// that sets the integer key makes SQLite keep a statement journal, a copy of every page
		// the statement changes (the key might fail to be an integer halfway through); a
		// single-row one needs none, and the prepared statement costs less than the copies.
		for j, i := range fresh {
			e := events[i]
			e.ID = last - int64(len(fresh)) + int64(j) + 1
			if _, err := t.exec(ctx, insertEventsSQL(t.db.dialect, 1, true), e.ID, e.BrandID, e.ConsumerID, e.Category, e.MID, ms(e.Timestamp), ms(e.ReceivedAt), e.KeyOwner, e.Payload); err != nil {
				return err
			}
			inserted[i] = true
		}
		return nil
	})
}

// forgetMIDs drops the writer's sets of consumers whose events a transaction deletes or
// moves; they are reloaded, from what the transaction left, when next needed.
func (t *Tx) forgetMIDs(consumers []int64) {
	_ = t.trackUndo(func(touched map[int64]bool) error {
		for _, c := range consumers {
			touched[c] = true
			t.db.mids.drop(c)
		}
		return nil
	})
}
