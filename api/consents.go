package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"reflect"

	"github.com/symbiont/symbiont"
	"github.com/symbiont/symbiont/consent"
	"github.com/symbiont/symbiont/identity"
	"github.com/symbiont/symbiont/tenant"
)

// MaxConsentChanges bounds the grants of one wallet request.
const MaxConsentChanges = 100

// consentRequest is one consent decision as clients send it.
type consentRequest struct {
	Category     string          `json:"category"`
	Purpose      string          `json:"purpose"`
	State        string          `json:"state"` // given (default), withdrawn or refused
	DurationDays int             `json:"duration_days"`
	Notice       *consent.Notice `json:"notice"`
	LegalBasis   string          `json:"legal_basis"`
	Method       string          `json:"method"`
	Jurisdiction string          `json:"jurisdiction"`
	Explicit     bool            `json:"explicit"`
	Evidence     json.RawMessage `json:"evidence"`
	// OverrideGPC: in the wallet, the consumer grants a GPC-refused purpose knowingly.
	OverrideGPC bool `json:"override_gpc"`
}

func (c *consentRequest) change(brandID int64, ref consent.ConsumerRef, actor symbiont.Actor, method string, gpc bool) (*consent.Change, error) {
	if c.Category == "" || c.Purpose == "" {
		return nil, symbiont.Errorf(symbiont.EINVALID, "category and purpose are required.")
	}
	if c.State == "" {
		c.State = consent.StateGiven
	}
	if c.State != consent.StateGiven && c.DurationDays != 0 {
		return nil, symbiont.Errorf(symbiont.EINVALID, "duration_days applies only to grants.").With("field", "duration_days")
	}
	if len(c.Evidence) > 0 && !bytes.Equal(c.Evidence, []byte("null")) {
		var obj map[string]json.RawMessage
		if json.Unmarshal(c.Evidence, &obj) != nil {
			return nil, symbiont.Errorf(symbiont.EINVALID, "evidence must be a JSON object.").With("field", "evidence")
		}
		// Accept the notice and jurisdiction inside evidence too, as many consent tools send them.
		if c.Notice == nil {
			var n consent.Notice
			if raw, ok := obj["notice"]; ok && json.Unmarshal(raw, &n) == nil {
				c.Notice = &n
			}
		}
		if raw, ok := obj["jurisdiction"]; ok && c.Jurisdiction == "" {
			_ = json.Unmarshal(raw, &c.Jurisdiction)
		}
	} else {
		c.Evidence = nil
	}
	if actor.Kind == symbiont.ActorBrand && consent.ReservedMethod(c.Method) {
		return nil, symbiont.Errorf(symbiont.EINVALID, "method %q is reserved for what Symbiont itself records.", c.Method).With("field", "method")
	}
	if len(c.Method) > 40 {
		return nil, symbiont.Errorf(symbiont.EINVALID, "method is at most 40 characters.").With("field", "method")
	}
	if c.Method == "" || actor.Kind == symbiont.ActorConsumer {
		c.Method = method // consumers cannot claim another method
	}
	ch := &consent.Change{BrandID: brandID, Consumer: ref, Category: c.Category, Purpose: c.Purpose, State: c.State,
		DurationDays: c.DurationDays, LegalBasis: c.LegalBasis, Method: c.Method, Actor: actor, Jurisdiction: c.Jurisdiction,
		Explicit: c.Explicit, Evidence: c.Evidence, GPC: gpc, GPCOverride: c.OverrideGPC}
	if c.Notice != nil {
		ch.Notice = *c.Notice
	}
	return ch, nil
}

// applyConsent records changes, with the request's Idempotency-Key when it has one.
func (s *Server) applyConsent(r *http.Request, changes []*consent.Change) ([]*consent.Result, error) {
	return s.Consent.Apply(r.Context(), changes, r.Header.Get("Idempotency-Key"))
}

func gpc(r *http.Request) bool { return r.Header.Get("Sec-GPC") == "1" }

// consumerRef reads the consumer named in the path: the brand's user id, or with
// ?id_type=anonymous_id an anonymous id.
func consumerRef(r *http.Request) (consent.ConsumerRef, error) {
	kind := identity.KindUserID
	switch t := r.URL.Query().Get("id_type"); t {
	case "", "user_id":
	case "anonymous_id":
		kind = identity.KindAnonymousID
	default:
		return consent.ConsumerRef{}, symbiont.Errorf(symbiont.EINVALID, "id_type must be user_id or anonymous_id.").With("field", "id_type")
	}
	id := r.PathValue("id")
	if _, ok := identity.Normalize(kind, id); !ok {
		return consent.ConsumerRef{}, symbiont.Errorf(symbiont.EINVALID, "The consumer id must be 1-255 bytes of UTF-8.")
	}
	return consent.ConsumerRef{Kind: kind, Value: id}, nil
}

// brandConsumer authenticates a brand key with the scope and resolves the consumer the path
// names (which must exist).
func (s *Server) brandConsumer(r *http.Request, scope string) (symbiont.Actor, consent.ConsumerRef, int64, error) {
	a, err := s.brand(r, scope)
	if err != nil {
		return a, consent.ConsumerRef{}, 0, err
	}
	ref, err := consumerRef(r)
	if err != nil {
		return a, ref, 0, err
	}
	id, err := s.lookupConsumer(r, a.BrandID, ref)
	return a, ref, id, err
}

// lookupConsumer resolves a consumer reference to an internal id, or not_found.
func (s *Server) lookupConsumer(r *http.Request, brandID int64, ref consent.ConsumerRef) (int64, error) {
	id, err := s.Directory.Consumer(r.Context(), brandID, ref.Kind, ref.Value)
	if err == nil && id == 0 {
		err = symbiont.Errorf(symbiont.ENOTFOUND, "No consumer %q is known to this brand.", ref.Value)
	}
	return id, err
}

type consentJSON struct {
	Consumer string               `json:"consumer,omitempty"`
	Consent  consent.PublicRecord `json:"consent"`
	Receipt  string               `json:"receipt"`
}

func (s *Server) writeResults(w http.ResponseWriter, r *http.Request, consumer string, results []*consent.Result, single bool) {
	now := s.Clock.Now()
	status := http.StatusOK
	out := make([]consentJSON, len(results))
	for i, res := range results {
		if !res.Unchanged && r.Method == http.MethodPost {
			status = http.StatusCreated // a new record; DELETE answers 200 either way
		}
		out[i] = consentJSON{Consumer: consumer, Consent: res.Record.Public(now), Receipt: res.Record.Receipt}
	}
	if single {
		writeJSON(w, status, out[0])
		return
	}
	writeJSON(w, status, map[string]any{"consents": out})
}

// brandConsent records consent the brand captured in its own UI.
func (s *Server) brandConsent(w http.ResponseWriter, r *http.Request) error {
	a, err := s.brand(r, tenant.ScopeConsents)
	if err != nil {
		return err
	}
	ref, err := consumerRef(r)
	if err != nil {
		return err
	}
	var req consentRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	if req.OverrideGPC {
		return symbiont.Errorf(symbiont.EFORBIDDEN, "Only the consumer can override a Global Privacy Control signal, in their wallet.").With("field", "override_gpc")
	}
	ch, err := req.change(a.BrandID, ref, a, consent.MethodBrand, gpc(r))
	if err != nil {
		return err
	}
	results, err := s.applyConsent(r, []*consent.Change{ch})
	if err != nil {
		return err
	}
	s.writeResults(w, r, ref.Value, results, true)
	return nil
}

// brandWithdraw withdraws a grant on the consumer's behalf (e.g. they asked by phone).
func (s *Server) brandWithdraw(w http.ResponseWriter, r *http.Request) error {
	a, ref, id, err := s.brandConsumer(r, tenant.ScopeConsents)
	if err != nil {
		return err
	}
	results, err := s.applyConsent(r, []*consent.Change{{BrandID: a.BrandID, Consumer: consent.ConsumerRef{ID: id},
		Category: r.PathValue("category"), Purpose: r.PathValue("purpose"), State: consent.StateWithdrawn, Method: consent.MethodBrand, Actor: a}})
	if err != nil {
		return err
	}
	s.writeResults(w, r, ref.Value, results, true)
	return nil
}

func (s *Server) brandConsents(w http.ResponseWriter, r *http.Request) error {
	a, ref, id, err := s.brandConsumer(r, tenant.ScopeConsents)
	if err != nil {
		return err
	}
	return s.writeConsents(w, r, a.BrandID, id, ref.Value)
}

func (s *Server) writeConsents(w http.ResponseWriter, r *http.Request, brandID, consumerID int64, consumer string) error {
	cur, err := s.Consent.Current(r.Context(), brandID, consumerID)
	if err != nil {
		return err
	}
	out := make([]consent.PublicRecord, len(cur))
	now := s.Clock.Now()
	for i, c := range cur {
		out[i] = c.Public(now)
	}
	resp := map[string]any{"consents": out}
	if r.URL.Query().Get("history") == "true" {
		hist, err := s.Consent.History(r.Context(), brandID, consumerID)
		if err != nil {
			return err
		}
		h := make([]consent.PublicRecord, len(hist))
		for i, c := range hist {
			h[i] = c.Public(now)
		}
		resp["history"] = h
	}
	if consumer != "" {
		resp["consumer"] = consumer
	}
	writeJSON(w, 200, resp)
	return nil
}

func (s *Server) myConsents(w http.ResponseWriter, r *http.Request) error {
	a, err := s.consumer(r)
	if err != nil {
		return err
	}
	return s.writeConsents(w, r, a.BrandID, a.ConsumerID, "")
}

// myGrant records the consumer's own decisions: one object, or {"grants":[…]}.
func (s *Server) myGrant(w http.ResponseWriter, r *http.Request) error {
	a, err := s.consumer(r)
	if err != nil {
		return err
	}
	// One decision, or {"grants":[…]}: one decoding, so that errors name the field in either
	// form (grants[2].state).
	var req struct {
		consentRequest
		Grants []consentRequest `json:"grants"`
	}
	if err := decode(w, r, &req); err != nil {
		return err
	}
	reqs, single := []consentRequest{req.consentRequest}, req.Grants == nil
	if !single {
		if !reflect.ValueOf(req.consentRequest).IsZero() {
			return symbiont.Errorf(symbiont.EINVALID, "Send one decision or a list of grants, not both.").With("field", "grants")
		}
		reqs = req.Grants
	}
	if len(reqs) > MaxConsentChanges {
		return symbiont.Errorf(symbiont.ETOOLARGE, "At most %d consent changes in one request.", MaxConsentChanges)
	}
	changes := make([]*consent.Change, 0, len(reqs))
	for i := range reqs {
		ch, err := reqs[i].change(a.BrandID, consent.ConsumerRef{ID: a.ConsumerID}, a, consent.MethodWallet, gpc(r))
		if err != nil {
			return err
		}
		changes = append(changes, ch)
	}
	results, err := s.applyConsent(r, changes)
	if err != nil {
		return err
	}
	s.writeResults(w, r, "", results, single)
	return nil
}

// myWithdraw withdraws one grant: as easy as granting, effective on the next request.
func (s *Server) myWithdraw(w http.ResponseWriter, r *http.Request) error {
	a, err := s.consumer(r)
	if err != nil {
		return err
	}
	results, err := s.applyConsent(r, []*consent.Change{{BrandID: a.BrandID, Consumer: consent.ConsumerRef{ID: a.ConsumerID},
		Category: r.PathValue("category"), Purpose: r.PathValue("purpose"), State: consent.StateWithdrawn, Method: consent.MethodWallet, Actor: a}})
	if err != nil {
		return err
	}
	s.writeResults(w, r, "", results, true)
	return nil
}
