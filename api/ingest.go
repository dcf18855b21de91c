package api

import (
	"bufio"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/symbiont/symbiont"
	"github.com/symbiont/symbiont/ingest"
	"github.com/symbiont/symbiont/segment"
)

// ingest serves the Segment-compatible tracking endpoints. typ is "" for /v1/batch.
func (s *Server) ingest(w http.ResponseWriter, r *http.Request, typ string) error {
	cors(w)
	// Authenticate before reading the body when the key is in a header (SDKs); analytics.js
	// sends it in the body instead, so that case is checked after parsing.
	var a symbiont.Actor
	var err error
	if r.Header.Get("Authorization") != "" {
		if a, err = s.writeKeyActor(r, ""); err != nil {
			return err
		}
	}
	limit := int64(segment.MaxBatchBytes)
	if typ != "" {
		limit = segment.MaxMessageBytes
	}
	body, err := readIngestBody(w, r, limit)
	if err != nil {
		return err
	}
	var batch *segment.Batch
	if typ == "" {
		batch, err = segment.ParseBatch(body)
	} else {
		batch, err = segment.ParseSingle(typ, body)
	}
	if err != nil {
		var be *segment.BatchError
		if errors.As(err, &be) {
			code := symbiont.EINVALID
			if be.Reason == "too_large" || be.Reason == "too_many_messages" {
				code = symbiont.ETOOLARGE
			}
			return symbiont.Errorf(code, "%s", be.Error()).With("reason", be.Reason)
		}
		return err
	}
	if a.Kind == "" {
		key := batch.WriteKey
		for _, m := range batch.Messages {
			// analytics.js puts the write key in each message; they must all agree.
			if key == "" {
				key = m.WriteKey
			} else if m.WriteKey != "" && m.WriteKey != key {
				return symbiont.Errorf(symbiont.EINVALID, "The messages carry different write keys.")
			}
		}
		if a, err = s.writeKeyActor(r, key); err != nil {
			return err
		}
	}
	res, err := s.Ingest.Ingest(r.Context(), a.BrandID, batch, gpc(r), a)
	if err != nil {
		return err
	}
	writeJSON(w, 200, struct {
		Success bool `json:"success"` // Segment's own response field, which some SDKs read
		*ingestResult
	}{true, (*ingestResult)(res)})
	return nil
}

type ingestResult = ingest.Result

// AcceptedEncodings are the request content codings the ingestion endpoints take, as a 415
// answer's Accept-Encoding header lists them (RFC 9110 §12.5.3). RudderStack's SDKs send gzip
// by default; Segment's send identity (no Content-Encoding).
const AcceptedEncodings = "gzip, identity"

// GzipSlack is how many more bytes than the decoded limit a gzip body may have on the wire:
// gzip's own framing (header, optional extra field of up to 64 KB, trailer) and deflate's
// stored-block overhead on incompressible data. It bounds the work of a stream of empty gzip
// members, which inflate to nothing.
const GzipSlack = 64 << 10

// readIngestBody reads an ingestion body, decoding its Content-Encoding. limit applies to the
// decoded bytes: a gzip body is inflated as a stream and reading stops at limit+1 bytes, so a
// small compressed bomb costs at most limit bytes of memory and is answered 413. Concatenated
// gzip members (RFC 1952 §2.2) are one body, as gunzip reads them; the limit counts them all.
func readIngestBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	gz, err := contentCoding(r.Header.Values("Content-Encoding"))
	if err != nil {
		w.Header().Set("Accept-Encoding", AcceptedEncodings)
		return nil, err
	}
	tooLarge := func(what string) error {
		return symbiont.Errorf(symbiont.ETOOLARGE, "The body is larger than %d bytes%s (Segment's limit).", limit, what).With("reason", "too_large")
	}
	if !gz {
		body, err := readAll(http.MaxBytesReader(w, r.Body, limit), min(max(r.ContentLength, 0), limit))
		if err != nil {
			var maxErr *http.MaxBytesError
			if errors.As(err, &maxErr) {
				return nil, tooLarge("")
			}
			return nil, symbiont.Errorf(symbiont.EINVALID, "Could not read the request body.")
		}
		return body, nil
	}

	d := inflaters.Get().(*inflater)
	defer inflaters.Put(d)
	wire := http.MaxBytesReader(w, r.Body, limit+GzipSlack)
	d.br.Reset(wire)
	defer d.br.Reset(nil) // do not keep the request alive in the pool
	var body []byte
	if err = d.zr.Reset(d.br); err == nil {
		// SDK batches deflate 10-25 times (repeated keys and context): start at 32 times the
		// wire size, at most the limit, and let the buffer grow.
		var hint int64 // 0 for an unknown length (chunked)
		if cl := r.ContentLength; cl >= limit/32 {
			hint = limit
		} else if cl > 0 {
			hint = cl * 32
		}
		body, err = readAll(io.LimitReader(&d.zr, limit+1), hint)
		if err == nil && int64(len(body)) > limit {
			return nil, tooLarge(" once decompressed")
		}
	}
	if err != nil {
		var maxErr *http.MaxBytesError
		var corrupt flate.CorruptInputError
		bad := func(msg string) error {
			return symbiont.Errorf(symbiont.EINVALID, "Content-Encoding is gzip, but %s.", msg).With("reason", "invalid_gzip")
		}
		switch {
		case errors.As(err, &maxErr):
			return nil, symbiont.Errorf(symbiont.ETOOLARGE, "The compressed body is larger than %d bytes.", limit+GzipSlack).With("reason", "too_large")
		case errors.Is(err, io.EOF): // from the header read: no byte at all
			return nil, bad("the body is empty (an empty gzip stream is still 20 bytes)")
		case errors.Is(err, gzip.ErrHeader):
			return nil, bad("the body is not gzip data (bad gzip header, or bytes after the last gzip member)")
		case errors.Is(err, io.ErrUnexpectedEOF):
			return nil, bad("the gzip stream is truncated")
		case errors.Is(err, gzip.ErrChecksum):
			return nil, bad("the gzip checksum or length does not match the data")
		case errors.As(err, &corrupt):
			return nil, bad("the compressed data is corrupt")
		default:
			return nil, symbiont.Errorf(symbiont.EINVALID, "Could not read the request body.")
		}
	}
	return body, nil
}

// readAll is io.ReadAll from a first buffer of hint bytes (plus room to see the end), so that a
// body of the size announced costs one allocation instead of a dozen doublings from 512 bytes.
func readAll(r io.Reader, hint int64) ([]byte, error) {
	buf := bytes.NewBuffer(make([]byte, 0, hint+bytes.MinRead))
	_, err := buf.ReadFrom(r)
	return buf.Bytes(), err
}

// inflater is a reusable gzip decoder: its inflate window and tables are worth keeping.
type inflater struct {
	br *bufio.Reader
	zr gzip.Reader
}

var inflaters = sync.Pool{New: func() any { return &inflater{br: bufio.NewReaderSize(nil, 4<<10)} }}

// contentCoding reads the Content-Encoding header lines of a request (RFC 9110 §8.4): true for
// gzip (or its alias x-gzip), false for none or identity. Any other coding, or more than one
// coding applied in turn, is a 415.
func contentCoding(values []string) (gzipped bool, err error) {
	var codings []string
	for _, v := range values {
		for _, c := range strings.Split(v, ",") {
			c = strings.ToLower(strings.TrimSpace(c))
			if c != "" && c != "identity" {
				codings = append(codings, c)
			}
		}
	}
	switch {
	case len(codings) == 0:
		return false, nil
	case len(codings) == 1 && (codings[0] == "gzip" || codings[0] == "x-gzip"):
		return true, nil
	}
	e := symbiont.Errorf(symbiont.EUNSUPPORTEDMED, "Content-Encoding %q is not accepted: send the body gzip-compressed (Content-Encoding: gzip) or uncompressed (no Content-Encoding).",
		clip(strings.Join(codings, ", "), 64))
	if len(codings) > 1 {
		e = symbiont.Errorf(symbiont.EUNSUPPORTEDMED, "Content-Encoding %q applies several codings in turn; only one gzip layer is accepted, or none.",
			clip(strings.Join(codings, ", "), 64))
	}
	return false, e.With("accepted", strings.Split(AcceptedEncodings, ", "))
}

// clip shortens s for an error message.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
