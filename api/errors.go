package api

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/symbiont/symbiont"
)

// Statuses maps error codes to HTTP statuses, for the API and the pages (package web) alike.
var Statuses = map[string]int{
	symbiont.EINVALID:        http.StatusBadRequest,
	symbiont.EUNAUTHORIZED:   http.StatusUnauthorized,
	symbiont.EFORBIDDEN:      http.StatusForbidden,
	symbiont.ENOTFOUND:       http.StatusNotFound,
	symbiont.ECONFLICT:       http.StatusConflict,
	symbiont.ETOOLARGE:       http.StatusRequestEntityTooLarge,
	symbiont.ERATELIMITED:    http.StatusTooManyRequests,
	symbiont.ECONSENT:        http.StatusForbidden,
	symbiont.EUNAVAILABLE:    http.StatusServiceUnavailable,
	symbiont.EINTERNAL:       http.StatusInternalServerError,
	symbiont.EMETHOD:         http.StatusMethodNotAllowed,
	symbiont.EUNSUPPORTEDMED: http.StatusUnsupportedMediaType,
}

// errorBody is the one shape of every error response.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code      string         `json:"code"`
	Message   string         `json:"message"`
	RequestID string         `json:"request_id,omitempty"`
	Details   map[string]any `json:"details,omitempty"`
}

// writeError writes err as JSON with its status. Internal errors are logged with the request
// id and shown to the client only as a generic message.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code := symbiont.ErrorCode(err)
	var maxErr *http.MaxBytesError
	if errors.As(err, &maxErr) {
		err = symbiont.Errorf(symbiont.ETOOLARGE, "The request body is larger than %d bytes.", maxErr.Limit)
		code = symbiont.ETOOLARGE
	}
	if errors.Is(err, r.Context().Err()) && r.Context().Err() != nil {
		return // the client went away; nobody to answer
	}
	st, ok := Statuses[code]
	if !ok {
		st = http.StatusInternalServerError
	}
	body := errorBody{Error: errorDetail{Code: code, Message: symbiont.ErrorMessage(err), RequestID: requestID(r.Context())}}
	var e *symbiont.Error
	if errors.As(err, &e) {
		body.Error.Details = e.Details
	}
	if st >= 500 {
		s.log.ErrorContext(r.Context(), "request failed", slog.String("request_id", requestID(r.Context())),
			slog.String("method", r.Method), slog.String("path", s.logPath(r)), slog.Any("err", err))
	}
	if st == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "1")
	}
	if st == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="symbiont"`)
	}
	writeJSON(w, st, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}
