package api_test

import (
	"testing"
	"time"

	"github.com/symbiont/symbiont/store"
)

// TestEventTimeFromOriginalTimestamp: an SDK that sends originalTimestamp and sentAt but no
// timestamp (RudderStack's) gets its events' time corrected for its clock skew, as Segment
// computes it: receivedAt − (sentAt − originalTimestamp); one that sends timestamp keeps it.
func TestEventTimeFromOriginalTimestamp(t *testing.T) {
	e := newEnv(t)
	b := e.setup("Aurora")
	e.grant(b, "guest-1", "purchases", "personalization")
	recv := e.clock.Now()
	// The device's clock is 3 h behind; the order was placed 40 s before the batch was sent.
	res := e.batch(b,
		map[string]any{"type": "track", "userId": "guest-1", "event": "Order Completed", "messageId": "skewed",
			"originalTimestamp": "2026-11-01T05:59:20.000Z", "sentAt": "2026-11-01T06:00:00.000Z"},
		map[string]any{"type": "track", "userId": "guest-1", "event": "Order Completed", "messageId": "stated",
			"timestamp": "2026-10-30T12:00:00Z", "originalTimestamp": "2026-11-01T05:59:20.000Z", "sentAt": "2026-11-01T06:00:00.000Z"},
		map[string]any{"type": "track", "userId": "guest-1", "event": "Order Completed", "messageId": "none"},
	)
	if num(res["accepted"]) != 3 {
		t.Fatalf("batch: %v", res)
	}
	g := grantRecord(e, b, "guest-1")
	var evs []*store.Event
	if err := e.p.Store.View(t.Context(), func(tx store.Tx) (err error) {
		evs, err = tx.ConsumerEvents(t.Context(), g.BrandID, g.ConsumerID, []string{"purchases"}, 0)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	want := map[time.Time]bool{recv.Add(-40 * time.Second): true, time.Date(2026, 10, 30, 12, 0, 0, 0, time.UTC): true, recv.Truncate(time.Millisecond): true}
	if len(evs) != 3 {
		t.Fatalf("%d events stored, want 3", len(evs))
	}
	for _, ev := range evs {
		if !want[ev.Timestamp.UTC()] {
			t.Errorf("stored event time %s, want one of %v", ev.Timestamp.UTC(), want)
		}
		delete(want, ev.Timestamp.UTC())
		if !ev.ReceivedAt.Equal(recv.Truncate(time.Millisecond)) {
			t.Errorf("received_at %s, want %s", ev.ReceivedAt, recv)
		}
	}
}
