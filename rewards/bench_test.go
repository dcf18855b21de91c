package rewards_test

import (
	"context"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/symbiont/symbiont"
	"github.com/symbiont/symbiont/platform"
	"github.com/symbiont/symbiont/rewards"
	"github.com/symbiont/symbiont/store"
)

// BenchmarkAccrual1M times one accrual run over 1,000,000 active grants (3 per consumer, so
// 333,334 consumers), 30 days after they were given: every grant is credited, every consumer
// gets a journal, a lot, a tier check and a ledger entry. The grants are inserted directly (the
// consent path is measured elsewhere). Set SYMBIONT_BENCH_GRANTS to change the count.
func BenchmarkAccrual1M(b *testing.B) {
	if testing.Short() {
		b.Skip("builds a million grants; not with -short")
	}
	n := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("SYMBIONT_BENCH_GRANTS")); err == nil && v > 0 {
		n = v
	}
	ctx := context.Background()
	for b.Loop() {
		b.StopTimer()
		clock := symbiont.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
		p, err := platform.Open(ctx, platform.Config{DataDir: b.TempDir(), AdminToken: "bench-admin-token-0123456789", Clock: clock,
			ExpiryInterval: -1, AccrualInterval: -1, IntegrateEvery: time.Hour})
		if err != nil {
			b.Fatal(err)
		}
		nb, err := p.Tenants.CreateBrand(ctx, "Bench")
		if err != nil {
			b.Fatal(err)
		}
		brand := nb.Brand.ID
		if _, err := p.Rewards.PutRateCard(ctx, brand, []byte(`{"rates":[
			{"category":"purchases","purpose":"personalization","points_per_30_days":40,"bonus":100},
			{"category":"browsing","purpose":"analytics","points_per_30_days":10},
			{"category":"contact","purpose":"marketing","points_per_30_days":30,"multipliers":[{"min_days":365,"factor":1.5}]}],
			"tiers":{"basis":"points_12m","levels":[{"name":"Member","min":0},{"name":"Silver","min":100}]}}`)); err != nil {
			b.Fatal(err)
		}
		pairs := [][2]string{{"purchases", "personalization"}, {"browsing", "analytics"}, {"contact", "marketing"}}
		start := clock.Now()
		const perTx = 20000
		for from := 0; from < n; from += perTx {
			err := p.Store.Update(ctx, func(tx store.Tx) error {
				for i := from; i < min(from+perTx, n); i++ {
					pr := pairs[i%3]
					g := &rewards.Grant{RecordID: int64(i + 1), ReceiptID: "rcpt_" + strconv.Itoa(i), BrandID: brand, ConsumerID: int64(i/3 + 1),
						Category: pr[0], Purpose: pr[1], Version: 1, Start: start, End: start.AddDate(1, 0, 0), PointsPer30: 40, Bonus: 100,
						FactorMilli: 1000, DurationDays: 365}
					if err := tx.InsertGrant(ctx, g); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		clock.Advance(30 * 24 * time.Hour)
		b.StartTimer()
		t0 := time.Now()
		res, err := p.Rewards.Accrue(ctx)
		if err != nil {
			b.Fatal(err)
		}
		el := time.Since(t0)
		b.StopTimer()
		if res.Grants != n || res.Journals < (n+2)/3 || res.Journals > (n+2)/3+n/p.Rewards.PageSize+1 {
			b.Fatalf("accrued %+v", res)
		}
		b.ReportMetric(el.Seconds(), "s/run")
		b.ReportMetric(float64(n)/el.Seconds(), "grants/s")
		p.Close()
		b.StartTimer()
	}
}

// BenchmarkRedeem times redemptions through the service on SQLite: 10,000 consumers (set
// SYMBIONT_BENCH_CONSUMERS to change it), each with two lots of points (two accrual runs), and
// one after another they redeem a 10-point reward (by turns one of unlimited stock and one of
// limited stock) with a new idempotency key: the whole transaction (lock, idempotency look-up,
// reward, balance, stock, oldest lots first, balanced journal, redemption with its code, ledger
// entry) and its commit (synchronous=FULL: on disk when it returns). The ledger integrates in
// the background every second, as in production. It reports the latency's p50 and p99 in ms.
func BenchmarkRedeem(b *testing.B) {
	n := 10_000
	if v, err := strconv.Atoi(os.Getenv("SYMBIONT_BENCH_CONSUMERS")); err == nil && v > 0 {
		n = v
	}
	ctx := context.Background()
	clock := symbiont.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	p, err := platform.Open(ctx, platform.Config{DataDir: b.TempDir(), AdminToken: "bench-admin-token-0123456789", Clock: clock,
		ExpiryInterval: -1, AccrualInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	nb, err := p.Tenants.CreateBrand(ctx, "Bench")
	if err != nil {
		b.Fatal(err)
	}
	brand := nb.Brand.ID
	if _, err := p.Rewards.PutRateCard(ctx, brand, []byte(`{"points_expire_after_days":730,
		"rates":[{"category":"purchases","purpose":"personalization","points_per_30_days":300,"bonus":1000000}],
		"tiers":{"basis":"points_12m","levels":[{"name":"Member","min":0},{"name":"Silver","min":100}]}}`)); err != nil {
		b.Fatal(err)
	}
	if err := p.Rewards.PutReward(ctx, brand, &rewards.Reward{ID: "tree", Name: "Plant a tree", Kind: "donation", Cost: 10, Stock: -1, Active: true}); err != nil {
		b.Fatal(err)
	}
	if err := p.Rewards.PutReward(ctx, brand, &rewards.Reward{ID: "voucher", Name: "Voucher", Kind: "coupon", Cost: 10, Stock: 1_000_000_000, Active: true}); err != nil {
		b.Fatal(err)
	}
	start := clock.Now()
	if err := p.Store.Update(ctx, func(tx store.Tx) error {
		for i := range n {
			if err := tx.InsertGrant(ctx, &rewards.Grant{RecordID: int64(i + 1), ReceiptID: "rcpt_" + strconv.Itoa(i), BrandID: brand, ConsumerID: int64(i + 1),
				Category: "purchases", Purpose: "personalization", Version: 1, Start: start, End: start.AddDate(1, 0, 0), PointsPer30: 300,
				Bonus: 1_000_000, FactorMilli: 1000, DurationDays: 365}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	for range 2 { // two lots each: the bonus with 30 days, then 30 more days
		clock.Advance(30 * 24 * time.Hour)
		if _, err := p.Rewards.Accrue(ctx); err != nil {
			b.Fatal(err)
		}
	}
	lat := make([]time.Duration, 0, 1<<16)
	i := 0
	for b.Loop() {
		reward := "tree"
		if i%2 == 1 {
			reward = "voucher"
		}
		t0 := time.Now()
		red, replay, err := p.Rewards.Redeem(ctx, brand, int64(i%n+1), reward, "bench-"+strconv.Itoa(i))
		lat = append(lat, time.Since(t0))
		if err != nil || replay || red.Code == "" {
			b.Fatalf("redemption %d: %v (replay %v)", i, err, replay)
		}
		i++
	}
	b.StopTimer()
	slices.Sort(lat)
	q := func(f float64) float64 { return float64(lat[min(len(lat)-1, int(f*float64(len(lat))))]) / 1e6 }
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
}
