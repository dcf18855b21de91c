package api_test

import (
	"strings"
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
