// Package platform assembles Symbiont from its parts: it opens the store, loads the keys, builds
// the services in dependency order and returns the HTTP handler. `symbiont serve` and the
// end-to-end tests both start the platform through Open, so what is tested is what runs.
package platform

import (
	"cmp"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/symbiont/symbiont"
	"github.com/symbiont/symbiont/access"
	"github.com/symbiont/symbiont/api"
	"github.com/symbiont/symbiont/catalog"
	"github.com/symbiont/symbiont/consent"
	"github.com/symbiont/symbiont/identity"
	"github.com/symbiont/symbiont/ingest"
	"github.com/symbiont/symbiont/ledger"
	"github.com/symbiont/symbiont/overview"
	"github.com/symbiont/symbiont/recommender"
	"github.com/symbiont/symbiont/rewards"
	"github.com/symbiont/symbiont/store"
	"github.com/symbiont/symbiont/store/postgres"
	"github.com/symbiont/symbiont/store/sqlite"
	"github.com/symbiont/symbiont/tenant"
	"github.com/symbiont/symbiont/vault"
	"github.com/symbiont/symbiont/web"
)

// Config is everything the platform needs to start.
type Config struct {
	DataDir     string // SQLite files and key material
	PostgresDSN string // when set, PostgreSQL instead of SQLite
	// MasterKey is the 32-byte key that wraps every data key. Empty: read DataDir/master.key,
	// creating it on first start.
	MasterKey  []byte
	AdminToken string // operator token; empty: stored or generated
	// RotateAdminToken generates a new operator token even if one is stored (demo mode).
	RotateAdminToken bool
	BaseURL          string
	Version          string
	Limits           *api.Limits // nil: api.DefaultLimits
	// MaxShared is the over-merge guard (identity.Graph.MaxShared): 0 means the default,
	// a negative value disables the guard.
	MaxShared int
	Writers   int // ingest writers; 0: 2 for SQLite (pipelined commit), 4 for PostgreSQL
	Clock     symbiont.Clock
	Log       *slog.Logger
	// ExpiryInterval is how often expired grants are recorded and idempotency records past
	// their retention deleted (0: 30 s; <0: never).
	ExpiryInterval time.Duration
	// IdempotencyRetention is how long an idempotency record is kept (0:
	// symbiont.DefaultIdempotencyRetention; <0: until the consumer is erased).
	IdempotencyRetention time.Duration
	// AccrualInterval is how often points accrue and expire (0: 10 min; <0: never, for tests
	// that drive Accrue themselves).
	AccrualInterval time.Duration
	// TrainCheckInterval is how often brands' recommendation schedules are checked, each
	// brand trained when its settings' train_every has passed (0: 1 min; <0: never).
	TrainCheckInterval time.Duration
	// LedgerOrigin names the verifiable ledger in its checkpoints. It is fixed at first start;
	// empty means the base URL's host and path followed by /ledger.
	LedgerOrigin string
	// IntegrateEvery is how often the ledger integrates new entries (0: 1 s).
	IntegrateEvery time.Duration
}

// Platform is a running Symbiont.
type Platform struct {
	Config  Config
	Store   store.Store
	Vault   *vault.Vault
	Tenants *tenant.Service
	Consent *consent.Service
	// ConsentHooks run in every consent change's transaction (the rewards' is added by Open).
	ConsentHooks *consent.Hooks[store.Tx]
	Graph        *identity.Graph
	// Directory finds and creates consumers by identifier outside any act.
	Directory *identity.Directory
	Ingest    *ingest.Service
	Access    *access.Service
	Ledger    *ledger.Service
	Rewards   *rewards.Service
	Catalog   *catalog.Service
	// Recommender trains and serves the recommendation models.
	Recommender *recommender.Service
	Web         *web.Server
	API         *api.Server
	Registry    *prometheus.Registry
	// GeneratedAdminToken is set when Open created the operator token: show it once.
	GeneratedAdminToken string

	handler     http.Handler
	draining    atomic.Bool
	closeOnce   sync.Once
	closeErr    error
	stop        context.CancelFunc
	done        chan struct{}
	listening   chan struct{}
	integrating chan struct{}
	scheduling  chan struct{} // the recommendation schedule
}

// Files in the data directory.
const (
	MasterKeyFile = "master.key"
	// LedgerHeadFile keeps the ledger's newest checkpoint outside the database.
	LedgerHeadFile = "ledger-checkpoint"
	// ModelsDir holds the recommendation models, a directory per brand (each node keeps its own).
	ModelsDir = "models"
)

// Open starts the platform.
func Open(ctx context.Context, cfg Config) (*Platform, error) {
	if cfg.Clock == nil {
		cfg.Clock = symbiont.SystemClock{}
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	limits := api.DefaultLimits
	if cfg.Limits != nil {
		limits = *cfg.Limits
	}
	if cfg.ExpiryInterval == 0 {
		cfg.ExpiryInterval = 30 * time.Second
	}
	if cfg.IdempotencyRetention == 0 {
		cfg.IdempotencyRetention = symbiont.DefaultIdempotencyRetention
	}
	if cfg.DataDir == "" {
		return nil, errors.New("platform: a data directory is required")
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("platform: data directory: %w", err)
	}
	if err := os.Chmod(cfg.DataDir, 0o700); err != nil { // it holds the master key
		return nil, fmt.Errorf("platform: data directory: %w", err)
	}
	master := cfg.MasterKey
	if master == nil {
		var err error
		if master, err = loadMasterKey(filepath.Join(cfg.DataDir, MasterKeyFile)); err != nil {
			return nil, err
		}
	}
	var st store.Store
	var err error
	writers := cfg.Writers
	if cfg.PostgresDSN != "" {
		st, err = postgres.Open(ctx, cfg.PostgresDSN, 0)
		if writers == 0 {
			writers = 4
		}
	} else {
		st, err = sqlite.Open(ctx, cfg.DataDir)
	}
	if err != nil {
		return nil, err
	}
	// What has been started so far, undone in reverse order if Open fails after this point.
	var undo []func()
	opened := false
	defer func() {
		if !opened {
			for i := len(undo) - 1; i >= 0; i-- {
				undo[i]()
			}
		}
	}()
	undo = append(undo, func() { st.Close() })
	p := &Platform{Config: cfg, Store: st, Registry: prometheus.NewRegistry(), done: make(chan struct{})}
	p.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if p.Vault, err = vault.New(master, st.Keys(), cfg.Clock); err != nil {
		return nil, err
	}
	if err := checkMasterKey(ctx, st, p.Vault); err != nil {
		return nil, err
	}
	p.Tenants = tenant.NewService(store.Narrow[tenant.Tx](st), p.Vault, cfg.Clock)
	token := cfg.AdminToken
	if token == "" && cfg.RotateAdminToken {
		token = tenant.PrefixOperator + base64.RawURLEncoding.EncodeToString(vault.NewMasterKey())
		p.GeneratedAdminToken = token
	}
	gen, err := p.Tenants.InitOperator(ctx, token)
	if err != nil {
		return nil, err
	}
	if gen != "" {
		p.GeneratedAdminToken = gen
	}
	p.Graph = identity.NewGraph(p.Vault.DeriveKey)
	p.Directory = identity.NewDirectory(p.Graph, store.Narrow[identity.Tx](st), cfg.Clock)
	p.Ledger, err = ledger.Open(ctx, store.Narrow[ledger.IntegrationTx](st), p.Vault, cfg.Clock, ledger.Options{
		Origin: cfg.LedgerOrigin, DefaultOrigin: defaultOrigin(cfg.BaseURL), Subject: p.Graph.Subject,
		IntegrateEvery: cfg.IntegrateEvery, Log: cfg.Log, HeadFile: filepath.Join(cfg.DataDir, LedgerHeadFile),
	})
	if err != nil {
		return nil, err
	}
	if rep, err := p.Ledger.SelfCheck(ctx); err != nil {
		// Keep running (the data and consent still work), but serve nothing of the ledger as
		// valid and fail readiness: an operator must look.
		cfg.Log.Error("LEDGER SELF-CHECK FAILED: the ledger is not served", slog.Any("err", err))
	} else {
		// Only what was integrated since the verified state is read at start; `symbiont
		// verify --full` reads everything.
		cfg.Log.Info("ledger self-check passed", slog.Int64("size", rep.Size), slog.Int64("verified_from", rep.From),
			slog.Int64("entries_checked", rep.Entries), slog.Int64("pending", rep.Pending))
	}
	switch {
	case cfg.MaxShared > 0:
		p.Graph.MaxShared = cfg.MaxShared
	case cfg.MaxShared < 0:
		p.Graph.MaxShared = 0 // no guard
	}
	var hooks *consent.Hooks[store.Tx]
	p.Consent, hooks = consent.NewService(st, p.Graph, p.Tenants, p.Ledger, cfg.Clock)
	p.ConsentHooks = hooks
	p.Rewards = rewards.NewService(store.Narrow[rewards.ServiceTx](st), p.Consent, p.Ledger, cfg.Clock)
	p.Rewards.Keys = p.Graph
	p.Catalog = catalog.NewService(store.Narrow[catalog.Tx](st), cfg.Clock)
	hooks.Add(func(ctx context.Context, tx store.Tx, r *consent.Record) error {
		return p.Rewards.OnConsent(ctx, tx, r)
	})
	p.Ingest = ingest.NewService(st, p.Consent, p.Graph, p.Vault, cfg.Clock, cfg.Log, p.Registry, ingest.Options{Writers: writers})
	undo = append(undo, p.Ingest.Close)

	// Listen for other nodes' changes (PostgreSQL) before loading the index, so that nothing
	// committed after the load goes unheard.
	bg, stop := context.WithCancel(context.Background())
	p.stop = stop
	p.listening = make(chan struct{})
	undo = append(undo, func() { stop(); <-p.listening })
	connected := make(chan struct{})
	go func() {
		defer close(p.listening)
		first := true
		st.ListenChanges(bg, func(c store.Change) {
			if c.Kind == store.ChangeConnected && first {
				first = false
				close(connected)
				return
			}
			if err := p.apply(bg, c); err != nil && bg.Err() == nil {
				cfg.Log.Error("applying another node's change", slog.String("kind", c.Kind), slog.Any("err", err))
			}
		}, func(err error) { cfg.Log.Warn("change listener", slog.Any("err", err)) })
	}()
	if st.Shared() {
		select {
		case <-connected:
		case <-time.After(30 * time.Second):
			return nil, errors.New("platform: could not LISTEN for other nodes' changes on PostgreSQL within 30 s")
		}
	}
	n, err := p.Consent.Load(ctx, st)
	if err != nil {
		return nil, fmt.Errorf("platform: load consent index: %w", err)
	}
	cfg.Log.Info("consent index loaded", slog.Int("grants", n))
	p.Access = access.NewService(st, p.Consent, p.Graph, p.Vault, p.Ledger, cfg.Clock)
	p.Recommender = recommender.NewService(p.Access, p.Catalog, filepath.Join(cfg.DataDir, ModelsDir), cfg.Clock, cfg.Log)
	if n, err := p.Recommender.Load(); err != nil {
		return nil, err
	} else if n > 0 {
		cfg.Log.Info("recommendation models loaded", slog.Int("brands", n))
	}

	p.registerGauges()
	if err := p.buildHandlers(st, limits); err != nil {
		return nil, err
	}

	go p.background(bg)
	p.integrating = make(chan struct{})
	go func() { defer close(p.integrating); p.Ledger.Run(bg) }()
	p.scheduling = make(chan struct{})
	go func() {
		defer close(p.scheduling)
		if cfg.TrainCheckInterval < 0 {
			return
		}
		p.Recommender.Run(bg, cmp.Or(cfg.TrainCheckInterval, time.Minute), func(ctx context.Context) ([]int64, error) {
			bs, err := p.Tenants.Brands(ctx)
			ids := make([]int64, len(bs))
			for i, b := range bs {
				ids[i] = b.ID
			}
			return ids, err
		})
	}()
	opened = true
	return p, nil
}

// registerGauges registers the ledger's and the consent index's gauges.
func (p *Platform) registerGauges() {
	p.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "symbiont_ledger_checkpoint_size",
		Help: "Entries in the ledger's newest checkpoint (-1 while the ledger fails its self-check)."}, func() float64 {
		cp, err := p.Ledger.Latest()
		switch {
		case err != nil:
			return -1
		case cp == nil:
			return 0
		}
		return float64(cp.Size)
	}))
	p.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "symbiont_ledger_verified_size",
		Help: "Entries of the ledger checked since they were integrated (the verified state: a start reads only what follows it)."},
		func() float64 { return float64(p.Ledger.Verified()) }))
	p.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "symbiont_consent_index_consumers",
		Help: "Consumers with at least one active grant in the in-memory index."}, func() float64 { return float64(p.Consent.Index.Len()) }))
}

// buildHandlers assembles the API server and the pages over the services.
func (p *Platform) buildHandlers(st store.Store, limits api.Limits) error {
	cfg := p.Config
	svc := api.Services{Tenants: p.Tenants, Consent: p.Consent, Ingest: p.Ingest, Access: p.Access, Ledger: p.Ledger, Rewards: p.Rewards,
		Graph: p.Graph, Directory: p.Directory, Overview: overview.NewService(store.Narrow[overview.Tx](st)),
		Catalog: p.Catalog, Recommender: p.Recommender, Clock: cfg.Clock}
	s := api.NewServer(cfg.Log)
	s.Services = svc
	s.BaseURL, s.Version, s.Limits, s.Registry = cfg.BaseURL, cfg.Version, limits, p.Registry
	s.Ready, s.Engine = p.ready, st.Dialect()
	p.Web = &web.Server{Services: svc, Log: cfg.Log, BaseURL: cfg.BaseURL, Secret: p.Vault.DeriveKey("web-pages"),
		Secure: strings.HasPrefix(cfg.BaseURL, "https://")}
	if err := p.Web.Init(); err != nil {
		return err
	}
	s.Extra = p.Web.Routes
	p.API = s
	p.handler = s.Handler()
	return nil
}

// ready reports why the node cannot take traffic: it is draining, or its store does not answer.
func (p *Platform) ready(ctx context.Context) error {
	if p.draining.Load() {
		return symbiont.Errorf(symbiont.EUNAVAILABLE, "The server is shutting down.")
	}
	if err := p.Store.View(ctx, func(tx store.Tx) error {
		_, err := tx.Setting(ctx, "ping")
		return err
	}); err != nil {
		p.Config.Log.Warn("readiness: store not reachable", "err", err)
		return symbiont.Errorf(symbiont.EUNAVAILABLE, "The store is not reachable.")
	}
	return nil
}

// apply brings this node's caches up to date with a change another node made.
func (p *Platform) apply(ctx context.Context, c store.Change) error {
	switch c.Kind {
	case store.ChangeConsent:
		p.Graph.Forget() // a merge or erasure may have moved identifiers
		return p.Consent.Refresh(ctx, c.BrandID, c.ConsumerID)
	case store.ChangeKey:
		p.Tenants.ForgetKeys()
	case store.ChangePlan:
		p.Ingest.ForgetPlan(c.BrandID)
	case store.ChangeSignals:
		p.Ingest.ForgetSignals(c.BrandID)
	case store.ChangeVocab:
		p.Consent.ForgetVocabulary(c.BrandID)
	case store.ChangeConnected: // reconnected: anything may have been missed
		p.Tenants.ForgetKeys()
		p.Ingest.ForgetPlan(0)
		p.Ingest.ForgetSignals(0)
		p.Consent.ForgetVocabulary(0)
		p.Graph.Forget()
		_, err := p.Consent.Resync(ctx, p.Store)
		return err
	}
	return nil
}

// Handler is the platform's HTTP handler: the API, the ledger and the pages.
func (p *Platform) Handler() http.Handler { return p.handler }

// OpsHandler serves what only operators may see, for a listener of its own (`symbiont serve
// --debug-addr`, bound to loopback or a monitoring network): /metrics, whose counts span every
// tenant, and Go's pprof profiles under /debug/pprof/. It has no authentication.
func (p *Platform) OpsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(p.Registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// Drain marks the platform not ready (readyz fails) so load balancers stop sending traffic.
func (p *Platform) Drain() { p.draining.Store(true) }

// Close stops background work, commits queued events and closes the store. Call it after the
// HTTP server has finished its in-flight requests.
func (p *Platform) Close() error {
	p.closeOnce.Do(func() {
		p.draining.Store(true)
		p.stop()
		<-p.done
		<-p.listening
		<-p.integrating
		<-p.scheduling
		if _, err := p.Ledger.Integrate(context.Background()); err != nil { // what is pending now
			p.Config.Log.Warn("ledger: final integration", slog.Any("err", err))
		}
		p.Ingest.Close()
		p.closeErr = p.Store.Close()
	})
	return p.closeErr
}

func (p *Platform) background(ctx context.Context) {
	defer close(p.done)
	expiry, accrual := p.Config.ExpiryInterval, p.Config.AccrualInterval
	if accrual == 0 {
		accrual = 10 * time.Minute
	}
	if expiry < 0 && accrual < 0 {
		<-ctx.Done()
		return
	}
	tick := func(d time.Duration) <-chan time.Time {
		if d < 0 {
			return nil
		}
		return time.NewTicker(d).C
	}
	expiryC, accrualC := tick(expiry), tick(accrual)
	run := func(job string) {
		var err error
		switch job {
		case "expiry":
			var n int
			if n, err = p.Consent.ExpireDue(ctx); n > 0 {
				p.Config.Log.Info("consent grants expired", slog.Int("count", n))
			}
			if keep := p.Config.IdempotencyRetention; err == nil && keep > 0 {
				var n int64
				before := p.Config.Clock.Now().Add(-keep)
				if n, err = symbiont.PruneIdempotency(ctx, store.Narrow[symbiont.IdempotencyPruneTx](p.Store), before); n > 0 {
					p.Config.Log.Info("idempotency records pruned", slog.Int64("count", n), slog.Time("before", before))
				}
			}
		case "accrual":
			var r *rewards.AccrualResult
			if r, err = p.Rewards.Accrue(ctx); err == nil && r.Points > 0 {
				p.Config.Log.Info("points accrued", slog.Int("grants", r.Grants), slog.Int64("points", r.Points))
			}
			if err == nil {
				var n int64
				if n, err = p.Rewards.ExpirePoints(ctx); n > 0 {
					p.Config.Log.Info("points expired", slog.Int64("points", n))
				}
			}
		}
		if err != nil && ctx.Err() == nil {
			p.Config.Log.Error(job+" job", slog.Any("err", err))
		}
	}
	if expiry >= 0 {
		run("expiry")
	}
	if accrual > 0 {
		run("accrual")
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-expiryC:
			run("expiry")
		case <-accrualC:
			run("accrual")
		}
	}
}

// defaultOrigin is the ledger's origin when none is configured: the base URL without its
// scheme, followed by /ledger (C2SP: the log's URL prefix without the scheme).
func defaultOrigin(baseURL string) string {
	u := strings.TrimSuffix(baseURL, "/")
	if i := strings.Index(u, "://"); i >= 0 {
		u = u[i+3:]
	}
	if u == "" {
		u = "localhost"
	}
	return u + "/ledger"
}

// loadMasterKey reads the master key file, creating it (0600) with a fresh key on first start.
func loadMasterKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		k := vault.NewMasterKey()
		enc := base64.StdEncoding.EncodeToString(k) + "\n"
		f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			return nil, fmt.Errorf("platform: create master key: %w", err)
		}
		if _, err := f.WriteString(enc); err != nil {
			f.Close()
			return nil, err
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, err
		}
		return k, f.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("platform: read master key: %w", err)
	}
	return ParseMasterKey(string(b))
}

// ParseMasterKey decodes a base64 master key (as in master.key or SYMBIONT_MASTER_KEY).
func ParseMasterKey(s string) ([]byte, error) {
	k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil || len(k) != vault.KeySize {
		return nil, fmt.Errorf("platform: the master key must be %d bytes, base64-encoded", vault.KeySize)
	}
	return k, nil
}

const masterKeyCheck = "master_key_check"

// checkMasterKey refuses a master key other than the one the data was written with: with it,
// nothing would open, and consumers would silently look unknown. The first start stores a
// value wrapped by the key; every later start must open it.
func checkMasterKey(ctx context.Context, st store.Store, v *vault.Vault) error {
	return st.Update(ctx, func(tx store.Tx) error {
		w, err := tx.Setting(ctx, masterKeyCheck)
		if err != nil {
			return err
		}
		if w == nil {
			return tx.PutSetting(ctx, masterKeyCheck, v.WrapSecret([]byte("symbiont"), masterKeyCheck))
		}
		if _, err := v.UnwrapSecret(w, masterKeyCheck); err != nil {
			return errors.New("platform: the master key is not the one this data was written with (check SYMBIONT_MASTER_KEY or master.key)")
		}
		return nil
	})
}
