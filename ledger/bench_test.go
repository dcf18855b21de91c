package ledger_test

// Benchmarks of the verifiable ledger (issue 3). They run only with -bench; see the "Ledger"
// section of docs/benchmarks.md for the figures and the exact commands.
//
//	BenchmarkAppend/{consent,access}/{sqlite,postgres}  appends with their recording transaction
//	BenchmarkAppend/ledger-only[,workers=1024]/…        appends alone (the comparison with Tessera)
//	BenchmarkInclusionProof1M/{cold,warm}               inclusion proofs in a 1,000,000-entry log
//	BenchmarkInclusionProof1M/{start,verify-full}       starting on it; verify --full of it
//	BenchmarkVerify10k/{export,verify-first,verify-second}  a 10,000-record proof document
//
// BenchmarkInclusionProof1M builds its log once and keeps it under
// os.UserCacheDir()/symbiont/bench-ledger-1m/<ledger1MKey> (about 540 MB); delete that
// directory to rebuild it, and bump ledger1MVersion when the store's schema or the record
// format changes.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/symbiont/symbiont"
	"github.com/symbiont/symbiont/access"
	"github.com/symbiont/symbiont/api/ledgerclient"
	"github.com/symbiont/symbiont/consent"
	"github.com/symbiont/symbiont/identity"
	"github.com/symbiont/symbiont/ledger"
	"github.com/symbiont/symbiont/platform"
	"github.com/symbiont/symbiont/segment"
	"github.com/symbiont/symbiont/store"
	"github.com/symbiont/symbiont/store/sqlite"
	"github.com/symbiont/symbiont/store/sqlstore"
	"github.com/symbiont/symbiont/store/storetest"
)

const (
	benchAdminToken = "bench-admin-token-0123456789"
	// benchWorkers is the number of concurrent callers in the append benchmarks (the same as
	// the ingestion benchmark's clients).
	benchWorkers = 32
)

// benchEnv is a running platform with one brand.
type benchEnv struct {
	p     *platform.Platform
	brand int64
	actor symbiont.Actor
}

// openBench starts the platform on cfg (a fresh data directory unless cfg.DataDir is set) and
// creates a brand unless one exists. The platform is closed when b ends.
func openBench(b *testing.B, cfg platform.Config) *benchEnv {
	b.Helper()
	ctx := context.Background()
	if cfg.DataDir == "" {
		cfg.DataDir = b.TempDir()
	}
	cfg.AdminToken, cfg.ExpiryInterval = benchAdminToken, -1
	p, err := platform.Open(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := p.Close(); err != nil {
			b.Error(err)
		}
	})
	if err := p.Ledger.Healthy(); err != nil {
		b.Fatal(err)
	}
	env := &benchEnv{p: p}
	brands, err := p.Tenants.Brands(ctx)
	if err != nil {
		b.Fatal(err)
	}
	if len(brands) > 0 {
		env.brand = brands[0].ID
	} else {
		nb, err := p.Tenants.CreateBrand(ctx, "Bench")
		if err != nil {
			b.Fatal(err)
		}
		env.brand = nb.Brand.ID
	}
	env.actor = symbiont.Actor{Kind: symbiont.ActorBrand, BrandID: env.brand, KeyID: "bench"}
	return env
}

// createConsumers creates n consumers (user ids prefix-0 … prefix-(n-1)) in one transaction
// and returns their ids.
func (e *benchEnv) createConsumers(b *testing.B, prefix string, n int) []int64 {
	b.Helper()
	ctx := context.Background()
	ids := make([]int64, n)
	err := e.p.Store.Update(ctx, func(tx store.Tx) error {
		now := time.Now()
		for i := range ids {
			id, _, err := e.p.Graph.Resolve(ctx, tx, e.brand, identity.KindUserID, fmt.Sprintf("%s-%d", prefix, i), true, now)
			if err != nil {
				return err
			}
			ids[i] = id
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return ids
}

// integrateAll integrates until nothing is pending and returns the log's size.
func integrateAll(b *testing.B, p *platform.Platform) int64 {
	b.Helper()
	for {
		n, err := p.Ledger.Integrate(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		if n == 0 {
			break
		}
	}
	cp, err := p.Ledger.Latest()
	if err != nil {
		b.Fatal(err)
	}
	if cp == nil {
		return 0
	}
	return cp.Size
}

// waitVerified waits until the background pass has verified the log up to size (so that it
// does not run inside a measurement).
func waitVerified(b *testing.B, p *platform.Platform, size int64) {
	b.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for p.Ledger.Verified() < size {
		if time.Now().After(deadline) {
			b.Fatalf("the background pass verified %d of %d entries in 2 minutes", p.Ledger.Verified(), size)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// quantile returns the q-quantile of sorted durations in milliseconds.
func quantile(sorted []time.Duration, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := min(int(float64(len(sorted))*q), len(sorted)-1)
	return float64(sorted[i].Microseconds()) / 1000
}

// runPool runs op(i) for i = 0, 1, … on workers goroutines, one call per b.Loop iteration,
// and returns the number of calls made, the wall time until the last one finished, and the
// latency of each call (sorted). It fails b on the first error.
func runPool(b *testing.B, workers int, op func(i int) error) (int, time.Duration, []time.Duration) {
	b.Helper()
	jobs := make(chan int)
	lats := make([][]time.Duration, workers)
	var wg sync.WaitGroup
	var failed atomic.Bool
	var firstErr error
	var errOnce sync.Once
	for w := range workers {
		wg.Go(func() {
			for i := range jobs {
				t0 := time.Now()
				err := op(i)
				lats[w] = append(lats[w], time.Since(t0))
				if err != nil {
					errOnce.Do(func() { firstErr = fmt.Errorf("call %d: %w", i, err) })
					failed.Store(true)
				}
			}
		})
	}
	n := 0
	start := time.Now()
	for b.Loop() {
		if failed.Load() {
			break
		}
		jobs <- n
		n++
	}
	close(jobs)
	wg.Wait()
	elapsed := time.Since(start)
	if firstErr != nil {
		b.Fatal(firstErr)
	}
	all := slices.Concat(lats...)
	slices.Sort(all)
	return n, elapsed, all
}

// reportLag reports how far integration lagged behind the appends when they stopped (entries
// appended but not yet in a checkpoint), and how long the background integrator then took to
// catch up; it fails b if the log does not reach want entries within a minute.
func reportLag(b *testing.B, p *platform.Platform, want int64) {
	b.Helper()
	size := func() int64 {
		cp, err := p.Ledger.Latest()
		if err != nil {
			b.Fatal(err)
		}
		if cp == nil {
			return 0
		}
		return cp.Size
	}
	start := time.Now()
	b.ReportMetric(float64(want-size()), "lag-entries")
	for size() < want {
		if time.Since(start) > time.Minute {
			b.Fatalf("integration did not catch up within a minute: %d of %d entries", size(), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
	b.ReportMetric(time.Since(start).Seconds(), "catchup-s")
	if got := size(); got != want {
		b.Fatalf("log has %d entries, want %d", got, want)
	}
}

// BenchmarkAppend measures ledger appends with the transaction of the act they record, through
// the platform, with 32 concurrent callers and the integrator running in the background as in
// production:
//
//   - consent: p.Consent.Apply of one change (alternately a grant and its withdrawal) for
//     10,000 existing consumers: identity lookup, current consent, signed receipt, consent
//     record and ledger entry in one transaction.
//   - access: p.Access.Read of a consumer with 5 events for a purpose: consent decision, events
//     read and decrypted, access record and ledger entry in one transaction.
//
// Each call appends exactly one entry; entries/s is calls per second of wall time.
func BenchmarkAppend(b *testing.B) {
	// `symbiont serve` runs with GOGC=400 (cmd/symbiont); measure under the same setting.
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	stores := []struct {
		name string
		cfg  func(b *testing.B) platform.Config
	}{
		{"sqlite", func(*testing.B) platform.Config { return platform.Config{} }},
		{"postgres", func(b *testing.B) platform.Config { return platform.Config{PostgresDSN: storetest.PostgresDSN(b)} }},
	}
	for _, st := range stores {
		b.Run("consent/"+st.name, func(b *testing.B) { benchmarkAppendConsent(b, st.cfg(b)) })
	}
	for _, st := range stores {
		b.Run("access/"+st.name, func(b *testing.B) { benchmarkAppendAccess(b, st.cfg(b)) })
	}
	for _, st := range stores {
		b.Run("ledger-only/"+st.name, func(b *testing.B) { benchmarkAppendLedgerOnly(b, st.cfg(b), benchWorkers) })
	}
	// Tessera is meant to be driven by many concurrent adds (BenchmarkTesseraPOSIXAppend/
	// workers=1024); the same number of callers here, for the ratio at that load.
	b.Run("ledger-only,workers=1024/sqlite", func(b *testing.B) { benchmarkAppendLedgerOnly(b, platform.Config{}, 1024) })
}

// benchmarkAppendLedgerOnly measures the ledger's own share: store transactions that do
// nothing but p.Ledger.Append (an access.read record for one of 10,000 consumers), from workers
// concurrent callers, with the same group commit and background integrator. It is no figure
// of the product (every real append has an act with it) but the like-for-like comparison with
// Tessera, whose appends record nothing else.
func benchmarkAppendLedgerOnly(b *testing.B, cfg platform.Config, workers int) {
	ctx := context.Background()
	env := openBench(b, cfg)
	ids := env.createConsumers(b, "ledger", 10000)
	// Append looks the brand's public id up through p.Tenants, whose cache a running server has
	// filled long before (every brand request goes through it). Fill it here: on a miss the
	// lookup is a read on a second pooled connection, and on PostgreSQL 32 first appends at once
	// would hold all 16 connections in their transactions while each waits for another one.
	if _, err := env.p.Tenants.Brand(ctx, env.brand); err != nil {
		b.Fatal(err)
	}
	base := integrateAll(b, env.p)
	w0 := writerStats(env.p)
	n, elapsed, lat := runPool(b, workers, func(i int) error {
		return env.p.Store.Update(ctx, func(tx store.Tx) error {
			_, err := env.p.Ledger.Append(ctx, tx, ledger.Act{BrandID: env.brand, ConsumerID: ids[i%len(ids)], Kind: ledger.KindAccessRead,
				At: time.Now(), Body: map[string]any{"action": "read", "purpose": "personalization",
					"categories": []string{"browsing", "purchases"}, "withheld": []string{}, "records": 5, "actor": "brand:bench"}})
			return err
		})
	})
	b.StopTimer()
	reportAppends(b, env.p, n, elapsed, lat, base, w0)
}

// usage is what the process and the single SQLite writer have done so far.
type usage struct {
	sqlstore.WriterStats               // zero on PostgreSQL
	CPU                  time.Duration // the process's CPU time, user and system
}

func writerStats(p *platform.Platform) usage {
	u := usage{CPU: processCPU()}
	if ws, ok := p.Store.(interface{ WriterStats() sqlstore.WriterStats }); ok {
		u.WriterStats = ws.WriterStats()
	}
	return u
}

// processCPU is the CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportAppends reports throughput, latency and the integrator's lag of an append benchmark;
// the process's CPU time per act since w0 (all of it: callers, writer, integrator, GC; on
// this 2-core machine 2e6 / cpu-µs/act bounds the throughput, and it varies far less with
// other load than wall time does); and, on SQLite, the single writer's wall time per act
// (every transaction it ran, integration included: 1e6 / writer-µs/act is the most this
// writer can do) and the average group committed together.
func reportAppends(b *testing.B, p *platform.Platform, n int, elapsed time.Duration, lat []time.Duration, base int64, w0 usage) {
	w := writerStats(p)
	b.ReportMetric(float64((w.CPU-w0.CPU).Microseconds())/float64(n), "cpu-µs/act")
	if w.Groups > w0.Groups {
		b.ReportMetric(float64((w.Busy-w0.Busy).Microseconds())/float64(n), "writer-µs/act")
		b.ReportMetric(float64(w.Transactions-w0.Transactions)/float64(w.Groups-w0.Groups), "tx/group")
	}
	b.ReportMetric(float64(n)/elapsed.Seconds(), "entries/s")
	b.ReportMetric(quantile(lat, 0.50), "p50-ms")
	b.ReportMetric(quantile(lat, 0.99), "p99-ms")
	reportLag(b, p, base+int64(n))
}

func benchmarkAppendConsent(b *testing.B, cfg platform.Config) {
	ctx := context.Background()
	env := openBench(b, cfg)
	const consumers = 10000
	env.createConsumers(b, "consent", consumers)
	base := integrateAll(b, env.p)
	w0 := writerStats(env.p)
	n, elapsed, lat := runPool(b, benchWorkers, func(i int) error {
		state := consent.StateGiven
		if (i/consumers)%2 == 1 {
			state = consent.StateWithdrawn
		}
		res, err := env.p.Consent.Apply(ctx, []*consent.Change{{BrandID: env.brand,
			Consumer: consent.ConsumerRef{Kind: identity.KindUserID, Value: fmt.Sprintf("consent-%d", i%consumers)},
			Category: "purchases", Purpose: "personalization", State: state, Actor: env.actor, Method: consent.MethodBrand}}, "")
		if err == nil && (len(res) != 1 || res[0].Unchanged) {
			err = fmt.Errorf("consent change not recorded: %+v", res)
		}
		return err
	})
	b.StopTimer()
	reportAppends(b, env.p, n, elapsed, lat, base, w0)
}

func benchmarkAppendAccess(b *testing.B, cfg platform.Config) {
	ctx := context.Background()
	env := openBench(b, cfg)
	const consumers, events = 1000, 5
	if _, err := env.p.Ingest.PutPlan(ctx, env.brand, []byte(`{"events":{"Order Completed":"purchases","Page Viewed":"browsing"}}`)); err != nil {
		b.Fatal(err)
	}
	ids := env.createConsumers(b, "reader", consumers)
	// Grants (both categories for personalization), 32 at a time.
	var wg sync.WaitGroup
	errs := make(chan error, consumers)
	sem := make(chan struct{}, benchWorkers)
	for i := range consumers {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			var changes []*consent.Change
			for _, cat := range []string{"purchases", "browsing"} {
				changes = append(changes, &consent.Change{BrandID: env.brand, Consumer: consent.ConsumerRef{ID: ids[i]}, Category: cat,
					Purpose: "personalization", State: consent.StateGiven, Actor: env.actor, Method: consent.MethodBrand})
			}
			if _, err := env.p.Consent.Apply(ctx, changes, ""); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
	// A few events each, ingested 500 a batch.
	var msgs []map[string]any
	flush := func() {
		body, _ := json.Marshal(map[string]any{"batch": msgs})
		bt, err := segment.ParseBatch(body)
		if err != nil {
			b.Fatal(err)
		}
		if res, err := env.p.Ingest.Ingest(ctx, env.brand, bt, false, env.actor); err != nil || res.Accepted != len(msgs) {
			b.Fatalf("ingest: %v %+v", err, res)
		}
		msgs = msgs[:0]
	}
	for i := range consumers {
		for j := range events {
			ev := "Order Completed"
			if j%2 == 1 {
				ev = "Page Viewed"
			}
			msgs = append(msgs, map[string]any{"type": "track", "userId": fmt.Sprintf("reader-%d", i), "event": ev,
				"messageId": fmt.Sprintf("m-%d-%d", i, j), "timestamp": "2026-11-01T08:00:00Z",
				"properties": map[string]any{"sku": fmt.Sprintf("SKU-%06d", j), "revenue": 99.5, "currency": "USD"}})
			if len(msgs) == 500 {
				flush()
			}
		}
	}
	if len(msgs) > 0 {
		flush()
	}
	base := integrateAll(b, env.p)
	w0 := writerStats(env.p)
	n, elapsed, lat := runPool(b, benchWorkers, func(i int) error {
		d, err := env.p.Access.Read(ctx, access.Request{BrandID: env.brand, ConsumerID: ids[i%consumers], Purpose: "personalization", Actor: env.actor})
		if err == nil && len(d.Data["purchases"])+len(d.Data["browsing"]) != events {
			err = fmt.Errorf("read %d events, want %d (withheld %v)", len(d.Data["purchases"])+len(d.Data["browsing"]), events, d.Withheld)
		}
		return err
	})
	b.StopTimer()
	reportAppends(b, env.p, n, elapsed, lat, base, w0)
}

// The 1,000,000-entry log of BenchmarkInclusionProof1M, cached between runs.
const (
	ledger1MVersion = "1" // bump when the store's schema or the record format changes
	ledger1MEntries = 1_000_000
	ledger1MChains  = 100_000 // consumers (chains), 10 entries each
	ledger1MPerTx   = 10_000  // entries appended per store transaction while building
)

// ledger1MKey names the cached log's directory.
var ledger1MKey = fmt.Sprintf("v%s-record%d-%d", ledger1MVersion, ledger.Version, ledger1MEntries)

// ledger1M returns the data directory of a platform whose log holds ledger1MEntries entries,
// building it on first use (about a minute and a half on the 2-core machine) under
// os.UserCacheDir().
func ledger1M(b *testing.B) string {
	b.Helper()
	cache, err := os.UserCacheDir()
	if err != nil {
		b.Fatalf("no cache directory for the 1M-entry log: %v", err)
	}
	dir := filepath.Join(cache, "symbiont", "bench-ledger-1m", ledger1MKey)
	if _, err := os.Stat(filepath.Join(dir, "complete")); err == nil {
		return dir
	}
	building := dir + ".building"
	if err := os.RemoveAll(building); err != nil {
		b.Fatal(err)
	}
	if err := os.RemoveAll(dir); err != nil {
		b.Fatal(err)
	}
	b.Logf("building the %d-entry log in %s (once; kept for later runs)", ledger1MEntries, building)
	start := time.Now()
	ctx := context.Background()
	// The background integrator stays asleep (1 h): integrate explicitly after the appends.
	p, err := platform.Open(ctx, platform.Config{DataDir: building, AdminToken: benchAdminToken, ExpiryInterval: -1, IntegrateEvery: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	nb, err := p.Tenants.CreateBrand(ctx, "Bench")
	if err != nil {
		p.Close()
		b.Fatal(err)
	}
	at := time.Now().Add(-time.Duration(ledger1MEntries) * time.Millisecond)
	for from := 0; from < ledger1MEntries; from += ledger1MPerTx {
		err := p.Store.Update(ctx, func(tx store.Tx) error {
			for i := from; i < from+ledger1MPerTx; i++ {
				if _, err := p.Ledger.Append(ctx, tx, ledger.Act{BrandID: nb.Brand.ID, ConsumerID: int64(i%ledger1MChains) + 1,
					Kind: ledger.KindAccessRead, At: at.Add(time.Duration(i) * time.Millisecond),
					Body: map[string]any{"action": "read", "purpose": "personalization", "categories": []string{"purchases"},
						"withheld": []string{}, "records": i % 50, "actor": "brand:bench"}}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			p.Close()
			b.Fatal(err)
		}
	}
	appended := time.Since(start)
	size := integrateAll(b, p)
	if err := p.Close(); err != nil {
		b.Fatal(err)
	}
	if size != ledger1MEntries {
		b.Fatalf("built a log of %d entries, want %d", size, ledger1MEntries)
	}
	if err := os.WriteFile(filepath.Join(building, "complete"), []byte(time.Now().Format(time.RFC3339)+"\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	if err := os.Rename(building, dir); err != nil {
		b.Fatal(err)
	}
	b.Logf("built in %v (appends %v, integration %v)", time.Since(start).Round(time.Second), appended.Round(time.Second),
		(time.Since(start) - appended).Round(time.Second))
	return dir
}

// BenchmarkInclusionProof1M measures p.Ledger.InclusionProof for a random entry of a
// 1,000,000-entry log (SQLite), as served by GET /v1/me/access-log for every record:
//
//   - cold: right after a restart (empty hash cache; the OS page cache may hold the file).
//   - warm: the same 10,000 random indexes again after a first pass over them.
//
// Run it with -benchtime 10000x so that each run measures 10,000 proofs. It also reports how
// long the platform took to start on the log (open-s: mostly the ledger's self-check).
func BenchmarkInclusionProof1M(b *testing.B) {
	if testing.Short() {
		b.Skip("-short: BenchmarkInclusionProof1M needs a 1,000,000-entry log (built once, a minute or two, ~540 MB under os.UserCacheDir())")
	}
	dir := ledger1M(b)
	var opened time.Duration // how long the last start took
	open := func(b *testing.B) (*benchEnv, int64, []byte) {
		start := time.Now()
		env := openBench(b, platform.Config{DataDir: dir})
		opened = time.Since(start)
		cp, err := env.p.Ledger.Latest()
		if err != nil || cp == nil || cp.Size != ledger1MEntries {
			b.Fatalf("cached log: checkpoint %+v, %v; delete %s to rebuild it", cp, err, dir)
		}
		return env, cp.Size, cp.Root
	}
	check := func(b *testing.B, p *platform.Platform, size int64, root []byte, idx []int64, proofs [][][]byte) {
		ctx := context.Background()
		var r tlog.Hash
		copy(r[:], root)
		for k := 0; k < len(idx); k += max(1, len(idx)/100) { // a sample of 100
			var es []*ledger.Entry
			if err := p.Store.View(ctx, func(tx store.Tx) (err error) {
				es, err = tx.LedgerEntries(ctx, idx[k], idx[k]+1)
				return err
			}); err != nil || len(es) != 1 {
				b.Fatalf("entry %d: %v", idx[k], err)
			}
			if err := ledger.CheckInclusion(es[0].Commitment, idx[k], proofs[k], size, r); err != nil {
				b.Fatalf("proof of entry %d: %v", idx[k], err)
			}
		}
	}
	measure := func(b *testing.B, p *platform.Platform, size int64, root []byte, indexes []int64) {
		ctx := context.Background()
		var lat []time.Duration
		var done []int64
		var proofs [][][]byte
		k := 0
		for b.Loop() {
			idx := indexes[k%len(indexes)]
			k++
			t0 := time.Now()
			proof, err := p.Ledger.InclusionProof(ctx, idx, size)
			lat = append(lat, time.Since(t0))
			if err != nil {
				b.Fatal(err)
			}
			done, proofs = append(done, idx), append(proofs, proof)
		}
		b.StopTimer()
		slices.Sort(lat)
		b.ReportMetric(quantile(lat, 0.50), "p50-ms")
		b.ReportMetric(quantile(lat, 0.99), "p99-ms")
		b.ReportMetric(float64(len(lat)), "proofs")
		b.ReportMetric(opened.Seconds(), "open-s")
		check(b, p, size, root, done, proofs)
	}
	randomIndexes := func(n int) []int64 {
		out := make([]int64, n)
		for i := range out {
			out[i] = rand.Int64N(ledger1MEntries)
		}
		return out
	}
	b.Run("cold", func(b *testing.B) {
		env, size, root := open(b)
		measure(b, env.p, size, root, randomIndexes(1_000_000))
	})
	b.Run("warm", func(b *testing.B) {
		env, size, root := open(b)
		indexes := randomIndexes(10_000)
		for _, idx := range indexes {
			if _, err := env.p.Ledger.InclusionProof(context.Background(), idx, size); err != nil {
				b.Fatal(err)
			}
		}
		measure(b, env.p, size, root, indexes)
	})
	b.Run("start", once(func(b *testing.B) map[string]float64 { return benchmarkStart(b, dir) }))
	b.Run("verify-full", once(func(b *testing.B) map[string]float64 { return benchmarkVerifyFull(b, dir) }))
}

// once runs a benchmark that measures a fixed number of runs whatever b.N (its metrics are
// per run) the first time it is called, and reports the same metrics when the framework calls
// it again with a larger b.N.
func once(f func(b *testing.B) map[string]float64) func(b *testing.B) {
	var metrics map[string]float64
	return func(b *testing.B) {
		if metrics == nil {
			metrics = f(b)
		}
		b.ReportMetric(0, "ns/op")
		for unit, v := range metrics {
			b.ReportMetric(v, unit)
		}
	}
}

// benchmarkStart measures platform.Open on the 1,000,000-entry log, 5 times whatever b.N
// (start-s: the median): the ledger's self-check from the verified state kept in the database
// (written by the first start on the log, or by the runs before). first-s is the first of the
// 5, which reads the whole log if no earlier start left a verified state.
func benchmarkStart(b *testing.B, dir string) map[string]float64 {
	ctx := context.Background()
	var runs, cpu []time.Duration
	var rep *ledger.CheckReport
	for range 5 {
		t0, c0 := time.Now(), processCPU()
		p, err := platform.Open(ctx, platform.Config{DataDir: dir, AdminToken: benchAdminToken, ExpiryInterval: -1, AccrualInterval: -1, IntegrateEvery: time.Hour})
		runs, cpu = append(runs, time.Since(t0)), append(cpu, processCPU()-c0)
		if err != nil {
			b.Fatal(err)
		}
		if err := p.Ledger.Healthy(); err != nil {
			b.Fatal(err)
		}
		if rep, err = p.Ledger.VerifyIntegrated(ctx); err != nil || rep.Size != ledger1MEntries {
			b.Fatalf("verified state after the start: %+v %v", rep, err)
		}
		if err := p.Close(); err != nil {
			b.Fatal(err)
		}
	}
	first := runs[0]
	b.Logf("starts: %v, CPU %v", runs, cpu)
	slices.Sort(runs)
	slices.Sort(cpu)
	return map[string]float64{"start-s": runs[len(runs)/2].Seconds(), "start-cpu-s": cpu[len(cpu)/2].Seconds(), "first-s": first.Seconds()}
}

// benchmarkVerifyFull measures what `symbiont verify --full --data DIR` runs on the
// 1,000,000-entry log: ledger.CheckStored, every entry from the first, once whatever b.N.
func benchmarkVerifyFull(b *testing.B, dir string) map[string]float64 {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, dir)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	t0, c0 := time.Now(), processCPU()
	_, rep, err := ledger.CheckStored(ctx, store.Narrow[ledger.IntegrationTx](st), ledger.CheckOptions{HeadFile: filepath.Join(dir, platform.LedgerHeadFile)})
	elapsed, cpu := time.Since(t0), processCPU()-c0
	if err != nil {
		b.Fatal(err)
	}
	if rep.Size != ledger1MEntries || rep.Entries != ledger1MEntries {
		b.Fatalf("checked %+v", rep)
	}
	return map[string]float64{"verify-full-s": elapsed.Seconds(), "verify-full-cpu-s": cpu.Seconds()}
}

// BenchmarkVerify10k measures the proof document of one consumer with 10,000 ledger records in
// a 50,000-entry log (SQLite):
//
//   - export: p.Ledger.Export of the consumer's chain (what GET /v1/me/access-log builds).
//   - verify-first: what `symbiont verify` does the first time: decode the document, fetch the
//     log's key and checkpoint over HTTP from p.Handler() (httptest), ledger.VerifyExport with
//     no state.
//   - verify-second: the next run, with the state of the first, after the log grew by 1,000
//     entries: it also proves the remembered checkpoint consistent, reading tiles over HTTP.
func BenchmarkVerify10k(b *testing.B) {
	ctx := context.Background()
	env := openBench(b, platform.Config{})
	p := env.p
	ids := env.createConsumers(b, "verify", 1001)
	me, others := ids[0], ids[1:]
	const mine, total = 10_000, 50_000
	appendActs := func(n int, chain func(i int) int64) {
		err := p.Store.Update(ctx, func(tx store.Tx) error {
			for i := range n {
				if _, err := p.Ledger.Append(ctx, tx, ledger.Act{BrandID: env.brand, ConsumerID: chain(i), Kind: ledger.KindAccessRead, At: time.Now(),
					Body: map[string]any{"action": "read", "purpose": "personalization", "categories": []string{"purchases", "browsing"},
						"withheld": []string{}, "records": i % 50, "actor": "brand:bench"}}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	// Every fifth entry of the log is the consumer's.
	appendActs(total, func(i int) int64 {
		if i%(total/mine) == 0 {
			return me
		}
		return others[i%len(others)]
	})
	waitVerified(b, p, integrateAll(b, p))
	export := func() []byte {
		doc, err := p.Ledger.Export(ctx, []int64{me})
		if err != nil {
			b.Fatal(err)
		}
		if len(doc.Records) != mine {
			b.Fatalf("export has %d records, want %d", len(doc.Records), mine)
		}
		raw, err := json.Marshal(doc)
		if err != nil {
			b.Fatal(err)
		}
		return raw
	}
	srv := httptest.NewServer(p.Handler())
	b.Cleanup(srv.Close)
	log := ledgerclient.ForServer(srv.URL, srv.Client()) // as `symbiont verify` reads it: one GET a tile, no cache
	verify := func(raw []byte, prev *ledger.State) *ledger.State {
		doc, err := ledger.DecodeExport(raw) // as cmd/symbiont/verify.go reads the file
		if err != nil {
			b.Fatal(err)
		}
		key := ""
		if prev != nil {
			key = prev.Key
		} else {
			k, err := log.Get("key")
			if err != nil {
				b.Fatal(err)
			}
			key = string(bytes.TrimSpace(k))
		}
		rep, next, err := ledger.VerifyExport(doc, log, key, prev)
		if err != nil {
			b.Fatal(err)
		}
		if rep.Records != mine || rep.Pending != 0 || rep.Chains != 1 {
			b.Fatalf("verified %+v", rep)
		}
		return next
	}
	var raw1 []byte
	b.Run("export", func(b *testing.B) {
		c0 := processCPU()
		for b.Loop() {
			raw1 = export()
		}
		b.ReportMetric(float64((processCPU()-c0).Microseconds())/1000/float64(b.N), "cpu-ms/op")
		b.ReportMetric(float64(len(raw1))/(1<<20), "doc-MiB")
	})
	if raw1 == nil {
		raw1 = export()
	}
	b.Run("verify-first", func(b *testing.B) {
		c0 := processCPU()
		for b.Loop() {
			verify(raw1, nil)
		}
		b.ReportMetric(float64((processCPU()-c0).Microseconds())/1000/float64(b.N), "cpu-ms/op")
	})
	state := verify(raw1, nil)
	appendActs(1000, func(i int) int64 { return others[i%len(others)] })
	waitVerified(b, p, integrateAll(b, p))
	raw2 := export()
	b.Run("verify-second", func(b *testing.B) {
		before := log.Gets()
		runs := 0
		c0 := processCPU()
		for b.Loop() {
			next := verify(raw2, state)
			if next.Size != state.Size+1000 {
				b.Fatalf("state size %d, want %d", next.Size, state.Size+1000)
			}
			runs++
		}
		b.ReportMetric(float64((processCPU()-c0).Microseconds())/1000/float64(b.N), "cpu-ms/op")
		b.ReportMetric(float64(log.Gets()-before)/float64(runs), "http-gets/op")
	})
}

// BenchmarkVerifyIntegrated measures the background pass (ledger.Service.VerifyIntegrated)
// that keeps the verified state current, on SQLite: each iteration appends 5,000 access
// records spread over 10,000 consumers whose chains already have entries, integrates them, and
// times the pass over them (µs-per-entry, and the CPU time of the process during it).
func BenchmarkVerifyIntegrated(b *testing.B) {
	ctx := context.Background()
	env := openBench(b, platform.Config{IntegrateEvery: time.Hour}) // the pass is run by hand
	p := env.p
	ids := env.createConsumers(b, "verified", 10_000)
	appendN := func(n, offset int) {
		for from := 0; from < n; from += 1000 {
			if err := p.Store.Update(ctx, func(tx store.Tx) error {
				for i := from; i < min(from+1000, n); i++ {
					if _, err := p.Ledger.Append(ctx, tx, ledger.Act{BrandID: env.brand, ConsumerID: ids[(offset+i*7919)%len(ids)], Kind: ledger.KindAccessRead,
						At: time.Now(), Body: map[string]any{"action": "read", "purpose": "personalization", "categories": []string{"purchases"},
							"withheld": []string{}, "records": i % 50, "actor": "brand:bench"}}); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				b.Fatal(err)
			}
		}
		integrateAll(b, p)
	}
	appendN(20_000, 0)
	if _, err := p.Ledger.VerifyIntegrated(ctx); err != nil {
		b.Fatal(err)
	}
	const perPass = 5000
	var wall, cpu time.Duration
	entries := int64(0)
	k := 0
	for b.Loop() {
		b.StopTimer()
		k++
		appendN(perPass, k)
		b.StartTimer()
		t0, c0 := time.Now(), processCPU()
		rep, err := p.Ledger.VerifyIntegrated(ctx)
		wall, cpu = wall+time.Since(t0), cpu+processCPU()-c0
		if err != nil || rep.Entries != perPass {
			b.Fatalf("pass: %+v %v", rep, err)
		}
		entries += rep.Entries
	}
	b.ReportMetric(float64(wall.Microseconds())/float64(entries), "µs-per-entry")
	b.ReportMetric(float64(cpu.Microseconds())/float64(entries), "cpu-µs-per-entry")
}
