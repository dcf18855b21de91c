package sqlstore

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/symbiont/symbiont"
	"github.com/symbiont/symbiont/store"
	"github.com/symbiont/symbiont/vault"
)

// insertChunk bounds the rows of one multi-row INSERT (9 values a row stays far below both
// engines' parameter limits).
const insertChunk = 200

// SeqBits is the width of the per-consumer sequence in clustered event ids: a consumer may
// hold up to 16,777,215 events, and consumer ids must stay below 2^39.
const SeqBits = 24

const seqMask = 1<<SeqBits - 1

// eventRange is the id range of a consumer's events in a clustered table: [lo, hi).
func eventRange(consumer int64) (lo, hi int64) { return consumer << SeqBits, (consumer + 1) << SeqBits }

// InsertEvents stores events in multi-row statements, skipping duplicates of (consumer, MID).
func (t *Tx) InsertEvents(ctx context.Context, events []*store.Event) ([]bool, error) {
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
	clustered := t.db.dialect.ClusteredEvents
	var ids []int64
	if clustered {
		var err error
		if ids, err = t.assignIDs(ctx, events, todo); err != nil {
			return nil, err
		}
	}
	cols, n := `brand_id, consumer_id, category, mid, ts, received_at, key_owner, payload`, 8
	if clustered {
		cols, n = `id, `+cols, 9
	}
	for start := 0; start < len(todo); start += insertChunk {
		part := todo[start:min(start+insertChunk, len(todo))]
		args := make([]any, 0, len(part)*n)
		for j, i := range part {
			e := events[i]
			if clustered {
				args = append(args, ids[start+j])
			}
			args = append(args, e.BrandID, e.ConsumerID, e.Category, e.MID, ms(e.Timestamp), ms(e.ReceivedAt), e.KeyOwner, e.Payload)
		}
		rows, err := t.query(ctx, `INSERT INTO events (`+cols+`) VALUES `+
			placeholders(len(part), n)+` ON CONFLICT (consumer_id, mid) DO NOTHING RETURNING id, consumer_id, mid`, args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var id, consumer int64
			var mid []byte
			if err := rows.Scan(&id, &consumer, &mid); err != nil {
				rows.Close()
				return nil, err
			}
			i := first[key{consumer, string(mid)}]
			inserted[i] = true
			events[i].ID = id
		}
		if err := rows.Close(); err != nil {
			return nil, err
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return inserted, nil
}

// assignIDs gives each event to insert the next ids of its consumer's range, in order.
// Duplicates skipped by the insert leave gaps, which nothing minds.
func (t *Tx) assignIDs(ctx context.Context, events []*store.Event, todo []int) ([]int64, error) {
	next := map[int64]int64{}
	ids := make([]int64, len(todo))
	for j, i := range todo {
		c := events[i].ConsumerID
		if c <= 0 || c >= 1<<(63-SeqBits) {
			return nil, fmt.Errorf("sqlstore: consumer id %d out of range for clustered events", c)
		}
		id, ok := next[c]
		if !ok {
			lo, hi := eventRange(c)
			if err := t.queryRow(ctx, `SELECT COALESCE(MAX(id), ?) FROM events WHERE id >= ? AND id < ?`, lo, lo, hi).Scan(&id); err != nil {
				return nil, err
			}
		}
		id++
		if id&seqMask == 0 {
			return nil, symbiont.Errorf(symbiont.ECONFLICT, "Consumer %d holds the maximum of %d events.", c, seqMask)
		}
		next[c] = id
		ids[j] = id
	}
	return ids, nil
}

// ConsumerEvents returns a consumer's events in the given categories, oldest first (by
// arrival). In a clustered table they are one range scan; otherwise they come off the
// (consumer_id, mid) index. Sorting pointers in Go is far cheaper than having the engine sort
// rows with their payloads.
func (t *Tx) ConsumerEvents(ctx context.Context, brandID, consumerID int64, categories []string, limit int) ([]*store.Event, error) {
	q := `SELECT id, category, mid, ts, received_at, key_owner, payload FROM events WHERE consumer_id = ? AND brand_id = ?`
	args := []any{consumerID, brandID}
	if t.db.dialect.ClusteredEvents {
		lo, hi := eventRange(consumerID)
		q = `SELECT id, category, mid, ts, received_at, key_owner, payload FROM events WHERE id >= ? AND id < ? AND brand_id = ?`
		args = []any{lo, hi, brandID}
	}
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
	var out []*store.Event
	for rows.Next() {
		e := store.Event{BrandID: brandID, ConsumerID: consumerID}
		var ts, recv int64
		if err := rows.Scan(&e.ID, &e.Category, &e.MID, &ts, &recv, &e.KeyOwner, &e.Payload); err != nil {
			return nil, err
		}
		e.Timestamp, e.ReceivedAt = fromMS(ts), fromMS(recv)
		out = append(out, &e)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	// Arrival order; after a merge the two consumers' events interleave by time.
	slices.SortStableFunc(out, func(a, b *store.Event) int {
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

// DeleteConsumerData deletes the personal data of the given consumers.
func (t *Tx) DeleteConsumerData(ctx context.Context, brandID int64, consumerIDs []int64, at time.Time) (int64, error) {
	if len(consumerIDs) == 0 {
		return 0, nil
	}
	in, ids := inList(consumerIDs)
	args := append([]any{brandID}, ids...)
	res, err := t.exec(ctx, `DELETE FROM events WHERE brand_id = ? AND consumer_id IN (`+in+`)`, args...)
	if err != nil {
		return 0, err
	}
	n, _ := res.RowsAffected()
	for _, q := range []string{
		`DELETE FROM identifiers WHERE brand_id = ? AND consumer_id IN (` + in + `)`,
		`DELETE FROM consents WHERE brand_id = ? AND consumer_id IN (` + in + `)`,
	} {
		if _, err := t.exec(ctx, q, args...); err != nil {
			return 0, err
		}
	}
	if _, err := t.exec(ctx, `UPDATE wallet_sessions SET revoked_at = ? WHERE revoked_at = 0 AND brand_id = ? AND consumer_id IN (`+in+`)`,
		append([]any{ms(at)}, args...)...); err != nil {
		return 0, err
	}
	return n, nil
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
	var v int64
	err := t.queryRow(ctx, `INSERT INTO tracking_plans (brand_id, version, plan, updated_at) VALUES (?, 1, ?, ?)
		ON CONFLICT (brand_id) DO UPDATE SET version = tracking_plans.version + 1, plan = excluded.plan, updated_at = excluded.updated_at
		RETURNING version`, brandID, string(plan), ms(at)).Scan(&v)
	return v, err
}

// InsertAccess appends an access record.
func (t *Tx) InsertAccess(ctx context.Context, r *store.AccessRecord) error {
	return t.queryRow(ctx, `INSERT INTO access_log (brand_id, consumer_id, actor, purpose, categories, withheld, records, action, request_id, at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		r.BrandID, r.ConsumerID, r.Actor, r.Purpose, joinList(r.Categories), joinList(r.Withheld), r.Records, r.Action, r.RequestID, ms(r.At)).Scan(&r.ID)
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
