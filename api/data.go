package api

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/symbiont/symbiont"
	"github.com/symbiont/symbiont/access"
	"github.com/symbiont/symbiont/consent"
	"github.com/symbiont/symbiont/identity"
	"github.com/symbiont/symbiont/tenant"
)

func categoriesParam(r *http.Request) []string { return listParam(r, "categories") }

// listParam reads a query parameter given as a comma-separated list, or repeated, or both.
func listParam(r *http.Request, name string) []string {
	var out []string
	for _, v := range r.URL.Query()[name] {
		for _, c := range strings.Split(v, ",") {
			if c = strings.TrimSpace(c); c != "" {
				out = append(out, c)
			}
		}
	}
	return out
}

func limitParam(r *http.Request, def, max int) (int, error) { return intParam(r, "limit", def, max) }

// intParam reads a query parameter of 1 to max, def when absent.
func intParam(r *http.Request, name string, def, max int) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > max {
		return 0, symbiont.Errorf(symbiont.EINVALID, "%s must be a number from 1 to %d.", name, max).With("field", name)
	}
	return n, nil
}

// brandData is the purpose-bound read: only consented categories come back.
func (s *Server) brandData(w http.ResponseWriter, r *http.Request) error {
	a, _, id, err := s.brandConsumer(r, tenant.ScopeData)
	if err != nil {
		return err
	}
	d, err := s.Access.Read(r.Context(), access.Request{BrandID: a.BrandID, ConsumerID: id, Purpose: r.URL.Query().Get("purpose"),
		Categories: categoriesParam(r), Actor: a, RequestID: requestID(r.Context())})
	if err != nil {
		return err
	}
	writeJSON(w, 200, d)
	return nil
}

func (s *Server) brandAccessLog(w http.ResponseWriter, r *http.Request) error {
	a, _, id, err := s.brandConsumer(r, tenant.ScopeData)
	if err != nil {
		return err
	}
	return s.writeAccessLog(w, r, a.BrandID, id)
}

func (s *Server) writeAccessLog(w http.ResponseWriter, r *http.Request, brandID, consumerID int64) error {
	limit, err := limitParam(r, 1000, 10000)
	if err != nil {
		return err
	}
	recs, err := s.Access.Log(r.Context(), brandID, consumerID, limit)
	if err != nil {
		return err
	}
	out := make([]access.AccessEntry, len(recs))
	for i, rec := range recs {
		out[i] = access.Entry(rec)
	}
	writeJSON(w, 200, map[string]any{"records": out})
	return nil
}

// walletSession opens a wallet session for one consumer (Stripe customer-portal style).
func (s *Server) walletSession(w http.ResponseWriter, r *http.Request) error {
	a, err := s.brand(r, tenant.ScopeWalletSessions)
	if err != nil {
		return err
	}
	var req struct {
		Consumer    string `json:"consumer"`
		AnonymousID string `json:"anonymous_id"`
		TTLSeconds  int    `json:"ttl_seconds"`
	}
	if err := decode(w, r, &req); err != nil {
		return err
	}
	ref := consent.ConsumerRef{Kind: identity.KindUserID, Value: req.Consumer}
	if req.Consumer == "" && req.AnonymousID != "" {
		ref = consent.ConsumerRef{Kind: identity.KindAnonymousID, Value: req.AnonymousID}
	}
	if ref.Value == "" {
		return symbiont.Errorf(symbiont.EINVALID, "consumer (the brand's user id) is required.").With("field", "consumer")
	}
	ttl := time.Duration(req.TTLSeconds) * time.Second
	if err := tenant.ValidSessionTTL(ttl); err != nil {
		return err // before anything is created
	}
	// A wallet may be opened before any consent: that is where consent is given.
	id, err := s.Directory.Ensure(r.Context(), a.BrandID, ref.Kind, ref.Value)
	if err != nil {
		return err
	}
	sess, err := s.Tenants.OpenSession(r.Context(), a.BrandID, id, ttl)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{
		"id": sess.Session.ID, "token": sess.Token, "url": s.BaseURL + "/wallet?token=" + sess.Token, "expires_at": sess.Session.ExpiresAt,
	})
	return nil
}

func (s *Server) me(w http.ResponseWriter, r *http.Request) error {
	a, err := s.consumer(r)
	if err != nil {
		return err
	}
	b, err := s.Tenants.Brand(r.Context(), a.BrandID)
	if err != nil {
		return err
	}
	cur, err := s.Consent.Current(r.Context(), a.BrandID, a.ConsumerID)
	if err != nil {
		return err
	}
	now := s.Clock.Now()
	cs := make([]consent.PublicRecord, len(cur))
	for i, c := range cur {
		cs[i] = c.Public(now)
	}
	writeJSON(w, 200, map[string]any{
		"brand":    s.brandView(b),
		"session":  map[string]any{"id": a.KeyID},
		"consents": cs,
		"gpc":      gpc(r),
	})
	return nil
}

// myData is the consumer's own view of their data: a purpose-bound read like the brand's, with
// the purpose the consumer chooses to look through (default: every category they hold, as
// export does, via ?purpose=).
func (s *Server) myData(w http.ResponseWriter, r *http.Request) error {
	a, err := s.consumer(r)
	if err != nil {
		return err
	}
	if r.URL.Query().Get("purpose") == "" {
		// Without a purpose: everything held, grouped by category (the right of access).
		ex, err := s.Access.Export(r.Context(), access.ExportBrand{}, a.BrandID, a.ConsumerID, a, requestID(r.Context()))
		if err != nil {
			return err
		}
		writeJSON(w, 200, map[string]any{"data": ex.Data, "identifiers": ex.Identifiers})
		return nil
	}
	d, err := s.Access.Read(r.Context(), access.Request{BrandID: a.BrandID, ConsumerID: a.ConsumerID, Purpose: r.URL.Query().Get("purpose"),
		Categories: categoriesParam(r), Actor: a, RequestID: requestID(r.Context())})
	if err != nil {
		return err
	}
	writeJSON(w, 200, d)
	return nil
}

func (s *Server) myExport(w http.ResponseWriter, r *http.Request) error {
	a, err := s.consumer(r)
	if err != nil {
		return err
	}
	b, err := s.Tenants.Brand(r.Context(), a.BrandID)
	if err != nil {
		return err
	}
	ex, err := s.Access.Export(r.Context(), access.ExportBrand{ID: b.PublicID, Name: b.Name, ReceiptKeys: s.brandView(b).ReceiptKeys},
		a.BrandID, a.ConsumerID, a, requestID(r.Context()))
	if err != nil {
		return err
	}
	w.Header().Set("Content-Disposition", `attachment; filename="symbiont-export.json"`)
	writeJSON(w, 200, ex)
	return nil
}

func (s *Server) myErase(w http.ResponseWriter, r *http.Request) error {
	a, err := s.consumer(r)
	if err != nil {
		return err
	}
	res, err := s.Access.Erase(r.Context(), a.BrandID, a.ConsumerID, a, requestID(r.Context()))
	if err != nil {
		return err
	}
	writeJSON(w, 200, res)
	return nil
}
