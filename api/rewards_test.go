package api_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
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
