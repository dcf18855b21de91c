package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
)

const benchUsage = `Usage: symbiont bench recs [flags]

Measures recommendation serving end to end: seeds a platform in a temporary directory (SQLite)
with a catalogue and consumers who granted purchases for personalization and model_training,
with planted tastes; trains the brand's model; then --clients clients call
GET /v1/consumers/{id}/recommendations?n=N over loopback HTTP for --duration, each call a full
serve (the consent check and the recorded read, fold-in scoring, MMR, explanations). Prints
the request rate and the latency quantiles. docs/benchmarks.md has the figures.

Flags:
`

// bench runs "symbiont bench recs".
func bench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "recs" {
		fmt.Fprint(stderr, benchUsage)
		return &exitError{code: 2, err: errors.New(`bench: want "symbiont bench recs"`)}
	}
	fs := flag.NewFlagSet("bench recs", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, benchUsage); fs.PrintDefaults() }
	var o recsOptions
	fs.IntVar(&o.Items, "items", 50000, "catalogue size")
	fs.IntVar(&o.Consumers, "consumers", 100000, "consumers")
	fs.IntVar(&o.PerUser, "per-user", 10, "purchases per consumer")
	fs.IntVar(&o.N, "n", 20, "list length")
	fs.IntVar(&o.Clients, "clients", 8, "concurrent HTTP clients")
	fs.DurationVar(&o.Duration, "duration", 0, "measuring time (0: 20s)")
	fs.DurationVar(&o.Warmup, "warmup", 0, "time before measuring (0: 3s)")
	dir := fs.String("data", "", "data directory (default: a temporary one, removed after)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the measuring to this file")
	if err := fs.Parse(args[1:]); err != nil {
		return &exitError{code: 2, err: err}
	}
	if o.Items < 1 || o.Consumers < 1 || o.PerUser < 1 || o.N < 1 || o.N > 100 || o.Clients < 1 {
		return &exitError{code: 2, err: errors.New("bench recs: --items, --consumers, --per-user and --clients must be positive, --n 1 to 100")}
	}
	o.DataDir = *dir
	if o.DataDir == "" {
		tmp, err := os.MkdirTemp("", "symbiont-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		o.DataDir = tmp
	}
	o.Log = stderr
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		o.Measuring = func(on bool) {
			if on {
				pprof.StartCPUProfile(f)
			} else {
				pprof.StopCPUProfile()
			}
		}
	}
	res, err := benchRecs(ctx, o)
	if err != nil {
		return err
	}
	res.Report(stdout)
	return nil
}
