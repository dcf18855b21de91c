package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/symbiont/symbiont/rewards"
	"github.com/symbiont/symbiont/store"
)

// consumerRows is one domain's rows of a consumer, as that domain's part of the store declares
// them: MergeConsumers and DeleteConsumerData run every domain listed in domains, and nothing
// else. A domain that keeps rows per consumer declares them here, or the conformance suite
// (storetest's ConsumerRows tests, which count every table of store.ConsumerTables) and
// Teststore.ConsumerTablesClaimed (which reads the schema for consumer columns) fail.
type consumerRows interface {
	// tables names the domain's tables of per-consumer rows and what becomes of them.
	tables() []store.ConsumerTable
	// merge gives from's rows to into (both of brandID), settling rows the two both have.
	merge(ctx context.Context, t *Tx, brandID, from, into int64) error
	// erase deletes the rows of the consumers ids that tables does not say are kept, and
	// scrubs what a kept row may carry of the person; it returns how many rows it deleted.
	erase(ctx context.Context, t *Tx, brandID int64, ids []int64, at time.Time) (int64, error)
}

// domains is every domain's per-consumer rows, in the order merge and erasure run them.
var domains = []consumerRows{identityRows{}, eventRows{}, consentRows{}, rewardsRows{}, idempotencyRows{},
	accessRows{}, sessionRows{}, ledgerRows{}}

// ConsumerTables returns every table of per-consumer rows the domains declare.
func ConsumerTables() []store.ConsumerTable {
	var out []store.ConsumerTable
	for _, d := range domains {
		out = append(out, d.tables()...)
	}
	return out
}

// ConsumerTables returns every table of per-consumer rows the domains declare.
func (db *DB) ConsumerTables() []store.ConsumerTable { return ConsumerTables() }

// ConsumerRowCounts counts, per table of store.ConsumerTables, the rows of the consumers ids of
// brandID. The conformance suite checks merge and erasure with it; an operator can use it to
// see what the store holds of a person.
func (db *DB) ConsumerRowCounts(ctx context.Context, brandID int64, ids []int64) (map[string]int64, error) {
	out := map[string]int64{}
	err := db.View(ctx, func(stx store.Tx) error {
		tx := stx.(*Tx)
		for _, tb := range ConsumerTables() {
			vals := make([]any, len(ids))
			for i, id := range ids {
				if tb.Account {
					vals[i] = rewards.ConsumerAccount(id)
				} else {
					vals[i] = id
				}
			}
			in := strings.TrimSuffix(strings.Repeat("?,", len(ids)), ",")
			q, args := fmt.Sprintf(`SELECT COUNT(*) FROM %s WHERE brand_id = ? AND %s IN (%s)`, tb.Name, tb.Column, in), append([]any{brandID}, vals...)
			if tb.Unscoped {
				q, args = fmt.Sprintf(`SELECT COUNT(*) FROM %s WHERE %s IN (%s)`, tb.Name, tb.Column, in), vals
			}
			var n int64
			if err := tx.queryRow(ctx, q, args...).Scan(&n); err != nil {
				return fmt.Errorf("count %s: %w", tb.Name, err)
			}
			out[tb.Name] = n
		}
		return nil
	})
	return out, err
}

// moveRows runs statements that give from's rows to into: each has the arguments it names.
func (t *Tx) moveRows(ctx context.Context, steps []step) error {
	for _, s := range steps {
		if _, err := t.exec(ctx, s.q, s.args...); err != nil {
			return err
		}
	}
	return nil
}

// step is one statement of a merge or erasure.
type step struct {
	q    string
	args []any
}

// eraseIn runs statements over the consumers ids: each statement's placeholders are brandID
// and then the list, marked IN (%s).
func (t *Tx) eraseIn(ctx context.Context, brandID int64, ids []int64, qs ...string) (int64, error) {
	in, vals := inList(ids)
	args := append([]any{brandID}, vals...)
	var total int64
	for _, q := range qs {
		res, err := t.exec(ctx, fmt.Sprintf(q, in), args...)
		if err != nil {
			return 0, err
		}
		if n, err := res.RowsAffected(); err == nil && strings.HasPrefix(q, "DELETE") {
			total += n
		}
	}
	return total, nil
}
