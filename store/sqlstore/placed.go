package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"

	"github.com/symbiont/symbiont"
	"github.com/symbiont/symbiont/store"
)

// Placed events (SQLite).
//
// SQLite stores a table in the B-tree of its integer key, so the key decides where a row lives.
// Events are keyed by slot = consumer_id << SlotBits | n, where n is the consumer's own arrival
// count (0, 1, 2, …; migration 0008 renumbered older rows so). So:
//
//   - one consumer's events are contiguous: reading them is one range scan;
//   - a consumer's new events go to the end of its range, in arrival order: a commit writes
//     about one table page per consumer it touches (appending to its last page), where placing
//     events at random positions (by their message digest, as before 0008) wrote about one
//     page per event, and maintains no index;
//   - deduplication of (consumer, MID) is not in the key: the writer keeps each consumer's set
//     of stored MIDs in memory (midCache below), loaded from the consumer's range the first
//     time a transaction writes its events and kept while the writer is the only one changing
//     that range. Since one writer connection does every write, the set is exact: it is the
//     range's MIDs as the writer's own transaction sees them, undone with the transaction.
const (
	SlotBits = 24
	slotMask = 1<<SlotBits - 1
	// maxConsumer keeps consumer_id << SlotBits inside int64.
	maxConsumer = 1<<(63-SlotBits) - 1
)

// slotRange is the key range [lo, hi) of a consumer's events.
func slotRange(consumer int64) (lo, hi int64) {
	return consumer << SlotBits, (consumer + 1) << SlotBits
}

// midSet is what the writer knows of one consumer's stored events: their MIDs and the next
// free slot number.
type midSet struct {
	next int64 // the low SlotBits bits of the next event's slot
	m16  map[[16]byte]struct{}
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
	lo, hi := slotRange(consumer)
	rows, err := t.query(ctx, `SELECT slot, mid FROM events WHERE slot >= ? AND slot < ?`, lo, hi)
	if err != nil {
		return nil, err
	}
	s := &midSet{m16: map[[16]byte]struct{}{}}
	for rows.Next() {
		var slot int64
		var mid sql.RawBytes
		if err := rows.Scan(&slot, &mid); err != nil {
			rows.Close()
			return nil, err
		}
		s.add(mid)
		s.next = max(s.next, slot-lo+1)
	}
	if err := rows.Close(); err != nil {
		return nil, err
	}
	c.sets[consumer] = s
	c.n += s.len()
	return s, nil
}

// trackUndo arranges for the consumers' sets to be dropped should this transaction's writes be
// undone, and returns the set of consumers to add to. Without a writer that can report an
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

// insertPlaced stores events[todo] (already free of in-call duplicates) that the consumers'
// sets do not hold, setting inserted and each inserted event's ID (its arrival sequence).
func (t *Tx) insertPlaced(ctx context.Context, events []*store.Event, todo []int, inserted []bool) error {
	if len(todo) == 0 {
		return nil
	}
	return t.trackUndo(func(touched map[int64]bool) error {
		for _, i := range todo {
			touched[events[i].ConsumerID] = true
		}
		t.db.mids.evict(touched)
		type row struct {
			slot int64
			i    int
		}
		rows := make([]row, 0, len(todo))
		for _, i := range todo {
			e := events[i]
			if e.ConsumerID <= 0 || e.ConsumerID > maxConsumer {
				return fmt.Errorf("sqlstore: consumer id %d out of range for placed events", e.ConsumerID)
			}
			set, err := t.midSet(ctx, e.ConsumerID)
			if err != nil {
				return err
			}
			if set.has(e.MID) {
				continue // stored before: a duplicate
			}
			if set.next > slotMask {
				return symbiont.Errorf(symbiont.ECONFLICT, "The consumer holds the maximum of %d events.", slotMask+1)
			}
			rows = append(rows, row{e.ConsumerID<<SlotBits | set.next, i})
			set.next++
			set.add(e.MID)
			t.db.mids.n++
		}
		if len(rows) == 0 {
			return nil
		}
		var last int64
		if err := t.queryRow(ctx, `UPDATE sequences SET value = value + ? WHERE name = 'events' RETURNING value`, len(rows)).Scan(&last); err != nil {
			return err
		}
		for j, r := range rows { // ids in the order of the call
			events[r.i].ID = last - int64(len(rows)) + int64(j) + 1
			inserted[r.i] = true
		}
		// Rows go in key order, so that one statement's rows of a consumer land on the same
		// page one after the other: the statement journal then copies each page once.
		slices.SortFunc(rows, func(a, b row) int { return cmp.Compare(a.slot, b.slot) })
		start := 0
		for _, size := range chunks(len(rows)) {
			part := rows[start : start+size]
			start += size
			args := make([]any, 0, len(part)*10)
			for _, r := range part {
				e := events[r.i]
				args = append(args, r.slot, e.ID, e.BrandID, e.ConsumerID, e.Category, e.MID, ms(e.Timestamp), ms(e.ReceivedAt), e.KeyOwner, e.Payload)
			}
			res, err := t.execPrepared(ctx, insertEventsSQL(t.db.dialect, len(part)), args...)
			if err != nil {
				return err
			}
			// Every slot was free by the set's count: a row not stored would be an event
			// acknowledged and lost, so anything else fails the transaction.
			if n, err := res.RowsAffected(); err != nil || n != int64(len(part)) {
				return fmt.Errorf("sqlstore: %d of %d events stored (%v): the writer's view of the events table is wrong", n, len(part), err)
			}
		}
		return nil
	})
}

// movePlaced moves from's events to the end of into's range, in their arrival order, keeping
// one copy of a message stored under both.
func (t *Tx) movePlaced(ctx context.Context, brandID, from, into int64) error {
	if into <= 0 || into > maxConsumer {
		return fmt.Errorf("sqlstore: consumer id %d out of range for placed events", into)
	}
	lo, hi := slotRange(from)
	rows, err := t.query(ctx, `SELECT seq, category, mid, ts, received_at, key_owner, payload FROM events WHERE slot >= ? AND slot < ? AND brand_id = ? ORDER BY seq`, lo, hi, brandID)
	if err != nil {
		return err
	}
	var moving []*store.Event
	for rows.Next() {
		e := &store.Event{BrandID: brandID, ConsumerID: into}
		var ts, recv int64
		if err := rows.Scan(&e.ID, &e.Category, &e.MID, &ts, &recv, &e.KeyOwner, &e.Payload); err != nil {
			rows.Close()
			return err
		}
		e.Timestamp, e.ReceivedAt = fromMS(ts), fromMS(recv)
		moving = append(moving, e)
	}
	if err := rows.Close(); err != nil {
		return err
	}
	return t.trackUndo(func(touched map[int64]bool) error {
		touched[from], touched[into] = true, true
		if _, err := t.exec(ctx, `DELETE FROM events WHERE slot >= ? AND slot < ? AND brand_id = ?`, lo, hi, brandID); err != nil {
			return err
		}
		t.db.mids.drop(from)
		set, err := t.midSet(ctx, into)
		if err != nil {
			return err
		}
		for _, e := range moving {
			if set.has(e.MID) {
				continue
			}
			if set.next > slotMask {
				return symbiont.Errorf(symbiont.ECONFLICT, "The consumer holds the maximum of %d events.", slotMask+1)
			}
			if _, err := t.exec(ctx, `INSERT INTO events (slot, seq, brand_id, consumer_id, category, mid, ts, received_at, key_owner, payload)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, into<<SlotBits|set.next, e.ID, e.BrandID, e.ConsumerID, e.Category, e.MID, ms(e.Timestamp), ms(e.ReceivedAt), e.KeyOwner, e.Payload); err != nil {
				return err
			}
			set.next++
			set.add(e.MID)
			t.db.mids.n++
		}
		return nil
	})
}

// forgetPlaced drops the writer's sets of consumers whose events a transaction deletes.
func (t *Tx) forgetPlaced(consumers []int64) {
	if t.db.mids == nil {
		return
	}
	_ = t.trackUndo(func(touched map[int64]bool) error {
		for _, c := range consumers {
			touched[c] = true
			t.db.mids.drop(c)
		}
		return nil
	})
}
