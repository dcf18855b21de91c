package api

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"

	"github.com/symbiont/symbiont"
)

// The ledger's public, static-style API (C2SP tlog-tiles under /ledger/), which independent
// clients read without credentials, and the consumer's proofs.

func (s *Server) ledgerRoutes(h func(string, func(http.ResponseWriter, *http.Request) error)) {
	h("GET /ledger/checkpoint", s.ledgerCheckpoint)
	h("GET /ledger/key", s.ledgerKey)
	h("GET /ledger/tile/{path...}", s.ledgerTile)
	h("GET /v1/ledger/checkpoints/{size}", s.ledgerCheckpointAt)
	h("GET /v1/ledger/consistency", s.ledgerConsistency)
}

func (s *Server) ledgerCheckpoint(w http.ResponseWriter, r *http.Request) error {
	cp, err := s.Ledger.Latest()
	if err != nil {
		return err
	}
	if cp == nil {
		return symbiont.Errorf(symbiont.ENOTFOUND, "The ledger has no checkpoint yet: nothing has been recorded.")
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache, max-age=1")
	w.Header().Set("Access-Control-Allow-Origin", "*")
	_, err = w.Write(cp.Note)
	return err
}

func (s *Server) ledgerKey(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Access-Control-Allow-Origin", "*")
	_, err := w.Write([]byte(s.Ledger.VerifierKey() + "\n"))
	return err
}

// ledgerTile serves tile/<L>/<N>[.p/<W>] and tile/entries/<N>[.p/<W>].
func (s *Server) ledgerTile(w http.ResponseWriter, r *http.Request) error {
	if err := s.Ledger.Healthy(); err != nil {
		return err
	}
	path := r.PathValue("path")
	level, rest, _ := strings.Cut(path, "/")
	n, width, ok := parseTileIndex(rest)
	if !ok {
		return symbiont.Errorf(symbiont.ENOTFOUND, "No such tile: %s.", path)
	}
	var data []byte
	var err error
	if level == "entries" {
		data, err = s.Ledger.EntryBundle(r.Context(), n, width)
	} else {
		l, perr := strconv.Atoi(level)
		if perr != nil || l < 0 || l > 63 || strconv.Itoa(l) != level {
			return symbiont.Errorf(symbiont.ENOTFOUND, "No such tile: %s.", path)
		}
		data, err = s.Ledger.Tile(r.Context(), l, n, width)
	}
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	w.Header().Set("Access-Control-Allow-Origin", "*")
	_, err = w.Write(data)
	return err
}

// parseTileIndex parses "x001/x234/067[.p/W]": the tile index and width (256 when full).
func parseTileIndex(s string) (n int64, width int, ok bool) {
	width = 256
	if base, w, found := strings.Cut(s, ".p/"); found {
		v, err := strconv.Atoi(w)
		if err != nil || v < 1 || v > 255 || strconv.Itoa(v) != w {
			return 0, 0, false
		}
		s, width = base, v
	}
	parts := strings.Split(s, "/")
	if len(parts) > 1 && parts[0] == "x000" {
		return 0, 0, false // not canonical: no leading zero groups
	}
	for i, p := range parts {
		last := i == len(parts)-1
		if !last {
			if !strings.HasPrefix(p, "x") {
				return 0, 0, false
			}
			p = p[1:]
		}
		if len(p) != 3 {
			return 0, 0, false
		}
		d, err := strconv.Atoi(p)
		if err != nil || d < 0 {
			return 0, 0, false
		}
		if n > (1<<62)/1000 {
			return 0, 0, false
		}
		n = n*1000 + int64(d)
	}
	return n, width, len(parts) > 0
}

func (s *Server) ledgerCheckpointAt(w http.ResponseWriter, r *http.Request) error {
	size, err := strconv.ParseInt(r.PathValue("size"), 10, 64)
	if err != nil || size < 1 {
		return symbiont.Errorf(symbiont.EINVALID, "size must be a positive tree size.")
	}
	cp, err := s.Ledger.CheckpointAt(r.Context(), size)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, err = w.Write(cp.Note)
	return err
}

// ledgerConsistency proves that the tree of size old is a prefix of the tree of size new.
func (s *Server) ledgerConsistency(w http.ResponseWriter, r *http.Request) error {
	old, err1 := strconv.ParseInt(r.URL.Query().Get("old"), 10, 64)
	nw, err2 := strconv.ParseInt(r.URL.Query().Get("new"), 10, 64)
	if err1 != nil || err2 != nil {
		return symbiont.Errorf(symbiont.EINVALID, "old and new must be tree sizes: ?old=…&new=….")
	}
	proof, err := s.Ledger.ConsistencyProof(r.Context(), old, nw)
	if err != nil {
		return err
	}
	writeJSON(w, 200, map[string]any{"old": old, "new": nw, "proof": b64s(proof)})
	return nil
}

func b64s(hs [][]byte) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = base64.StdEncoding.EncodeToString(h)
	}
	return out
}

// myLedger is GET /v1/me/access-log: every record of the consumer's chains with its salt, its
// log index and an inclusion proof against the newest checkpoint, for `symbiont verify`.
func (s *Server) myLedger(w http.ResponseWriter, r *http.Request) error {
	a, err := s.consumer(r)
	if err != nil {
		return err
	}
	doc, err := s.Access.ProofDocument(r.Context(), a.BrandID, a.ConsumerID)
	if err != nil {
		return err
	}
	writeJSON(w, 200, doc)
	return nil
}
