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

// --model chooses the models: all (the default) reports ALS next to EASE with EASE's figures
// at the top level; als alone puts ALS's there; ease alone has no ALS; a bad name is refused.
func TestEvalRecsModels(t *testing.T) {
	x := recommendation.Planted(300, 120, 6, 20, 0.85, 12)
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
	evalJSON := func(args ...string) map[string]any {
		var out, errs bytes.Buffer
		args = append([]string{"eval", "recs", "--ratings", file, "--json", "--als-factors", "12"}, args...)
		if err := run(context.Background(), args, &out, &errs); err != nil {
			t.Fatalf("eval %v: %v\n%s", args, err, errs.String())
		}
		var m map[string]any
		if err := json.Unmarshal(out.Bytes(), &m); err != nil {
			t.Fatalf("not JSON: %v\n%s", err, out.String())
		}
		return m
	}
	ndcg := func(m map[string]any, model string) float64 { return m[model].(map[string]any)["ndcg"].(float64) }
	all := evalJSON()
	if all["model"] != "ease" || all["ndcg@10"] != ndcg(all, "ease") {
		t.Errorf("top level %v (model %v), EASE %v: want EASE's", all["ndcg@10"], all["model"], ndcg(all, "ease"))
	}
	if _, ok := all["als_params"]; !ok {
		t.Errorf("no als_params: %v", all)
	}
	if a, p := ndcg(all, "als"), ndcg(all, "popularity"); a < 2*p {
		t.Errorf("ALS NDCG@10 %.4f, popularity %.4f: want ALS at least twice as good", a, p)
	}
	als := evalJSON("--model", "als", "--als-lambda", "5")
	if _, ok := als["ease"]; ok || als["model"] != "als" || als["ndcg@10"] != ndcg(als, "als") {
		t.Errorf("--model als: %v", als)
	}
	if p := als["als_params"].(map[string]any); p["lambda"] != 5.0 || p["factors"] != 12.0 {
		t.Errorf("--als-lambda 5 --als-factors 12: params %v", p)
	}
	if ease := evalJSON("--model", "ease"); ease["als"] != nil || ease["model"] != "ease" {
		t.Errorf("--model ease reports ALS: %v", ease["als"])
	}
	var out, errs bytes.Buffer
	if err := run(context.Background(), []string{"eval", "recs", "--ratings", file, "--model", "svd"}, &out, &errs); err == nil {
		t.Error("--model svd accepted")
	}
	// The text report has a row for ALS.
	out.Reset()
	if err := run(context.Background(), []string{"eval", "recs", "--ratings", file, "--model", "als", "--als-lambda", "5"}, &out, &errs); err != nil || !strings.Contains(out.String(), "\nALS ") {
		t.Errorf("text report: %v\n%s", err, out.String())
	}
}
