package sqlstore

import (
	"context"
	"strings"
	"time"

	"github.com/symbiont/symbiont"
	"github.com/symbiont/symbiont/rewards"
)

// PutRateCard stores a new version of a brand's rate card.
func (t *Tx) PutRateCard(ctx context.Context, brandID int64, card []byte, at time.Time) (int64, error) {
	var v int64
	if err := t.queryRow(ctx, `SELECT COALESCE(MAX(version), 0) + 1 FROM rate_cards WHERE brand_id = ?`, brandID).Scan(&v); err != nil {
		return 0, err
	}
	_, err := t.exec(ctx, `INSERT INTO rate_cards (brand_id, version, card, created_at) VALUES (?, ?, ?, ?)`, brandID, v, string(card), ms(at))
	return v, err
}

// RateCard returns a version of a brand's rate card (0: the newest), or nil.
func (t *Tx) RateCard(ctx context.Context, brandID, version int64) ([]byte, int64, error) {
	q, args := `SELECT card, version FROM rate_cards WHERE brand_id = ? ORDER BY version DESC LIMIT 1`, []any{brandID}
	if version > 0 {
		q, args = `SELECT card, version FROM rate_cards WHERE brand_id = ? AND version = ?`, []any{brandID, version}
	}
	var card string
	var v int64
	err := t.queryRow(ctx, q, args...).Scan(&card, &v)
	if isNoRows(err) {
		return nil, 0, nil
	}
	return []byte(card), v, err
}

const grantCols = `record_id, receipt_id, brand_id, consumer_id, category, purpose, card_version, starts_at, ends_at, ended_at,
	days, bonus_paid, settled, points_per_30, bonus, factor_milli, cap, duration_days`

func (t *Tx) grants(ctx context.Context, q string, args ...any) ([]*rewards.Grant, error) {
	rows, err := t.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*rewards.Grant
	for rows.Next() {
		var g rewards.Grant
		var start, end, ended, bonusPaid, settled int64
		if err := rows.Scan(&g.RecordID, &g.ReceiptID, &g.BrandID, &g.ConsumerID, &g.Category, &g.Purpose, &g.Version, &start, &end, &ended,
			&g.Days, &bonusPaid, &settled, &g.PointsPer30, &g.Bonus, &g.FactorMilli, &g.Cap, &g.DurationDays); err != nil {
			return nil, err
		}
		g.Start, g.End, g.Ended, g.BonusPaid, g.Settled = fromMS(start), fromMS(end), fromMS(ended), bonusPaid != 0, settled != 0
		out = append(out, &g)
	}
	return out, rows.Err()
}

// InsertGrant starts paying a grant.
func (t *Tx) InsertGrant(ctx context.Context, g *rewards.Grant) error {
	_, err := t.exec(ctx, `INSERT INTO reward_grants (`+grantCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		g.RecordID, g.ReceiptID, g.BrandID, g.ConsumerID, g.Category, g.Purpose, g.Version, ms(g.Start), ms(g.End), ms(g.Ended),
		g.Days, boolInt(g.BonusPaid), boolInt(g.Settled), g.PointsPer30, g.Bonus, g.FactorMilli, g.Cap, g.DurationDays)
	return err
}

// LatestGrant returns the consumer's newest grant of a pair, or nil.
func (t *Tx) LatestGrant(ctx context.Context, consumerID int64, category, purpose string) (*rewards.Grant, error) {
	gs, err := t.grants(ctx, `SELECT `+grantCols+` FROM reward_grants WHERE consumer_id = ? AND category = ? AND purpose = ?
		ORDER BY record_id DESC LIMIT 1`, consumerID, category, purpose)
	if err != nil || len(gs) == 0 {
		return nil, err
	}
	return gs[0], nil
}

// EndGrant ends a grant (withdrawal, refusal, expiry or renewal).
func (t *Tx) EndGrant(ctx context.Context, recordID int64, at time.Time) error {
	_, err := t.exec(ctx, `UPDATE reward_grants SET ended_at = ? WHERE record_id = ? AND ended_at = 0`, ms(at), recordID)
	return err
}

// UnsettledGrants returns unsettled grants after a record id.
func (t *Tx) UnsettledGrants(ctx context.Context, after int64, limit int) ([]*rewards.Grant, error) {
	return t.grants(ctx, `SELECT `+grantCols+` FROM reward_grants WHERE settled = 0 AND record_id > ? ORDER BY record_id LIMIT ?`, after, limit)
}

// CreditGrant records how far a grant is credited.
func (t *Tx) CreditGrant(ctx context.Context, recordID int64, days int, bonusPaid, settled bool) error {
	_, err := t.exec(ctx, `UPDATE reward_grants SET days = ?, bonus_paid = ?, settled = ? WHERE record_id = ?`, days, boolInt(bonusPaid), boolInt(settled), recordID)
	return err
}

// ActiveGrantCount counts the consumer's paid grants active at now.
func (t *Tx) ActiveGrantCount(ctx context.Context, consumerID int64, now time.Time) (int, error) {
	var n int
	err := t.queryRow(ctx, `SELECT COUNT(*) FROM reward_grants WHERE consumer_id = ? AND ended_at = 0 AND ends_at > ?`, consumerID, ms(now)).Scan(&n)
	return n, err
}

// PostJournal books a balanced journal and updates the balances; a consumer balance must not go
// below zero.
func (t *Tx) PostJournal(ctx context.Context, j *rewards.Journal) error {
	var sum int64
	for _, p := range j.Postings {
		sum += p.Amount
	}
	if sum != 0 || len(j.Postings) < 2 {
		return symbiont.Errorf(symbiont.EINTERNAL, "An unbalanced journal (%d) was refused.", sum)
	}
	err := t.queryRow(ctx, `INSERT INTO points_journal (brand_id, consumer_id, kind, idempotency_key, at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (brand_id, idempotency_key) DO NOTHING RETURNING id`, j.BrandID, j.ConsumerID, j.Kind, j.IdempotencyKey, ms(j.At)).Scan(&j.ID)
	if isNoRows(err) {
		return symbiont.Errorf(symbiont.ECONFLICT, "This movement of points was already booked.").With("reason", "duplicate")
	} else if err != nil {
		return err
	}
	args := make([]any, 0, 6*len(j.Postings))
	delta := map[string]int64{}
	var accounts []string
	for i, p := range j.Postings {
		args = append(args, j.ID, i, p.Account, p.Amount, p.Description, p.Ref)
		if _, ok := delta[p.Account]; !ok {
			accounts = append(accounts, p.Account)
		}
		delta[p.Account] += p.Amount
	}
	if _, err := t.exec(ctx, `INSERT INTO points_postings (journal_id, line, account, amount, description, ref) VALUES `+placeholders(len(j.Postings), 6), args...); err != nil {
		return err
	}
	for _, acct := range accounts {
		var bal int64
		if err := t.queryRow(ctx, `INSERT INTO points_balances (account, brand_id, balance) VALUES (?, ?, ?)
			ON CONFLICT (account) DO UPDATE SET balance = points_balances.balance + excluded.balance RETURNING balance`,
			acct, j.BrandID, delta[acct]).Scan(&bal); err != nil {
			return err
		}
		if bal < 0 && strings.HasPrefix(acct, "consumer:") {
			return symbiont.Errorf(symbiont.ECONFLICT, "Not enough points.").With("reason", "insufficient_points")
		}
	}
	return nil
}

// JournalByKey returns a journal by idempotency key (without postings), or nil.
func (t *Tx) JournalByKey(ctx context.Context, brandID int64, key string) (*rewards.Journal, error) {
	var j rewards.Journal
	var at int64
	err := t.queryRow(ctx, `SELECT id, brand_id, consumer_id, kind, idempotency_key, at FROM points_journal WHERE brand_id = ? AND idempotency_key = ?`,
		brandID, key).Scan(&j.ID, &j.BrandID, &j.ConsumerID, &j.Kind, &j.IdempotencyKey, &at)
	if isNoRows(err) {
		return nil, nil
	}
	j.At = fromMS(at)
	return &j, err
}

// Balance returns an account's balance (0 for an account never used).
func (t *Tx) Balance(ctx context.Context, account string) (int64, error) {
	var b int64
	err := t.queryRow(ctx, `SELECT balance FROM points_balances WHERE account = ?`, account).Scan(&b)
	if isNoRows(err) {
		return 0, nil
	}
	return b, err
}

// Statement returns an account's postings, newest first.
func (t *Tx) Statement(ctx context.Context, account string, limit int) ([]rewards.StatementLine, error) {
	if limit <= 0 {
		limit = 1000
	}
	rows, err := t.query(ctx, `SELECT j.at, j.kind, p.amount, p.description, p.ref FROM points_postings p JOIN points_journal j ON j.id = p.journal_id
		WHERE p.account = ? ORDER BY p.journal_id DESC, p.line LIMIT ?`, account, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []rewards.StatementLine
	for rows.Next() {
		var l rewards.StatementLine
		var at int64
		if err := rows.Scan(&at, &l.Kind, &l.Points, &l.Description, &l.Ref); err != nil {
			return nil, err
		}
		l.At = fromMS(at)
		out = append(out, l)
	}
	return out, rows.Err()
}

// Earned sums the accrual and bonus credits to a consumer since t.
func (t *Tx) Earned(ctx context.Context, consumerID int64, since time.Time) (int64, error) {
	var n int64
	err := t.queryRow(ctx, `SELECT COALESCE(SUM(p.amount), 0) FROM points_postings p JOIN points_journal j ON j.id = p.journal_id
		WHERE p.account = ? AND j.kind = 'accrual' AND j.at >= ? AND p.amount > 0`, rewards.ConsumerAccount(consumerID), ms(since)).Scan(&n)
	return n, err
}

// InsertLot stores points earned together.
func (t *Tx) InsertLot(ctx context.Context, l *rewards.Lot) error {
	return t.queryRow(ctx, `INSERT INTO points_lots (brand_id, consumer_id, amount, remaining, earned_at, expires_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING id`,
		l.BrandID, l.ConsumerID, l.Amount, l.Remaining, ms(l.EarnedAt), ms(l.ExpiresAt)).Scan(&l.ID)
}

// SpendLots takes amount from the consumer's oldest unexpired lots.
func (t *Tx) SpendLots(ctx context.Context, consumerID int64, amount int64, now time.Time) error {
	rows, err := t.query(ctx, `SELECT id, remaining FROM points_lots WHERE consumer_id = ? AND remaining > 0 AND (expires_at = 0 OR expires_at > ?)
		ORDER BY earned_at, id`, consumerID, ms(now))
	if err != nil {
		return err
	}
	type lot struct{ id, remaining int64 }
	var lots []lot
	for rows.Next() {
		var l lot
		if err := rows.Scan(&l.id, &l.remaining); err != nil {
			rows.Close()
			return err
		}
		lots = append(lots, l)
	}
	if err := rows.Close(); err != nil {
		return err
	}
	for _, l := range lots {
		if amount == 0 {
			break
		}
		take := min(amount, l.remaining)
		if _, err := t.exec(ctx, `UPDATE points_lots SET remaining = remaining - ? WHERE id = ?`, take, l.id); err != nil {
			return err
		}
		amount -= take
	}
	if amount > 0 {
		return symbiont.Errorf(symbiont.ECONFLICT, "Not enough unexpired points.").With("reason", "insufficient_points")
	}
	return nil
}

// ExpiredLots returns lots with points left past their expiry.
func (t *Tx) ExpiredLots(ctx context.Context, now time.Time, limit int) ([]*rewards.Lot, error) {
	rows, err := t.query(ctx, `SELECT id, brand_id, consumer_id, amount, remaining, earned_at, expires_at FROM points_lots
		WHERE remaining > 0 AND expires_at <> 0 AND expires_at <= ? ORDER BY expires_at, id LIMIT ?`, ms(now), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*rewards.Lot
	for rows.Next() {
		var l rewards.Lot
		var earned, expires int64
		if err := rows.Scan(&l.ID, &l.BrandID, &l.ConsumerID, &l.Amount, &l.Remaining, &earned, &expires); err != nil {
			return nil, err
		}
		l.EarnedAt, l.ExpiresAt = fromMS(earned), fromMS(expires)
		out = append(out, &l)
	}
	return out, rows.Err()
}

// EmptyLot sets a lot's remaining points to zero.
func (t *Tx) EmptyLot(ctx context.Context, lotID int64) error {
	_, err := t.exec(ctx, `UPDATE points_lots SET remaining = 0 WHERE id = ?`, lotID)
	return err
}

// PutReward adds or changes a catalogue item.
func (t *Tx) PutReward(ctx context.Context, r *rewards.Reward) error {
	_, err := t.exec(ctx, `INSERT INTO reward_catalog (brand_id, id, name, kind, description, cost, stock, per_consumer, active) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (brand_id, id) DO UPDATE SET name = excluded.name, kind = excluded.kind, description = excluded.description,
		cost = excluded.cost, stock = excluded.stock, per_consumer = excluded.per_consumer, active = excluded.active`,
		r.BrandID, r.ID, r.Name, r.Kind, r.Description, r.Cost, r.Stock, r.PerConsumer, boolInt(r.Active))
	return err
}

const rewardCols = `brand_id, id, name, kind, description, cost, stock, per_consumer, active`

func scanReward(row interface{ Scan(...any) error }) (*rewards.Reward, error) {
	var r rewards.Reward
	var active int64
	if err := row.Scan(&r.BrandID, &r.ID, &r.Name, &r.Kind, &r.Description, &r.Cost, &r.Stock, &r.PerConsumer, &active); err != nil {
		return nil, err
	}
	r.Active = active != 0
	return &r, nil
}

// Rewards lists a brand's catalogue by cost.
func (t *Tx) Rewards(ctx context.Context, brandID int64) ([]*rewards.Reward, error) {
	rows, err := t.query(ctx, `SELECT `+rewardCols+` FROM reward_catalog WHERE brand_id = ? ORDER BY cost, id`, brandID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*rewards.Reward
	for rows.Next() {
		r, err := scanReward(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// Reward returns one catalogue item.
func (t *Tx) Reward(ctx context.Context, brandID int64, id string) (*rewards.Reward, error) {
	r, err := scanReward(t.queryRow(ctx, `SELECT `+rewardCols+` FROM reward_catalog WHERE brand_id = ? AND id = ?`, brandID, id))
	return r, notFound(err, "Reward")
}

// TakeStock decrements a limited reward's stock.
func (t *Tx) TakeStock(ctx context.Context, brandID int64, id string) (bool, error) {
	res, err := t.exec(ctx, `UPDATE reward_catalog SET stock = CASE WHEN stock < 0 THEN stock ELSE stock - 1 END
		WHERE brand_id = ? AND id = ? AND stock <> 0`, brandID, id)
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// InsertRedemption stores a redemption.
func (t *Tx) InsertRedemption(ctx context.Context, r *rewards.Redemption) error {
	return t.queryRow(ctx, `INSERT INTO redemptions (brand_id, consumer_id, reward_id, cost, code, idempotency_key, at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		r.BrandID, r.ConsumerID, r.Reward, r.Cost, r.Code, r.IdempotencyKey, ms(r.At)).Scan(&r.ID)
}

func (t *Tx) redemptions(ctx context.Context, q string, args ...any) ([]*rewards.Redemption, error) {
	rows, err := t.query(ctx, `SELECT id, brand_id, consumer_id, reward_id, cost, code, idempotency_key, at FROM redemptions `+q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*rewards.Redemption
	for rows.Next() {
		var r rewards.Redemption
		var at int64
		if err := rows.Scan(&r.ID, &r.BrandID, &r.ConsumerID, &r.Reward, &r.Cost, &r.Code, &r.IdempotencyKey, &at); err != nil {
			return nil, err
		}
		r.At = fromMS(at)
		out = append(out, &r)
	}
	return out, rows.Err()
}

// RedemptionByKey returns the consumer's redemption with an idempotency key, or nil.
func (t *Tx) RedemptionByKey(ctx context.Context, consumerID int64, key string) (*rewards.Redemption, error) {
	rs, err := t.redemptions(ctx, `WHERE consumer_id = ? AND idempotency_key = ?`, consumerID, key)
	if err != nil || len(rs) == 0 {
		return nil, err
	}
	return rs[0], nil
}

// RedemptionCount counts a consumer's redemptions of a reward.
func (t *Tx) RedemptionCount(ctx context.Context, consumerID int64, reward string) (int, error) {
	var n int
	err := t.queryRow(ctx, `SELECT COUNT(*) FROM redemptions WHERE consumer_id = ? AND reward_id = ?`, consumerID, reward).Scan(&n)
	return n, err
}

// Redemptions lists a consumer's redemptions, newest first.
func (t *Tx) Redemptions(ctx context.Context, consumerID int64) ([]*rewards.Redemption, error) {
	return t.redemptions(ctx, `WHERE consumer_id = ? ORDER BY id DESC`, consumerID)
}

// CurrentTier returns the consumer's latest tier change, or nil.
func (t *Tx) CurrentTier(ctx context.Context, consumerID int64) (*rewards.TierChange, error) {
	var c rewards.TierChange
	var at int64
	err := t.queryRow(ctx, `SELECT tier, previous, reason, at FROM tier_changes WHERE consumer_id = ? ORDER BY id DESC LIMIT 1`, consumerID).
		Scan(&c.Tier, &c.Previous, &c.Reason, &at)
	if isNoRows(err) {
		return nil, nil
	}
	c.At = fromMS(at)
	return &c, err
}

// InsertTierChange records a tier change.
func (t *Tx) InsertTierChange(ctx context.Context, brandID, consumerID int64, c *rewards.TierChange) error {
	_, err := t.exec(ctx, `INSERT INTO tier_changes (brand_id, consumer_id, tier, previous, reason, at) VALUES (?, ?, ?, ?, ?, ?)`,
		brandID, consumerID, c.Tier, c.Previous, c.Reason, ms(c.At))
	return err
}

// Liability sums the points the brand's consumers hold.
func (t *Tx) Liability(ctx context.Context, brandID int64) (int64, int64, error) {
	var pts, n int64
	err := t.queryRow(ctx, `SELECT COALESCE(SUM(balance), 0), COUNT(*) FROM points_balances WHERE brand_id = ? AND account LIKE 'consumer:%' AND balance > 0`,
		brandID).Scan(&pts, &n)
	return pts, n, err
}

// GrantsByCategory counts active paid grants by category and purpose.
func (t *Tx) GrantsByCategory(ctx context.Context, brandID int64, now time.Time) ([]rewards.CategoryCount, error) {
	rows, err := t.query(ctx, `SELECT category, purpose, COUNT(*) FROM reward_grants WHERE brand_id = ? AND ended_at = 0 AND ends_at > ?
		GROUP BY category, purpose ORDER BY category, purpose`, brandID, ms(now))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []rewards.CategoryCount
	for rows.Next() {
		var c rewards.CategoryCount
		if err := rows.Scan(&c.Category, &c.Purpose, &c.Active); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// RedemptionReport sums redemptions by reward.
func (t *Tx) RedemptionReport(ctx context.Context, brandID int64) ([]rewards.RewardCount, error) {
	rows, err := t.query(ctx, `SELECT reward_id, COUNT(*), SUM(cost) FROM redemptions WHERE brand_id = ? GROUP BY reward_id ORDER BY reward_id`, brandID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []rewards.RewardCount
	for rows.Next() {
		var c rewards.RewardCount
		if err := rows.Scan(&c.Reward, &c.Count, &c.Points); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}
