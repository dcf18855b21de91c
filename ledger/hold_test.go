package ledger_test

import (
	"context"
	"testing"
	"time"

	"github.com/symbiont/symbiont/ledger"
	"github.com/symbiont/symbiont/platform"
	"github.com/symbiont/symbiont/store"
)

// While HoldIntegration is in force the background integrator leaves new entries pending;
// released, or at the end of its bound, it integrates them.
func TestHoldIntegration(t *testing.T) {
	ctx := context.Background()
	clock := newClock()
	n := openNode(t, t.TempDir(), "", clock, func(c *platform.Config) { c.IntegrateEvery = 20 * time.Millisecond })
	nb, err := n.p.Tenants.CreateBrand(ctx, "Hold")
	if err != nil {
		t.Fatal(err)
	}
	appendOne := func() int64 {
		t.Helper()
		var e *ledger.Entry
		if err := n.p.Store.Update(ctx, func(tx store.Tx) (err error) {
			e, err = n.p.Ledger.Append(ctx, tx, ledger.Act{BrandID: nb.Brand.ID, ConsumerID: 1, Kind: "test.hold", At: clock.Now(), Body: map[string]int{"x": 1}})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return e.ID
	}
	size := func() int64 {
		cp, err := n.p.Ledger.Latest()
		if err != nil {
			t.Fatal(err)
		}
		if cp == nil {
			return 0
		}
		return cp.Size
	}
	waitFor := func(want int64, within time.Duration) {
		t.Helper()
		for end := time.Now().Add(within); size() < want; {
			if time.Now().After(end) {
				t.Fatalf("tree size %d after %v, want %d", size(), within, want)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	appendOne()
	waitFor(1, 5*time.Second) // integrating, unheld
	release := n.p.Ledger.HoldIntegration(time.Minute)
	appendOne()
	time.Sleep(200 * time.Millisecond) // ten integration intervals
	if s := size(); s != 1 {
		t.Fatalf("tree size %d while integration is held, want 1", s)
	}
	release()
	release() // once is enough; twice changes nothing
	waitFor(2, 5*time.Second)

	// A hold ends by itself at its bound.
	n.p.Ledger.HoldIntegration(100 * time.Millisecond)
	appendOne()
	time.Sleep(50 * time.Millisecond)
	if s := size(); s != 2 {
		t.Fatalf("tree size %d early in a bounded hold, want 2", s)
	}
	waitFor(3, 5*time.Second)
}
