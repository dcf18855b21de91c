package main

// The recommendation serving scenario of `symbiont bench recs`: a whole platform seeded through
// its services as production would be, measured over HTTP on loopback.

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/symbiont/symbiont"
	"github.com/symbiont/symbiont/api"
	"github.com/symbiont/symbiont/catalog"
	"github.com/symbiont/symbiont/consent"
	"github.com/symbiont/symbiont/identity"
	"github.com/symbiont/symbiont/platform"
	"github.com/symbiont/symbiont/segment"
)

// recsOptions is the recommendation serving scenario.
type recsOptions struct {
	DataDir   string // an empty directory for the platform (SQLite)
	Items     int    // catalogue size
	Consumers int    // who granted personalization and model_training for purchases
	PerUser   int    // purchases per consumer
	Clusters  int    // planted taste clusters
	N         int    // list length asked for
	Clients   int    // concurrent HTTP clients
	Duration  time.Duration
	Warmup    time.Duration
	Log       io.Writer // progress
	// Measuring, when set, hears the measuring start (true) and end (a profiler's hook).
	Measuring func(on bool)
}

// recsResult is what the scenario measured.
type recsResult struct {
	Items, Consumers, Events int
	Model                    string        // version and kind
	SeedTook, TrainTook      time.Duration //
	Requests                 int
	Errors                   int
	Personalized             float64 // share of lists
	PerSecond                float64
	P50, P90, P99, Max       time.Duration
}

// benchRecs (with the API's rate limits off: the scenario measures serving, not the limiter) seeds a brand (catalogue, consents, purchases), trains its model and measures
// GET /v1/consumers/{id}/recommendations?n=N over HTTP from Clients clients: each request is a
// full serve (consent check and recorded read through the one door, fold-in scoring, MMR,
// explanations).
func benchRecs(ctx context.Context, o recsOptions) (*recsResult, error) {
	o.Items, o.Consumers, o.PerUser = cmp.Or(o.Items, 50000), cmp.Or(o.Consumers, 100000), cmp.Or(o.PerUser, 10)
	o.Clusters, o.N, o.Clients = cmp.Or(o.Clusters, 50), cmp.Or(o.N, 20), cmp.Or(o.Clients, 8)
	o.Duration, o.Warmup = cmp.Or(o.Duration, 20*time.Second), cmp.Or(o.Warmup, 3*time.Second)
	if o.Log == nil {
		o.Log = io.Discard
	}
	say := func(format string, a ...any) { fmt.Fprintf(o.Log, "bench recs: "+format+"\n", a...) }
	p, err := platform.Open(ctx, platform.Config{DataDir: o.DataDir, AdminToken: "bench-admin-token-0123456789", ExpiryInterval: -1,
		AccrualInterval: -1, TrainCheckInterval: -1, Limits: &api.Limits{}, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return nil, err
	}
	defer p.Close()
	res := &recsResult{Items: o.Items, Consumers: o.Consumers}
	start := time.Now()
	nb, err := p.Tenants.CreateBrand(ctx, "Bench")
	if err != nil {
		return nil, err
	}
	brand := nb.Brand.ID
	if _, err := p.Ingest.PutPlan(ctx, brand, []byte(`{"events":{"Order Completed":"purchases"}}`)); err != nil {
		return nil, err
	}
	for lo := 0; lo < o.Items; lo += catalog.MaxBatch {
		var items []*catalog.Item
		for i := lo; i < min(lo+catalog.MaxBatch, o.Items); i++ {
			items = append(items, &catalog.Item{ID: fmt.Sprintf("item-%06d", i), Title: fmt.Sprintf("Item %d", i), Category: fmt.Sprintf("c%02d", i%o.Clusters)})
		}
		if _, err := p.Catalog.PutBatch(ctx, brand, items); err != nil {
			return nil, err
		}
	}
	say("%d items", o.Items)
	actor := symbiont.Actor{Kind: symbiont.ActorBrand, BrandID: brand, KeyID: "bench"}
	rng := rand.New(rand.NewPCG(1, 2))
	const chunk = 200 // consumers per ingestion batch (under the batch body limit)
	for lo := 0; lo < o.Consumers; lo += chunk {
		var msgs []map[string]any
		// One consent act per consumer (as the API takes them), several at a time.
		var wg sync.WaitGroup
		var failed atomic.Pointer[error]
		sem := make(chan struct{}, 8)
		for u := lo; u < min(lo+chunk, o.Consumers); u++ {
			sem <- struct{}{}
			wg.Add(1)
			go func() {
				defer func() { <-sem; wg.Done() }()
				ref := consent.ConsumerRef{Kind: identity.KindUserID, Value: user(u)}
				var changes []*consent.Change
				for _, purpose := range []string{"personalization", "model_training"} {
					changes = append(changes, &consent.Change{BrandID: brand, Consumer: ref, Category: "purchases", Purpose: purpose,
						State: consent.StateGiven, Actor: actor, Method: consent.MethodBrand})
				}
				if _, err := p.Consent.Apply(ctx, changes, ""); err != nil {
					failed.Store(&err)
				}
			}()
		}
		wg.Wait()
		if err := failed.Load(); err != nil {
			return nil, *err
		}
		for u := lo; u < min(lo+chunk, o.Consumers); u++ {
			for j := range o.PerUser {
				msgs = append(msgs, map[string]any{"type": "track", "userId": user(u), "event": "Order Completed", "messageId": fmt.Sprint(u, "-", j),
					"properties": map[string]any{"product_id": fmt.Sprintf("item-%06d", plantedItem(rng, u, o.Items, o.Clusters))}})
			}
		}
		body, _ := json.Marshal(map[string]any{"batch": msgs})
		bt, err := segment.ParseBatch(body)
		if err != nil {
			return nil, err
		}
		r, err := p.Ingest.Ingest(ctx, brand, bt, false, actor)
		if err != nil {
			return nil, err
		}
		res.Events += r.Accepted
		if (lo/chunk)%20 == 0 {
			say("%d of %d consumers seeded (%d events)", lo+chunk, o.Consumers, res.Events)
		}
	}
	res.SeedTook = time.Since(start)
	say("seeded in %s; training", res.SeedTook.Round(time.Second))
	start = time.Now()
	tr, err := p.Recommender.Train(ctx, brand)
	if err != nil {
		return nil, err
	}
	res.TrainTook = time.Since(start)
	m := p.Recommender.Current(brand)
	res.Model = m.Meta.Version + " (" + m.Meta.Kind + ")"
	say("trained %s over %d consumers in %s", res.Model, tr.Consumers, res.TrainTook.Round(time.Second))

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: p.Handler()}
	go srv.Serve(ln)
	defer srv.Close()
	base := "http://" + ln.Addr().String()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: o.Clients}, Timeout: 10 * time.Second}

	var (
		mu           sync.Mutex
		lat          []time.Duration
		errs         atomic.Int64
		personalized atomic.Int64
		measuring    atomic.Bool
		wg           sync.WaitGroup
	)
	stop := make(chan struct{})
	for c := range o.Clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(c), 7))
			var mine []time.Duration
			defer func() { mu.Lock(); lat = append(lat, mine...); mu.Unlock() }()
			for {
				select {
				case <-stop:
					return
				default:
				}
				u := rng.IntN(o.Consumers)
				req, _ := http.NewRequestWithContext(ctx, "GET", fmt.Sprintf("%s/v1/consumers/%s/recommendations?n=%d", base, user(u), o.N), nil)
				req.Header.Set("Authorization", "Bearer "+nb.SecretKey)
				t0 := time.Now()
				ok, pers := get(client, req, o.N)
				d := time.Since(t0)
				if !measuring.Load() {
					continue
				}
				mine = append(mine, d)
				if !ok {
					errs.Add(1)
				} else if pers {
					personalized.Add(1)
				}
			}
		}()
	}
	say("%d clients, warming up %s", o.Clients, o.Warmup)
	time.Sleep(o.Warmup)
	if o.Measuring != nil {
		o.Measuring(true)
	}
	measuring.Store(true)
	t0 := time.Now()
	time.Sleep(o.Duration)
	measuring.Store(false)
	if o.Measuring != nil {
		o.Measuring(false)
	}
	elapsed := time.Since(t0)
	close(stop)
	wg.Wait()
	if len(lat) == 0 {
		return nil, errors.New("bench recs: no request finished")
	}
	slices.Sort(lat)
	q := func(f float64) time.Duration { return lat[min(len(lat)-1, int(f*float64(len(lat))))] }
	res.Requests, res.Errors = len(lat), int(errs.Load())
	res.Personalized = float64(personalized.Load()) / float64(len(lat))
	res.PerSecond = float64(len(lat)) / elapsed.Seconds()
	res.P50, res.P90, res.P99, res.Max = q(0.50), q(0.90), q(0.99), lat[len(lat)-1]
	return res, nil
}

func user(u int) string { return fmt.Sprintf("u%07d", u) }

// plantedItem draws a consumer's purchase: mostly from their taste cluster (u mod clusters),
// skewed to each cluster's first items, sometimes from anywhere.
func plantedItem(rng *rand.Rand, u, items, clusters int) int {
	if rng.Float64() < 0.2 {
		return rng.IntN(items)
	}
	per := items / clusters
	k := int(float64(per) * rng.Float64() * rng.Float64() * rng.Float64()) // skewed to 0
	return (k*clusters + u%clusters) % items
}

// get fetches one list: ok when it is a 200 with n items, each with a why.
func get(c *http.Client, req *http.Request, n int) (ok, personalized bool) {
	resp, err := c.Do(req)
	if err != nil {
		return false, false
	}
	defer resp.Body.Close()
	var l struct {
		Personalized bool `json:"personalized"`
		Items        []struct {
			Why []json.RawMessage `json:"why"`
		} `json:"items"`
	}
	if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&l) != nil || len(l.Items) != n {
		io.Copy(io.Discard, resp.Body)
		return false, false
	}
	for _, it := range l.Items {
		if len(it.Why) == 0 {
			return false, l.Personalized
		}
	}
	return true, l.Personalized
}

// Report prints the result.
func (r *recsResult) Report(w io.Writer) {
	fmt.Fprintf(w, "%d items, %d consumers, %d events; model %s (seeded in %s, trained in %s)\n", r.Items, r.Consumers, r.Events, r.Model,
		r.SeedTook.Round(time.Second), r.TrainTook.Round(100*time.Millisecond))
	fmt.Fprintf(w, "%d requests (%d errors), %.0f/s, %.0f%% personalised; GOMAXPROCS %d\n", r.Requests, r.Errors, r.PerSecond, 100*r.Personalized, runtime.GOMAXPROCS(0))
	fmt.Fprintf(w, "latency p50 %s  p90 %s  p99 %s  max %s\n", r.P50.Round(10*time.Microsecond), r.P90.Round(10*time.Microsecond),
		r.P99.Round(10*time.Microsecond), r.Max.Round(10*time.Microsecond))
}
