package recommender

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/symbiont/symbiont/catalog"
)

// A list is checked against the catalogue as it is now (deleted, unavailable and filtered
// items are not offered), and titles come from it, without a query per list: each brand's
// catalogue is held in memory (an entry per item: id, title, category, availability, last
// update). It is listed whole the first time a brand is served, kept current by the
// catalogue's changes made through this node as they commit, and listed again in the
// background every viewTTL, which is how other nodes' changes arrive.
const (
	viewTTL  = time.Minute
	maxFresh = 200 // newest items newer than the model, kept for the new-item slot
)

// entry is what serving needs of an item.
type entry struct {
	ID, Title, Category string
	Available           bool
	UpdatedAt           time.Time
}

func entryOf(it *catalog.Item) *entry {
	return &entry{ID: it.ID, Title: it.Title, Category: it.Category, Available: it.IsAvailable(), UpdatedAt: it.UpdatedAt}
}

type view struct {
	mu         sync.RWMutex
	items      map[string]*entry // live items
	changes    uint64            // counts changes applied, so a listing begun before one is not kept
	at         time.Time         // of the last whole listing
	refreshing bool
	fresh      []*entry // available items newer than model freshOf, newest first
	freshOf    string
	freshAt    uint64 // changes when fresh was computed
}

// watch keeps the views current with the changes made through this node.
func (s *Service) watch(c catalog.Change) {
	v, ok := s.views.Load(c.BrandID)
	if !ok {
		return // not served yet: its first listing will have it
	}
	w := v.(*view)
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, it := range c.Put {
		w.items[it.ID] = entryOf(it)
	}
	if c.Deleted != "" {
		delete(w.items, c.Deleted)
	}
	w.changes++
}

// view returns the brand's catalogue view, listing it now the first time.
func (s *Service) view(ctx context.Context, brandID int64) (*view, error) {
	if v, ok := s.views.Load(brandID); ok {
		w := v.(*view)
		w.mu.Lock()
		if time.Since(w.at) > viewTTL && !w.refreshing {
			w.refreshing = true
			go s.relist(context.WithoutCancel(ctx), brandID, w, w.changes)
		}
		w.mu.Unlock()
		return w, nil
	}
	s.listing.Lock() // one first listing per brand at a time
	defer s.listing.Unlock()
	if v, ok := s.views.Load(brandID); ok {
		return v.(*view), nil
	}
	items, err := s.list(ctx, brandID)
	if err != nil {
		return nil, err
	}
	w := &view{items: items, at: time.Now()}
	s.views.Store(brandID, w)
	return w, nil
}

// relist lists the catalogue again in the background; a listing that began before a change
// made through this node is dropped (the change is already in, and the next listing comes).
func (s *Service) relist(ctx context.Context, brandID int64, w *view, changes uint64) {
	items, err := s.list(ctx, brandID)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.refreshing = false
	if err != nil {
		s.log.Warn("recommender: listing the catalogue", "brand", brandID, "err", err)
		return
	}
	w.at = time.Now()
	if w.changes == changes {
		w.items = items
		w.changes++ // the fresh items are computed again
	}
}

func (s *Service) list(ctx context.Context, brandID int64) (map[string]*entry, error) {
	out := map[string]*entry{}
	for after := ""; ; {
		items, next, err := s.catalog.List(ctx, brandID, after, catalog.MaxBatch)
		if err != nil {
			return nil, err
		}
		for _, it := range items {
			out[it.ID] = entryOf(it)
		}
		if next == "" {
			return out, nil
		}
		after = next
	}
}

// get returns the live items of those ids.
func (w *view) get(ids []string) map[string]*entry {
	w.mu.RLock()
	defer w.mu.RUnlock()
	out := make(map[string]*entry, len(ids))
	for _, id := range ids {
		if e, ok := w.items[id]; ok {
			out[id] = e
		}
	}
	return out
}

// newer returns the available items the model does not know (all of them without a model),
// newest first.
func (w *view) newer(m *Model) []*entry {
	version := ""
	if m != nil {
		version = m.Meta.Version
	}
	w.mu.RLock()
	if w.freshOf == version && w.freshAt == w.changes && w.fresh != nil {
		defer w.mu.RUnlock()
		return w.fresh
	}
	w.mu.RUnlock()
	w.mu.Lock()
	defer w.mu.Unlock()
	fresh := []*entry{}
	for _, e := range w.items {
		if e.Available && (m == nil || !m.known(e.ID)) {
			fresh = append(fresh, e)
		}
	}
	slices.SortFunc(fresh, func(a, b *entry) int {
		if c := b.UpdatedAt.Compare(a.UpdatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	w.fresh, w.freshOf, w.freshAt = fresh[:min(len(fresh), maxFresh)], version, w.changes
	return w.fresh
}

func (m *Model) known(id string) bool { _, ok := m.index[id]; return ok }

// appendNew fills up to n slots of the list with items newer than the model, those of the
// consumer's usual catalogue categories first (prefer), each passing the request's filters.
func (s *Service) appendNew(w *view, req Request, m *Model, out *List, prefer map[string]int, tx map[string]string, n int) {
	if n <= 0 {
		return
	}
	var cand []*entry
	for _, e := range w.newer(m) {
		if keep(e.Category, req) && !slices.ContainsFunc(out.Items, func(x Item) bool { return x.ID == e.ID }) {
			cand = append(cand, e)
		}
	}
	slices.SortStableFunc(cand, func(a, b *entry) int { return prefer[b.Category] - prefer[a.Category] })
	for _, e := range cand[:min(n, len(cand))] {
		out.Items = append(out.Items, Item{ID: e.ID, Title: e.Title, Category: e.Category, Why: []Why{{Kind: WhyNew, Text: tx[WhyNew]}}})
	}
}
