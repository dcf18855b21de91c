package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/symbiont/symbiont/rewards"
	"github.com/symbiont/symbiont/store"
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
	if err != nil || !g.Ended.IsZero() {
		return err
	}
	c := counts{}
	countGrant(c, g, 1)
	return t.addCounts(ctx, c)
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
	g := &rewards.Grant{}
	var end int64
	err := t.queryRow(ctx, `UPDATE reward_grants SET ended_at = ? WHERE record_id = ? AND ended_at = 0 RETURNING brand_id, category, purpose, ends_at`,
		ms(at), recordID).Scan(&g.BrandID, &g.Category, &g.Purpose, &end)
	if isNoRows(err) {
		return nil // not found, or ended already
	}
	if err != nil {
		return err
	}
	g.End = fromMS(end)
	c := counts{}
	countGrant(c, g, -1)
	return t.addCounts(ctx, c)
}

// UnsettledGrants returns unsettled grants after a record id, up to limit: none for a limit ≤
// 0, in both engines (SQLite reads a negative LIMIT as no limit, PostgreSQL refuses it).
func (t *Tx) UnsettledGrants(ctx context.Context, after int64, limit int) ([]*rewards.Grant, error) {
	if limit <= 0 {
		return nil, nil
	}
	return t.grants(ctx, `SELECT `+grantCols+` FROM reward_grants WHERE settled = 0 AND record_id > ? ORDER BY record_id LIMIT ?`, after, limit)
}

// CreditGrants records how far grants are credited. Grants of one accrual page mostly share
// their new state (days, bonus, settled), so each distinct state is one update by primary key.
func (t *Tx) CreditGrants(ctx context.Context, gs []*rewards.Grant) error {
	type state struct {
		days           int
		bonus, settled int64
	}
	ids := map[state][]int64{}
	var order []state
	for _, g := range gs {
		k := state{g.Days, boolInt(g.BonusPaid), boolInt(g.Settled)}
		if _, ok := ids[k]; !ok {
			order = append(order, k)
		}
		ids[k] = append(ids[k], g.RecordID)
	}
	for _, k := range order {
		all := ids[k]
		for from := 0; from < len(all); from += 1000 {
			in, args := inList(all[from:min(from+1000, len(all))])
			if _, err := t.exec(ctx, `UPDATE reward_grants SET days = ?, bonus_paid = ?, settled = ? WHERE record_id IN (`+in+`)`,
				append([]any{k.days, k.bonus, k.settled}, args...)...); err != nil {
				return err
			}
		}
	}
	return nil
}

// ActiveGrantCount counts the consumer's paid grants active at now.
func (t *Tx) ActiveGrantCount(ctx context.Context, consumerID int64, now time.Time) (int, error) {
	var n int
	err := t.queryRow(ctx, `SELECT COUNT(*) FROM reward_grants WHERE consumer_id = ? AND ended_at = 0 AND ends_at > ?`, consumerID, ms(now)).Scan(&n)
	return n, err
}

// PostJournals books journals and updates the balances, returning the new balance of every
// account changed (the money rules are the rewards package's). Journals, postings and balances
// are written in multi-row statements.
func (t *Tx) PostJournals(ctx context.Context, js []*rewards.Journal) (map[string]int64, error) {
	balances := map[string]int64{}
	for from := 0; from < len(js); {
		// Bound each statement's parameters (SQLite allows 32766, PostgreSQL 65535).
		to, lines := from, 0
		for to < len(js) && (to == from || (to-from < 1000 && lines+len(js[to].Postings) <= 4000)) {
			lines += len(js[to].Postings)
			to++
		}
		if err := t.postJournals(ctx, js[from:to], balances); err != nil {
			return nil, err
		}
		from = to
	}
	return balances, nil
}

func (t *Tx) postJournals(ctx context.Context, js []*rewards.Journal, balances map[string]int64) error {
	args := make([]any, 0, 5*len(js))
	byKey := make(map[string]*rewards.Journal, len(js))
	for _, j := range js {
		k := strconv.FormatInt(j.BrandID, 10) + "/" + j.IdempotencyKey
		if byKey[k] != nil {
			return rewards.ErrBooked
		}
		byKey[k] = j
		j.ID = 0
		args = append(args, j.BrandID, j.ConsumerID, j.Kind, j.IdempotencyKey, ms(j.At))
	}
	rows, err := t.query(ctx, `INSERT INTO points_journal (brand_id, consumer_id, kind, idempotency_key, at) VALUES `+placeholders(len(js), 5)+`
		ON CONFLICT (brand_id, idempotency_key) DO NOTHING RETURNING id, brand_id, idempotency_key`, args...)
	if err != nil {
		return err
	}
	n := 0
	for rows.Next() {
		var id, brand int64
		var key string
		if err := rows.Scan(&id, &brand, &key); err != nil {
			rows.Close()
			return err
		}
		if j := byKey[strconv.FormatInt(brand, 10)+"/"+key]; j != nil {
			j.ID = id
			n++
		}
	}
	if err := rowsDone(rows); err != nil {
		return err
	}
	if n != len(js) {
		return rewards.ErrBooked
	}
	type acct struct {
		brand int64
		name  string
	}
	delta := map[acct]int64{}
	var accounts []acct
	args = args[:0]
	lines := 0
	for _, j := range js {
		for i, p := range j.Postings {
			detail := ""
			if p.Detail != nil {
				b, err := json.Marshal(p.Detail)
				if err != nil {
					return err
				}
				detail = string(b)
			}
			args = append(args, j.ID, i, p.Account, p.Amount, p.Description, p.Ref, detail)
			a := acct{j.BrandID, p.Account}
			if _, ok := delta[a]; !ok {
				accounts = append(accounts, a)
			}
			delta[a] += p.Amount
			lines++
		}
	}
	if _, err := t.exec(ctx, `INSERT INTO points_postings (journal_id, line, account, amount, description, ref, detail) VALUES `+placeholders(lines, 7), args...); err != nil {
		return err
	}
	args = args[:0]
	byName := make(map[string]acct, len(accounts))
	for _, a := range accounts {
		args = append(args, a.name, a.brand, delta[a])
		byName[a.name] = a
	}
	rows, err = t.query(ctx, `INSERT INTO points_balances (account, brand_id, balance) VALUES `+placeholders(len(accounts), 3)+`
		ON CONFLICT (account) DO UPDATE SET balance = points_balances.balance + excluded.balance RETURNING account, balance`, args...)
	if err != nil {
		return err
	}
	c := counts{} // the console's liability: points consumers hold, and how many hold any
	for rows.Next() {
		var name string
		var bal int64
		if err := rows.Scan(&name, &bal); err != nil {
			rows.Close()
			return err
		}
		balances[name] = bal
		if !strings.HasPrefix(name, "consumer:") {
			continue
		}
		a := byName[name]
		c.add(a.brand, metricPoints, 0, "", "", delta[a])
		c.add(a.brand, metricHolders, 0, "", "", held(bal)-held(bal-delta[a]))
	}
	if err := rowsDone(rows); err != nil {
		return err
	}
	return t.addCounts(ctx, c)
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
	rows, err := t.query(ctx, `SELECT j.at, j.kind, p.amount, p.description, p.ref, p.detail FROM points_postings p JOIN points_journal j ON j.id = p.journal_id
		WHERE p.account = ? ORDER BY p.journal_id DESC, p.line LIMIT ?`, account, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []rewards.StatementLine
	for rows.Next() {
		var l rewards.StatementLine
		var at int64
		var detail string
		if err := rows.Scan(&at, &l.Kind, &l.Points, &l.Description, &l.Ref, &detail); err != nil {
			return nil, err
		}
		if detail != "" {
			l.Detail = &rewards.Detail{}
			if err := json.Unmarshal([]byte(detail), l.Detail); err != nil {
				return nil, fmt.Errorf("sqlstore: statement line detail: %w", err)
			}
		}
		l.At = fromMS(at)
		out = append(out, l)
	}
	return out, rows.Err()
}

// Earned sums the accrual and bonus credits to each consumer since t.
func (t *Tx) Earned(ctx context.Context, consumerIDs []int64, since time.Time) (map[int64]int64, error) {
	out := make(map[int64]int64, len(consumerIDs))
	for from := 0; from < len(consumerIDs); from += 500 {
		part := consumerIDs[from:min(from+500, len(consumerIDs))]
		accts := make([]string, len(part))
		for i, id := range part {
			accts[i] = rewards.ConsumerAccount(id)
		}
		in, args := inList(accts)
		rows, err := t.query(ctx, `SELECT j.consumer_id, SUM(p.amount) FROM points_postings p JOIN points_journal j ON j.id = p.journal_id
			WHERE p.account IN (`+in+`) AND j.kind = 'accrual' AND j.at >= ? AND p.amount > 0 GROUP BY j.consumer_id`, append(args, ms(since))...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var id, n int64
			if err := rows.Scan(&id, &n); err != nil {
				rows.Close()
				return nil, err
			}
			out[id] = n
		}
		if err := rowsDone(rows); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// InsertLots stores lots of points earned together, in multi-row inserts.
func (t *Tx) InsertLots(ctx context.Context, ls []*rewards.Lot) error {
	for from := 0; from < len(ls); from += 1000 {
		part := ls[from:min(from+1000, len(ls))]
		args := make([]any, 0, 6*len(part))
		for _, l := range part {
			args = append(args, l.BrandID, l.ConsumerID, l.Amount, l.Remaining, ms(l.EarnedAt), ms(l.ExpiresAt))
		}
		rows, err := t.query(ctx, `INSERT INTO points_lots (brand_id, consumer_id, amount, remaining, earned_at, expires_at) VALUES `+
			placeholders(len(part), 6)+` RETURNING id`, args...)
		if err != nil {
			return err
		}
		// RETURNING order is not guaranteed to match VALUES order, but lots are told apart only
		// by id, which callers do not rely on across a batch; assign in the order returned.
		i := 0
		for rows.Next() {
			if i < len(part) {
				if err := rows.Scan(&part[i].ID); err != nil {
					rows.Close()
					return err
				}
			}
			i++
		}
		if err := rowsDone(rows); err != nil {
			return err
		}
	}
	return nil
}

// SpendableLots returns the consumer's unexpired lots with points left, oldest first.
func (t *Tx) SpendableLots(ctx context.Context, consumerID int64, now time.Time) ([]*rewards.Lot, error) {
	rows, err := t.query(ctx, `SELECT id, brand_id, amount, remaining, earned_at, expires_at FROM points_lots
		WHERE consumer_id = ? AND remaining > 0 AND (expires_at = 0 OR expires_at > ?) ORDER BY earned_at, id`, consumerID, ms(now))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*rewards.Lot
	for rows.Next() {
		l := &rewards.Lot{ConsumerID: consumerID}
		var earned, expires int64
		if err := rows.Scan(&l.ID, &l.BrandID, &l.Amount, &l.Remaining, &earned, &expires); err != nil {
			return nil, err
		}
		l.EarnedAt = fromMS(earned)
		if expires != 0 {
			l.ExpiresAt = fromMS(expires)
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// SpendLot takes amount from a lot's remaining points.
func (t *Tx) SpendLot(ctx context.Context, lotID, amount int64) error {
	_, err := t.exec(ctx, `UPDATE points_lots SET remaining = remaining - ? WHERE id = ?`, amount, lotID)
	return err
}

// ExpiredLots returns lots with points left past their expiry, up to limit (none for a limit
// ≤ 0, in both engines: see UnsettledGrants).
func (t *Tx) ExpiredLots(ctx context.Context, now time.Time, limit int) ([]*rewards.Lot, error) {
	if limit <= 0 {
		return nil, nil
	}
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
	if err := t.queryRow(ctx, `INSERT INTO redemptions (brand_id, consumer_id, reward_id, cost, code, idempotency_key, at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		r.BrandID, r.ConsumerID, r.Reward, r.Cost, r.Code, r.IdempotencyKey, ms(r.At)).Scan(&r.ID); err != nil {
		return err
	}
	return t.addCounts(ctx, counts{{r.BrandID, metricRedemptions, 0, r.Reward, ""}: 1, {r.BrandID, metricRedeemedPoints, 0, r.Reward, ""}: r.Cost})
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

// CurrentTiers returns each consumer's latest tier change (absent: none yet).
func (t *Tx) CurrentTiers(ctx context.Context, consumerIDs []int64) (map[int64]*rewards.TierChange, error) {
	out := make(map[int64]*rewards.TierChange, len(consumerIDs))
	for from := 0; from < len(consumerIDs); from += 500 {
		in, args := inList(consumerIDs[from:min(from+500, len(consumerIDs))])
		rows, err := t.query(ctx, `SELECT c.consumer_id, c.tier, c.previous, c.reason, c.at FROM tier_changes c JOIN
			(SELECT consumer_id, MAX(id) AS id FROM tier_changes WHERE consumer_id IN (`+in+`) GROUP BY consumer_id) m ON m.id = c.id`, args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var id, at int64
			var c rewards.TierChange
			if err := rows.Scan(&id, &c.Tier, &c.Previous, &c.Reason, &at); err != nil {
				rows.Close()
				return nil, err
			}
			c.At = fromMS(at)
			out[id] = &c
		}
		if err := rowsDone(rows); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// InsertTierChange records a tier change.
func (t *Tx) InsertTierChange(ctx context.Context, brandID, consumerID int64, c *rewards.TierChange) error {
	_, err := t.exec(ctx, `INSERT INTO tier_changes (brand_id, consumer_id, tier, previous, reason, at) VALUES (?, ?, ?, ?, ?, ?)`,
		brandID, consumerID, c.Tier, c.Previous, c.Reason, ms(c.At))
	return err
}

// TierHolders lists consumers with a tier change, in consumer order, up to limit (none for a
// limit ≤ 0, in both engines: see UnsettledGrants).
func (t *Tx) TierHolders(ctx context.Context, after int64, limit int) ([][2]int64, error) {
	if limit <= 0 {
		return nil, nil
	}
	rows, err := t.query(ctx, `SELECT DISTINCT consumer_id, brand_id FROM tier_changes WHERE consumer_id > ? ORDER BY consumer_id LIMIT ?`, after, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out [][2]int64
	for rows.Next() {
		var c, b int64
		if err := rows.Scan(&c, &b); err != nil {
			return nil, err
		}
		out = append(out, [2]int64{b, c})
	}
	return out, rows.Err()
}

// rewardsRows: a consumer's points. They are the person's and follow a merge (grants, lots,
// journals, postings, balance, redemptions, tiers); erasure keeps them, as the brand's books
// (no personal data in clear), but scrubs the idempotency keys clients chose, which could say
// anything.
type rewardsRows struct{}

func (rewardsRows) tables() []store.ConsumerTable {
	const books = "the brand's books of points; amounts and dates only"
	return []store.ConsumerTable{
		{Name: "reward_grants", Column: "consumer_id", Kept: books},
		{Name: "points_lots", Column: "consumer_id", Kept: books},
		{Name: "points_journal", Column: "consumer_id", Kept: books + " (a redemption's idempotency key is replaced)"},
		{Name: "points_postings", Column: "account", Account: true, Unscoped: true, Kept: books},
		{Name: "points_balances", Column: "account", Account: true, Kept: books},
		{Name: "redemptions", Column: "consumer_id", Kept: books + " (the idempotency key is replaced)"},
		{Name: "tier_changes", Column: "consumer_id", Kept: books},
	}
}

func (rewardsRows) merge(ctx context.Context, t *Tx, brandID, from, into int64) error {
	fa, ia := rewards.ConsumerAccount(from), rewards.ConsumerAccount(into)
	return t.moveRows(ctx, []step{
		{`UPDATE reward_grants SET consumer_id = ? WHERE brand_id = ? AND consumer_id = ?`, []any{into, brandID, from}},
		{`UPDATE points_lots SET consumer_id = ? WHERE brand_id = ? AND consumer_id = ?`, []any{into, brandID, from}},
		{`UPDATE points_journal SET consumer_id = ? WHERE brand_id = ? AND consumer_id = ?`, []any{into, brandID, from}},
		{`UPDATE points_postings SET account = ? WHERE account = ?`, []any{ia, fa}},
		{`INSERT INTO points_balances (account, brand_id, balance) SELECT ?, brand_id, balance FROM points_balances WHERE account = ?
			ON CONFLICT (account) DO UPDATE SET balance = points_balances.balance + excluded.balance`, []any{ia, fa}},
		{`DELETE FROM points_balances WHERE account = ?`, []any{fa}},
		// A key both used for a redemption: from's is renamed, so each redemption stays findable.
		{`UPDATE redemptions SET idempotency_key = idempotency_key || '#merged-' || CAST(consumer_id AS TEXT) WHERE brand_id = ? AND consumer_id = ?
			AND idempotency_key IN (SELECT idempotency_key FROM redemptions WHERE consumer_id = ?)`, []any{brandID, from, into}},
		{`UPDATE redemptions SET consumer_id = ? WHERE brand_id = ? AND consumer_id = ?`, []any{into, brandID, from}},
		{`UPDATE tier_changes SET consumer_id = ? WHERE brand_id = ? AND consumer_id = ?`, []any{into, brandID, from}},
	})
}

func (rewardsRows) erase(ctx context.Context, t *Tx, brandID int64, ids []int64, at time.Time) (int64, error) {
	// Journals of redemptions from before keys were hashed carry the client's key too.
	return t.eraseIn(ctx, brandID, ids,
		`UPDATE redemptions SET idempotency_key = 'erased:' || CAST(id AS TEXT) WHERE brand_id = ? AND consumer_id IN (%s)`,
		`UPDATE points_journal SET idempotency_key = 'erased:' || CAST(id AS TEXT) WHERE brand_id = ? AND consumer_id IN (%s) AND kind = 'redemption'`)
}
