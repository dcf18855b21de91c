package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestGracefulShutdown sends SIGTERM while concurrent clients are sending batches. Requests in
// flight must be answered — 200 with every event accepted, or a clear 503 JSON error — the
// process must exit 0, and after a restart every acknowledged event must be there, once.
func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	const clients, batches, perBatch = 20, 10, 100
	dataDir := t.TempDir()
	opt := serverOptions{env: []string{"SYMBIONT_RATE_INGEST=0"}}
	s := startServer(t, dataDir, opt)
	b := createBrand(t, s, "Graceful Shutdown Co")
	putPlan(t, s, b.SecretKey, map[string]string{"Order Completed": "purchases"}, nil)
	users := make([]string, clients)
	for i := range users {
		users[i] = fmt.Sprintf("drain-user-%02d", i)
		grant(t, s, b.SecretKey, users[i], "purchases", "personalization")
	}

	l := startLoad(t, loadConfig{base: s.Base, writeKey: b.WriteKey, users: users, batches: batches, perBatch: perBatch, eventName: "Order Completed"})
	if !l.waitAcks(clients*batches/4, 60*time.Second) {
		t.Fatalf("only %d batches acknowledged before the signal point (of %d)", l.acks.Load(), clients*batches)
	}
	inflight := l.inflight.Load()
	signalled := time.Now()
	s.signal(syscall.SIGTERM)
	l.wait(t, 60*time.Second)
	code, err := s.wait(45 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if code != 0 {
		t.Errorf("symbiont exited with status %d after SIGTERM, want 0", code)
	}
	if !strings.Contains(s.stderr.String(), `"msg":"stopped"`) {
		t.Errorf("symbiont did not log a clean stop; stderr:\n%s", tail(s.stderr.String(), 2000))
	}

	// Every answer is a 200 or a clear 503; a request written well before the signal (so the
	// server was already reading it) must get an answer, not a dropped connection.
	const margin = 10 * time.Millisecond
	var drained, unavailable, refused, written int
	for _, r := range l.all() {
		switch r.status {
		case http.StatusOK:
			if r.done.After(signalled) {
				drained++
			}
		case http.StatusServiceUnavailable:
			unavailable++
			var e struct {
				Error struct {
					Code    string `json:"code"`
					Message string `json:"message"`
				} `json:"error"`
			}
			if err := json.Unmarshal(r.body, &e); err != nil || e.Error.Code != "unavailable" || e.Error.Message == "" {
				t.Errorf("503 without a clear JSON error (want code \"unavailable\" and a message): %s", tail(string(r.body), 300))
			}
		case 0:
			refused++
		default:
			t.Errorf("request answered %d during shutdown, want 200 or 503: %s", r.status, tail(string(r.body), 300))
		}
		wrote := r.wrote.Load()
		if r.start.Before(signalled) && wrote != 0 && time.Unix(0, wrote).Before(signalled.Add(-margin)) && r.done.After(signalled) {
			written++
			if r.status == 0 {
				t.Errorf("request written %v before SIGTERM lost its connection instead of an answer: %v",
					signalled.Sub(time.Unix(0, wrote)).Round(time.Millisecond), r.err)
			}
		}
	}
	t.Logf("at SIGTERM: %d requests in flight (%d written >%v before it); after it: %d answered 200, %d answered 503, %d failed to connect or lost the connection",
		inflight, written, margin, drained, unavailable, refused)
	if written == 0 {
		t.Errorf("no request was in flight when SIGTERM came: the drain was not exercised")
	}
	if drained == 0 {
		t.Errorf("no request in flight at SIGTERM was completed with 200: the server did not drain")
	}

	s2 := startServer(t, dataDir, opt)
	stored := storedIDs(t, s2, b.SecretKey, users)
	checkDurable(t, l, stored)
	s2.stop(30 * time.Second)
}
