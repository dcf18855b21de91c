package segment

import (
	"testing"
	"time"
)

// TestEventTime: Segment's rule, timestamp = receivedAt − (sentAt − originalTimestamp), and
// the caps where a device clock cannot be trusted, each through a parsed batch as an SDK sends
// it (sentAt on the message or, as RudderStack's and Segment's mobile SDKs do, on the batch).
func TestEventTime(t *testing.T) {
	recv := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	at := func(s string) time.Time {
		t.Helper()
		v, ok := parseTimestamp([]byte(s))
		if !ok {
			t.Fatalf("bad time %q", s)
		}
		return v
	}
	for _, c := range []struct {
		name string
		body string
		want time.Time
	}{
		{"timestamp, as sent", `{"batch":[{"type":"track","event":"e","userId":"u","timestamp":"2026-10-31T08:00:00Z",
			"originalTimestamp":"2026-10-31T07:00:00Z","sentAt":"2026-10-31T09:00:00Z"}]}`, at("2026-10-31T08:00:00Z")},
		{"timestamp in the future, as sent", `{"batch":[{"type":"track","event":"e","userId":"u","timestamp":"2027-01-01T00:00:00Z"}]}`,
			at("2027-01-01T00:00:00Z")},
		{"nothing: received", `{"batch":[{"type":"track","event":"e","userId":"u"}]}`, recv},
		{"sentAt alone: received", `{"batch":[{"type":"track","event":"e","userId":"u","sentAt":"2026-11-01T08:00:00Z"}]}`, recv},
		// Device clock 2 h behind; the call was made 30 s before it was sent.
		{"skew corrected", `{"batch":[{"type":"track","event":"e","userId":"u","originalTimestamp":"2026-11-01T06:59:30Z",
			"sentAt":"2026-11-01T07:00:00Z"}]}`, at("2026-11-01T08:59:30Z")},
		{"skew corrected, clock ahead, with offsets", `{"batch":[{"type":"track","event":"e","userId":"u",
			"originalTimestamp":"2026-11-01T12:55:00.250+03:00","sentAt":"2026-11-01T13:00:00+0300"}]}`, at("2026-11-01T08:55:00.250Z")},
		{"batch-level sentAt", `{"sentAt":"2026-11-01T09:10:00Z","batch":[{"type":"track","event":"e","userId":"u",
			"originalTimestamp":"2026-11-01T09:09:00Z"}]}`, at("2026-11-01T08:59:00Z")},
		{"message's sentAt wins over the batch's", `{"sentAt":"2026-11-01T10:00:00Z","batch":[{"type":"track","event":"e","userId":"u",
			"originalTimestamp":"2026-11-01T09:09:00Z","sentAt":"2026-11-01T09:10:00Z"}]}`, at("2026-11-01T08:59:00Z")},
		{"queued offline for a day", `{"batch":[{"type":"track","event":"e","userId":"u","originalTimestamp":"2026-10-31T09:00:00Z",
			"sentAt":"2026-11-01T09:00:05Z"}]}`, at("2026-10-31T08:59:55Z")},
		{"sent before it happened: received", `{"batch":[{"type":"track","event":"e","userId":"u","originalTimestamp":"2026-11-01T09:00:01Z",
			"sentAt":"2026-11-01T09:00:00Z"}]}`, recv},
		{"no sentAt: originalTimestamp as is", `{"batch":[{"type":"track","event":"e","userId":"u","originalTimestamp":"2026-11-01T08:00:00Z"}]}`,
			at("2026-11-01T08:00:00Z")},
		{"no sentAt, device ahead: received", `{"batch":[{"type":"track","event":"e","userId":"u","originalTimestamp":"2026-11-01T09:00:00.001Z"}]}`,
			recv},
		{"sentAt null: originalTimestamp as is", `{"batch":[{"type":"track","event":"e","userId":"u","originalTimestamp":"2026-11-01T08:00:00Z",
			"sentAt":null}]}`, at("2026-11-01T08:00:00Z")},
		// A clock millennia off saturates Duration arithmetic; the event still never lands after receipt.
		{"device clock in year 9000", `{"batch":[{"type":"track","event":"e","userId":"u","originalTimestamp":"9000-01-01T00:00:00Z",
			"sentAt":"9500-01-01T00:00:00Z"}]}`, recv},
	} {
		t.Run(c.name, func(t *testing.T) {
			b, err := ParseBatch([]byte(c.body))
			if err != nil {
				t.Fatal(err)
			}
			m := &b.Messages[0]
			if m.Err != nil {
				t.Fatal(m.Err)
			}
			if got := m.EventTime(recv); !got.Equal(c.want) {
				t.Errorf("EventTime = %s, want %s", got.Format(time.RFC3339Nano), c.want.Format(time.RFC3339Nano))
			}
		})
	}
}
