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
	p, brand := fixture(t)
	dir := filepath.Join(t.TempDir(), "models")
	s := recommender.NewService(p.Access, p.Catalog, dir, symbiont.SystemClock{}, slog.New(slog.DiscardHandler))
	if s.Current(brand) != nil {
		t.Fatal("a model before any training")
	}
	r1, err := s.Train(ctx, brand)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := s.Train(ctx, brand)
	if err != nil {
		t.Fatal(err)
	}
	if r1.Version != "recs-v1" || r2.Version != "recs-v2" || r2.Consumers != 12 || r2.Items != 10 {
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
	a, b := make([]float64, 10), make([]float64, 10)
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
	r3, err := s.Train(ctx, brand)
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

// fixture is a brand with 8 rooms bought in planted pairs (guests with u%4 = k buy rooms 2k
// and 2k+1), 2 spa treatments, and 12 guests who granted purchases for personalization and
// model_training.
func fixture(t *testing.T) (*platform.Platform, int64) {
	t.Helper()
	p, err := platform.Open(context.Background(), platform.Config{DataDir: t.TempDir(), AdminToken: "test-admin-token-0123456789", ExpiryInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p, seed(t, p, "Test")
}

// seed makes a brand of the fixture in p.
func seed(t *testing.T, p *platform.Platform, name string) int64 {
	t.Helper()
	ctx := context.Background()
	nb, err := p.Tenants.CreateBrand(ctx, name)
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
	items = append(items, &catalog.Item{ID: "spa:0", Title: "Massage", Category: "spa"}, &catalog.Item{ID: "spa:1", Title: "Sauna", Category: "spa"})
	if _, err := p.Catalog.PutBatch(ctx, brand, items); err != nil {
		t.Fatal(err)
	}
	var msgs []map[string]any
	for u := range 12 {
		user := fmt.Sprint("guest-", u)
		for _, purpose := range []string{"personalization", "model_training"} {
			setConsent(t, p, brand, user, "purchases", purpose, consent.StateGiven)
		}
		for j := range 3 {
			msgs = append(msgs, purchase(user, fmt.Sprint(user, j), fmt.Sprint("room:", (u%4)*2+j%2)))
		}
	}
	ingest(t, p, brand, msgs...)
	return brand
}

var testActor = func(brand int64) symbiont.Actor {
	return symbiont.Actor{Kind: symbiont.ActorBrand, BrandID: brand, KeyID: "test"}
}

func setConsent(t *testing.T, p *platform.Platform, brand int64, user, category, purpose, state string) {
	t.Helper()
	if _, err := p.Consent.Apply(context.Background(), []*consent.Change{{BrandID: brand, Consumer: consent.ConsumerRef{Kind: identity.KindUserID, Value: user},
		Category: category, Purpose: purpose, State: state, Actor: testActor(brand), Method: consent.MethodBrand}}, ""); err != nil {
		t.Fatal(err)
	}
}

func purchase(user, id, item string) map[string]any {
	return map[string]any{"type": "track", "userId": user, "event": "Order Completed", "messageId": id,
		"timestamp": "2026-11-01T08:00:00Z", "properties": map[string]any{"product_id": item}}
}

func ingest(t *testing.T, p *platform.Platform, brand int64, msgs ...map[string]any) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"batch": msgs})
	bt, err := segment.ParseBatch(body)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Ingest.Ingest(context.Background(), brand, bt, false, testActor(brand)); err != nil {
		t.Fatal(err)
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

// A consumer who withdraws model_training is absent from the next model: it scores exactly as
// a model of a brand where they never were (the same catalogue and the same other consumers),
// while the model before the withdrawal did not.
func TestWithdrawalLeavesTheNextModel(t *testing.T) {
	ctx := context.Background()
	p, with := fixture(t)
	without := seed(t, p, "Without the leaver")
	// The leaver buys across the planted pairs, so that their data changes the model.
	setConsent(t, p, with, "leaver", "purchases", "model_training", consent.StateGiven)
	ingest(t, p, with, purchase("leaver", "l1", "room:0"), purchase("leaver", "l2", "room:3"), purchase("leaver", "l3", "spa:0"))
	s := recommender.NewService(p.Access, p.Catalog, filepath.Join(t.TempDir(), "models"), symbiont.SystemClock{}, slog.New(slog.DiscardHandler))
	for _, b := range []int64{with, without} {
		if _, err := s.Train(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	scores := func(brand int64, history ...string) []float64 {
		out := make([]float64, 10)
		s.Current(brand).Score(history, out)
		return out
	}
	histories := [][]string{{"room:0"}, {"room:3"}, {"spa:0"}, {"room:0", "room:6"}}
	differs := false
	for _, h := range histories {
		differs = differs || !slices.Equal(scores(with, h...), scores(without, h...))
	}
	if !differs {
		t.Fatal("the leaver's data did not change the model: the test shows nothing")
	}
	setConsent(t, p, with, "leaver", "purchases", "model_training", consent.StateWithdrawn)
	r, err := s.Train(ctx, with)
	if err != nil {
		t.Fatal(err)
	}
	if r.Version != "recs-v2" || r.Consumers != 12 {
		t.Fatalf("the training after the withdrawal: %+v, want recs-v2 over the 12 others", r)
	}
	for _, h := range histories {
		if a, b := scores(with, h...), scores(without, h...); !slices.Equal(a, b) {
			t.Errorf("history %v: after the withdrawal %v, never there %v", h, a, b)
		}
	}
	// The withdrawn consumer's ledger has the first training, not the second.
	log, err := p.Access.Log(ctx, with, mustConsumer(t, p, with, "leaver"), 10)
	if err != nil {
		t.Fatal(err)
	}
	trainings := 0
	for _, r := range log {
		if r.Action == "train" {
			trainings++
		}
	}
	if trainings != 1 {
		t.Errorf("the leaver's access log has %d trainings, want 1 (before the withdrawal): %+v", trainings, log)
	}
}
