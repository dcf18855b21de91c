package symbiont

import (
	"sync"
	"sync/atomic"
	"time"
)

// Clock tells the time. It is injected wherever time decides something (expiry, tokens,
// accrual) so that tests can travel in time.
type Clock interface {
	Now() time.Time
}

// SystemClock is the wall clock.
type SystemClock struct{}

// Now returns the current time in UTC.
func (SystemClock) Now() time.Time { return time.Now().UTC() }

// FakeClock is a settable clock for tests.
type FakeClock struct {
	mu sync.Mutex
	t  time.Time
}

// NewFakeClock returns a clock standing at t.
func NewFakeClock(t time.Time) *FakeClock { return &FakeClock{t: t.UTC()} }

// Now returns the clock's time.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *FakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Set moves the clock to t.
func (c *FakeClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t.UTC()
	c.mu.Unlock()
}

// Millis converts t to Unix milliseconds, the unit every store column of time uses.
func Millis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// FromMillis converts Unix milliseconds back to a UTC time; 0 is the zero time.
func FromMillis(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// ShiftedClock is another clock moved by an offset. `serve --demo` runs on one so that the demo
// can seed months of history (grants, accrual, redemptions) as it would have happened, then
// return to the present before serving.
type ShiftedClock struct {
	Base   Clock
	offset atomic.Int64
}

// Now returns the base clock's time plus the offset.
func (c *ShiftedClock) Now() time.Time { return c.Base.Now().Add(time.Duration(c.offset.Load())) }

// Advance moves the clock by d (negative: back in time).
func (c *ShiftedClock) Advance(d time.Duration) { c.offset.Add(int64(d)) }
