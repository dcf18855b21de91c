package ledgerclient_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/symbiont/symbiont/api/ledgerclient"
)

func TestLog(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ledger/checkpoint":
			w.Write([]byte("origin\n1\nroot\n"))
		case "/ledger/tile/0/000.p/1":
			w.Write(make([]byte, 32))
		case "/ledger/big":
			w.Write(make([]byte, 2<<20))
		default:
			http.Error(w, `{"error":{"code":"not_found"}}`, http.StatusNotFound)
		}
	}))
	defer srv.Close()
	for _, base := range []string{srv.URL, srv.URL + "/"} {
		l := ledgerclient.ForServer(base, srv.Client())
		if cp, err := l.Checkpoint(); err != nil || string(cp) != "origin\n1\nroot\n" {
			t.Errorf("Checkpoint() = %q, %v", cp, err)
		}
		ts, err := l.Tiles().ReadTiles([]tlog.Tile{{H: 8, L: 0, N: 0, W: 1}})
		if err != nil || len(ts) != 1 || len(ts[0]) != 32 {
			t.Errorf("ReadTiles = %d tiles, %v", len(ts), err)
		}
		_, err = l.Tiles().ReadTiles([]tlog.Tile{{H: 8, L: 0, N: 5, W: 256}})
		if err == nil || !strings.Contains(err.Error(), "404") || !strings.Contains(err.Error(), "/ledger/tile/0/005") || !strings.Contains(err.Error(), "not_found") {
			t.Errorf("a missing tile: %v; want the URL, the status and what the server said", err)
		}
		if b, err := l.Get("big"); err != nil || len(b) != 1<<20 {
			t.Errorf("Get(big) = %d bytes, %v; want it cut at 1 MiB", len(b), err)
		}
		if l.Gets() != 4 {
			t.Errorf("Gets() = %d, want 4", l.Gets())
		}
	}
}
