package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/symbiont/symbiont/ledger"
)

const verifyUsage = `Usage: symbiont verify --ledger BASE_URL [--key VKEY] [--state FILE] FILE

Verifies a consumer's ledger proof document (FILE: the JSON of GET /v1/me/access-log, saved):
every record opens to its commitment and is in the log under a checkpoint signed by the log's
key; that checkpoint is consistent with the log's current one, read from its public tiles at
BASE_URL/ledger/; every chain is complete and linked; and nothing verified last time has gone
or changed. The log's key, checkpoint and chain heads are remembered in the state file (like a
monitor) for the next run. Exits 0 only when all holds.

`

func verify(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, verifyUsage); fs.PrintDefaults() }
	base := fs.String("ledger", "", "base URL of the Symbiont server (its log is at BASE_URL/ledger/)")
	key := fs.String("key", "", "the log's verifier key, if you have it from elsewhere (default: remembered, or trusted on first use)")
	statePath := fs.String("state", "", "where to remember what was verified (default: your config dir, one file per log)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *base == "" || fs.NArg() != 1 {
		fs.Usage()
		return errors.New("verify needs --ledger BASE_URL and one FILE")
	}
	raw, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		return err
	}
	var doc ledger.Export
	if err := json.Unmarshal(raw, &doc); err != nil {
		return fmt.Errorf("%s is not a ledger proof document: %v", fs.Arg(0), err)
	}
	log := &httpLog{base: strings.TrimSuffix(*base, "/") + "/ledger/", client: &http.Client{Timeout: 30 * time.Second}}
	if *statePath == "" {
		dir, err := os.UserConfigDir()
		if err != nil {
			return fmt.Errorf("no config dir for the state file; pass --state: %v", err)
		}
		*statePath = filepath.Join(dir, "symbiont", "verify", safeName(doc.Log.Origin)+".json")
	}
	var prev *ledger.State
	if b, err := os.ReadFile(*statePath); err == nil {
		prev = &ledger.State{}
		if err := json.Unmarshal(b, prev); err != nil {
			return fmt.Errorf("state file %s is corrupt: %v", *statePath, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	trusted := *key
	switch {
	case trusted == "" && prev != nil:
		trusted = prev.Key
	case trusted == "":
		b, err := log.get("key")
		if err != nil {
			return fmt.Errorf("fetching the log's key: %w", err)
		}
		trusted = strings.TrimSpace(string(b))
		fmt.Fprintf(stdout, "First verification against this log: trusting its key %s\n(compare it with the key the brand publishes; later runs require the same key)\n", trusted)
	case prev != nil && prev.Key != trusted:
		return fmt.Errorf("--key differs from the key remembered in %s", *statePath)
	}
	start := time.Now()
	rep, next, err := ledger.VerifyExport(&doc, log, trusted, prev)
	if err != nil {
		return fmt.Errorf("VERIFICATION FAILED: %w", err)
	}
	if err := writeState(*statePath, next); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "OK: %d records in %d chains verified", rep.Records, rep.Chains)
	if rep.Pending > 0 {
		fmt.Fprintf(stdout, " (%d not yet in a checkpoint: run again shortly to prove them)", rep.Pending)
	}
	fmt.Fprintf(stdout, "; the log (%d entries) is consistent", rep.Size)
	if rep.PreviousSize > 0 {
		fmt.Fprintf(stdout, " with the checkpoint verified last time (%d entries)", rep.PreviousSize)
	}
	fmt.Fprintf(stdout, ". %v\n", time.Since(start).Round(time.Millisecond))
	return nil
}

func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' {
			return r
		}
		return '_'
	}, s)
}

func writeState(path string, s *ledger.State) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// httpLog reads a C2SP tlog-tiles log over HTTP.
type httpLog struct {
	base   string
	client *http.Client
}

func (l *httpLog) get(path string) ([]byte, error) {
	resp, err := l.client.Get(l.base + path)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("GET %s: %s: %s", l.base+path, resp.Status, strings.TrimSpace(string(b)))
	}
	return b, nil
}

func (l *httpLog) Checkpoint() ([]byte, error) { return l.get("checkpoint") }
func (l *httpLog) Tiles() tlog.TileReader      { return tileReader{l} }

type tileReader struct{ l *httpLog }

func (tileReader) Height() int { return ledger.TileHeight }

func (r tileReader) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		b, err := r.l.get(ledger.TilePath(t))
		if err != nil {
			return nil, err
		}
		out[i] = b
	}
	return out, nil
}

func (tileReader) SaveTiles([]tlog.Tile, [][]byte) {}
