package storetest

import (
	"cmp"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/symbiont/symbiont/consent"
	"github.com/symbiont/symbiont/identity"
	"github.com/symbiont/symbiont/overview"
	"github.com/symbiont/symbiont/rewards"
	"github.com/symbiont/symbiont/store"
	"github.com/symbiont/symbiont/tenant"
)

// The console's aggregates (overview.Tx and the rewards report figures) must give exactly
// what scanning the rows gives. ConsoleScenario writes a history through the store — consumers
// created, consent decided (renewed, withdrawn, refused, expired, some stamped out of order, at
// midnight exactly, expiring later today), events stored twice, merged and erased, paid grants,
// journals and redemptions — and Check compares every aggregate with a scan of the same rows
// read back one consumer at a time, replayed as the console's overview once did per request.

// ConsoleScenario is a history written to a store, with what Check needs to scan it back.
type ConsoleScenario struct {
	Brands    []*tenant.Brand
	Consumers map[int64][]int64 // by brand: every consumer created, merged ones too
	Now       time.Time         // no decision is stamped later
	grants    []*rewards.Grant
	ended     map[int64]bool // grants ended, by record id
	redeemed  map[int64]map[string][2]int64
}

// consolePairs are the pairs the scenario decides on.
var consolePairs = [][2]string{{"email", "marketing"}, {"email", "analytics"}, {"location", "ads"}, {"purchases", "marketing"}}

// NewConsoleScenario writes the history into s. Every time is a whole millisecond.
func NewConsoleScenario(t *testing.T, s store.Store) *ConsoleScenario {
	t.Helper()
	ctx := ctxT(t)
	day := 24 * time.Hour
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := start.Add(40*day + 13*time.Hour + 37*time.Minute + 12345*time.Millisecond)
	sc := &ConsoleScenario{Consumers: map[int64][]int64{}, Now: now, ended: map[int64]bool{}, redeemed: map[int64]map[string][2]int64{}}
	rng := rand.New(rand.NewPCG(14, 7))
	between := func(a, b time.Time) time.Time { // a whole millisecond in [a, b)
		return a.Add(time.Duration(rng.Int64N(int64(b.Sub(a)/time.Millisecond))) * time.Millisecond)
	}
	for i, name := range []string{"console_a", "console_b"} {
		b := newBrand(t, s, name)
		sc.Brands = append(sc.Brands, b)
		sc.redeemed[b.ID] = map[string][2]int64{}
		n := []int{24, 12}[i]
		var live []int64
		for c := range n {
			created := between(start, now.Add(-2*day))
			if c == 0 {
				created = start.Add(3 * day) // exactly midnight: counts on the day before
			}
			var id int64
			update(t, s, func(tx store.Tx) (err error) {
				id, err = tx.CreateConsumer(ctx, b.ID, created)
				return err
			})
			sc.Consumers[b.ID] = append(sc.Consumers[b.ID], id)
			live = append(live, id)
			sc.decide(t, s, rng, b.ID, id, created, between)
			sc.events(t, s, rng, b.ID, id, created, between)
		}
		// Merges: the histories, events and points of two consumers become one.
		for range []int{3, 1}[i] {
			from, into := live[len(live)-1], live[len(live)-2]
			live = live[:len(live)-1]
			update(t, s, func(tx store.Tx) error { return tx.MergeConsumers(ctx, b.ID, from, into, now.Add(-time.Hour)) })
		}
		// Erasure: every active grant withdrawn first (as access.Erase does), then the rows.
		gone := live[1]
		erased := sc.Now
		var cur []*consent.Record
		view(t, s, func(tx store.Tx) (err error) {
			cur, err = tx.CurrentConsents(ctx, b.ID, gone)
			return err
		})
		for _, r := range cur {
			if r.State == consent.StateGiven {
				insertRecords(t, s, grant(b.ID, gone, r.Category, r.Purpose, consent.StateWithdrawn, erased))
			}
		}
		update(t, s, func(tx store.Tx) error {
			_, err := tx.DeleteConsumerData(ctx, b.ID, []int64{gone}, erased)
			return err
		})
		sc.rewards(t, s, rng, b.ID, live, between)
	}
	return sc
}

// decide writes a consumer's decisions in time order, and a few refusals stamped earlier than
// decisions of their pair already recorded (clocks of two nodes apart) where the pair's
// latest decision is not a grant (see ConsentDays on today's figure).
func (sc *ConsoleScenario) decide(t *testing.T, s store.Store, rng *rand.Rand, brandID, id int64, from time.Time, between func(a, b time.Time) time.Time) {
	t.Helper()
	day := 24 * time.Hour
	eod := sc.Now.UTC().Truncate(day).Add(day)
	at := from
	given := map[[2]string]bool{}
	for range rng.IntN(7) {
		p := consolePairs[rng.IntN(len(consolePairs))]
		prev := at
		if at = between(at, at.Add(6*day)); at.After(sc.Now) {
			return
		}
		var r *consent.Record
		switch k := rng.IntN(10); {
		case k < 5:
			r = grant(brandID, id, p[0], p[1], consent.StateGiven, at)
			switch rng.IntN(4) {
			case 0: // no expiry
			case 1: // expires later today, after now
				r.ExpiresAt = between(sc.Now.Add(time.Millisecond), eod.Add(time.Millisecond))
			default:
				r.ExpiresAt = at.Add(time.Duration(1+rng.IntN(20)) * day)
			}
			if m := at.UTC().Truncate(day); rng.IntN(6) == 0 && !m.Before(prev) {
				at = m // exactly midnight
				r.At, r.ExpiresAt = m, m.Add(2*day)
			}
		case k < 7:
			r = grant(brandID, id, p[0], p[1], consent.StateWithdrawn, at)
		case k < 8:
			r = grant(brandID, id, p[0], p[1], consent.StateRefused, at)
		case k < 9:
			r = grant(brandID, id, p[0], p[1], consent.StateExpired, at)
		default:
			if given[p] {
				continue
			}
			r = grant(brandID, id, p[0], p[1], consent.StateRefused, between(from, at))
			at = prev
		}
		given[p] = r.State == consent.StateGiven
		insertRecords(t, s, r)
	}
}

// events stores a consumer's events, some of them twice.
func (sc *ConsoleScenario) events(t *testing.T, s store.Store, rng *rand.Rand, brandID, id int64, from time.Time, between func(a, b time.Time) time.Time) {
	t.Helper()
	var es []*store.Event
	for k := range rng.IntN(6) {
		recv := between(from, sc.Now)
		if k == 0 {
			recv = recv.UTC().Truncate(24 * time.Hour) // exactly midnight
		}
		m := fmt.Sprintf("c%d-%d", id, k)
		es = append(es, &store.Event{BrandID: brandID, ConsumerID: id, Category: "email", MID: mid(m), Timestamp: recv,
			ReceivedAt: recv, KeyOwner: id, Payload: []byte("sealed:" + m)})
	}
	if len(es) == 0 {
		return
	}
	insertEvents(t, s, es...)
	insertEvents(t, s, es[0]) // a retry: a duplicate, not stored again
}

// rewards writes paid grants (some ended, some ending later today), journals (one refused for
// overdrawing) and redemptions.
func (sc *ConsoleScenario) rewards(t *testing.T, s store.Store, rng *rand.Rand, brandID int64, live []int64, between func(a, b time.Time) time.Time) {
	t.Helper()
	ctx := ctxT(t)
	day := 24 * time.Hour
	eod := sc.Now.UTC().Truncate(day).Add(day)
	for i, c := range live {
		p := consolePairs[rng.IntN(len(consolePairs))]
		g := &rewards.Grant{RecordID: brandID*1000 + int64(i) + 1, ReceiptID: fmt.Sprintf("rcpt_g%d_%d", brandID, i), BrandID: brandID, ConsumerID: c,
			Category: p[0], Purpose: p[1], Version: 1, Start: sc.Now.Add(-10 * day), PointsPer30: 30, FactorMilli: 1000, DurationDays: 30}
		switch rng.IntN(3) {
		case 0:
			g.End = between(sc.Now.Add(time.Millisecond), eod.Add(time.Millisecond)) // later today
		case 1:
			g.End = between(sc.Now.Add(-5*day), sc.Now) // past its end, not ended yet
		default:
			g.End = sc.Now.Add(time.Duration(1+rng.IntN(30)) * day)
		}
		update(t, s, func(tx store.Tx) error { return tx.InsertGrant(ctx, g) })
		sc.grants = append(sc.grants, g)
		if rng.IntN(3) == 0 {
			update(t, s, func(tx store.Tx) error { return tx.EndGrant(ctx, g.RecordID, sc.Now.Add(-time.Minute)) })
			update(t, s, func(tx store.Tx) error { return tx.EndGrant(ctx, g.RecordID, sc.Now) }) // ended already: no change
			sc.ended[g.RecordID] = true
		}
		if i%3 == 2 {
			continue // holds no points
		}
		pts := int64(10 + rng.IntN(90))
		j := &rewards.Journal{BrandID: brandID, ConsumerID: c, Kind: rewards.KindAccrual, IdempotencyKey: fmt.Sprintf("accrual/%d", c), At: sc.Now.Add(-day),
			Postings: []rewards.Posting{{Account: rewards.ConsumerAccount(c), Amount: pts}, {Account: rewards.BrandAccount(brandID, "issued"), Amount: -pts}}}
		update(t, s, func(tx store.Tx) error {
			bal, err := tx.PostJournals(ctx, []*rewards.Journal{j})
			if err == nil && (bal[rewards.ConsumerAccount(c)] != pts || bal[rewards.BrandAccount(brandID, "issued")] > -pts) {
				t.Errorf("PostJournals returned balances %v after crediting %d to consumer %d", bal, pts, c)
			}
			return err
		})
		if i%4 == 1 { // spends everything: no longer holds any
			spend := &rewards.Journal{BrandID: brandID, ConsumerID: c, Kind: rewards.KindRedemption, IdempotencyKey: fmt.Sprintf("redeem/%d", c), At: sc.Now,
				Postings: []rewards.Posting{{Account: rewards.ConsumerAccount(c), Amount: -pts}, {Account: rewards.BrandAccount(brandID, "redeemed"), Amount: pts}}}
			reward := []string{"spa", "upgrade"}[rng.IntN(2)]
			update(t, s, func(tx store.Tx) error {
				if _, err := tx.PostJournals(ctx, []*rewards.Journal{spend}); err != nil {
					return err
				}
				return tx.InsertRedemption(ctx, &rewards.Redemption{BrandID: brandID, ConsumerID: c, Reward: reward, Cost: pts,
					Code: fmt.Sprintf("CODE-%d", c), IdempotencyKey: fmt.Sprintf("k%d", c), At: sc.Now})
			})
			r := sc.redeemed[brandID][reward]
			sc.redeemed[brandID][reward] = [2]int64{r[0] + 1, r[1] + pts}
		}
	}
	// An overdrawing journal: the store reports the balance it leaves, and the transaction that
	// refuses it (package rewards does) rolls back, counters included.
	c := live[0]
	over := &rewards.Journal{BrandID: brandID, ConsumerID: c, Kind: rewards.KindRedemption, IdempotencyKey: fmt.Sprintf("over/%d", c), At: sc.Now,
		Postings: []rewards.Posting{{Account: rewards.ConsumerAccount(c), Amount: -1_000_000}, {Account: rewards.BrandAccount(brandID, "redeemed"), Amount: 1_000_000}}}
	err := s.Update(ctx, func(tx store.Tx) error {
		bal, err := tx.PostJournals(ctx, []*rewards.Journal{over})
		if err != nil {
			return err
		}
		if bal[rewards.ConsumerAccount(c)] >= 0 {
			t.Errorf("PostJournals returned %v after overdrawing consumer %d", bal, c)
		}
		return errors.New("overdrawn")
	})
	if err == nil {
		t.Fatal("the overdrawing transaction committed")
	}
	// A consumer merged after earning: two balances become one.
	if len(live) > 3 {
		from, into := live[len(live)-1], live[0]
		update(t, s, func(tx store.Tx) error { return tx.MergeConsumers(ctx, brandID, from, into, sc.Now) })
	}
}

// ConsentScan is the overview's consent chart as a scan of the rows gave it (before the
// store kept counters, and what they must equal): every consent record of the brand replayed
// in (time, id) order, each consumer's latest decision per pair active when it is a grant not
// yet expired at the end of each day (at now for today), over the live consumers created by
// then. The fields are as in overview.ConsentDays.
type ConsentScan struct {
	Pairs     []overview.Pair
	Active    [][]int64
	Consumers []int64
	Total     int64
}

// ScanConsent replays the brand's consent records rs (any order) and the creation times of
// its live consumers.
func ScanConsent(rs []*consent.Record, created []time.Time, start time.Time, days int, now time.Time) ConsentScan {
	type state struct {
		given   bool
		expires time.Time
	}
	slices.SortFunc(rs, func(a, b *consent.Record) int { return cmp.Or(a.At.Compare(b.At), cmp.Compare(a.ID, b.ID)) })
	slices.SortFunc(created, func(a, b time.Time) int { return a.Compare(b) })
	out := ConsentScan{Total: int64(len(created)), Consumers: make([]int64, days)}
	idx := map[overview.Pair]int{}
	for _, r := range rs {
		p := overview.Pair{Category: r.Category, Purpose: r.Purpose}
		if _, ok := idx[p]; !ok {
			idx[p] = len(out.Pairs)
			out.Pairs = append(out.Pairs, p)
		}
	}
	slices.SortFunc(out.Pairs, func(a, b overview.Pair) int {
		return cmp.Or(strings.Compare(a.Category, b.Category), strings.Compare(a.Purpose, b.Purpose))
	})
	for i, p := range out.Pairs {
		idx[p] = i
	}
	out.Active = make([][]int64, len(out.Pairs))
	for i := range out.Active {
		out.Active[i] = make([]int64, days)
	}
	cur := map[int64]map[overview.Pair]state{}
	next, born := 0, 0
	for d := range days {
		end := start.AddDate(0, 0, d+1)
		if end.After(now) {
			end = now
		}
		for ; next < len(rs) && !rs[next].At.After(end); next++ {
			r := rs[next]
			m := cur[r.ConsumerID]
			if m == nil {
				m = map[overview.Pair]state{}
				cur[r.ConsumerID] = m
			}
			m[overview.Pair{Category: r.Category, Purpose: r.Purpose}] = state{given: r.State == consent.StateGiven, expires: r.ExpiresAt}
		}
		for born < len(created) && !created[born].After(end) {
			born++
		}
		out.Consumers[d] = int64(born)
		for _, m := range cur {
			for p, st := range m {
				if st.given && (st.expires.IsZero() || end.Before(st.expires)) {
					out.Active[idx[p]][d]++
				}
			}
		}
	}
	return out
}

// Check compares every console aggregate of s with a scan of its rows.
func (sc *ConsoleScenario) Check(t *testing.T, s store.Store) {
	t.Helper()
	ctx := ctxT(t)
	day := 24 * time.Hour
	for _, b := range sc.Brands {
		// Scan the rows back, one consumer at a time.
		var rs []*consent.Record
		var created []time.Time
		events := map[time.Time]int64{}
		balances := [2]int64{}
		view(t, s, func(tx store.Tx) error {
			for _, id := range sc.Consumers[b.ID] {
				c := get[*identity.Consumer](t)(tx.Consumer(ctx, b.ID, id))
				if c.MergedInto == 0 {
					created = append(created, c.CreatedAt)
				}
				rs = append(rs, get[[]*consent.Record](t)(tx.ConsentHistory(ctx, b.ID, id))...)
				for _, e := range get[[]*store.Event](t)(tx.ConsumerEvents(ctx, b.ID, id, nil, 0)) {
					events[e.ReceivedAt.UTC().Truncate(day)]++
				}
				if bal := get[int64](t)(tx.Balance(ctx, rewards.ConsumerAccount(id))); bal > 0 {
					balances[0] += bal
					balances[1]++
				}
			}
			return nil
		})
		if len(rs) < 20 || len(events) < 10 || balances[1] < 2 {
			t.Fatalf("brand %s: the scenario is too thin: %d records, %d days of events, %d holders", b.PublicID, len(rs), len(events), balances[1])
		}
		// Consent, at several nows (none before a recorded decision) and over 30 and 90 days.
		nextMidnight := sc.Now.UTC().Truncate(day).Add(day)
		for _, now := range []time.Time{sc.Now, sc.Now.Add(3 * time.Hour), nextMidnight, nextMidnight.Add(-time.Millisecond), sc.Now.Add(50 * time.Hour)} {
			for _, days := range []int{30, 90} {
				start := now.UTC().Truncate(day).AddDate(0, 0, -(days - 1))
				if now.Equal(nextMidnight) {
					start = start.AddDate(0, 0, -1) // the last day ends exactly now
				}
				want := ScanConsent(slices.Clone(rs), slices.Clone(created), start, days, now)
				var got *overview.ConsentDays
				view(t, s, func(tx store.Tx) (err error) {
					got, err = tx.ConsentDays(ctx, b.ID, start, days, now)
					return err
				})
				what := fmt.Sprintf("brand %s, %d days to %s", b.PublicID, days, now.Format(time.RFC3339Nano))
				eq(t, what+": pairs", got.Pairs, want.Pairs)
				eq(t, what+": consumers per day", got.Consumers, want.Consumers)
				eq(t, what+": consumers", got.Total, want.Total)
				if slices.EqualFunc(got.Pairs, want.Pairs, func(a, b overview.Pair) bool { return a == b }) {
					for i, p := range got.Pairs {
						eq(t, fmt.Sprintf("%s: active %s/%s", what, p.Category, p.Purpose), got.Active[i], want.Active[i])
					}
				}
			}
		}
		// Events stored per day.
		var stored []overview.IngestCount
		from := sc.Now.UTC().Truncate(day).AddDate(0, 0, -89)
		view(t, s, func(tx store.Tx) (err error) {
			stored, err = tx.StoredEventsPerDay(ctx, b.ID, from)
			return err
		})
		gotEvents := map[time.Time]int64{}
		for _, c := range stored {
			gotEvents[c.Day.UTC()] += c.Count
		}
		eq(t, "brand "+b.PublicID+": events stored per day", gotEvents, events)
		// Liability, paid grants, redemptions.
		var pts, holders int64
		var grants []rewards.CategoryCount
		var reds []rewards.RewardCount
		for _, now := range []time.Time{sc.Now, sc.Now.Add(2 * time.Hour), nextMidnight, sc.Now.Add(40 * day)} {
			view(t, s, func(tx store.Tx) (err error) {
				if pts, holders, err = tx.Liability(ctx, b.ID); err != nil {
					return err
				}
				if grants, err = tx.GrantsByCategory(ctx, b.ID, now); err != nil {
					return err
				}
				reds, err = tx.RedemptionReport(ctx, b.ID)
				return err
			})
			eq(t, "brand "+b.PublicID+": liability", [2]int64{pts, holders}, balances)
			active := map[overview.Pair]int64{}
			for _, g := range sc.grants {
				if g.BrandID == b.ID && !sc.ended[g.RecordID] && g.End.After(now) {
					active[overview.Pair{Category: g.Category, Purpose: g.Purpose}]++
				}
			}
			var wantGrants []rewards.CategoryCount
			for p, n := range active {
				wantGrants = append(wantGrants, rewards.CategoryCount{Category: p.Category, Purpose: p.Purpose, Active: n})
			}
			slices.SortFunc(wantGrants, func(a, b rewards.CategoryCount) int {
				return cmp.Or(strings.Compare(a.Category, b.Category), strings.Compare(a.Purpose, b.Purpose))
			})
			eq(t, fmt.Sprintf("brand %s: active paid grants at %s", b.PublicID, now.Format(time.RFC3339Nano)), grants, wantGrants)
		}
		var wantReds []rewards.RewardCount
		for r, v := range sc.redeemed[b.ID] {
			wantReds = append(wantReds, rewards.RewardCount{Reward: r, Count: v[0], Points: v[1]})
		}
		slices.SortFunc(wantReds, func(a, b rewards.RewardCount) int { return strings.Compare(a.Reward, b.Reward) })
		eq(t, "brand "+b.PublicID+": redemptions", reds, wantReds)
	}
}

func testConsole(t *testing.T, s store.Store) {
	NewConsoleScenario(t, s).Check(t, s)
}

// testIngestCounts: the ingestion tallies add up per brand, UTC day and outcome, whatever the
// time of day or the zone a count is stamped with, only as transactions commit (racing ones
// too), and are read back by day, then outcome, from the day of from on.
func testIngestCounts(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	a, b := newBrand(t, s, "a"), newBrand(t, s, "b")
	day := 24 * time.Hour
	d0 := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	ic := func(brand int64, d time.Time, outcome string, n int64) overview.IngestCount {
		return overview.IngestCount{BrandID: brand, Day: d, Outcome: outcome, Count: n}
	}
	read := func(brand int64, from time.Time) (out []overview.IngestCount) {
		t.Helper()
		view(t, s, func(tx store.Tx) (err error) {
			out, err = tx.IngestCounts(ctx, brand, from)
			return err
		})
		return out
	}
	add := func(cs ...overview.IngestCount) {
		t.Helper()
		update(t, s, func(tx store.Tx) error { return tx.AddIngestCounts(ctx, cs) })
	}
	if cs := read(a.ID, d0); len(cs) != 0 {
		t.Errorf("IngestCounts without tallies = %s", dump(cs))
	}
	add(ic(a.ID, d0, "accepted", 5), ic(a.ID, d0.Add(13*time.Hour), "accepted", 4), ic(a.ID, d0.Add(day-time.Millisecond), "invalid", 2),
		ic(b.ID, d0, "accepted", 100))
	// 00:30 on 3 February in UTC+1 is 23:30 on the 2nd in UTC.
	add(ic(a.ID, time.Date(2026, 2, 3, 0, 30, 0, 0, time.FixedZone("UTC+1", 3600)), "accepted", 3),
		ic(a.ID, d0.Add(day), "consent_denied", 1), ic(a.ID, d0.Add(day), "accepted", 1), ic(a.ID, d0.Add(-day), "accepted", 8))
	add()
	// A failed transaction adds nothing.
	err := s.Update(ctx, func(tx store.Tx) error {
		must(t, tx.AddIngestCounts(ctx, []overview.IngestCount{ic(a.ID, d0, "accepted", 1000)}))
		return errTest
	})
	if !errors.Is(err, errTest) {
		t.Fatalf("Update = %v", err)
	}
	fromD0 := []overview.IngestCount{ic(a.ID, d0, "accepted", 9), ic(a.ID, d0, "invalid", 2),
		ic(a.ID, d0.Add(day), "accepted", 4), ic(a.ID, d0.Add(day), "consent_denied", 1)}
	for _, tc := range []struct {
		name  string
		brand int64
		from  time.Time
		want  []overview.IngestCount
	}{
		{"from a day", a.ID, d0, fromD0},
		{"from within the day", a.ID, d0.Add(18 * time.Hour), fromD0},
		{"from the day before", a.ID, d0.Add(-day), append([]overview.IngestCount{ic(a.ID, d0.Add(-day), "accepted", 8)}, fromD0...)},
		{"from the last day", a.ID, d0.Add(day), fromD0[2:]},
		{"from after the last", a.ID, d0.Add(2 * day), nil},
		{"another brand", b.ID, d0.Add(-day), []overview.IngestCount{ic(b.ID, d0, "accepted", 100)}},
	} {
		got := read(tc.brand, tc.from)
		if len(got) == 0 {
			got = nil
		}
		eq(t, "IngestCounts("+tc.name+")", got, tc.want)
	}
	// Racing flushes add up: none is lost.
	const workers, flushes = 4, 5
	var wg sync.WaitGroup
	errs := make(chan error, workers*flushes)
	for range workers {
		wg.Go(func() {
			for range flushes {
				if err := s.Update(ctx, func(tx store.Tx) error {
					return tx.AddIngestCounts(ctx, []overview.IngestCount{ic(b.ID, d0.Add(5*day), "accepted", 1), ic(b.ID, d0.Add(5*day), "invalid", 2)})
				}); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("racing AddIngestCounts: %v", err)
	}
	eq(t, "IngestCounts after racing flushes", read(b.ID, d0.Add(5*day)),
		[]overview.IngestCount{ic(b.ID, d0.Add(5*day), "accepted", workers*flushes), ic(b.ID, d0.Add(5*day), "invalid", 2*workers*flushes)})
}

// UndoConsoleMigration is what a backfill test runs on a store's database (closed) to take it
// back to before migration 0007, so that opening it again backfills the console's counters
// from the rows.
var UndoConsoleMigration = []string{
	`DROP TABLE console_counts`,
	`DROP INDEX reward_grants_open_ends`,
	`DROP INDEX consents_due`,
	`CREATE INDEX consents_due ON consents(expires_at) WHERE state = 'given' AND expires_at <> 0`,
	`ALTER TABLE points_postings DROP COLUMN detail`,
	`DELETE FROM schema_migrations WHERE version = 7`,
}
