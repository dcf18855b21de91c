package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The load generator of the durability tests: concurrent clients, each sending batches of
// track events for its own consumer through POST /v1/batch, recording every request's timing
// and outcome. A client stops at its first transport error or non-200 answer (the server is
// going away).

type loadConfig struct {
	base      string
	writeKey  string
	users     []string // one consumer per client
	batches   int      // per client
	perBatch  int      // events per batch
	eventName string
	firstN    int // number of each client's first batch (to tell rounds apart)
}

// sentBatch is one request body and the messageIds in it.
type sentBatch struct {
	client, n int
	user      string
	ids       []string
	body      []byte
}

// reqRecord is the outcome of one request.
type reqRecord struct {
	batch  *sentBatch
	start  time.Time    // before the request was written
	wrote  atomic.Int64 // UnixNano when the whole request was written (0 if never)
	done   time.Time    // the answer (or error) arrived
	status int          // 0: transport error
	body   []byte
	err    error
}

type loadRun struct {
	cfg      loadConfig
	mu       sync.Mutex
	records  []*reqRecord
	acks     atomic.Int64
	inflight atomic.Int64
	wg       sync.WaitGroup
	finished chan struct{}
}

func startLoad(t testing.TB, cfg loadConfig) *loadRun {
	t.Helper()
	l := &loadRun{cfg: cfg, finished: make(chan struct{})}
	for i, u := range cfg.users {
		l.wg.Add(1)
		go l.client(t, i, u)
	}
	go func() { l.wg.Wait(); close(l.finished) }()
	return l
}

type trackMsg struct {
	Type       string         `json:"type"`
	Event      string         `json:"event"`
	UserID     string         `json:"userId"`
	MessageID  string         `json:"messageId"`
	Timestamp  string         `json:"timestamp"`
	Properties map[string]any `json:"properties"`
}

func (l *loadRun) makeBatch(client, n int, user string) *sentBatch {
	b := &sentBatch{client: client, n: n, user: user}
	msgs := make([]trackMsg, l.cfg.perBatch)
	now := time.Now().UTC()
	for k := range msgs {
		id := newUUID()
		b.ids = append(b.ids, id)
		msgs[k] = trackMsg{Type: "track", Event: l.cfg.eventName, UserID: user, MessageID: id,
			Timestamp:  now.Add(time.Duration(k) * time.Millisecond).Format(time.RFC3339Nano),
			Properties: map[string]any{"client": client, "batch": n, "seq": k, "revenue": 12.5, "sku": fmt.Sprintf("SKU-%d-%d-%d", client, n, k)}}
	}
	b.body, _ = json.Marshal(map[string]any{"batch": msgs})
	return b
}

func (l *loadRun) client(t testing.TB, i int, user string) {
	defer l.wg.Done()
	auth := basic(l.cfg.writeKey)
	for n := l.cfg.firstN; n < l.cfg.firstN+l.cfg.batches; n++ {
		b := l.makeBatch(i, n, user)
		rec := &reqRecord{batch: b}
		req, _ := http.NewRequest("POST", l.cfg.base+"/v1/batch", bytes.NewReader(b.body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", auth)
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
			// Called on the transport's goroutine, possibly after Do returned.
			WroteRequest: func(httptrace.WroteRequestInfo) { rec.wrote.Store(time.Now().UnixNano()) },
		}))
		l.inflight.Add(1)
		rec.start = time.Now()
		resp, err := httpClient.Do(req)
		if err == nil {
			rec.body, err = io.ReadAll(resp.Body)
			resp.Body.Close()
			if err == nil {
				rec.status = resp.StatusCode
			}
		}
		rec.done = time.Now()
		rec.err = err
		l.inflight.Add(-1)
		l.mu.Lock()
		l.records = append(l.records, rec)
		l.mu.Unlock()
		if rec.status == http.StatusOK {
			var a ingestAnswer
			if err := json.Unmarshal(rec.body, &a); err != nil {
				t.Errorf("client %d batch %d: 200 with a body that is not JSON: %s", i, n, tail(string(rec.body), 300))
			} else if !a.Success || a.Accepted != len(b.ids) || a.Duplicates != 0 || len(a.Dropped) != 0 {
				t.Errorf("client %d batch %d: 200 but not every event accepted: %s", i, n, tail(string(rec.body), 500))
			}
			l.acks.Add(1)
			continue
		}
		return
	}
}

// waitAcks waits until at least n batches were acknowledged; false on timeout or when the
// load finished first.
func (l *loadRun) waitAcks(n int64, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for l.acks.Load() < n {
		select {
		case <-l.finished:
			return l.acks.Load() >= n
		default:
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(time.Millisecond)
	}
	return true
}

func (l *loadRun) wait(t testing.TB, timeout time.Duration) {
	t.Helper()
	select {
	case <-l.finished:
	case <-time.After(timeout):
		t.Fatalf("load clients still running after %v", timeout)
	}
}

// acked returns the batches answered 200.
func (l *loadRun) acked() []*sentBatch {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []*sentBatch
	for _, r := range l.records {
		if r.status == http.StatusOK {
			out = append(out, r.batch)
		}
	}
	return out
}

func (l *loadRun) all() []*reqRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]*reqRecord(nil), l.records...)
}

// storedIDs reads every consumer of the load back through the purpose-bound API and counts
// each messageId's copies.
func storedIDs(t testing.TB, s *server, sk string, users []string) map[string]int {
	t.Helper()
	counts := map[string]int{}
	for _, u := range users {
		d := readData(t, s, sk, u, "personalization", "purchases")
		for _, raw := range d.Data["purchases"] {
			counts[messageID(t, raw)]++
		}
	}
	return counts
}

// outcome is a sent batch and whether it was acknowledged (answered 200).
type outcome struct {
	batch *sentBatch
	acked bool
}

func (l *loadRun) outcomes() []outcome {
	var out []outcome
	for _, r := range l.all() {
		out = append(out, outcome{r.batch, r.status == http.StatusOK})
	}
	return out
}

// checkDurable asserts the durability contract: every acknowledged event is stored exactly
// once, nothing is stored twice, nothing is stored that was not sent, and a batch is stored
// whole or not at all (it is committed in one transaction).
func checkDurable(t testing.TB, batches []outcome, stored map[string]int) {
	t.Helper()
	sent := map[string]bool{}
	for _, o := range batches {
		for _, id := range o.batch.ids {
			sent[id] = true
		}
	}
	missing, dupes := 0, 0
	for _, o := range batches {
		if !o.acked {
			continue
		}
		for _, id := range o.batch.ids {
			switch n := stored[id]; {
			case n == 0:
				if missing++; missing <= 5 {
					t.Errorf("acknowledged event %s (client %d, batch %d) is missing after restart", id, o.batch.client, o.batch.n)
				}
			case n > 1:
				if dupes++; dupes <= 5 {
					t.Errorf("acknowledged event %s is stored %d times", id, n)
				}
			}
		}
	}
	if missing > 0 {
		t.Errorf("%d acknowledged events missing after restart", missing)
	}
	for id, n := range stored {
		if !sent[id] {
			t.Errorf("stored event %s was never sent", id)
		}
		if n > 1 {
			if dupes++; dupes <= 10 {
				t.Errorf("event %s stored %d times", id, n)
			}
		}
	}
	for _, o := range batches {
		if o.acked {
			continue
		}
		n := 0
		for _, id := range o.batch.ids {
			if stored[id] > 0 {
				n++
			}
		}
		if n != 0 && n != len(o.batch.ids) {
			t.Errorf("unacknowledged batch (client %d, batch %d) stored in part: %d of %d events", o.batch.client, o.batch.n, n, len(o.batch.ids))
		}
	}
}
