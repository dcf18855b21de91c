// Package api is Symbiont's JSON HTTP API: routing (Go 1.22 patterns), authentication of the
// operator token, brand keys and wallet tokens, size and rate limits, and the mapping of errors
// to statuses. Business rules live in the services it calls.
package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/symbiont/symbiont"
	"github.com/symbiont/symbiont/access"
	"github.com/symbiont/symbiont/catalog"
	"github.com/symbiont/symbiont/consent"
	"github.com/symbiont/symbiont/identity"
	"github.com/symbiont/symbiont/ingest"
	"github.com/symbiont/symbiont/ledger"
	"github.com/symbiont/symbiont/overview"
	"github.com/symbiont/symbiont/recommender"
	"github.com/symbiont/symbiont/rewards"
	"github.com/symbiont/symbiont/tenant"
)

// Limits on request bodies. Ingestion limits are Segment's (see package segment).
const (
	MaxJSONBody = 64 << 10
	MaxPlanBody = 1 << 20 // a tracking plan
)

// Limits are the documented per-credential rate limits (requests per second, with a burst of
// twice that). Zero disables a limit.
type Limits struct {
	IngestPerKey  float64 // per write key (or secret key) on the ingestion endpoints
	APIPerKey     float64 // per secret key on the other endpoints
	WalletPerUser float64 // per wallet session
}

// DefaultLimits are the limits `symbiont serve` applies unless told otherwise.
var DefaultLimits = Limits{IngestPerKey: 2000, APIPerKey: 500, WalletPerUser: 20}

// Services are the domain services the API's handlers and the pages (package web) call.
type Services struct {
	Tenants *tenant.Service
	Consent *consent.Service
	Ingest  *ingest.Service
	Access  *access.Service
	Ledger  *ledger.Service
	Rewards *rewards.Service
	Graph   *identity.Graph
	// Directory finds and creates consumers by identifier (the handlers' door to the graph).
	Directory *identity.Directory
	// Overview reads a brand's aggregate figures (the console's charts).
	Overview *overview.Service
	Catalog  *catalog.Service
	// Recommender trains and serves the recommendation models.
	Recommender *recommender.Service
	Clock       symbiont.Clock
}

// Server is the HTTP API.
type Server struct {
	Services
	BaseURL  string // public URL of this server, for wallet links
	Version  string
	Limits   Limits
	Registry *prometheus.Registry
	// Ready reports why the server cannot take traffic (draining, the store unreachable, the
	// ledger failed), nil when it can.
	Ready func(ctx context.Context) error
	// Engine names the store's engine for /readyz ("sqlite" or "postgres").
	Engine string
	// Extra registers more routes on the mux (the web pages, the ledger).
	Extra func(mux *http.ServeMux)

	log      *slog.Logger
	limiter  *limiter
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

// NewServer returns a server; set its fields, then call Handler.
func NewServer(log *slog.Logger) *Server {
	return &Server{log: log, Limits: DefaultLimits, Services: Services{Clock: symbiont.SystemClock{}}}
}

// Handler builds the routes.
func (s *Server) Handler() http.Handler {
	s.limiter = newLimiter(s.Clock)
	s.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "symbiont_http_requests_total", Help: "HTTP requests by route and status."}, []string{"route", "status"})
	s.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "symbiont_http_request_seconds", Help: "HTTP request latency by route.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}}, []string{"route"})
	if s.Registry != nil {
		s.Registry.MustRegister(s.requests, s.latency)
	}
	mux := http.NewServeMux()
	h := func(pattern string, fn func(w http.ResponseWriter, r *http.Request) error) {
		mux.Handle(pattern, s.wrap(pattern, fn))
	}

	// Operations.
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, map[string]string{"status": "ok"}) })
	h("GET /readyz", s.readyz)
	// /metrics is not here: it counts every tenant's traffic, so it is served only on the
	// operations listener (platform.OpsHandler, --debug-addr).

	// Operator.
	h("POST /v1/brands", s.createBrand)
	h("GET /v1/brands", s.listBrands)
	h("GET /v1/brands/{brand}/jwks.json", s.jwks) // public: verifies consent receipts

	// Brand (secret key).
	h("GET /v1/vocabulary", s.vocabulary)
	h("POST /v1/vocabulary", s.putTerm)
	h("GET /v1/tracking-plan", s.getPlan)
	h("PUT /v1/tracking-plan", s.putPlan)
	h("GET /v1/consent-signals", s.getSignalMap)
	h("PUT /v1/consent-signals", s.putSignalMap)
	h("POST /v1/consumers/{id}/consents", s.brandConsent)
	h("GET /v1/consumers/{id}/consents", s.brandConsents)
	h("DELETE /v1/consumers/{id}/consents/{category}/{purpose}", s.brandWithdraw)
	h("GET /v1/consumers/{id}/data", s.brandData)
	h("GET /v1/consumers/{id}/access-log", s.brandAccessLog)
	h("POST /v1/wallet/sessions", s.walletSession)
	h("GET /v1/keys", s.listKeys)
	h("POST /v1/keys", s.createKey)
	h("DELETE /v1/keys/{key}", s.revokeKey)
	h("GET /v1/identity/conflicts", s.conflicts)

	// Consumer (wallet token).
	h("GET /v1/me", s.me)
	h("GET /v1/me/consents", s.myConsents)
	h("POST /v1/me/consents", s.myGrant)
	h("DELETE /v1/me/consents/{category}/{purpose}", s.myWithdraw)
	h("GET /v1/me/data", s.myData)
	h("GET /v1/me/export", s.myExport)
	h("DELETE /v1/me", s.myErase)
	h("GET /v1/me/access-log", s.myLedger)

	// Ingestion, Segment-compatible, with the short paths analytics.js uses.
	for _, p := range []struct{ long, short, typ string }{
		{"batch", "b", ""}, {"track", "t", "track"}, {"identify", "i", "identify"}, {"page", "p", "page"},
		{"screen", "s", "screen"}, {"alias", "a", "alias"}, {"group", "g", "group"},
	} {
		typ := p.typ
		fn := func(w http.ResponseWriter, r *http.Request) error { return s.ingest(w, r, typ) }
		h("POST /v1/"+p.long, fn)
		h("POST /v1/"+p.short, fn)
		mux.HandleFunc("OPTIONS /v1/"+p.long, preflight)
		mux.HandleFunc("OPTIONS /v1/"+p.short, preflight)
	}

	s.ledgerRoutes(h)
	s.rewardRoutes(h)
	s.catalogRoutes(h)
	s.recommendationRoutes(h)

	if s.Extra != nil {
		s.Extra(mux)
	}
	// Unknown API paths and methods get JSON errors rather than the mux's text ones.
	h("/v1/", func(w http.ResponseWriter, r *http.Request) error {
		var allow []string
		for _, m := range []string{"GET", "POST", "PUT", "DELETE"} {
			probe := r.Clone(r.Context())
			probe.Method = m
			if _, pattern := mux.Handler(probe); pattern != "/v1/" {
				allow = append(allow, m)
			}
		}
		if len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			return symbiont.Errorf(symbiont.EMETHOD, "%s is not allowed on %s; use %s.", r.Method, r.URL.Path, strings.Join(allow, " or "))
		}
		return symbiont.Errorf(symbiont.ENOTFOUND, "No such endpoint: %s %s.", r.Method, r.URL.Path)
	})
	return s.middleware(mux)
}

// ingestionPaths are the Segment-compatible endpoints, long and short.
var ingestionPaths = map[string]bool{}

func init() {
	for _, p := range []string{"batch", "b", "track", "t", "identify", "i", "page", "p", "screen", "s", "alias", "a", "group", "g"} {
		ingestionPaths["/v1/"+p] = true
	}
}

// wrap adapts a handler that returns an error, and counts and times it by route.
func (s *Server) wrap(route string, fn func(w http.ResponseWriter, r *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rw := &statusWriter{ResponseWriter: w, status: 200}
		if err := fn(rw, r); err != nil {
			s.writeError(rw, r, err)
		}
		s.requests.WithLabelValues(route, strconv.Itoa(rw.status)).Inc()
		s.latency.WithLabelValues(route).Observe(time.Since(start).Seconds())
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

type ctxKey int

const (
	keyRequestID ctxKey = iota
)

// validRequestID accepts a client's X-Request-Id of up to 100 letters, digits and -_.:
// (it is logged and stored with access records); anything else is replaced.
func validRequestID(id string) bool {
	if id == "" || len(id) > 100 {
		return false
	}
	for _, c := range []byte(id) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':') {
			return false
		}
	}
	return true
}

func requestID(ctx context.Context) string {
	id, _ := ctx.Value(keyRequestID).(string)
	return id
}

// middleware assigns request ids, logs requests, recovers panics and answers 405s in JSON.
func (s *Server) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if !validRequestID(id) {
			b := make([]byte, 8)
			rand.Read(b)
			id = hex.EncodeToString(b)
		}
		w.Header().Set("X-Request-Id", id)
		r = r.WithContext(context.WithValue(r.Context(), keyRequestID, id))
		start := time.Now()
		rw := &statusWriter{ResponseWriter: w, status: 200}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.log.Error("panic", slog.String("request_id", id), slog.Any("panic", p))
				s.writeError(rw, r, errors.New("panic"))
			}
			lvl := slog.LevelInfo
			if ingestionPaths[r.URL.Path] && rw.status < 400 {
				lvl = slog.LevelDebug // ingestion is too hot to log each success
			}
			s.log.Log(r.Context(), lvl, "request", slog.String("request_id", id), slog.String("method", r.Method),
				slog.String("path", s.logPath(r)), slog.Int("status", rw.status), slog.Duration("duration", time.Since(start)))
		}()
		next.ServeHTTP(rw, r)
	})
}

// LogPath is a request path as logs may show it: every segment that follows a "consumers"
// segment (/v1/consumers/{id}/…, /console/consumers/{id}: a brand's user id, maybe an email)
// is replaced by pseudonym(id), a keyed hash. It takes the escaped path, so an id holding an
// encoded slash is one segment.
func LogPath(escapedPath string, pseudonym func(string) string) string {
	if !strings.Contains(strings.ToLower(escapedPath), "consumers/") {
		return escapedPath
	}
	segs := strings.Split(escapedPath, "/")
	for i := 1; i < len(segs); i++ {
		if strings.EqualFold(segs[i-1], "consumers") && segs[i] != "" {
			id, err := url.PathUnescape(segs[i])
			if err != nil {
				id = segs[i]
			}
			segs[i] = pseudonym(id)
		}
	}
	return strings.Join(segs, "/")
}

// logPath is the request's path for the log, consumer ids replaced by their pseudonyms.
func (s *Server) logPath(r *http.Request) string {
	return LogPath(r.URL.EscapedPath(), s.pseudonym)
}

func (s *Server) pseudonym(id string) string {
	if s.Graph == nil {
		return "redacted"
	}
	return s.Graph.Pseudonym(id)
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) error {
	if s.Ready != nil {
		if err := s.Ready(r.Context()); err != nil {
			return err
		}
	}
	if err := s.Ledger.Healthy(); err != nil {
		return symbiont.Errorf(symbiont.EUNAVAILABLE, "%v", err)
	}
	writeJSON(w, 200, map[string]string{"status": "ready", "store": s.Engine, "version": s.Version})
	return nil
}

// decode reads a JSON body of at most MaxJSONBody bytes into v with symbiont.DecodeJSON's rules
// (no unknown fields, no duplicate keys, UTF-8 only). The Content-Type is not checked: curl's
// -d sends a form type, and the body says what it is.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	body, err := readBody(w, r, MaxJSONBody)
	if err != nil {
		return err
	}
	return symbiont.DecodeJSON(body, v)
}

// readBody reads a request body of at most limit bytes.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var maxErr *http.MaxBytesError
		if errors.As(err, &maxErr) {
			return nil, symbiont.Errorf(symbiont.ETOOLARGE, "The request body is larger than %d bytes.", limit)
		}
		return nil, symbiont.Errorf(symbiont.EINVALID, "Could not read the request body.")
	}
	return body, nil
}

// preflight answers CORS preflights for the ingestion endpoints, which browsers' analytics.js
// calls from the brand's own sites.
func preflight(w http.ResponseWriter, r *http.Request) {
	cors(w)
	w.WriteHeader(http.StatusNoContent)
}

func cors(w http.ResponseWriter) {
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Header().Set("Access-Control-Allow-Methods", "POST, OPTIONS")
	// Content-Encoding: an SDK may gzip its batches; AnonymousId: RudderStack's JavaScript SDK
	// sends it with every event (we read the body's anonymousId, not this header).
	w.Header().Set("Access-Control-Allow-Headers", "Authorization, Content-Type, Content-Encoding, Sec-GPC, AnonymousId")
	w.Header().Set("Access-Control-Max-Age", "86400")
}
