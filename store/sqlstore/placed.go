package sqlstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"

	"github.com/symbiont/symbiont"
	"github.com/symbiont/symbiont/store"
)

// Placed events (SQLite).
//
// SQLite stores a table in the B-tree of its integer key, so the key decides where a row lives.
// Events are keyed by slot = consumer_id << SlotBits | s, where s starts at the low SlotBits
// bits of the message digest (MID) and moves on to the next free slot of the consumer's range
// on a collision (linear probing, wrapping around). So:
//
//   - one consumer's events are contiguous: reading them is one range scan;
//   - the slot is also the dedup key: a message's copy can only sit at its home slot or further
//     along an unbroken run of occupied slots, since single slots are never freed (whole
//     consumers are, on erasure and merge);
//   - a commit writes about one table page per consumer it touches and maintains no index,
//     where an append-only table plus a (consumer, mid) index would write both.
//
// With 2^24 slots per consumer, a consumer with 10,000 events has a 0.06% chance per event of
// needing a second probe.
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

// homeSlot is where a message's probe sequence starts.
func homeSlot(consumer int64, mid []byte) int64 {
	var h uint32
	if len(mid) >= 4 {
		h = binary.BigEndian.Uint32(mid)
	}
	return consumer<<SlotBits | int64(h&slotMask)
}

// nextSlot is the slot after s in the consumer's range, wrapping around.
func nextSlot(s int64) int64 { return s&^slotMask | (s+1)&slotMask }

// insertPlaced stores events[todo] (already free of in-call duplicates), setting inserted and
// each inserted event's ID (its arrival sequence).
func (t *Tx) insertPlaced(ctx context.Context, events []*store.Event, todo []int, inserted []bool) error {
	if len(todo) == 0 {
		return nil
	}
	var last int64
	if err := t.queryRow(ctx, `UPDATE sequences SET value = value + ? WHERE name = 'events' RETURNING value`, len(todo)).Scan(&last); err != nil {
		return err
	}
	// Optimistic placement: each event at its home slot, moved along past slots this call has
	// taken. A slot the table already holds makes the insert skip the row; those rows are
	// settled one by one below by probing the table.
	used := make(map[int64]bool, len(todo))
	slots := make([]int64, len(todo))
	for j, i := range todo {
		e := events[i]
		if e.ConsumerID <= 0 || e.ConsumerID > maxConsumer {
			return fmt.Errorf("sqlstore: consumer id %d out of range for placed events", e.ConsumerID)
		}
		s := homeSlot(e.ConsumerID, e.MID)
		for used[s] {
			s = nextSlot(s)
		}
		used[s] = true
		slots[j] = s
		e.ID = last - int64(len(todo)) + int64(j) + 1
	}
	bySlot := make(map[int64]int, len(todo))
	start := 0
	for _, size := range chunks(len(todo)) {
		part := todo[start : start+size]
		base := start
		start += size
		args := make([]any, 0, len(part)*10)
		for j, i := range part {
			e := events[i]
			s := slots[base+j]
			bySlot[s] = i
			args = append(args, s, e.ID, e.BrandID, e.ConsumerID, e.Category, e.MID, ms(e.Timestamp), ms(e.ReceivedAt), e.KeyOwner, e.Payload)
		}
		rows, err := t.queryPrepared(ctx, insertEventsSQL(t.db.dialect, len(part)), args...)
		if err != nil {
			return err
		}
		for rows.Next() {
			var s int64
			if err := rows.Scan(&s); err != nil {
				rows.Close()
				return err
			}
			inserted[bySlot[s]] = true
		}
		if err := rows.Close(); err != nil {
			return err
		}
	}
	for _, i := range todo {
		if inserted[i] {
			continue
		}
		ok, err := t.placeOne(ctx, events[i])
		if err != nil {
			return err
		}
		inserted[i] = ok
		if !ok {
			events[i].ID = 0 // a duplicate: its sequence number goes unused
		}
	}
	return nil
}

// probeWindow is how many slots one probing query reads.
const probeWindow = 64

// placeOne walks e's probe sequence: it finds e's copy (a duplicate: false) or the first free
// slot, where it stores e (true).
func (t *Tx) placeOne(ctx context.Context, e *store.Event) (bool, error) {
	s := homeSlot(e.ConsumerID, e.MID)
	for walked := 0; walked <= slotMask; {
		// Read the window [s, s+probeWindow) of the consumer's range (up to its end).
		end := min(s+probeWindow, s|slotMask+1)
		taken := map[int64][]byte{}
		rows, err := t.query(ctx, `SELECT slot, mid FROM events WHERE slot >= ? AND slot < ?`, s, end)
		if err != nil {
			return false, err
		}
		for rows.Next() {
			var slot int64
			var mid []byte
			if err := rows.Scan(&slot, &mid); err != nil {
				rows.Close()
				return false, err
			}
			taken[slot] = mid
		}
		if err := rows.Close(); err != nil {
			return false, err
		}
		for ; s < end; s++ {
			mid, ok := taken[s]
			if !ok {
				_, err := t.exec(ctx, `INSERT INTO events (slot, seq, brand_id, consumer_id, category, mid, ts, received_at, key_owner, payload)
					VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, s, e.ID, e.BrandID, e.ConsumerID, e.Category, e.MID, ms(e.Timestamp), ms(e.ReceivedAt), e.KeyOwner, e.Payload)
				return err == nil, err
			}
			if bytes.Equal(mid, e.MID) {
				return false, nil
			}
			walked++
		}
		s = nextSlot(end - 1) // wraps to the range's start after its last slot
	}
	return false, symbiont.Errorf(symbiont.ECONFLICT, "The consumer holds the maximum of %d events.", slotMask+1)
}

// movePlaced moves from's events into into's range, keeping one copy of a message stored
// under both.
func (t *Tx) movePlaced(ctx context.Context, brandID, from, into int64) error {
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
	if _, err := t.exec(ctx, `DELETE FROM events WHERE slot >= ? AND slot < ? AND brand_id = ?`, lo, hi, brandID); err != nil {
		return err
	}
	if into > maxConsumer {
		return fmt.Errorf("sqlstore: consumer id %d out of range for placed events", into)
	}
	for _, e := range moving {
		if _, err := t.placeOne(ctx, e); err != nil {
			return err
		}
	}
	return nil
}
