// Package ledgerclient reads a verifiable ledger over HTTP, as a Symbiont server publishes it under
// /ledger/ (C2SP tlog-tiles: the checkpoint, the tiles, and the log's verifier key). It is the
// one client of that layout: `symbiont verify` and the tests read the log through it, so the
// code a consumer runs is the code the tests exercise.
package ledgerclient

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/symbiont/symbiont/ledger"
)

// maxBody bounds a response: a full tile is 8 KiB, a checkpoint or key a few hundred bytes.
const maxBody = 1 << 20

// Log is a ledger served at a URL prefix; it satisfies ledger.Log. Each tile is one GET, with
// nothing cached: a verifier fetches only the few tiles its proofs need.
type Log struct {
	prefix string
	client *http.Client
	gets   atomic.Int64
}

// New returns the log under prefix (e.g. https://brand.example/ledger/), read with client
// (nil: http.DefaultClient).
func New(prefix string, client *http.Client) *Log {
	if !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	if client == nil {
		client = http.DefaultClient
	}
	return &Log{prefix: prefix, client: client}
}

// ForServer returns the log of the Symbiont server at base (its base URL: the log is under
// base/ledger/).
func ForServer(base string, client *http.Client) *Log {
	return New(strings.TrimSuffix(base, "/")+"/ledger/", client)
}

// Get returns the body of the log's file at path (checkpoint, key, tile/…); any status but 200
// is an error naming the URL, the status and what the server said.
func (l *Log) Get(path string) ([]byte, error) {
	l.gets.Add(1)
	resp, err := l.client.Get(l.prefix + path)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %s", l.prefix+path, resp.Status, strings.TrimSpace(string(b)))
	}
	return b, nil
}

// Gets is the number of requests made so far.
func (l *Log) Gets() int64 { return l.gets.Load() }

// Checkpoint returns the log's current signed checkpoint.
func (l *Log) Checkpoint() ([]byte, error) { return l.Get("checkpoint") }

// Tiles returns a tlog.TileReader over the log's tiles.
func (l *Log) Tiles() tlog.TileReader { return tiles{l} }

type tiles struct{ l *Log }

func (tiles) Height() int { return ledger.TileHeight }

func (r tiles) ReadTiles(ts []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(ts))
	for i, t := range ts {
		b, err := r.l.Get(ledger.TilePath(t))
		if err != nil {
			return nil, err
		}
		out[i] = b
	}
	return out, nil
}

func (tiles) SaveTiles([]tlog.Tile, [][]byte) {}

var _ ledger.Log = (*Log)(nil)
