//go:build tesserabench

package ledger_test

// Side by side with Tessera (github.com/transparency-dev/tessera), the transparency-log
// library our integration follows, on its POSIX driver. Behind the tesserabench build tag:
// the POSIX driver needs golang.org/x/exp, which the repository's go.sum does not list, so a
// plain `go test ./...` must not compile this file. scripts/bench-ledger.sh runs it with a
// private copy of go.mod (-modfile) that adds the missing checksums:
//
//	scripts/bench-ledger.sh tessera

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/transparency-dev/tessera"
	"github.com/transparency-dev/tessera/storage/posix"
	"golang.org/x/mod/sumdb/note"
)

// BenchmarkTesseraPOSIXAppend appends 32-byte entries (like our commitments) to a Tessera
// POSIX log in a temporary directory. Each caller waits for its entry's IndexFuture (the
// index is durably assigned: Tessera's equivalent of our committed append); integration and
// checkpoints run in the background (checkpoint interval 1 s, like our IntegrateEvery), and at
// the end a tessera.PublicationAwaiter waits for a checkpoint that commits to the last entry.
//
//   - workers=32: the same 32 concurrent callers as BenchmarkAppend, Tessera's default
//     batching (a batch is sequenced when it holds 256 entries or is 250 ms old).
//   - workers=32,batch=32: the same callers, batches of at most 32 (sequenced as soon as all
//     32 callers are waiting).
//   - workers=1024: how Tessera is meant to be driven (many concurrent adds), default batching.
func BenchmarkTesseraPOSIXAppend(b *testing.B) {
	for _, c := range []struct {
		name    string
		workers int
		batch   uint
	}{
		{"workers=32", 32, tessera.DefaultBatchMaxSize},
		{"workers=32,batch=32", 32, 32},
		{"workers=1024", 1024, tessera.DefaultBatchMaxSize},
	} {
		b.Run(c.name, func(b *testing.B) { benchmarkTessera(b, c.workers, c.batch) })
	}
}

func benchmarkTessera(b *testing.B, workers int, batch uint) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	skey, _, err := note.GenerateKey(rand.Reader, "bench.example/tessera")
	if err != nil {
		b.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		b.Fatal(err)
	}
	driver, err := posix.New(ctx, posix.Config{Path: b.TempDir()})
	if err != nil {
		b.Fatalf("tessera POSIX driver: %v", err)
	}
	opts := tessera.NewAppendOptions().WithCheckpointSigner(signer).
		WithCheckpointInterval(time.Second).WithBatching(batch, tessera.DefaultBatchMaxAge)
	appender, shutdown, reader, err := tessera.NewAppender(ctx, driver, opts)
	if err != nil {
		b.Fatalf("tessera appender: %v", err)
	}
	awaiter := tessera.NewPublicationAwaiter(ctx, reader.ReadCheckpoint, 5*time.Millisecond)
	n, elapsed, lat := runPool(b, workers, func(int) error {
		entry := make([]byte, 32)
		rand.Read(entry)
		_, err := appender.Add(ctx, tessera.NewEntry(entry))()
		return err
	})
	b.StopTimer()
	b.ReportMetric(float64(n)/elapsed.Seconds(), "entries/s")
	b.ReportMetric(quantile(lat, 0.50), "p50-ms")
	b.ReportMetric(quantile(lat, 0.99), "p99-ms")
	// Integration lag: entries sequenced but not yet in a checkpoint, and the time until the
	// checkpoint commits to the last one.
	start := time.Now()
	var size uint64
	if cp, err := reader.ReadCheckpoint(ctx); err == nil {
		size = checkpointSize(b, cp)
	}
	b.ReportMetric(float64(uint64(n)-size), "lag-entries")
	last := tessera.Index{Index: uint64(n - 1)}
	actx, acancel := context.WithTimeout(ctx, time.Minute)
	defer acancel()
	_, cp, err := awaiter.Await(actx, func() (tessera.Index, error) { return last, nil })
	if err != nil {
		b.Fatalf("waiting for the checkpoint of entry %d: %v", last.Index, err)
	}
	b.ReportMetric(time.Since(start).Seconds(), "catchup-s")
	if got := checkpointSize(b, cp); got != uint64(n) {
		b.Fatalf("checkpoint size %d, want %d", got, n)
	}
	if err := shutdown(ctx); err != nil {
		b.Fatal(err)
	}
}

// checkpointSize parses the tree size of a C2SP checkpoint (its second line).
func checkpointSize(b *testing.B, cp []byte) uint64 {
	lines := bytes.SplitN(cp, []byte("\n"), 3)
	if len(lines) < 3 {
		b.Fatalf("malformed checkpoint %q", cp)
	}
	n, err := strconv.ParseUint(string(lines[1]), 10, 64)
	if err != nil {
		b.Fatal(fmt.Errorf("checkpoint size: %w", err))
	}
	return n
}
