package main

import (
	"context"
	"encoding/base64"
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

	"github.com/symbiont/symbiont/api/ledgerclient"
	"github.com/symbiont/symbiont/ledger"
	"github.com/symbiont/symbiont/platform"
	"github.com/symbiont/symbiont/store"
	"github.com/symbiont/symbiont/store/postgres"
	"github.com/symbiont/symbiont/store/sqlite"
)

const verifyUsage = `Usage: symbiont verify --ledger BASE_URL [--key VKEY] [--state FILE] FILE
       symbiont verify --full [--data DIR] [--postgres DSN] [--key VKEY]

The first form verifies a consumer's ledger proof document (FILE: the JSON of
GET /v1/me/access-log, saved): every record opens to its commitment and is in the log under a
checkpoint signed by the log's key; that checkpoint is consistent with the log's current one,
read from its public tiles at BASE_URL/ledger/; every chain is complete and linked; and nothing
verified last time has gone or changed. The log's key, checkpoint and chain heads are
remembered in the state file (like a monitor) for the next run. Exits 0 only when all holds.

The second form, for the operator, re-checks the whole stored log from its first entry, read
from the server's database (SQLite in DIR, default symbiont-data: stop the server first, or
check a copy; or PostgreSQL at DSN, live): every entry, every chain, every stored tree hash,
the newest checkpoint's signature and the checkpoint kept in DIR. The server at start checks
only what was integrated since the last verified state; this is the full check. It needs no
key but the log's public one. Exits 0 when the log is intact, 1 when it is not (saying what
was found), 2 when it could not be checked.

`

// Exit statuses of verify --full (and of every command: 1 for any other failure).
const (
	exitFailed    = 1 // the check found the log altered
	exitUnchecked = 2 // the check could not run
)

// exitError is an error with the exit status it calls for.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// progressEvery is how often verify --full reports its progress on stderr.
var progressEvery = 2 * time.Second

func verify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, verifyUsage); fs.PrintDefaults() }
	base := fs.String("ledger", "", "base URL of the Symbiont server (its log is at BASE_URL/ledger/)")
	key := fs.String("key", "", "the log's verifier key, if you have it from elsewhere (default: remembered, or trusted on first use; with --full: the one stored in the database)")
	statePath := fs.String("state", "", "where to remember what was verified (default: your config dir, one file per log)")
	full := fs.Bool("full", false, "re-check the whole stored log from the server's database (operator)")
	data := fs.String("data", "", "with --full: the data directory (SQLite database, and the checkpoint kept outside it; default symbiont-data)")
	pg := fs.String("postgres", "", "with --full: PostgreSQL DSN of the server's database (with --data, the checkpoint in that directory is compared too)")
	if err := fs.Parse(args); err != nil {
		return &exitError{exitUnchecked, err}
	}
	if *full {
		if *base != "" || *statePath != "" || fs.NArg() != 0 {
			fs.Usage()
			return &exitError{exitUnchecked, errors.New("verify --full takes --data, --postgres and --key only")}
		}
		return verifyFull(ctx, *data, *pg, *key, stdout, stderr)
	}
	if *base == "" || fs.NArg() != 1 || *data != "" || *pg != "" {
		fs.Usage()
		return errors.New("verify needs --ledger BASE_URL and one FILE (or --full)")
	}
	raw, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		return err
	}
	doc, err := ledger.DecodeExport(raw)
	if err != nil {
		return fmt.Errorf("%s is not a ledger proof document: %v", fs.Arg(0), err)
	}
	log := ledgerclient.ForServer(*base, &http.Client{Timeout: 30 * time.Second})
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
		b, err := log.Get("key")
		if err != nil {
			return fmt.Errorf("fetching the log's key: %w", err)
		}
		trusted = strings.TrimSpace(string(b))
		fmt.Fprintf(stdout, "First verification against this log: trusting its key %s\n(compare it with the key the brand publishes; later runs require the same key)\n", trusted)
	case prev != nil && prev.Key != trusted:
		return fmt.Errorf("--key differs from the key remembered in %s", *statePath)
	}
	start := time.Now()
	rep, next, err := ledger.VerifyExport(doc, log, trusted, prev)
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

// verifyFull re-checks the stored log from its first entry (ledger.CheckStored).
func verifyFull(ctx context.Context, data, dsn, key string, stdout, stderr io.Writer) error {
	var st store.Store
	var err error
	if dsn != "" {
		st, err = postgres.Open(ctx, dsn, 2)
	} else {
		if data == "" {
			data = "symbiont-data"
		}
		// sqlite.Open would create an empty database where there is none.
		if _, err := os.Stat(filepath.Join(data, sqlite.DBFile)); err != nil {
			return &exitError{exitUnchecked, fmt.Errorf("no Symbiont database in %s: %v", data, err)}
		}
		st, err = sqlite.Open(ctx, data)
	}
	if err != nil {
		return &exitError{exitUnchecked, err}
	}
	defer st.Close()
	head := ""
	if data != "" {
		head = filepath.Join(data, platform.LedgerHeadFile)
	}
	start := time.Now()
	last := start
	progress := func(done, total int64) {
		if now := time.Now(); now.Sub(last) >= progressEvery {
			last = now
			fmt.Fprintf(stderr, "checked %d of %d entries (%d%%), %v\n", done, total, done*100/total, now.Sub(start).Round(100*time.Millisecond))
		}
	}
	trusted, rep, err := ledger.CheckStored(ctx, store.Narrow[ledger.IntegrationTx](st), ledger.CheckOptions{Key: key, HeadFile: head, Progress: progress})
	if err != nil {
		if ledger.IsFinding(err) {
			return &exitError{exitFailed, fmt.Errorf("VERIFICATION FAILED: the stored log is not intact: %w", err)}
		}
		return &exitError{exitUnchecked, fmt.Errorf("the stored log could not be checked: %w", err)}
	}
	if key == "" {
		fmt.Fprintf(stdout, "Checked against the key stored in the database: %s\n(compare it with the key the brand publishes; pass --key to use that one)\n", trusted)
	}
	fmt.Fprintf(stdout, "OK: the stored log is intact: %d entries in the checkpoint of size %d (root %s) and %d pending, every chain complete, every tree hash as the entries give",
		rep.Entries-rep.Pending, rep.Size, base64.StdEncoding.EncodeToString(rep.Root[:]), rep.Pending)
	if head != "" {
		if _, err := os.Stat(head); err == nil {
			fmt.Fprintf(stdout, ", and the checkpoint kept in %s is in it", head)
		}
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
