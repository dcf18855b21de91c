package symbiont_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/symbiont/symbiont"
)

// records is an in-memory IdempotencyPruneTx: creation times of stored records.
type records struct {
	at    []time.Time
	calls int
	fail  error
}

func (r *records) PruneIdempotent(_ context.Context, before time.Time, limit int) (int64, error) {
	r.calls++
	if r.fail != nil {
		return 0, r.fail
	}
	var n int64
	kept := r.at[:0]
	for _, t := range r.at {
		if t.Before(before) && n < int64(limit) {
			n++
			continue
		}
		kept = append(kept, t)
	}
	r.at = kept
	return n, nil
}

type recordsDB struct{ r *records }

func (d recordsDB) Update(ctx context.Context, fn func(symbiont.IdempotencyPruneTx) error) error {
	return fn(d.r)
}
func (d recordsDB) View(ctx context.Context, fn func(symbiont.IdempotencyPruneTx) error) error {
	return fn(d.r)
}

// PruneIdempotency deletes in bounded transactions until nothing old is left.
func TestPruneIdempotency(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name       string
		old, young int
		calls      int
	}{
		{"nothing", 0, 0, 1},
		{"only young", 0, 5, 1},
		{"less than a batch", 999, 3, 1},
		{"exactly a batch", 1000, 0, 2},
		{"several batches", 2500, 7, 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := &records{}
			for i := range tt.old {
				r.at = append(r.at, t0.Add(-time.Duration(i+1)*time.Minute))
			}
			for i := range tt.young {
				r.at = append(r.at, t0.Add(time.Duration(i)*time.Minute))
			}
			n, err := symbiont.PruneIdempotency(context.Background(), recordsDB{r}, t0)
			if err != nil || n != int64(tt.old) || len(r.at) != tt.young || r.calls != tt.calls {
				t.Errorf("pruned %d (%v) in %d transactions, %d left; want %d in %d, %d left", n, err, r.calls, len(r.at), tt.old, tt.calls, tt.young)
			}
		})
	}
	r := &records{at: []time.Time{t0.Add(-time.Hour)}, fail: errors.New("disk full")}
	if _, err := symbiont.PruneIdempotency(context.Background(), recordsDB{r}, t0); err == nil {
		t.Error("a failed transaction was not reported")
	}
}
