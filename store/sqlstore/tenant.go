package sqlstore

import (
	"context"
	"time"

	"github.com/symbiont/symbiont"
	"github.com/symbiont/symbiont/store"
	"github.com/symbiont/symbiont/tenant"
)

// CreateBrand inserts b and sets its ID.
func (t *Tx) CreateBrand(ctx context.Context, b *tenant.Brand) error {
	return t.queryRow(ctx, `INSERT INTO brands (public_id, name, created_at, signing_key) VALUES (?, ?, ?, ?) RETURNING id`,
		b.PublicID, b.Name, ms(b.CreatedAt), b.SigningKey).Scan(&b.ID)
}

const brandCols = `id, public_id, name, created_at, signing_key`

func scanBrand(row interface{ Scan(...any) error }) (*tenant.Brand, error) {
	var b tenant.Brand
	var created int64
	if err := row.Scan(&b.ID, &b.PublicID, &b.Name, &created, &b.SigningKey); err != nil {
		return nil, err
	}
	b.CreatedAt = fromMS(created)
	return &b, nil
}

// BrandByID returns the brand with the internal id.
func (t *Tx) BrandByID(ctx context.Context, id int64) (*tenant.Brand, error) {
	b, err := scanBrand(t.queryRow(ctx, `SELECT `+brandCols+` FROM brands WHERE id = ?`, id))
	return b, notFound(err, "Brand")
}

// BrandPublicID returns the public id of a brand.
func (t *Tx) BrandPublicID(ctx context.Context, id int64) (string, error) {
	var pub string
	err := t.queryRow(ctx, `SELECT public_id FROM brands WHERE id = ?`, id).Scan(&pub)
	return pub, notFound(err, "Brand")
}

// BrandByPublicID returns the brand with the public id.
func (t *Tx) BrandByPublicID(ctx context.Context, publicID string) (*tenant.Brand, error) {
	b, err := scanBrand(t.queryRow(ctx, `SELECT `+brandCols+` FROM brands WHERE public_id = ?`, publicID))
	return b, notFound(err, "Brand")
}

// ListBrands returns every brand, oldest first.
func (t *Tx) ListBrands(ctx context.Context) ([]*tenant.Brand, error) {
	rows, err := t.query(ctx, `SELECT `+brandCols+` FROM brands ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*tenant.Brand
	for rows.Next() {
		b, err := scanBrand(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

// CreateKey inserts an API key.
func (t *Tx) CreateKey(ctx context.Context, k *tenant.Key) error {
	_, err := t.exec(ctx, `INSERT INTO api_keys (id, brand_id, kind, hash, prefix, name, scopes, created_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		k.ID, k.BrandID, k.Kind, k.Hash, k.Prefix, k.Name, joinList(k.Scopes), ms(k.CreatedAt), ms(k.RevokedAt))
	return err
}

const keyCols = `id, brand_id, kind, hash, prefix, name, scopes, created_at, revoked_at`

func scanKey(row interface{ Scan(...any) error }) (*tenant.Key, error) {
	var k tenant.Key
	var scopes string
	var created, revoked int64
	if err := row.Scan(&k.ID, &k.BrandID, &k.Kind, &k.Hash, &k.Prefix, &k.Name, &scopes, &created, &revoked); err != nil {
		return nil, err
	}
	k.Scopes, k.CreatedAt, k.RevokedAt = splitList(scopes), fromMS(created), fromMS(revoked)
	return &k, nil
}

// KeyByHash returns the key whose secret hashes to hash (revoked ones too; the caller checks).
func (t *Tx) KeyByHash(ctx context.Context, hash []byte) (*tenant.Key, error) {
	k, err := scanKey(t.queryRow(ctx, `SELECT `+keyCols+` FROM api_keys WHERE hash = ?`, hash))
	return k, notFound(err, "Key")
}

// ListKeys returns a brand's keys, oldest first.
func (t *Tx) ListKeys(ctx context.Context, brandID int64) ([]*tenant.Key, error) {
	rows, err := t.query(ctx, `SELECT `+keyCols+` FROM api_keys WHERE brand_id = ? ORDER BY created_at, id`, brandID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*tenant.Key
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// RevokeKey marks a brand's key revoked; revoking twice keeps the first time.
func (t *Tx) RevokeKey(ctx context.Context, brandID int64, keyID string, at time.Time) error {
	if err := t.notify(ctx, store.ChangeKey+":"+keyID); err != nil {
		return err
	}
	res, err := t.exec(ctx, `UPDATE api_keys SET revoked_at = CASE WHEN revoked_at = 0 THEN ? ELSE revoked_at END WHERE brand_id = ? AND id = ?`, ms(at), brandID, keyID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return notFound(errNoRows, "Key")
	}
	return nil
}

// CreateSession inserts a wallet session.
func (t *Tx) CreateSession(ctx context.Context, s *tenant.Session) error {
	_, err := t.exec(ctx, `INSERT INTO wallet_sessions (id, brand_id, consumer_id, hash, created_at, expires_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		s.ID, s.BrandID, s.ConsumerID, s.Hash, ms(s.CreatedAt), ms(s.ExpiresAt), ms(s.RevokedAt))
	return err
}

// SessionByHash returns the session whose token hashes to hash.
func (t *Tx) SessionByHash(ctx context.Context, hash []byte) (*tenant.Session, error) {
	var s tenant.Session
	var created, expires, revoked int64
	err := t.queryRow(ctx, `SELECT id, brand_id, consumer_id, hash, created_at, expires_at, revoked_at FROM wallet_sessions WHERE hash = ?`, hash).
		Scan(&s.ID, &s.BrandID, &s.ConsumerID, &s.Hash, &created, &expires, &revoked)
	if err != nil {
		return nil, notFound(err, "Session")
	}
	s.CreatedAt, s.ExpiresAt, s.RevokedAt = fromMS(created), fromMS(expires), fromMS(revoked)
	return &s, nil
}

// RevokeSessions revokes every session of a consumer.
func (t *Tx) RevokeSessions(ctx context.Context, brandID, consumerID int64, at time.Time) error {
	_, err := t.exec(ctx, `UPDATE wallet_sessions SET revoked_at = ? WHERE brand_id = ? AND consumer_id = ? AND revoked_at = 0`, ms(at), brandID, consumerID)
	return err
}

// Setting returns a named value, or nil when unset (an empty value is a non-nil empty slice).
func (t *Tx) Setting(ctx context.Context, name string) ([]byte, error) {
	var v []byte
	err := t.queryRow(ctx, `SELECT value FROM settings WHERE name = ?`, name).Scan(&v)
	if isNoRows(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if v == nil { // SQLite reads an empty BLOB back as nil, PostgreSQL as []byte{}
		v = []byte{}
	}
	return v, nil
}

// PutSetting sets a named value.
func (t *Tx) PutSetting(ctx context.Context, name string, value []byte) error {
	_, err := t.exec(ctx, `INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value`, name, value)
	return err
}

// Idempotent returns the record stored under a consumer's idempotency key (its HMAC), or nil.
func (t *Tx) Idempotent(ctx context.Context, brandID, consumerID int64, key []byte) (*symbiont.IdempotentRecord, error) {
	var r symbiont.IdempotentRecord
	err := t.queryRow(ctx, `SELECT request, result FROM idempotency_keys WHERE brand_id = ? AND consumer_id = ? AND key = ?`,
		brandID, consumerID, key).Scan(&r.Request, &r.Result)
	if isNoRows(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &r, nil
}

// PruneIdempotent deletes up to limit idempotency records stored before before, oldest first
// (through the created_at index of migration 0009 / 0008 on PostgreSQL).
func (t *Tx) PruneIdempotent(ctx context.Context, before time.Time, limit int) (int64, error) {
	if limit <= 0 { // none, in both engines (see UnsettledGrants)
		return 0, nil
	}
	res, err := t.exec(ctx, `DELETE FROM idempotency_keys WHERE (brand_id, consumer_id, key) IN
		(SELECT brand_id, consumer_id, key FROM idempotency_keys WHERE created_at < ? ORDER BY created_at LIMIT ?)`, ms(before), limit)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// PutIdempotent stores the record of a request made with an idempotency key.
func (t *Tx) PutIdempotent(ctx context.Context, brandID, consumerID int64, key []byte, rec symbiont.IdempotentRecord, at time.Time) error {
	_, err := t.exec(ctx, `INSERT INTO idempotency_keys (brand_id, consumer_id, key, request, result, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		brandID, consumerID, key, rec.Request, rec.Result, ms(at))
	return err
}

// idempotencyRows: the records of a consumer's idempotency keys. A merge keeps the surviving
// consumer's record of a key both used.
type idempotencyRows struct{}

func (idempotencyRows) tables() []store.ConsumerTable {
	return []store.ConsumerTable{{Name: "idempotency_keys", Column: "consumer_id"}}
}

func (idempotencyRows) merge(ctx context.Context, t *Tx, brandID, from, into int64) error {
	return t.moveRows(ctx, []step{
		{`DELETE FROM idempotency_keys WHERE brand_id = ? AND consumer_id = ? AND key IN (SELECT key FROM idempotency_keys WHERE brand_id = ? AND consumer_id = ?)`,
			[]any{brandID, from, brandID, into}},
		{`UPDATE idempotency_keys SET consumer_id = ? WHERE brand_id = ? AND consumer_id = ?`, []any{into, brandID, from}},
	})
}

func (idempotencyRows) erase(ctx context.Context, t *Tx, brandID int64, ids []int64, at time.Time) (int64, error) {
	return t.eraseIn(ctx, brandID, ids, `DELETE FROM idempotency_keys WHERE brand_id = ? AND consumer_id IN (%s)`)
}

// sessionRows: a consumer's wallet sessions. They follow a merge (an open wallet stays open);
// erasure revokes them, keeping the rows (a token's hash and times) so that a link still in
// someone's mail is refused as revoked.
type sessionRows struct{}

func (sessionRows) tables() []store.ConsumerTable {
	return []store.ConsumerTable{{Name: "wallet_sessions", Column: "consumer_id", Kept: "revoked, not deleted: a row holds a token's hash and times only"}}
}

func (sessionRows) merge(ctx context.Context, t *Tx, brandID, from, into int64) error {
	return t.moveRows(ctx, []step{{`UPDATE wallet_sessions SET consumer_id = ? WHERE brand_id = ? AND consumer_id = ?`, []any{into, brandID, from}}})
}

func (sessionRows) erase(ctx context.Context, t *Tx, brandID int64, ids []int64, at time.Time) (int64, error) {
	in, vals := inList(ids)
	_, err := t.exec(ctx, `UPDATE wallet_sessions SET revoked_at = ? WHERE revoked_at = 0 AND brand_id = ? AND consumer_id IN (`+in+`)`,
		append([]any{ms(at), brandID}, vals...)...)
	return 0, err
}
