package api

import (
	"crypto/ed25519"
	"net/http"
	"time"

	"github.com/symbiont/symbiont"
	"github.com/symbiont/symbiont/consent"
	"github.com/symbiont/symbiont/tenant"
)

type brandJSON struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	SecretKey string    `json:"secret_key,omitempty"`
	WriteKey  string    `json:"write_key,omitempty"`
	// ReceiptKeys is where the brand's receipt verification keys are published.
	ReceiptKeys string `json:"receipt_keys"`
}

func (s *Server) brandView(b *tenant.Brand) brandJSON {
	return brandJSON{ID: b.PublicID, Name: b.Name, CreatedAt: b.CreatedAt, ReceiptKeys: s.BaseURL + "/v1/brands/" + b.PublicID + "/jwks.json"}
}

func (s *Server) createBrand(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.operator(r); err != nil {
		return err
	}
	var req struct {
		Name string `json:"name"`
	}
	if err := decode(w, r, &req); err != nil {
		return err
	}
	nb, err := s.Tenants.CreateBrand(r.Context(), req.Name)
	if err != nil {
		return err
	}
	out := s.brandView(nb.Brand)
	out.SecretKey, out.WriteKey = nb.SecretKey, nb.WriteKey
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func (s *Server) listBrands(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.operator(r); err != nil {
		return err
	}
	bs, err := s.Tenants.Brands(r.Context())
	if err != nil {
		return err
	}
	out := make([]brandJSON, len(bs))
	for i, b := range bs {
		out[i] = s.brandView(b)
	}
	writeJSON(w, 200, map[string]any{"brands": out})
	return nil
}

// jwks publishes a brand's receipt verification key (RFC 7517), for anyone to check receipts.
func (s *Server) jwks(w http.ResponseWriter, r *http.Request) error {
	b, err := s.Tenants.BrandByPublicID(r.Context(), r.PathValue("brand"))
	if err != nil {
		return err
	}
	priv, _, err := s.Tenants.ReceiptKey(r.Context(), b.ID)
	if err != nil {
		return err
	}
	pub := priv.Public().(ed25519.PublicKey)
	w.Header().Set("Access-Control-Allow-Origin", "*")
	writeJSON(w, 200, map[string]any{"keys": []consent.JWK{consent.PublicJWK(pub, consent.KeyID(pub))}})
	return nil
}

// vocabulary is readable by brands and consumers alike.
func (s *Server) vocabulary(w http.ResponseWriter, r *http.Request) error {
	a, err := s.authenticate(r)
	if err != nil {
		return err
	}
	if a.Kind != symbiont.ActorBrand && a.Kind != symbiont.ActorConsumer {
		return symbiont.Errorf(symbiont.EFORBIDDEN, "The vocabulary belongs to a brand: use its key or a wallet token.")
	}
	v, err := s.Consent.Vocabulary(r.Context(), a.BrandID)
	if err != nil {
		return err
	}
	writeJSON(w, 200, v)
	return nil
}

func (s *Server) putTerm(w http.ResponseWriter, r *http.Request) error {
	a, err := s.brand(r, tenant.ScopeTrackingPlan)
	if err != nil {
		return err
	}
	var t consent.Term
	if err := decode(w, r, &t); err != nil {
		return err
	}
	if err := s.Consent.PutTerm(r.Context(), a.BrandID, t); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, t)
	return nil
}

func (s *Server) getPlan(w http.ResponseWriter, r *http.Request) error {
	a, err := s.brand(r, tenant.ScopeTrackingPlan)
	if err != nil {
		return err
	}
	p, err := s.Ingest.Plan(r.Context(), a.BrandID)
	if err != nil {
		return err
	}
	writeJSON(w, 200, p)
	return nil
}

func (s *Server) putPlan(w http.ResponseWriter, r *http.Request) error {
	a, err := s.brand(r, tenant.ScopeTrackingPlan)
	if err != nil {
		return err
	}
	body, err := readBody(w, r, MaxPlanBody)
	if err != nil {
		return err
	}
	p, err := s.Ingest.PutPlan(r.Context(), a.BrandID, body)
	if err != nil {
		return err
	}
	writeJSON(w, 200, p)
	return nil
}

type keyJSON struct {
	ID        string     `json:"id"`
	Kind      string     `json:"kind"`
	Name      string     `json:"name"`
	Prefix    string     `json:"prefix"`
	Scopes    []string   `json:"scopes"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
	Secret    string     `json:"secret,omitempty"`
}

func keyView(k *tenant.Key) keyJSON {
	out := keyJSON{ID: k.ID, Kind: k.Kind, Name: k.Name, Prefix: k.Prefix, Scopes: k.Scopes, CreatedAt: k.CreatedAt}
	if out.Scopes == nil {
		out.Scopes = []string{}
		if k.Kind == tenant.KindSecret {
			out.Scopes = tenant.AllScopes
		}
	}
	if !k.RevokedAt.IsZero() {
		t := k.RevokedAt
		out.RevokedAt = &t
	}
	return out
}

func (s *Server) listKeys(w http.ResponseWriter, r *http.Request) error {
	a, err := s.brand(r, tenant.ScopeKeys)
	if err != nil {
		return err
	}
	ks, err := s.Tenants.Keys(r.Context(), a.BrandID)
	if err != nil {
		return err
	}
	out := make([]keyJSON, len(ks))
	for i, k := range ks {
		out[i] = keyView(k)
	}
	writeJSON(w, 200, map[string]any{"keys": out})
	return nil
}

func (s *Server) createKey(w http.ResponseWriter, r *http.Request) error {
	a, err := s.brand(r, tenant.ScopeKeys)
	if err != nil {
		return err
	}
	var req struct {
		Kind   string   `json:"kind"`
		Name   string   `json:"name"`
		Scopes []string `json:"scopes"`
	}
	if err := decode(w, r, &req); err != nil {
		return err
	}
	secret, k, err := s.Tenants.CreateKey(r.Context(), a.BrandID, req.Kind, req.Name, req.Scopes, a.Scopes)
	if err != nil {
		return err
	}
	out := keyView(k)
	out.Secret = secret
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func (s *Server) revokeKey(w http.ResponseWriter, r *http.Request) error {
	a, err := s.brand(r, tenant.ScopeKeys)
	if err != nil {
		return err
	}
	if r.PathValue("key") == a.KeyID {
		return symbiont.Errorf(symbiont.ECONFLICT, "A key cannot revoke itself; use another secret key.")
	}
	if err := s.Tenants.RevokeKey(r.Context(), a.BrandID, r.PathValue("key")); err != nil {
		return err
	}
	writeJSON(w, 200, map[string]any{"id": r.PathValue("key"), "revoked": true})
	return nil
}

func (s *Server) conflicts(w http.ResponseWriter, r *http.Request) error {
	a, err := s.brand(r, tenant.ScopeData)
	if err != nil {
		return err
	}
	cs, err := s.Directory.Conflicts(r.Context(), a.BrandID)
	if err != nil {
		return err
	}
	writeJSON(w, 200, map[string]any{"conflicts": cs, "max_shared": s.Graph.MaxShared})
	return nil
}
