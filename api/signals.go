package api

import (
	"net/http"

	"github.com/symbiont/symbiont/tenant"
)

// getSignalMap serves GET /v1/consent-signals: the brand's consent signal mapping (the
// defaults, with "default": true, until it sets one).
func (s *Server) getSignalMap(w http.ResponseWriter, r *http.Request) error {
	a, err := s.brand(r, tenant.ScopeTrackingPlan)
	if err != nil {
		return err
	}
	m, err := s.Ingest.SignalMap(r.Context(), a.BrandID)
	if err != nil {
		return err
	}
	writeJSON(w, 200, m)
	return nil
}

// putSignalMap serves PUT /v1/consent-signals: it replaces the whole mapping.
func (s *Server) putSignalMap(w http.ResponseWriter, r *http.Request) error {
	a, err := s.brand(r, tenant.ScopeTrackingPlan)
	if err != nil {
		return err
	}
	body, err := readBody(w, r, MaxJSONBody)
	if err != nil {
		return err
	}
	m, err := s.Ingest.PutSignalMap(r.Context(), a.BrandID, body)
	if err != nil {
		return err
	}
	writeJSON(w, 200, m)
	return nil
}
