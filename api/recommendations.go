package api

import (
	"net/http"

	"github.com/symbiont/symbiont"
	"github.com/symbiont/symbiont/recommender"
	"github.com/symbiont/symbiont/tenant"
)

func (s *Server) recommendationRoutes(h func(string, func(http.ResponseWriter, *http.Request) error)) {
	h("POST /v1/recommendations/train", s.trainRecommendations)
	h("GET /v1/recommendations/model", s.recommendationModel)
	h("GET /v1/recommendations/status", s.recommendationStatus)
	h("GET /v1/items/{id}/similar", s.similarItems)
	h("GET /v1/consumers/{id}/recommendations", s.brandRecommendations)
	h("GET /v1/me/recommendations", s.myRecommendations)
	h("GET /v1/recommendations/settings", s.recommendationSettings)
	h("PUT /v1/recommendations/settings", s.recommendationSettings)
}

// similarItems lists the live items most like one, by the serving model: no consumer's data
// is read (the model's weights are learnt over everyone who granted model_training).
func (s *Server) similarItems(w http.ResponseWriter, r *http.Request) error {
	a, err := s.brandOrConsumer(r, tenant.ScopeCatalog)
	if err != nil {
		return err
	}
	n, err := intParam(r, "n", 10, 100)
	if err != nil {
		return err
	}
	if _, err := s.Catalog.Get(r.Context(), a.BrandID, r.PathValue("id")); err != nil {
		return err
	}
	m := s.Recommender.Current(a.BrandID)
	if m == nil {
		return symbiont.Errorf(symbiont.ENOTFOUND, "No recommendation model is trained yet.")
	}
	ids, ok := m.Similar(r.PathValue("id"), 2*n)
	if !ok {
		return symbiont.Errorf(symbiont.ENOTFOUND, "Item %q is newer than the model %s.", r.PathValue("id"), m.Meta.Version)
	}
	items := []any{}
	for _, id := range ids {
		if len(items) == n {
			break
		}
		it, err := s.Catalog.Get(r.Context(), a.BrandID, id)
		if symbiont.ErrorCode(err) == symbiont.ENOTFOUND || (err == nil && !it.IsAvailable()) {
			continue // deleted or unavailable since the model was trained
		}
		if err != nil {
			return err
		}
		items = append(items, it)
	}
	writeJSON(w, 200, map[string]any{"items": items, "model": map[string]any{"version": m.Meta.Version}})
	return nil
}

// trainRecommendations trains the brand's next model version now (it reads consumers' data
// for model_training, each read recorded in their ledger), and serves it.
func (s *Server) trainRecommendations(w http.ResponseWriter, r *http.Request) error {
	a, err := s.brand(r, tenant.ScopeData)
	if err != nil {
		return err
	}
	switch r.URL.Query().Get("async") {
	case "", "false":
	case "true":
		if !s.Recommender.TrainAsync(r.Context(), a.BrandID) {
			return symbiont.Errorf(symbiont.ECONFLICT, "A training of this brand is already queued or running (GET /v1/recommendations/status).")
		}
		st, err := s.Recommender.Status(a.BrandID)
		if err != nil {
			return err
		}
		writeJSON(w, 202, st)
		return nil
	default:
		return symbiont.Errorf(symbiont.EINVALID, "async must be true or false.").With("field", "async")
	}
	res, err := s.Recommender.Train(r.Context(), a.BrandID)
	if err != nil {
		return err
	}
	writeJSON(w, 200, res)
	return nil
}

// recommendationStatus is where the brand's training stands, and its serving model's
// exposure per surface.
func (s *Server) recommendationStatus(w http.ResponseWriter, r *http.Request) error {
	a, err := s.brand(r, tenant.ScopeData)
	if err != nil {
		return err
	}
	st, err := s.Recommender.Status(a.BrandID)
	if err != nil {
		return err
	}
	out := map[string]any{"training": st, "model": nil}
	if m := s.Recommender.Current(a.BrandID); m != nil {
		exp := m.Exposure()
		if exp == nil {
			exp = []recommender.Exposure{}
		}
		out["model"] = map[string]any{"version": m.Meta.Version, "kind": m.Meta.Kind, "trained_at": m.Meta.TrainedAt, "exposure": exp}
	}
	writeJSON(w, 200, out)
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
		"consumers": m.Meta.Consumers, "trained_at": m.Meta.TrainedAt, "categories": m.Meta.Categories, "offline": m.Meta.Offline})
	return nil
}

// brandRecommendations is a consumer's list for the brand (GET /v1/consumers/{id}/recommendations):
// a purpose-bound read under personalization, recorded. A consumer the brand does not know
// gets the non-personalised list (cold start), nothing created.
func (s *Server) brandRecommendations(w http.ResponseWriter, r *http.Request) error {
	a, err := s.brand(r, tenant.ScopeData)
	if err != nil {
		return err
	}
	ref, err := consumerRef(r)
	if err != nil {
		return err
	}
	id, err := s.Directory.Consumer(r.Context(), a.BrandID, ref.Kind, ref.Value)
	if err != nil {
		return err
	}
	return s.writeRecommendations(w, r, a, id)
}

// myRecommendations is the wallet's "for you" (GET /v1/me/recommendations).
func (s *Server) myRecommendations(w http.ResponseWriter, r *http.Request) error {
	a, err := s.consumer(r)
	if err != nil {
		return err
	}
	return s.writeRecommendations(w, r, a, a.ConsumerID)
}

func (s *Server) writeRecommendations(w http.ResponseWriter, r *http.Request, a symbiont.Actor, consumerID int64) error {
	n, err := intParam(r, "n", 10, recommender.MaxN)
	if err != nil {
		return err
	}
	locale := r.URL.Query().Get("locale")
	if locale == "" {
		locale = r.Header.Get("Accept-Language")
	}
	l, err := s.Recommender.Recommend(r.Context(), recommender.Request{BrandID: a.BrandID, ConsumerID: consumerID, N: n,
		Surface: r.URL.Query().Get("surface"), Locale: locale, Categories: listParam(r, "category"), Exclude: listParam(r, "exclude_category"),
		Actor: a, RequestID: requestID(r.Context())})
	if err != nil {
		return err
	}
	writeJSON(w, 200, l)
	return nil
}

// recommendationSettings shows (GET) or replaces (PUT) the brand's diversity weight and
// training schedule.
func (s *Server) recommendationSettings(w http.ResponseWriter, r *http.Request) error {
	a, err := s.brand(r, tenant.ScopeData)
	if err != nil {
		return err
	}
	st, err := s.Recommender.Settings(a.BrandID)
	if err != nil {
		return err
	}
	if r.Method == http.MethodPut {
		if err := decode(w, r, &st); err != nil {
			return err
		}
		if err := s.Recommender.PutSettings(a.BrandID, st); err != nil {
			return err
		}
	}
	writeJSON(w, 200, st)
	return nil
}
