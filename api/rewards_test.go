package api_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/symbiont/symbiont/rewards"
	"github.com/symbiont/symbiont/store"
)

var hotelCard = map[string]any{
	"currency": "USD", "point_value": 0.01,
	"rates": []map[string]any{
		{"category": "purchases", "purpose": "personalization", "points_per_30_days": 40, "bonus": 100},
		{"category": "contact", "purpose": "marketing", "points_per_30_days": 30,
			"multipliers": []map[string]any{{"min_days": 180, "factor": 1.2}, {"min_days": 365, "factor": 1.5}}},
		{"category": "feedback", "purpose": "product_research", "points_per_30_days": 300, "cap": 500},
	},
	"tiers": map[string]any{"basis": "points_12m", "levels": []map[string]any{
		{"name": "Member", "min": 0}, {"name": "Silver", "min": 200, "benefits": []string{"Late checkout"}}, {"name": "Gold", "min": 1000}}},
	"estimate_method":     "Average uplift in bookings from personalised offers, 2025, divided by members.",
	"data_value_per_year": map[string]any{"purchases/personalization": 6.5},
}

func (e *env) accrue(t *testing.T) {
	t.Helper()
	if _, err := e.p.Rewards.Accrue(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// balance reads the consumer's balance through a fresh wallet session (time travel in these
// tests outlives sessions).
func balance(e *env, b brand, user string) int {
	e.t.Helper()
	return num(e.must(200, "GET", "/v1/me/rewards", e.wallet(b, user), nil)["balance"])
}

// TestRewardsAccrual: pro-rating by the day, the bonus, withdrawal mid-period (no claw-back),
// catch-up after a gap, multipliers, caps, idempotent reruns and versioned terms.
func TestRewardsAccrual(t *testing.T) {
	eachStore(t, func(t *testing.T, newEnv func(*testing.T) *env) {
		e := newEnv(t)
		b := e.setup("Aurora")
		card := e.must(200, "PUT", "/v1/rate-card", b.SK, hotelCard)
		if num(card["version"]) != 1 {
			t.Fatalf("rate card: %v", card)
		}
		e.grant(b, "g1", "purchases", "personalization", map[string]any{"duration_days": 30})

		// 15 days: the bonus and 15 days pro-rated: 40*15/30 = 20.
		e.clock.Advance(15*24*time.Hour + time.Hour)
		e.accrue(t)
		if got := balance(e, b, "g1"); got != 120 {
			t.Fatalf("after 15 days: balance %d, want 120", got)
		}
		e.accrue(t) // a second run at the same time credits nothing
		if got := balance(e, b, "g1"); got != 120 {
			t.Fatalf("a rerun credited again: %d", got)
		}
		// Withdraw 5 days later; 10 more days pass: only the 5 days count (40*20/30 = 26, 26-20 = 6).
		e.clock.Advance(5 * 24 * time.Hour)
		e.must(200, "DELETE", "/v1/me/consents/purchases/personalization", e.wallet(b, "g1"), nil)
		e.clock.Advance(10 * 24 * time.Hour)
		e.accrue(t)
		if got := balance(e, b, "g1"); got != 126 {
			t.Fatalf("after withdrawal: balance %d, want 126 (points earned are never taken back)", got)
		}

		// A long grant earns the multiplier; a gap of 100 days without accrual is caught up at once.
		e.grant(b, "g1", "contact", "marketing", map[string]any{"duration_days": 365})
		e.clock.Advance(100*24*time.Hour + time.Hour)
		e.accrue(t)
		if got := balance(e, b, "g1"); got != 126+150 { // 30*100/30*1.5 = 150
			t.Fatalf("after a 100-day gap: balance %d, want %d", got, 126+150)
		}
		// A cap bounds a grant: 300/30 days, capped at 500.
		e.grant(b, "g1", "feedback", "product_research", map[string]any{"duration_days": 365})
		e.clock.Advance(90 * 24 * time.Hour)
		e.accrue(t)
		sum := e.must(200, "GET", "/v1/me/rewards", e.wallet(b, "g1"), nil)
		if got := num(sum["balance"]); got != 126+150+135+500 { // contact: 30*190/30*1.5 = 285 → +135
			t.Fatalf("with the cap: balance %d, want %d: %v", got, 126+150+135+500, sum["statement"])
		}
		// Every line says why.
		st := mustJSON(sum["statement"])
		for _, want := range []string{"Bonus for sharing purchases for personalization", "15 days of purchases for personalization at 40 points/30 days",
			"5 days of purchases for personalization", "100 days of contact for marketing at 30 points/30 days, ×1.5 for a 365-day grant", "capped at 500"} {
			if !strings.Contains(st, want) {
				t.Errorf("statement lacks %q: %s", want, st)
			}
		}
		if tier := sum["tier"].(map[string]any); tier["name"] != "Silver" || !strings.Contains(tier["reason"].(string), "points earned in the last 12 months") {
			t.Errorf("tier: %v", tier)
		}

		// Versioned terms: v2 doubles purchases; the running contact grant keeps v1's terms;
		// a new purchases grant (a renewal) is paid under v2 — and gets no second bonus.
		v2 := map[string]any{}
		for k, v := range hotelCard {
			v2[k] = v
		}
		v2["rates"] = []map[string]any{{"category": "purchases", "purpose": "personalization", "points_per_30_days": 80, "bonus": 100},
			{"category": "contact", "purpose": "marketing", "points_per_30_days": 1}}
		if c := e.must(200, "PUT", "/v1/rate-card", b.SK, v2); num(c["version"]) != 2 {
			t.Fatalf("v2: %v", c)
		}
		before := balance(e, b, "g1")
		e.grant(b, "g1", "purchases", "personalization", map[string]any{"duration_days": 30})
		e.clock.Advance(30 * 24 * time.Hour)
		e.accrue(t)
		// purchases: 80 (v2, no bonus: not a first grant). contact (v1 terms, 1.5x): 30*220/30*1.5=330 → +45.
		if got := balance(e, b, "g1"); got != before+80+45 {
			t.Fatalf("versioned terms: balance %d, want %d", got, before+80+45)
		}
	})
}

// TestRedemption: atomic, idempotent, never overspending, even with 100 concurrent redemptions.
func TestRedemption(t *testing.T) {
	eachStore(t, func(t *testing.T, newEnv func(*testing.T) *env) {
		e := newEnv(t)
		b := e.setup("Aurora")
		e.must(200, "PUT", "/v1/rate-card", b.SK, hotelCard)
		e.must(200, "PUT", "/v1/rewards/catalog/spa-voucher", b.SK, map[string]any{"name": "Spa voucher", "kind": "coupon", "cost": 100, "stock": 1, "per_consumer_limit": 5, "active": true})
		e.must(200, "PUT", "/v1/rewards/catalog/tree", b.SK, map[string]any{"name": "Plant a tree", "kind": "donation", "cost": 10, "stock": -1, "active": true})
		e.grant(b, "g1", "purchases", "personalization", map[string]any{"duration_days": 365})
		wt := e.wallet(b, "g1")
		e.clock.Advance(120*24*time.Hour + time.Hour) // 100 bonus + 160
		e.accrue(t)
		wt = e.wallet(b, "g1")
		if got := balance(e, b, "g1"); got != 260 {
			t.Fatalf("balance %d, want 260", got)
		}
		cat := e.must(200, "GET", "/v1/rewards/catalog", wt, nil)
		if len(cat["rewards"].([]any)) != 2 {
			t.Fatalf("catalog: %v", cat)
		}
		r1 := e.must(201, "POST", "/v1/me/redemptions", wt, map[string]any{"reward": "spa-voucher", "idempotency_key": "k1"})
		r1b := e.must(200, "POST", "/v1/me/redemptions", wt, map[string]any{"reward": "spa-voucher", "idempotency_key": "k1"})
		if r1["code"] == "" || r1["code"] != r1b["code"] || balance(e, b, "g1") != 160 {
			t.Fatalf("idempotent redemption: %v / %v, balance %d", r1, r1b, balance(e, b, "g1"))
		}
		if r := e.do("POST", "/v1/me/redemptions", wt, map[string]any{"reward": "tree", "idempotency_key": "k1"}); r.Status != 409 {
			t.Fatalf("key reused for another reward: %d %s", r.Status, r.Body)
		}
		if r := e.do("POST", "/v1/me/redemptions", wt, map[string]any{"reward": "spa-voucher", "idempotency_key": "k2"}); r.Status != 409 || !strings.Contains(string(r.Body), "out_of_stock") {
			t.Fatalf("out of stock: %d %s", r.Status, r.Body)
		}
		for _, bad := range []map[string]any{{"reward": "nothing", "idempotency_key": "x"}, {"reward": "tree"}, {"reward": "tree", "idempotency_key": "y", "extra": 1}} {
			if r := e.do("POST", "/v1/me/redemptions", wt, bad); r.Status < 400 || r.Status >= 500 {
				t.Fatalf("bad redemption %v: %d %s", bad, r.Status, r.Body)
			}
		}
		if got := balance(e, b, "g1"); got != 160 {
			t.Fatalf("balance %d, want 160", got)
		}
		// 100 concurrent redemptions of 10 points against a balance of 160: exactly 16 succeed.
		var wg sync.WaitGroup
		var mu sync.Mutex
		codes := map[int]int{}
		for i := range 100 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := e.do("POST", "/v1/me/redemptions", wt, map[string]any{"reward": "tree", "idempotency_key": fmt.Sprintf("c%d", i)})
				mu.Lock()
				codes[r.Status]++
				mu.Unlock()
			}()
		}
		wg.Wait()
		if codes[201] != 16 || codes[409] != 84 || balance(e, b, "g1") != 0 {
			t.Fatalf("concurrent redemptions: %v, balance %d (want 16 created, 84 refused, 0 left)", codes, balance(e, b, "g1"))
		}
		sum := e.must(200, "GET", "/v1/me/rewards", wt, nil)
		if len(sum["redemptions"].([]any)) != 17 || !strings.Contains(mustJSON(sum["statement"]), "Redeemed: Spa voucher") {
			t.Fatalf("summary: %v", sum)
		}
		rep := e.must(200, "GET", "/v1/rewards/report", b.SK, nil)
		if liab := rep["liability"].(map[string]any); num(liab["points"]) != 0 || len(rep["redemptions"].([]any)) != 2 {
			t.Fatalf("report: %v", rep)
		}
		// The movements are in the consumer's ledger chain.
		e.p.Ledger.Integrate(t.Context())
		doc := mustJSON(e.must(200, "GET", "/v1/me/access-log", wt, nil))
		for _, k := range []string{"rewards.accrual", "rewards.redemption"} {
			if !strings.Contains(doc, k) {
				t.Errorf("the ledger lacks %s", k)
			}
		}
	})
}

// TestRateCardInput: absurd or malformed rate cards and rewards are refused and change nothing.
func TestRateCardInput(t *testing.T) {
	e := newEnv(t)
	b := e.setup("Aurora")
	e.must(200, "PUT", "/v1/rate-card", b.SK, hotelCard)
	for name, rate := range map[string]map[string]any{
		"negative":         {"category": "purchases", "purpose": "personalization", "points_per_30_days": -1},
		"absurd":           {"category": "purchases", "purpose": "personalization", "points_per_30_days": 1e9},
		"unknown category": {"category": "dreams", "purpose": "personalization", "points_per_30_days": 1},
		"bad factor":       {"category": "purchases", "purpose": "personalization", "multipliers": []map[string]any{{"min_days": 30, "factor": 50}}},
		"negative bonus":   {"category": "purchases", "purpose": "personalization", "bonus": -5},
	} {
		r := e.do("PUT", "/v1/rate-card", b.SK, map[string]any{"rates": []map[string]any{rate}})
		if r.Status != 400 || r.errCode(t) != "invalid" {
			t.Errorf("%s: %d %s", name, r.Status, r.Body)
		}
	}
	if r := e.do("PUT", "/v1/rate-card", b.SK, `{"rates":[],"bogus":1}`); r.Status != 400 {
		t.Errorf("unknown field: %d", r.Status)
	}
	c := e.must(200, "GET", "/v1/rate-card", b.SK, nil)
	if num(c["rate_card"].(map[string]any)["version"]) != 1 {
		t.Fatalf("a refused card changed the version: %v", c)
	}
	offers := c["offers"].([]any)
	o := offers[len(offers)-1].(map[string]any) // purchases/personalization sorts last
	if o["category"] != "purchases" || num(o["points_first_year"]) != 100+486 || o["data_value_per_year"] != 6.5 {
		t.Fatalf("offer: %v", o)
	}
	for name, rw := range map[string]map[string]any{
		"no name":   {"kind": "coupon", "cost": 10},
		"bad kind":  {"name": "x", "kind": "cash", "cost": 10},
		"zero cost": {"name": "x", "kind": "coupon", "cost": 0},
		"bad stock": {"name": "x", "kind": "coupon", "cost": 10, "stock": -5},
	} {
		if r := e.do("PUT", "/v1/rewards/catalog/x", b.SK, rw); r.Status != 400 {
			t.Errorf("reward %s: %d %s", name, r.Status, r.Body)
		}
	}
}

// summary is the consumer's GET /v1/me/rewards (all statement lines) through a fresh wallet
// session.
func summary(e *env, b brand, user string) map[string]any {
	e.t.Helper()
	return e.must(200, "GET", "/v1/me/rewards?limit=10000", e.wallet(b, user), nil)
}

// statementLines returns the statement's lines of a kind ("" for all).
func statementLines(sum map[string]any, kind string) []map[string]any {
	var out []map[string]any
	for _, l := range sum["statement"].([]any) {
		m := l.(map[string]any)
		if kind == "" || m["kind"] == kind {
			out = append(out, m)
		}
	}
	return out
}

// checkStatementAddsUp requires the balance to be the sum of the statement and never negative.
func checkStatementAddsUp(t *testing.T, sum map[string]any) {
	t.Helper()
	total := 0
	for _, l := range statementLines(sum, "") {
		total += num(l["points"])
		if l["description"] == "" {
			t.Errorf("a statement line without a reason: %v", l)
		}
	}
	if bal := num(sum["balance"]); bal != total || bal < 0 {
		t.Errorf("balance %d, statement sums to %d (and must not be negative)", bal, total)
	}
}

// consumerID is the internal id of a brand's consumer.
func consumerID(e *env, b brand, user string) (brandID, consumer int64) {
	e.t.Helper()
	rec := grantRecord(e, b, user)
	return rec.BrandID, rec.ConsumerID
}

// TestPointsExpiry: lots earned together expire together after points_expire_after_days; the
// expiry is a statement line that says which points expired; redemption spends the oldest lots
// first (so what expires is what was left of them); expired points cannot be spent even before
// they are swept; the balance never goes negative; sweeping twice expires nothing twice.
func TestPointsExpiry(t *testing.T) {
	eachStore(t, func(t *testing.T, newEnv func(*testing.T) *env) {
		e := newEnv(t)
		b := e.setup("Aurora")
		card := e.must(200, "PUT", "/v1/rate-card", b.SK, map[string]any{"points_expire_after_days": 60, "point_value": 0.01,
			"rates": []map[string]any{{"category": "purchases", "purpose": "personalization", "points_per_30_days": 30, "bonus": 100}}})
		if num(card["points_expire_after_days"]) != 60 {
			t.Fatalf("rate card: %v", card)
		}
		e.must(200, "PUT", "/v1/rewards/catalog/voucher", b.SK, map[string]any{"name": "Voucher", "kind": "coupon", "cost": 50, "stock": -1, "active": true})
		e.grant(b, "g1", "purchases", "personalization", map[string]any{"duration_days": 365})
		expire := func() int64 {
			t.Helper()
			n, err := e.p.Rewards.ExpirePoints(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			return n
		}

		// Lot 1 (day 10): bonus 100 + 10 days = 110, expiring on day 70.
		e.clock.Advance(10*24*time.Hour + time.Hour)
		lot1Day := e.clock.Now()
		e.accrue(t)
		// Lot 2 (day 40): 30 days = 30, expiring on day 100.
		e.clock.Advance(30 * 24 * time.Hour)
		e.accrue(t)
		if got := balance(e, b, "g1"); got != 140 {
			t.Fatalf("balance %d, want 140", got)
		}
		if n := expire(); n != 0 {
			t.Fatalf("%d points expired before any lot was due", n)
		}
		// Redeeming 50 spends the oldest lot first: lot 1 keeps 60, lot 2 keeps 30.
		e.must(201, "POST", "/v1/me/redemptions", e.wallet(b, "g1"), map[string]any{"reward": "voucher", "idempotency_key": "r1"})

		// Day 71: lot 1 is past its expiry but not swept yet. The balance still shows it (90),
		// but only lot 2's 30 points can be spent: a redemption of 50 is refused and changes nothing.
		e.clock.Advance(31 * 24 * time.Hour)
		r := e.do("POST", "/v1/me/redemptions", e.wallet(b, "g1"), map[string]any{"reward": "voucher", "idempotency_key": "r2"})
		if r.Status != 409 || !strings.Contains(string(r.Body), "insufficient_points") {
			t.Fatalf("redeeming expired points: %d %s (want 409 insufficient_points)", r.Status, r.Body)
		}
		if got := balance(e, b, "g1"); got != 90 {
			t.Fatalf("a refused redemption changed the balance: %d, want 90", got)
		}

		// The sweep expires what is left of lot 1 (60), not what the redemption took from it:
		// had the newest lot been spent first, 90 would expire and nothing would be left.
		if n := expire(); n != 60 {
			t.Fatalf("expired %d points, want 60 (the rest of the oldest lot)", n)
		}
		if n := expire(); n != 0 {
			t.Fatalf("a second sweep expired %d more points", n)
		}
		sum := summary(e, b, "g1")
		if got := num(sum["balance"]); got != 30 {
			t.Fatalf("after expiry: balance %d, want 30", got)
		}
		checkStatementAddsUp(t, sum)
		exp := statementLines(sum, "expiry")
		want := "60 points earned on " + lot1Day.Format("2 Jan 2006") + " expired"
		if len(exp) != 1 || num(exp[0]["points"]) != -60 || exp[0]["description"] != want {
			t.Fatalf("expiry lines %v, want one of -60 saying %q", exp, want)
		}
		if st := statementLines(sum, ""); st[0]["kind"] != "expiry" {
			t.Errorf("the statement is not newest first: %v", st[0])
		}

		// Day 101: lot 2 expires too; the balance reaches zero and no further.
		e.clock.Advance(30 * 24 * time.Hour)
		if n := expire(); n != 30 {
			t.Fatalf("expired %d, want 30", n)
		}
		sum = summary(e, b, "g1")
		if num(sum["balance"]) != 0 || len(statementLines(sum, "expiry")) != 2 {
			t.Fatalf("after the second expiry: %v", sum)
		}
		checkStatementAddsUp(t, sum)
		if r := e.do("POST", "/v1/me/redemptions", e.wallet(b, "g1"), map[string]any{"reward": "voucher", "idempotency_key": "r3"}); r.Status != 409 {
			t.Fatalf("redeeming with nothing left: %d %s", r.Status, r.Body)
		}
		// Points earned after the expiry form a new lot, spendable at once.
		e.accrue(t) // days 41-101 of the grant: 61 days = 61 points
		if got := balance(e, b, "g1"); got != 61 {
			t.Fatalf("after new accrual: balance %d, want 61", got)
		}
		e.must(201, "POST", "/v1/me/redemptions", e.wallet(b, "g1"), map[string]any{"reward": "voucher", "idempotency_key": "r4"})
		sum = summary(e, b, "g1")
		checkStatementAddsUp(t, sum)
		if num(sum["balance"]) != 11 || len(sum["redemptions"].([]any)) != 2 {
			t.Fatalf("final: %v", sum)
		}
		// The brand owes only what is left; expiry is in the consumer's ledger chain.
		if liab := e.must(200, "GET", "/v1/rewards/report", b.SK, nil)["liability"].(map[string]any); num(liab["points"]) != 11 {
			t.Errorf("liability after expiry: %v", liab)
		}
		e.p.Ledger.Integrate(t.Context())
		if doc := mustJSON(e.must(200, "GET", "/v1/me/access-log", e.wallet(b, "g1"), nil)); !strings.Contains(doc, "rewards.expiry") {
			t.Errorf("the ledger lacks rewards.expiry")
		}
	})
}

// TestTiersActiveGrants: with the basis "active_grants" the tier follows the number of active
// paid grants; going down (after a withdrawal) is recorded with the previous tier and the
// reason, and the consumer's view says what the next tier needs.
func TestTiersActiveGrants(t *testing.T) {
	eachStore(t, func(t *testing.T, newEnv func(*testing.T) *env) {
		e := newEnv(t)
		b := e.setup("Aurora")
		e.must(200, "PUT", "/v1/rate-card", b.SK, map[string]any{
			"rates": []map[string]any{{"category": "purchases", "purpose": "personalization", "points_per_30_days": 30},
				{"category": "contact", "purpose": "marketing", "points_per_30_days": 30},
				{"category": "browsing", "purpose": "analytics", "points_per_30_days": 30}},
			// Levels out of order on purpose: they are sorted by min.
			"tiers": map[string]any{"basis": "active_grants", "levels": []map[string]any{
				{"name": "Gold", "min": 3, "benefits": []string{"Suite upgrade"}}, {"name": "Member", "min": 0}, {"name": "Silver", "min": 2, "benefits": []string{"Late checkout"}}}}})
		tierOf := func(user string) map[string]any {
			t.Helper()
			tier, _ := summary(e, b, user)["tier"].(map[string]any)
			if tier == nil {
				t.Fatalf("%s has no tier", user)
			}
			return tier
		}
		// Before any accrual, a member is at the lowest level, with what the next one needs.
		e.grant(b, "g1", "purchases", "personalization", map[string]any{"duration_days": 365})
		if tier := tierOf("g1"); tier["name"] != "Member" || tier["next"].(map[string]any)["name"] != "Silver" || num(tier["next"].(map[string]any)["min"]) != 2 {
			t.Fatalf("initial tier: %v", tier)
		}
		e.grant(b, "g1", "contact", "marketing", map[string]any{"duration_days": 365})
		e.grant(b, "g1", "browsing", "analytics", map[string]any{"duration_days": 365})
		e.grant(b, "g2", "purchases", "personalization", map[string]any{"duration_days": 365})
		e.clock.Advance(24*time.Hour + time.Hour)
		e.accrue(t)
		tier := tierOf("g1")
		if tier["name"] != "Gold" || tier["reason"] != "3 active grants (Gold needs 3)" || tier["next"] != nil || mustJSON(tier["benefits"]) != `["Suite upgrade"]` || tier["since"] == "" {
			t.Fatalf("with 3 grants: %v", tier)
		}
		if tier := tierOf("g2"); tier["name"] != "Member" {
			t.Fatalf("g2 with 1 grant: %v", tier)
		}

		// A withdrawal takes the tier down at the next accrual, recorded with its reason.
		e.must(200, "DELETE", "/v1/me/consents/browsing/analytics", e.wallet(b, "g1"), nil)
		e.clock.Advance(2 * 24 * time.Hour)
		downAt := e.clock.Now()
		e.accrue(t)
		tier = tierOf("g1")
		if tier["name"] != "Silver" || tier["reason"] != "2 active grants (Silver needs 2)" || mustJSON(tier["benefits"]) != `["Late checkout"]` ||
			tier["next"].(map[string]any)["name"] != "Gold" || tier["since"] != downAt.UTC().Format(time.RFC3339) {
			t.Fatalf("after a withdrawal: %v", tier)
		}
		brandID, cid := consumerID(e, b, "g1")
		var cur map[int64]*rewards.TierChange
		if err := e.p.Store.View(t.Context(), func(tx store.Tx) (err error) {
			cur, err = tx.CurrentTiers(t.Context(), []int64{cid})
			return err
		}); err != nil || brandID == 0 {
			t.Fatal(err)
		}
		if c := cur[cid]; c == nil || c.Tier != "Silver" || c.Previous != "Gold" || c.Reason != "2 active grants (Silver needs 2)" {
			t.Fatalf("recorded tier change: %+v", c)
		}
		// Accrual without a change of grants records nothing new.
		e.clock.Advance(24 * time.Hour)
		e.accrue(t)
		if tier := tierOf("g1"); tier["name"] != "Silver" || tier["since"] != downAt.UTC().Format(time.RFC3339) {
			t.Fatalf("an accrual without a change moved the tier: %v", tier)
		}
		// A new grant takes it back up.
		e.grant(b, "g1", "browsing", "analytics", map[string]any{"duration_days": 365})
		e.clock.Advance(24 * time.Hour)
		e.accrue(t)
		if tier := tierOf("g1"); tier["name"] != "Gold" {
			t.Fatalf("after granting again: %v", tier)
		}
	})
}

// TestTierDropsWhenEarningStops: a member who withdraws every grant (or, with points_12m,
// stops earning) must go down a tier too. Today tiers are recomputed only for consumers an
// accrual run credits, so a member with nothing left to earn keeps their tier for good.
func TestTierDropsWhenEarningStops(t *testing.T) {
	eachStore(t, func(t *testing.T, newEnv func(*testing.T) *env) {
		e := newEnv(t)
		b := e.setup("Aurora")
		e.must(200, "PUT", "/v1/rate-card", b.SK, map[string]any{
			"rates": []map[string]any{{"category": "purchases", "purpose": "personalization", "points_per_30_days": 30}},
			"tiers": map[string]any{"basis": "active_grants", "levels": []map[string]any{{"name": "Member", "min": 0}, {"name": "Silver", "min": 1}}}})
		e.grant(b, "g1", "purchases", "personalization", map[string]any{"duration_days": 365})
		e.clock.Advance(24*time.Hour + time.Hour)
		e.accrue(t)
		if tier := summary(e, b, "g1")["tier"].(map[string]any); tier["name"] != "Silver" {
			t.Fatalf("with a grant: %v", tier)
		}
		// Withdraw within the day already credited (as happens between two runs of the
		// 10-minute accrual job): nothing more is due, so no journal is posted.
		e.must(200, "DELETE", "/v1/me/consents/purchases/personalization", e.wallet(b, "g1"), nil)
		e.clock.Advance(12 * time.Hour)
		e.accrue(t)
		e.clock.Advance(30 * 24 * time.Hour)
		e.accrue(t)
		if tier := summary(e, b, "g1")["tier"].(map[string]any); tier["name"] != "Member" {
			t.Errorf("with no active grant left the member is still %q (reason %q)", tier["name"], tier["reason"])
		}

		// points_12m: a 30-day grant earns 300; 400 days later nothing was earned in the last
		// 12 months.
		b2 := e.setup("Points")
		e.must(200, "PUT", "/v1/rate-card", b2.SK, map[string]any{
			"rates": []map[string]any{{"category": "purchases", "purpose": "personalization", "points_per_30_days": 300}},
			"tiers": map[string]any{"basis": "points_12m", "levels": []map[string]any{{"name": "Member", "min": 0}, {"name": "Silver", "min": 200}}}})
		e.grant(b2, "p1", "purchases", "personalization", map[string]any{"duration_days": 30})
		e.clock.Advance(31 * 24 * time.Hour)
		e.accrue(t)
		if tier := summary(e, b2, "p1")["tier"].(map[string]any); tier["name"] != "Silver" {
			t.Fatalf("after earning 300: %v", tier)
		}
		e.clock.Advance(400 * 24 * time.Hour)
		e.accrue(t)
		if tier := summary(e, b2, "p1")["tier"].(map[string]any); tier["name"] != "Member" {
			t.Errorf("with nothing earned in 12 months the member is still %q (reason %q)", tier["name"], tier["reason"])
		}
	})
}

// TestConsentIsOptional: refusing consent (or never deciding) never limits the service: the
// wallet works, the rewards summary is empty (not an error, not null), the offers and the
// catalogue are shown, and the only thing a refuser cannot do is spend points they do not have.
func TestConsentIsOptional(t *testing.T) {
	eachStore(t, func(t *testing.T, newEnv func(*testing.T) *env) {
		e := newEnv(t)
		b := e.setup("Aurora")
		e.must(200, "PUT", "/v1/rate-card", b.SK, hotelCard)
		e.must(200, "PUT", "/v1/rewards/catalog/tree", b.SK, map[string]any{"name": "Plant a tree", "kind": "donation", "cost": 10, "stock": -1, "active": true})
		// The refuser said no to everything the rate card pays for; the newcomer never decided.
		for _, pair := range [][2]string{{"purchases", "personalization"}, {"contact", "marketing"}, {"feedback", "product_research"}} {
			e.must(201, "POST", "/v1/consumers/refuser/consents", b.SK, map[string]any{"category": pair[0], "purpose": pair[1], "state": "refused"})
		}
		e.grant(b, "earner", "purchases", "personalization", map[string]any{"duration_days": 365})
		e.clock.Advance(30*24*time.Hour + time.Hour)
		e.accrue(t)

		for _, user := range []string{"refuser", "newcomer"} {
			wt := e.wallet(b, user)
			me := e.must(200, "GET", "/v1/me", wt, nil)
			for _, c := range me["consents"].([]any) {
				if c.(map[string]any)["active"] == true {
					t.Errorf("%s: an active consent: %v", user, c)
				}
			}
			r := e.do("GET", "/v1/me/rewards", wt, nil)
			if r.Status != 200 || !strings.Contains(string(r.Body), `"statement":[]`) || !strings.Contains(string(r.Body), `"redemptions":[]`) {
				t.Fatalf("%s: rewards: %d %s", user, r.Status, r.Body)
			}
			sum := r.json(t)
			if num(sum["balance"]) != 0 || sum["tier"].(map[string]any)["name"] != "Member" || num(sum["rate_card_version"]) != 1 {
				t.Errorf("%s: summary %v", user, sum)
			}
			offers := e.must(200, "GET", "/v1/me/offers", wt, nil)
			if len(offers["offers"].([]any)) != 3 || !strings.Contains(offers["notice"].(string), "never limits the service") {
				t.Errorf("%s: offers %v", user, offers)
			}
			if cat := e.must(200, "GET", "/v1/rewards/catalog", wt, nil); len(cat["rewards"].([]any)) != 1 {
				t.Errorf("%s: catalogue %v", user, cat)
			}
			e.must(200, "GET", "/v1/rate-card", wt, nil)
			e.must(200, "GET", "/v1/me/consents?history=true", wt, nil)
			e.must(200, "GET", "/v1/me/export", wt, nil)
			e.must(200, "GET", "/v1/me/data", wt, nil)
			e.must(200, "GET", "/v1/me/access-log", wt, nil)
			// Redeeming is refused for want of points, with the balance, never for want of consent.
			r = e.do("POST", "/v1/me/redemptions", wt, map[string]any{"reward": "tree", "idempotency_key": "k"})
			if r.Status != 409 || r.errCode(t) != "conflict" {
				t.Fatalf("%s: redemption without points: %d %s", user, r.Status, r.Body)
			}
			if d := r.json(t)["error"].(map[string]any)["details"].(map[string]any); d["reason"] != "insufficient_points" || num(d["balance"]) != 0 || num(d["cost"]) != 10 {
				t.Errorf("%s: refusal details %v", user, d)
			}
			// And a consumer may still grant later, from the wallet.
		}
		// The refusals earned nothing and are not counted as grants.
		rep := e.must(200, "GET", "/v1/rewards/report", b.SK, nil)
		if g := mustJSON(rep["grants_by_category"]); g != `[{"active_grants":1,"category":"purchases","purpose":"personalization"}]` {
			t.Errorf("grants by category: %s", g)
		}
		if liab := rep["liability"].(map[string]any); num(liab["consumers"]) != 1 || num(liab["points"]) != 140 {
			t.Errorf("liability: %v", liab)
		}
		// A brand without a rate card: no offers, no tier, still no error.
		b2 := e.setup("Plain")
		wt := e.wallet(b2, "someone")
		if o := e.must(200, "GET", "/v1/me/offers", wt, nil); len(o["offers"].([]any)) != 0 {
			t.Errorf("offers without a rate card: %v", o)
		}
		if s := e.must(200, "GET", "/v1/me/rewards", wt, nil); s["tier"] != nil || num(s["rate_card_version"]) != 0 {
			t.Errorf("rewards without a rate card: %v", s)
		}
		if r := e.do("GET", "/v1/rate-card", wt, nil); r.Status != 404 || r.errCode(t) != "not_found" {
			t.Errorf("rate card of a brand without one: %d %s", r.Status, r.Body)
		}
	})
}

// TestOffers: the notice of financial incentive shown before granting (11 CCR §7016): for each
// paid grant, what a 365-day grant earns in its first year in points and money, the brand's
// good-faith estimate of the data's value and the method of that estimate; always the newest
// rate card; the same figures in GET /v1/rate-card.
func TestOffers(t *testing.T) {
	eachStore(t, func(t *testing.T, newEnv func(*testing.T) *env) {
		e := newEnv(t)
		b := e.setup("Aurora")
		e.must(200, "PUT", "/v1/rate-card", b.SK, hotelCard)
		wt := e.wallet(b, "prospect")
		res := e.must(200, "GET", "/v1/me/offers", wt, nil)
		if n, _ := res["notice"].(string); !strings.Contains(n, "optional") || !strings.Contains(n, "never takes back points") {
			t.Errorf("notice: %q", n)
		}
		offers := res["offers"].([]any)
		type want struct {
			key           string
			first         int
			value         float64
			dataValue     any
			bonus, cap    int
			pointsPer30   int
			multipliers   bool
			estimateOnAll string
		}
		method := hotelCard["estimate_method"].(string)
		wants := []want{
			// 30/30 days for 365 days ×1.5: 547.5 → 547.
			{key: "contact/marketing", first: 547, value: 5.47, dataValue: nil, pointsPer30: 30, multipliers: true},
			// 300/30 days, capped at 500 for the grant.
			{key: "feedback/product_research", first: 500, value: 5, dataValue: nil, pointsPer30: 300, cap: 500},
			// 40/30 days for 365 days: 486.67 → 486, plus the bonus of 100.
			{key: "purchases/personalization", first: 586, value: 5.86, dataValue: 6.5, pointsPer30: 40, bonus: 100},
		}
		if len(offers) != len(wants) {
			t.Fatalf("offers: %v", offers)
		}
		for i, w := range wants {
			o := offers[i].(map[string]any)
			if o["category"].(string)+"/"+o["purpose"].(string) != w.key {
				t.Fatalf("offer %d is %v, want %s (sorted by category/purpose)", i, o, w.key)
			}
			if num(o["points_first_year"]) != w.first || o["value_first_year"] != w.value || o["data_value_per_year"] != w.dataValue ||
				num(o["bonus"]) != w.bonus || num(o["cap"]) != w.cap || num(o["points_per_30_days"]) != w.pointsPer30 || (o["multipliers"] != nil) != w.multipliers {
				t.Errorf("offer %s: %v", w.key, o)
			}
			if o["estimate_method"] != method || o["currency"] != "USD" || num(o["rate_card_version"]) != 1 {
				t.Errorf("offer %s lacks the estimate's method, currency or version: %v", w.key, o)
			}
		}
		// The same in the published rate card, for the brand and the consumer alike.
		for _, auth := range []string{b.SK, wt} {
			rc := e.must(200, "GET", "/v1/rate-card", auth, nil)
			if mustJSON(rc["offers"]) != mustJSON(offers) || rc["rate_card"].(map[string]any)["estimate_method"] != method {
				t.Errorf("GET /v1/rate-card: %v", rc)
			}
		}
		// A new version is what the next grant is offered.
		v2 := map[string]any{"currency": "EUR", "point_value": 0.02, "estimate_method": "Second estimate.",
			"rates": []map[string]any{{"category": "purchases", "purpose": "personalization", "points_per_30_days": 60}}}
		e.must(200, "PUT", "/v1/rate-card", b.SK, v2)
		offers = e.must(200, "GET", "/v1/me/offers", wt, nil)["offers"].([]any)
		o := offers[0].(map[string]any)
		if len(offers) != 1 || num(o["points_first_year"]) != 730 || o["value_first_year"] != 14.6 || o["currency"] != "EUR" ||
			o["estimate_method"] != "Second estimate." || num(o["rate_card_version"]) != 2 {
			t.Errorf("offers under v2: %v", offers)
		}
		// Offers are for consumers: a secret key is refused.
		if r := e.do("GET", "/v1/me/offers", b.SK, nil); r.Status != 403 {
			t.Errorf("offers with a secret key: %d", r.Status)
		}
	})
}

// TestRewardsReport: the brand's report: what it owes (points held, their value at the point
// value, how many consumers hold them), active paid grants by category and purpose, and
// redemptions by reward; nothing of another brand; only for keys with the rewards scope.
func TestRewardsReport(t *testing.T) {
	eachStore(t, func(t *testing.T, newEnv func(*testing.T) *env) {
		e := newEnv(t)
		b := e.setup("Aurora")
		other := e.setup("Other")
		// Before anything: empty lists, not null.
		if r := e.do("GET", "/v1/rewards/report", b.SK, nil); r.Status != 200 ||
			!strings.Contains(string(r.Body), `"grants_by_category":[]`) || !strings.Contains(string(r.Body), `"redemptions":[]`) {
			t.Fatalf("empty report: %d %s", r.Status, r.Body)
		}
		e.must(200, "PUT", "/v1/rate-card", b.SK, hotelCard)
		e.must(200, "PUT", "/v1/rate-card", other.SK, hotelCard)
		e.must(200, "PUT", "/v1/rewards/catalog/spa-voucher", b.SK, map[string]any{"name": "Spa voucher", "kind": "coupon", "cost": 100, "stock": 5, "active": true})
		e.must(200, "PUT", "/v1/rewards/catalog/tree", b.SK, map[string]any{"name": "Plant a tree", "kind": "donation", "cost": 10, "stock": -1, "active": true})
		e.must(200, "PUT", "/v1/rewards/catalog/retired", b.SK, map[string]any{"name": "Retired", "kind": "coupon", "cost": 1, "stock": -1, "active": false})
		year := map[string]any{"duration_days": 365}
		e.grant(b, "g1", "purchases", "personalization", year)
		e.grant(b, "g1", "contact", "marketing", year)
		e.grant(b, "g2", "purchases", "personalization", year)
		e.grant(b, "g3", "purchases", "personalization", year)
		e.grant(other, "o1", "purchases", "personalization", year)
		e.clock.Advance(30*24*time.Hour + time.Hour)
		e.must(200, "DELETE", "/v1/me/consents/purchases/personalization", e.wallet(b, "g3"), nil)
		e.accrue(t)
		// g1: 100 + 40 + 45 (30 ×1.5 for a 365-day grant) = 185; g2 and g3: 140 each (g3's
		// points stay earned).
		wt := e.wallet(b, "g1")
		e.must(201, "POST", "/v1/me/redemptions", wt, map[string]any{"reward": "spa-voucher", "idempotency_key": "a"})
		e.must(201, "POST", "/v1/me/redemptions", wt, map[string]any{"reward": "tree", "idempotency_key": "b"})
		e.must(201, "POST", "/v1/me/redemptions", wt, map[string]any{"reward": "tree", "idempotency_key": "c"})
		e.must(200, "POST", "/v1/me/redemptions", wt, map[string]any{"reward": "tree", "idempotency_key": "c"}) // a replay counts once
		for _, u := range []string{"g2", "g3"} {
			w := e.wallet(b, u)
			for i := range 14 {
				e.must(201, "POST", "/v1/me/redemptions", w, map[string]any{"reward": "tree", "idempotency_key": fmt.Sprint(i)})
			}
		}
		// g2 and g3 spent everything: only g1 (65 points) is owed.
		rep := e.must(200, "GET", "/v1/rewards/report", b.SK, nil)
		liab := rep["liability"].(map[string]any)
		if num(liab["points"]) != 65 || num(liab["consumers"]) != 1 || liab["value"] != 0.65 || liab["currency"] != "USD" {
			t.Errorf("liability: %v", liab)
		}
		if g := mustJSON(rep["grants_by_category"]); g != `[{"active_grants":1,"category":"contact","purpose":"marketing"},{"active_grants":2,"category":"purchases","purpose":"personalization"}]` {
			t.Errorf("grants by category: %s", g)
		}
		if r := mustJSON(rep["redemptions"]); r != `[{"points":100,"redemptions":1,"reward":"spa-voucher"},{"points":300,"redemptions":30,"reward":"tree"}]` {
			t.Errorf("redemptions: %s", r)
		}
		// The other brand's report knows nothing of these.
		orep := e.must(200, "GET", "/v1/rewards/report", other.SK, nil)
		if liab := orep["liability"].(map[string]any); num(liab["points"]) != 140 || num(liab["consumers"]) != 1 || len(orep["redemptions"].([]any)) != 0 {
			t.Errorf("other brand's report: %v", orep)
		}
		// The brand's catalogue shows inactive rewards and the stock left; the consumer's only active ones.
		cat := e.must(200, "GET", "/v1/rewards/catalog", b.SK, nil)["rewards"].([]any)
		if len(cat) != 3 || len(e.must(200, "GET", "/v1/rewards/catalog", wt, nil)["rewards"].([]any)) != 2 {
			t.Errorf("catalogue: brand sees %d, consumer %v", len(cat), cat)
		}
		for _, r := range cat {
			if r := r.(map[string]any); r["id"] == "spa-voucher" && num(r["stock"]) != 4 {
				t.Errorf("spa voucher stock %v, want 4", r["stock"])
			}
		}
		// Only secret keys with the rewards scope.
		k := e.must(201, "POST", "/v1/keys", b.SK, map[string]any{"kind": "secret", "scopes": []string{"data"}})
		r := e.do("GET", "/v1/rewards/report", k["secret"].(string), nil)
		if r.Status != 403 || !strings.Contains(string(r.Body), `"scope":"rewards"`) {
			t.Errorf("report without the rewards scope: %d %s", r.Status, r.Body)
		}
		if r := e.do("GET", "/v1/rewards/report", wt, nil); r.Status != 403 {
			t.Errorf("report with a wallet token: %d", r.Status)
		}
		if r := e.do("PUT", "/v1/rate-card", k["secret"].(string), hotelCard); r.Status != 403 {
			t.Errorf("rate card without the rewards scope: %d", r.Status)
		}
	})
}

// TestRedeemRacesExpiry (PostgreSQL): a redemption that started just before a lot expired and
// the expiry sweep that runs just after must not both take the same points. The interleaving is
// forced with a row lock held from outside: the redemption has spent from the lot and waits to
// book its journal when the sweep reads the lot.
func TestRedeemRacesExpiry(t *testing.T) {
	e := newPostgresEnv(t)
	ctx := t.Context()
	b := e.setup("Aurora")
	e.must(200, "PUT", "/v1/rate-card", b.SK, map[string]any{"points_expire_after_days": 60,
		"rates": []map[string]any{{"category": "purchases", "purpose": "personalization", "points_per_30_days": 30, "bonus": 100}}})
	e.must(200, "PUT", "/v1/rewards/catalog/voucher", b.SK, map[string]any{"name": "Voucher", "kind": "coupon", "cost": 50, "stock": -1, "active": true})
	e.grant(b, "g1", "purchases", "personalization", map[string]any{"duration_days": 365})
	e.clock.Advance(10*24*time.Hour + time.Hour) // lot 1: 110 points, expiring 60 days later
	e.accrue(t)
	e.clock.Advance(59 * 24 * time.Hour) // lot 2: 59 points
	e.accrue(t)
	e.clock.Advance(24*time.Hour - time.Minute) // a minute before lot 1 expires
	brandID, cid := consumerID(e, b, "g1")

	conn, err := pgx.Connect(ctx, e.p.Config.PostgresDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	conn2, err := pgx.Connect(ctx, e.p.Config.PostgresDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer conn2.Close(context.Background())
	hold, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var bal int64
	if err := hold.QueryRow(ctx, `SELECT balance FROM points_balances WHERE account = $1 FOR UPDATE`, rewards.ConsumerAccount(cid)).Scan(&bal); err != nil || bal != 169 {
		t.Fatalf("balance %d %v", bal, err)
	}
	var holdPID uint32
	if err := hold.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&holdPID); err != nil {
		t.Fatal(err)
	}
	// waiting waits until n transactions wait, directly or behind another waiter, for the row
	// held here (other tests' waits on the same server do not count).
	waiting := func(n int) {
		t.Helper()
		for range 500 {
			var w int
			err := conn2.QueryRow(ctx, `WITH direct AS (SELECT pid FROM pg_stat_activity WHERE $1::int = ANY(pg_blocking_pids(pid)))
				SELECT (SELECT count(*) FROM direct) + (SELECT count(*) FROM pg_stat_activity a
				WHERE a.pid NOT IN (SELECT pid FROM direct) AND pg_blocking_pids(a.pid) && ARRAY(SELECT pid FROM direct))`, int(holdPID)).Scan(&w)
			if err != nil {
				t.Fatal(err)
			}
			if w >= n {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatalf("fewer than %d transactions wait", n)
	}
	redeemed := make(chan error, 1)
	go func() {
		_, _, err := e.p.Rewards.Redeem(ctx, brandID, cid, "voucher", "race")
		redeemed <- err
	}()
	waiting(1) // the redemption took 50 from lot 1 and waits to book its journal
	e.clock.Advance(2 * time.Minute)
	expired := make(chan error, 1)
	var n int64
	go func() {
		var err error
		n, err = e.p.Rewards.ExpirePoints(ctx)
		expired <- err
	}()
	waiting(2) // the sweep read lot 1 and waits to book the expiry
	if err := hold.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	rerr, eerr := <-redeemed, <-expired
	var lots int64
	if err := conn.QueryRow(ctx, `SELECT COALESCE(SUM(remaining), 0) FROM points_lots WHERE consumer_id = $1`, cid).Scan(&lots); err != nil {
		t.Fatal(err)
	}
	got := balance(e, b, "g1")
	t.Logf("redeem: %v; expire: %d points, %v; balance %d; lots hold %d", rerr, n, eerr, got, lots)
	if int64(got) != lots {
		t.Errorf("balance %d but the lots hold %d: points were both spent and expired", got, lots)
	}
	if rerr == nil && eerr == nil && (n != 60 || got != 59) {
		t.Errorf("redeemed 50 and expired %d of lot 1: balance %d, want 59 (lot 1's 110 less 50 spent, 60 expired)", n, got)
	}
	// When lot 2 expires the sweep must still work (with the lost points it would take the
	// balance below zero, be refused, and roll back every expiry of the run, for good).
	e.clock.Advance(61 * 24 * time.Hour)
	if n, err := e.p.Rewards.ExpirePoints(ctx); err != nil || balance(e, b, "g1") != 0 {
		t.Errorf("expiring lot 2: %d points, %v; balance %d", n, err, balance(e, b, "g1"))
	}
}

// TestCatalogShowsNoInternalIDs: a reward is shown as documented, without Symbiont's internal
// brand id (brands are known by their public br_… ids only).
func TestCatalogShowsNoInternalIDs(t *testing.T) {
	e := newEnv(t)
	b := e.setup("Aurora")
	r := e.do("PUT", "/v1/rewards/catalog/tree", b.SK, map[string]any{"name": "Plant a tree", "kind": "donation", "cost": 10, "stock": -1, "active": true})
	if r.Status != 200 || strings.Contains(string(r.Body), "BrandID") {
		t.Errorf("PUT: %d %s", r.Status, r.Body)
	}
	for _, auth := range []string{b.SK, e.wallet(b, "g1")} {
		if r := e.do("GET", "/v1/rewards/catalog", auth, nil); strings.Contains(string(r.Body), "BrandID") {
			t.Errorf("catalogue: %s", r.Body)
		}
	}
	if r := e.do("PUT", "/v1/rewards/catalog/tree", b.SK, map[string]any{"name": "x", "kind": "donation", "cost": 10, "BrandID": 99}); r.Status != 400 {
		t.Errorf("an undocumented field was accepted: %d %s", r.Status, r.Body)
	}
}

// TestTierBelowLowestLevel: when the lowest level has a minimum above zero, a consumer who has
// not reached it has no tier yet, and is not shown that level's benefits.
func TestTierBelowLowestLevel(t *testing.T) {
	e := newEnv(t)
	b := e.setup("Aurora")
	e.must(200, "PUT", "/v1/rate-card", b.SK, map[string]any{
		"rates": []map[string]any{{"category": "purchases", "purpose": "personalization", "points_per_30_days": 30}},
		"tiers": map[string]any{"basis": "points_12m", "levels": []map[string]any{
			{"name": "Silver", "min": 200, "benefits": []string{"Late checkout"}}, {"name": "Gold", "min": 1000}}}})
	e.grant(b, "g1", "purchases", "personalization", map[string]any{"duration_days": 365})
	e.clock.Advance(2*24*time.Hour + time.Hour)
	e.accrue(t) // 2 points
	tier, _ := summary(e, b, "g1")["tier"].(map[string]any)
	if tier != nil && (tier["name"] == "Silver" || len(tier["benefits"].([]any)) > 0) {
		t.Errorf("with 2 points (Silver needs 200) the consumer is shown %v", tier)
	}
}
