package web_test

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/symbiont/symbiont"
	"github.com/symbiont/symbiont/consent"
	"github.com/symbiont/symbiont/platform"
	"github.com/symbiont/symbiont/rewards"
	"github.com/symbiont/symbiont/store"
	"github.com/symbiont/symbiont/tenant"
)

// BenchmarkConsoleOverview1M times GET /console (the overview handler, signed in with a
// secret key, without the network) on a SQLite store holding 1,000,000 consumers and
// 10,000,000 events of one brand (issue 14: p99 at most 50 ms), for 30 and 90 days:
//
//	go test ./web/ -run '^$' -bench 'ConsoleOverview1M/days' -benchtime 200x -count 3
//	go test ./web/ -run '^$' -bench 'ConsoleOverview1M/scan-before' -benchtime 3x
//
// scan-before times, on the same store, the three scans the overview ran per request before
// it read counters (consent history, consumers, events per day): the figure this replaced.
//
// The store is built once, directly through the store in large transactions (not through
// HTTP; about ten minutes on the 2-core machine), and kept under
// os.UserCacheDir()/symbiont/bench-console-1m/<key>; delete it to rebuild it, and bump
// console1MVersion when the schema or the generated history changes.
func BenchmarkConsoleOverview1M(b *testing.B) {
	dir, brandID := console1M(b)
	ctx := context.Background()
	p, err := platform.Open(ctx, platform.Config{DataDir: dir, AdminToken: benchAdminToken, Clock: symbiont.NewFakeClock(console1MNow),
		ExpiryInterval: -1, AccrualInterval: -1, BaseURL: "http://127.0.0.1"})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	br, err := p.Tenants.BrandByPublicID(ctx, brandID)
	if err != nil {
		b.Fatal(err)
	}
	secret, _, err := p.Tenants.CreateKey(ctx, br.ID, tenant.KindSecret, "bench", nil)
	if err != nil {
		b.Fatal(err)
	}
	h := p.Handler()
	cookies := signIn(b, h, httptest.NewRequest("POST", "/console/login", nil), secret)
	for _, days := range []int{30, 90} {
		path := fmt.Sprintf("/console?days=%d", days)
		b.Run(fmt.Sprintf("days=%d", days), func(b *testing.B) {
			var lat []time.Duration
			for b.Loop() {
				r := httptest.NewRequest("GET", path, nil)
				for _, c := range cookies {
					r.AddCookie(c)
				}
				w := httptest.NewRecorder()
				t0 := time.Now()
				h.ServeHTTP(w, r)
				lat = append(lat, time.Since(t0))
				if w.Code != http.StatusOK {
					b.Fatalf("%s: status %d: %.300s", path, w.Code, w.Body)
				}
			}
			reportLatency(b, lat)
		})
	}
	b.Run("scan-before", func(b *testing.B) {
		db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "symbiont.db")+"?mode=ro")
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		since := symbiont.Millis(console1MNow.Truncate(24*time.Hour).AddDate(0, 0, -29))
		var lat []time.Duration
		for b.Loop() {
			t0 := time.Now()
			for _, q := range []string{
				fmt.Sprintf(`SELECT consumer_id, category, purpose, state, at, expires_at FROM consent_records WHERE brand_id = %d ORDER BY at, id`, br.ID),
				fmt.Sprintf(`SELECT created_at FROM consumers WHERE brand_id = %d AND merged_into = 0`, br.ID),
				fmt.Sprintf(`SELECT received_at / 86400000 AS d, COUNT(*) FROM events WHERE brand_id = %d AND received_at >= %d GROUP BY d ORDER BY d`, br.ID, since),
			} {
				rows, err := db.Query(q)
				if err != nil {
					b.Fatal(err)
				}
				n := 0
				for rows.Next() {
					n++
				}
				if err := rows.Close(); err != nil {
					b.Fatal(err)
				}
			}
			lat = append(lat, time.Since(t0))
		}
		reportLatency(b, lat)
	})
}

func reportLatency(b *testing.B, lat []time.Duration) {
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(0, "ns/op") // the percentiles are the figures
}

// The history of BenchmarkConsoleOverview1M.
const (
	console1MVersion   = "1"
	console1MConsumers = 1_000_000
	console1MEvents    = 10_000_000
	console1MPerTx     = 5_000 // consumers written per transaction
)

// benchAdminToken is the operator token of the benchmarks' platforms.
const benchAdminToken = "bench-admin-token-0123456789"

var console1MNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// console1M returns the data directory of the 1M-consumer store and its brand's public id,
// building it on first use.
func console1M(b *testing.B) (string, string) {
	b.Helper()
	cache, err := os.UserCacheDir()
	if err != nil {
		b.Fatalf("no cache directory: %v", err)
	}
	dir := filepath.Join(cache, "symbiont", "bench-console-1m", fmt.Sprintf("v%s-%d-%d", console1MVersion, console1MConsumers, console1MEvents))
	if id, err := os.ReadFile(filepath.Join(dir, "complete")); err == nil {
		return dir, string(id)
	}
	building := dir + ".building"
	for _, d := range []string{building, dir} {
		if err := os.RemoveAll(d); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("building %d consumers and %d events in %s (once; kept for later runs)", console1MConsumers, console1MEvents, building)
	start := time.Now()
	ctx := context.Background()
	p, err := platform.Open(ctx, platform.Config{DataDir: building, AdminToken: benchAdminToken, Clock: symbiont.NewFakeClock(console1MNow),
		ExpiryInterval: -1, AccrualInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	nb, err := p.Tenants.CreateBrand(ctx, "Bench 1M")
	if err != nil {
		b.Fatal(err)
	}
	if _, err := p.Rewards.PutRateCard(ctx, nb.Brand.ID, []byte(`{"currency": "EUR", "point_value": 0.01,
		"rates": [{"category": "purchases", "purpose": "personalization", "points_per_30_days": 30}]}`)); err != nil {
		b.Fatal(err)
	}
	bid := nb.Brand.ID
	rng := rand.New(rand.NewPCG(1, 1_000_000))
	pairs := [][2]string{{"purchases", "personalization"}, {"purchases", "analytics"}, {"browsing", "analytics"}, {"browsing", "personalization"},
		{"contact", "marketing"}, {"profile", "service"}, {"preferences", "personalization"}, {"location", "analytics"},
		{"feedback", "product_research"}, {"device", "analytics"}, {"purchases", "marketing"}, {"profile", "partner_sharing"}}
	day := 24 * time.Hour
	ms := func(d time.Duration) time.Duration { return d.Truncate(time.Millisecond) }
	receipt := 0
	record := func(cid int64, p [2]string, state string, at time.Time, days int) *consent.Record {
		receipt++
		r := &consent.Record{ReceiptID: fmt.Sprintf("rcpt_bench_%08d", receipt), BrandID: bid, ConsumerID: cid, Category: p[0], Purpose: p[1],
			State: state, At: at, LegalBasis: consent.BasisConsent, Method: consent.MethodWallet, Actor: "consumer:bench"}
		if state == consent.StateGiven {
			r.ExpiresAt = at.AddDate(0, 0, days)
		}
		return r
	}
	perConsumer := console1MEvents / console1MConsumers
	for from := 0; from < console1MConsumers; from += console1MPerTx {
		err := p.Store.UpdateAlone(ctx, func(tx store.Tx) error {
			var events []*store.Event
			var journals []*rewards.Journal
			for i := from; i < from+console1MPerTx; i++ {
				created := console1MNow.Add(-ms(time.Duration(rng.Int64N(int64(180 * day)))))
				cid, err := tx.CreateConsumer(ctx, bid, created)
				if err != nil {
					return err
				}
				// Decisions: a grant; often a second pair; some withdrawals and refusals.
				at := created.Add(ms(time.Duration(rng.Int64N(int64(2 * day)))))
				first := pairs[rng.IntN(len(pairs))]
				rs := []*consent.Record{record(cid, first, consent.StateGiven, at, []int{30, 90, 180, 365}[rng.IntN(4)])}
				if rng.IntN(2) == 0 {
					at = at.Add(ms(time.Duration(rng.Int64N(int64(20 * day)))))
					rs = append(rs, record(cid, pairs[rng.IntN(len(pairs))], consent.StateGiven, at, []int{90, 365}[rng.IntN(2)]))
				}
				if rng.IntN(5) == 0 {
					at = at.Add(ms(time.Duration(rng.Int64N(int64(30 * day)))))
					rs = append(rs, record(cid, first, consent.StateWithdrawn, at, 0))
				}
				if rng.IntN(10) == 0 {
					rs = append(rs, record(cid, pairs[rng.IntN(len(pairs))], consent.StateRefused, at.Add(time.Minute), 0))
				}
				for _, r := range rs {
					if r.At.After(console1MNow) {
						break
					}
					if err := tx.InsertConsentRecord(ctx, r); err != nil {
						return err
					}
					if r.State == consent.StateGiven && r.Category == "purchases" && r.Purpose == "personalization" {
						if err := tx.InsertGrant(ctx, &rewards.Grant{RecordID: r.ID, ReceiptID: r.ReceiptID, BrandID: bid, ConsumerID: cid,
							Category: r.Category, Purpose: r.Purpose, Version: 1, Start: r.At, End: r.ExpiresAt, PointsPer30: 30, FactorMilli: 1000,
							DurationDays: int(r.ExpiresAt.Sub(r.At) / day)}); err != nil {
							return err
						}
					}
				}
				if rng.IntN(3) == 0 {
					pts := int64(10 + rng.IntN(500))
					journals = append(journals, &rewards.Journal{BrandID: bid, ConsumerID: cid, Kind: rewards.KindAccrual,
						IdempotencyKey: fmt.Sprintf("accrual/%d/bench", cid), At: console1MNow.Add(-day),
						Postings: []rewards.Posting{{Account: rewards.ConsumerAccount(cid), Amount: pts, Description: "bench"},
							{Account: rewards.BrandAccount(bid, "issued"), Amount: -pts, Description: "points issued"}}})
				}
				// Events, received over the last 90 days (or since the consumer appeared).
				first90 := console1MNow.Add(-90 * day)
				if created.After(first90) {
					first90 = created
				}
				for range rng.IntN(2*perConsumer + 1) {
					recv := first90.Add(ms(time.Duration(rng.Int64N(int64(console1MNow.Sub(first90)) + 1))))
					e := &store.Event{BrandID: bid, ConsumerID: cid, Category: "purchases", MID: make([]byte, 16), Timestamp: recv, ReceivedAt: recv,
						KeyOwner: cid, Payload: make([]byte, 64)}
					for k := range e.MID {
						e.MID[k] = byte(rng.Uint32())
					}
					events = append(events, e)
				}
			}
			if _, err := tx.PostJournals(ctx, journals); err != nil {
				return err
			}
			_, err := tx.InsertEvents(ctx, events)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
		if (from/console1MPerTx)%20 == 19 {
			b.Logf("%d consumers written (%v)", from+console1MPerTx, time.Since(start).Round(time.Second))
		}
	}
	if err := p.Close(); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(building, "complete"), []byte(nb.Brand.PublicID), 0o600); err != nil {
		b.Fatal(err)
	}
	if err := os.Rename(building, dir); err != nil {
		b.Fatal(err)
	}
	b.Logf("built in %v", time.Since(start).Round(time.Second))
	return dir, nb.Brand.PublicID
}
