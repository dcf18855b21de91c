package api

import (
	"net/http"

	"github.com/symbiont/symbiont"
	"github.com/symbiont/symbiont/catalog"
	"github.com/symbiont/symbiont/tenant"
)

// MaxCatalogBody bounds a batch of items (catalog.MaxBatch items of a few KiB each).
const MaxCatalogBody = 4 << 20

func (s *Server) catalogRoutes(h func(string, func(http.ResponseWriter, *http.Request) error)) {
	h("PUT /v1/items/{id}", s.putItem)
	h("POST /v1/items/batch", s.putItems)
	h("GET /v1/items", s.listItems)
	h("GET /v1/items/{id}", s.getItem)
	h("DELETE /v1/items/{id}", s.deleteItem)
}

func (s *Server) putItem(w http.ResponseWriter, r *http.Request) error {
	a, err := s.brand(r, tenant.ScopeCatalog)
	if err != nil {
		return err
	}
	var it catalog.Item
	if err := decode(w, r, &it); err != nil {
		return err
	}
	if it.ID != "" && it.ID != r.PathValue("id") {
		return symbiont.Errorf(symbiont.EINVALID, "The body's id differs from the path's.").With("field", "id")
	}
	it.ID = r.PathValue("id")
	out, err := s.Catalog.Put(r.Context(), a.BrandID, &it)
	if err != nil {
		return err
	}
	writeJSON(w, 200, out)
	return nil
}

func (s *Server) putItems(w http.ResponseWriter, r *http.Request) error {
	a, err := s.brand(r, tenant.ScopeCatalog)
	if err != nil {
		return err
	}
	body, err := readBody(w, r, MaxCatalogBody)
	if err != nil {
		return err
	}
	var req struct {
		Items []*catalog.Item `json:"items"`
	}
	if err := symbiont.DecodeJSON(body, &req); err != nil {
		return err
	}
	items, err := s.Catalog.PutBatch(r.Context(), a.BrandID, req.Items)
	if err != nil {
		return err
	}
	writeJSON(w, 200, map[string]any{"items": items})
	return nil
}

// listItems pages through the live catalogue by id: for the brand, and for its consumers'
// wallets (the catalogue is public).
func (s *Server) listItems(w http.ResponseWriter, r *http.Request) error {
	a, err := s.brandOrConsumer(r, tenant.ScopeCatalog)
	if err != nil {
		return err
	}
	limit, err := limitParam(r, 100, catalog.MaxBatch)
	if err != nil {
		return err
	}
	items, next, err := s.Catalog.List(r.Context(), a.BrandID, r.URL.Query().Get("after"), limit)
	if err != nil {
		return err
	}
	out := map[string]any{"items": items}
	if next != "" {
		out["next"] = next
	}
	writeJSON(w, 200, out)
	return nil
}

func (s *Server) getItem(w http.ResponseWriter, r *http.Request) error {
	a, err := s.brandOrConsumer(r, tenant.ScopeCatalog)
	if err != nil {
		return err
	}
	it, err := s.Catalog.Get(r.Context(), a.BrandID, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, 200, it)
	return nil
}

func (s *Server) deleteItem(w http.ResponseWriter, r *http.Request) error {
	a, err := s.brand(r, tenant.ScopeCatalog)
	if err != nil {
		return err
	}
	if err := s.Catalog.Delete(r.Context(), a.BrandID, r.PathValue("id")); err != nil {
		return err
	}
	writeJSON(w, 200, map[string]any{"id": r.PathValue("id"), "deleted": true})
	return nil
}
