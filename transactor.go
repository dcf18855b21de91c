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

// UndoTx is a write transaction that can tell its caller when its writes are undone.
//
// OnUndo registers fn to run if the transaction's writes are undone (rolled back alone or with
// the group it was committed in), before any later transaction runs, and reports true, on a
// store whose writer is this process's alone (SQLite); elsewhere (PostgreSQL, where other nodes
// write too) it reports false and keeps nothing. It lets a service keep in memory what only
// this writer changes (the ledger's chain heads, a brand without a rate card) and forget it if
// the change does not commit.
type UndoTx interface {
	OnUndo(fn func()) bool
}
