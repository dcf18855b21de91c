package access_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/symbiont/symbiont"
	"github.com/symbiont/symbiont/access"
	"github.com/symbiont/symbiont/consent"
	"github.com/symbiont/symbiont/identity"
	"github.com/symbiont/symbiont/segment"
	"github.com/symbiont/symbiont/store"
)

// A purpose-bound read decides and reads from a snapshot, outside the write transaction, and
// records the access in it after deciding again. These tests withdraw consent between the two
// and expect the read to fail closed: nothing withdrawn is returned, and the one access record
// says what was returned.

// hookedStore runs after once, right after the first snapshot read (ViewBeforeUpdate, or View)
// returns.
type hookedStore struct {
	store.Store
	mu    sync.Mutex
	views int
	after func()
}

func (h *hookedStore) View(ctx context.Context, fn func(store.Tx) error) error {
	return h.hooked(h.Store.View(ctx, fn))
}

func (h *hookedStore) ViewBeforeUpdate(ctx context.Context, fn func(store.Tx) error) error {
	return h.hooked(h.Store.ViewBeforeUpdate(ctx, fn))
}

func (h *hookedStore) hooked(err error) error {
	h.mu.Lock()
	h.views++
	after := h.after
	h.after = nil
	h.mu.Unlock()
	if after != nil {
		after()
	}
	return err
}

func TestReadFailsClosedOnAWithdrawalBeforeTheRecord(t *testing.T) {
	for _, eng := range engines {
		t.Run(eng.name, func(t *testing.T) {
			ctx := context.Background()
			p, brand := openBrand(t, eng.cfg(t), `{"events":{"Order Completed":"purchases","Page Viewed":"browsing"}}`)
			actor := symbiont.Actor{Kind: symbiont.ActorBrand, BrandID: brand, KeyID: "test"}
			change := func(cat, state string) *consent.Change {
				return &consent.Change{BrandID: brand, Consumer: consent.ConsumerRef{Kind: identity.KindUserID, Value: "erin"}, Category: cat,
					Purpose: "personalization", State: state, Actor: actor, Method: consent.MethodBrand}
			}
			if _, err := p.Consent.Apply(ctx, []*consent.Change{change("purchases", consent.StateGiven), change("browsing", consent.StateGiven)}, ""); err != nil {
				t.Fatal(err)
			}
			var msgs []map[string]any
			for i := range 4 {
				ev := []string{"Order Completed", "Page Viewed"}[i%2]
				msgs = append(msgs, map[string]any{"type": "track", "userId": "erin", "event": ev, "messageId": fmt.Sprint("m", i),
					"timestamp": "2026-11-01T08:00:00Z", "properties": map[string]any{"n": i}})
			}
			body, _ := json.Marshal(map[string]any{"batch": msgs})
			bt, err := segment.ParseBatch(body)
			if err != nil {
				t.Fatal(err)
			}
			if res, err := p.Ingest.Ingest(ctx, brand, bt, false, actor); err != nil || res.Accepted != 4 {
				t.Fatalf("ingest: %v %+v", err, res)
			}
			var cid int64
			if err := p.Store.View(ctx, func(tx store.Tx) (err error) {
				cid, _, err = p.Graph.Resolve(ctx, tx, brand, identity.KindUserID, "erin", false, time.Now())
				return err
			}); err != nil {
				t.Fatal(err)
			}

			hs := &hookedStore{Store: p.Store}
			svc := access.NewService(hs, p.Consent, p.Graph, p.Vault, p.Ledger, symbiont.SystemClock{})
			hs.after = func() { // the snapshot allowed purchases; withdraw it before the record
				if _, err := p.Consent.Apply(ctx, []*consent.Change{change("purchases", consent.StateWithdrawn)}, ""); err != nil {
					t.Error(err)
				}
			}
			d, err := svc.Read(ctx, access.Request{BrandID: brand, ConsumerID: cid, Purpose: "personalization",
				Categories: []string{"purchases", "browsing"}, Actor: actor, RequestID: "req-1"})
			if err != nil {
				t.Fatal(err)
			}
			if hs.views != 2 {
				t.Errorf("%d snapshots, want 2 (the first was given up at the record)", hs.views)
			}
			if got := d.Data["purchases"]; got != nil {
				t.Errorf("returned %d purchases events after their consent was withdrawn", len(got))
			}
			if len(d.Data["browsing"]) != 2 {
				t.Errorf("returned %d browsing events, want 2", len(d.Data["browsing"]))
			}
			if !slices.Equal(d.Withheld, []access.Withheld{{Category: "purchases", Reason: access.ReasonWithdrawn}}) {
				t.Errorf("withheld %+v, want purchases (withdrawn)", d.Withheld)
			}
			log, err := p.Access.Log(ctx, brand, cid, 10)
			if err != nil {
				t.Fatal(err)
			}
			if len(log) != 1 {
				t.Fatalf("%d access records, want 1 (only the read that returned data)", len(log))
			}
			if r := log[0]; !slices.Equal(r.Categories, []string{"browsing"}) || !slices.Equal(r.Withheld, []string{"purchases"}) || r.Records != 2 {
				t.Errorf("access record: categories %v, withheld %v, %d records; want browsing, purchases, 2", r.Categories, r.Withheld, r.Records)
			}
		})
	}
}
