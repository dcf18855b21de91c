package sqlstore

import (
	"context"
	"time"

	"github.com/symbiont/symbiont/store"
)

const dayMS = 86400000 // in the query text too

// ConsentChanges returns every consent record of the brand, oldest first (routing fields only).
func (t *Tx) ConsentChanges(ctx context.Context, brandID int64) ([]store.ConsentChange, error) {
	rows, err := t.query(ctx, `SELECT consumer_id, category, purpose, state, at, expires_at FROM consent_records
		WHERE brand_id = ? ORDER BY at, id`, brandID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.ConsentChange
	for rows.Next() {
		var c store.ConsentChange
		var at, exp int64
		if err := rows.Scan(&c.ConsumerID, &c.Category, &c.Purpose, &c.State, &at, &exp); err != nil {
			return nil, err
		}
		c.At = fromMS(at)
		if exp != 0 {
			c.ExpiresAt = fromMS(exp)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// ConsumerCreations returns when each live consumer of the brand was created.
func (t *Tx) ConsumerCreations(ctx context.Context, brandID int64) ([]time.Time, error) {
	rows, err := t.query(ctx, `SELECT created_at FROM consumers WHERE brand_id = ? AND merged_into = 0`, brandID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []time.Time
	for rows.Next() {
		var at int64
		if err := rows.Scan(&at); err != nil {
			return nil, err
		}
		out = append(out, fromMS(at))
	}
	return out, rows.Err()
}

// StoredEventsPerDay counts the brand's stored events per UTC day of arrival since from. It
// reads routing columns only, never a payload.
func (t *Tx) StoredEventsPerDay(ctx context.Context, brandID int64, from time.Time) ([]store.IngestCount, error) {
	rows, err := t.query(ctx, `SELECT received_at / 86400000 AS d, COUNT(*) FROM events
		WHERE brand_id = ? AND received_at >= ? GROUP BY d ORDER BY d`, brandID, ms(from))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.IngestCount
	for rows.Next() {
		var d, n int64
		if err := rows.Scan(&d, &n); err != nil {
			return nil, err
		}
		out = append(out, store.IngestCount{BrandID: brandID, Day: fromMS(d * dayMS), Outcome: "accepted", Count: n})
	}
	return out, rows.Err()
}

// AddIngestCounts adds to the daily tallies.
func (t *Tx) AddIngestCounts(ctx context.Context, counts []store.IngestCount) error {
	for _, c := range counts {
		if c.Count == 0 {
			continue
		}
		if _, err := t.exec(ctx, `INSERT INTO ingest_daily (brand_id, day, outcome, n) VALUES (?, ?, ?, ?)
			ON CONFLICT (brand_id, day, outcome) DO UPDATE SET n = ingest_daily.n + excluded.n`,
			c.BrandID, ms(c.Day.UTC().Truncate(24*time.Hour)), c.Outcome, c.Count); err != nil {
			return err
		}
	}
	return nil
}

// IngestCounts returns the brand's daily tallies since from, by day.
func (t *Tx) IngestCounts(ctx context.Context, brandID int64, from time.Time) ([]store.IngestCount, error) {
	rows, err := t.query(ctx, `SELECT day, outcome, n FROM ingest_daily WHERE brand_id = ? AND day >= ? ORDER BY day, outcome`,
		brandID, ms(from.UTC().Truncate(24*time.Hour)))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.IngestCount
	for rows.Next() {
		c := store.IngestCount{BrandID: brandID}
		var d int64
		if err := rows.Scan(&d, &c.Outcome, &c.Count); err != nil {
			return nil, err
		}
		c.Day = fromMS(d)
		out = append(out, c)
	}
	return out, rows.Err()
}
