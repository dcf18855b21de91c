package symbiont

import "context"

// Transactor runs functions in store transactions, handing each a transaction of type T. Every
// package that writes declares the narrow transaction interface it needs (consent.Tx, …) and takes
// a Transactor of it; the concrete store's transaction satisfies them all (see package store).
//
// Update runs fn in a read-write transaction: fn's writes commit together when it returns nil
// and not at all when it returns an error. View runs fn in a read-only transaction.
type Transactor[T any] interface {
	Update(ctx context.Context, fn func(tx T) error) error
	View(ctx context.Context, fn func(tx T) error) error
}
