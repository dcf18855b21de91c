package web

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/symbiont/symbiont"
	"github.com/symbiont/symbiont/access"
	"github.com/symbiont/symbiont/api"
	"github.com/symbiont/symbiont/consent"
	"github.com/symbiont/symbiont/identity"
	"github.com/symbiont/symbiont/ingest"
	"github.com/symbiont/symbiont/overview"
	"github.com/symbiont/symbiont/tenant"
)

// The brand console. Signing in takes a brand secret key (sk_…) or the operator token
// (op_…); the credential (with the brand the operator chose) is kept sealed in an HttpOnly,
// SameSite=Strict cookie and authenticated again on every request, so revoking a key signs its
// console out at once. Every form carries a CSRF token bound to that credential (the sign-in
// form: to a random pre-session cookie).

const (
	// consoleLoginCookie binds the sign-in form's CSRF token before there is a session.
	consoleLoginCookie = "symbiont_console_login"
	consoleTTL         = 12 * time.Hour
	consoleRefPrefix   = "consumer-ref\x00"
)

// consoleRoutes registers the brand console's pages.
func (s *Server) consoleRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /console/login", s.consoleLoginPage)
	mux.HandleFunc("POST /console/login", s.consoleLogin)
	mux.HandleFunc("POST /console/logout", s.console(false, s.consoleLogout))
	mux.HandleFunc("GET /console/brands", s.console(false, s.brandsPage))
	mux.HandleFunc("POST /console/brands", s.console(false, s.chooseBrand))
	mux.HandleFunc("POST /console/brands/create", s.console(false, s.createBrand))
	mux.HandleFunc("GET /console", s.console(true, s.overview))
	mux.HandleFunc("GET /console/{$}", s.console(true, s.overview))
	mux.HandleFunc("GET /console/consumers", s.console(true, s.consumersPage))
	mux.HandleFunc("GET /console/consumers/{id}", s.console(true, s.consumerPage))
	mux.HandleFunc("GET /console/plan", s.console(true, s.planPage))
	mux.HandleFunc("POST /console/plan", s.console(true, s.savePlan))
	mux.HandleFunc("POST /console/plan/terms", s.console(true, s.addTerm))
	mux.HandleFunc("GET /console/rate-card", s.console(true, s.rateCardPage))
	mux.HandleFunc("POST /console/rate-card", s.console(true, s.saveRateCard))
	mux.HandleFunc("GET /console/catalog", s.console(true, s.catalogPage))
	mux.HandleFunc("POST /console/catalog", s.console(true, s.saveItem))
	mux.HandleFunc("POST /console/catalog/delete", s.console(true, s.deleteItem))
	mux.HandleFunc("GET /console/recommendations", s.console(true, s.recommendationsPage))
	mux.HandleFunc("POST /console/recommendations/train", s.console(true, s.trainNow))
	mux.HandleFunc("POST /console/recommendations/settings", s.console(true, s.saveRecSettings))
	mux.HandleFunc("GET /console/keys", s.console(true, s.keysPage))
	mux.HandleFunc("POST /console/keys", s.console(true, s.createKey))
	mux.HandleFunc("POST /console/keys/{id}/revoke", s.console(true, s.revokeKey))
}

// consoleSession is the signed-in console user.
type consoleSession struct {
	plain    string // what the cookie seals: credential, then the operator's chosen brand
	actor    symbiont.Actor
	operator bool
	brand    *tenant.Brand // nil while the operator has not chosen one
}

// can reports whether the session may use a scope: the operator may do everything.
func (cs *consoleSession) can(scope string) bool { return cs.operator || cs.actor.Can(scope) }

// need fails with forbidden unless the session has the scope.
func (cs *consoleSession) need(p *Page, scope string) error {
	if !cs.can(scope) {
		return symbiont.Errorf(symbiont.EFORBIDDEN, "%s", p.T("console.no_scope", scope))
	}
	return nil
}

func (cs *consoleSession) brandID() int64 {
	if cs.brand == nil {
		return 0
	}
	return cs.brand.ID
}

// actorFor is who the services record: the brand's key, or the operator.
func (cs *consoleSession) who() symbiont.Actor {
	if cs.operator {
		return symbiont.Actor{Kind: symbiont.ActorOperator, BrandID: cs.brandID(), KeyID: "console"}
	}
	return cs.actor
}

type consoleHandler func(w http.ResponseWriter, r *http.Request, cs *consoleSession, p *Page) error

// session opens and authenticates the console cookie.
func (s *Server) session(r *http.Request) (*consoleSession, error) {
	c, err := r.Cookie(consoleCookie)
	if err != nil || c.Value == "" {
		return nil, symbiont.Errorf(symbiont.EUNAUTHORIZED, "not signed in")
	}
	plain, ok := s.open(c.Value)
	if !ok {
		return nil, symbiont.Errorf(symbiont.EUNAUTHORIZED, "bad cookie")
	}
	cred, brand, _ := strings.Cut(plain, "\x00")
	a, err := s.Tenants.Authenticate(r.Context(), cred)
	if err != nil {
		return nil, err
	}
	cs := &consoleSession{plain: plain, actor: a}
	switch {
	case a.Kind == symbiont.ActorOperator:
		cs.operator = true
		if id, err := strconv.ParseInt(brand, 10, 64); err == nil && id > 0 {
			if cs.brand, err = s.Tenants.Brand(r.Context(), id); err != nil && symbiont.ErrorCode(err) != symbiont.ENOTFOUND {
				return nil, err
			}
		}
	case a.Kind == symbiont.ActorBrand && !a.WriteOnly:
		if cs.brand, err = s.Tenants.Brand(r.Context(), a.BrandID); err != nil {
			return nil, err
		}
	default:
		return nil, symbiont.Errorf(symbiont.EUNAUTHORIZED, "not a console credential")
	}
	return cs, nil
}

// console authenticates a console request, builds its page and checks its form.
func (s *Server) console(needBrand bool, fn consoleHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		cs, err := s.session(r)
		if err != nil {
			if code := symbiont.ErrorCode(err); code != symbiont.EUNAUTHORIZED {
				s.fail(w, r, "console", err)
				return
			}
			s.clearCookie(w, consoleCookie, "/console")
			http.Redirect(w, r, "/console/login", http.StatusSeeOther)
			return
		}
		if needBrand && cs.brand == nil {
			http.Redirect(w, r, "/console/brands", http.StatusSeeOther)
			return
		}
		p := s.newPage(r, "console", "")
		p.CSRF = s.csrf("console\x00" + cs.plain)
		if cs.brand != nil {
			p.Brand = cs.brand.Name
			for _, n := range []struct{ href, label string }{{"/console", "console.nav.overview"}, {"/console/consumers", "console.nav.consumers"},
				{"/console/plan", "console.nav.plan"}, {"/console/rate-card", "console.nav.rate_card"}, {"/console/catalog", "console.nav.catalog"},
				{"/console/recommendations", "console.nav.recommendations"}, {"/console/keys", "console.nav.keys"}} {
				cur := r.URL.Path == n.href || (n.href != "/console" && strings.HasPrefix(r.URL.Path, n.href+"/")) || (n.href == "/console" && r.URL.Path == "/console/")
				p.Nav = append(p.Nav, NavItem{Href: n.href, Label: p.T(n.label), Current: cur})
			}
		}
		if cs.operator {
			p.Nav = append(p.Nav, NavItem{Href: "/console/brands", Label: p.T("console.nav.brands"), Current: r.URL.Path == "/console/brands"})
			p.Who = p.T("console.operator")
		} else {
			p.Who = s.keyName(r.Context(), cs)
		}
		if r.Method == http.MethodPost {
			if err := s.checkForm(w, r, "console\x00"+cs.plain); err != nil {
				s.fail(w, r, "console", err)
				return
			}
		}
		if err := fn(w, r, cs, p); err != nil {
			s.fail(w, r, "console", err)
		}
	}
}

// keyName is the signed-in key's name (its prefix when unnamed).
func (s *Server) keyName(ctx context.Context, cs *consoleSession) string {
	keys, err := s.Tenants.Keys(ctx, cs.actor.BrandID)
	if err == nil {
		for _, k := range keys {
			if k.ID == cs.actor.KeyID {
				if k.Name != "" {
					return k.Name
				}
				return k.Prefix + "…"
			}
		}
	}
	return cs.actor.KeyID
}

// --- Signing in and out ---------------------------------------------------------------------

func (s *Server) consoleLoginPage(w http.ResponseWriter, r *http.Request) {
	if _, err := s.session(r); err == nil {
		http.Redirect(w, r, "/console", http.StatusSeeOther)
		return
	}
	s.renderLogin(w, r, "", 0)
}

// renderLogin shows the sign-in form with a fresh pre-session cookie and its CSRF token.
func (s *Server) renderLogin(w http.ResponseWriter, r *http.Request, msg string, status int) {
	var b [16]byte
	rand.Read(b[:])
	pre := hex.EncodeToString(b[:])
	s.setCookie(w, consoleLoginCookie, pre, "/console/login", time.Hour)
	p := s.newPage(r, "console", "console.login.title")
	p.CSRF, p.Error, p.Status = s.csrf("console-login\x00"+pre), msg, status
	s.render(w, "console_login", p)
}

func (s *Server) consoleLogin(w http.ResponseWriter, r *http.Request) {
	c, err := r.Cookie(consoleLoginCookie)
	if err != nil || c.Value == "" {
		s.renderLogin(w, r, translate(language(r), "console.login.expired"), http.StatusForbidden)
		return
	}
	if err := s.checkForm(w, r, "console-login\x00"+c.Value); err != nil {
		s.fail(w, r, "console", err)
		return
	}
	cred := strings.TrimSpace(r.PostForm.Get("credential"))
	bad := translate(language(r), "console.login.bad")
	if !strings.HasPrefix(cred, tenant.PrefixSecret) && !strings.HasPrefix(cred, tenant.PrefixOperator) && cred != "" {
		// Anything else (write keys, wallet tokens) is not for the console; an operator token
		// set through SYMBIONT_ADMIN_TOKEN may have any form, so ask the tenant service.
		if strings.HasPrefix(cred, tenant.PrefixWrite) || strings.HasPrefix(cred, tenant.PrefixWallet) {
			s.renderLogin(w, r, bad, http.StatusUnauthorized)
			return
		}
	}
	a, err := s.Tenants.Authenticate(r.Context(), cred)
	if err != nil || (a.Kind != symbiont.ActorOperator && (a.Kind != symbiont.ActorBrand || a.WriteOnly)) {
		if err != nil && symbiont.ErrorCode(err) != symbiont.EUNAUTHORIZED {
			s.fail(w, r, "console", err)
			return
		}
		s.renderLogin(w, r, bad, http.StatusUnauthorized)
		return
	}
	s.clearCookie(w, consoleLoginCookie, "/console/login")
	s.setCookie(w, consoleCookie, s.seal(cred), "/console", consoleTTL)
	if a.Kind == symbiont.ActorOperator {
		http.Redirect(w, r, "/console/brands", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/console", http.StatusSeeOther)
}

func (s *Server) consoleLogout(w http.ResponseWriter, r *http.Request, cs *consoleSession, p *Page) error {
	s.clearCookie(w, consoleCookie, "/console")
	redirect(w, r, "/console/login", "signed_out")
	return nil
}

// --- Operator: brands -----------------------------------------------------------------------

func (s *Server) brandsPage(w http.ResponseWriter, r *http.Request, cs *consoleSession, p *Page) error {
	return s.renderBrands(w, r, cs, p, nil)
}

func (s *Server) renderBrands(w http.ResponseWriter, r *http.Request, cs *consoleSession, p *Page, created *tenant.NewBrand) error {
	if !cs.operator {
		return symbiont.Errorf(symbiont.EFORBIDDEN, "%s", p.T("console.operator_only"))
	}
	p.Title = p.T("console.nav.brands")
	bs, err := s.Tenants.Brands(r.Context())
	if err != nil {
		return err
	}
	p.Data = map[string]any{"Brands": bs, "Current": cs.brandID(), "Created": created}
	s.render(w, "console_brands", p)
	return nil
}

func (s *Server) chooseBrand(w http.ResponseWriter, r *http.Request, cs *consoleSession, p *Page) error {
	if !cs.operator {
		return symbiont.Errorf(symbiont.EFORBIDDEN, "%s", p.T("console.operator_only"))
	}
	b, err := s.Tenants.BrandByPublicID(r.Context(), r.PostForm.Get("brand"))
	if err != nil {
		return err
	}
	cred, _, _ := strings.Cut(cs.plain, "\x00")
	s.setCookie(w, consoleCookie, s.seal(cred+"\x00"+strconv.FormatInt(b.ID, 10)), "/console", consoleTTL)
	http.Redirect(w, r, "/console", http.StatusSeeOther)
	return nil
}

func (s *Server) createBrand(w http.ResponseWriter, r *http.Request, cs *consoleSession, p *Page) error {
	if !cs.operator {
		return symbiont.Errorf(symbiont.EFORBIDDEN, "%s", p.T("console.operator_only"))
	}
	nb, err := s.Tenants.CreateBrand(r.Context(), r.PostForm.Get("name"))
	if err != nil {
		return err
	}
	p.Flash = p.T("flash.brand_created")
	return s.renderBrands(w, r, cs, p, nb)
}

// --- Overview -------------------------------------------------------------------------------

// OverviewSection is a part of the overview the session may or may not see.
type OverviewSection struct {
	Chart   *Chart
	Denied  string // the scope lacked
	Caption string
}

func (s *Server) overview(w http.ResponseWriter, r *http.Request, cs *consoleSession, p *Page) error {
	p.Title = p.T("console.nav.overview")
	days := 30
	if r.URL.Query().Get("days") == "90" {
		days = 90
	}
	ctx := r.Context()
	bid := cs.brand.ID
	vocab, err := s.Consent.Vocabulary(ctx, bid)
	if err != nil {
		return err
	}
	now := s.Clock.Now().UTC()
	today := now.Truncate(24 * time.Hour)
	start := today.AddDate(0, 0, -(days - 1))
	labels := make([]string, days)
	for i := range labels {
		labels[i] = start.AddDate(0, 0, i).Format("01-02")
	}
	data := map[string]any{"Days": days}

	// Consent rate: the share of the brand's consumers with an active grant, per pair, at the
	// end of each day (or now, for today), from the store's consent counters.
	consentSec := &OverviewSection{}
	if cs.can(tenant.ScopeConsents) {
		cd, err := s.Overview.ConsentDays(ctx, bid, start, days, now)
		if err != nil {
			return err
		}
		consentSec.Chart = consentRates(cd, p, vocab)
		consentSec.Chart.ID, consentSec.Chart.Labels = "chart-consent", labels
		consentSec.Chart.Title = p.T("console.chart.consent.title", days)
		consentSec.Chart.Desc = p.T("console.chart.consent.desc", cd.Total)
		consentSec.Chart.Note = p.T("console.chart.consent.note")
		consentSec.Chart.TableLabel, consentSec.Chart.XHeader = p.T("console.chart.table"), p.T("console.chart.day")
		consentSec.Chart.style()
		data["Consumers"] = cd.Total
	} else {
		consentSec.Denied = tenant.ScopeConsents
	}
	data["Consent"] = consentSec

	// Events: stored (from the event store) and dropped by reason (the ingestion tallies).
	evSec := &OverviewSection{}
	stored, err := s.Overview.StoredEventsPerDay(ctx, bid, start)
	if err != nil {
		return err
	}
	tallies, err := s.Ingest.DailyCounts(ctx, bid, start)
	if err != nil {
		return err
	}
	evSec.Chart = eventCounts(stored, tallies, start, days, p)
	evSec.Chart.ID, evSec.Chart.Labels, evSec.Chart.Stacked = "chart-events", labels, true
	evSec.Chart.Title = p.T("console.chart.events.title", days)
	evSec.Chart.Desc = p.T("console.chart.events.desc")
	evSec.Chart.Note = p.T("console.chart.events.note")
	evSec.Chart.TableLabel, evSec.Chart.XHeader = p.T("console.chart.table"), p.T("console.chart.day")
	evSec.Chart.style()
	data["Events"] = evSec

	if cs.can(tenant.ScopeRewards) {
		rep, err := s.Rewards.Report(ctx, bid)
		if err != nil {
			return err
		}
		data["Report"] = rep
		type grant struct {
			Category, Purpose string
			Active            int64
		}
		var gs []grant
		for _, g := range rep.Grants {
			gs = append(gs, grant{p.label("cat", g.Category, vocab), p.label("pur", g.Purpose, vocab), g.Active})
		}
		data["Grants"] = gs
	} else {
		data["ReportDenied"] = tenant.ScopeRewards
	}
	p.Data = data
	s.render(w, "console_overview", p)
	return nil
}

// consentRates turns the daily counts into the share of consumers with an active grant per
// category × purpose (capped at 1), one series per pair the brand ever recorded.
func consentRates(cd *overview.ConsentDays, p *Page, vocab symbiont.Vocabulary) *Chart {
	order := make([]int, len(cd.Pairs))
	for i := range order {
		order[i] = i
	}
	key := func(i int) string { return cd.Pairs[i].Category + "/" + cd.Pairs[i].Purpose }
	sort.Slice(order, func(a, b int) bool { return key(order[a]) < key(order[b]) })
	series := make([]Series, len(order))
	for si, i := range order {
		pr := cd.Pairs[i]
		series[si] = Series{Name: p.label("cat", pr.Category, vocab) + " · " + p.label("pur", pr.Purpose, vocab), Values: make([]float64, len(cd.Consumers))}
		for d, born := range cd.Consumers {
			if born > 0 {
				series[si].Values[d] = min(1, float64(cd.Active[i][d])/float64(born))
			}
		}
	}
	return &Chart{Series: series, Percent: true}
}

// eventCounts builds the stacked daily bars: stored events, then each drop reason.
func eventCounts(stored, tallies []overview.IngestCount, start time.Time, days int, p *Page) *Chart {
	day := func(t time.Time) int { return int(t.UTC().Truncate(24*time.Hour).Sub(start) / (24 * time.Hour)) }
	accepted := Series{Name: p.T("console.events.accepted"), Values: make([]float64, days), Color: "#116329"}
	for _, c := range stored {
		if d := day(c.Day); d >= 0 && d < days {
			accepted.Values[d] += float64(c.Count)
		}
	}
	reasons := []string{ingest.ReasonNoConsent, ingest.ReasonNotInPlan, ingest.ReasonUnknown, ingest.ReasonInvalid}
	colors := []string{"#a40e26", "#b34700", "#8250df", "#57606a"}
	drops := map[string][]float64{}
	for _, c := range tallies {
		if c.Outcome == ingest.OutcomeAccepted {
			continue
		}
		if drops[c.Outcome] == nil {
			drops[c.Outcome] = make([]float64, days)
			if !contains(reasons, c.Outcome) {
				reasons = append(reasons, c.Outcome)
			}
		}
		if d := day(c.Day); d >= 0 && d < days {
			drops[c.Outcome][d] += float64(c.Count)
		}
	}
	ch := &Chart{Series: []Series{accepted}}
	for i, r := range reasons {
		v := drops[r]
		if v == nil {
			v = make([]float64, days)
		}
		col := "#1b6b73"
		if i < len(colors) {
			col = colors[i]
		}
		ch.Series = append(ch.Series, Series{Name: p.T("console.events.dropped", p.T("console.reason."+r)), Values: v, Color: col})
	}
	return ch
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// --- Consumers ------------------------------------------------------------------------------

// Match is a consumer a search found.
type Match struct {
	Href, Label string
}

func (s *Server) consumersPage(w http.ResponseWriter, r *http.Request, cs *consoleSession, p *Page) error {
	if err := cs.need(p, tenant.ScopeData); err != nil {
		return err
	}
	p.Title = p.T("console.nav.consumers")
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	data := map[string]any{"Q": q}
	if q != "" {
		matches, err := s.findConsumers(r.Context(), cs.brand.ID, q, p)
		if err != nil {
			return err
		}
		data["Matches"], data["Searched"] = matches, true
	}
	p.Data = data
	s.render(w, "console_consumers", p)
	return nil
}

// findConsumers looks q up as a user id, an email address or a phone number, through the
// identity graph's keyed hashes (nothing is stored in clear to search).
func (s *Server) findConsumers(ctx context.Context, brandID int64, q string, p *Page) ([]Match, error) {
	var out []Match
	id, err := s.Directory.Consumer(ctx, brandID, identity.KindUserID, q)
	if err != nil && symbiont.ErrorCode(err) != symbiont.EINVALID {
		return nil, err
	}
	if id != 0 {
		out = append(out, Match{Href: "/console/consumers/" + url.PathEscape(q), Label: p.T("console.match.user_id", q)})
	}
	for _, kind := range []string{identity.KindEmail, identity.KindPhone} {
		ids, err := s.Directory.Linked(ctx, brandID, kind, q)
		if err != nil {
			return nil, err
		}
		for i, cid := range ids {
			ref := s.seal(consoleRefPrefix + strconv.FormatInt(brandID, 10) + "\x00" + strconv.FormatInt(cid, 10))
			out = append(out, Match{Href: "/console/consumers/" + ref + "?id_type=ref", Label: p.T("console.match."+kind, q, i+1)})
		}
	}
	return out, nil
}

// consumerID resolves the consumer a console URL names: the brand's user id, an anonymous id
// (?id_type=anonymous_id) or a sealed reference a search handed out (?id_type=ref), which
// only opens for the brand it was made for.
func (s *Server) consumerID(r *http.Request, brandID int64) (int64, error) {
	id := r.PathValue("id")
	notFound := symbiont.Errorf(symbiont.ENOTFOUND, "No consumer %q is known to this brand.", id)
	switch r.URL.Query().Get("id_type") {
	case "ref":
		plain, ok := s.open(id)
		rest, ok2 := strings.CutPrefix(plain, consoleRefPrefix)
		b, c, ok3 := strings.Cut(rest, "\x00")
		if !ok || !ok2 || !ok3 || b != strconv.FormatInt(brandID, 10) {
			return 0, notFound
		}
		cid, err := strconv.ParseInt(c, 10, 64)
		if err != nil {
			return 0, notFound
		}
		return cid, nil
	case "", "user_id", "anonymous_id":
	default:
		return 0, symbiont.Errorf(symbiont.EINVALID, "id_type must be user_id, anonymous_id or ref.")
	}
	kind := identity.KindUserID
	if r.URL.Query().Get("id_type") == "anonymous_id" {
		kind = identity.KindAnonymousID
	}
	cid, err := s.Directory.Consumer(r.Context(), brandID, kind, id)
	if err == nil && cid == 0 {
		err = notFound
	}
	return cid, err
}

// DataGroup is one category of a purpose-bound read.
type DataGroup struct {
	Category, Label string
	Items           []DataItem
}

// DataItem is one record of a DataGroup.
type DataItem struct{ Summary, JSON string }

func (s *Server) consumerPage(w http.ResponseWriter, r *http.Request, cs *consoleSession, p *Page) error {
	if err := cs.need(p, tenant.ScopeData); err != nil {
		return err
	}
	ctx := r.Context()
	bid := cs.brand.ID
	cid, err := s.consumerID(r, bid)
	if err != nil {
		return err
	}
	vocab, err := s.Consent.Vocabulary(ctx, bid)
	if err != nil {
		return err
	}
	purpose := r.URL.Query().Get("purpose")
	if purpose == "" {
		purpose = "personalization"
	}
	// The one door: the read is decided by consent and recorded in the access log and ledger.
	d, err := s.Access.Read(ctx, access.Request{BrandID: bid, ConsumerID: cid, Purpose: purpose, Actor: cs.who(), RequestID: "console-" + newKey()[4:]})
	if err != nil {
		return err
	}
	var groups []DataGroup
	for c, items := range d.Data {
		g := DataGroup{Category: c, Label: p.label("cat", c, vocab)}
		for _, raw := range items {
			var pretty bytes.Buffer
			if json.Indent(&pretty, raw, "", "  ") != nil {
				pretty.Reset()
			}
			g.Items = append(g.Items, DataItem{Summary: summarize(raw), JSON: pretty.String()})
		}
		groups = append(groups, g)
	}
	sort.Slice(groups, func(a, b int) bool { return groups[a].Category < groups[b].Category })
	type withheld struct{ Category, Label, Reason string }
	var wh []withheld
	for _, x := range d.Withheld {
		wh = append(wh, withheld{x.Category, p.label("cat", x.Category, vocab), p.T("console.withheld." + x.Reason)})
	}
	type purposeOpt struct {
		Name, Label string
		Selected    bool
	}
	var purps []purposeOpt
	for _, pd := range vocab.Purposes {
		purps = append(purps, purposeOpt{pd.Name, p.label("pur", pd.Name, vocab), pd.Name == purpose})
	}
	data := map[string]any{"ID": r.PathValue("id"), "IDType": r.URL.Query().Get("id_type"), "Purpose": purpose,
		"PurposeLabel": p.label("pur", purpose, vocab), "Purposes": purps, "Groups": groups, "Withheld": wh, "Truncated": d.Truncated}
	if cs.can(tenant.ScopeConsents) {
		cur, err := s.Consent.Current(ctx, bid, cid)
		if err != nil {
			return err
		}
		type row struct {
			Category, Purpose, State, Method string
			Active                           bool
			At, ExpiresAt                    time.Time
			ReceiptID                        string
		}
		now := s.Clock.Now()
		var rows []row
		for _, c := range cur {
			rows = append(rows, row{p.label("cat", c.Category, vocab), p.label("pur", c.Purpose, vocab), c.State, c.Method, c.Active(now), c.At, c.ExpiresAt, c.ReceiptID})
		}
		data["Consents"] = rows
	}
	log, err := s.Access.Log(ctx, bid, cid, 100)
	if err != nil {
		return err
	}
	data["Log"] = log
	p.Title = p.T("console.consumer.title", r.PathValue("id"))
	if r.URL.Query().Get("id_type") == "ref" {
		p.Title = p.T("console.consumer.title_ref")
	}
	p.Data = data
	s.render(w, "console_consumer", p)
	return nil
}

// --- Tracking plan and vocabulary -----------------------------------------------------------

func (s *Server) planPage(w http.ResponseWriter, r *http.Request, cs *consoleSession, p *Page) error {
	if err := cs.need(p, tenant.ScopeTrackingPlan); err != nil {
		return err
	}
	return s.renderPlan(w, r, cs, p, nil, 0)
}

// renderPlan shows the plan editor: the stored plan, or text the user sent (with its error).
func (s *Server) renderPlan(w http.ResponseWriter, r *http.Request, cs *consoleSession, p *Page, text *string, status int) error {
	p.Title = p.T("console.nav.plan")
	plan, err := s.Ingest.Plan(r.Context(), cs.brand.ID)
	if err != nil {
		return err
	}
	vocab, err := s.Consent.Vocabulary(r.Context(), cs.brand.ID)
	if err != nil {
		return err
	}
	body := ""
	if text != nil {
		body = *text
	} else {
		b, _ := json.MarshalIndent(struct {
			Events map[string]string `json:"events"`
			Traits map[string]string `json:"traits"`
		}{plan.Events, plan.Traits}, "", "  ")
		body = string(b)
	}
	p.Status = status
	p.Data = map[string]any{"Plan": body, "Version": plan.Version, "Vocab": vocab, "Events": len(plan.Events), "Traits": len(plan.Traits)}
	s.render(w, "console_plan", p)
	return nil
}

// formError renders the form's page again with the error when it is the user's to fix.
func formError(err error) (int, bool) {
	switch code := symbiont.ErrorCode(err); code {
	case symbiont.EINVALID, symbiont.ECONFLICT, symbiont.ETOOLARGE:
		return api.Statuses[code], true
	}
	return 0, false
}

func (s *Server) savePlan(w http.ResponseWriter, r *http.Request, cs *consoleSession, p *Page) error {
	if err := cs.need(p, tenant.ScopeTrackingPlan); err != nil {
		return err
	}
	text := r.PostForm.Get("plan")
	if _, err := s.Ingest.PutPlan(r.Context(), cs.brand.ID, []byte(text)); err != nil {
		st, ok := formError(err)
		if !ok {
			return err
		}
		p.Error = symbiont.ErrorMessage(err)
		return s.renderPlan(w, r, cs, p, &text, st)
	}
	redirect(w, r, "/console/plan", "plan_saved")
	return nil
}

func (s *Server) addTerm(w http.ResponseWriter, r *http.Request, cs *consoleSession, p *Page) error {
	if err := cs.need(p, tenant.ScopeTrackingPlan); err != nil {
		return err
	}
	f := r.PostForm
	t := consent.Term{Kind: f.Get("kind"), Name: strings.TrimSpace(f.Get("name")), Label: strings.TrimSpace(f.Get("label")),
		Description: strings.TrimSpace(f.Get("description")), Sensitive: f.Get("sensitive") == "yes"}
	if err := s.Consent.PutTerm(r.Context(), cs.brand.ID, t); err != nil {
		st, ok := formError(err)
		if !ok {
			return err
		}
		p.Error = symbiont.ErrorMessage(err)
		return s.renderPlan(w, r, cs, p, nil, st)
	}
	redirect(w, r, "/console/plan#vocabulary", "term_saved")
	return nil
}

// --- Rate card ------------------------------------------------------------------------------

func (s *Server) rateCardPage(w http.ResponseWriter, r *http.Request, cs *consoleSession, p *Page) error {
	if err := cs.need(p, tenant.ScopeRewards); err != nil {
		return err
	}
	return s.renderRateCard(w, r, cs, p, nil, 0)
}

func (s *Server) renderRateCard(w http.ResponseWriter, r *http.Request, cs *consoleSession, p *Page, text *string, status int) error {
	p.Title = p.T("console.nav.rate_card")
	card, err := s.Rewards.RateCard(r.Context(), cs.brand.ID, 0)
	if err != nil {
		return err
	}
	cat, err := s.Rewards.Catalog(r.Context(), cs.brand.ID, true)
	if err != nil {
		return err
	}
	var version int64
	body := ""
	if card != nil {
		version = card.Version
		c := *card
		c.Version = 0
		b, _ := json.MarshalIndent(c, "", "  ")
		body = string(b)
	}
	if text != nil {
		body = *text
	}
	p.Status = status
	p.Data = map[string]any{"Card": body, "Version": version, "Catalog": cat}
	s.render(w, "console_rate_card", p)
	return nil
}

func (s *Server) saveRateCard(w http.ResponseWriter, r *http.Request, cs *consoleSession, p *Page) error {
	if err := cs.need(p, tenant.ScopeRewards); err != nil {
		return err
	}
	text := r.PostForm.Get("card")
	if _, err := s.Rewards.PutRateCard(r.Context(), cs.brand.ID, []byte(text)); err != nil {
		st, ok := formError(err)
		if !ok {
			return err
		}
		p.Error = symbiont.ErrorMessage(err)
		return s.renderRateCard(w, r, cs, p, &text, st)
	}
	redirect(w, r, "/console/rate-card", "card_saved")
	return nil
}

// --- Keys -----------------------------------------------------------------------------------

// KeyRow is a key as the keys page lists it.
type KeyRow struct {
	*tenant.Key
	ScopeList string
	Self      bool
}

func (s *Server) keysPage(w http.ResponseWriter, r *http.Request, cs *consoleSession, p *Page) error {
	if err := cs.need(p, tenant.ScopeKeys); err != nil {
		return err
	}
	return s.renderKeys(w, r, cs, p, "", 0)
}

func (s *Server) renderKeys(w http.ResponseWriter, r *http.Request, cs *consoleSession, p *Page, secret string, status int) error {
	p.Title = p.T("console.nav.keys")
	keys, err := s.Tenants.Keys(r.Context(), cs.brand.ID)
	if err != nil {
		return err
	}
	rows := make([]KeyRow, len(keys))
	for i, k := range keys {
		sc := strings.Join(k.Scopes, ", ")
		if len(k.Scopes) == 0 {
			sc = p.T("console.keys.all_scopes")
			if k.Kind == tenant.KindWrite {
				sc = p.T("console.keys.events_only")
			}
		}
		rows[i] = KeyRow{Key: k, ScopeList: sc, Self: !cs.operator && k.ID == cs.actor.KeyID}
	}
	p.Status = status
	p.Data = map[string]any{"Keys": rows, "NewKey": secret, "Scopes": tenant.AllScopes}
	s.render(w, "console_keys", p)
	return nil
}

func (s *Server) createKey(w http.ResponseWriter, r *http.Request, cs *consoleSession, p *Page) error {
	if err := cs.need(p, tenant.ScopeKeys); err != nil {
		return err
	}
	f := r.PostForm
	var scopes []string
	if f.Get("kind") == tenant.KindSecret {
		scopes = f["scopes"]
	}
	var within [][]string
	if !cs.operator {
		within = append(within, cs.actor.Scopes)
	}
	secret, _, err := s.Tenants.CreateKey(r.Context(), cs.brand.ID, f.Get("kind"), strings.TrimSpace(f.Get("name")), scopes, within...)
	if err != nil {
		st, ok := formError(err)
		if !ok && symbiont.ErrorCode(err) != symbiont.EFORBIDDEN {
			return err
		}
		if !ok {
			st = http.StatusForbidden
		}
		p.Error = symbiont.ErrorMessage(err)
		return s.renderKeys(w, r, cs, p, "", st)
	}
	p.Flash = p.T("flash.key_created")
	return s.renderKeys(w, r, cs, p, secret, http.StatusCreated)
}

func (s *Server) revokeKey(w http.ResponseWriter, r *http.Request, cs *consoleSession, p *Page) error {
	if err := cs.need(p, tenant.ScopeKeys); err != nil {
		return err
	}
	id := r.PathValue("id")
	if !cs.operator && id == cs.actor.KeyID {
		return symbiont.Errorf(symbiont.ECONFLICT, "%s", p.T("console.keys.self"))
	}
	if err := s.Tenants.RevokeKey(r.Context(), cs.brand.ID, id); err != nil {
		return err
	}
	redirect(w, r, "/console/keys", "key_revoked")
	return nil
}
