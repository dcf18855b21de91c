package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/symbiont/symbiont/catalog"
)

// PutItems upserts a brand's items, 500 a statement, each one version above its row's.
func (t *Tx) PutItems(ctx context.Context, brandID int64, items []*catalog.Item, at time.Time) error {
	for from := 0; from < len(items); from += 500 {
		part := items[from:min(from+500, len(items))]
		args := make([]any, 0, 7*len(part))
		for _, it := range part {
			body, err := it.Body()
			if err != nil {
				return err
			}
			args = append(args, brandID, it.ID, it.Category, boolInt(it.IsAvailable()), string(body), 1, ms(at))
		}
		rows, err := t.query(ctx, `INSERT INTO catalog_items (brand_id, id, category, available, body, version, updated_at)
			VALUES `+placeholders(len(part), 7)+`
			ON CONFLICT (brand_id, id) DO UPDATE SET category = excluded.category, available = excluded.available, body = excluded.body,
			version = catalog_items.version + 1, updated_at = excluded.updated_at, deleted_at = 0
			RETURNING id, version`, args...)
		if err != nil {
			return err
		}
		byID := make(map[string]*catalog.Item, len(part))
		for _, it := range part {
			byID[it.ID] = it
		}
		for rows.Next() {
			var id string
			var v int64
			if err := rows.Scan(&id, &v); err != nil {
				rows.Close()
				return err
			}
			if it := byID[id]; it != nil {
				it.Version, it.UpdatedAt, it.DeletedAt = v, at.Truncate(time.Millisecond), nil
			}
		}
		if err := rowsDone(rows); err != nil {
			return err
		}
	}
	return nil
}

const itemCols = `body, version, updated_at, deleted_at`

func scanItem(row interface{ Scan(...any) error }) (*catalog.Item, error) {
	var body string
	var version, updated, deleted int64
	if err := row.Scan(&body, &version, &updated, &deleted); err != nil {
		return nil, err
	}
	it := new(catalog.Item)
	if err := json.Unmarshal([]byte(body), it); err != nil {
		return nil, fmt.Errorf("sqlstore: stored item: %w", err)
	}
	it.Version, it.UpdatedAt = version, fromMS(updated)
	if deleted != 0 {
		d := fromMS(deleted)
		it.DeletedAt = &d
	}
	return it, nil
}

// Item returns a brand's item, deleted or not.
func (t *Tx) Item(ctx context.Context, brandID int64, id string) (*catalog.Item, error) {
	it, err := scanItem(t.queryRow(ctx, `SELECT `+itemCols+` FROM catalog_items WHERE brand_id = ? AND id = ?`, brandID, id))
	return it, notFound(err, "Item")
}

// Items returns a page of a brand's live items by id.
func (t *Tx) Items(ctx context.Context, brandID int64, after string, limit int) ([]*catalog.Item, error) {
	if limit <= 0 {
		return nil, nil
	}
	rows, err := t.query(ctx, `SELECT `+itemCols+` FROM catalog_items WHERE brand_id = ? AND deleted_at = 0 AND id > ? ORDER BY id LIMIT ?`,
		brandID, after, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*catalog.Item
	for rows.Next() {
		it, err := scanItem(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, it)
	}
	return out, rows.Err()
}

// DeleteItem marks a live item deleted.
func (t *Tx) DeleteItem(ctx context.Context, brandID int64, id string, at time.Time) (bool, error) {
	res, err := t.exec(ctx, `UPDATE catalog_items SET deleted_at = ?, available = 0, version = version + 1, updated_at = ?
		WHERE brand_id = ? AND id = ? AND deleted_at = 0`, ms(at), ms(at), brandID, id)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}
