package web_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/symbiont/symbiont"
	"github.com/symbiont/symbiont/consent"
	"github.com/symbiont/symbiont/demo"
	"github.com/symbiont/symbiont/overview"
	"github.com/symbiont/symbiont/platform"
	"github.com/symbiont/symbiont/store/storetest"
	"github.com/symbiont/symbiont/web"
)

// TestConsoleOverviewMatchesScan: on the demo's months of history, the overview's consent and
// events tables (drawn from the store's counters) show exactly what the overview showed when it
// scanned consent history, consumers and events on every request: the same queries are run
// here on the database itself and replayed the same way, for 30 and 90 days, on both engines.
func TestConsoleOverviewMatchesScan(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			ctx := context.Background()
			clock := symbiont.NewFakeClock(time.Date(2026, 11, 1, 15, 4, 5, 0, time.UTC))
			cfg := platform.Config{DataDir: t.TempDir(), AdminToken: conAdmin, Clock: clock, ExpiryInterval: -1, AccrualInterval: -1,
				BaseURL: "http://127.0.0.1"}
			driver, dsn := "sqlite", "file:"+filepath.Join(cfg.DataDir, "symbiont.db")+"?mode=ro"
			if engine == "postgres" {
				cfg.PostgresDSN = storetest.PostgresDSN(t)
				driver, dsn = "pgx", cfg.PostgresDSN
			}
			p, err := platform.Open(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			d, err := demo.Seed(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			b, err := p.Tenants.BrandByPublicID(ctx, d.BrandID)
			if err != nil {
				t.Fatal(err)
			}
			db, err := sql.Open(driver, dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			h := p.Handler()
			cookies := signIn(t, h, httptest.NewRequest("POST", "/console/login", nil), d.SecretKey)
			for _, days := range []int{30, 90} {
				r := httptest.NewRequest("GET", fmt.Sprintf("/console?days=%d", days), nil)
				for _, c := range cookies {
					r.AddCookie(c)
				}
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != http.StatusOK {
					t.Fatalf("/console?days=%d: %d %.300s", days, w.Code, w.Body)
				}
				page := w.Body.String()
				now := clock.Now().UTC()
				start := now.Truncate(24*time.Hour).AddDate(0, 0, -(days - 1))

				// Consent: the records and live consumers, replayed.
				var rs []*consent.Record
				rows, err := db.QueryContext(ctx, fmt.Sprintf(`SELECT id, consumer_id, category, purpose, state, at, expires_at FROM consent_records
					WHERE brand_id = %d ORDER BY at, id`, b.ID))
				if err != nil {
					t.Fatal(err)
				}
				for rows.Next() {
					var r consent.Record
					var at, exp int64
					if err := rows.Scan(&r.ID, &r.ConsumerID, &r.Category, &r.Purpose, &r.State, &at, &exp); err != nil {
						t.Fatal(err)
					}
					r.At = symbiont.FromMillis(at)
					if exp != 0 {
						r.ExpiresAt = symbiont.FromMillis(exp)
					}
					rs = append(rs, &r)
				}
				rows.Close()
				var created []time.Time
				rows, err = db.QueryContext(ctx, fmt.Sprintf(`SELECT created_at FROM consumers WHERE brand_id = %d AND merged_into = 0`, b.ID))
				if err != nil {
					t.Fatal(err)
				}
				for rows.Next() {
					var at int64
					if err := rows.Scan(&at); err != nil {
						t.Fatal(err)
					}
					created = append(created, symbiont.FromMillis(at))
				}
				rows.Close()
				scan := storetest.ScanConsent(rs, created, start, days, now)
				pct := &web.Chart{Percent: true}
				var want [][]string
				for d := range days {
					row := []string{start.AddDate(0, 0, d).Format("01-02")}
					order := slices.Clone(scan.Pairs) // the chart's order: by "category/purpose"
					slices.SortFunc(order, func(a, b overview.Pair) int {
						return strings.Compare(a.Category+"/"+a.Purpose, b.Category+"/"+b.Purpose)
					})
					for _, pr := range order {
						i := slices.Index(scan.Pairs, pr)
						v := 0.0
						if scan.Consumers[d] > 0 {
							v = min(1, float64(scan.Active[i][d])/float64(scan.Consumers[d]))
						}
						row = append(row, pct.Format(v))
					}
					want = append(want, row)
				}
				if len(rs) < 50 || len(scan.Pairs) < 3 {
					t.Fatalf("the demo is too thin to compare: %d records, %d pairs", len(rs), len(scan.Pairs))
				}
				if got := chartTable(t, page, "chart-consent"); !slices.EqualFunc(got, want, slices.Equal) {
					t.Errorf("%d days: the consent table differs from the scan:\n got  %q\n want %q", days, got, want)
				}

				// Events stored per day, the first column of the events table.
				stored := map[string]int64{}
				rows, err = db.QueryContext(ctx, fmt.Sprintf(`SELECT received_at / 86400000 AS d, COUNT(*) FROM events
					WHERE brand_id = %d AND received_at >= %d GROUP BY received_at / 86400000`, b.ID, symbiont.Millis(start)))
				if err != nil {
					t.Fatal(err)
				}
				total := int64(0)
				for rows.Next() {
					var dd, n int64
					if err := rows.Scan(&dd, &n); err != nil {
						t.Fatal(err)
					}
					stored[symbiont.FromMillis(dd*86400000).UTC().Format("01-02")] = n
					total += n
				}
				rows.Close()
				if total == 0 {
					t.Fatal("the demo stored no events in the period")
				}
				for _, row := range chartTable(t, page, "chart-events") {
					if want := fmt.Sprint(stored[row[0]]); row[1] != want {
						t.Errorf("%d days: %s: %s events stored, the scan counts %s", days, row[0], row[1], want)
					}
				}
			}
		})
	}
}

var (
	tbodyRE = regexp.MustCompile(`(?s)<tbody>(.*?)</tbody>`)
	rowRE   = regexp.MustCompile(`(?s)<tr>(.*?)</tr>`)
	cellRE  = regexp.MustCompile(`<t[hd][^>]*>([^<]*)</t[hd]>`)
)

// chartTable is the data table of the chart figure with the id: one row per day, the day
// then each series' value, as shown.
func chartTable(t *testing.T, page, id string) [][]string {
	t.Helper()
	i := strings.Index(page, `id="`+id+`"`)
	if i < 0 {
		t.Fatalf("no chart %s on the page", id)
	}
	m := tbodyRE.FindStringSubmatch(page[i:])
	if m == nil {
		t.Fatalf("chart %s has no table", id)
	}
	var out [][]string
	for _, r := range rowRE.FindAllStringSubmatch(m[1], -1) {
		var row []string
		for _, c := range cellRE.FindAllStringSubmatch(r[1], -1) {
			row = append(row, c[1])
		}
		out = append(out, row)
	}
	return out
}
