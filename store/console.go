package store

import (
	"context"
	"time"
)

// ConsentChange is one row of a brand's consent history as the console's consent-rate chart
// needs it: no receipt, notice or evidence, only who, which pair, what and when.
type ConsentChange struct {
	ConsumerID        int64
	Category, Purpose string
	State             string
	At, ExpiresAt     time.Time // ExpiresAt zero: no expiry
}

// IngestCount is how many of a brand's messages had one outcome ("accepted" or a drop reason)
// on one UTC day.
type IngestCount struct {
	BrandID int64
	Day     time.Time // midnight UTC
	Outcome string
	Count   int64
}

// ConsoleTx is what the brand console reads for its overview: aggregates only, never a
// payload (consumer data is read through package access).
type ConsoleTx interface {
	// ConsentChanges returns every consent record of the brand, oldest first.
	ConsentChanges(ctx context.Context, brandID int64) ([]ConsentChange, error)
	// ConsumerCreations returns when each live (not merged) consumer of the brand was created.
	ConsumerCreations(ctx context.Context, brandID int64) ([]time.Time, error)
	// StoredEventsPerDay counts the brand's stored events per UTC day of arrival since from.
	StoredEventsPerDay(ctx context.Context, brandID int64, from time.Time) ([]IngestCount, error)
	// AddIngestCounts adds counts to the per-brand daily ingestion tallies.
	AddIngestCounts(ctx context.Context, counts []IngestCount) error
	// IngestCounts returns the brand's daily ingestion tallies since from.
	IngestCounts(ctx context.Context, brandID int64, from time.Time) ([]IngestCount, error)
}
