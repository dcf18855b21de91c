package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestGracefulShutdown sends SIGTERM while concurrent clients are sending batches. Requests in
// flight must be answered — 200 with every event accepted, or a clear 503 JSON error — the
// process must exit 0, and after a restart every acknowledged event must be there, once.
//
// Which load request the server was already handling when the signal came cannot be known
// from outside, so the test also sends probes that certainly are: requests with
// "Expect: 100-continue" whose handler has asked for the body (the server sent 100 Continue)
// and which are only half sent when the signal comes. They must be answered.
func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	const clients, batches, perBatch, probes = 20, 10, 100, 3
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
	var ps []*probe
	for i := range probes {
		ps = append(ps, startProbe(t, s.Base, b.WriteKey, l.makeBatch(i, 1000+i, users[i])))
	}
	for _, p := range ps {
		p.waitHandling(t)
	}
	inflight := l.inflight.Load()
	signalled := time.Now()
	s.signal(syscall.SIGTERM)
	time.Sleep(200 * time.Millisecond) // the server is draining; the probes are still half sent
	for _, p := range ps {
		p.finish()
	}
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

	outcomes := l.outcomes()
	for i, p := range ps {
		r := p.result(t)
		switch {
		case r.err != nil:
			t.Errorf("probe %d, in its handler when SIGTERM came, got no answer: %v", i, r.err)
		case r.status == http.StatusOK:
			checkAccepted(t, fmt.Sprintf("probe %d", i), r.body, perBatch)
		case r.status == http.StatusServiceUnavailable:
			checkUnavailable(t, r.body)
		default:
			t.Errorf("probe %d answered %d, want 200 or 503: %s", i, r.status, tail(string(r.body), 300))
		}
		outcomes = append(outcomes, outcome{p.batch, r.err == nil && r.status == http.StatusOK})
	}

	// Every answer to the load is a 200 or a clear 503.
	var drained, unavailable, lost, lostInFlight int
	for _, r := range l.all() {
		switch r.status {
		case http.StatusOK:
			if r.done.After(signalled) {
				drained++
			}
		case http.StatusServiceUnavailable:
			unavailable++
			checkUnavailable(t, r.body)
		case 0:
			lost++
			if r.start.Before(signalled) && r.wrote.Load() != 0 {
				lostInFlight++
				t.Logf("NOTE: a request fully written %v before SIGTERM lost its connection: %v",
					signalled.Sub(time.Unix(0, r.wrote.Load())).Round(100*time.Microsecond), r.err)
			}
		default:
			t.Errorf("request answered %d during shutdown, want 200 or 503: %s", r.status, tail(string(r.body), 300))
		}
	}
	t.Logf("at SIGTERM: %d load requests and %d probes in flight; after it: %d load requests answered 200, %d answered 503; %d failed to connect or lost the connection (%d of them sent before the signal)",
		inflight, len(ps), drained, unavailable, lost, lostInFlight)

	s2 := startServer(t, dataDir, opt)
	stored := storedIDs(t, s2, b.SecretKey, users)
	checkDurable(t, outcomes, stored)
	s2.stop(30 * time.Second)
}

func checkAccepted(t *testing.T, what string, body []byte, n int) {
	t.Helper()
	var a ingestAnswer
	if err := json.Unmarshal(body, &a); err != nil || !a.Success || a.Accepted != n || a.Duplicates != 0 || len(a.Dropped) != 0 {
		t.Errorf("%s: 200 but not every event accepted: %s", what, tail(string(body), 500))
	}
}

func checkUnavailable(t *testing.T, body []byte) {
	t.Helper()
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &e); err != nil || e.Error.Code != "unavailable" || e.Error.Message == "" {
		t.Errorf("503 without a clear JSON error (want code \"unavailable\" and a message): %s", tail(string(body), 300))
	}
}

// probeClient waits for 100 Continue before it sends a body.
var probeClient = &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{ExpectContinueTimeout: 30 * time.Second, DisableKeepAlives: true}}

// probe is a batch request that the server is certainly handling: its handler asked for the
// body (100 Continue), of which only half is sent until finish.
type probe struct {
	batch  *sentBatch
	pw     *io.PipeWriter
	got100 chan struct{}
	done   chan probeResult
}

type probeResult struct {
	status int
	body   []byte
	err    error
}

func startProbe(t *testing.T, base, writeKey string, b *sentBatch) *probe {
	t.Helper()
	pr, pw := io.Pipe()
	p := &probe{batch: b, pw: pw, got100: make(chan struct{}), done: make(chan probeResult, 1)}
	req, err := http.NewRequest("POST", base+"/v1/batch", pr)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = int64(len(b.body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", basic(writeKey))
	req.Header.Set("Expect", "100-continue")
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
		Got100Continue: func() { close(p.got100) },
	}))
	go func() {
		var r probeResult
		resp, err := probeClient.Do(req)
		if err == nil {
			r.body, err = io.ReadAll(resp.Body)
			resp.Body.Close()
			r.status = resp.StatusCode
		}
		r.err = err
		p.done <- r
	}()
	return p
}

// waitHandling waits for 100 Continue, then sends the first half of the body.
func (p *probe) waitHandling(t *testing.T) {
	t.Helper()
	select {
	case <-p.got100:
	case r := <-p.done:
		t.Fatalf("probe answered before its body was sent: %d %s %v", r.status, r.body, r.err)
	case <-time.After(30 * time.Second):
		t.Fatalf("the server did not ask for a probe's body (no 100 Continue) within 30s")
	}
	if _, err := p.pw.Write(p.batch.body[:len(p.batch.body)/2]); err != nil {
		t.Fatalf("probe: send the first half: %v", err)
	}
}

func (p *probe) finish() {
	go func() {
		_, err := p.pw.Write(p.batch.body[len(p.batch.body)/2:])
		p.pw.CloseWithError(err)
	}()
}

func (p *probe) result(t *testing.T) probeResult {
	t.Helper()
	select {
	case r := <-p.done:
		return r
	case <-time.After(60 * time.Second):
		t.Fatalf("probe not answered within 60s")
		return probeResult{}
	}
}
