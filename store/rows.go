package store

import "context"

// ConsumerTable is a table holding rows of one consumer each.
type ConsumerTable struct {
	Name string
	// Column holds the consumer's id; for Account tables, the points account
	// rewards.ConsumerAccount(id).
	Column  string
	Account bool
	// Unscoped: the table has no brand_id column (consumer ids are unique across brands).
	Unscoped bool
	// Kept, when set, is why erasure keeps the rows (they hold nothing of the person in clear:
	// evidence, the brand's books); otherwise erasure deletes them.
	Kept string
	// Stays, when set, is why a merge leaves the rows with the merged consumer; otherwise they
	// move to the surviving one.
	Stays string
}

// ConsumerRows is what a store offers the conformance suite's merge and erasure tests (and an
// operator checking what is held of a person): its tables of per-consumer rows, as each
// domain's part of the store declares them, and how many rows of given consumers each holds.
type ConsumerRows interface {
	ConsumerTables() []ConsumerTable
	ConsumerRowCounts(ctx context.Context, brandID int64, ids []int64) (map[string]int64, error)
}
