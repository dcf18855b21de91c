package api_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/symbiont/symbiont/consent"
	"github.com/symbiont/symbiont/identity"
	"github.com/symbiont/symbiont/platform"
	"github.com/symbiont/symbiont/store"
	"github.com/symbiont/symbiont/store/storetest"
	"github.com/symbiont/symbiont/vault"
)

// TestTwoNodesOnPostgres: two `serve` nodes share one PostgreSQL database. A withdrawal on one
// node takes effect on the other on its very next request, although that node's in-memory
// index has not heard of it yet; a grant on one node reaches the other's index by notification.
func TestTwoNodesOnPostgres(t *testing.T) {
	dsn := storetest.PostgresDSN(t)
	master := vault.NewMasterKey()
	a := newEnvWith(t, platform.Config{PostgresDSN: dsn, MasterKey: master})
	b := newEnvWith(t, platform.Config{PostgresDSN: dsn, MasterKey: master})
	b.clock = a.clock // one clock for both nodes' views of time
	br := a.setup("Aurora")
	a.grant(br, "guest-1", "purchases", "personalization")

	// The grant reaches node b's index by notification.
	deadline := time.Now().Add(5 * time.Second)
	for {
		res := b.batch(br, track("guest-1", "Order Completed", map[string]any{"node": "b"}))
		if num(res["accepted"]) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("node b never admitted the event granted on node a: %v", res)
		}
		time.Sleep(20 * time.Millisecond)
	}
	d := a.must(200, "GET", "/v1/consumers/guest-1/data?purpose=personalization&categories=purchases", br.SK, nil)
	if !strings.Contains(mustJSON(d), `"node":"b"`) {
		t.Fatalf("node a does not read node b's event: %v", d)
	}

	// Withdraw on a; b must refuse on its next request even if its index still says granted.
	wt := a.wallet(br, "guest-1")
	b.p.Consent.Index.Set(grantRecord(b, br, "guest-1")) // simulate a notification not yet arrived
	a.must(200, "DELETE", "/v1/me/consents/purchases/personalization", wt, nil)
	b.p.Consent.Index.Set(grantRecord(b, br, "guest-1"))
	res := b.batch(br, track("guest-1", "Order Completed", map[string]any{"after": "withdrawal"}))
	if num(res["accepted"]) != 0 {
		t.Fatalf("node b stored an event after the withdrawal on node a: %v", res)
	}
	d = b.must(200, "GET", "/v1/consumers/guest-1/data?purpose=personalization&categories=purchases", br.SK, nil)
	if len(d["data"].(map[string]any)) != 0 || d["withheld"].([]any)[0].(map[string]any)["reason"] != "withdrawn" {
		t.Fatalf("node b read after the withdrawal on node a: %v", d)
	}

	// A key revoked on a stops working on b (b had it cached).
	k := a.must(201, "POST", "/v1/keys", br.SK, map[string]any{"kind": "secret"})
	b.must(200, "GET", "/v1/keys", k["secret"].(string), nil)
	a.must(200, "DELETE", "/v1/keys/"+k["id"].(string), br.SK, nil)
	waitFor(t, func() bool { return b.do("GET", "/v1/keys", k["secret"].(string), nil).Status == 401 }, "revoked key still works on node b")

	// A tracking plan changed on a applies on b.
	a.must(200, "PUT", "/v1/tracking-plan", br.SK, map[string]any{"events": map[string]string{"Order Completed": "purchases", "Spa Booked": "purchases"}})
	a.grant(br, "guest-2", "purchases", "personalization")
	waitFor(t, func() bool {
		res := b.batch(br, track("guest-2", "Spa Booked", nil))
		return num(res["accepted"]) == 1
	}, "node b never applied the tracking plan changed on node a")
}

func waitFor(t *testing.T, ok func() bool, msg string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatal(msg)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// grantRecord is an active grant of purchases for personalization, as a stale index would hold it.
func grantRecord(e *env, b brand, user string) *consent.Record {
	e.t.Helper()
	ctx := e.t.Context()
	bb, err := e.p.Tenants.BrandByPublicID(ctx, b.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	var cid int64
	if err := e.p.Store.View(ctx, func(tx store.Tx) (err error) {
		cid, _, err = e.p.Graph.Resolve(ctx, tx, bb.ID, identity.KindUserID, user, false, e.clock.Now())
		return err
	}); err != nil || cid == 0 {
		e.t.Fatalf("resolve %s: %d %v", user, cid, err)
	}
	return &consent.Record{BrandID: bb.ID, ConsumerID: cid, Category: "purchases", Purpose: "personalization",
		State: consent.StateGiven, ExpiresAt: e.clock.Now().Add(24 * time.Hour)}
}

// TestRefreshKeepsNewerLocalState: node b's consent change makes node a reload the consumer
// (Refresh). That reload reads the database, and is held by a hook before it updates a's index
// while a records a consent change of its own for the same consumer. The stale read must not
// overwrite a's newer state: neither bring back a grant just withdrawn on a (consent would fail
// open) nor drop a grant just given on a. No sleeps: the hook holds the reload.
func TestRefreshKeepsNewerLocalState(t *testing.T) {
	for _, tc := range []struct {
		name string
		// granted: contact for service is granted before a's own change; a's change flips it.
		granted bool
	}{
		{"withdrawal", true},
		{"grant", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dsn := storetest.PostgresDSN(t)
			master := vault.NewMasterKey()
			a := newEnvWith(t, platform.Config{PostgresDSN: dsn, MasterKey: master})
			b := newEnvWith(t, platform.Config{PostgresDSN: dsn, MasterKey: master})
			b.clock = a.clock
			br := a.setup("Aurora")
			a.grant(br, "guest-1", "purchases", "personalization")
			if tc.granted {
				a.grant(br, "guest-1", "contact", "service")
			}
			g := grantRecord(a, br, "guest-1")
			allowed := func() bool { return a.p.Consent.Allowed(g.BrandID, g.ConsumerID, "contact", "service") }
			if allowed() != tc.granted {
				t.Fatalf("before: contact for service allowed = %v on node a", !tc.granted)
			}

			var mu sync.Mutex
			var held, released bool
			paused, resume := make(chan struct{}), make(chan struct{})
			var resumeOnce sync.Once
			release := func() { resumeOnce.Do(func() { close(resume) }) }
			// A failed test must not leave the listener held.
			t.Cleanup(func() { a.p.Consent.OnRefreshRead(nil); release() })
			seen := make(chan bool, 1) // a's index, at the first refresh after the held one
			a.p.Consent.OnRefreshRead(func(brandID, consumerID int64, read []*consent.Record) {
				if consumerID != g.ConsumerID {
					return
				}
				mu.Lock()
				defer mu.Unlock()
				switch {
				case !held && has(read, "preferences", "personalization"): // read after b's change, before a's
					if has(read, "contact", "service") != tc.granted {
						t.Errorf("the held refresh read contact for service = %v", !tc.granted)
					}
					held = true
					close(paused)
					mu.Unlock()
					<-resume
					mu.Lock()
				case released:
					released = false
					seen <- allowed()
				}
			})
			b.grant(br, "guest-1", "preferences", "personalization")
			waitChan(t, paused, "node a never refreshed guest-1 after node b's grant")

			// a's own change commits while the refresh that read before it is held.
			if tc.granted {
				a.must(200, "DELETE", "/v1/consumers/guest-1/consents/contact/service", br.SK, nil)
			} else {
				a.grant(br, "guest-1", "contact", "service")
			}
			if allowed() == tc.granted {
				t.Fatal("a's own change is not in its index")
			}
			mu.Lock()
			released = true
			mu.Unlock()
			release()
			select {
			case got := <-seen:
				if got == tc.granted {
					t.Fatalf("after the held refresh: contact for service allowed = %v on node a, want %v (a stale read overwrote a's newer change)", got, !tc.granted)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("node a never refreshed guest-1 again")
			}
			a.p.Consent.OnRefreshRead(nil)
			waitFor(t, func() bool { return allowed() != tc.granted }, "node a's index does not settle on its own change")
		})
	}
}

func has(rs []*consent.Record, category, purpose string) bool {
	for _, r := range rs {
		if r.Category == category && r.Purpose == purpose && r.State == consent.StateGiven {
			return true
		}
	}
	return false
}

func waitChan(t *testing.T, c <-chan struct{}, msg string) {
	t.Helper()
	select {
	case <-c:
	case <-time.After(10 * time.Second):
		t.Fatal(msg)
	}
}
