package sqlstore

import (
	"context"
	"encoding/hex"
	"time"

	"github.com/symbiont/symbiont/identity"
	"github.com/symbiont/symbiont/store"
)

// CreateConsumer inserts a new consumer and returns its id.
func (t *Tx) CreateConsumer(ctx context.Context, brandID int64, at time.Time) (int64, error) {
	id, err := t.insertID(ctx, `INSERT INTO consumers (brand_id, created_at) VALUES (?, ?) RETURNING id`, brandID, ms(at))
	if err != nil {
		return 0, err
	}
	return id, t.addCounts(ctx, counts{{brandID, metricConsumers, endDay(ms(at)), "", ""}: 1})
}

// Consumer returns a brand's consumer.
func (t *Tx) Consumer(ctx context.Context, brandID, id int64) (*identity.Consumer, error) {
	var c identity.Consumer
	var created int64
	err := t.queryRow(ctx, `SELECT id, brand_id, created_at, merged_into FROM consumers WHERE brand_id = ? AND id = ?`, brandID, id).
		Scan(&c.ID, &c.BrandID, &created, &c.MergedInto)
	if err != nil {
		return nil, notFound(err, "Consumer")
	}
	c.CreatedAt = fromMS(created)
	return &c, nil
}

// LookupIdentifier returns the live (not merged) consumers linked to an identifier. Merges move
// identifiers, but a link made to a consumer after it was merged (a node acting on a stale
// cache) stays with the merged consumer and must not be found.
func (t *Tx) LookupIdentifier(ctx context.Context, brandID int64, kind string, hash []byte) ([]int64, error) {
	rows, err := t.query(ctx, `SELECT consumer_id FROM identifiers WHERE brand_id = ? AND kind = ? AND hash = ?
		AND NOT EXISTS (SELECT 1 FROM consumers c WHERE c.id = identifiers.consumer_id AND c.merged_into <> 0)
		ORDER BY consumer_id`, brandID, kind, hash)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// LinkIdentifier links an identifier to a consumer; linking twice keeps the first.
func (t *Tx) LinkIdentifier(ctx context.Context, id *identity.Identifier) error {
	_, err := t.exec(ctx, `INSERT INTO identifiers (brand_id, kind, hash, consumer_id, key_owner, sealed, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (brand_id, kind, hash, consumer_id) DO NOTHING`,
		id.BrandID, id.Kind, id.Hash, id.ConsumerID, id.KeyOwner, id.Sealed, ms(id.CreatedAt))
	return err
}

// LockIdentifier locks the identifier until the transaction ends (Engine.LockIdentifier; on
// SQLite, which has one writer, nothing).
func (t *Tx) LockIdentifier(ctx context.Context, brandID int64, kind string, hash []byte) error {
	return t.db.engine.LockIdentifier(ctx, t.execer(), brandID, kind, hash)
}

// ConsumerIdentifiers returns every identifier of a consumer.
func (t *Tx) ConsumerIdentifiers(ctx context.Context, brandID, consumerID int64) ([]*identity.Identifier, error) {
	rows, err := t.query(ctx, `SELECT brand_id, kind, hash, consumer_id, key_owner, sealed, created_at FROM identifiers
		WHERE brand_id = ? AND consumer_id = ? ORDER BY created_at, kind`, brandID, consumerID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*identity.Identifier
	for rows.Next() {
		var id identity.Identifier
		var created int64
		if err := rows.Scan(&id.BrandID, &id.Kind, &id.Hash, &id.ConsumerID, &id.KeyOwner, &id.Sealed, &created); err != nil {
			return nil, err
		}
		id.CreatedAt = fromMS(created)
		out = append(out, &id)
	}
	return out, rows.Err()
}

// MergeConsumers moves everything of from into into: every domain's rows (see domains, in
// rows.go), then the consumer itself, which is marked merged.
func (t *Tx) MergeConsumers(ctx context.Context, brandID, from, into int64, at time.Time) error {
	if err := t.countMerge(ctx, brandID, from, into); err != nil {
		return err
	}
	for _, d := range domains {
		if err := d.merge(ctx, t, brandID, from, into); err != nil {
			return err
		}
	}
	_, err := t.exec(ctx, `UPDATE consumers SET merged_into = ? WHERE brand_id = ? AND (id = ? OR merged_into = ?)`, into, brandID, from, from)
	return err
}

// identityRows: a consumer's identifiers. One both consumers have is kept once.
type identityRows struct{}

func (identityRows) tables() []store.ConsumerTable {
	return []store.ConsumerTable{{Name: "identifiers", Column: "consumer_id"}}
}

func (identityRows) merge(ctx context.Context, t *Tx, brandID, from, into int64) error {
	return t.moveRows(ctx, []step{
		{`DELETE FROM identifiers WHERE brand_id = ? AND consumer_id = ? AND EXISTS (SELECT 1 FROM identifiers i
			WHERE i.brand_id = identifiers.brand_id AND i.kind = identifiers.kind AND i.hash = identifiers.hash AND i.consumer_id = ?)`,
			[]any{brandID, from, into}},
		{`UPDATE identifiers SET consumer_id = ? WHERE brand_id = ? AND consumer_id = ?`, []any{into, brandID, from}},
	})
}

func (identityRows) erase(ctx context.Context, t *Tx, brandID int64, ids []int64, at time.Time) (int64, error) {
	return t.eraseIn(ctx, brandID, ids, `DELETE FROM identifiers WHERE brand_id = ? AND consumer_id IN (%s)`)
}

// MergedFrom returns every consumer merged into id (merges re-point, so one level suffices).
func (t *Tx) MergedFrom(ctx context.Context, brandID, id int64) ([]int64, error) {
	rows, err := t.query(ctx, `SELECT id FROM consumers WHERE brand_id = ? AND merged_into = ? ORDER BY id`, brandID, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// RecordConflict records (or refreshes) an over-merge report.
func (t *Tx) RecordConflict(ctx context.Context, c *identity.Conflict) error {
	_, err := t.exec(ctx, `INSERT INTO identity_conflicts (brand_id, kind, hash, consumers, first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (brand_id, kind, hash) DO UPDATE SET consumers = excluded.consumers, last_seen = excluded.last_seen`,
		c.BrandID, c.Kind, c.Hash, c.Consumers, ms(c.FirstSeen), ms(c.LastSeen))
	return err
}

// Conflicts returns a brand's over-merge reports, newest first.
func (t *Tx) Conflicts(ctx context.Context, brandID int64) ([]*identity.Conflict, error) {
	rows, err := t.query(ctx, `SELECT brand_id, kind, hash, consumers, first_seen, last_seen FROM identity_conflicts WHERE brand_id = ? ORDER BY last_seen DESC`, brandID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*identity.Conflict
	for rows.Next() {
		var c identity.Conflict
		var first, last int64
		if err := rows.Scan(&c.BrandID, &c.Kind, &c.Hash, &c.Consumers, &first, &last); err != nil {
			return nil, err
		}
		c.FirstSeen, c.LastSeen, c.HashHex = fromMS(first), fromMS(last), hex.EncodeToString(c.Hash)
		out = append(out, &c)
	}
	return out, rows.Err()
}
