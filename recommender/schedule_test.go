package recommender_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/symbiont/symbiont"
	"github.com/symbiont/symbiont/recommender"
)

// The schedule trains a brand with no model at its first check, then not again until its
// train_every has passed on the clock; Status says what happened and what is next; a brand
// that trains on demand only is left alone; TrainAsync refuses a second training while one is
// queued or running.
func TestSchedule(t *testing.T) {
	p, brand := fixture(t)
	clock := symbiont.NewFakeClock(time.Now())
	s := recommender.NewService(p.Access, p.Catalog, filepath.Join(t.TempDir(), "models"), clock, slog.New(slog.DiscardHandler))
	if err := s.PutSettings(brand, recommender.Settings{Diversity: 0.7, TrainEvery: recommender.Duration(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	other := brand + 1000 // a brand with no catalogue, on demand only
	if err := s.PutSettings(other, recommender.Settings{Diversity: 0.7}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Run(ctx, time.Millisecond, func(context.Context) ([]int64, error) { return []int64{brand, other}, nil })
	}()
	waitFor(t, func() bool { m := s.Current(brand); return m != nil && m.Meta.Version == "recs-v1" })
	st, err := s.Status(brand)
	if err != nil {
		t.Fatal(err)
	}
	if st.State != "idle" || st.Last == nil || st.Last.Version != "recs-v1" || st.Last.Consumers != 12 || st.NextAt == nil ||
		!st.NextAt.Equal(s.Current(brand).Meta.TrainedAt.Add(time.Hour)) {
		t.Errorf("status after the scheduled training: %+v", st)
	}
	time.Sleep(20 * time.Millisecond) // many checks, none due
	if v := s.Current(brand).Meta.Version; v != "recs-v1" {
		t.Errorf("trained again before train_every: %s", v)
	}
	clock.Advance(61 * time.Minute)
	waitFor(t, func() bool { return s.Current(brand).Meta.Version == "recs-v2" })
	if st, _ := s.Status(other); st.Last != nil || st.LastError != "" || st.NextAt != nil {
		t.Errorf("an on-demand brand's status: %+v", st)
	}
	cancel()
	<-done

	if !s.TrainAsync(context.Background(), brand) {
		t.Fatal("TrainAsync refused an idle brand")
	}
	s.TrainAsync(context.Background(), brand) // queued or running: refused, or idle again: fine
	waitFor(t, func() bool {
		st, _ := s.Status(brand)
		return st.State == "idle" && st.Last != nil && st.Last.Version != "recs-v2"
	})
	if s.TrainAsync(context.Background(), other) {
		waitFor(t, func() bool { st, _ := s.Status(other); return st.State == "idle" && st.LastError != "" })
	}
	if st, _ := s.Status(other); st.LastError == "" || st.Last != nil {
		t.Errorf("a brand with an empty catalogue: %+v, want its error", st)
	}
}

func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !ok(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting")
		}
	}
}
