package api

import (
	"errors"
	"io"
	"net/http"

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
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var maxErr *http.MaxBytesError
		if errors.As(err, &maxErr) {
			return symbiont.Errorf(symbiont.ETOOLARGE, "The body is larger than %d bytes (Segment's limit).", limit)
		}
		return symbiont.Errorf(symbiont.EINVALID, "Could not read the request body.")
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
