package access_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/symbiont/symbiont"
	"github.com/symbiont/symbiont/platform"
	"github.com/symbiont/symbiont/segment"
	"github.com/symbiont/symbiont/store/storetest"
)

// engines are the stores the access tests run on.
var engines = []struct {
	name string
	cfg  func(tb testing.TB) platform.Config
}{
	{"sqlite", func(testing.TB) platform.Config { return platform.Config{} }},
	{"postgres", func(tb testing.TB) platform.Config { return platform.Config{PostgresDSN: storetest.PostgresDSN(tb)} }},
}

// openBrand opens a platform on cfg (in a fresh data directory, without the expiry sweep) with
// one brand whose tracking plan is plan, and closes it when tb ends.
func openBrand(tb testing.TB, cfg platform.Config, plan string) (*platform.Platform, int64) {
	tb.Helper()
	ctx := context.Background()
	cfg.DataDir, cfg.AdminToken, cfg.ExpiryInterval = tb.TempDir(), "test-admin-token-0123456789", -1
	p, err := platform.Open(ctx, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { p.Close() })
	nb, err := p.Tenants.CreateBrand(ctx, "Test")
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := p.Ingest.PutPlan(ctx, nb.Brand.ID, []byte(plan)); err != nil {
		tb.Fatal(err)
	}
	return p, nb.Brand.ID
}

// ingestAll sends the messages as one batch through ingestion.
func ingestAll(tb testing.TB, p *platform.Platform, brand int64, actor symbiont.Actor, msgs []map[string]any) {
	tb.Helper()
	body, _ := json.Marshal(map[string]any{"batch": msgs})
	bt, err := segment.ParseBatch(body)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := p.Ingest.Ingest(context.Background(), brand, bt, false, actor); err != nil {
		tb.Fatal(err)
	}
}
