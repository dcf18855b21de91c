package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/symbiont/symbiont/consent"
	"github.com/symbiont/symbiont/store"
)

// InsertConsentRecord appends r to the history and makes it the current state.
func (t *Tx) InsertConsentRecord(ctx context.Context, r *consent.Record) error {
	return t.insertConsentRecord(ctx, r, -1)
}

// InsertConsentRecordAfter appends r and makes it the current state if the current record is
// still previous (0: none); else it writes nothing and returns consent.ErrChanged.
func (t *Tx) InsertConsentRecordAfter(ctx context.Context, r *consent.Record, previous int64) error {
	return t.insertConsentRecord(ctx, r, previous)
}

// insertConsentRecord inserts r; previous < 0 replaces whatever is current, else the current
// record must be previous (0: none), checked by the statement that replaces it (no extra read).
func (t *Tx) insertConsentRecord(ctx context.Context, r *consent.Record, previous int64) error {
	var err error
	r.ID, err = t.insertID(ctx, `INSERT INTO consent_records (receipt_id, brand_id, consumer_id, category, purpose, state, at, expires_at,
		notice_id, notice_version, notice_hash, notice_language, notice_url, legal_basis, method, actor, jurisdiction, explicit, evidence, receipt)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		r.ReceiptID, r.BrandID, r.ConsumerID, r.Category, r.Purpose, r.State, ms(r.At), ms(r.ExpiresAt),
		r.Notice.ID, r.Notice.Version, r.Notice.Hash, r.Notice.Language, r.Notice.URL, r.LegalBasis, r.Method, r.Actor,
		r.Jurisdiction, boolInt(r.Explicit), string(r.Evidence), r.Receipt)
	if err != nil {
		return err
	}
	var res sql.Result
	switch {
	case previous < 0:
		res, err = t.exec(ctx, `INSERT INTO consents (brand_id, consumer_id, category, purpose, state, expires_at, updated_at, record_id)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (consumer_id, category, purpose) DO UPDATE SET state = excluded.state, expires_at = excluded.expires_at,
		updated_at = excluded.updated_at, record_id = excluded.record_id`,
			r.BrandID, r.ConsumerID, r.Category, r.Purpose, r.State, ms(r.ExpiresAt), ms(r.At), r.ID)
	case previous == 0:
		res, err = t.exec(ctx, `INSERT INTO consents (brand_id, consumer_id, category, purpose, state, expires_at, updated_at, record_id)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (consumer_id, category, purpose) DO NOTHING`,
			r.BrandID, r.ConsumerID, r.Category, r.Purpose, r.State, ms(r.ExpiresAt), ms(r.At), r.ID)
	default:
		res, err = t.exec(ctx, `UPDATE consents SET state = ?, expires_at = ?, updated_at = ?, record_id = ?
		WHERE consumer_id = ? AND category = ? AND purpose = ? AND record_id = ?`,
			r.State, ms(r.ExpiresAt), ms(r.At), r.ID, r.ConsumerID, r.Category, r.Purpose, previous)
	}
	if err != nil {
		return err
	}
	if previous >= 0 {
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n != 1 {
			// Someone else changed it first: take the history row back out, so that nothing
			// of this change remains even if the caller goes on.
			if _, err := t.exec(ctx, `DELETE FROM consent_records WHERE id = ?`, r.ID); err != nil {
				return err
			}
			r.ID = 0
			return consent.ErrChanged
		}
	}
	if err := t.countConsent(ctx, r); err != nil { // the console's counters, now it is in
		return err
	}
	return t.notifyConsent(ctx, r.BrandID, r.ConsumerID)
}

const recordCols = `r.id, r.receipt_id, r.brand_id, r.consumer_id, r.category, r.purpose, r.state, r.at, r.expires_at,
	r.notice_id, r.notice_version, r.notice_hash, r.notice_language, r.notice_url, r.legal_basis, r.method, r.actor,
	r.jurisdiction, r.explicit, r.evidence, r.receipt`

func scanRecord(row interface{ Scan(...any) error }) (*consent.Record, error) {
	var r consent.Record
	var at, exp, explicit int64
	var evidence string
	if err := row.Scan(&r.ID, &r.ReceiptID, &r.BrandID, &r.ConsumerID, &r.Category, &r.Purpose, &r.State, &at, &exp,
		&r.Notice.ID, &r.Notice.Version, &r.Notice.Hash, &r.Notice.Language, &r.Notice.URL, &r.LegalBasis, &r.Method, &r.Actor,
		&r.Jurisdiction, &explicit, &evidence, &r.Receipt); err != nil {
		return nil, err
	}
	r.At, r.ExpiresAt, r.Explicit = fromMS(at), fromMS(exp), explicit != 0
	if evidence != "" {
		r.Evidence = []byte(evidence)
	}
	return &r, nil
}

func (t *Tx) records(ctx context.Context, query string, args ...any) ([]*consent.Record, error) {
	rows, err := t.query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*consent.Record
	for rows.Next() {
		r, err := scanRecord(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// CurrentConsents returns the consumer's current record per category and purpose.
func (t *Tx) CurrentConsents(ctx context.Context, brandID, consumerID int64) ([]*consent.Record, error) {
	return t.records(ctx, `SELECT `+recordCols+` FROM consents c JOIN consent_records r ON r.id = c.record_id
		WHERE c.brand_id = ? AND c.consumer_id = ? ORDER BY c.category, c.purpose`, brandID, consumerID)
}

// ConsentStates returns the consumer's current state per category and purpose, without the
// records' contents.
func (t *Tx) ConsentStates(ctx context.Context, brandID, consumerID int64) ([]*consent.Record, error) {
	rows, err := t.query(ctx, `SELECT record_id, category, purpose, state, expires_at FROM consents
		WHERE brand_id = ? AND consumer_id = ? ORDER BY category, purpose`, brandID, consumerID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*consent.Record
	for rows.Next() {
		r := &consent.Record{BrandID: brandID, ConsumerID: consumerID}
		var exp int64
		if err := rows.Scan(&r.ID, &r.Category, &r.Purpose, &r.State, &exp); err != nil {
			return nil, err
		}
		r.ExpiresAt = fromMS(exp)
		out = append(out, r)
	}
	return out, rows.Err()
}

// ConsentHistory returns the consumer's records, oldest first.
func (t *Tx) ConsentHistory(ctx context.Context, brandID, consumerID int64) ([]*consent.Record, error) {
	return t.records(ctx, `SELECT `+recordCols+` FROM consent_records r WHERE r.brand_id = ? AND r.consumer_id = ? ORDER BY r.id`, brandID, consumerID)
}

// DueExpiries returns up to limit given grants whose expiry has passed; none when limit ≤ 0
// (PostgreSQL rejects a negative LIMIT where SQLite reads it as no limit).
func (t *Tx) DueExpiries(ctx context.Context, now time.Time, limit int) ([]*consent.Record, error) {
	if limit <= 0 {
		return nil, nil
	}
	return t.records(ctx, `SELECT `+recordCols+` FROM consents c JOIN consent_records r ON r.id = c.record_id
		WHERE c.state = 'given' AND c.expires_at <> 0 AND c.expires_at <= ? ORDER BY c.expires_at LIMIT ?`, ms(now), limit)
}

// CustomTerms returns a brand's own categories and purposes.
func (t *Tx) CustomTerms(ctx context.Context, brandID int64) ([]consent.Term, error) {
	rows, err := t.query(ctx, `SELECT kind, name, label, description, dpv, sensitive FROM vocabulary WHERE brand_id = ? ORDER BY kind, name`, brandID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []consent.Term
	for rows.Next() {
		var term consent.Term
		var sensitive int64
		if err := rows.Scan(&term.Kind, &term.Name, &term.Label, &term.Description, &term.DPV, &sensitive); err != nil {
			return nil, err
		}
		term.Sensitive = sensitive != 0
		out = append(out, term)
	}
	return out, rows.Err()
}

// PutCustomTerm adds or updates a brand's own category or purpose.
func (t *Tx) PutCustomTerm(ctx context.Context, brandID int64, term consent.Term) error {
	if err := t.notify(ctx, fmt.Sprintf("%s:%d", store.ChangeVocab, brandID)); err != nil {
		return err
	}
	_, err := t.exec(ctx, `INSERT INTO vocabulary (brand_id, kind, name, label, description, dpv, sensitive) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (brand_id, kind, name) DO UPDATE SET label = excluded.label, description = excluded.description,
		dpv = excluded.dpv, sensitive = excluded.sensitive`,
		brandID, term.Kind, term.Name, term.Label, term.Description, term.DPV, boolInt(term.Sensitive))
	return err
}

// ForEachActiveConsent streams every current record in state given (outside any transaction,
// from the reader pool), to build the in-memory index.
func (db *DB) ForEachActiveConsent(ctx context.Context, fn func(r *consent.Record) error) error {
	return db.View(ctx, func(tx store.Tx) error {
		t := tx.(*Tx)
		rows, err := t.query(ctx, `SELECT `+recordCols+` FROM consents c JOIN consent_records r ON r.id = c.record_id WHERE c.state = 'given'`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			r, err := scanRecord(rows)
			if err != nil {
				return err
			}
			if err := fn(r); err != nil {
				return err
			}
		}
		return rows.Err()
	})
}

// ConsentRecordByReceipt returns the record with the receipt id.
func (t *Tx) ConsentRecordByReceipt(ctx context.Context, brandID int64, receiptID string) (*consent.Record, error) {
	r, err := scanRecord(t.queryRow(ctx, `SELECT `+recordCols+` FROM consent_records r WHERE r.brand_id = ? AND r.receipt_id = ?`, brandID, receiptID))
	return r, notFound(err, "Consent record")
}

// ActiveGrants returns the consumers' grants in state given.
func (t *Tx) ActiveGrants(ctx context.Context, consumerIDs []int64) ([]consent.Grant, error) {
	if len(consumerIDs) == 0 {
		return nil, nil
	}
	in, args := inList(consumerIDs)
	rows, err := t.query(ctx, `SELECT brand_id, consumer_id, category, purpose, expires_at FROM consents WHERE state = 'given' AND consumer_id IN (`+in+`)`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []consent.Grant
	for rows.Next() {
		var g consent.Grant
		var exp int64
		if err := rows.Scan(&g.BrandID, &g.ConsumerID, &g.Category, &g.Purpose, &exp); err != nil {
			return nil, err
		}
		g.ExpiresAt = fromMS(exp)
		out = append(out, g)
	}
	return out, rows.Err()
}

// PurposeGrants returns a brand's given grants for a purpose and categories.
func (t *Tx) PurposeGrants(ctx context.Context, brandID int64, purpose string, categories []string) ([]consent.Grant, error) {
	if len(categories) == 0 {
		return nil, nil
	}
	in, cargs := inList(categories)
	rows, err := t.query(ctx, `SELECT consumer_id, category, expires_at FROM consents WHERE brand_id = ? AND purpose = ? AND state = 'given'
		AND category IN (`+in+`) ORDER BY consumer_id, category`, append([]any{brandID, purpose}, cargs...)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []consent.Grant
	for rows.Next() {
		g := consent.Grant{BrandID: brandID, Purpose: purpose}
		var exp int64
		if err := rows.Scan(&g.ConsumerID, &g.Category, &exp); err != nil {
			return nil, err
		}
		g.ExpiresAt = fromMS(exp)
		out = append(out, g)
	}
	return out, rows.Err()
}

// notify announces a change to other nodes (Engine.Notify: only once the transaction commits).
func (t *Tx) notify(ctx context.Context, payload string) error {
	return t.db.engine.Notify(ctx, t.execer(), payload)
}

func (t *Tx) notifyConsent(ctx context.Context, brandID, consumerID int64) error {
	if !t.db.shared {
		return nil // nobody to tell; and no payload to format on every consent change
	}
	return t.notify(ctx, fmt.Sprintf("%s:%d:%d", store.ChangeConsent, brandID, consumerID))
}

// parseChange reads a notification payload.
func parseChange(payload string) (store.Change, bool) {
	kind, rest, _ := strings.Cut(payload, ":")
	c := store.Change{Kind: kind}
	switch kind {
	case store.ChangeConsent:
		_, err := fmt.Sscanf(rest, "%d:%d", &c.BrandID, &c.ConsumerID)
		return c, err == nil
	case store.ChangeKey:
		c.KeyID = rest
		return c, rest != ""
	case store.ChangePlan, store.ChangeSignals, store.ChangeVocab:
		_, err := fmt.Sscanf(rest, "%d", &c.BrandID)
		return c, err == nil
	}
	return c, false
}

// LockConsumer locks the consumer until the transaction ends (Engine.LockConsumer), so that
// two nodes changing one consumer's consent at once see each other's change.
func (t *Tx) LockConsumer(ctx context.Context, consumerID int64) error {
	return t.db.engine.LockConsumer(ctx, t.execer(), consumerID)
}

// LockConsumers is LockConsumer of each consumer, in the order given (Engine.LockConsumers).
func (t *Tx) LockConsumers(ctx context.Context, consumerIDs []int64) error {
	return t.db.engine.LockConsumers(ctx, t.execer(), consumerIDs)
}

// consentRows: a consumer's consent state and history. Per category and purpose the more
// recent decision of the two consumers wins; the history (records) is kept at erasure as the
// brand's evidence of what was agreed. Other nodes are told either way.
type consentRows struct{}

func (consentRows) tables() []store.ConsumerTable {
	return []store.ConsumerTable{
		{Name: "consents", Column: "consumer_id"},
		{Name: "consent_records", Column: "consumer_id", Kept: "evidence of what was agreed, and when; a record holds no personal data in clear"},
	}
}

func (consentRows) merge(ctx context.Context, t *Tx, brandID, from, into int64) error {
	for _, c := range []int64{from, into} {
		if err := t.notifyConsent(ctx, brandID, c); err != nil {
			return err
		}
	}
	if t.req != nil {
		// The records of from become into's: the pairs' latest records change (see
		// latestDecisions). Cleared again if the merge is undone, after what it wrote is gone.
		t.db.latestDecisions().clear()
		t.OnUndo(t.db.latestDecisions().clear)
	}
	return t.moveRows(ctx, []step{
		{`DELETE FROM consents WHERE brand_id = ? AND consumer_id = ? AND EXISTS (SELECT 1 FROM consents f
			WHERE f.consumer_id = ? AND f.category = consents.category AND f.purpose = consents.purpose AND f.updated_at > consents.updated_at)`,
			[]any{brandID, into, from}},
		{`DELETE FROM consents WHERE brand_id = ? AND consumer_id = ? AND EXISTS (SELECT 1 FROM consents i
			WHERE i.consumer_id = ? AND i.category = consents.category AND i.purpose = consents.purpose)`,
			[]any{brandID, from, into}},
		{`UPDATE consents SET consumer_id = ? WHERE brand_id = ? AND consumer_id = ?`, []any{into, brandID, from}},
		{`UPDATE consent_records SET consumer_id = ? WHERE brand_id = ? AND consumer_id = ?`, []any{into, brandID, from}},
	})
}

func (consentRows) erase(ctx context.Context, t *Tx, brandID int64, ids []int64, at time.Time) (int64, error) {
	for _, c := range ids {
		if err := t.notifyConsent(ctx, brandID, c); err != nil {
			return 0, err
		}
	}
	return t.eraseIn(ctx, brandID, ids, `DELETE FROM consents WHERE brand_id = ? AND consumer_id IN (%s)`)
}
