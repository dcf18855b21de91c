package rewards_test

import (
	"context"
	"testing"

	"github.com/symbiont/symbiont"
	"github.com/symbiont/symbiont/consent"
	"github.com/symbiont/symbiont/identity"
	"github.com/symbiont/symbiont/platform"
	"github.com/symbiont/symbiont/rewards"
	"github.com/symbiont/symbiont/store"
)

// TestGrantsAfterFirstRateCard checks the consent changes of a brand that had no rate card
// (which the single writer then skips, see Service.cardless) against a card put later: a
// change after it starts, renews and ends paid grants as for a brand that always had one.
func TestGrantsAfterFirstRateCard(t *testing.T) {
	ctx := context.Background()
	p, err := platform.Open(ctx, platform.Config{DataDir: t.TempDir(), AdminToken: "test-admin-token-0123456789", ExpiryInterval: -1,
		AccrualInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	nb, err := p.Tenants.CreateBrand(ctx, "Cardless")
	if err != nil {
		t.Fatal(err)
	}
	brand := nb.Brand.ID
	actor := symbiont.Actor{Kind: symbiont.ActorBrand, BrandID: brand, KeyID: "test"}
	change := func(user, state string) int64 {
		t.Helper()
		res, err := p.Consent.Apply(ctx, []*consent.Change{{BrandID: brand, Consumer: consent.ConsumerRef{Kind: identity.KindUserID, Value: user},
			Category: "purchases", Purpose: "personalization", State: state, Actor: actor, Method: consent.MethodBrand}}, "")
		if err != nil || len(res) != 1 {
			t.Fatalf("%s %s: %v", user, state, err)
		}
		return res[0].ConsumerID
	}
	latest := func(consumer int64) *rewards.Grant {
		t.Helper()
		var g *rewards.Grant
		if err := p.Store.View(ctx, func(tx store.Tx) (err error) {
			g, err = tx.(rewards.Tx).LatestGrant(ctx, consumer, "purchases", "personalization")
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return g
	}
	tests := []struct {
		name  string
		user  string
		state string
		card  bool // put the brand's first rate card before the change
		want  bool // a grant is expected
		open  bool // and it is still running
	}{
		{"no card, grant", "u1", consent.StateGiven, false, false, false},
		{"no card, withdrawal", "u1", consent.StateWithdrawn, false, false, false},
		{"first card, grant", "u1", consent.StateGiven, true, true, true},
		{"another consumer", "u2", consent.StateGiven, false, true, true},
		{"withdrawal ends it", "u1", consent.StateWithdrawn, false, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.card {
				if _, err := p.Rewards.PutRateCard(ctx, brand, []byte(`{"rates":[{"category":"purchases","purpose":"personalization","points_per_30_days":40}]}`)); err != nil {
					t.Fatal(err)
				}
			}
			id := change(tt.user, tt.state)
			g := latest(id)
			if (g != nil) != tt.want {
				t.Fatalf("grant %+v, want one: %v", g, tt.want)
			}
			if g != nil && g.Ended.IsZero() != tt.open {
				t.Fatalf("grant ended %v, want running: %v", g.Ended, tt.open)
			}
		})
	}
}
