package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/symbiont/symbiont"
	"github.com/symbiont/symbiont/api"
	"github.com/symbiont/symbiont/platform"
	"github.com/symbiont/symbiont/store/storetest"
)

const adminToken = "test-admin-token-0123456789"

// env is a running platform behind a real HTTP server, on SQLite in a temp dir (or PostgreSQL).
type env struct {
	t     *testing.T
	p     *platform.Platform
	srv   *httptest.Server
	clock *symbiont.FakeClock
	dir   string
}

func newEnv(t *testing.T) *env { return newEnvWith(t, platform.Config{}) }

// newPostgresEnv is newEnv on a fresh PostgreSQL schema (skipped without PostgreSQL, failed
// under CI=true).
func newPostgresEnv(t *testing.T) *env {
	return newEnvWith(t, platform.Config{PostgresDSN: storetest.PostgresDSN(t)})
}

// eachStore runs a test against the embedded store and against PostgreSQL.
func eachStore(t *testing.T, fn func(t *testing.T, newEnv func(*testing.T) *env)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, newEnv) })
	t.Run("postgres", func(t *testing.T) { fn(t, newPostgresEnv) })
}

func newEnvWith(t *testing.T, cfg platform.Config) *env {
	t.Helper()
	e := &env{t: t, clock: symbiont.NewFakeClock(time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)), dir: t.TempDir()}
	cfg.DataDir, cfg.AdminToken, cfg.Clock, cfg.ExpiryInterval, cfg.AccrualInterval = e.dir, adminToken, e.clock, -1, -1
	if cfg.Limits == nil {
		cfg.Limits = &api.Limits{IngestPerKey: 1e6, APIPerKey: 1e6, WalletPerUser: 1e6}
	}
	p, err := platform.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.p = p
	e.srv = httptest.NewServer(p.Handler())
	p.API.BaseURL = e.srv.URL
	t.Cleanup(func() {
		e.srv.Close()
		if err := p.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return e
}

// resp is a decoded response.
type resp struct {
	Status int
	Body   []byte
	Header http.Header
}

func (r resp) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("response is not a JSON object: %v: %s", err, r.Body)
	}
	return m
}

// errCode returns the error code of an error response, checking its shape.
func (r resp) errCode(t *testing.T) string {
	t.Helper()
	m := r.json(t)
	e, ok := m["error"].(map[string]any)
	if !ok {
		t.Fatalf("not an error body: %s", r.Body)
	}
	if msg, _ := e["message"].(string); msg == "" {
		t.Fatalf("error without a message: %s", r.Body)
	}
	code, _ := e["code"].(string)
	return code
}

type opt func(*http.Request)

func header(k, v string) opt { return func(r *http.Request) { r.Header.Set(k, v) } }
func basic(user string) opt  { return func(r *http.Request) { r.SetBasicAuth(user, "") } }

// do sends a request. auth is a bearer credential ("" for none); body is JSON-encoded unless it
// is a string or []byte.
func (e *env) do(method, path, auth string, body any, opts ...opt) resp {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(buf)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", "Bearer "+auth)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, o := range opts {
		o(req)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{Status: res.StatusCode, Body: b, Header: res.Header}
}

// must is do, failing the test unless the status is want.
func (e *env) must(want int, method, path, auth string, body any, opts ...opt) map[string]any {
	e.t.Helper()
	r := e.do(method, path, auth, body, opts...)
	if r.Status != want {
		e.t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.Status, want, r.Body)
	}
	if len(r.Body) == 0 {
		return nil
	}
	return r.json(e.t)
}

// brand is a brand created through the API, with its keys.
type brand struct {
	ID, SK, PK string
}

func (e *env) newBrand(name string) brand {
	e.t.Helper()
	m := e.must(201, "POST", "/v1/brands", adminToken, map[string]any{"name": name})
	b := brand{ID: m["id"].(string), SK: m["secret_key"].(string), PK: m["write_key"].(string)}
	if !strings.HasPrefix(b.SK, "sk_") || !strings.HasPrefix(b.PK, "pk_") {
		e.t.Fatalf("keys: %v", m)
	}
	return b
}

// hotelPlan is a tracking plan used across tests.
var hotelPlan = map[string]any{
	"events": map[string]string{"Order Completed": "purchases", "Room Booked": "purchases", "Review Submitted": "feedback", "Dietary Need Noted": "health"},
	"traits": map[string]string{"email": "contact", "phone": "contact", "name": "profile", "roomType": "preferences"},
}

func (e *env) setup(name string) brand {
	e.t.Helper()
	b := e.newBrand(name)
	e.must(200, "PUT", "/v1/tracking-plan", b.SK, hotelPlan)
	return b
}

func (e *env) grant(b brand, user, category, purpose string, extra ...map[string]any) map[string]any {
	e.t.Helper()
	body := map[string]any{"category": category, "purpose": purpose, "duration_days": 30}
	for _, x := range extra {
		for k, v := range x {
			body[k] = v
		}
	}
	return e.must(201, "POST", "/v1/consumers/"+user+"/consents", b.SK, body)
}

func (e *env) batch(b brand, msgs ...map[string]any) map[string]any {
	e.t.Helper()
	return e.must(200, "POST", "/v1/batch", "", map[string]any{"batch": msgs}, basic(b.PK))
}

func (e *env) wallet(b brand, user string) string {
	e.t.Helper()
	m := e.must(201, "POST", "/v1/wallet/sessions", b.SK, map[string]any{"consumer": user})
	return m["token"].(string)
}

var msgSeq int

func track(user, event string, props map[string]any) map[string]any {
	msgSeq++
	return map[string]any{"type": "track", "userId": user, "event": event, "properties": props,
		"messageId": "msg-" + user + "-" + event + "-" + strconv.Itoa(msgSeq), "timestamp": "2026-11-01T08:00:00Z"}
}

func dropped(m map[string]any) []map[string]any {
	var out []map[string]any
	for _, d := range m["dropped"].([]any) {
		out = append(out, d.(map[string]any))
	}
	return out
}

func num(v any) int {
	f, _ := v.(float64)
	return int(f)
}
