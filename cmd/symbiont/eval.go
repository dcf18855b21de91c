package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/symbiont/symbiont/recommendation"
)

const evalUsage = `Usage: symbiont eval recs --ratings FILE [--format movielens|csv] [--json] [--seed N] [--lambda L]
       [--model ease|als|all] [--als-factors K] [--als-lambda L] [--als-alpha A] [--als-iterations N]

Evaluates the recommendation models offline on a ratings file, by the protocol of
docs/benchmarks.md: implicit feedback, a per-user random 80/20 split with a fixed seed, full
ranking of the items a user has not seen in training, precision, recall and NDCG at 10 and
catalogue coverage; EASE (its lambda chosen by validation unless --lambda is given) and
implicit-feedback ALS (its lambda chosen likewise unless --als-lambda is given) against
popularity. The top-level JSON figures are EASE's (ALS's with --model als). MovieLens files (ml-100k u.data, ml-1m ratings.dat) are not shipped: their licence
forbids redistribution; download them from grouplens.org.

Flags:
`

// eval runs "symbiont eval recs".
func eval(_ context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "recs" {
		fmt.Fprint(stderr, evalUsage)
		return errors.New(`eval: want "symbiont eval recs"`)
	}
	fs := flag.NewFlagSet("eval recs", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, evalUsage); fs.PrintDefaults() }
	file := fs.String("ratings", "", "the ratings file (required)")
	format := fs.String("format", recommendation.FormatMovieLens, "its format: movielens (tab or :: separated) or csv (user,item[,…])")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	seed := fs.Uint64("seed", 1, "seed of the per-user split")
	lambda := fs.Float64("lambda", 0, "EASE's regulariser; 0 chooses it by validation")
	models := fs.String("model", "all", "the models to evaluate besides popularity: ease, als or all")
	alsFactors := fs.Int("als-factors", recommendation.DefaultALSFactors, "ALS's factors")
	alsLambda := fs.Float64("als-lambda", 0, "ALS's regulariser; 0 chooses it by validation")
	alsAlpha := fs.Float64("als-alpha", recommendation.DefaultALSAlpha, "ALS's confidence weight (1 + alpha for an interaction)")
	alsIterations := fs.Int("als-iterations", recommendation.DefaultALSIterations, "ALS's sweeps")
	if err := fs.Parse(args[1:]); err != nil {
		return &exitError{code: 2, err: err}
	}
	if *file == "" {
		fs.Usage()
		return &exitError{code: 2, err: errors.New("eval recs: --ratings is required")}
	}
	if *lambda < 0 {
		return &exitError{code: 2, err: errors.New("eval recs: --lambda must be 0 (choose) or positive")}
	}
	switch *models {
	case "ease", "als", "all":
	default:
		return &exitError{code: 2, err: fmt.Errorf("eval recs: --model %q: want ease, als or all", *models)}
	}
	if *alsLambda < 0 || *alsAlpha <= 0 || *alsFactors < 1 || *alsIterations < 1 {
		return &exitError{code: 2, err: errors.New("eval recs: --als-factors and --als-iterations must be positive, --als-lambda 0 (choose) or positive, --als-alpha positive")}
	}
	f, err := os.Open(*file)
	if err != nil {
		return err
	}
	defer f.Close()
	r, err := recommendation.ReadRatings(f, *format)
	if err != nil {
		return fmt.Errorf("%s: %w", *file, err)
	}
	progress := func(format string, a ...any) { fmt.Fprintf(stderr, "eval: "+format+"\n", a...) }
	progress("read %s: %d lines, %d users, %d items, %d interactions (%d repeated pairs counted once)",
		*file, r.Lines, len(r.Users), r.Items, r.Count(), r.Duplicates)
	rep, err := recommendation.Run(&r.Interactions, recommendation.ProtocolOptions{Seed: *seed, Lambda: *lambda, Models: *models,
		ALS: recommendation.ALSConfig{Factors: *alsFactors, Lambda: *alsLambda, Alpha: *alsAlpha, Iterations: *alsIterations}}, progress)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	fmt.Fprintf(stdout, "%s\n%d users, %d items, %d interactions\n", rep.Protocol, rep.Users, rep.Items, rep.Interactions)
	if rep.EASE != nil {
		fmt.Fprintf(stdout, "EASE lambda %g (trained in %.1f s)\n", rep.Lambda, rep.TrainSeconds)
	}
	if p := rep.ALSParams; p != nil {
		fmt.Fprintf(stdout, "ALS %d factors, lambda %g, alpha %g, %d iterations (trained in %.1f s)\n", p.Factors, p.Lambda, p.Alpha, p.Iterations, rep.ALSTrainSeconds)
	}
	fmt.Fprintf(stdout, "\n%-16s %9s %9s %9s %9s %10s %9s\n", "model", "NDCG@10", "P@10", "R@10", "coverage", "diversity", "Gini")
	type row struct {
		name string
		m    recommendation.Metrics
	}
	var rows []row
	if rep.EASE != nil {
		rows = append(rows, row{"EASE", *rep.EASE})
	}
	if rep.ALS != nil {
		rows = append(rows, row{"ALS", *rep.ALS})
	}
	rows = append(rows, row{"popularity", rep.Popularity})
	for _, m := range rep.MMRLists {
		rows = append(rows, row{fmt.Sprintf("EASE + MMR %.1f", m.MMR), m})
	}
	for _, r := range rows {
		fmt.Fprintf(stdout, "%-16s %9.4f %9.4f %9.4f %9.4f %10.4f %9.4f\n", r.name, r.m.NDCG, r.m.Precision, r.m.Recall, r.m.Coverage, r.m.Diversity, r.m.ExposureGini)
	}
	return nil
}
