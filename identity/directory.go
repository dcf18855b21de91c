package identity

import (
	"context"

	"github.com/symbiont/symbiont"
)

// Directory finds and creates consumers by a user id or anonymous id in transactions of its
// own. It serves callers that are not inside an act's transaction (the API's and the pages'
// handlers), so that they need no store transaction of their own; an act resolves its consumer
// with Graph.Resolve inside its transaction instead.
type Directory struct {
	graph *Graph
	db    symbiont.Transactor[Tx]
	clock symbiont.Clock
}

// NewDirectory returns a directory over g's identifiers in db.
func NewDirectory(g *Graph, db symbiont.Transactor[Tx], clock symbiont.Clock) *Directory {
	return &Directory{graph: g, db: db, clock: clock}
}

// Consumer returns the consumer of a user_id or anonymous_id, 0 when there is none; EINVALID
// when value is not a valid identifier of kind.
func (d *Directory) Consumer(ctx context.Context, brandID int64, kind, value string) (id int64, err error) {
	err = d.db.View(ctx, func(tx Tx) (err error) {
		id, _, err = d.graph.Resolve(ctx, tx, brandID, kind, value, false, d.clock.Now())
		return err
	})
	return id, err
}

// Ensure returns the consumer of a user_id or anonymous_id, creating it when there is none
// (a wallet opened before any consent: that is where consent is given).
func (d *Directory) Ensure(ctx context.Context, brandID int64, kind, value string) (id int64, err error) {
	err = d.db.Update(ctx, func(tx Tx) (err error) {
		id, _, err = d.graph.Resolve(ctx, tx, brandID, kind, value, true, d.clock.Now())
		return err
	})
	return id, err
}

// Linked returns the consumers a shared identifier (email, phone, ext:…) is linked to; none
// when value is not a valid identifier of kind.
func (d *Directory) Linked(ctx context.Context, brandID int64, kind, value string) (ids []int64, err error) {
	h, ok := d.graph.HashValue(brandID, kind, value)
	if !ok {
		return nil, nil
	}
	err = d.db.View(ctx, func(tx Tx) (err error) {
		ids, err = tx.LookupIdentifier(ctx, brandID, kind, h)
		return err
	})
	return ids, err
}

// Conflicts returns the over-merge guard's refusals of a brand (never nil).
func (d *Directory) Conflicts(ctx context.Context, brandID int64) (cs []*Conflict, err error) {
	err = d.db.View(ctx, func(tx Tx) (err error) {
		cs, err = tx.Conflicts(ctx, brandID)
		return err
	})
	if cs == nil {
		cs = []*Conflict{}
	}
	return cs, err
}
