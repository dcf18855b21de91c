package api

import (
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/symbiont/symbiont"
	"github.com/symbiont/symbiont/tenant"
)

// bearer returns the credential of an Authorization: Bearer header.
func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if v, ok := strings.CutPrefix(h, "Bearer "); ok {
		return strings.TrimSpace(v)
	}
	return ""
}

// authenticate resolves the bearer credential and applies its rate limit.
func (s *Server) authenticate(r *http.Request) (symbiont.Actor, error) {
	if r.Header.Get("Authorization") != "" && bearer(r) == "" {
		if _, _, ok := r.BasicAuth(); ok {
			return symbiont.Actor{}, symbiont.Errorf(symbiont.EUNAUTHORIZED, "Use Authorization: Bearer <key> here; HTTP Basic is only for sending events with a write key.")
		}
		return symbiont.Actor{}, symbiont.Errorf(symbiont.EUNAUTHORIZED, "Malformed Authorization header; use Bearer <key>.")
	}
	a, err := s.Tenants.Authenticate(r.Context(), bearer(r))
	if err != nil {
		return a, err
	}
	var rate float64
	switch a.Kind {
	case symbiont.ActorBrand:
		rate = s.Limits.APIPerKey
	case symbiont.ActorConsumer:
		rate = s.Limits.WalletPerUser
	}
	return a, s.limiter.allow("api/"+a.KeyID, rate)
}

// operator requires the operator token.
func (s *Server) operator(r *http.Request) (symbiont.Actor, error) {
	a, err := s.authenticate(r)
	if err != nil {
		return a, err
	}
	if a.Kind != symbiont.ActorOperator {
		return a, symbiont.Errorf(symbiont.EFORBIDDEN, "Only the operator (SYMBIONT_ADMIN_TOKEN) may do this.")
	}
	return a, nil
}

// brand requires a brand secret key with the scope.
func (s *Server) brand(r *http.Request, scope string) (symbiont.Actor, error) {
	a, err := s.authenticate(r)
	if err != nil {
		return a, err
	}
	switch {
	case a.Kind != symbiont.ActorBrand:
		return a, symbiont.Errorf(symbiont.EFORBIDDEN, "This endpoint needs a brand secret key (sk_…).")
	case a.WriteOnly:
		return a, symbiont.Errorf(symbiont.EFORBIDDEN, "Write keys (pk_…) can only send events; use a secret key (sk_…).")
	case !a.Can(scope):
		return a, symbiont.Errorf(symbiont.EFORBIDDEN, "This key lacks the %q scope.", scope).With("scope", scope)
	}
	return a, nil
}

// consumer requires a wallet session token.
func (s *Server) consumer(r *http.Request) (symbiont.Actor, error) {
	a, err := s.authenticate(r)
	if err != nil {
		return a, err
	}
	if a.Kind != symbiont.ActorConsumer {
		return a, symbiont.Errorf(symbiont.EFORBIDDEN, "This endpoint needs a wallet session token (wt_…).")
	}
	return a, nil
}

// writeKeyActor authenticates an ingestion call: a write key as the HTTP Basic user (as
// Segment's libraries send it), a Bearer key, or the writeKey field of the body (analytics.js).
func (s *Server) writeKeyActor(r *http.Request, bodyKey string) (symbiont.Actor, error) {
	key := bearer(r)
	if user, _, ok := r.BasicAuth(); ok {
		key = user
	}
	if key == "" {
		key = bodyKey
	}
	if key == "" {
		return symbiont.Actor{}, symbiont.Errorf(symbiont.EUNAUTHORIZED, "Send the write key as the HTTP Basic user name.")
	}
	if !strings.HasPrefix(key, tenant.PrefixWrite) && !strings.HasPrefix(key, tenant.PrefixSecret) {
		return symbiont.Actor{}, symbiont.Errorf(symbiont.EUNAUTHORIZED, "The write key is not valid.")
	}
	a, err := s.Tenants.Authenticate(r.Context(), key)
	if err != nil {
		return a, err
	}
	if !a.WriteOnly && !a.Can(tenant.ScopeEvents) {
		return a, symbiont.Errorf(symbiont.EFORBIDDEN, "This key lacks the %q scope.", tenant.ScopeEvents)
	}
	return a, s.limiter.allow("ingest/"+a.KeyID, s.Limits.IngestPerKey)
}

// limiter is a token bucket per credential: rate per second, burst of twice the rate.
type limiter struct {
	clock   symbiont.Clock
	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newLimiter(c symbiont.Clock) *limiter { return &limiter{clock: c, buckets: map[string]*bucket{}} }

func (l *limiter) allow(key string, rate float64) error {
	if rate <= 0 || key == "" {
		return nil
	}
	now := l.clock.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) > 100000 {
			clear(l.buckets)
		}
		b = &bucket{tokens: 2 * rate, last: now}
		l.buckets[key] = b
	}
	b.tokens = min(2*rate, b.tokens+now.Sub(b.last).Seconds()*rate)
	b.last = now
	if b.tokens < 1 {
		return symbiont.Errorf(symbiont.ERATELIMITED, "Rate limit of %.0f requests per second exceeded; slow down and retry.", rate).With("limit_per_second", rate)
	}
	b.tokens--
	return nil
}
