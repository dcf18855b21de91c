package symbiont

import (
	"errors"
	"io"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// DecodeJSON decodes one JSON value into v, strictly: unknown fields, duplicate object keys
// (at any depth, `\u`-escaped spellings included), invalid UTF-8 and lone surrogates, and
// anything after the value are refused. Every body the API and the pages accept goes through
// here, so one rule holds everywhere.
//
// It uses the JSON v2 implementation (github.com/go-json-experiment/json, the code behind Go's
// encoding/json/v2), whose defaults are exactly these rules; Go 1.26 still ships
// encoding/json/v2 only behind GOEXPERIMENT=jsonv2. Object keys match struct tags exactly
// (case-sensitively), so "State" is an unknown field, not "state".
//
// The error is an EINVALID *Error whose message names the field as the API documents it, as a
// path such as rate_card.tiers[2].min_points (details: "field", and "reason" for duplicate
// keys and bad text); it never names a Go type or struct field.
func DecodeJSON(data []byte, v any) error {
	if len(strings.TrimSpace(string(data))) == 0 {
		return Errorf(EINVALID, "The body is empty; send a JSON object.").With("reason", "empty")
	}
	err := json.Unmarshal(data, v, json.RejectUnknownMembers(true))
	if err == nil {
		return nil
	}
	return jsonError(err)
}

// CheckJSON applies DecodeJSON's rules to a JSON value without decoding it into Go values.
func CheckJSON(data []byte) error {
	var v jsontext.Value
	return DecodeJSON(data, &v)
}

// jsonError turns a decoding error into a client message.
func jsonError(err error) error {
	var syn *jsontext.SyntacticError
	var sem *json.SemanticError
	switch {
	case errors.As(err, &syn):
		field := FieldPath(string(syn.JSONPointer))
		switch {
		case errors.Is(syn.Err, jsontext.ErrDuplicateName):
			return Errorf(EINVALID, "The field %s appears twice; send each field once.", field).
				With("field", field).With("reason", "duplicate_key").With("offset", syn.ByteOffset)
		case strings.Contains(syn.Err.Error(), "invalid UTF-8"), strings.Contains(syn.Err.Error(), "surrogate"):
			e := Errorf(EINVALID, "The body is not valid UTF-8 (at byte %d); send text as UTF-8.", syn.ByteOffset)
			if field != "" {
				e = Errorf(EINVALID, "%s is not valid UTF-8 (at byte %d); send text as UTF-8.", field, syn.ByteOffset).With("field", field)
			}
			return e.With("reason", "invalid_utf8").With("offset", syn.ByteOffset)
		case errors.Is(syn.Err, io.ErrUnexpectedEOF):
			return Errorf(EINVALID, "The JSON body ends too early (at byte %d).", syn.ByteOffset).With("offset", syn.ByteOffset)
		case strings.Contains(syn.Err.Error(), "after top-level value"):
			return Errorf(EINVALID, "Unexpected data after the JSON body (at byte %d).", syn.ByteOffset).With("offset", syn.ByteOffset)
		}
		e := Errorf(EINVALID, "Malformed JSON at byte %d.", syn.ByteOffset).With("offset", syn.ByteOffset)
		if field != "" {
			e = Errorf(EINVALID, "Malformed JSON at byte %d, in %s.", syn.ByteOffset, field).With("offset", syn.ByteOffset).With("field", field)
		}
		return e
	case errors.As(err, &sem):
		field := FieldPath(string(sem.JSONPointer))
		if errors.Is(sem.Err, json.ErrUnknownName) {
			return Errorf(EINVALID, "Unknown field %s.", field).With("field", field).With("reason", "unknown_field")
		}
		want := jsonKind(sem.GoType)
		if field == "" {
			return Errorf(EINVALID, "The body must be %s.", want).With("reason", "wrong_type")
		}
		return Errorf(EINVALID, "%s must be %s.", field, want).With("field", field).With("reason", "wrong_type")
	}
	return Errorf(EINVALID, "The body is not valid JSON.")
}

// FieldPath turns a JSON Pointer (RFC 6901) such as /rate_card/tiers/2/min_points into the
// path the documentation uses: rate_card.tiers[2].min_points. Keys that are not simple names
// are quoted: events["Order Completed"].
func FieldPath(pointer string) string {
	if pointer == "" {
		return ""
	}
	var b strings.Builder
	for _, tok := range strings.Split(strings.TrimPrefix(pointer, "/"), "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch {
		case isIndex(tok):
			b.WriteString("[" + tok + "]")
		case isIdent(tok):
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(tok)
		default:
			b.WriteString("[" + strconv.Quote(tok) + "]")
		}
	}
	return b.String()
}

func isIndex(s string) bool {
	if s == "" || len(s) > 9 {
		return false
	}
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '-' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

var timeType = reflect.TypeFor[time.Time]()

// jsonKind names the JSON a Go type takes, in the API's words.
func jsonKind(t reflect.Type) string {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil {
		return "of another JSON type"
	}
	if t == timeType {
		return "a date and time (RFC 3339 string)"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return "of another JSON type"
}
