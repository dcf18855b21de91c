package consent

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// TestReloadNeverOverwritesNewerState: a reload's read is followed, before the reload applies
// it, by a change this node makes (the interleaving is driven from inside read, not by timing).
// The read must not land on top of that change, in either direction; a later read does.
func TestReloadNeverOverwritesNewerState(t *testing.T) {
	now := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	exp := now.Add(time.Hour)
	given := rec(1, 10, "contact", "service", StateGiven, exp)
	withdrawn := rec(1, 10, "contact", "service", StateWithdrawn, time.Time{})
	other := rec(1, 10, "purchases", "personalization", StateGiven, exp) // another node's change
	change := func(r *Record) func(ix *Index) {
		return func(ix *Index) {
			release := ix.Hold(1, 10)
			ix.Set(r)
			release()
		}
	}
	for _, c := range []struct {
		name    string
		initial []*Record
		// reads are what the database holds at each read; during runs right after the first.
		reads  [][]*Record
		during func(ix *Index)
		want   bool // contact for service allowed after the reload
		nreads int
	}{
		{"no change here: the read applies", []*Record{given}, [][]*Record{{given, other}}, nil, true, 1},
		{"another node's withdrawal applies", []*Record{given}, [][]*Record{{withdrawn, other}}, nil, false, 1},
		{"withdrawal here during the read is not undone", []*Record{given},
			[][]*Record{{given, other}, {withdrawn, other}}, change(withdrawn), false, 2},
		{"grant here during the read is not dropped", nil,
			[][]*Record{{other}, {given, other}}, change(given), true, 2},
		{"grants dropped here during the read stay dropped", []*Record{given},
			[][]*Record{{given, other}, {other}}, func(ix *Index) { ix.Forget(1, 10) }, false, 2},
		{"a newer reload that applied first is not undone", []*Record{given},
			[][]*Record{{given, other}, {withdrawn, other}},
			func(ix *Index) {
				if err := ix.Reload(context.Background(), 1, 10, func() ([]*Record, error) { return []*Record{withdrawn, other}, nil }); err != nil {
					t.Fatal(err)
				}
			}, false, 2},
		{"a change of another consumer does not matter", []*Record{given},
			[][]*Record{{given, other}}, func(ix *Index) { ix.Set(rec(1, 11, "contact", "service", StateWithdrawn, time.Time{})) }, true, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			ix := NewIndex()
			for _, r := range c.initial {
				ix.Set(r)
			}
			n := 0
			err := ix.Reload(context.Background(), 1, 10, func() ([]*Record, error) {
				n++
				out := c.reads[min(n, len(c.reads))-1]
				if n == 1 && c.during != nil {
					c.during(ix)
				}
				return out, nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if got := ix.Allowed(1, 10, "contact", "service", now); got != c.want {
				t.Errorf("contact for service allowed = %v, want %v", got, c.want)
			}
			if !ix.Allowed(1, 10, "purchases", "personalization", now) {
				t.Error("the other node's grant was not loaded")
			}
			if n != c.nreads {
				t.Errorf("%d reads, want %d", n, c.nreads)
			}
		})
	}
}

// TestReloadWaitsForHeldChange: a reload that finds a change of the consumer held (its
// transaction not yet committed, or the index not yet updated) reads only once it is released.
func TestReloadWaitsForHeldChange(t *testing.T) {
	now := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	ix := NewIndex()
	ix.Set(rec(1, 10, "contact", "service", StateGiven, now.Add(time.Hour)))
	release := ix.Hold(1, 10)
	ix.Set(rec(1, 10, "contact", "service", StateWithdrawn, time.Time{})) // marked before commit
	var committed atomic.Bool
	done := make(chan error)
	go func() {
		done <- ix.Reload(context.Background(), 1, 10, func() ([]*Record, error) {
			if !committed.Load() {
				t.Error("the reload read while a change of the consumer was held")
			}
			return []*Record{rec(1, 10, "contact", "service", StateWithdrawn, time.Time{})}, nil
		})
	}()
	committed.Store(true)
	release()
	release() // twice is once
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if ix.Allowed(1, 10, "contact", "service", now) {
		t.Error("withdrawn grant allowed")
	}

	// Cancelled while waiting: nothing read, nothing changed.
	release = ix.Hold(1, 10)
	defer release()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := ix.Reload(ctx, 1, 10, func() ([]*Record, error) {
		t.Error("read while held")
		return nil, nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Reload = %v, want context.Canceled", err)
	}
}

// TestReloadFailsClosed: a read that fails, or a consumer that changes during every read,
// leaves the consumer with no grants rather than with a state the reload could not confirm.
func TestReloadFailsClosed(t *testing.T) {
	now := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	given := rec(1, 10, "contact", "service", StateGiven, now.Add(time.Hour))
	for _, c := range []struct {
		name string
		read func(ix *Index) ([]*Record, error)
	}{
		{"read fails", func(*Index) ([]*Record, error) { return nil, errors.New("connection lost") }},
		{"always changed", func(ix *Index) ([]*Record, error) { ix.Set(given); return []*Record{given}, nil }},
	} {
		t.Run(c.name, func(t *testing.T) {
			ix := NewIndex()
			ix.Set(given)
			n := 0
			err := ix.Reload(context.Background(), 1, 10, func() ([]*Record, error) { n++; return c.read(ix) })
			if err == nil {
				t.Fatal("no error")
			}
			if ix.Allowed(1, 10, "contact", "service", now) {
				t.Error("grant kept after a failed reload")
			}
			if n > maxReloads {
				t.Errorf("%d reads, at most %d", n, maxReloads)
			}
		})
	}
}

// TestLoadSkipsConsumersChangedMeanwhile: a load streams rows read at its start; a consumer
// this node changed (or is changing) after that keeps its newer state and is reported for a
// reload, and the rows of the other consumers all load.
func TestLoadSkipsConsumersChangedMeanwhile(t *testing.T) {
	now := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	exp := now.Add(time.Hour)
	ix := NewIndex()
	ld := ix.beginLoad()
	// Consumer 10: withdrawn here after the load began; its old row must not bring it back.
	ix.Hold(1, 10)()
	ix.Set(rec(1, 10, "contact", "service", StateWithdrawn, time.Time{}))
	// Consumer 11: a change held (not committed yet) when its row arrives.
	release := ix.Hold(1, 11)
	// Consumer 12: loaded first, then withdrawn here: the withdrawal stands.
	for _, r := range []*Record{
		rec(1, 12, "contact", "service", StateGiven, exp),
		rec(1, 10, "contact", "service", StateGiven, exp),
		rec(1, 11, "contact", "service", StateGiven, exp),
		rec(1, 12, "purchases", "personalization", StateGiven, exp), // two rows of one consumer both load
		rec(1, 13, "contact", "service", StateGiven, exp),
	} {
		ld.set(r)
	}
	ix.Set(rec(1, 12, "contact", "service", StateWithdrawn, time.Time{}))
	release()
	skipped := map[int64]bool{}
	for _, k := range ld.end() {
		skipped[k.consumer] = true
	}
	if len(skipped) != 2 || !skipped[10] || !skipped[11] {
		t.Errorf("skipped %v, want consumers 10 and 11", skipped)
	}
	for _, c := range []struct {
		consumer     int64
		cat, purpose string
		want         bool
	}{
		{10, "contact", "service", false},
		{11, "contact", "service", false}, // until reloaded
		{12, "contact", "service", false},
		{12, "purchases", "personalization", true},
		{13, "contact", "service", true},
	} {
		if got := ix.Allowed(1, c.consumer, c.cat, c.purpose, now); got != c.want {
			t.Errorf("consumer %d %s for %s: allowed = %v, want %v", c.consumer, c.cat, c.purpose, got, c.want)
		}
	}
	// Once no read is in flight, nothing is remembered.
	for i := range ix.shards {
		if s := &ix.shards[i]; s.readers != 0 || len(s.changed) != 0 || len(s.holds) != 0 {
			t.Fatalf("shard %d keeps %d readers, %d changes, %d holds", i, s.readers, len(s.changed), len(s.holds))
		}
	}
}

// BenchmarkChange is what a consent change costs the index, without its transaction: the update
// alone (set), and with the hold around it (held), which Apply adds.
func BenchmarkChange(b *testing.B) {
	exp := time.Now().Add(time.Hour)
	for _, held := range []bool{false, true} {
		name := "set"
		if held {
			name = "held"
		}
		b.Run(name, func(b *testing.B) {
			ix := NewIndex()
			r := rec(1, 10, "contact", "service", StateGiven, exp)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				r.ConsumerID = int64(i%4096 + 10)
				if held {
					release := ix.Hold(1, r.ConsumerID)
					ix.Set(r)
					release()
				} else {
					ix.Set(r)
				}
			}
		})
	}
}
