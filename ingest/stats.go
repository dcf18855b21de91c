package ingest

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/symbiont/symbiont/overview"
	"github.com/symbiont/symbiont/store"
)

// Per-brand daily tallies of ingestion outcomes, for the brand console's "events in and
// dropped" chart. Dropped messages are never stored, so they can only be counted as they
// happen: CountResult adds a request's outcome in memory, and the tallies are added to the
// store's ingest_daily table at most every flushEvery (from CountResult) and by FlushCounts,
// which Close should call after draining the writer.
// Ingest calls CountResult before it returns; Close calls FlushCounts once the writer has
// drained. A crash loses at most the last flushEvery of tallies (never an event).

const flushEvery = 10 * time.Second

type tallyKey struct {
	brand   int64
	day     int64 // Unix day
	outcome string
}

type tally struct {
	mu        sync.Mutex
	pending   map[tallyKey]int64
	lastFlush time.Time
	flushing  bool
}

func newTally() *tally { return &tally{pending: map[tallyKey]int64{}, lastFlush: time.Now()} }

func (s *Service) tally() *tally { return s.counts }

// OutcomeAccepted is the outcome counted for stored messages; drops count under their reason.
const OutcomeAccepted = "accepted"

// CountResult adds one request's outcome to the brand's tally for today.
func (s *Service) CountResult(brandID int64, res *Result) {
	if res == nil {
		return
	}
	day := s.clock.Now().UTC().Unix() / 86400
	t := s.tally()
	t.mu.Lock()
	if res.Accepted > 0 {
		t.pending[tallyKey{brandID, day, OutcomeAccepted}] += int64(res.Accepted)
	}
	for _, d := range res.Dropped {
		t.pending[tallyKey{brandID, day, d.Reason}]++
	}
	due := !t.flushing && time.Since(t.lastFlush) >= flushEvery && len(t.pending) > 0
	if due {
		t.flushing = true
	}
	t.mu.Unlock()
	if due {
		go func() {
			if err := s.flush(context.Background(), t); err != nil {
				s.log.Warn("ingest: flushing daily tallies", slog.Any("err", err))
			}
		}()
	}
}

// FlushCounts adds the tallies counted so far to the store.
func (s *Service) FlushCounts(ctx context.Context) error {
	t := s.tally()
	t.mu.Lock()
	t.flushing = true
	t.mu.Unlock()
	return s.flush(ctx, t)
}

func (s *Service) flush(ctx context.Context, t *tally) error {
	t.mu.Lock()
	batch := t.pending
	t.pending = map[tallyKey]int64{}
	t.mu.Unlock()
	var err error
	if len(batch) > 0 {
		counts := make([]overview.IngestCount, 0, len(batch))
		for k, n := range batch {
			counts = append(counts, overview.IngestCount{BrandID: k.brand, Day: time.Unix(k.day*86400, 0).UTC(), Outcome: k.outcome, Count: n})
		}
		err = s.store.Update(ctx, func(tx store.Tx) error { return tx.AddIngestCounts(ctx, counts) })
	}
	t.mu.Lock()
	if err != nil { // keep them for the next flush
		for k, n := range batch {
			t.pending[k] += n
		}
	}
	t.lastFlush, t.flushing = time.Now(), false
	t.mu.Unlock()
	return err
}

// DailyCounts returns the brand's tallies since from: what was flushed plus what is still in
// this process's memory.
func (s *Service) DailyCounts(ctx context.Context, brandID int64, from time.Time) ([]overview.IngestCount, error) {
	var out []overview.IngestCount
	if err := s.store.View(ctx, func(tx store.Tx) (err error) {
		out, err = tx.IngestCounts(ctx, brandID, from)
		return err
	}); err != nil {
		return nil, err
	}
	t := s.tally()
	fromDay := from.UTC().Unix() / 86400
	t.mu.Lock()
	for k, n := range t.pending {
		if k.brand == brandID && k.day >= fromDay {
			out = append(out, overview.IngestCount{BrandID: brandID, Day: time.Unix(k.day*86400, 0).UTC(), Outcome: k.outcome, Count: n})
		}
	}
	t.mu.Unlock()
	return out, nil
}
