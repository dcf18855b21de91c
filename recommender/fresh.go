package recommender

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/symbiont/symbiont/catalog"
)

// Items newer than the serving model have no interactions in it, so no score: each list keeps
// its last slot for one of them (cold start for items), and a brand with no model yet gets
// its catalogue as new. They are found by listing the catalogue: at once after a change made
// through this node (unless the last listing was under ten listings' time ago, so that a
// large catalogue being written is not listed for every list served), else in the
// background every freshTTL (so a change made through another node shows within it).
const (
	freshTTL = time.Minute
	maxFresh = 200 // newest kept
)

type freshItems struct {
	mu         sync.Mutex
	items      []*catalog.Item // newest first
	at         time.Time
	took       time.Duration // the last listing
	gen        uint64        // the catalogue's generation when listed
	refreshing bool
	version    string // of the model they are newer than
}

// freshFor returns the brand's items newer than its model (by last update, newest first).
func (s *Service) freshFor(ctx context.Context, brandID int64) ([]*catalog.Item, error) {
	m := s.Current(brandID)
	version := ""
	if m != nil {
		version = m.Meta.Version
	}
	v, _ := s.fresh.LoadOrStore(brandID, &freshItems{})
	f := v.(*freshItems)
	gen := s.catalog.Generation()
	f.mu.Lock()
	if f.at.IsZero() || f.version != version || (f.gen != gen && time.Since(f.at) >= 10*f.took) {
		f.mu.Unlock()
		start := time.Now()
		items, err := s.listFresh(ctx, brandID, m)
		if err != nil {
			return nil, err
		}
		f.mu.Lock()
		f.items, f.at, f.version, f.gen, f.took = items, time.Now(), version, gen, time.Since(start)
		f.mu.Unlock()
		return items, nil
	}
	items := f.items
	if (f.gen != gen || time.Since(f.at) > freshTTL) && !f.refreshing {
		f.refreshing = true
		go func() {
			items, err := s.listFresh(context.WithoutCancel(ctx), brandID, m)
			f.mu.Lock()
			defer f.mu.Unlock()
			f.refreshing = false
			if err != nil {
				s.log.Warn("recommender: listing new catalogue items", "brand", brandID, "err", err)
				return
			}
			if f.version == version {
				f.items, f.at, f.gen = items, time.Now(), gen
			}
		}()
	}
	f.mu.Unlock()
	return items, nil
}

func (s *Service) listFresh(ctx context.Context, brandID int64, m *Model) ([]*catalog.Item, error) {
	var out []*catalog.Item
	for after := ""; ; {
		items, next, err := s.catalog.List(ctx, brandID, after, catalog.MaxBatch)
		if err != nil {
			return nil, err
		}
		for _, it := range items {
			if it.IsAvailable() && (m == nil || !m.known(it.ID)) {
				out = append(out, it)
			}
		}
		if next == "" {
			break
		}
		after = next
	}
	slices.SortStableFunc(out, func(a, b *catalog.Item) int { return b.UpdatedAt.Compare(a.UpdatedAt) })
	return out[:min(len(out), maxFresh)], nil
}

// appendNew fills up to n slots of the list with items newer than the model, those of the
// consumer's usual catalogue categories first (prefer), each passing the request's filters.
func (s *Service) appendNew(ctx context.Context, req Request, out *List, prefer map[string]int, tx map[string]string, n int) error {
	if n <= 0 {
		return nil
	}
	fresh, err := s.freshFor(ctx, req.BrandID)
	if err != nil {
		return err
	}
	var cand []*catalog.Item
	for _, it := range fresh {
		if keep(it.Category, req) && !slices.ContainsFunc(out.Items, func(x Item) bool { return x.ID == it.ID }) {
			cand = append(cand, it)
		}
	}
	slices.SortStableFunc(cand, func(a, b *catalog.Item) int { return prefer[b.Category] - prefer[a.Category] })
	for _, it := range cand[:min(n, len(cand))] {
		out.Items = append(out.Items, Item{ID: it.ID, Title: it.Title, Category: it.Category, Why: []Why{{Kind: WhyNew, Text: tx[WhyNew]}}})
	}
	return nil
}

func (m *Model) known(id string) bool { _, ok := m.index[id]; return ok }
