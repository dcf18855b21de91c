// Package overview is a brand's aggregate figures, as the console's overview draws them:
// consent rates and event counts per day. They are counts only, never a consumer's data (which
// is read through package access), kept by the store in step with the rows they count.
package overview

import (
	"context"
	"time"

	"github.com/symbiont/symbiont"
)

// IngestCount is how many of a brand's messages had one outcome ("accepted" or a drop reason)
// on one UTC day.
type IngestCount struct {
	BrandID int64
	Day     time.Time // midnight UTC
	Outcome string
	Count   int64
}

// Pair is a category × purpose.
type Pair struct{ Category, Purpose string }

// ConsentDays is a brand's consent over a run of days, as the console's consent-rate chart
// draws it: for each day, the figure at the end of the day (at now for today).
type ConsentDays struct {
	// Pairs is every category × purpose the brand ever recorded a decision for, sorted.
	Pairs []Pair
	// Active[i][d] is how many consumers had an active grant of Pairs[i] at the end of day d:
	// their latest decision of the pair was a grant that had not expired.
	Active [][]int64
	// Consumers[d] is how many of the brand's live (not merged) consumers existed then.
	Consumers []int64
	// Total is the brand's live consumers now.
	Total int64
}

// Tx is what the brand console reads for its overview: aggregates only, never a
// payload (consumer data is read through package access). The store keeps them in step with
// the rows, in the transaction that changes the rows (a consent record, a consumer created or
// merged, events stored or erased, grants, journals and redemptions of the rewards), so a
// read costs the same with a thousand consumers or a million.
type Tx interface {
	// ConsentDays returns the brand's consent figures for the days from start (a UTC
	// midnight) on, at the end of each day or at now, whichever is earlier.
	ConsentDays(ctx context.Context, brandID int64, start time.Time, days int, now time.Time) (*ConsentDays, error)
	// StoredEventsPerDay counts the brand's stored events per UTC day of arrival since from.
	StoredEventsPerDay(ctx context.Context, brandID int64, from time.Time) ([]IngestCount, error)
	// AddIngestCounts adds counts to the per-brand daily ingestion tallies.
	AddIngestCounts(ctx context.Context, counts []IngestCount) error
	// IngestCounts returns the brand's daily ingestion tallies since from.
	IngestCounts(ctx context.Context, brandID int64, from time.Time) ([]IngestCount, error)
}

// Service reads a brand's aggregates, each in a transaction of its own.
type Service struct {
	db symbiont.Transactor[Tx]
}

// NewService returns the service over db.
func NewService(db symbiont.Transactor[Tx]) *Service { return &Service{db: db} }

// ConsentDays returns the brand's consent figures for days days from start (a UTC midnight),
// at the end of each day or at now, whichever is earlier.
func (s *Service) ConsentDays(ctx context.Context, brandID int64, start time.Time, days int, now time.Time) (cd *ConsentDays, err error) {
	err = s.db.View(ctx, func(tx Tx) (err error) {
		cd, err = tx.ConsentDays(ctx, brandID, start, days, now)
		return err
	})
	return cd, err
}

// StoredEventsPerDay counts the brand's stored events per UTC day of arrival since from.
func (s *Service) StoredEventsPerDay(ctx context.Context, brandID int64, from time.Time) (cs []IngestCount, err error) {
	err = s.db.View(ctx, func(tx Tx) (err error) {
		cs, err = tx.StoredEventsPerDay(ctx, brandID, from)
		return err
	})
	return cs, err
}
