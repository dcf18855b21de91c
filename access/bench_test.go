package access_test

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime/debug"
	"slices"
	"testing"
	"time"

	"github.com/symbiont/symbiont"
	"github.com/symbiont/symbiont/access"
	"github.com/symbiont/symbiont/consent"
	"github.com/symbiont/symbiont/identity"
	"github.com/symbiont/symbiont/platform"
	"github.com/symbiont/symbiont/segment"
	"github.com/symbiont/symbiont/store"
	"github.com/symbiont/symbiont/store/storetest"
)

// BenchmarkPurposeBoundRead reads a consumer holding 1,000 events (about 300 bytes each) for a
// purpose, through the one door: consent decision, read, decrypt, access record committed in
// the same transaction. It reports the p50 and p99 latency of one read.
func BenchmarkPurposeBoundRead(b *testing.B) {
	// `symbiont serve` runs with GOGC=400 (cmd/symbiont); measure under the same setting.
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	b.Run("sqlite", func(b *testing.B) { benchmarkRead(b, platform.Config{}) })
	b.Run("postgres", func(b *testing.B) { benchmarkRead(b, platform.Config{PostgresDSN: storetest.PostgresDSN(b)}) })
}

func benchmarkRead(b *testing.B, cfg platform.Config) {
	ctx := context.Background()
	p, brand := openBrand(b, cfg, `{"events":{"Order Completed":"purchases","Page Viewed":"browsing"}}`)
	actor := symbiont.Actor{Kind: symbiont.ActorBrand, BrandID: brand, KeyID: "bench"}
	// The reader and a neighbour with data of their own, so the index has more than one consumer.
	for _, user := range []string{"reader", "neighbour"} {
		for _, cat := range []string{"purchases", "browsing"} {
			if _, err := p.Consent.Apply(ctx, []*consent.Change{{BrandID: brand, Consumer: consent.ConsumerRef{Kind: identity.KindUserID, Value: user},
				Category: cat, Purpose: "personalization", State: consent.StateGiven, Actor: actor, Method: consent.MethodBrand}}, ""); err != nil {
				b.Fatal(err)
			}
		}
		for batch := 0; batch < 10; batch++ {
			var msgs []map[string]any
			for i := 0; i < 100; i++ {
				ev := "Order Completed"
				if i%4 == 0 {
					ev = "Page Viewed"
				}
				msgs = append(msgs, map[string]any{"type": "track", "userId": user, "event": ev, "messageId": fmt.Sprintf("%s-%d-%d", user, batch, i),
					"timestamp": "2026-11-01T08:00:00Z", "properties": map[string]any{"sku": fmt.Sprintf("SKU-%06d", i), "revenue": 99.5, "currency": "USD",
						"hotel": "Aurora Shanghai Bund", "nights": 3}, "context": map[string]any{"library": map[string]any{"name": "bench", "version": "1"}}})
			}
			body, _ := json.Marshal(map[string]any{"batch": msgs})
			bt, err := segment.ParseBatch(body)
			if err != nil {
				b.Fatal(err)
			}
			if res, err := p.Ingest.Ingest(ctx, brand, bt, false, actor); err != nil || res.Accepted != 100 {
				b.Fatalf("ingest: %v %+v", err, res)
			}
		}
	}
	var cid int64
	p.Store.View(ctx, func(tx store.Tx) (err error) {
		cid, _, err = p.Graph.Resolve(ctx, tx, brand, identity.KindUserID, "reader", false, time.Now())
		return err
	})
	req := access.Request{BrandID: brand, ConsumerID: cid, Purpose: "personalization", Actor: actor}
	var lat []time.Duration
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		d, err := p.Access.Read(ctx, req)
		lat = append(lat, time.Since(start))
		if err != nil || len(d.Data["purchases"])+len(d.Data["browsing"]) != 1000 {
			b.Fatalf("read: %v", err)
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
