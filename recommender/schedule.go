package recommender

import (
	"context"
	"sync"
	"time"

	"github.com/symbiont/symbiont"
)

// Status is where a brand's training stands.
type Status struct {
	// State is idle, queued (waiting for another brand's training) or training.
	State     string     `json:"state"`
	Version   string     `json:"version,omitempty"` // being trained
	Step      string     `json:"step,omitempty"`
	Consumers int        `json:"consumers_read"` // so far
	Events    int        `json:"events_read"`
	StartedAt *time.Time `json:"started_at,omitempty"`
	// Last is the newest training that finished; LastError the newest that failed.
	Last        *TrainResult `json:"last,omitempty"`
	LastError   string       `json:"last_error,omitempty"`
	LastErrorAt *time.Time   `json:"last_error_at,omitempty"`
	// NextAt is when the schedule trains next (absent when it trains only on demand).
	NextAt *time.Time `json:"next_at,omitempty"`
}

type status struct {
	mu        sync.Mutex
	s         Status
	attempted time.Time // the last training's end, for the schedule
}

func (s *Service) status(brandID int64) *status {
	v, _ := s.statuses.LoadOrStore(brandID, &status{s: Status{State: "idle"}})
	return v.(*status)
}

func (st *status) queue() {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.s.State == "idle" {
		st.s.State = "queued"
	}
}

func (st *status) step(version, step string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.s.State != "training" {
		now := time.Now().UTC()
		st.s.State, st.s.StartedAt, st.s.Consumers, st.s.Events = "training", &now, 0, 0
	}
	st.s.Version, st.s.Step = version, step
}

// read counts one consumer read, returning how many so far.
func (st *status) read(events int) int {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.s.Consumers++
	st.s.Events += events
	return st.s.Consumers
}

func (st *status) finish(res *TrainResult, err error, at time.Time) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.s = Status{State: "idle", Last: st.s.Last, LastError: st.s.LastError, LastErrorAt: st.s.LastErrorAt}
	st.attempted = at
	if err != nil {
		st.s.LastError, st.s.LastErrorAt = symbiont.ErrorMessage(err), &at
		return
	}
	res.FinishedAt = at
	st.s.Last = res
}

// Status reports the brand's training: in progress, last finished, last failed, next due.
func (s *Service) Status(brandID int64) (Status, error) {
	st := s.status(brandID)
	set, err := s.Settings(brandID)
	if err != nil {
		return Status{}, err
	}
	st.mu.Lock()
	out := st.s
	attempted := st.attempted
	st.mu.Unlock()
	if next, ok := s.due(brandID, set, attempted); ok {
		out.NextAt = &next
	}
	return out, nil
}

// due is when the schedule trains the brand next: TrainEvery after its model was trained (or
// after the last attempt, if later, so that a failing training is not retried at once); now
// for a brand with no model.
func (s *Service) due(brandID int64, set Settings, attempted time.Time) (time.Time, bool) {
	every := time.Duration(set.TrainEvery)
	if every <= 0 {
		return time.Time{}, false
	}
	last := attempted
	if m := s.Current(brandID); m != nil && m.Meta.TrainedAt.After(last) {
		last = m.Meta.TrainedAt
	}
	if last.IsZero() {
		return s.clock.Now(), true
	}
	return last.Add(every), true
}

// TrainAsync starts a training in the background (Status follows it); false when the brand's
// training is already queued or running.
func (s *Service) TrainAsync(ctx context.Context, brandID int64) bool {
	st := s.status(brandID)
	st.mu.Lock()
	busy := st.s.State != "idle"
	st.mu.Unlock()
	if busy {
		return false
	}
	st.queue()
	base := context.WithoutCancel(ctx)
	if b := s.base.Load(); b != nil { // Run's: a closing platform stops it
		base = *b
	}
	s.jobs.Add(1)
	go func() {
		defer s.jobs.Done()
		s.Train(base, brandID)
	}()
	return true
}

// Run trains, every check, each brand whose schedule is due, until ctx is done; then it waits
// for the trainings TrainAsync started (which ctx cancels). brands lists the brands to
// consider.
func (s *Service) Run(ctx context.Context, check time.Duration, brands func(context.Context) ([]int64, error)) {
	s.base.Store(&ctx)
	defer func() {
		s.base.Store(nil)
		s.jobs.Wait()
	}()
	t := time.NewTicker(check)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		ids, err := brands(ctx)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("recommender: listing brands for the schedule", "err", err)
			}
			continue
		}
		for _, id := range ids {
			if ctx.Err() != nil {
				return
			}
			set, err := s.Settings(id)
			if err != nil {
				s.log.Warn("recommender: settings", "brand", id, "err", err)
				continue
			}
			st := s.status(id)
			st.mu.Lock()
			attempted, idle := st.attempted, st.s.State == "idle"
			st.mu.Unlock()
			if next, ok := s.due(id, set, attempted); ok && idle && !s.clock.Now().Before(next) {
				s.Train(ctx, id) // logged, and in Status, when it fails
			}
		}
	}
}
