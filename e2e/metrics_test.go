package e2e

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestMetricsOnTheOperationsListener: the shipped binary serves /metrics (counts across every
// tenant) only on the --debug-addr listener; the public port answers 404.
func TestMetricsOnTheOperationsListener(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), serverOptions{env: []string{"SYMBIONT_DEBUG_ADDR=127.0.0.1:0"}})
	createBrand(t, s, "Metrics Brand")
	if st, body, _ := call(t, "GET", s.Base+"/metrics", "", nil); st != http.StatusNotFound || strings.Contains(string(body), "symbiont_") {
		t.Errorf("public /metrics: %d %.200s, want 404", st, body)
	}
	var ops string
	for deadline := time.Now().Add(10 * time.Second); ops == "" && time.Now().Before(deadline); {
		sc := bufio.NewScanner(strings.NewReader(s.stderr.String()))
		for sc.Scan() {
			var line struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && strings.HasPrefix(line.Msg, "operations listener serving") {
				ops = line.Addr
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if ops == "" {
		t.Fatalf("no operations listener in the log:\n%s", tail(s.stderr.String(), 2000))
	}
	res, err := http.Get("http://" + ops + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(body), `symbiont_http_requests_total{route="POST /v1/brands",status="201"} 1`) {
		t.Errorf("ops /metrics: %d %.300s", res.StatusCode, body)
	}
	s.stop(30 * time.Second)
}
