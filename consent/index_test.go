package consent

import (
	"fmt"
	"testing"
	"time"
)

func rec(brand, consumer int64, cat, purpose, state string, exp time.Time) *Record {
	return &Record{BrandID: brand, ConsumerID: consumer, Category: cat, Purpose: purpose, State: state, ExpiresAt: exp}
}

func TestIndex(t *testing.T) {
	now := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	later := now.Add(time.Hour)
	ix := NewIndex()
	ix.Set(rec(1, 10, "purchases", "personalization", StateGiven, later))
	ix.Set(rec(1, 10, "contact", "marketing", StateGiven, time.Time{}))
	ix.Set(rec(1, 10, "contact", "marketing", StateGiven, time.Time{}).withMethod(MethodWalletGPC))
	cases := []struct {
		name            string
		brand, consumer int64
		cat, purpose    string
		at              time.Time
		want            bool
	}{
		{"granted", 1, 10, "purchases", "personalization", now, true},
		{"other purpose", 1, 10, "purchases", "marketing", now, false},
		{"other category", 1, 10, "browsing", "personalization", now, false},
		{"other brand", 2, 10, "purchases", "personalization", now, false},
		{"other consumer", 1, 11, "purchases", "personalization", now, false},
		{"at expiry", 1, 10, "purchases", "personalization", later, false},
		{"no expiry", 1, 10, "contact", "marketing", now.AddDate(50, 0, 0), true},
	}
	for _, c := range cases {
		if got := ix.Allowed(c.brand, c.consumer, c.cat, c.purpose, c.at); got != c.want {
			t.Errorf("%s: Allowed = %v", c.name, got)
		}
	}
	if !ix.AllowedAny(1, 10, "purchases", now) || ix.AllowedAny(1, 10, "purchases", later) || ix.AllowedAny(1, 10, "browsing", now) {
		t.Error("AllowedAny")
	}
	if got := ix.GPCRefusable(1, 10, []string{"marketing", "personalization"}, now); len(got) != 1 || got[0] != [2]string{"purchases", "personalization"} {
		t.Errorf("GPCRefusable = %v (the override must be kept)", got)
	}
	ix.Set(rec(1, 10, "purchases", "personalization", StateWithdrawn, time.Time{}))
	if ix.Allowed(1, 10, "purchases", "personalization", now) {
		t.Error("withdrawal not applied")
	}
	ix.Forget(1, 10)
	if ix.Allowed(1, 10, "contact", "marketing", now) || ix.Len() != 0 {
		t.Error("Forget")
	}
}

func (r *Record) withMethod(m string) *Record { r.Method = m; return r }

// BenchmarkDecision is the consent decision on the ingest and read paths: an index of 1,000,000
// consumers with several grants each, looked up by parallel goroutines.
func BenchmarkDecision(b *testing.B) {
	ix := NewIndex()
	now := time.Now()
	exp := now.Add(24 * time.Hour)
	const consumers = 1_000_000
	purposes := []string{"personalization", "analytics", "marketing", "service"}
	for c := int64(1); c <= consumers; c++ {
		for i, p := range purposes {
			if c%int64(i+2) == 0 || i == 0 {
				ix.Set(rec(1, c, "purchases", p, StateGiven, exp))
			}
		}
		ix.Set(rec(1, c, "browsing", "analytics", StateGiven, exp))
	}
	// Serial: the latency of one decision.
	b.Run("Allowed/serial", func(b *testing.B) {
		c := int64(1)
		for b.Loop() {
			c = c*6364136223846793005 + 1442695040888963407
			ix.Allowed(1, 1+int64(uint64(c)%consumers), "purchases", "marketing", now)
		}
	})
	b.Run("Allowed/hot", func(b *testing.B) {
		for b.Loop() {
			ix.Allowed(1, 4242, "purchases", "marketing", now)
		}
	})
	// Parallel: throughput with both cores deciding (ns/op is wall time over all decisions).
	for _, mode := range []string{"Allowed", "AllowedAny"} {
		b.Run(mode+"/parallel", func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				c := int64(1)
				hits := 0
				for pb.Next() {
					c = c*6364136223846793005 + 1442695040888963407
					id := 1 + int64(uint64(c)%consumers)
					var ok bool
					if mode == "Allowed" {
						ok = ix.Allowed(1, id, "purchases", "marketing", now)
					} else {
						ok = ix.AllowedAny(1, id, "browsing", now)
					}
					if ok {
						hits++
					}
				}
				_ = fmt.Sprint(hits)
			})
		})
	}
}
