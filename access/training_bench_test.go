package access_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime/pprof"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/symbiont/symbiont"
	"github.com/symbiont/symbiont/access"
	"github.com/symbiont/symbiont/consent"
	"github.com/symbiont/symbiont/identity"
	"github.com/symbiont/symbiont/platform"
	"github.com/symbiont/symbiont/segment"
	"github.com/symbiont/symbiont/store/storetest"
)

// BenchmarkTrainingRead100K: a training read over 100,000 consumers who granted purchases for
// model_training, 2 events each: the snapshot, the record (100,000 access records and ledger
// entries, in batches of 1,000 consumers) and the opening. The floor is the record:
// well under a second for 100,000 consumers. On SQLite; TRAIN_ENGINE=postgres runs it on
// PostgreSQL (SYMBIONT_TEST_POSTGRES).
func BenchmarkTrainingRead100K(b *testing.B) {
	ctx := context.Background()
	cfg := platform.Config{}
	if os.Getenv("TRAIN_ENGINE") == "postgres" {
		cfg.PostgresDSN = storetest.PostgresDSN(b)
	}
	p, brand := openBrand(b, cfg, `{"events":{"Order Completed":"purchases"}}`)
	actor := symbiont.Actor{Kind: symbiont.ActorSystem, BrandID: brand, KeyID: "bench"}
	const consumers = 100_000
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	errs := make(chan error, 1)
	for from := 0; from < consumers; from += 50 {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			var msgs []map[string]any
			for i := from; i < from+50; i++ {
				u := fmt.Sprintf("u%06d", i)
				var changes []*consent.Change
				for _, purpose := range []string{"personalization", "model_training"} {
					changes = append(changes, &consent.Change{BrandID: brand, Consumer: consent.ConsumerRef{Kind: identity.KindUserID, Value: u},
						Category: "purchases", Purpose: purpose, State: consent.StateGiven, Actor: actor, Method: consent.MethodBrand})
				}
				if _, err := p.Consent.Apply(ctx, changes, ""); err != nil {
					select {
					case errs <- err:
					default:
					}
					return
				}
				for j := range 2 {
					msgs = append(msgs, map[string]any{"type": "track", "userId": u, "event": "Order Completed", "messageId": fmt.Sprint(u, "-", j),
						"timestamp": "2026-11-01T08:00:00Z", "properties": map[string]any{"item": fmt.Sprint("room:", (i*7+j)%500)}})
				}
			}
			body, _ := json.Marshal(map[string]any{"batch": msgs})
			bt, _ := segment.ParseBatch(body)
			if _, err := p.Ingest.Ingest(ctx, brand, bt, false, actor); err != nil {
				select {
				case errs <- err:
				default:
				}
			}
		})
	}
	wg.Wait()
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}
	batchSize := 1000
	if v := os.Getenv("TRAIN_BATCH"); v != "" {
		batchSize, _ = strconv.Atoi(v)
	}
	if f := os.Getenv("TRAIN_PROFILE"); f != "" { // the training read alone
		out, err := os.Create(f)
		if err != nil {
			b.Fatal(err)
		}
		pprof.StartCPUProfile(out)
		defer pprof.StopCPUProfile()
	}
	// With -benchtime Nx the read runs N times over the one data set (each a new model version,
	// so each consumer's chain grows by one entry a run) and the metrics are the medians of the
	// runs: on PostgreSQL, whose setup takes ~10 minutes, that is how five runs fit.
	var snapshot, record, open []float64
	median := func(v []float64) float64 {
		v = slices.Clone(v)
		slices.Sort(v)
		return v[len(v)/2]
	}
	n := 0
	for b.Loop() {
		n++
		res, err := p.Access.Train(ctx, access.Training{BrandID: brand, Model: fmt.Sprint("recs-bench-", n), Categories: []string{"purchases"}, Actor: actor, Batch: batchSize},
			func(*access.TrainingData) error { return nil })
		if err != nil {
			b.Fatal(err)
		}
		if res.Consumers != consumers || res.Events != 2*consumers {
			b.Fatalf("%+v", res)
		}
		snapshot, record, open = append(snapshot, res.Snapshot.Seconds()), append(record, res.Record.Seconds()), append(open, res.Open.Seconds())
		if n > 1 {
			b.Logf("run %d: snapshot %.3f s, record %.3f s, open %.3f s", n, res.Snapshot.Seconds(), res.Record.Seconds(), res.Open.Seconds())
		}
	}
	if n > 1 {
		b.Logf("run 1: snapshot %.3f s, record %.3f s, open %.3f s", snapshot[0], record[0], open[0])
	}
	b.ReportMetric(median(snapshot), "snapshot-s")
	b.ReportMetric(median(record), "record-s")
	b.ReportMetric(median(open), "open-s")
}
