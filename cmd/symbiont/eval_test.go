package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/symbiont/symbiont/recommendation"
)

// symbiont eval recs on a ratings file in MovieLens' u.data format, made from feedback with
// planted structure: the JSON has the contract's keys, EASE beats popularity clearly, and the
// run is the same for the same seed.
func TestEvalRecs(t *testing.T) {
	x := recommendation.Planted(400, 150, 6, 20, 0.85, 11)
	var b strings.Builder
	for u, h := range x.Users {
		for _, i := range h {
			fmt.Fprintf(&b, "%d\t%d\t4\t%d\n", u+1, i+1, 880000000+u)
		}
	}
	file := filepath.Join(t.TempDir(), "u.data")
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	evalJSON := func() map[string]any {
		var out, errs bytes.Buffer
		if err := run(context.Background(), []string{"eval", "recs", "--ratings", file, "--format", "movielens", "--json"}, &out, &errs); err != nil {
			t.Fatalf("eval: %v\n%s", err, errs.String())
		}
		if !strings.Contains(errs.String(), "eval: lambda") {
			t.Errorf("no progress on stderr: %s", errs.String())
		}
		var m map[string]any
		if err := json.Unmarshal(out.Bytes(), &m); err != nil {
			t.Fatalf("not JSON: %v\n%s", err, out.String())
		}
		return m
	}
	m := evalJSON()
	for _, k := range []string{"ndcg@10", "precision@10", "recall@10", "coverage", "lambda", "ease", "popularity", "protocol"} {
		if _, ok := m[k]; !ok {
			t.Errorf("report lacks %q: %v", k, m)
		}
	}
	pop := m["popularity"].(map[string]any)["ndcg"].(float64)
	if ndcg := m["ndcg@10"].(float64); ndcg < 2*pop {
		t.Errorf("EASE NDCG@10 %.4f, popularity %.4f: want EASE at least twice as good", ndcg, pop)
	}
	if again := evalJSON(); again["ndcg@10"] != m["ndcg@10"] || again["lambda"] != m["lambda"] {
		t.Errorf("two runs differ: %v then %v", m["ndcg@10"], again["ndcg@10"])
	}
	// Errors: a missing flag, a bad file.
	var out, errs bytes.Buffer
	if err := run(context.Background(), []string{"eval", "recs"}, &out, &errs); err == nil {
		t.Error("eval without --ratings succeeded")
	}
	bad := filepath.Join(t.TempDir(), "bad.data")
	os.WriteFile(bad, []byte("1\t2\t3\n4\n"), 0o644)
	if err := run(context.Background(), []string{"eval", "recs", "--ratings", bad}, &out, &errs); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("a malformed line: %v, want it named", err)
	}
}
