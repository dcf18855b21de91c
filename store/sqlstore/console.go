package sqlstore

import (
	"cmp"
	"context"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"
	"weak"

	"github.com/symbiont/symbiont/consent"
	"github.com/symbiont/symbiont/overview"
	"github.com/symbiont/symbiont/rewards"
	"github.com/symbiont/symbiont/store"
)

// The console's counters (table console_counts, migration 0007). Each row is a change (n) of
// a counter on a day; a counter at a time is the sum of its rows up to then. The store adds
// the rows in the transaction that changes what they count, so the overview reads a few
// hundred rows and never scans consent history, consumers or events. The migration's comment
// says what each metric counts and on which day; the functions that write them mirror its
// backfill exactly.

const dayMS = 86400000 // in the query text too

// Metrics of console_counts.
const (
	metricConsent        = "consent"
	metricConsumers      = "consumers"
	metricEvents         = "events"
	metricGrants         = "grants"
	metricPoints         = "points"
	metricHolders        = "holders"
	metricRedemptions    = "redemptions"
	metricRedeemedPoints = "redeemed_points"
)

// countShards is how many rows one counter is spread over on PostgreSQL.
const countShards = 16

// endDay is the day (its midnight, in ms) whose end-of-day checkpoint first includes the
// instant t: a change at exactly midnight belongs to the day before. Integer division
// truncates as the migration's SQL does.
func endDay(t int64) int64 { return (t - 1) / dayMS * dayMS }

// receivedDay is the UTC day an event received at t (ms) is counted on.
func receivedDay(t int64) int64 { return t / dayMS * dayMS }

type countKey struct {
	brand  int64
	metric string
	day    int64
	k1, k2 string
}

// counts are deltas to add to the counters.
type counts map[countKey]int64

func (c counts) add(brand int64, metric string, day int64, k1, k2 string, n int64) {
	c[countKey{brand, metric, day, k1, k2}] += n
}

// addCounts adds deltas to the counters; a delta of 0 still makes its row (a pair's first
// decision lists the pair). They wait and are written just before the commit, in one
// statement. On PostgreSQL flushCounts writes a transaction's in key order and on one random
// shard: concurrent transactions then hold the counters' row locks for the shortest time,
// take them in the same order (no deadlock) and mostly take different rows. Under SQLite's
// group commit they wait with the caller (groupReq.counts) and the committer writes those of
// every caller whose transaction stays in the group once, before its COMMIT (most acts of a
// group add to the same few rows: one upsert for the group instead of one an act). Nothing in
// a write transaction reads the counters, so none misses its own deltas.
func (t *Tx) addCounts(ctx context.Context, c counts) error {
	if len(c) == 0 {
		return nil
	}
	pending := &t.pending
	if t.req != nil {
		pending = &t.req.counts
	}
	if *pending == nil {
		*pending = counts{}
	}
	for k, n := range c {
		(*pending)[k] += n
	}
	return nil
}

// flushCounts writes the deltas addCounts kept back (outside group commit).
func (t *Tx) flushCounts(ctx context.Context) error {
	if len(t.pending) == 0 {
		return nil
	}
	c := t.pending
	t.pending = nil
	shard := int64(0)
	if t.db.Shared() {
		shard = rand.Int64N(countShards)
	}
	return t.writeCounts(ctx, c, shard)
}

func (t *Tx) writeCounts(ctx context.Context, c counts, shard int64) error {
	keys := make([]countKey, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b countKey) int {
		return cmp.Or(cmp.Compare(a.brand, b.brand), strings.Compare(a.metric, b.metric), cmp.Compare(a.day, b.day),
			strings.Compare(a.k1, b.k1), strings.Compare(a.k2, b.k2))
	})
	for from := 0; from < len(keys); from += 500 {
		part := keys[from:min(from+500, len(keys))]
		args := make([]any, 0, 7*len(part))
		for _, k := range part {
			args = append(args, k.brand, k.metric, k.day, k.k1, k.k2, c[k], shard)
		}
		if _, err := t.exec(ctx, `INSERT INTO console_counts (brand_id, metric, day, k1, k2, n, shard) VALUES `+placeholders(len(part), 7)+`
			ON CONFLICT (brand_id, metric, day, k1, k2, shard) DO UPDATE SET n = console_counts.n + excluded.n`, args...); err != nil {
			return err
		}
	}
	return nil
}

// --- Consent ----------------------------------------------------------------------------------

// decision is a consent record as the consent counters need it.
type decision struct {
	id, at, expires int64 // expires 0: none
	given           bool
}

// addIntervals adds sign × the active intervals of one consumer's decisions of one pair,
// oldest first (by time, then id): a grant is active from its time until the next decision
// or its expiry, whichever comes first.
func addIntervals(c counts, brand int64, p overview.Pair, ds []decision, sign int64) {
	for i, d := range ds {
		if !d.given {
			continue
		}
		end, ends := d.expires, d.expires != 0
		if i+1 < len(ds) && (!ends || ds[i+1].at < end) {
			end, ends = ds[i+1].at, true
		}
		if ends && end <= d.at {
			continue // ended before it began: never active at any checkpoint
		}
		c.add(brand, metricConsent, endDay(d.at), p.Category, p.Purpose, sign)
		if ends {
			c.add(brand, metricConsent, endDay(end), p.Category, p.Purpose, -sign)
		}
	}
}

func (t *Tx) decisions(ctx context.Context, q string, args ...any) ([]decision, error) {
	rows, err := t.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []decision
	for rows.Next() {
		var d decision
		var state string
		if err := rows.Scan(&d.id, &state, &d.at, &d.expires); err != nil {
			return nil, err
		}
		d.given = state == consent.StateGiven
		out = append(out, d)
	}
	return out, rows.Err()
}

// countConsent adds what a record just inserted (r.ID set) changes in its pair's consent
// counter. A record newer than the pair's latest only ends the latest's interval; one stamped
// earlier (clocks of two nodes apart) replays the pair. Either way it reads the pair's few
// records once (no sort in the engine: the order is made here) — unless the single writer
// remembers the pair's latest record (latestDecisions) and the new one is not older.
func (t *Tx) countConsent(ctx context.Context, r *consent.Record) error {
	at := ms(r.At)
	key := pairKey{r.ConsumerID, r.Category, r.Purpose}
	var latest *latestDecisions
	if t.req != nil { // the single writer (group commit): see latestDecisions
		latest = t.db.latestDecisions()
		t.OnUndo(func() { latest.forget(key) })
	}
	var hist []decision
	if d, ok := latest.get(key); ok && at >= d.at {
		hist = []decision{d}
	} else {
		var err error
		hist, err = t.decisions(ctx, `SELECT id, state, at, expires_at FROM consent_records WHERE consumer_id = ? AND category = ? AND purpose = ?`,
			r.ConsumerID, r.Category, r.Purpose)
		if err != nil {
			return err
		}
		hist = slices.DeleteFunc(hist, func(d decision) bool { return d.id == r.ID })
	}
	byTime := func(a, b decision) int { return cmp.Or(cmp.Compare(a.at, b.at), cmp.Compare(a.id, b.id)) }
	if len(hist) > 0 {
		latest := slices.MaxFunc(hist, byTime)
		if at >= latest.at {
			hist = []decision{latest}
		} else {
			slices.SortFunc(hist, byTime)
		}
	}
	p := overview.Pair{Category: r.Category, Purpose: r.Purpose}
	c := counts{}
	c.add(r.BrandID, metricConsent, endDay(at), p.Category, p.Purpose, 0)
	addIntervals(c, r.BrandID, p, hist, -1)
	// The new record sorts after every record at the same time: its id is the largest.
	d := decision{id: r.ID, at: at, expires: ms(r.ExpiresAt), given: r.State == consent.StateGiven}
	i, _ := slices.BinarySearchFunc(hist, d, byTime)
	all := slices.Insert(slices.Clone(hist), i, d)
	addIntervals(c, r.BrandID, p, all, 1)
	latest.put(key, all[len(all)-1])
	return t.addCounts(ctx, c)
}

// pairKey names one consumer's category × purpose.
type pairKey struct {
	consumer          int64
	category, purpose string
}

// latestDecisions remembers, for the single writer of a SQLite store, each pair's latest
// record by time (then id), so that a consent change need not read the pair's whole history
// to update the counters: its reads grew with the history (30 µs of the writer's time a
// change after ten changes of one pair). It only ever holds what the writer's own view of
// consent_records says: an entry is written by the transaction that inserted the record and
// forgotten if that transaction's writes are undone (Tx.OnUndo), and a merge, the only other
// statement that changes whose records are whose, clears it. A pair not in it is read.
type latestDecisions struct {
	mu sync.Mutex
	m  map[pairKey]decision
}

// maxLatestDecisions bounds the pairs remembered (about 100 bytes each).
const maxLatestDecisions = 1 << 18

// latestCaches are the stores' latestDecisions, by store; a store's goes when it is collected.
var latestCaches sync.Map // weak.Pointer[DB] → *latestDecisions

func (db *DB) latestDecisions() *latestDecisions {
	k := weak.Make(db)
	if c, ok := latestCaches.Load(k); ok {
		return c.(*latestDecisions)
	}
	c, loaded := latestCaches.LoadOrStore(k, &latestDecisions{m: map[pairKey]decision{}})
	if !loaded {
		runtime.AddCleanup(db, func(k weak.Pointer[DB]) { latestCaches.Delete(k) }, k)
	}
	return c.(*latestDecisions)
}

// get, put, forget and clear do nothing on a nil cache (no single writer).
func (c *latestDecisions) get(k pairKey) (decision, bool) {
	if c == nil {
		return decision{}, false
	}
	c.mu.Lock()
	d, ok := c.m[k]
	c.mu.Unlock()
	return d, ok
}

func (c *latestDecisions) put(k pairKey, d decision) {
	if c == nil {
		return
	}
	c.mu.Lock()
	if len(c.m) >= maxLatestDecisions {
		clear(c.m)
	}
	c.m[k] = d
	c.mu.Unlock()
}

func (c *latestDecisions) forget(k pairKey) {
	if c == nil {
		return
	}
	c.mu.Lock()
	delete(c.m, k)
	c.mu.Unlock()
}

func (c *latestDecisions) clear() {
	if c == nil {
		return
	}
	c.mu.Lock()
	clear(c.m)
	c.mu.Unlock()
}

// countMerge adds what merging from into into changes in the counters, before the merge: from
// stops counting as a consumer; both histories replay as one, per pair; the points of both
// become one balance.
func (t *Tx) countMerge(ctx context.Context, brandID, from, into int64) error {
	c := counts{}
	var created, merged int64
	err := t.queryRow(ctx, `SELECT created_at, merged_into FROM consumers WHERE id = ? AND brand_id = ?`, from, brandID).Scan(&created, &merged)
	if err != nil && !isNoRows(err) {
		return err
	}
	if err == nil && merged == 0 {
		c.add(brandID, metricConsumers, endDay(created), "", "", -1)
	}
	rows, err := t.query(ctx, `SELECT consumer_id, category, purpose, id, state, at, expires_at FROM consent_records
		WHERE consumer_id IN (?, ?) AND brand_id = ? ORDER BY at, id`, from, into, brandID)
	if err != nil {
		return err
	}
	type hist struct{ from, into, both []decision }
	pairs := map[overview.Pair]*hist{}
	var order []overview.Pair
	for rows.Next() {
		var who int64
		var p overview.Pair
		var d decision
		var state string
		if err := rows.Scan(&who, &p.Category, &p.Purpose, &d.id, &state, &d.at, &d.expires); err != nil {
			rows.Close()
			return err
		}
		d.given = state == consent.StateGiven
		h := pairs[p]
		if h == nil {
			h = &hist{}
			pairs[p] = h
			order = append(order, p)
		}
		if who == from {
			h.from = append(h.from, d)
		} else {
			h.into = append(h.into, d)
		}
		h.both = append(h.both, d)
	}
	if err := rowsDone(rows); err != nil {
		return err
	}
	for _, p := range order {
		h := pairs[p]
		addIntervals(c, brandID, p, h.from, -1)
		addIntervals(c, brandID, p, h.into, -1)
		addIntervals(c, brandID, p, h.both, 1)
	}
	var bf, bi int64
	for acct, b := range map[string]*int64{rewards.ConsumerAccount(from): &bf, rewards.ConsumerAccount(into): &bi} {
		if err := t.queryRow(ctx, `SELECT balance FROM points_balances WHERE account = ?`, acct).Scan(b); err != nil && !isNoRows(err) {
			return err
		}
	}
	c.add(brandID, metricHolders, 0, "", "", held(bf+bi)-held(bf)-held(bi))
	return t.addCounts(ctx, c)
}

func held(balance int64) int64 {
	if balance > 0 {
		return 1
	}
	return 0
}

// ConsentDays returns the brand's consent figures per day from start. A full day's figure is
// its counters' rows up to that day; today's (at now) adds back the grants that expire later
// today, whose -1 is on today's row but has not happened yet: they are current given
// decisions with that expiry, found through the index of due expiries.
func (t *Tx) ConsentDays(ctx context.Context, brandID int64, start time.Time, days int, now time.Time) (*overview.ConsentDays, error) {
	s, n := ms(start.UTC().Truncate(24*time.Hour)), ms(now)
	last := endDay(n) // today's row: what has happened by now is on it or before it
	out := &overview.ConsentDays{Consumers: make([]int64, days)}
	// Every pair, and each pair's count before the period.
	rows, err := t.query(ctx, `SELECT k1, k2, SUM(CASE WHEN day < ? THEN n ELSE 0 END) FROM console_counts
		WHERE brand_id = ? AND metric = 'consent' GROUP BY k1, k2`, s, brandID)
	if err != nil {
		return nil, err
	}
	var base []int64
	for rows.Next() {
		var p overview.Pair
		var b int64
		if err := rows.Scan(&p.Category, &p.Purpose, &b); err != nil {
			rows.Close()
			return nil, err
		}
		out.Pairs, base = append(out.Pairs, p), append(base, b)
	}
	if err := rowsDone(rows); err != nil {
		return nil, err
	}
	sortPairs(out.Pairs, base)
	idx := make(map[overview.Pair]int, len(out.Pairs))
	for i, p := range out.Pairs {
		idx[p] = i
	}
	type change struct {
		day  int64
		pair int
		n    int64
	}
	var changes []change
	rows, err = t.query(ctx, `SELECT day, k1, k2, SUM(n) FROM console_counts WHERE brand_id = ? AND metric = 'consent' AND day >= ? AND day <= ?
		GROUP BY day, k1, k2 ORDER BY day`, brandID, s, last)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var ch change
		var p overview.Pair
		if err := rows.Scan(&ch.day, &p.Category, &p.Purpose, &ch.n); err != nil {
			rows.Close()
			return nil, err
		}
		ch.pair = idx[p]
		changes = append(changes, ch)
	}
	if err := rowsDone(rows); err != nil {
		return nil, err
	}
	later := make([]int64, len(out.Pairs))
	rows, err = t.query(ctx, `SELECT category, purpose, COUNT(*) FROM consents WHERE state = 'given' AND expires_at <> 0 AND expires_at > ? AND expires_at <= ?
		AND brand_id = ? GROUP BY category, purpose`, n, last+dayMS, brandID)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var p overview.Pair
		var k int64
		if err := rows.Scan(&p.Category, &p.Purpose, &k); err != nil {
			rows.Close()
			return nil, err
		}
		if i, ok := idx[p]; ok {
			later[i] = k
		}
	}
	if err := rowsDone(rows); err != nil {
		return nil, err
	}
	out.Active = make([][]int64, len(out.Pairs))
	for i := range out.Active {
		out.Active[i] = make([]int64, days)
	}
	cur := slices.Clone(base)
	next := 0
	for d := range days {
		day := s + int64(d)*dayMS
		upTo, clipped := day, day+dayMS > n
		if clipped {
			upTo = last
		}
		for ; next < len(changes) && changes[next].day <= upTo; next++ {
			cur[changes[next].pair] += changes[next].n
		}
		for i := range cur {
			out.Active[i][d] = cur[i]
			if clipped {
				out.Active[i][d] += later[i]
			}
		}
	}
	// Consumers, the same way (a consumer is created at or before now: nothing to add back).
	var cbase int64
	if err := t.queryRow(ctx, `SELECT COALESCE(SUM(CASE WHEN day < ? THEN n ELSE 0 END), 0), COALESCE(SUM(n), 0) FROM console_counts
		WHERE brand_id = ? AND metric = 'consumers'`, s, brandID).Scan(&cbase, &out.Total); err != nil {
		return nil, err
	}
	byDay, err := t.dayCounts(ctx, brandID, metricConsumers, s, last)
	if err != nil {
		return nil, err
	}
	next = 0
	for d := range days {
		day := s + int64(d)*dayMS
		upTo := day
		if day+dayMS > n {
			upTo = last
		}
		for ; next < len(byDay) && byDay[next].day <= upTo; next++ {
			cbase += byDay[next].n
		}
		out.Consumers[d] = cbase
	}
	return out, nil
}

// sortPairs sorts pairs (and their values with them) by category, then purpose.
func sortPairs(ps []overview.Pair, vals []int64) {
	idx := make([]int, len(ps))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int {
		return cmp.Or(strings.Compare(ps[a].Category, ps[b].Category), strings.Compare(ps[a].Purpose, ps[b].Purpose))
	})
	sp, sv := make([]overview.Pair, len(ps)), make([]int64, len(ps))
	for i, j := range idx {
		sp[i], sv[i] = ps[j], vals[j]
	}
	copy(ps, sp)
	copy(vals, sv)
}

type dayCount struct{ day, n int64 }

// dayCounts sums a one-key metric per day in [from, to], by day.
func (t *Tx) dayCounts(ctx context.Context, brandID int64, metric string, from, to int64) ([]dayCount, error) {
	rows, err := t.query(ctx, `SELECT day, SUM(n) FROM console_counts WHERE brand_id = ? AND metric = ? AND day >= ? AND day <= ?
		GROUP BY day ORDER BY day`, brandID, metric, from, to)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []dayCount
	for rows.Next() {
		var c dayCount
		if err := rows.Scan(&c.day, &c.n); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// --- Events -----------------------------------------------------------------------------------

// countInserted adds the events an insert stored to their days.
func (t *Tx) countInserted(ctx context.Context, events []*store.Event, inserted []bool) error {
	c := counts{}
	for i, ok := range inserted {
		if ok {
			e := events[i]
			c.add(e.BrandID, metricEvents, receivedDay(ms(e.ReceivedAt)), "", "", 1)
		}
	}
	return t.addCounts(ctx, c)
}

// eventDays counts the consumers' stored events per day received (routing columns only).
func (t *Tx) eventDays(ctx context.Context, brandID int64, consumerIDs []int64) (map[int64]int64, error) {
	out := map[int64]int64{}
	scan := func(q string, args ...any) error {
		rows, err := t.query(ctx, q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var d, k int64
			if err := rows.Scan(&d, &k); err != nil {
				return err
			}
			out[d*dayMS] += k
		}
		return rows.Err()
	}
	for from := 0; from < len(consumerIDs); from += 500 {
		in, args := inList(consumerIDs[from:min(from+500, len(consumerIDs))])
		if err := scan(`SELECT received_at / 86400000, COUNT(*) FROM events WHERE brand_id = ? AND consumer_id IN (`+in+`) GROUP BY received_at / 86400000`,
			append([]any{brandID}, args...)...); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// uncountEvents takes the consumers' stored events off the counters, before they are deleted.
func (t *Tx) uncountEvents(ctx context.Context, brandID int64, consumerIDs []int64) error {
	days, err := t.eventDays(ctx, brandID, consumerIDs)
	if err != nil {
		return err
	}
	c := counts{}
	for d, k := range days {
		c.add(brandID, metricEvents, d, "", "", -k)
	}
	return t.addCounts(ctx, c)
}

// StoredEventsPerDay counts the brand's stored events per UTC day of arrival, from from's day.
func (t *Tx) StoredEventsPerDay(ctx context.Context, brandID int64, from time.Time) ([]overview.IngestCount, error) {
	cs, err := t.dayCounts(ctx, brandID, metricEvents, receivedDay(ms(from)), math.MaxInt64)
	if err != nil {
		return nil, err
	}
	var out []overview.IngestCount
	for _, c := range cs {
		if c.n != 0 {
			out = append(out, overview.IngestCount{BrandID: brandID, Day: fromMS(c.day), Outcome: "accepted", Count: c.n})
		}
	}
	return out, nil
}

// --- Rewards ----------------------------------------------------------------------------------

// countGrant adds a paid grant to its pair's counter, with its end scheduled.
func countGrant(c counts, g *rewards.Grant, sign int64) {
	c.add(g.BrandID, metricGrants, 0, g.Category, g.Purpose, sign)
	c.add(g.BrandID, metricGrants, endDay(ms(g.End)), g.Category, g.Purpose, -sign)
}

// Liability sums the points the brand's consumers hold, and counts the consumers holding any.
func (t *Tx) Liability(ctx context.Context, brandID int64) (int64, int64, error) {
	var pts, n int64
	err := t.queryRow(ctx, `SELECT COALESCE(SUM(CASE WHEN metric = 'points' THEN n ELSE 0 END), 0), COALESCE(SUM(CASE WHEN metric = 'holders' THEN n ELSE 0 END), 0)
		FROM console_counts WHERE brand_id = ? AND metric IN ('points', 'holders') AND day = 0`, brandID).Scan(&pts, &n)
	return pts, n, err
}

// GrantsByCategory counts active paid grants by category and purpose: not ended, and ending
// after now. Grants ending later today are on today's row already and are added back.
func (t *Tx) GrantsByCategory(ctx context.Context, brandID int64, now time.Time) ([]rewards.CategoryCount, error) {
	n := ms(now)
	last := endDay(n)
	active := map[overview.Pair]int64{}
	rows, err := t.query(ctx, `SELECT k1, k2, SUM(n) FROM console_counts WHERE brand_id = ? AND metric = 'grants' AND day <= ? GROUP BY k1, k2`, brandID, last)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var p overview.Pair
		var k int64
		if err := rows.Scan(&p.Category, &p.Purpose, &k); err != nil {
			rows.Close()
			return nil, err
		}
		active[p] += k
	}
	if err := rowsDone(rows); err != nil {
		return nil, err
	}
	rows, err = t.query(ctx, `SELECT category, purpose, COUNT(*) FROM reward_grants WHERE ended_at = 0 AND ends_at > ? AND ends_at <= ? AND brand_id = ?
		GROUP BY category, purpose`, n, last+dayMS, brandID)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var p overview.Pair
		var k int64
		if err := rows.Scan(&p.Category, &p.Purpose, &k); err != nil {
			rows.Close()
			return nil, err
		}
		active[p] += k
	}
	if err := rowsDone(rows); err != nil {
		return nil, err
	}
	var out []rewards.CategoryCount
	for p, k := range active {
		if k > 0 {
			out = append(out, rewards.CategoryCount{Category: p.Category, Purpose: p.Purpose, Active: k})
		}
	}
	slices.SortFunc(out, func(a, b rewards.CategoryCount) int {
		return cmp.Or(strings.Compare(a.Category, b.Category), strings.Compare(a.Purpose, b.Purpose))
	})
	return out, nil
}

// RedemptionReport sums redemptions by reward.
func (t *Tx) RedemptionReport(ctx context.Context, brandID int64) ([]rewards.RewardCount, error) {
	rows, err := t.query(ctx, `SELECT k1, SUM(CASE WHEN metric = 'redemptions' THEN n ELSE 0 END), SUM(CASE WHEN metric = 'redeemed_points' THEN n ELSE 0 END)
		FROM console_counts WHERE brand_id = ? AND metric IN ('redemptions', 'redeemed_points') AND day = 0 GROUP BY k1 ORDER BY k1`, brandID)
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

// --- Ingestion tallies --------------------------------------------------------------------------

// AddIngestCounts adds to the daily tallies.
func (t *Tx) AddIngestCounts(ctx context.Context, counts []overview.IngestCount) error {
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
func (t *Tx) IngestCounts(ctx context.Context, brandID int64, from time.Time) ([]overview.IngestCount, error) {
	rows, err := t.query(ctx, `SELECT day, outcome, n FROM ingest_daily WHERE brand_id = ? AND day >= ? ORDER BY day, outcome`,
		brandID, ms(from.UTC().Truncate(24*time.Hour)))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []overview.IngestCount
	for rows.Next() {
		c := overview.IngestCount{BrandID: brandID}
		var d int64
		if err := rows.Scan(&d, &c.Outcome, &c.Count); err != nil {
			return nil, err
		}
		c.Day = fromMS(d)
		out = append(out, c)
	}
	return out, rows.Err()
}
