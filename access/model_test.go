package access_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/symbiont/symbiont"
	"github.com/symbiont/symbiont/access"
	"github.com/symbiont/symbiont/consent"
	"github.com/symbiont/symbiont/identity"
	"github.com/symbiont/symbiont/recommendation"
)

// The withdrawal test: a model trained, through the one door, after a consumer withdrew
// model_training gives exactly the scores of a model trained on a store that never had that
// consumer at all.
func TestModelAfterWithdrawalIsModelWithout(t *testing.T) {
	items := []string{"room:a", "room:b", "spa:c", "dining:d", "package:e", "room:f"}
	// Who bought what: zoe is the one who withdraws.
	bought := map[string][]string{"ann": {"room:a", "spa:c"}, "bob": {"room:a", "room:b", "spa:c"}, "cai": {"room:b", "dining:d"},
		"dee": {"spa:c", "dining:d", "package:e"}, "zoe": {"room:a", "package:e", "room:f"}}
	order := []string{"ann", "bob", "cai", "dee", "zoe"}
	model := func(t *testing.T, users []string, withdraw string) *recommendation.EASE {
		ctx := context.Background()
		p, brand := openBrand(t, engines[0].cfg(t), `{"events":{"Order Completed":"purchases"}}`)
		actor := symbiont.Actor{Kind: symbiont.ActorSystem, BrandID: brand, KeyID: "recommendations"}
		var msgs []map[string]any
		for _, u := range users {
			for _, purpose := range []string{"personalization", "model_training"} {
				if _, err := p.Consent.Apply(ctx, []*consent.Change{{BrandID: brand, Consumer: consent.ConsumerRef{Kind: identity.KindUserID, Value: u},
					Category: "purchases", Purpose: purpose, State: consent.StateGiven, Actor: actor, Method: consent.MethodBrand}}, ""); err != nil {
					t.Fatal(err)
				}
			}
			for i, it := range bought[u] {
				msgs = append(msgs, map[string]any{"type": "track", "userId": u, "event": "Order Completed", "messageId": fmt.Sprint(u, i),
					"timestamp": "2026-11-01T08:00:00Z", "properties": map[string]any{"products": []map[string]any{{"product_id": it}}}})
			}
		}
		ingestAll(t, p, brand, actor, msgs)
		if withdraw != "" {
			if _, err := p.Consent.Apply(ctx, []*consent.Change{{BrandID: brand, Consumer: consent.ConsumerRef{Kind: identity.KindUserID, Value: withdraw},
				Category: "purchases", Purpose: "model_training", State: consent.StateWithdrawn, Actor: actor, Method: consent.MethodBrand}}, ""); err != nil {
				t.Fatal(err)
			}
		}
		b := recommendation.NewBuilder(recommendation.DefaultEventKinds, items)
		if _, err := p.Access.Train(ctx, access.Training{BrandID: brand, Model: "recs-v1", Categories: []string{"purchases"}, Actor: actor},
			func(d *access.TrainingData) error {
				var ms [][]byte
				for _, e := range d.Events {
					ms = append(ms, e.Message)
				}
				b.Add(d.ConsumerID, ms)
				return nil
			}); err != nil {
			t.Fatal(err)
		}
		m, err := recommendation.TrainEASE(b.Interactions(), 1)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	after := model(t, order, "zoe")
	without := model(t, order[:4], "")
	with := model(t, order, "")
	score := func(m *recommendation.EASE, history []int) []float64 {
		out := make([]float64, len(items))
		m.Score(history, out)
		return out
	}
	for _, h := range [][]int{{0}, {1, 2}, {3}, {4}, {0, 5}} {
		if a, w := score(after, h), score(without, h); !slices.Equal(a, w) {
			t.Errorf("history %v: after withdrawal %v, without the consumer %v: want the same", h, a, w)
		}
	}
	if slices.Equal(score(with, []int{0}), score(without, []int{0})) {
		t.Error("the consumer's data changes nothing even when granted: the test proves nothing")
	}
}
