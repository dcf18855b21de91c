package e2e

import (
	"fmt"
	"net/http"
	"testing"
	"time"
)

// TestCrashDurability kills the server with SIGKILL while concurrent clients are sending
// batches, restarts it on the same data directory and checks that every batch it had
// acknowledged is there, exactly once; twice, the second time on the recovered store. It then re-sends an acknowledged batch, which must be
// reported as duplicates and not stored again.
func TestCrashDurability(t *testing.T) {
	t.Parallel()
	const clients, batches, perBatch = 20, 10, 100
	dataDir := t.TempDir()
	// No ingestion rate limit: a 429 would only blur what was acknowledged.
	opt := serverOptions{env: []string{"SYMBIONT_RATE_INGEST=0"}}
	s := startServer(t, dataDir, opt)
	b := createBrand(t, s, "Crash Durability Co")
	putPlan(t, s, b.SecretKey, map[string]string{"Order Completed": "purchases"}, nil)
	users := make([]string, clients)
	for i := range users {
		users[i] = fmt.Sprintf("crash-user-%02d", i)
		grant(t, s, b.SecretKey, users[i], "purchases", "personalization")
	}

	// Two rounds: crash under load, recover, crash the recovered store under load again.
	var outcomes []outcome
	var acked []*sentBatch
	for round := range 2 {
		l := startLoad(t, loadConfig{base: s.Base, writeKey: b.WriteKey, users: users, batches: batches, perBatch: perBatch,
			eventName: "Order Completed", firstN: round * batches})
		// Kill once a quarter of the batches are acknowledged: the clients are still sending.
		if !l.waitAcks(clients*batches/4, 60*time.Second) {
			t.Fatalf("round %d: only %d batches acknowledged before the kill point (of %d)", round, l.acks.Load(), clients*batches)
		}
		inflight := l.inflight.Load()
		killedAt := time.Now()
		s.kill()
		l.wait(t, 60*time.Second)
		if inflight == 0 {
			t.Fatalf("round %d: no request was in flight at the kill: the test did not test a crash under load", round)
		}
		ackedNow := l.acked()
		var failed, late int
		for _, r := range l.all() {
			if r.status != http.StatusOK {
				failed++
			}
			if r.status == http.StatusOK && r.done.After(killedAt) {
				late++
			}
		}
		t.Logf("round %d: at SIGKILL %d requests in flight; %d batches (%d events) acknowledged, %d requests failed; %d answers arrived after the kill",
			round, inflight, len(ackedNow), len(ackedNow)*perBatch, failed, late)
		if len(ackedNow) == clients*batches {
			t.Fatalf("round %d: every batch was acknowledged: the kill came too late to test anything", round)
		}
		acked = append(acked, ackedNow...)
		outcomes = append(outcomes, l.outcomes()...)

		s = startServer(t, dataDir, opt)
		stored := storedIDs(t, s, b.SecretKey, users)
		checkDurable(t, outcomes, stored)
		total := 0
		for _, n := range stored {
			total += n
		}
		t.Logf("round %d: after restart %d events stored (%d acknowledged, %d committed without an answer)", round, total, len(acked)*perBatch, total-len(acked)*perBatch)
	}

	// Re-sending an acknowledged batch (as an SDK does when it missed the answer) must be
	// recognised as duplicates and must not be stored twice. (One from the first round: it has
	// been through both crashes.)
	again := acked[len(acked)/4]
	before := len(readData(t, s, b.SecretKey, again.user, "personalization", "purchases").Data["purchases"])
	var res ingestAnswer
	mustCall(t, "POST", s.Base+"/v1/batch", basic(b.WriteKey), again.body, http.StatusOK, &res)
	if !res.Success || res.Accepted != perBatch || res.Duplicates != perBatch || len(res.Dropped) != 0 {
		t.Errorf("re-sent batch: got %+v, want accepted=%d duplicates=%d and nothing dropped", res, perBatch, perBatch)
	}
	d := readData(t, s, b.SecretKey, again.user, "personalization", "purchases")
	copies := map[string]int{}
	for _, raw := range d.Data["purchases"] {
		copies[messageID(t, raw)]++
	}
	for _, id := range again.ids {
		if copies[id] != 1 {
			t.Errorf("after re-sending, event %s is stored %d times", id, copies[id])
		}
	}
	if len(d.Data["purchases"]) != before {
		t.Errorf("consumer %s: %d events after re-sending a batch, %d before", again.user, len(d.Data["purchases"]), before)
	}
	s.stop(30 * time.Second)
}
