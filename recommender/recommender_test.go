package recommender_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/symbiont/symbiont"
	"github.com/symbiont/symbiont/catalog"
	"github.com/symbiont/symbiont/consent"
	"github.com/symbiont/symbiont/identity"
	"github.com/symbiont/symbiont/platform"
	"github.com/symbiont/symbiont/recommender"
	"github.com/symbiont/symbiont/segment"
)

// A training reads through the one door, writes a versioned model file and serves it; the next
// training is the next version; a new service over the same directory (a restart) serves the
// newest version with the same scores.
func TestTrainSaveLoad(t *testing.T) {
	ctx := context.Background()
	p, err := platform.Open(ctx, platform.Config{DataDir: t.TempDir(), AdminToken: "test-admin-token-0123456789", ExpiryInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	nb, err := p.Tenants.CreateBrand(ctx, "Test")
	if err != nil {
		t.Fatal(err)
	}
	brand := nb.Brand.ID
	if _, err := p.Ingest.PutPlan(ctx, brand, []byte(`{"events":{"Order Completed":"purchases","Product Viewed":"browsing"}}`)); err != nil {
		t.Fatal(err)
	}
	var items []*catalog.Item
	for i := range 8 {
		items = append(items, &catalog.Item{ID: fmt.Sprint("room:", i), Title: fmt.Sprint("Room ", i), Category: "rooms"})
	}
	if _, err := p.Catalog.PutBatch(ctx, brand, items); err != nil {
		t.Fatal(err)
	}
	actor := symbiont.Actor{Kind: symbiont.ActorBrand, BrandID: brand, KeyID: "test"}
	var msgs []map[string]any
	for u := range 12 {
		user := fmt.Sprint("guest-", u)
		for _, purpose := range []string{"personalization", "model_training"} {
			if _, err := p.Consent.Apply(ctx, []*consent.Change{{BrandID: brand, Consumer: consent.ConsumerRef{Kind: identity.KindUserID, Value: user},
				Category: "purchases", Purpose: purpose, State: consent.StateGiven, Actor: actor, Method: consent.MethodBrand}}, ""); err != nil {
				t.Fatal(err)
			}
		}
		for j := range 3 {
			msgs = append(msgs, map[string]any{"type": "track", "userId": user, "event": "Order Completed", "messageId": fmt.Sprint(user, j),
				"timestamp": "2026-11-01T08:00:00Z", "properties": map[string]any{"product_id": fmt.Sprint("room:", (u%4)*2+j%2)}})
		}
	}
	body, _ := json.Marshal(map[string]any{"batch": msgs})
	bt, _ := segment.ParseBatch(body)
	if _, err := p.Ingest.Ingest(ctx, brand, bt, false, actor); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "models")
	s := recommender.NewService(p.Access, p.Catalog, dir, symbiont.SystemClock{}, slog.New(slog.DiscardHandler))
	if s.Current(brand) != nil {
		t.Fatal("a model before any training")
	}
	r1, err := s.Train(ctx, brand, nil)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := s.Train(ctx, brand, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r1.Version != "recs-v1" || r2.Version != "recs-v2" || r2.Consumers != 12 || r2.Items != 8 {
		t.Fatalf("trainings %+v, %+v", r1, r2)
	}
	if _, err := os.Stat(filepath.Join(dir, fmt.Sprint(brand), "recs-v2.model")); err != nil {
		t.Fatal(err)
	}
	cur := s.Current(brand)
	if cur == nil || cur.Meta.Version != "recs-v2" {
		t.Fatalf("serving %+v, want recs-v2", cur)
	}
	restarted := recommender.NewService(p.Access, p.Catalog, dir, symbiont.SystemClock{}, slog.New(slog.DiscardHandler))
	if n, err := restarted.Load(); err != nil || n != 1 {
		t.Fatalf("Load: %d, %v", n, err)
	}
	a, b := make([]float64, 8), make([]float64, 8)
	cur.Score([]string{"room:0"}, a)
	restarted.Current(brand).Score([]string{"room:0", "unknown"}, b)
	if !slices.Equal(a, b) || restarted.Current(brand).Meta.Version != "recs-v2" {
		t.Errorf("after a restart: %s scores %v, before %v", restarted.Current(brand).Meta.Version, b, a)
	}
	// Room 1 is bought with room 0 (the planted pairs): it scores above the rest.
	if top := slices.Index(a, slices.Max(a)); top != 1 {
		t.Errorf("for a room-0 buyer the best item is %d (%v), want room 1", top, a)
	}
	// The training is in each consumer's ledger under its version.
	log, err := p.Access.Log(ctx, brand, mustConsumer(t, p, brand, "guest-0"), 10)
	if err != nil || len(log) != 2 || log[0].Action != "train" {
		t.Errorf("guest-0's access log after two trainings: %+v %v", log, err)
	}
	// A catalogue above EASEItems is trained with ALS, which serves and survives a restart
	// the same way.
	s.EASEItems = 4
	r3, err := s.Train(ctx, brand, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r1.Kind != "ease" || r3.Kind != "als" || s.Current(brand).Meta.Kind != "als" {
		t.Fatalf("kinds %s, %s (serving %s), want ease, als", r1.Kind, r3.Kind, s.Current(brand).Meta.Kind)
	}
	restarted = recommender.NewService(p.Access, p.Catalog, dir, symbiont.SystemClock{}, slog.New(slog.DiscardHandler))
	if n, err := restarted.Load(); err != nil || n != 1 || restarted.Current(brand).Meta.Version != "recs-v3" {
		t.Fatalf("Load after ALS: %d, %v", n, err)
	}
	s.Current(brand).Score([]string{"room:0"}, a)
	restarted.Current(brand).Score([]string{"room:0"}, b)
	if !slices.Equal(a, b) {
		t.Errorf("ALS after a restart scores %v, before %v", b, a)
	}
	a[0] = math.Inf(-1) // the history's own item scores high in a factor model: not a recommendation
	if top := slices.Index(a, slices.Max(a)); top != 1 {
		t.Errorf("ALS: for a room-0 buyer the best other item is %d (%v), want room 1", top, a)
	}
}

func mustConsumer(t *testing.T, p *platform.Platform, brand int64, user string) int64 {
	t.Helper()
	c, err := p.Directory.Consumer(context.Background(), brand, identity.KindUserID, user)
	if err != nil || c == 0 {
		t.Fatalf("consumer %s: %d %v", user, c, err)
	}
	return c
}
