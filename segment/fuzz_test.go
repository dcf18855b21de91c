package segment

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// seeds are shared by both fuzzers: real SDK shapes plus edge cases of the edits to Raw.
var seeds = []string{
	ajsTrack, ajsBatch, nodeBatch, mobileBatch,
	`{"batch":[]}`,
	`{"batch":[{"type":"track","event":"E","userId":"u"}],"context":{"a":1},"integrations":{"All":false}}`,
	`{"batch":[{"type":"track","event":"E","userId":"u","context":null,"integrations":null,"writeKey":"k"}],"context":{},"integrations":{}}`,
	`{"batch":[{"writeKey":"k"},{"writeKey":"k","type":"identify","userId":1e3}],"context":{"x":[]}}`,
	`{"batch":[{"type":"alias","previousId":"p","userId":"u","user\u0049d":"v"}]}`,
	`{"batch":[{"type":"track","event":"\ud83d","userId":"\ud83d\ude00"}]}`,
	`{"batch":[5,null,[],"x",{}],"sentAt":"2024-05-01T00:00:00+0200"}`,
	`{"type":"page","name":"Home","anonymousId":"a","timestamp":"2024-05-01T12:34:56.789-05:30"}`,
	`{"type":null,"writeKey":"k"}`,
	" { \"writeKey\" : \"k\" } ",
	`[{"a":[[[[{}]]]]}]`,
}

// checkBatchInvariants asserts what every caller relies on, whatever the input.
func checkBatchInvariants(t *testing.T, b *Batch, err error) {
	if err != nil {
		var be *BatchError
		if !errors.As(err, &be) || be.Reason == "" {
			t.Fatalf("error is not a *BatchError with a reason: %v", err)
		}
		if b != nil {
			t.Fatalf("both a batch and an error")
		}
		return
	}
	for i := range b.Messages {
		m := &b.Messages[i]
		if m.Err == nil && m.Type == "" {
			t.Fatalf("message %d accepted without a type", i)
		}
		if m.Err != nil {
			if m.Err.Reason == "" || m.Raw != nil {
				t.Fatalf("message %d: bad rejection %+v", i, m)
			}
			continue
		}
		if !json.Valid(m.Raw) {
			t.Fatalf("message %d: Raw is not valid JSON: %q", i, m.Raw)
		}
		if len(m.Raw) > MaxMessageBytes {
			t.Fatalf("message %d: Raw is %d bytes", i, len(m.Raw))
		}
		checkMessage(t, m)
		// Whatever the device's clocks say, they never place an event after its receipt.
		recv := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
		if et := m.EventTime(recv); m.Timestamp.IsZero() && et.After(recv) {
			t.Fatalf("message %d: event time %s after receipt %s", i, et, recv)
		}
	}
}

// checkFixpoint asserts that Raw is final: parsed again, as the only message of a batch, each
// accepted message comes back unchanged (sentAt aside, which may have come from the batch).
func checkFixpoint(t *testing.T, b *Batch) {
	for i := range b.Messages {
		m := b.Messages[i]
		if m.Err != nil {
			continue
		}
		again, err := ParseBatch(inBatch(string(m.Raw)))
		if err != nil {
			t.Fatalf("message %d: Raw %q does not parse again: %v", i, m.Raw, err)
		}
		m2 := again.Messages[0]
		m.SentAt, m2.SentAt = time.Time{}, time.Time{}
		m.WriteKey = "" // removed from Raw
		if !reflect.DeepEqual(m, m2) {
			t.Fatalf("message %d changes when parsed again:\n%+v\n%+v", i, m, m2)
		}
	}
}

// deep reports whether b might nest deeper than encoding/json's limit of 10000, which our
// scanner does not share (it reports depth and lets messages fail alone).
func deep(b []byte) bool { return bytes.Count(b, []byte("["))+bytes.Count(b, []byte("{")) > 10000 }

func FuzzParseBatch(f *testing.F) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		b, err := ParseBatch(body)
		checkBatchInvariants(t, b, err)
		// The scanner must agree with encoding/json on what is JSON.
		var be *BatchError
		isJSONErr := errors.As(err, &be) && be.Reason == "invalid_json"
		if len(body) <= MaxBatchBytes && !deep(body) {
			valid := json.Valid(body)
			if valid && isJSONErr {
				t.Fatalf("valid JSON rejected as invalid_json: %v", err)
			}
			if !valid && err == nil {
				t.Fatalf("invalid JSON accepted")
			}
		}
		if err == nil {
			checkFixpoint(t, b)
		}
		// Wrapping the body as a single message must be safe too.
		if len(body) <= MaxMessageBytes {
			b, err := ParseSingle(TypeTrack, body)
			checkBatchInvariants(t, b, err)
		}
	})
}

func FuzzParseSingle(f *testing.F) {
	for i, s := range seeds {
		f.Add(uint8(i), []byte(s))
	}
	types := []string{TypeTrack, TypeIdentify, TypePage, TypeScreen, TypeAlias, TypeGroup}
	f.Fuzz(func(t *testing.T, ti uint8, body []byte) {
		typ := types[int(ti)%len(types)]
		b, err := ParseSingle(typ, body)
		checkBatchInvariants(t, b, err)
		if err != nil {
			return
		}
		if len(b.Messages) != 1 {
			t.Fatalf("%d messages", len(b.Messages))
		}
		if m := b.Messages[0]; m.Err == nil && m.Type != typ {
			t.Fatalf("type %q, path said %q", m.Type, typ)
		}
		if !json.Valid(body) && !deep(body) {
			t.Fatalf("invalid JSON accepted")
		}
		checkFixpoint(t, b)
	})
}

// FuzzMessageFields builds messages with encoding/json from arbitrary field values and checks
// that what we decode is what encoding/json encoded, and that valid inputs are accepted.
func FuzzMessageFields(f *testing.F) {
	f.Add("track", "user_1", "", "Order Completed", "2024-05-01T12:34:56.789Z", `{"total":27.5}`)
	f.Add("identify", "", "anon<&>\u2028", "", "2024-05-01T12:34:56+02:00", `null`)
	f.Add("page", "é\x00\"\\", "a", "Home", "", `{"a":[{"b":"\ud83d\ude00"}]}`)
	f.Add("alias", "u", "", "", "2024-05-01", `[]`)
	types := []string{TypeTrack, TypeIdentify, TypePage, TypeScreen, TypeAlias, TypeGroup}
	f.Fuzz(func(t *testing.T, typ, userID, anonID, event, ts, props string) {
		msg := map[string]any{"type": typ, "userId": userID, "anonymousId": anonID, "event": event,
			"name": event, "groupId": "g", "previousId": "p"}
		if ts != "" {
			msg["timestamp"] = ts
		}
		if json.Valid([]byte(props)) {
			msg["properties"] = json.RawMessage(props)
		}
		body, err := json.Marshal(map[string]any{"batch": []any{msg}})
		if err != nil || len(body) > MaxMessageBytes {
			return
		}
		b, err := ParseBatch(body)
		if err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		checkBatchInvariants(t, b, err)
		m := b.Messages[0]

		// encoding/json replaces each invalid UTF-8 byte with U+FFFD.
		norm := func(s string) string {
			b, _ := json.Marshal(s)
			_ = json.Unmarshal(b, &s)
			return s
		}
		uid, aid, ev := norm(userID), norm(anonID), norm(event)
		wantTS, tsErr := time.Parse(time.RFC3339Nano, ts)
		var pv any
		_ = json.Unmarshal([]byte(props), &pv)
		_, propsObj := pv.(map[string]any)
		valid := slices.Contains(types, typ) &&
			len(uid) <= maxIDBytes && len(aid) <= maxIDBytes && len(ev) <= maxNameBytes &&
			(uid != "" || (aid != "" && typ != TypeAlias)) &&
			(ev != "" || typ != TypeTrack) &&
			(ts == "" || tsErr == nil) &&
			(!json.Valid([]byte(props)) || pv == nil || propsObj) &&
			strings.Count(props, "[")+strings.Count(props, "{") < 60
		if valid && m.Err != nil {
			t.Fatalf("%s: rejected: %v", body, m.Err)
		}
		if m.Err != nil {
			return
		}
		if m.Type != typ || m.UserID != uid || m.AnonymousID != aid || m.Event != ev || m.Name != ev {
			t.Fatalf("%s: decoded %+v", body, m)
		}
		if ts != "" && tsErr == nil && !m.Timestamp.Equal(wantTS) {
			t.Fatalf("%s: Timestamp %v, want %v", body, m.Timestamp, wantTS)
		}
		var got any
		if err := json.Unmarshal(m.Properties, &got); propsObj && (err != nil || !reflect.DeepEqual(got, pv)) {
			t.Fatalf("%s: Properties %s", body, m.Properties)
		}
	})
}
