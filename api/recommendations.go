package api

import (
	"net/http"

	"github.com/symbiont/symbiont"
	"github.com/symbiont/symbiont/tenant"
)

func (s *Server) recommendationRoutes(h func(string, func(http.ResponseWriter, *http.Request) error)) {
	h("POST /v1/recommendations/train", s.trainRecommendations)
	h("GET /v1/recommendations/model", s.recommendationModel)
}

// trainRecommendations trains the brand's next model version now (it reads consumers' data
// for model_training, each read recorded in their ledger), and serves it.
func (s *Server) trainRecommendations(w http.ResponseWriter, r *http.Request) error {
	a, err := s.brand(r, tenant.ScopeData)
	if err != nil {
		return err
	}
	res, err := s.Recommender.Train(r.Context(), a.BrandID, nil)
	if err != nil {
		return err
	}
	writeJSON(w, 200, res)
	return nil
}

// recommendationModel describes the brand's serving model.
func (s *Server) recommendationModel(w http.ResponseWriter, r *http.Request) error {
	a, err := s.brand(r, tenant.ScopeData)
	if err != nil {
		return err
	}
	m := s.Recommender.Current(a.BrandID)
	if m == nil {
		return symbiont.Errorf(symbiont.ENOTFOUND, "No recommendation model is trained yet (POST /v1/recommendations/train).")
	}
	writeJSON(w, 200, map[string]any{"version": m.Meta.Version, "kind": m.Meta.Kind, "lambda": m.Meta.Lambda, "items": len(m.Meta.ItemIDs),
		"consumers": m.Meta.Consumers, "trained_at": m.Meta.TrainedAt})
	return nil
}
