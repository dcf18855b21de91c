package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestRedeemCrash kills the server with SIGKILL while concurrent clients are redeeming rewards
// against one consumer's balance, restarts it on the same data directory and checks that every
// redemption is whole or absent: listed with a unique code, a statement line, a ledger record
// and its share of the stock, and paid for out of the balance; or not there at all. No
// acknowledged (201) redemption may be missing and no refused (409) one may be there. Replaying
// the idempotency keys after the restart returns the first redemptions (200, same codes) and
// takes no more points.
//
// The points come from a rate card bonus: the serve command runs an accrual when it starts (and
// then every 10 minutes), so a restart after the grant credits the bonus at once; no clock
// travel is needed.
func TestRedeemCrash(t *testing.T) {
	t.Parallel()
	const (
		bonus     = 20_000 // points earned: the rate card's bonus for the one grant
		clients   = 16
		perClient = 80
		user      = "redeemer-0001"
	)
	catalog := map[string]struct {
		cost, stock int
	}{"tree": {7, -1}, "voucher": {13, 1000}, "mug": {29, 60}}
	rewardOf := func(client, n int) string { return []string{"tree", "voucher", "mug"}[(client+n)%3] }

	dataDir := t.TempDir()
	// No wallet or API rate limits: a 429 would only blur what was acknowledged.
	opt := serverOptions{env: []string{"SYMBIONT_RATE_WALLET=0", "SYMBIONT_RATE_API=0"}}
	s := startServer(t, dataDir, opt)
	b := createBrand(t, s, "Redeem Crash Co")
	sk := bearer(b.SecretKey)
	mustCall(t, "PUT", s.Base+"/v1/rate-card", sk, map[string]any{"point_value": 0.01,
		"rates": []map[string]any{{"category": "purchases", "purpose": "personalization", "points_per_30_days": 0, "bonus": bonus}}}, http.StatusOK, nil)
	for id, r := range catalog {
		mustCall(t, "PUT", s.Base+"/v1/rewards/catalog/"+id, sk, map[string]any{"name": "The " + id, "kind": "coupon", "cost": r.cost,
			"stock": r.stock, "active": true}, http.StatusOK, nil)
	}
	grant(t, s, b.SecretKey, user, "purchases", "personalization")

	// Restart: the accrual run at start pays the bonus.
	s.stop(30 * time.Second)
	s = startServer(t, dataDir, opt)
	wt := bearer(openWallet(t, s, b.SecretKey, user))
	deadline := time.Now().Add(30 * time.Second)
	for {
		var sum rewardsSummary
		mustCall(t, "GET", s.Base+"/v1/me/rewards", wt, nil, http.StatusOK, &sum)
		if sum.Balance == bonus {
			break
		}
		if sum.Balance != 0 || time.Now().After(deadline) {
			t.Fatalf("the accrual at start did not credit the bonus: balance %d, want %d", sum.Balance, bonus)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// Concurrent redemptions, each with its own idempotency key, killed a quarter of the way.
	type attempt struct {
		key, reward string
		status      int // 0: no answer (transport error)
		code        string
		reason      string
		done        time.Time
	}
	var (
		mu       sync.Mutex
		attempts []*attempt
		acks     atomic.Int64
		inflight atomic.Int64
		wg       sync.WaitGroup
	)
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range perClient {
				a := &attempt{key: fmt.Sprintf("crash-%02d-%03d", c, n), reward: rewardOf(c, n)}
				mu.Lock()
				attempts = append(attempts, a)
				mu.Unlock()
				inflight.Add(1)
				status, body, err := redeemOnce(client, s.Base, wt, a.reward, a.key)
				inflight.Add(-1)
				mu.Lock()
				a.status, a.done = status, time.Now()
				if err == nil {
					var ans struct {
						Code  string `json:"code"`
						Error struct {
							Details struct {
								Reason string `json:"reason"`
							} `json:"details"`
						} `json:"error"`
					}
					json.Unmarshal(body, &ans)
					a.code, a.reason = ans.Code, ans.Error.Details.Reason
				}
				mu.Unlock()
				if err != nil {
					return // the server is gone
				}
				if status == http.StatusCreated {
					acks.Add(1)
				}
			}
		}()
	}
	killAt := int64(clients * perClient / 4)
	loadDeadline := time.Now().Add(60 * time.Second)
	for acks.Load() < killAt {
		if time.Now().After(loadDeadline) {
			t.Fatalf("only %d redemptions acknowledged before the kill point (%d)", acks.Load(), killAt)
		}
		time.Sleep(time.Millisecond)
	}
	inFlightAtKill := inflight.Load()
	s.kill()
	wg.Wait()
	if inFlightAtKill == 0 {
		t.Fatal("no redemption was in flight at the kill: the test did not test a crash under load")
	}
	statuses := map[int]int{}
	for _, a := range attempts {
		statuses[a.status]++
		if a.status != 0 && a.status != http.StatusCreated && a.status != http.StatusConflict {
			t.Errorf("redemption %s: status %d (reason %q)", a.key, a.status, a.reason)
		}
		if a.status == http.StatusConflict && a.reason != "out_of_stock" && a.reason != "insufficient_points" {
			t.Errorf("redemption %s refused with reason %q", a.key, a.reason)
		}
	}
	if statuses[http.StatusCreated] == clients*perClient {
		t.Fatal("every redemption was acknowledged: the kill came too late to test anything")
	}
	t.Logf("at SIGKILL %d redemptions in flight; answers: %v (0: none)", inFlightAtKill, statuses)

	// Restart on the same data and look at what is there.
	s = startServer(t, dataDir, opt)
	wt = bearer(openWallet(t, s, b.SecretKey, user))
	byKey := map[string]*attempt{}
	for _, a := range attempts {
		byKey[a.key] = a
	}
	listed := checkRedemptionsWhole(t, s, sk, wt, bonus, catalog)
	for key, r := range listed {
		a := byKey[key]
		if a == nil || a.reward != r.Reward {
			t.Errorf("redemption %s of %s listed, but never asked for (%+v)", key, r.Reward, a)
		}
	}
	unanswered := 0
	for _, a := range attempts {
		r, ok := listed[a.key]
		switch a.status {
		case http.StatusCreated:
			if !ok {
				t.Errorf("acknowledged redemption %s (code %s) is missing after the crash", a.key, a.code)
			} else if r.Code != a.code {
				t.Errorf("acknowledged redemption %s: code %s, listed with %s", a.key, a.code, r.Code)
			}
		case http.StatusConflict:
			if ok {
				t.Errorf("refused redemption %s (%s) is listed", a.key, a.reason)
			}
		case 0:
			unanswered++
		}
	}
	t.Logf("after restart: %d redemptions listed (%d acknowledged, %d unanswered at the kill)", len(listed), statuses[http.StatusCreated], unanswered)

	// Replaying every listed key returns the first redemption and spends nothing.
	before := mustSummary(t, s, wt)
	for key, r := range listed {
		var got redemptionView
		mustCall(t, "POST", s.Base+"/v1/me/redemptions", wt, map[string]string{"reward": r.Reward, "idempotency_key": key}, http.StatusOK, &got)
		if got.Code != r.Code || got.Cost != r.Cost {
			t.Errorf("replaying %s: code %s cost %d, first %s cost %d", key, got.Code, got.Cost, r.Code, r.Cost)
		}
	}
	if after := mustSummary(t, s, wt); after.Balance != before.Balance || len(after.Redemptions) != len(before.Redemptions) {
		t.Errorf("replays changed the balance (%d → %d) or the redemptions (%d → %d)", before.Balance, after.Balance, len(before.Redemptions), len(after.Redemptions))
	}
	// A key whose redemption did not survive is new: retried, it is redeemed once (or refused).
	retried := 0
	for _, a := range attempts {
		if _, ok := listed[a.key]; ok || a.status != 0 {
			continue
		}
		st, body, _ := call(t, "POST", s.Base+"/v1/me/redemptions", wt, map[string]string{"reward": a.reward, "idempotency_key": a.key})
		if st != http.StatusCreated && st != http.StatusConflict {
			t.Errorf("retrying unanswered %s: %d %s", a.key, st, body)
		}
		retried++
	}
	final := checkRedemptionsWhole(t, s, sk, wt, bonus, catalog)
	if len(final) > len(listed)+retried {
		t.Errorf("%d redemptions after retrying %d keys, %d before", len(final), retried, len(listed))
	}
	s.stop(30 * time.Second)
}

func redeemOnce(c *http.Client, base, auth, reward, key string) (int, []byte, error) {
	body, _ := json.Marshal(map[string]string{"reward": reward, "idempotency_key": key})
	req, err := http.NewRequest("POST", base+"/v1/me/redemptions", bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", auth)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, err
	}
	return resp.StatusCode, rb, nil
}

type redemptionView struct {
	Reward         string `json:"reward"`
	Cost           int    `json:"cost"`
	Code           string `json:"code"`
	IdempotencyKey string `json:"idempotency_key"`
	At             string `json:"at"`
}

type rewardsSummary struct {
	Balance   int `json:"balance"`
	Statement []struct {
		At          string `json:"at"`
		Kind        string `json:"kind"`
		Points      int    `json:"points"`
		Description string `json:"description"`
		Ref         string `json:"ref"`
	} `json:"statement"`
	Redemptions []redemptionView `json:"redemptions"`
}

func mustSummary(t *testing.T, s *server, wt string) *rewardsSummary {
	t.Helper()
	var sum rewardsSummary
	mustCall(t, "GET", s.Base+"/v1/me/rewards?limit=10000", wt, nil, http.StatusOK, &sum)
	return &sum
}

// checkRedemptionsWhole checks that the consumer's redemptions, statement, balance, ledger
// records, the catalogue's stock and the brand's report all agree, and returns the redemptions
// by idempotency key.
func checkRedemptionsWhole(t *testing.T, s *server, sk, wt string, earned int, catalog map[string]struct{ cost, stock int }) map[string]redemptionView {
	t.Helper()
	sum := mustSummary(t, s, wt)
	listed := map[string]redemptionView{}
	codes := map[string]string{}
	spent, perReward := 0, map[string]int{}
	redeemLines := map[string]int{} // reward/at/points -> lines
	for _, r := range sum.Redemptions {
		if _, dup := listed[r.IdempotencyKey]; dup {
			t.Errorf("idempotency key %s listed twice", r.IdempotencyKey)
		}
		if k, dup := codes[r.Code]; dup || len(r.Code) != 19 {
			t.Errorf("redemption %s: code %q (also %s)", r.IdempotencyKey, r.Code, k)
		}
		if c, ok := catalog[r.Reward]; !ok || c.cost != r.Cost {
			t.Errorf("redemption %s of %s at cost %d", r.IdempotencyKey, r.Reward, r.Cost)
		}
		listed[r.IdempotencyKey], codes[r.Code] = r, r.IdempotencyKey
		spent += r.Cost
		perReward[r.Reward]++
		redeemLines[fmt.Sprintf("%s/%s/%d", r.Reward, r.At, -r.Cost)]++
	}
	credited, total := 0, 0
	for _, l := range sum.Statement {
		total += l.Points
		switch l.Kind {
		case "redemption":
			redeemLines[fmt.Sprintf("%s/%s/%d", l.Ref, l.At, l.Points)]--
		case "accrual":
			credited += l.Points
		default:
			t.Errorf("unexpected statement line %+v", l)
		}
	}
	for k, n := range redeemLines {
		if n != 0 {
			t.Errorf("redemption %s: %d more redemptions than statement lines", k, n)
		}
	}
	if credited != earned || sum.Balance != total || sum.Balance != earned-spent || sum.Balance < 0 {
		t.Errorf("balance %d: earned %d (statement credits %d), %d redemptions cost %d, statement sums to %d",
			sum.Balance, earned, credited, len(listed), spent, total)
	}
	// Stock: what is left is what was there less what was redeemed.
	var cat struct {
		Rewards []struct {
			ID    string `json:"id"`
			Stock int    `json:"stock"`
		} `json:"rewards"`
	}
	mustCall(t, "GET", s.Base+"/v1/rewards/catalog", sk, nil, http.StatusOK, &cat)
	for _, r := range cat.Rewards {
		want := catalog[r.ID].stock
		if want >= 0 {
			want -= perReward[r.ID]
		}
		if r.Stock != want {
			t.Errorf("%s: stock %d, want %d (%d redeemed)", r.ID, r.Stock, want, perReward[r.ID])
		}
	}
	// The brand's report agrees.
	var rep struct {
		Liability struct {
			Points int `json:"points"`
		} `json:"liability"`
		Redemptions []struct {
			Reward      string `json:"reward"`
			Redemptions int    `json:"redemptions"`
			Points      int    `json:"points"`
		} `json:"redemptions"`
	}
	mustCall(t, "GET", s.Base+"/v1/rewards/report", sk, nil, http.StatusOK, &rep)
	if rep.Liability.Points != sum.Balance {
		t.Errorf("report liability %d, balance %d", rep.Liability.Points, sum.Balance)
	}
	for _, r := range rep.Redemptions {
		if r.Redemptions != perReward[r.Reward] || r.Points != perReward[r.Reward]*catalog[r.Reward].cost {
			t.Errorf("report: %+v, listed %d", r, perReward[r.Reward])
		}
	}
	// Every redemption is in the consumer's ledger chain, once. (What a record of the proof
	// document says is its committed bytes, "record".)
	var log struct {
		Records []struct {
			Record string `json:"record"`
		} `json:"records"`
	}
	mustCall(t, "GET", s.Base+"/v1/me/access-log", wt, nil, http.StatusOK, &log)
	var journals []string
	for _, x := range log.Records {
		var r struct {
			Kind string `json:"kind"`
			Body struct {
				Journal string `json:"journal"`
			} `json:"body"`
		}
		if err := json.Unmarshal([]byte(x.Record), &r); err != nil {
			t.Fatalf("ledger record %q: %v", x.Record, err)
		}
		if r.Kind == "rewards.redemption" {
			journals = append(journals, r.Body.Journal)
		}
	}
	sort.Strings(journals)
	if len(journals) != len(listed) {
		t.Errorf("%d rewards.redemption ledger records for %d redemptions", len(journals), len(listed))
	}
	for i := 1; i < len(journals); i++ {
		if journals[i] == journals[i-1] {
			t.Errorf("ledger record for journal %s twice", journals[i])
		}
	}
	return listed
}
