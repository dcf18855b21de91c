package catalog

import (
	"context"
	"sync"

	"github.com/symbiont/symbiont"
)

// Service keeps brands' catalogues.
type Service struct {
	db       symbiont.Transactor[Tx]
	clock    symbiont.Clock
	mu       sync.RWMutex
	watchers []func(Change)
}

// Change is a committed change made through this service: items put (as stored, versions
// set) or an item deleted.
type Change struct {
	BrandID int64
	Put     []*Item
	Deleted string
}

// Watch calls f after each change made through this service commits (not other nodes'
// changes: a cache also re-reads the catalogue now and then). f must not block.
func (s *Service) Watch(f func(Change)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.watchers = append(s.watchers, f)
}

func (s *Service) notify(c Change) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, f := range s.watchers {
		f(c)
	}
}

// NewService returns the catalogue service over db.
func NewService(db symbiont.Transactor[Tx], clock symbiont.Clock) *Service {
	return &Service{db: db, clock: clock}
}

// Put validates and stores one item (replacing the item of its id, or undeleting it).
func (s *Service) Put(ctx context.Context, brandID int64, it *Item) (*Item, error) {
	out, err := s.PutBatch(ctx, brandID, []*Item{it})
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// PutBatch validates every item, then stores all of them in one transaction, or none: an
// invalid item fails the batch, naming its index.
func (s *Service) PutBatch(ctx context.Context, brandID int64, items []*Item) ([]*Item, error) {
	if len(items) == 0 {
		return nil, symbiont.Errorf(symbiont.EINVALID, "The batch holds no items.").With("field", "items")
	}
	if len(items) > MaxBatch {
		return nil, symbiont.Errorf(symbiont.ETOOLARGE, "A batch holds at most %d items; this one holds %d.", MaxBatch, len(items)).With("field", "items")
	}
	ids := make(map[string]int, len(items))
	for i, it := range items {
		if it == nil {
			return nil, symbiont.Errorf(symbiont.EINVALID, "Item %d is null.", i).With("index", i)
		}
		if err := it.Validate(); err != nil {
			if e, ok := err.(*symbiont.Error); ok && len(items) > 1 {
				return nil, e.With("index", i)
			}
			return nil, err
		}
		if j, dup := ids[it.ID]; dup {
			return nil, symbiont.Errorf(symbiont.EINVALID, "Items %d and %d have the same id %q.", j, i, it.ID).With("index", i).With("field", "id")
		}
		ids[it.ID] = i
	}
	now := s.clock.Now()
	if err := s.db.Update(ctx, func(tx Tx) error { return tx.PutItems(ctx, brandID, items, now) }); err != nil {
		return nil, err
	}
	s.notify(Change{BrandID: brandID, Put: items})
	return items, nil
}

// Get returns a live item; not_found when there is none (or it was deleted).
func (s *Service) Get(ctx context.Context, brandID int64, id string) (*Item, error) {
	var it *Item
	err := s.db.View(ctx, func(tx Tx) (err error) {
		it, err = tx.Item(ctx, brandID, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	if it.DeletedAt != nil {
		return nil, symbiont.Errorf(symbiont.ENOTFOUND, "Item %q was deleted.", id)
	}
	return it, nil
}

// List returns up to limit (1–1,000; 100 when 0) live items with ids after after, by id, and
// the cursor of the next page ("" at the end).
func (s *Service) List(ctx context.Context, brandID int64, after string, limit int) (items []*Item, next string, err error) {
	switch {
	case limit == 0:
		limit = 100
	case limit < 0 || limit > MaxBatch:
		return nil, "", symbiont.Errorf(symbiont.EINVALID, "The limit must be 1 to %d.", MaxBatch).With("field", "limit")
	}
	err = s.db.View(ctx, func(tx Tx) (err error) {
		items, err = tx.Items(ctx, brandID, after, limit+1)
		return err
	})
	if err != nil {
		return nil, "", err
	}
	if len(items) > limit {
		items, next = items[:limit], items[limit-1].ID
	}
	if items == nil {
		items = []*Item{}
	}
	return items, next, nil
}

// Delete deletes an item softly: it is no longer listed or recommended, and Put brings it
// back. Not found when there is no live item of that id.
func (s *Service) Delete(ctx context.Context, brandID int64, id string) error {
	now := s.clock.Now()
	err := s.db.Update(ctx, func(tx Tx) error {
		ok, err := tx.DeleteItem(ctx, brandID, id, now)
		if err == nil && !ok {
			err = symbiont.Errorf(symbiont.ENOTFOUND, "There is no item %q.", id)
		}
		return err
	})
	if err == nil {
		s.notify(Change{BrandID: brandID, Deleted: id})
	}
	return err
}
