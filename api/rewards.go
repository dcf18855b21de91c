package api

import (
	"net/http"

	"github.com/symbiont/symbiont"
	"github.com/symbiont/symbiont/rewards"
	"github.com/symbiont/symbiont/tenant"
)

func (s *Server) rewardRoutes(h func(string, func(http.ResponseWriter, *http.Request) error)) {
	h("PUT /v1/rate-card", s.putRateCard)
	h("GET /v1/rate-card", s.getRateCard)
	h("GET /v1/rewards/catalog", s.catalog)
	h("PUT /v1/rewards/catalog/{id}", s.putReward)
	h("GET /v1/rewards/report", s.rewardsReport)
	h("GET /v1/me/rewards", s.myRewards)
	h("GET /v1/me/offers", s.myOffers)
	h("POST /v1/me/redemptions", s.redeem)
}

func (s *Server) putRateCard(w http.ResponseWriter, r *http.Request) error {
	a, err := s.brand(r, tenant.ScopeRewards)
	if err != nil {
		return err
	}
	body, err := readBody(w, r, MaxJSONBody)
	if err != nil {
		return err
	}
	card, err := s.Rewards.PutRateCard(r.Context(), a.BrandID, body)
	if err != nil {
		return err
	}
	writeJSON(w, 200, card)
	return nil
}

// brandOrConsumer authenticates a brand secret key with the scope or a wallet token.
func (s *Server) brandOrConsumer(r *http.Request, scope string) (symbiont.Actor, error) {
	a, err := s.authenticate(r)
	if err != nil {
		return a, err
	}
	if a.Kind == symbiont.ActorConsumer {
		return a, nil
	}
	return s.brand(r, scope)
}

// getRateCard shows the published terms and what each grant would earn.
func (s *Server) getRateCard(w http.ResponseWriter, r *http.Request) error {
	a, err := s.brandOrConsumer(r, tenant.ScopeRewards)
	if err != nil {
		return err
	}
	card, err := s.Rewards.RateCard(r.Context(), a.BrandID, 0)
	if err != nil {
		return err
	}
	if card == nil {
		return symbiont.Errorf(symbiont.ENOTFOUND, "This brand has not published a rate card.")
	}
	offers, err := s.Rewards.Offers(r.Context(), a.BrandID)
	if err != nil {
		return err
	}
	writeJSON(w, 200, map[string]any{"rate_card": card, "offers": offers})
	return nil
}

func (s *Server) catalog(w http.ResponseWriter, r *http.Request) error {
	a, err := s.brandOrConsumer(r, tenant.ScopeRewards)
	if err != nil {
		return err
	}
	rs, err := s.Rewards.Catalog(r.Context(), a.BrandID, a.Kind == symbiont.ActorBrand)
	if err != nil {
		return err
	}
	if rs == nil {
		rs = []*rewards.Reward{}
	}
	writeJSON(w, 200, map[string]any{"rewards": rs})
	return nil
}

func (s *Server) putReward(w http.ResponseWriter, r *http.Request) error {
	a, err := s.brand(r, tenant.ScopeRewards)
	if err != nil {
		return err
	}
	var rw rewards.Reward
	if err := decode(w, r, &rw); err != nil {
		return err
	}
	if rw.ID != "" && rw.ID != r.PathValue("id") {
		return symbiont.Errorf(symbiont.EINVALID, "The body's id differs from the path's.").With("field", "id")
	}
	rw.ID = r.PathValue("id")
	if err := s.Rewards.PutReward(r.Context(), a.BrandID, &rw); err != nil {
		return err
	}
	writeJSON(w, 200, rw)
	return nil
}

func (s *Server) rewardsReport(w http.ResponseWriter, r *http.Request) error {
	a, err := s.brand(r, tenant.ScopeRewards)
	if err != nil {
		return err
	}
	rep, err := s.Rewards.Report(r.Context(), a.BrandID)
	if err != nil {
		return err
	}
	writeJSON(w, 200, rep)
	return nil
}

func (s *Server) myRewards(w http.ResponseWriter, r *http.Request) error {
	a, err := s.consumer(r)
	if err != nil {
		return err
	}
	limit, err := limitParam(r, 200, 10000)
	if err != nil {
		return err
	}
	sum, err := s.Rewards.Summary(r.Context(), a.BrandID, a.ConsumerID, limit)
	if err != nil {
		return err
	}
	writeJSON(w, 200, sum)
	return nil
}

func (s *Server) myOffers(w http.ResponseWriter, r *http.Request) error {
	a, err := s.consumer(r)
	if err != nil {
		return err
	}
	offers, err := s.Rewards.Offers(r.Context(), a.BrandID)
	if err != nil {
		return err
	}
	writeJSON(w, 200, map[string]any{"offers": offers,
		"notice": "Sharing is optional: refusing or withdrawing consent never limits the service, and withdrawing never takes back points already earned."})
	return nil
}

func (s *Server) redeem(w http.ResponseWriter, r *http.Request) error {
	a, err := s.consumer(r)
	if err != nil {
		return err
	}
	var req struct {
		Reward         string `json:"reward"`
		IdempotencyKey string `json:"idempotency_key"`
	}
	if err := decode(w, r, &req); err != nil {
		return err
	}
	if req.IdempotencyKey == "" {
		req.IdempotencyKey = r.Header.Get("Idempotency-Key")
	}
	if req.Reward == "" {
		return symbiont.Errorf(symbiont.EINVALID, "reward (the catalogue id) is required.").With("field", "reward")
	}
	red, replay, err := s.Rewards.Redeem(r.Context(), a.BrandID, a.ConsumerID, req.Reward, req.IdempotencyKey)
	if err != nil {
		return err
	}
	status := http.StatusCreated
	if replay {
		status = http.StatusOK
	}
	writeJSON(w, status, red)
	return nil
}
