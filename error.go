// Package symbiont holds the vocabulary every other package shares: error codes, the clock,
// actors, personal-data categories and purposes. It imports nothing of the project.
package symbiont

import (
	"errors"
	"fmt"
)

// Error codes. They are part of the public API: clients switch on them, so never rename one.
const (
	EINVALID        = "invalid"          // malformed or semantically wrong input
	EUNAUTHORIZED   = "unauthorized"     // missing, unknown, revoked or expired credential
	EFORBIDDEN      = "forbidden"        // credential valid but not allowed to do this
	ENOTFOUND       = "not_found"        // no such resource (also used for other tenants' resources)
	ECONFLICT       = "conflict"         // state does not allow the change
	ETOOLARGE       = "too_large"        // body or field over a documented limit
	ERATELIMITED    = "rate_limited"     // over a documented rate limit
	ECONSENT        = "consent_required" // no active grant for the category and purpose
	EUNAVAILABLE    = "unavailable"      // shutting down or overloaded; retry
	EINTERNAL       = "internal"         // a bug or an outage; details are only in the log
	EMETHOD         = "method_not_allowed"
	EUNSUPPORTEDMED = "unsupported_media_type"
)

// Error is an application error: a machine-readable code and a message fit for the client.
// Internal causes are wrapped in Err and never shown to clients.
type Error struct {
	Code    string
	Message string
	// Details are extra machine-readable fields returned to the client (e.g. a field name).
	Details map[string]any
	Err     error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return e.Code + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// With returns a copy of e carrying one more detail field.
func (e *Error) With(key string, value any) *Error {
	c := *e
	c.Details = make(map[string]any, len(e.Details)+1)
	for k, v := range e.Details {
		c.Details[k] = v
	}
	c.Details[key] = value
	return &c
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL for any other error
// and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Code
	default:
		return EINTERNAL
	}
}

// ErrorMessage returns the client-facing message of err. Errors that are not *Error are internal
// and get a generic message, so that internals never leak.
func ErrorMessage(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Message
	default:
		return "An internal error occurred."
	}
}
