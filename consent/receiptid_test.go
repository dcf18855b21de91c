package consent

import (
	"strings"
	"testing"
	"time"
)

// Receipt ids sort by the time they were made (the store's index of them grows at its end)
// and stay unique within one millisecond.
func TestReceiptIDsSortByTime(t *testing.T) {
	base := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	prev := ""
	seen := map[string]bool{}
	for _, d := range []time.Duration{0, time.Millisecond, 31 * time.Millisecond, 32 * time.Millisecond, time.Second, 24 * time.Hour, 1000 * 24 * time.Hour} {
		id := newReceiptID(base.Add(d))
		if !strings.HasPrefix(id, "rcpt_") || len(id) != 27 {
			t.Fatalf("id %q: want rcpt_ and 22 characters", id)
		}
		if id[:15] <= prev {
			t.Errorf("id %q made later does not sort after %q", id, prev)
		}
		prev = id[:15]
	}
	for range 1000 {
		id := newReceiptID(base)
		if seen[id] {
			t.Fatalf("id %q made twice", id)
		}
		seen[id] = true
	}
	// The time part of a fixed instant: 2026-12-03T10:00:00Z is 1796292000000 ms =
	// 0x1A23B58B900, in 5-bit digits 0 1 20 8 29 21 17 14 8 0.
	if got := newReceiptID(base)[5:15]; got != "01M8XNHE80" {
		t.Errorf("time part %q, want 01M8XNHE80", got)
	}
}
