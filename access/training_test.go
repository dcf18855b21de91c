package access_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/symbiont/symbiont"
	"github.com/symbiont/symbiont/access"
	"github.com/symbiont/symbiont/consent"
	"github.com/symbiont/symbiont/identity"
	"github.com/symbiont/symbiont/ledger"
)

// A training read hands over the data of exactly the consumers who granted model_training, in
// the categories they granted it for (personalization alone is not enough); it records one
// access ("train", naming the model) per consumer in their ledger chain; a consumer who
// withdraws between the snapshot and the record is left out; and a read after a withdrawal
// leaves the consumer out of the next model.
func TestTrainingRead(t *testing.T) {
	for _, eng := range engines {
		t.Run(eng.name, func(t *testing.T) {
			ctx := context.Background()
			p, brand := openBrand(t, eng.cfg(t), `{"events":{"Order Completed":"purchases","Page Viewed":"browsing"}}`)
			actor := symbiont.Actor{Kind: symbiont.ActorSystem, BrandID: brand, KeyID: "recommendations"}
			apply := func(user, cat, purpose, state string) {
				t.Helper()
				if _, err := p.Consent.Apply(ctx, []*consent.Change{{BrandID: brand, Consumer: consent.ConsumerRef{Kind: identity.KindUserID, Value: user},
					Category: cat, Purpose: purpose, State: state, Actor: actor, Method: consent.MethodBrand}}, ""); err != nil {
					t.Fatal(err)
				}
			}
			// ann: both categories for training; bob: purchases only; cai: personalization only;
			// dee: both for training and for personalization (events need an admitting grant).
			for _, g := range [][3]string{{"ann", "purchases", "model_training"}, {"ann", "browsing", "model_training"},
				{"bob", "purchases", "model_training"}, {"cai", "purchases", "personalization"},
				{"dee", "purchases", "model_training"}, {"dee", "browsing", "personalization"}} {
				apply(g[0], g[1], g[2], consent.StateGiven)
			}
			var msgs []map[string]any
			for _, u := range []string{"ann", "bob", "cai", "dee"} {
				for i := range 3 {
					msgs = append(msgs, map[string]any{"type": "track", "userId": u, "event": []string{"Order Completed", "Page Viewed"}[i%2],
						"messageId": fmt.Sprint(u, i), "timestamp": "2026-11-01T08:00:00Z", "properties": map[string]any{"item": fmt.Sprint("room:", i)}})
				}
			}
			ingestAll(t, p, brand, actor, msgs)
			id := func(u string) int64 {
				c, err := p.Directory.Consumer(ctx, brand, identity.KindUserID, u)
				if err != nil || c == 0 {
					t.Fatalf("consumer %s: %d %v", u, c, err)
				}
				return c
			}
			train := func(model string) (map[int64]*access.TrainingData, *access.TrainingResult) {
				t.Helper()
				got := map[int64]*access.TrainingData{}
				res, err := p.Access.Train(ctx, access.Training{BrandID: brand, Model: model, Categories: []string{"purchases", "browsing"}, Actor: actor, Batch: 2},
					func(d *access.TrainingData) error { got[d.ConsumerID] = d; return nil })
				if err != nil {
					t.Fatal(err)
				}
				return got, res
			}
			got, res := train("recs-v1")
			if res.Consumers != 3 || len(got) != 3 {
				t.Fatalf("%+v: want ann, bob and dee", res)
			}
			if _, ok := got[id("cai")]; ok {
				t.Error("cai granted personalization only, and was read for training")
			}
			if d := got[id("ann")]; !slices.Equal(d.Categories, []string{"browsing", "purchases"}) || len(d.Events) != 3 {
				t.Errorf("ann: %v, %d events; want both categories, 3 events", d.Categories, len(d.Events))
			}
			for _, u := range []string{"bob", "dee"} {
				d := got[id(u)]
				for _, e := range d.Events {
					if e.Category != "purchases" || !json.Valid(e.Message) {
						t.Errorf("%s: an event of %s (or not JSON) in a read of purchases only: %s", u, e.Category, e.Message)
					}
				}
				if !slices.Equal(d.Categories, []string{"purchases"}) || len(d.Events) != 2 {
					t.Errorf("%s: %v, %d events; want purchases, 2 events", u, d.Categories, len(d.Events))
				}
			}
			// Recorded: one access per consumer, with its ledger entry naming the model, in
			// their proof document with an inclusion proof against its signed checkpoint.
			for {
				n, err := p.Ledger.Integrate(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if n == 0 {
					break
				}
			}
			for _, u := range []string{"ann", "bob", "dee"} {
				log, err := p.Access.Log(ctx, brand, id(u), 10)
				if err != nil {
					t.Fatal(err)
				}
				if len(log) != 1 || log[0].Action != "train" || log[0].Purpose != access.PurposeTraining {
					t.Errorf("%s's access log: %+v", u, log)
				}
				doc, err := p.Access.ProofDocument(ctx, brand, id(u))
				if err != nil {
					t.Fatal(err)
				}
				if b, _ := json.Marshal(doc); !json.Valid(b) || !containsAll(string(b), `access.train`, `recs-v1`) {
					t.Errorf("%s's proof document does not show the training of recs-v1: %s", u, b)
				}
				cp, err := ledger.OpenCheckpoint([]byte(doc.Log.Checkpoint), doc.Log.Key)
				if err != nil {
					t.Fatal(err)
				}
				trained := 0
				for _, x := range doc.Records {
					if x.Kind != "access.train" {
						continue
					}
					trained++
					if x.Pending || x.Index == nil {
						t.Errorf("%s's training entry is not integrated: %+v", u, x)
					} else if err := x.Check(doc.Log.Origin, cp); err != nil {
						t.Errorf("%s's training entry does not verify against the checkpoint: %v", u, err)
					}
				}
				if trained != 1 {
					t.Errorf("%s's proof document has %d training entries, want 1", u, trained)
				}
				ex, err := p.Access.Export(ctx, access.ExportBrand{}, brand, id(u), actor, "")
				if err != nil {
					t.Fatal(err)
				}
				if b, _ := json.Marshal(ex); !containsAll(string(b), `"train"`, `model_training`) {
					t.Errorf("%s's export does not list the training read: %s", u, b)
				}
			}
			if log, _ := p.Access.Log(ctx, brand, id("cai"), 10); len(log) != 0 {
				t.Errorf("cai has access records: %+v", log)
			}

			// ann withdraws browsing between the snapshot and the record: her browsing events
			// are left out, fail closed, and the record says purchases only.
			hs := &hookedStore{Store: p.Store}
			svc := access.NewService(hs, p.Consent, p.Graph, p.Vault, p.Ledger, symbiont.SystemClock{})
			hs.after = func() { apply("ann", "browsing", "model_training", consent.StateWithdrawn) }
			var annData *access.TrainingData
			if _, err := svc.Train(ctx, access.Training{BrandID: brand, Model: "recs-v1b", Categories: []string{"purchases", "browsing"}, Actor: actor},
				func(d *access.TrainingData) error {
					if d.ConsumerID == id("ann") {
						annData = d
					}
					return nil
				}); err != nil {
				t.Fatal(err)
			}
			if annData == nil || !slices.Equal(annData.Categories, []string{"purchases"}) || len(annData.Events) != 2 {
				t.Errorf("ann after withdrawing browsing mid-read: %+v, want purchases only (2 events)", annData)
			}
			for _, e := range annData.Events {
				if e.Category != "purchases" {
					t.Errorf("ann's withdrawn %s event was handed over", e.Category)
				}
			}

			// bob withdraws: the next model is trained without him.
			apply("bob", "purchases", "model_training", consent.StateWithdrawn)
			got, res = train("recs-v2")
			if _, ok := got[id("bob")]; ok || res.Consumers != 2 {
				t.Errorf("after bob's withdrawal: %+v, bob read: %v", res, ok)
			}

			// fn fails on the first consumer: the read stops with its error; the batch recorded
			// ahead (one consumer a batch here) may be recorded, nothing after it.
			stop := fmt.Errorf("model training failed")
			res, err := p.Access.Train(ctx, access.Training{BrandID: brand, Model: "recs-v3", Categories: []string{"purchases", "browsing"}, Actor: actor, Batch: 1},
				func(*access.TrainingData) error { return stop })
			if err != stop || res.Consumers != 1 {
				t.Errorf("a failing fn: %+v, %v; want it stopped at the first consumer with its error", res, err)
			}
			recorded := 0
			for _, u := range []string{"ann", "dee"} {
				log, _ := p.Access.Log(ctx, brand, id(u), 1)
				if len(log) == 1 && log[0].At.After(time.Time{}) {
					if doc, _ := p.Access.ProofDocument(ctx, brand, id(u)); doc != nil {
						b, _ := json.Marshal(doc)
						if strings.Contains(string(b), "recs-v3") {
							recorded++
						}
					}
				}
			}
			if recorded < 1 || recorded > 2 {
				t.Errorf("%d consumers recorded for recs-v3, want the one handed over and at most the one ahead", recorded)
			}
		})
	}
}
func containsAll(s string, subs ...string) bool {
	for _, x := range subs {
		if !strings.Contains(s, x) {
			return false
		}
	}
	return true
}
