package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/symbiont/symbiont/store"
	"github.com/symbiont/symbiont/vault"
)

// insertChunk bounds the rows of one multi-row INSERT (10 values a row stays far below both
// engines' parameter limits).
const insertChunk = 256

// chunkSizes lists every statement size chunks uses.
func chunkSizes() []int {
	var out []int
	for size := insertChunk; size >= 1; size /= 2 {
		out = append(out, size)
	}
	return out
}

// insertEventsSQL is the multi-row insert of rows events for the dialect; with conflict, rows
// whose (consumer_id, mid) is stored already are skipped (without, they fail the statement).
func insertEventsSQL(d Dialect, rows int, conflict bool) string {
	if d.WriterDedup {
		// The writer has settled duplicates and ids (dedup.go): no conflict clause, no RETURNING.
		return `INSERT INTO events (id, brand_id, consumer_id, category, mid, ts, received_at, key_owner, payload) VALUES ` +
			placeholders(rows, 9)
	}
	q := `INSERT INTO events (brand_id, consumer_id, category, mid, ts, received_at, key_owner, payload) VALUES ` + placeholders(rows, 8)
	if conflict {
		q += ` ON CONFLICT (consumer_id, mid) DO NOTHING`
	}
	return q + ` RETURNING id, consumer_id, mid`
}

// chunks splits n rows into multi-row statements of insertChunk rows and then powers of two, so
// that a handful of statement shapes, each prepared once, serve every batch size.
func chunks(n int) []int {
	var out []int
	for n >= insertChunk {
		out = append(out, insertChunk)
		n -= insertChunk
	}
	for size := insertChunk / 2; n > 0; size /= 2 {
		if n >= size {
			out = append(out, size)
			n -= size
		}
	}
	return out
}

// InsertEvents stores events, skipping duplicates of (consumer, MID).
func (t *Tx) InsertEvents(ctx context.Context, events []*store.Event) (ins []bool, err error) {
	defer func() { // the console's count of stored events, in this transaction
		if err == nil {
			err = t.countInserted(ctx, events, ins)
		}
	}()
	inserted := make([]bool, len(events))
	// A (consumer, MID) repeated within the call is a duplicate of its first occurrence.
	type key struct {
		consumer int64
		mid      string
	}
	first := make(map[key]int, len(events))
	var todo []int
	for i, e := range events {
		k := key{e.ConsumerID, string(e.MID)}
		if _, dup := first[k]; dup {
			continue
		}
		first[k] = i
		todo = append(todo, i)
	}
	if t.db.dialect.WriterDedup {
		return inserted, t.insertDeduped(ctx, events, todo, inserted)
	}
	// Optimistic: without a conflict clause, inside a savepoint. ON CONFLICT makes PostgreSQL
	// probe the unique index for every row before it inserts the row, which descends the same
	// random (consumer_id, mid) index twice; a batch almost never holds a stored message (a
	// client's retry), and when it does, the savepoint is rolled back and the batch inserted
	// again with the clause (measured, issue 14: 48k → 58k events/s; docs/benchmarks.md).
	// Rolling back to the savepoint also ends a deadlock with another transaction inserting
	// the same messages in another order: its rows are no longer waited for, and the next
	// try waits for the other transaction instead of failing.
	if _, err := t.exec(ctx, `SAVEPOINT insert_events`); err != nil {
		return nil, err
	}
	err = t.insertReturning(ctx, events, todo, inserted, false)
	for try := 0; err != nil && t.db.engine.InsertConflict(err) && try < 3; try++ {
		if _, err := t.exec(ctx, `ROLLBACK TO SAVEPOINT insert_events`); err != nil {
			return nil, err
		}
		clear(inserted)
		for _, i := range todo {
			events[i].ID = 0
		}
		err = t.insertReturning(ctx, events, todo, inserted, true)
	}
	if err != nil {
		return nil, err
	}
	if _, err := t.exec(ctx, `RELEASE SAVEPOINT insert_events`); err != nil {
		return nil, err
	}
	return inserted, nil
}

// insertReturning inserts events[todo] (no two with the same consumer and MID), marking in
// inserted those stored and setting their ids.
func (t *Tx) insertReturning(ctx context.Context, events []*store.Event, todo []int, inserted []bool, conflict bool) error {
	type key struct {
		consumer int64
		mid      string
	}
	index := make(map[key]int, len(todo))
	for _, i := range todo {
		index[key{events[i].ConsumerID, string(events[i].MID)}] = i
	}
	start := 0
	for _, size := range chunks(len(todo)) {
		part := todo[start : start+size]
		start += size
		args := make([]any, 0, len(part)*8)
		for _, i := range part {
			e := events[i]
			args = append(args, e.BrandID, e.ConsumerID, e.Category, e.MID, ms(e.Timestamp), ms(e.ReceivedAt), e.KeyOwner, e.Payload)
		}
		rows, err := t.queryPrepared(ctx, insertEventsSQL(t.db.dialect, len(part), conflict), args...)
		if err != nil {
			return err
		}
		for rows.Next() {
			var id, consumer int64
			var mid []byte
			if err := rows.Scan(&id, &consumer, &mid); err != nil {
				rows.Close()
				return err
			}
			i := index[key{consumer, string(mid)}]
			inserted[i] = true
			events[i].ID = id
		}
		// A statement's error (a unique violation) may come with its first row, or after.
		if err := rowsDone(rows); err != nil {
			return err
		}
	}
	return nil
}

// ConsumerEvents returns a consumer's events in the given categories in arrival order. They
// come off the consumer's index (SQLite: events_consumer, in id order; PostgreSQL: the
// (consumer_id, mid) index, in mid order), and sorting pointers in Go is far cheaper than
// having the engine sort rows with their payloads.
func (t *Tx) ConsumerEvents(ctx context.Context, brandID, consumerID int64, categories []string, limit int) ([]*store.Event, error) {
	q := `SELECT id, category, mid, ts, received_at, key_owner, payload FROM events WHERE consumer_id = ? AND brand_id = ?`
	args := []any{consumerID, brandID}
	if len(categories) > 0 {
		in, cargs := inList(categories)
		q += ` AND category IN (` + in + `)`
		args = append(args, cargs...)
	}
	rows, err := t.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	// Rows are scanned as RawBytes and copied once into one arena, and the events share one
	// backing array: a read of thousands of events makes a handful of allocations, not
	// thousands.
	var evs []store.Event
	var arena []byte
	for rows.Next() {
		e := store.Event{BrandID: brandID, ConsumerID: consumerID}
		var ts, recv int64
		var mid, payload sql.RawBytes
		if err := rows.Scan(&e.ID, &e.Category, &mid, &ts, &recv, &e.KeyOwner, &payload); err != nil {
			return nil, err
		}
		if cap(arena)-len(arena) < len(mid)+len(payload) {
			// Arenas double from 4 KiB up to 256 KiB: a read of a few events (the usual
			// purpose-bound read) must not allocate and clear 256 KiB.
			arena = make([]byte, 0, max(min(max(2*cap(arena), 4<<10), 256<<10), len(mid)+len(payload)))
		}
		arena = append(arena, mid...)
		e.MID = arena[len(arena)-len(mid) : len(arena) : len(arena)]
		arena = append(arena, payload...)
		e.Payload = arena[len(arena)-len(payload) : len(arena) : len(arena)]
		e.Timestamp, e.ReceivedAt = fromMS(ts), fromMS(recv)
		evs = append(evs, e)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make([]*store.Event, len(evs))
	for i := range evs {
		out[i] = &evs[i]
	}
	slices.SortFunc(out, func(a, b *store.Event) int {
		if c := a.ReceivedAt.Compare(b.ReceivedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// DeleteConsumerData erases the consumers ids: every domain's rows (see domains, in rows.go)
// are deleted, or kept and scrubbed where the domain says why. It returns the number of events
// deleted.
func (t *Tx) DeleteConsumerData(ctx context.Context, brandID int64, consumerIDs []int64, at time.Time) (int64, error) {
	if len(consumerIDs) == 0 {
		return 0, nil
	}
	var events int64
	for _, d := range domains {
		n, err := d.erase(ctx, t, brandID, consumerIDs, at)
		if err != nil {
			return 0, err
		}
		if _, ok := d.(eventRows); ok {
			events = n
		}
	}
	return events, nil
}

// eventRows: a consumer's events. A message stored under both consumers of a merge (a retry
// straddling it) is kept once; the console's daily counts follow.
type eventRows struct{}

func (eventRows) tables() []store.ConsumerTable {
	return []store.ConsumerTable{{Name: "events", Column: "consumer_id"}}
}

func (eventRows) merge(ctx context.Context, t *Tx, brandID, from, into int64) error {
	before, err := t.eventDays(ctx, brandID, []int64{from, into})
	if err != nil {
		return err
	}
	if t.db.dialect.WriterDedup {
		// The writer's MID sets of both consumers change (or are undone): drop them.
		t.forgetMIDs([]int64{from, into})
	}
	if err := t.moveRows(ctx, []step{
		{`DELETE FROM events WHERE brand_id = ? AND consumer_id = ? AND mid IN (SELECT mid FROM events WHERE consumer_id = ?)`, []any{brandID, from, into}},
		{`UPDATE events SET consumer_id = ? WHERE brand_id = ? AND consumer_id = ?`, []any{into, brandID, from}},
	}); err != nil {
		return err
	}
	after, err := t.eventDays(ctx, brandID, []int64{into})
	if err != nil {
		return err
	}
	c := counts{}
	for d, n := range before {
		c.add(brandID, metricEvents, d, "", "", after[d]-n)
	}
	return t.addCounts(ctx, c)
}

func (eventRows) erase(ctx context.Context, t *Tx, brandID int64, ids []int64, at time.Time) (int64, error) {
	if err := t.uncountEvents(ctx, brandID, ids); err != nil { // the console's count
		return 0, err
	}
	if t.db.dialect.WriterDedup {
		t.forgetMIDs(ids)
	}
	return t.eraseIn(ctx, brandID, ids, `DELETE FROM events WHERE brand_id = ? AND consumer_id IN (%s)`)
}

// accessRows: the access log. Its records name a purpose, an actor and categories, never the
// data read: they are the brand's evidence of what was done and stay after erasure.
type accessRows struct{}

func (accessRows) tables() []store.ConsumerTable {
	return []store.ConsumerTable{{Name: "access_log", Column: "consumer_id", Kept: "evidence of each use of the data; holds no personal data"}}
}

func (accessRows) merge(ctx context.Context, t *Tx, brandID, from, into int64) error {
	return t.moveRows(ctx, []step{{`UPDATE access_log SET consumer_id = ? WHERE brand_id = ? AND consumer_id = ?`, []any{into, brandID, from}}})
}

func (accessRows) erase(context.Context, *Tx, int64, []int64, time.Time) (int64, error) {
	return 0, nil
}

// TrackingPlan returns a brand's tracking plan JSON and version; version 0 when none is set.
func (t *Tx) TrackingPlan(ctx context.Context, brandID int64) ([]byte, int64, error) {
	var plan string
	var version int64
	err := t.queryRow(ctx, `SELECT plan, version FROM tracking_plans WHERE brand_id = ?`, brandID).Scan(&plan, &version)
	if isNoRows(err) {
		return nil, 0, nil
	}
	return []byte(plan), version, err
}

// PutTrackingPlan replaces a brand's tracking plan and returns its new version.
func (t *Tx) PutTrackingPlan(ctx context.Context, brandID int64, plan []byte, at time.Time) (int64, error) {
	if err := t.notify(ctx, fmt.Sprintf("%s:%d", store.ChangePlan, brandID)); err != nil {
		return 0, err
	}
	var v int64
	err := t.queryRow(ctx, `INSERT INTO tracking_plans (brand_id, version, plan, updated_at) VALUES (?, 1, ?, ?)
		ON CONFLICT (brand_id) DO UPDATE SET version = tracking_plans.version + 1, plan = excluded.plan, updated_at = excluded.updated_at
		RETURNING version`, brandID, string(plan), ms(at)).Scan(&v)
	return v, err
}

// SignalMap returns a brand's consent signal mapping JSON and version; version 0 when none is
// set.
func (t *Tx) SignalMap(ctx context.Context, brandID int64) ([]byte, int64, error) {
	var m string
	var version int64
	err := t.queryRow(ctx, `SELECT map, version FROM consent_signal_maps WHERE brand_id = ?`, brandID).Scan(&m, &version)
	if isNoRows(err) {
		return nil, 0, nil
	}
	return []byte(m), version, err
}

// PutSignalMap replaces a brand's consent signal mapping and returns its new version.
func (t *Tx) PutSignalMap(ctx context.Context, brandID int64, m []byte, at time.Time) (int64, error) {
	if err := t.notify(ctx, fmt.Sprintf("%s:%d", store.ChangeSignals, brandID)); err != nil {
		return 0, err
	}
	var v int64
	err := t.queryRow(ctx, `INSERT INTO consent_signal_maps (brand_id, version, map, updated_at) VALUES (?, 1, ?, ?)
		ON CONFLICT (brand_id) DO UPDATE SET version = consent_signal_maps.version + 1, map = excluded.map, updated_at = excluded.updated_at
		RETURNING version`, brandID, string(m), ms(at)).Scan(&v)
	return v, err
}

// InsertAccess appends an access record.
func (t *Tx) InsertAccess(ctx context.Context, r *store.AccessRecord) error {
	id, err := t.insertID(ctx, `INSERT INTO access_log (brand_id, consumer_id, actor, purpose, categories, withheld, records, action, request_id, at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		r.BrandID, r.ConsumerID, r.Actor, r.Purpose, joinList(r.Categories), joinList(r.Withheld), r.Records, r.Action, r.RequestID, ms(r.At))
	if err != nil {
		return err
	}
	r.ID = id
	return nil
}

// InsertAccesses appends access records in multi-row statements. A bulk read's records share
// everything but their consumer and number of records, so each run of records alike in the
// rest is one statement that binds the shared columns once and a (consumer, records) pair per
// record (two integers: no text to copy into the driver per row), of the sizes chunks gives
// (a handful of shapes, each prepared once). The ids follow the order of the records: on
// SQLite (LastInsertID) the single writer gives a statement's rows consecutive rowids in the
// order of VALUES (INTEGER PRIMARY KEY, one larger than the largest), so they follow from the
// last; elsewhere RETURNING reports them, and they are taken in ascending order, the order in
// which the sequence handed them to the rows of VALUES.
func (t *Tx) InsertAccesses(ctx context.Context, rs []*store.AccessRecord) error {
	if len(rs) == 1 {
		return t.InsertAccess(ctx, rs[0])
	}
	args := make([]any, 0, 8+2*min(len(rs), insertChunk))
	for from := 0; from < len(rs); {
		run := from + 1
		for run < len(rs) && sameAccess(rs[from], rs[run]) {
			run++
		}
		first := rs[from]
		shared := []any{first.BrandID, first.Actor, first.Purpose, joinList(first.Categories), joinList(first.Withheld), first.Action, first.RequestID, ms(first.At)}
		for _, size := range chunks(run - from) {
			part := rs[from : from+size]
			from += size
			args = append(args[:0], shared...)
			for _, r := range part {
				args = append(args, r.ConsumerID, r.Records)
			}
			q := `INSERT INTO access_log (brand_id, actor, purpose, categories, withheld, action, request_id, at, consumer_id, records)
				SELECT ?, ?, ?, ?, ?, ?, ?, ?, column1, column2 FROM (VALUES (CAST(? AS BIGINT), CAST(? AS BIGINT))` +
				strings.Repeat(",(?,?)", size-1) + `) AS v` // the first row's types are every row's (PostgreSQL)
			if t.db.dialect.LastInsertID {
				first, err := t.execConsecutive(ctx, q, len(part), args...)
				if err != nil {
					return err
				}
				for i, r := range part {
					r.ID = first + int64(i)
				}
				continue
			}
			rows, err := t.query(ctx, q+` RETURNING id`, args...)
			if err != nil {
				return err
			}
			ids := make([]int64, 0, len(part))
			for rows.Next() {
				var id int64
				if err := rows.Scan(&id); err != nil {
					rows.Close()
					return err
				}
				ids = append(ids, id)
			}
			if err := rowsDone(rows); err != nil {
				return err
			}
			if len(ids) != len(part) {
				return fmt.Errorf("sqlstore: %d access records inserted of %d", len(ids), len(part))
			}
			slices.Sort(ids)
			for i, r := range part {
				r.ID = ids[i]
			}
		}
	}
	return nil
}

// sameAccess reports whether two access records differ at most in their consumer and number of
// records (InsertAccesses writes the rest once).
func sameAccess(a, b *store.AccessRecord) bool {
	return a.BrandID == b.BrandID && a.Actor == b.Actor && a.Purpose == b.Purpose && slices.Equal(a.Categories, b.Categories) &&
		slices.Equal(a.Withheld, b.Withheld) && a.Action == b.Action && a.RequestID == b.RequestID && a.At.Equal(b.At)
}

// AccessLog returns a consumer's access records, newest first, at most limit (all when ≤ 0).
func (t *Tx) AccessLog(ctx context.Context, brandID, consumerID int64, limit int) ([]*store.AccessRecord, error) {
	q := `SELECT id, brand_id, consumer_id, actor, purpose, categories, withheld, records, action, request_id, at FROM access_log
		WHERE brand_id = ? AND consumer_id = ? ORDER BY id DESC`
	args := []any{brandID, consumerID}
	if limit > 0 {
		q += ` LIMIT ?`
		args = append(args, limit)
	}
	rows, err := t.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*store.AccessRecord
	for rows.Next() {
		var r store.AccessRecord
		var cats, withheld string
		var at int64
		if err := rows.Scan(&r.ID, &r.BrandID, &r.ConsumerID, &r.Actor, &r.Purpose, &cats, &withheld, &r.Records, &r.Action, &r.RequestID, &at); err != nil {
			return nil, err
		}
		r.Categories, r.Withheld, r.At = splitList(cats), splitList(withheld), fromMS(at)
		out = append(out, &r)
	}
	return out, rows.Err()
}

// keyStore keeps data keys in the dialect's key table, each call its own transaction.
type keyStore struct{ db *DB }

func (k *keyStore) table(q string) string {
	return strings.ReplaceAll(q, "KEYS", k.db.dialect.KeyTable)
}

// PutKey stores a key unless the consumer has one; it returns the stored key.
func (k *keyStore) PutKey(ctx context.Context, wk *vault.WrappedKey) (*vault.WrappedKey, error) {
	if _, err := k.db.keysDB.ExecContext(ctx, k.db.q(k.table(`INSERT INTO KEYS (consumer_id, brand_id, wrapped, created_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (consumer_id) DO NOTHING`)), wk.ConsumerID, wk.BrandID, wk.Wrapped, ms(wk.CreatedAt)); err != nil {
		return nil, err
	}
	return k.Key(ctx, wk.ConsumerID)
}

// Key returns a consumer's wrapped key.
func (k *keyStore) Key(ctx context.Context, consumerID int64) (*vault.WrappedKey, error) {
	var wk vault.WrappedKey
	var created int64
	err := k.db.keysDB.QueryRowContext(ctx, k.db.q(k.table(`SELECT consumer_id, brand_id, wrapped, created_at FROM KEYS WHERE consumer_id = ?`)), consumerID).
		Scan(&wk.ConsumerID, &wk.BrandID, &wk.Wrapped, &created)
	if err != nil {
		return nil, notFound(err, "Data key")
	}
	wk.CreatedAt = fromMS(created)
	return &wk, nil
}

// DeleteKeys destroys keys.
func (k *keyStore) DeleteKeys(ctx context.Context, consumerIDs []int64) (int64, error) {
	if len(consumerIDs) == 0 {
		return 0, nil
	}
	in, args := inList(consumerIDs)
	res, err := k.db.keysDB.ExecContext(ctx, k.db.q(k.table(`DELETE FROM KEYS WHERE consumer_id IN (`+in+`)`)), args...)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, err
	}
	// Purge even when nothing was deleted now: a retry after a failed purge must purge.
	if p := k.db.dialect.PurgeKeys; p != "" {
		var busy int64
		var rest1, rest2 any
		if err := k.db.keysDB.QueryRowContext(ctx, p).Scan(&busy, &rest1, &rest2); err != nil {
			return n, fmt.Errorf("sqlstore: %d data keys deleted but not purged: %w", n, err)
		}
		if busy != 0 {
			return n, fmt.Errorf("sqlstore: %d data keys deleted but not purged: the key database is busy; retry", n)
		}
	}
	return n, nil
}
