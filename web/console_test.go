package web_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/symbiont/symbiont"
	"github.com/symbiont/symbiont/consent"
	"github.com/symbiont/symbiont/identity"
	"github.com/symbiont/symbiont/ingest"
	"github.com/symbiont/symbiont/platform"
	"github.com/symbiont/symbiont/store"
	"github.com/symbiont/symbiont/store/storetest"
	"github.com/symbiont/symbiont/tenant"
)

const conAdmin = "console-test-admin-token-0123456789"

// conEnv is a platform behind a test server, with two brands.
type conEnv struct {
	t      *testing.T
	p      *platform.Platform
	srv    *httptest.Server
	a, b   *tenant.NewBrand
	clock  *symbiont.FakeClock
	client *http.Client
}

func newConEnv(t *testing.T, dsn ...string) *conEnv {
	t.Helper()
	ctx := context.Background()
	e := &conEnv{t: t, clock: symbiont.NewFakeClock(time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC))}
	cfg := platform.Config{DataDir: t.TempDir(), AdminToken: conAdmin, Clock: e.clock, ExpiryInterval: -1, AccrualInterval: -1}
	if len(dsn) > 0 {
		cfg.PostgresDSN = dsn[0]
	}
	p, err := platform.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.p = p
	e.srv = httptest.NewServer(p.Handler())
	t.Cleanup(func() {
		e.srv.Close()
		if err := p.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	if e.a, err = p.Tenants.CreateBrand(ctx, "Brand A"); err != nil {
		t.Fatal(err)
	}
	if e.b, err = p.Tenants.CreateBrand(ctx, "Brand B"); err != nil {
		t.Fatal(err)
	}
	for _, nb := range []*tenant.NewBrand{e.a, e.b} {
		ref := consent.ConsumerRef{Kind: identity.KindUserID, Value: strings.ToLower(nb.Brand.Name[6:]) + "-user"}
		if _, err := p.Consent.Apply(ctx, []*consent.Change{{BrandID: nb.Brand.ID, Consumer: ref, Category: "purchases", Purpose: "personalization",
			State: consent.StateGiven, DurationDays: 90, Method: consent.MethodBrand, Notice: consent.Notice{ID: "n", Version: "1"},
			Actor: symbiont.Actor{Kind: symbiont.ActorBrand, BrandID: nb.Brand.ID, KeyID: "test"}}}, ""); err != nil {
			t.Fatal(err)
		}
	}
	e.client = e.newClient()
	return e
}

// newClient is a browser: a cookie jar, and redirects not followed (the tests check them).
func (e *conEnv) newClient() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

type conResp struct {
	status   int
	body     string
	location string
	cookies  []*http.Cookie
}

func (e *conEnv) do(c *http.Client, method, path string, form url.Values) conResp {
	e.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, e.srv.URL+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	res, err := c.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return conResp{status: res.StatusCode, body: string(b), location: res.Header.Get("Location"), cookies: res.Cookies()}
}

func (e *conEnv) get(c *http.Client, path string) conResp { return e.do(c, "GET", path, nil) }

// conCSRF is the first csrf token of a page.
func conCSRF(html string) string {
	const marker = `name="csrf" value="`
	i := strings.Index(html, marker)
	if i < 0 {
		return ""
	}
	rest := html[i+len(marker):]
	return rest[:strings.IndexByte(rest, '"')]
}

// login signs c in with credential and returns the response to the form.
func (e *conEnv) login(c *http.Client, credential string) conResp {
	e.t.Helper()
	page := e.get(c, "/console/login")
	if page.status != 200 {
		e.t.Fatalf("GET /console/login: %d", page.status)
	}
	return e.do(c, "POST", "/console/login", url.Values{"csrf": {conCSRF(page.body)}, "credential": {credential}})
}

// post sends a form from the page at from, with that page's CSRF token.
func (e *conEnv) post(c *http.Client, from, path string, form url.Values) conResp {
	e.t.Helper()
	page := e.get(c, from)
	if page.status != 200 {
		e.t.Fatalf("GET %s: %d %.300s", from, page.status, page.body)
	}
	form.Set("csrf", conCSRF(page.body))
	return e.do(c, "POST", path, form)
}

func TestConsoleLogin(t *testing.T) {
	e := newConEnv(t)
	c := e.client
	if r := e.get(c, "/console"); r.status != http.StatusSeeOther || r.location != "/console/login" {
		t.Fatalf("unauthenticated /console: %d → %q, want 303 → /console/login", r.status, r.location)
	}
	if r := e.get(c, "/console/keys"); r.status != http.StatusSeeOther || r.location != "/console/login" {
		t.Fatalf("unauthenticated /console/keys: %d → %q", r.status, r.location)
	}
	page := e.get(c, "/console/login")
	if !strings.Contains(page.body, `<input id="credential" name="credential" type="password"`) {
		t.Fatalf("login form lacks the credential field: %.500s", page.body)
	}
	for _, bad := range []string{"sk_wrong-0123456789abcdefghijklmnopqrstuvwxyz", e.a.WriteKey, "", "op_nope-0123456789abcdef"} {
		r := e.login(c, bad)
		if r.status != http.StatusUnauthorized || !strings.Contains(r.body, `class="error-message"`) {
			t.Errorf("login with %q: %d, want 401 with an error message", bad, r.status)
		}
	}
	r := e.login(c, e.a.SecretKey)
	if r.status != http.StatusSeeOther || r.location != "/console" {
		t.Fatalf("login: %d → %q", r.status, r.location)
	}
	var session *http.Cookie
	for _, ck := range r.cookies {
		if ck.Name == "symbiont_console" {
			session = ck
		}
	}
	if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteStrictMode || strings.Contains(session.Value, e.a.SecretKey) {
		t.Fatalf("session cookie %+v: want HttpOnly, SameSite=Strict, sealed", session)
	}
	ov := e.get(c, "/console")
	if ov.status != 200 {
		t.Fatalf("/console: %d %.500s", ov.status, ov.body)
	}
	for _, want := range []string{`<figure class="chart card" id="chart-consent">`, `<figure class="chart card" id="chart-events">`, `id="liability"`,
		`<svg role="img" aria-labelledby="chart-consent-title chart-consent-desc"`, "<details>", "Brand A", `class="link"`} {
		if !strings.Contains(ov.body, want) {
			t.Errorf("/console lacks %q", want)
		}
	}
	if strings.Contains(ov.body, e.a.SecretKey) {
		t.Error("the page shows the secret key")
	}
	for _, path := range []string{"/console?days=90", "/console/consumers", "/console/consumers?q=a-user", "/console/consumers/a-user",
		"/console/consumers/a-user?purpose=marketing", "/console/plan", "/console/rate-card", "/console/keys"} {
		if r := e.get(c, path); r.status != 200 {
			t.Errorf("%s: %d %.300s", path, r.status, r.body)
		}
	}
	// Chinese.
	req, _ := http.NewRequest("GET", e.srv.URL+"/console", nil)
	req.Header.Set("Accept-Language", "zh-CN,zh;q=0.9")
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	zh, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(zh), "积分负债") || !strings.Contains(string(zh), `lang="zh-CN"`) {
		t.Errorf("the overview in Chinese: %.300s", zh)
	}

	// Revoking the key signs the console out at once.
	if err := e.p.Tenants.RevokeKey(context.Background(), e.a.Brand.ID, keyID(t, e, e.a.Brand.ID, "default", tenant.KindSecret)); err != nil {
		t.Fatal(err)
	}
	if r := e.get(c, "/console"); r.status != http.StatusSeeOther || r.location != "/console/login" {
		t.Errorf("after revocation /console: %d → %q", r.status, r.location)
	}
}

func keyID(t *testing.T, e *conEnv, brandID int64, name, kind string) string {
	keys, err := e.p.Tenants.Keys(context.Background(), brandID)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if k.Name == name && k.Kind == kind {
			return k.ID
		}
	}
	t.Fatalf("no key %s", name)
	return ""
}

func TestConsoleCSRF(t *testing.T) {
	e := newConEnv(t)
	c := e.client
	// The sign-in form: a missing or foreign token is refused.
	e.get(c, "/console/login")
	if r := e.do(c, "POST", "/console/login", url.Values{"credential": {e.a.SecretKey}, "csrf": {"0123"}}); r.status != http.StatusForbidden {
		t.Errorf("login with a bad token: %d, want 403", r.status)
	}
	other := e.newClient()
	tok := conCSRF(e.get(other, "/console/login").body)
	if r := e.do(c, "POST", "/console/login", url.Values{"credential": {e.a.SecretKey}, "csrf": {tok}}); r.status != http.StatusForbidden {
		t.Errorf("login with another browser's token: %d, want 403", r.status)
	}
	if r := e.login(c, e.a.SecretKey); r.status != http.StatusSeeOther {
		t.Fatalf("login: %d", r.status)
	}
	before, _ := e.p.Ingest.Plan(context.Background(), e.a.Brand.ID)
	r := e.do(c, "POST", "/console/plan", url.Values{"plan": {`{"events":{"X":"purchases"}}`}})
	if r.status != http.StatusForbidden || !strings.Contains(r.body, "error-message") {
		t.Errorf("plan without a token: %d, want 403", r.status)
	}
	// A token from another session (brand B's) does not work either.
	if e.login(other, e.b.SecretKey).status != http.StatusSeeOther {
		t.Fatal("login B")
	}
	tokB := conCSRF(e.get(other, "/console/plan").body)
	if r := e.do(c, "POST", "/console/plan", url.Values{"plan": {`{"events":{"X":"purchases"}}`}, "csrf": {tokB}}); r.status != http.StatusForbidden {
		t.Errorf("plan with another session's token: %d, want 403", r.status)
	}
	req, _ := http.NewRequest("POST", e.srv.URL+"/console/logout", strings.NewReader("csrf="+conCSRF(e.get(c, "/console").body)))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	if res, err := c.Do(req); err != nil || res.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site form: %v %v, want 403", res.StatusCode, err)
	}
	after, _ := e.p.Ingest.Plan(context.Background(), e.a.Brand.ID)
	if after.Version != before.Version {
		t.Error("a refused form changed the plan")
	}
}

func TestConsoleTenantIsolation(t *testing.T) {
	e := newConEnv(t)
	c := e.client
	e.login(c, e.a.SecretKey)
	if r := e.get(c, "/console/consumers/a-user?purpose=personalization"); r.status != 200 {
		t.Fatalf("own consumer: %d", r.status)
	}
	if r := e.get(c, "/console/consumers/b-user?purpose=personalization"); r.status != http.StatusNotFound {
		t.Errorf("brand A opening brand B's consumer: %d, want 404", r.status)
	}
	if r := e.get(c, "/console/consumers?q=b-user"); r.status != 200 || strings.Contains(r.body, "/console/consumers/b-user") {
		t.Errorf("brand A's search finds brand B's consumer: %d", r.status)
	}
	// Brand A's key cannot choose another brand (the operator's form).
	if r := e.post(c, "/console", "/console/brands", url.Values{"brand": {e.b.Brand.PublicID}}); r.status != http.StatusForbidden {
		t.Errorf("brand key choosing brand B: %d, want 403", r.status)
	}
	if r := e.get(c, "/console"); !strings.Contains(r.body, "Brand A") || strings.Contains(r.body, "Brand B") {
		t.Error("brand A's console shows brand B")
	}
	// The read was recorded, for brand A's consumer only.
	var n int
	for _, nb := range []*tenant.NewBrand{e.a, e.b} {
		cid := consumerID(t, e, nb.Brand.ID, strings.ToLower(nb.Brand.Name[6:])+"-user")
		log, err := e.p.Access.Log(context.Background(), nb.Brand.ID, cid, 10)
		if err != nil {
			t.Fatal(err)
		}
		if nb == e.a {
			n = len(log)
		} else if len(log) != 0 {
			t.Errorf("brand B's consumer has %d access records", len(log))
		}
	}
	if n == 0 {
		t.Error("the console's read was not recorded in the access log")
	}

	// The operator chooses a brand, and sees it.
	op := e.newClient()
	if r := e.login(op, conAdmin); r.status != http.StatusSeeOther || r.location != "/console/brands" {
		t.Fatalf("operator login: %d → %q", r.status, r.location)
	}
	if r := e.get(op, "/console"); r.status != http.StatusSeeOther || r.location != "/console/brands" {
		t.Errorf("operator without a brand: %d → %q", r.status, r.location)
	}
	if r := e.post(op, "/console/brands", "/console/brands", url.Values{"brand": {e.b.Brand.PublicID}}); r.status != http.StatusSeeOther {
		t.Fatalf("operator choosing brand B: %d", r.status)
	}
	if r := e.get(op, "/console/consumers/b-user"); r.status != 200 || !strings.Contains(r.body, "Operator") {
		t.Errorf("operator on brand B's consumer: %d", r.status)
	}
	if r := e.post(op, "/console/brands", "/console/brands/create", url.Values{"name": {"Brand C"}}); r.status != 200 || !strings.Contains(r.body, `id="new-key"`) {
		t.Errorf("operator creating a brand: %d", r.status)
	}
}

func consumerID(t *testing.T, e *conEnv, brandID int64, user string) int64 {
	t.Helper()
	var id int64
	err := e.p.Store.View(context.Background(), func(tx store.Tx) (err error) {
		id, _, err = e.p.Graph.Resolve(context.Background(), tx, brandID, identity.KindUserID, user, false, e.clock.Now())
		return err
	})
	if err != nil || id == 0 {
		t.Fatalf("consumer %s: %d %v", user, id, err)
	}
	return id
}

func TestConsolePlan(t *testing.T) {
	e := newConEnv(t)
	c := e.client
	e.login(c, e.a.SecretKey)
	page := e.get(c, "/console/plan")
	if !strings.Contains(page.body, `<textarea id="plan" name="plan"`) {
		t.Fatalf("no plan editor: %.300s", page.body)
	}
	r := e.post(c, "/console/plan", "/console/plan", url.Values{"plan": {`{"events":{"Order Completed":"purchases"},"traits":{"email":"contact"}}`}})
	if r.status != http.StatusSeeOther || !strings.HasPrefix(r.location, "/console/plan?done=plan_saved") {
		t.Fatalf("valid plan: %d → %q %.300s", r.status, r.location, r.body)
	}
	if p := e.get(c, r.location); !strings.Contains(p.body, `class="flash"`) || !strings.Contains(p.body, "Order Completed") {
		t.Error("after saving: no flash or the plan is not shown")
	}
	plan, _ := e.p.Ingest.Plan(context.Background(), e.a.Brand.ID)
	if plan.Events["Order Completed"] != "purchases" || plan.Traits["email"] != "contact" {
		t.Fatalf("saved plan: %+v", plan)
	}
	for _, bad := range []string{`{"events": {"Broken": `, `{"events":{"X":"no_such_category"}}`, `{"event":{}}`} {
		r := e.post(c, "/console/plan", "/console/plan", url.Values{"plan": {bad}})
		if r.status != http.StatusBadRequest || !strings.Contains(r.body, `class="error-message"`) {
			t.Errorf("invalid plan %q: %d, want 400 with an error", bad, r.status)
		}
		if !strings.Contains(r.body, "Broken") && strings.Contains(bad, "Broken") {
			t.Error("the editor does not keep what was typed")
		}
	}
	after, _ := e.p.Ingest.Plan(context.Background(), e.a.Brand.ID)
	if after.Version != plan.Version {
		t.Error("an invalid plan changed the plan")
	}
	// A term.
	r = e.post(c, "/console/plan", "/console/plan/terms", url.Values{"kind": {"category"}, "name": {"spa_visits"}, "label": {"Spa visits"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("add term: %d %.300s", r.status, r.body)
	}
	v, _ := e.p.Consent.Vocabulary(context.Background(), e.a.Brand.ID)
	if _, ok := v.Category("spa_visits"); !ok {
		t.Error("the term was not added")
	}
	// A key without the tracking-plan scope cannot edit it.
	secret, _, err := e.p.Tenants.CreateKey(context.Background(), e.a.Brand.ID, tenant.KindSecret, "reader", []string{tenant.ScopeData})
	if err != nil {
		t.Fatal(err)
	}
	rc := e.newClient()
	e.login(rc, secret)
	if r := e.get(rc, "/console/plan"); r.status != http.StatusForbidden {
		t.Errorf("data-only key on /console/plan: %d, want 403", r.status)
	}
	tok := conCSRF(e.get(rc, "/console/consumers").body)
	if r := e.do(rc, "POST", "/console/plan", url.Values{"plan": {`{"events":{}}`}, "csrf": {tok}}); r.status != http.StatusForbidden {
		t.Errorf("data-only key saving the plan: %d, want 403", r.status)
	}
}

func TestConsoleLogoutAndKeys(t *testing.T) {
	e := newConEnv(t)
	c := e.client
	e.login(c, e.a.SecretKey)
	r := e.post(c, "/console/keys", "/console/keys", url.Values{"name": {"ci"}, "kind": {"secret"}, "scopes": {"data"}})
	if r.status != http.StatusCreated || !strings.Contains(r.body, `id="new-key"`) {
		t.Fatalf("create key: %d %.300s", r.status, r.body)
	}
	ci := keyID(t, e, e.a.Brand.ID, "ci", tenant.KindSecret)
	r = e.post(c, "/console/keys", "/console/keys/"+ci+"/revoke", url.Values{})
	if r.status != http.StatusSeeOther {
		t.Fatalf("revoke: %d", r.status)
	}
	keys, _ := e.p.Tenants.Keys(context.Background(), e.a.Brand.ID)
	for _, k := range keys {
		if k.ID == ci && k.RevokedAt.IsZero() {
			t.Error("the key was not revoked")
		}
	}
	self := keyID(t, e, e.a.Brand.ID, "default", tenant.KindSecret)
	if r := e.post(c, "/console/keys", "/console/keys/"+self+"/revoke", url.Values{}); r.status != http.StatusConflict {
		t.Errorf("revoking the signed-in key: %d, want 409", r.status)
	}

	r = e.post(c, "/console", "/console/logout", url.Values{})
	if r.status != http.StatusSeeOther || !strings.HasPrefix(r.location, "/console/login") {
		t.Fatalf("logout: %d → %q", r.status, r.location)
	}
	if r := e.get(c, "/console"); r.status != http.StatusSeeOther || r.location != "/console/login" {
		t.Errorf("after logout /console: %d → %q", r.status, r.location)
	}
}

// TestConsoleOverviewCounts checks the overview's aggregates on both stores: the consent rate
// replayed from history, stored events per day, and the ingestion tallies.
func TestConsoleOverviewCounts(t *testing.T) {
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) {
			var e *conEnv
			if name == "postgres" {
				e = newConEnv(t, storetest.PostgresDSN(t))
			} else {
				e = newConEnv(t)
			}
			ctx := context.Background()
			e.p.Ingest.CountResult(e.a.Brand.ID, &ingest.Result{Accepted: 3, Dropped: []ingest.Drop{{Reason: ingest.ReasonNoConsent}, {Reason: ingest.ReasonNoConsent}}})
			if err := e.p.Ingest.FlushCounts(ctx); err != nil {
				t.Fatal(err)
			}
			e.p.Ingest.CountResult(e.a.Brand.ID, &ingest.Result{Dropped: []ingest.Drop{{Reason: ingest.ReasonNotInPlan}}})
			if err := e.p.Ingest.FlushCounts(ctx); err != nil {
				t.Fatal(err)
			}
			counts, err := e.p.Ingest.DailyCounts(ctx, e.a.Brand.ID, e.clock.Now().AddDate(0, 0, -1))
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]int64{}
			for _, c := range counts {
				got[c.Outcome] += c.Count
			}
			if got[ingest.OutcomeAccepted] != 3 || got[ingest.ReasonNoConsent] != 2 || got[ingest.ReasonNotInPlan] != 1 {
				t.Errorf("tallies: %v", got)
			}
			if other, _ := e.p.Ingest.DailyCounts(ctx, e.b.Brand.ID, e.clock.Now().AddDate(0, 0, -1)); len(other) != 0 {
				t.Errorf("brand B sees brand A's tallies: %v", other)
			}
			e.login(e.client, e.a.SecretKey)
			r := e.get(e.client, "/console")
			if r.status != 200 {
				t.Fatalf("/console: %d %.300s", r.status, r.body)
			}
			// One consumer with a purchases × personalization grant: 100% today.
			if !strings.Contains(r.body, `<td class="num">100%</td></tr></tbody>`) {
				t.Errorf("the consent table does not end at 100%%")
			}
			if !strings.Contains(r.body, `<td class="num">2</td>`) {
				t.Errorf("the events table lacks the 2 dropped for no consent")
			}
		})
	}
}
