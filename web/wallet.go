package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html"
	"html/template"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/symbiont/symbiont"
	"github.com/symbiont/symbiont/access"
	"github.com/symbiont/symbiont/consent"
	"github.com/symbiont/symbiont/ledger"
	"github.com/symbiont/symbiont/rewards"
	"github.com/symbiont/symbiont/tenant"
)

func (s *Server) walletRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /wallet", s.wallet(s.share))
	mux.HandleFunc("GET /wallet/{$}", s.wallet(s.share))
	mux.HandleFunc("POST /wallet/consents", s.wallet(s.decide))
	mux.HandleFunc("GET /wallet/for-you", s.wallet(s.forYou))
	mux.HandleFunc("GET /wallet/data", s.wallet(s.myData))
	mux.HandleFunc("GET /wallet/export", s.wallet(s.export))
	mux.HandleFunc("GET /wallet/erase", s.wallet(s.eraseConfirm))
	mux.HandleFunc("POST /wallet/erase", s.wallet(s.erase))
	mux.HandleFunc("GET /wallet/activity", s.wallet(s.activity))
	mux.HandleFunc("GET /wallet/proofs", s.wallet(s.proofs))
	mux.HandleFunc("GET /wallet/rewards", s.wallet(s.rewardsPage))
	mux.HandleFunc("POST /wallet/redeem", s.wallet(s.redeem))
	mux.HandleFunc("POST /wallet/switch", s.wallet(s.switchSession))
	mux.HandleFunc("GET /wallet/signed-out", s.signedOut)
	mux.HandleFunc("GET /lang", s.setLanguage)
}

// walletSession is the signed-in consumer of a wallet request.
type walletSession struct {
	token string
	actor symbiont.Actor
	brand *tenant.Brand
}

// wallet authenticates a wallet request. The link a brand hands out carries ?token=wt_…: it is
// moved into an HttpOnly cookie and the browser redirected to the same page without it, so the
// token does not linger in history, logs or Referer headers. When the browser already holds
// another consumer's wallet session, the link does not replace it silently (anyone can send
// anyone a link to their own wallet): a page asks first (enterWallet).
func (s *Server) wallet(fn func(w http.ResponseWriter, r *http.Request, ws *walletSession, p *Page) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if tok := r.URL.Query().Get("token"); tok != "" && r.Method == http.MethodGet {
			s.enterWallet(w, r, tok)
			return
		}
		c, err := r.Cookie(walletCookie)
		if err != nil || c.Value == "" {
			s.fail(w, r, "wallet", symbiont.Errorf(symbiont.EUNAUTHORIZED, "%s", translate(language(r), "wallet.no_session")))
			return
		}
		a, err := s.walletActor(r, c.Value)
		if err != nil {
			s.clearCookie(w, walletCookie, "/wallet")
			s.fail(w, r, "wallet", err)
			return
		}
		b, err := s.Tenants.Brand(r.Context(), a.BrandID)
		if err != nil {
			s.fail(w, r, "wallet", err)
			return
		}
		ws := &walletSession{token: c.Value, actor: a, brand: b}
		p := s.newPage(r, "wallet", "")
		p.CSRF, p.Brand = s.csrf(c.Value), b.Name
		for _, n := range []struct{ href, label string }{{"/wallet", "nav.share"}, {"/wallet/for-you", "nav.for_you"}, {"/wallet/data", "nav.data"},
			{"/wallet/activity", "nav.activity"}, {"/wallet/rewards", "nav.rewards"}} {
			p.Nav = append(p.Nav, NavItem{Href: n.href, Label: p.T(n.label), Current: r.URL.Path == n.href || (n.href == "/wallet" && r.URL.Path == "/wallet/")})
		}
		if r.Method == http.MethodPost {
			if err := s.checkForm(w, r, c.Value); err != nil {
				s.fail(w, r, "wallet", err)
				return
			}
		}
		if err := fn(w, r, ws, p); err != nil {
			s.fail(w, r, "wallet", err)
		}
	}
}

// enterWallet handles a wallet link (GET …?token=wt_…). The token becomes the session cookie
// and the browser goes on to the page without it, unless the browser already holds a live
// session of another consumer or brand: then the switch page asks which wallet to keep. A new
// link for the same consumer just takes over (a fresher session of the same person).
func (s *Server) enterWallet(w http.ResponseWriter, r *http.Request, tok string) {
	noStore(w)
	a, err := s.walletActor(r, tok)
	if err != nil {
		s.fail(w, r, "wallet", err)
		return
	}
	q := r.URL.Query()
	q.Del("token")
	next, ok := localPath(r.URL.Path + "?" + q.Encode())
	if !ok {
		next = "/wallet"
	}
	if c, err := r.Cookie(walletCookie); err == nil && c.Value != "" && c.Value != tok {
		if cur, err := s.walletActor(r, c.Value); err == nil && (cur.BrandID != a.BrandID || cur.ConsumerID != a.ConsumerID) {
			s.renderSwitch(w, r, c.Value, cur, a, tok, next)
			return
		}
	}
	s.setWalletCookie(w, tok, a)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// setWalletCookie stores a wallet token in its cookie for exactly as long as the session lives.
func (s *Server) setWalletCookie(w http.ResponseWriter, tok string, a symbiont.Actor) {
	left := a.ExpiresAt.Sub(s.Clock.Now())
	if a.ExpiresAt.IsZero() || left > tenant.MaxSessionTTL {
		left = tenant.MaxSessionTTL
	}
	http.SetCookie(w, &http.Cookie{Name: walletCookie, Value: tok, Path: "/wallet", MaxAge: max(1, int(left.Seconds())),
		Expires: s.Clock.Now().Add(left).UTC(), HttpOnly: true, Secure: s.Secure, SameSite: http.SameSiteStrictMode})
}

// noStore keeps an answer that carries or consumes a wallet token out of caches, and the
// address (which holds the token) out of Referer headers.
func noStore(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
}

// renderSwitch is the page that asks before a wallet link replaces the browser's session.
func (s *Server) renderSwitch(w http.ResponseWriter, r *http.Request, curToken string, cur, next symbiont.Actor, tok, dest string) {
	curBrand, err := s.Tenants.Brand(r.Context(), cur.BrandID)
	if err != nil {
		s.fail(w, r, "wallet", err)
		return
	}
	nextBrand, err := s.Tenants.Brand(r.Context(), next.BrandID)
	if err != nil {
		s.fail(w, r, "wallet", err)
		return
	}
	p := s.newPage(r, "wallet", "switch.title")
	p.Path = "/wallet" // the language switch must not carry the token
	p.CSRF, p.Brand = s.csrf(curToken), curBrand.Name
	p.Data = map[string]any{"Current": curBrand.Name, "Next": nextBrand.Name, "SameBrand": cur.BrandID == next.BrandID,
		"Token": tok, "Dest": dest}
	s.render(w, "wallet_switch", p)
}

// switchSession is the switch page's answer: "switch" makes the link's session the browser's;
// anything else keeps the current one. The form is checked like every wallet form (CSRF token
// of the current session, same site), so another site cannot switch sessions.
func (s *Server) switchSession(w http.ResponseWriter, r *http.Request, ws *walletSession, p *Page) error {
	noStore(w)
	if r.PostForm.Get("choice") != "switch" {
		http.Redirect(w, r, "/wallet", http.StatusSeeOther)
		return nil
	}
	tok := r.PostForm.Get("token")
	a, err := s.walletActor(r, tok)
	if err != nil {
		return err
	}
	dest, ok := localPath(r.PostForm.Get("next"))
	if !ok || !strings.HasPrefix(dest, "/wallet") {
		dest = "/wallet"
	}
	s.setWalletCookie(w, tok, a)
	http.Redirect(w, r, dest, http.StatusSeeOther)
	return nil
}

func (s *Server) walletActor(r *http.Request, token string) (symbiont.Actor, error) {
	if !strings.HasPrefix(token, tenant.PrefixWallet) {
		return symbiont.Actor{}, symbiont.Errorf(symbiont.EUNAUTHORIZED, "%s", translate(language(r), "wallet.bad_link"))
	}
	a, err := s.Tenants.Authenticate(r.Context(), token)
	if err != nil {
		return a, symbiont.Errorf(symbiont.EUNAUTHORIZED, "%s", translate(language(r), "wallet.expired"))
	}
	if a.Kind != symbiont.ActorConsumer {
		return a, symbiont.Errorf(symbiont.EUNAUTHORIZED, "%s", translate(language(r), "wallet.bad_link"))
	}
	return a, nil
}

// Card is one category x purpose in "what I share".
type Card struct {
	Category, Purpose           string
	CategoryLabel, PurposeLabel string
	What, Use                   string
	Collected                   []string // event names and traits the tracking plan files under the category
	PagesViewed                 bool     // browsing: pages and screens viewed are collected too
	Sensitive                   bool
	Active                      bool
	State                       string
	Since                       time.Time
	ExpiresAt                   time.Time
	ReceiptID, Receipt          string
	Offer                       *rewards.Offer
	Notice                      string // the text shown, whose hash the grant records
}

// share is "what I share": each category x purpose the brand may ask for, as a card.
func (s *Server) share(w http.ResponseWriter, r *http.Request, ws *walletSession, p *Page) error {
	p.Title = p.T("nav.share")
	cards, err := s.cards(r.Context(), ws, p)
	if err != nil {
		return err
	}
	active := 0
	for _, c := range cards {
		if c.Active {
			active++
		}
	}
	p.Data = map[string]any{"Cards": cards, "Active": active, "GPC": r.Header.Get("Sec-GPC") == "1",
		"Durations": []int{30, 90, 180, 365}}
	s.render(w, "wallet_share", p)
	return nil
}

// cards lists the pairs the brand's rate card pays for, the brand's purposes for the
// categories the consumer already decided on, and anything decided before.
func (s *Server) cards(ctx context.Context, ws *walletSession, p *Page) ([]*Card, error) {
	vocab, err := s.Consent.Vocabulary(ctx, ws.actor.BrandID)
	if err != nil {
		return nil, err
	}
	cur, err := s.Consent.Current(ctx, ws.actor.BrandID, ws.actor.ConsumerID)
	if err != nil {
		return nil, err
	}
	offers, err := s.Rewards.Offers(ctx, ws.actor.BrandID)
	if err != nil {
		return nil, err
	}
	plan, err := s.Ingest.Plan(ctx, ws.actor.BrandID)
	if err != nil {
		return nil, err
	}
	collected := map[string][]string{}
	if plan != nil {
		for ev, cat := range plan.Events {
			collected[cat] = append(collected[cat], ev)
		}
		for tr, cat := range plan.Traits {
			collected[cat] = append(collected[cat], tr)
		}
	}
	for _, v := range collected {
		sort.Strings(v)
	}
	byKey := map[string]*Card{}
	var order []string
	add := func(cat, pur string) *Card {
		k := cat + "/" + pur
		if c := byKey[k]; c != nil {
			return c
		}
		c := &Card{Category: cat, Purpose: pur, CategoryLabel: p.label("cat", cat, vocab), PurposeLabel: p.label("pur", pur, vocab),
			What: p.describe("cat", cat, vocab), Use: p.describe("pur", pur, vocab), Collected: collected[cat], PagesViewed: cat == "browsing"}
		if t, ok := vocab.Category(cat); ok {
			c.Sensitive = t.Sensitive
		}
		byKey[k] = c
		order = append(order, k)
		return c
	}
	for i := range offers {
		c := add(offers[i].Category, offers[i].Purpose)
		c.Offer = &offers[i]
	}
	now := s.Clock.Now()
	for _, rec := range cur {
		c := add(rec.Category, rec.Purpose)
		c.Active, c.State, c.Since, c.ReceiptID, c.Receipt = rec.Active(now), rec.State, rec.At, rec.ReceiptID, rec.Receipt
		c.ExpiresAt = rec.ExpiresAt
	}
	// The essentials every brand has, so a consumer can always see and decide them.
	for _, pair := range [][2]string{{"profile", "service"}, {"contact", "marketing"}, {"browsing", "analytics"}} {
		if _, ok := vocab.Category(pair[0]); ok {
			add(pair[0], pair[1])
		}
	}
	out := make([]*Card, 0, len(order))
	for _, k := range order {
		c := byKey[k]
		c.Notice = p.T("share.notice", c.CategoryLabel, c.PurposeLabel, c.What, c.Use)
		out = append(out, c)
	}
	sort.SliceStable(out, func(a, b int) bool {
		if out[a].Active != out[b].Active {
			return out[a].Active
		}
		return out[a].Category+out[a].Purpose < out[b].Category+out[b].Purpose
	})
	return out, nil
}

// decide grants or withdraws one category x purpose: the one-tap buttons of a card.
func (s *Server) decide(w http.ResponseWriter, r *http.Request, ws *walletSession, p *Page) error {
	f := r.PostForm
	ch := &consent.Change{BrandID: ws.actor.BrandID, Consumer: consent.ConsumerRef{ID: ws.actor.ConsumerID},
		Category: f.Get("category"), Purpose: f.Get("purpose"), Method: consent.MethodWallet, Actor: ws.actor,
		GPC: r.Header.Get("Sec-GPC") == "1"}
	done := ""
	switch f.Get("action") {
	case "grant":
		days, err := strconv.Atoi(f.Get("duration_days"))
		if err != nil || days < 1 || days > 3650 {
			return symbiont.Errorf(symbiont.EINVALID, "%s", p.T("share.bad_duration"))
		}
		ch.State, ch.DurationDays = consent.StateGiven, days
		// The notice is the card's text as shown; its hash goes into the record and receipt.
		cards, err := s.cards(r.Context(), ws, p)
		if err != nil {
			return err
		}
		for _, c := range cards {
			if c.Category == ch.Category && c.Purpose == ch.Purpose {
				sum := sha256.Sum256([]byte(c.Notice))
				ch.Notice = consent.Notice{ID: "symbiont-wallet-card", Version: "1", Hash: "sha256:" + hex.EncodeToString(sum[:]), Language: p.Lang}
				ch.Explicit = c.Sensitive && f.Get("explicit") == "yes"
			}
		}
		if ch.Notice.ID == "" {
			return symbiont.Errorf(symbiont.EINVALID, "%s", p.T("share.unknown_pair"))
		}
		// A browser sending Global Privacy Control has refused marketing and partner sharing;
		// a tap on this card is the consumer's own, explicit choice to the contrary.
		ch.GPCOverride = true
		done = "granted"
	case "withdraw":
		ch.State = consent.StateWithdrawn
		done = "withdrawn"
	default:
		return symbiont.Errorf(symbiont.EINVALID, "%s", p.T("share.bad_action"))
	}
	if _, err := s.Consent.Apply(r.Context(), []*consent.Change{ch}, ""); err != nil {
		vocab, verr := s.Consent.Vocabulary(r.Context(), ws.actor.BrandID)
		if verr != nil {
			return err
		}
		return p.walletError(err, vocab, ch.Category, ch.Purpose, "")
	}
	redirect(w, r, "/wallet#"+ch.Category+"-"+ch.Purpose, done)
	return nil
}

// myData shows everything held about the consumer, by category (the right of access). It
// reads through the one door like the API's GET /v1/me/data, so the read is recorded.
func (s *Server) myData(w http.ResponseWriter, r *http.Request, ws *walletSession, p *Page) error {
	p.Title = p.T("nav.data")
	ex, err := s.Access.Export(r.Context(), access.ExportBrand{}, ws.actor.BrandID, ws.actor.ConsumerID, ws.actor, "")
	if err != nil {
		return err
	}
	vocab, err := s.Consent.Vocabulary(r.Context(), ws.actor.BrandID)
	if err != nil {
		return err
	}
	type item struct {
		Summary, JSON string
	}
	type group struct {
		Category, Label string
		Items           []item
	}
	var groups []group
	cats := make([]string, 0, len(ex.Data))
	for c := range ex.Data {
		cats = append(cats, c)
	}
	sort.Strings(cats)
	total := 0
	for _, c := range cats {
		g := group{Category: c, Label: p.label("cat", c, vocab)}
		for _, raw := range ex.Data[c] {
			var pretty strings.Builder
			var v any
			if json.Unmarshal(raw, &v) == nil {
				b, _ := json.MarshalIndent(v, "", "  ")
				pretty.Write(b)
			}
			g.Items = append(g.Items, item{Summary: summarize(raw), JSON: pretty.String()})
		}
		total += len(g.Items)
		groups = append(groups, g)
	}
	p.Data = map[string]any{"Groups": groups, "Total": total, "Identifiers": ex.Identifiers}
	s.render(w, "wallet_data", p)
	return nil
}

// summarize is a one-line description of a stored event or traits.
func summarize(raw json.RawMessage) string {
	var m map[string]any
	if json.Unmarshal(raw, &m) != nil {
		return ""
	}
	parts := []string{}
	for _, k := range []string{"event", "type", "name"} {
		if v, ok := m[k].(string); ok && v != "" {
			parts = append(parts, v)
			break
		}
	}
	if ts, ok := m["timestamp"].(string); ok {
		if t, err := time.Parse(time.RFC3339Nano, ts); err == nil {
			parts = append(parts, t.UTC().Format("2006-01-02"))
		}
	}
	if props, ok := m["properties"].(map[string]any); ok {
		keys := make([]string, 0, len(props))
		for k := range props {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for i, k := range keys {
			if i == 3 {
				parts = append(parts, "…")
				break
			}
			parts = append(parts, fmt.Sprintf("%s: %v", k, props[k]))
		}
	}
	if traits, ok := m["traits"].(map[string]any); ok {
		keys := make([]string, 0, len(traits))
		for k := range traits {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts = append(parts, strings.Join(keys, ", "))
	}
	return strings.Join(parts, " · ")
}

// export downloads the complete export, like GET /v1/me/export.
func (s *Server) export(w http.ResponseWriter, r *http.Request, ws *walletSession, p *Page) error {
	ex, err := s.Access.Export(r.Context(), access.ExportBrand{ID: ws.brand.PublicID, Name: ws.brand.Name,
		ReceiptKeys: s.BaseURL + "/v1/brands/" + ws.brand.PublicID + "/jwks.json"},
		ws.actor.BrandID, ws.actor.ConsumerID, ws.actor, "")
	if err != nil {
		return err
	}
	return download(w, "symbiont-export.json", ex)
}

func download(w http.ResponseWriter, name string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	sendFile(w, name, b)
	return nil
}

// sendFile answers the JSON b as a file to save.
func sendFile(w http.ResponseWriter, name string, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	w.Header().Set("Cache-Control", "no-store")
	w.Write(append(b, '\n'))
}

func (s *Server) eraseConfirm(w http.ResponseWriter, r *http.Request, ws *walletSession, p *Page) error {
	p.Title = p.T("erase.title")
	sum, err := s.Rewards.Summary(r.Context(), ws.actor.BrandID, ws.actor.ConsumerID, 1)
	if err != nil {
		return err
	}
	p.Data = map[string]any{"Balance": sum.Balance}
	s.render(w, "wallet_erase", p)
	return nil
}

// erase destroys the consumer's data (crypto-shredding), after the confirmation page.
func (s *Server) erase(w http.ResponseWriter, r *http.Request, ws *walletSession, p *Page) error {
	if r.PostForm.Get("confirm") != "erase" {
		return symbiont.Errorf(symbiont.EINVALID, "%s", p.T("erase.unconfirmed"))
	}
	if _, err := s.Access.Erase(r.Context(), ws.actor.BrandID, ws.actor.ConsumerID, ws.actor, ""); err != nil {
		return err
	}
	s.clearCookie(w, walletCookie, "/wallet")
	redirect(w, r, "/wallet/signed-out", "erased")
	return nil
}

func (s *Server) signedOut(w http.ResponseWriter, r *http.Request) {
	p := s.newPage(r, "wallet", "erase.done_title")
	s.render(w, "wallet_signed_out", p)
}

// Use is one line of "who used my data", in plain words, with its proof's verdict.
type Use struct {
	At   time.Time
	Text string
	// HTML is Text with its data (a model version) marked translate="no".
	HTML     template.HTML
	Kind     string
	Verified bool
	Pending  bool
	Problem  string
	Index    int64
}

// activity is "who used my data": every ledger record of the consumer in plain words, each
// checked against the signed checkpoint with the same code `symbiont verify` runs.
func (s *Server) activity(w http.ResponseWriter, r *http.Request, ws *walletSession, p *Page) error {
	p.Title = p.T("nav.activity")
	doc, err := s.ledgerDoc(r.Context(), ws)
	if err != nil {
		return err
	}
	vocab, err := s.Consent.Vocabulary(r.Context(), ws.actor.BrandID)
	if err != nil {
		return err
	}
	var cp *ledger.ParsedCheckpoint
	cpProblem := ""
	if doc.Log.Checkpoint != "" {
		if cp, err = ledger.OpenCheckpoint([]byte(doc.Log.Checkpoint), s.Ledger.VerifierKey()); err != nil {
			cpProblem = err.Error()
		}
	}
	uses := make([]Use, 0, len(doc.Records))
	verified := 0
	for i := range doc.Records {
		x := &doc.Records[i]
		u := Use{At: x.At, Kind: x.Kind, Pending: x.Pending, Text: p.useText(x, vocab)}
		u.HTML = markData(u.Text, useModel(x))
		if x.Index != nil {
			u.Index = *x.Index
		}
		switch err := x.Check(s.Ledger.Origin(), cp); {
		case err != nil:
			u.Problem = err.Error()
		case cpProblem != "" && !x.Pending:
			u.Problem = cpProblem
		case !x.Pending:
			u.Verified = true
			verified++
		}
		uses = append(uses, u)
	}
	// Newest first.
	for a, b := 0, len(uses)-1; a < b; a, b = a+1, b-1 {
		uses[a], uses[b] = uses[b], uses[a]
	}
	p.Data = map[string]any{"Uses": uses, "Verified": verified, "Size": doc.Log.Size, "Origin": doc.Log.Origin, "Key": doc.Log.Key, "BaseURL": s.BaseURL}
	s.render(w, "wallet_activity", p)
	return nil
}

func (s *Server) ledgerDoc(ctx context.Context, ws *walletSession) (*ledger.Export, error) {
	return s.Access.ProofDocument(ctx, ws.actor.BrandID, ws.actor.ConsumerID)
}

// proofs downloads the proof bundle for `symbiont verify` (the same document as
// GET /v1/me/access-log).
func (s *Server) proofs(w http.ResponseWriter, r *http.Request, ws *walletSession, p *Page) error {
	doc, err := s.ledgerDoc(r.Context(), ws)
	if err != nil {
		return err
	}
	// Compact, as GET /v1/me/access-log answers it: indented, the proofs' positions one a line
	// would make a long history's document 28 % larger.
	b, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	sendFile(w, "symbiont-ledger-proofs.json", b)
	return nil
}

// useModel is the model version a ledger record names, if any.
func useModel(x *ledger.ExportRecord) string {
	var d struct {
		Model string `json:"model"`
	}
	json.Unmarshal(x.Details, &d)
	return d.Model
}

// markData escapes text for HTML and marks each occurrence of the data values in it (a model
// version) translate="no": they are names, not words of the page's language.
func markData(text string, data ...string) template.HTML {
	out := html.EscapeString(text)
	for _, v := range data {
		if v == "" {
			continue
		}
		ev := html.EscapeString(v)
		out = strings.ReplaceAll(out, ev, `<span translate="no">`+ev+`</span>`)
	}
	return template.HTML(out)
}

// useText says a ledger record in plain words.
func (p *Page) useText(x *ledger.ExportRecord, vocab symbiont.Vocabulary) string {
	var d map[string]any
	json.Unmarshal(x.Details, &d)
	str := func(k string) string { v, _ := d[k].(string); return v }
	cats := func(k string) string {
		var out []string
		if list, ok := d[k].([]any); ok {
			for _, c := range list {
				if cs, ok := c.(string); ok {
					out = append(out, p.label("cat", cs, vocab))
				}
			}
		}
		if len(out) == 0 {
			return p.T("use.nothing")
		}
		return strings.Join(out, p.T("use.and"))
	}
	who := str("actor")
	switch {
	case strings.HasPrefix(who, "system:"):
		who = p.feature(strings.TrimPrefix(who, "system:"))
	case strings.HasPrefix(who, "brand:") && strings.HasPrefix(x.Kind, "consent."):
		who = p.T("use.brand_by")
	case strings.HasPrefix(who, "brand:"):
		who = p.T("use.brand")
	case strings.HasPrefix(who, "consumer:"):
		who = p.T("use.you")
	case who == "":
		who = p.T("use.brand")
	}
	switch x.Kind {
	case "access.read":
		if m := str("model"); m != "" {
			if strings.HasPrefix(str("actor"), "consumer:") { // the wallet's "For you", opened by the consumer
				who = p.feature("recommendations")
			}
			if list, _ := d["categories"].([]any); len(list) == 0 {
				return p.T("use.read_model_none", who, m, cats("withheld"), p.label("pur", str("purpose"), vocab))
			}
			return p.T("use.read_model", who, m, cats("categories"), p.label("pur", str("purpose"), vocab))
		}
		return p.T("use.read", who, cats("categories"), p.label("pur", str("purpose"), vocab))
	case "access.train":
		pur := str("purpose")
		if pur == "" {
			pur = access.PurposeTraining
		}
		if str("actor") == "system:recommendations" {
			return p.T("use.train_recs", cats("categories"), str("model"), p.label("pur", pur, vocab))
		}
		return p.T("use.train", cats("categories"), who, str("model"), p.label("pur", pur, vocab))
	case "access.export":
		if strings.HasPrefix(str("actor"), "consumer:") {
			return p.T("use.export_self") // the wallet's "my data" page reads through Export too
		}
		return p.T("use.export", who)
	case "access.erase":
		return p.T("use.erase", who)
	case "consent.given", "consent.withdrawn", "consent.expired", "consent.refused":
		return p.T("use."+x.Kind, p.label("cat", str("category"), vocab), p.label("pur", str("purpose"), vocab), who)
	case "rewards.accrual", "rewards.redemption", "rewards.expiry":
		pts, _ := d["points"].(float64)
		return p.T("use."+x.Kind, int64(math.Abs(pts)))
	}
	return p.T("use.kind.other")
}

// rewardsPage is "my rewards": balance, tier, statement and the catalogue to redeem from.
func (s *Server) rewardsPage(w http.ResponseWriter, r *http.Request, ws *walletSession, p *Page) error {
	p.Title = p.T("nav.rewards")
	sum, err := s.Rewards.Summary(r.Context(), ws.actor.BrandID, ws.actor.ConsumerID, 200)
	if err != nil {
		return err
	}
	cat, err := s.Rewards.Catalog(r.Context(), ws.actor.BrandID, false)
	if err != nil {
		return err
	}
	var last *rewards.Redemption
	if code := r.URL.Query().Get("code"); code != "" {
		for _, red := range sum.Redemptions {
			if red.Code == code {
				last = red
			}
		}
	}
	names := map[string]string{}
	for _, rw := range cat {
		names[rw.ID] = rw.Name
	}
	vocab, err := s.Consent.Vocabulary(r.Context(), ws.actor.BrandID)
	if err != nil {
		return err
	}
	// Every line in the page's language with the brand's labels (the API also has English).
	type line struct {
		At     time.Time
		Text   string
		Points int64
	}
	lines := make([]line, len(sum.Statement))
	for i, l := range sum.Statement {
		lines[i] = line{l.At, p.statementText(l, vocab, names), l.Points}
	}
	for _, red := range sum.Redemptions {
		if _, ok := names[red.Reward]; !ok { // no longer in the catalogue: the name it had
			for _, l := range sum.Statement {
				if l.Detail != nil && l.Detail.Kind == rewards.LineRedemption && l.Detail.Reward == red.Reward && l.Detail.RewardName != "" {
					names[red.Reward] = l.Detail.RewardName
				}
			}
		}
	}
	tier := map[string]string{}
	if t := sum.Tier; t != nil {
		if t.Name != "" {
			tier["Why"] = p.tierWhy(t)
		}
		tier["Next"] = p.tierNext(t)
	}
	p.Data = map[string]any{"Summary": sum, "Lines": lines, "Tier": tier, "Catalog": cat, "Names": names, "Last": last, "Key": newKey()}
	s.render(w, "wallet_rewards", p)
	return nil
}

// newKey is a fresh idempotency key for a redeem form: submitting the form twice (a double
// click, a retry after a timeout) redeems once.
func newKey() string {
	var b [12]byte
	rand.Read(b[:])
	return "web-" + hex.EncodeToString(b[:])
}

func (s *Server) redeem(w http.ResponseWriter, r *http.Request, ws *walletSession, p *Page) error {
	id := r.PostForm.Get("reward")
	red, _, err := s.Rewards.Redeem(r.Context(), ws.actor.BrandID, ws.actor.ConsumerID, id, r.PostForm.Get("idempotency_key"))
	if err != nil {
		name := id
		if cat, cerr := s.Rewards.Catalog(r.Context(), ws.actor.BrandID, true); cerr == nil {
			for _, rw := range cat {
				if rw.ID == id {
					name = rw.Name
				}
			}
		}
		return p.walletError(err, symbiont.Vocabulary{}, "", "", name)
	}
	redirect(w, r, "/wallet/rewards?code="+red.Code, "redeemed")
	return nil
}
