package segment

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// inBatch wraps one message in a batch body.
func inBatch(msg string) []byte { return []byte(`{"batch":[` + msg + `]}`) }

// parseOne parses msg inside a batch and returns its only message.
func parseOne(t *testing.T, msg string) Message {
	t.Helper()
	b, err := ParseBatch(inBatch(msg))
	if err != nil {
		t.Fatalf("ParseBatch: %v", err)
	}
	if len(b.Messages) != 1 {
		t.Fatalf("got %d messages, want 1", len(b.Messages))
	}
	return b.Messages[0]
}

// checkMessage asserts the invariants every returned message must meet.
func checkMessage(t testing.TB, m *Message) {
	t.Helper()
	if m.Err != nil {
		if m.Err.Reason == "" {
			t.Errorf("message error without reason: %v", m.Err)
		}
		if m.Raw != nil {
			t.Errorf("rejected message has a Raw: %s", m.Raw)
		}
		return
	}
	if !validType(m.Type) {
		t.Errorf("accepted message has type %q", m.Type)
	}
	if !json.Valid(m.Raw) {
		t.Fatalf("Raw is not valid JSON: %q", m.Raw)
	}
	if len(m.Raw) > MaxMessageBytes {
		t.Errorf("Raw is %d bytes", len(m.Raw))
	}
	if len(m.Raw) != cap(m.Raw) {
		t.Errorf("Raw has spare capacity: an append would write into the next message")
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(m.Raw, &obj); err != nil {
		t.Fatalf("Raw is not an object: %v: %s", err, m.Raw)
	}
	var typ string
	if err := json.Unmarshal(obj["type"], &typ); err != nil || typ != m.Type {
		t.Errorf("Raw type is %s, Type is %q", obj["type"], m.Type)
	}
	if _, ok := obj["writeKey"]; ok {
		t.Errorf("Raw still holds writeKey: %s", m.Raw)
	}
	checkConsent(t, m, obj)
	for name, got := range map[string]json.RawMessage{"properties": m.Properties, "traits": m.Traits, "context": m.Context, "integrations": m.Integrations} {
		if got == nil {
			if v, ok := obj[name]; ok && string(v) != "null" {
				t.Errorf("%s is nil but Raw has %s", name, v)
			}
			continue
		}
		if !bytes.Equal(got, obj[name]) {
			t.Errorf("%s = %s, Raw has %s", name, got, obj[name])
		}
	}
	for name, got := range map[string]string{"userId": m.UserID, "anonymousId": m.AnonymousID, "event": m.Event, "messageId": m.MessageID} {
		var want string
		if json.Unmarshal(obj[name], &want) == nil && want != got {
			t.Errorf("%s = %q, Raw has %q", name, got, want)
		}
	}
}

func TestBatchErrors(t *testing.T) {
	many := `{"batch":[` + strings.Repeat(`{},`, MaxBatchMessages) + `{}]}`
	tests := []struct {
		name, body, reason string
	}{
		{"empty", ``, "invalid_json"},
		{"blank", " \n\t", "invalid_json"},
		{"truncated", `{"batch":[{"type":"track"`, "invalid_json"},
		{"trailing comma", `{"batch":[{"type":"track",}]}`, "invalid_json"},
		{"trailing garbage", `{"batch":[]} x`, "invalid_json"},
		{"two values", `{"batch":[]}{}`, "invalid_json"},
		{"single quotes", `{'batch':[]}`, "invalid_json"},
		{"bad literal", `{"batch":[],"x":tru}`, "invalid_json"},
		{"bad number", `{"batch":[{"userId":01}]}`, "invalid_json"},
		{"control char", "{\"batch\":[{\"event\":\"a\tb\"}]}", "invalid_json"},
		{"bad escape", `{"batch":[{"event":"\x"}]}`, "invalid_json"},
		{"array body", `[{"type":"track"}]`, "not_a_batch"},
		{"string body", `"batch"`, "not_a_batch"},
		{"null body", `null`, "not_a_batch"},
		{"no batch", `{}`, "not_a_batch"},
		{"batch null", `{"batch":null}`, "not_a_batch"},
		{"batch object", `{"batch":{"type":"track"}}`, "not_a_batch"},
		{"batch key case", `{"Batch":[]}`, "not_a_batch"},
		{"duplicate batch", `{"batch":[],"batch":[]}`, "invalid_field"},
		{"duplicate context", `{"batch":[],"context":{},"context":{}}`, "invalid_field"},
		{"context not object", `{"batch":[],"context":[]}`, "invalid_field"},
		{"integrations not object", `{"batch":[],"integrations":"all"}`, "invalid_field"},
		{"context bad utf8", "{\"batch\":[],\"context\":{\"a\":\"\xff\"}}", "invalid_utf8"},
		{"context too deep", `{"batch":[],"context":` + strings.Repeat(`{"a":`, maxDepth) + `1` + strings.Repeat(`}`, maxDepth) + `}`, "invalid_field"},
		{"writeKey number", `{"batch":[],"writeKey":123}`, "invalid_field"},
		{"sentAt invalid", `{"batch":[],"sentAt":"yesterday"}`, "invalid_timestamp"},
		{"sentAt number", `{"batch":[],"sentAt":1700000000000}`, "invalid_timestamp"},
		{"too many messages", many, "too_many_messages"},
		{"too large", `{"batch":[],"x":"` + strings.Repeat("a", MaxBatchBytes) + `"}`, "too_large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := ParseBatch([]byte(tt.body))
			var be *BatchError
			if !errors.As(err, &be) {
				t.Fatalf("got (%v, %v), want a *BatchError", b, err)
			}
			if be.Reason != tt.reason {
				t.Errorf("reason %q (%v), want %q", be.Reason, be, tt.reason)
			}
			if !strings.HasPrefix(be.Error(), "segment: "+tt.reason+": ") {
				t.Errorf("Error() = %q", be.Error())
			}
		})
	}
}

func TestBatchAccepted(t *testing.T) {
	tests := []struct {
		name, body string
		n          int
	}{
		{"empty batch", `{"batch":[]}`, 0},
		{"whitespace", " \r\n{ \"batch\" : [ ] } \n", 0},
		{"exactly max messages", `{"batch":[` + strings.Repeat(`{},`, MaxBatchMessages-1) + `{}]}`, MaxBatchMessages},
		{"null batch-level fields", `{"batch":[{}],"context":null,"integrations":null,"writeKey":null,"sentAt":null}`, 1},
		{"unknown batch-level fields", `{"batch":[{}],"x":[1,{"y":null}],"metadata":{}}`, 1},
		{"bad utf8 in ignored batch field", "{\"batch\":[],\"x\":\"\xff\"}", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := ParseBatch([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if len(b.Messages) != tt.n {
				t.Fatalf("got %d messages, want %d", len(b.Messages), tt.n)
			}
			for i := range b.Messages {
				checkMessage(t, &b.Messages[i])
			}
		})
	}
}

// nest returns a message whose properties nest to the given total depth.
func nest(depth int) string {
	inner := depth - 2 // the message and properties objects
	return `{"type":"track","event":"E","userId":"u","properties":{"p":` +
		strings.Repeat(`[`, inner) + strings.Repeat(`]`, inner) + `}}`
}

func TestMessageValidation(t *testing.T) {
	id255, id256 := strings.Repeat("i", 255), strings.Repeat("i", 256)
	n200, n201 := strings.Repeat("n", 200), strings.Repeat("n", 201)
	big := `{"type":"track","event":"E","userId":"u","properties":{"x":"` + strings.Repeat("a", MaxMessageBytes) + `"}}`
	tests := []struct {
		name, msg, reason string
		check             func(t *testing.T, m Message)
	}{
		// Shape and type.
		{"number", `5`, "not_an_object", nil},
		{"null", `null`, "not_an_object", nil},
		{"array", `[{"type":"track"}]`, "not_an_object", nil},
		{"string", `"track"`, "not_an_object", nil},
		{"no type", `{"userId":"u","event":"E"}`, "invalid_type", nil},
		{"type null", `{"type":null,"userId":"u","event":"E"}`, "invalid_type", nil},
		{"type unknown", `{"type":"purchase","userId":"u"}`, "invalid_type", nil},
		{"type capitalised", `{"type":"Track","userId":"u","event":"E"}`, "invalid_type", nil},
		{"type number", `{"type":1,"userId":"u"}`, "invalid_type", nil},
		{"type escaped", `{"type":"tr\u0061ck","userId":"u","event":"E"}`, "", func(t *testing.T, m Message) {
			if m.Type != TypeTrack {
				t.Errorf("Type = %q", m.Type)
			}
		}},
		{"empty object", `{}`, "invalid_type", nil},

		// The six types, minimal.
		{"track", `{"type":"track","event":"E","userId":"u"}`, "", nil},
		{"identify", `{"type":"identify","userId":"u","traits":{"email":"a@b.c"}}`, "", func(t *testing.T, m Message) {
			if string(m.Traits) != `{"email":"a@b.c"}` {
				t.Errorf("Traits = %s", m.Traits)
			}
		}},
		{"page", `{"type":"page","anonymousId":"a","name":"Home","properties":{"path":"/"}}`, "", func(t *testing.T, m Message) {
			if m.Name != "Home" || m.AnonymousID != "a" {
				t.Errorf("Name %q AnonymousID %q", m.Name, m.AnonymousID)
			}
		}},
		{"page without name", `{"type":"page","anonymousId":"a"}`, "", nil},
		{"screen", `{"type":"screen","userId":"u","name":"Settings"}`, "", nil},
		{"alias", `{"type":"alias","previousId":"anon-1","userId":"u"}`, "", func(t *testing.T, m Message) {
			if m.PreviousID != "anon-1" || m.UserID != "u" {
				t.Errorf("PreviousID %q UserID %q", m.PreviousID, m.UserID)
			}
		}},
		{"group", `{"type":"group","userId":"u","groupId":"g1","traits":{"name":"Acme"}}`, "", func(t *testing.T, m Message) {
			if m.GroupID != "g1" {
				t.Errorf("GroupID %q", m.GroupID)
			}
		}},

		// Identity.
		{"no ids", `{"type":"track","event":"E"}`, "missing_id", nil},
		{"empty userId", `{"type":"track","event":"E","userId":""}`, "missing_id", nil},
		{"null userId", `{"type":"track","event":"E","userId":null}`, "missing_id", nil},
		{"null userId anon", `{"type":"track","event":"E","userId":null,"anonymousId":"a"}`, "", nil},
		{"anonymous only", `{"type":"identify","anonymousId":"a"}`, "", nil},
		{"numeric userId", `{"type":"track","event":"E","userId":42}`, "", func(t *testing.T, m Message) {
			if m.UserID != "42" {
				t.Errorf("UserID = %q", m.UserID)
			}
			if !bytes.Contains(m.Raw, []byte(`"userId":42`)) {
				t.Errorf("Raw changed the number: %s", m.Raw)
			}
		}},
		{"big numeric userId", `{"type":"track","event":"E","userId":12345678901234567890123}`, "", func(t *testing.T, m Message) {
			if m.UserID != "12345678901234567890123" {
				t.Errorf("UserID = %q", m.UserID)
			}
		}},
		{"negative numeric userId", `{"type":"track","event":"E","userId":-7}`, "", func(t *testing.T, m Message) {
			if m.UserID != "-7" {
				t.Errorf("UserID = %q", m.UserID)
			}
		}},
		{"fractional userId", `{"type":"track","event":"E","userId":1.5}`, "", func(t *testing.T, m Message) {
			if m.UserID != "1.5" {
				t.Errorf("UserID = %q", m.UserID)
			}
		}},
		{"exponent userId", `{"type":"track","event":"E","userId":1E3}`, "", func(t *testing.T, m Message) {
			if m.UserID != "1000" {
				t.Errorf("UserID = %q", m.UserID)
			}
		}},
		{"numeric anonymousId", `{"type":"track","event":"E","anonymousId":7}`, "", func(t *testing.T, m Message) {
			if m.AnonymousID != "7" {
				t.Errorf("AnonymousID = %q", m.AnonymousID)
			}
		}},
		{"huge number userId", `{"type":"track","event":"E","userId":1e400}`, "invalid_field", nil},
		{"bool userId", `{"type":"track","event":"E","userId":true}`, "invalid_field", nil},
		{"object userId", `{"type":"track","event":"E","userId":{"id":1}}`, "invalid_field", nil},
		{"array anonymousId", `{"type":"track","event":"E","anonymousId":["a"]}`, "invalid_field", nil},
		{"userId 255", `{"type":"track","event":"E","userId":"` + id255 + `"}`, "", nil},
		{"userId 256", `{"type":"track","event":"E","userId":"` + id256 + `"}`, "invalid_field", nil},
		{"anonymousId 256", `{"type":"track","event":"E","anonymousId":"` + id256 + `"}`, "invalid_field", nil},
		{"groupId 256", `{"type":"group","userId":"u","groupId":"` + id256 + `"}`, "invalid_field", nil},
		{"previousId 256", `{"type":"alias","userId":"u","previousId":"` + id256 + `"}`, "invalid_field", nil},
		{"messageId 256", `{"type":"track","event":"E","userId":"u","messageId":"` + id256 + `"}`, "invalid_field", nil},
		{"messageId number", `{"type":"track","event":"E","userId":"u","messageId":12}`, "", func(t *testing.T, m Message) {
			if m.MessageID != "12" {
				t.Errorf("MessageID = %q", m.MessageID)
			}
		}},
		{"messageId object", `{"type":"track","event":"E","userId":"u","messageId":{}}`, "invalid_field", nil},
		{"long id counts decoded bytes", `{"type":"track","event":"E","userId":"` + strings.Repeat(`\u0041`, 255) + `"}`, "", nil},
		{"alias without previousId", `{"type":"alias","userId":"u"}`, "missing_id", nil},
		{"alias without userId", `{"type":"alias","previousId":"p","anonymousId":"a"}`, "missing_id", nil},
		{"group without groupId", `{"type":"group","userId":"u"}`, "missing_id", nil},
		{"group empty groupId", `{"type":"group","userId":"u","groupId":""}`, "missing_id", nil},
		{"group numeric groupId", `{"type":"group","userId":"u","groupId":99}`, "", func(t *testing.T, m Message) {
			if m.GroupID != "99" {
				t.Errorf("GroupID = %q", m.GroupID)
			}
		}},

		// event and name.
		{"track without event", `{"type":"track","userId":"u"}`, "missing_event", nil},
		{"track empty event", `{"type":"track","userId":"u","event":""}`, "missing_event", nil},
		{"track null event", `{"type":"track","userId":"u","event":null}`, "missing_event", nil},
		{"event number", `{"type":"track","userId":"u","event":5}`, "invalid_field", nil},
		{"event 200", `{"type":"track","userId":"u","event":"` + n200 + `"}`, "", nil},
		{"event 201", `{"type":"track","userId":"u","event":"` + n201 + `"}`, "invalid_field", nil},
		{"name 201", `{"type":"page","userId":"u","name":"` + n201 + `"}`, "invalid_field", nil},
		{"name object", `{"type":"screen","userId":"u","name":{}}`, "invalid_field", nil},

		// Objects.
		{"properties array", `{"type":"track","event":"E","userId":"u","properties":[]}`, "invalid_field", nil},
		{"properties string", `{"type":"track","event":"E","userId":"u","properties":"{}"}`, "invalid_field", nil},
		{"traits string", `{"type":"identify","userId":"u","traits":"vip"}`, "invalid_field", nil},
		{"context number", `{"type":"identify","userId":"u","context":1}`, "invalid_field", nil},
		{"integrations bool", `{"type":"identify","userId":"u","integrations":true}`, "invalid_field", nil},
		{"objects null", `{"type":"track","event":"E","userId":"u","properties":null,"traits":null,"context":null,"integrations":null}`, "", func(t *testing.T, m Message) {
			if m.Properties != nil || m.Traits != nil || m.Context != nil || m.Integrations != nil {
				t.Errorf("null objects not nil: %+v", m)
			}
		}},
		{"empty objects", `{"type":"track","event":"E","userId":"u","properties":{},"context":{ }}`, "", func(t *testing.T, m Message) {
			if string(m.Properties) != `{}` || string(m.Context) != `{ }` {
				t.Errorf("Properties %s Context %s", m.Properties, m.Context)
			}
		}},

		// Timestamps.
		{"timestamps", `{"type":"track","event":"E","userId":"u","timestamp":"2024-05-01T12:34:56.789Z","sentAt":"2024-05-01T12:35:00+02:00","originalTimestamp":"2024-05-01T12:34:56.700+0000"}`, "", func(t *testing.T, m Message) {
			if want := time.Date(2024, 5, 1, 12, 34, 56, 789e6, time.UTC); !m.Timestamp.Equal(want) || m.Timestamp.Location() != time.UTC {
				t.Errorf("Timestamp = %v", m.Timestamp)
			}
			if want := time.Date(2024, 5, 1, 10, 35, 0, 0, time.UTC); !m.SentAt.Equal(want) {
				t.Errorf("SentAt = %v", m.SentAt)
			}
			if want := time.Date(2024, 5, 1, 12, 34, 56, 700e6, time.UTC); !m.OriginalTimestamp.Equal(want) {
				t.Errorf("OriginalTimestamp = %v", m.OriginalTimestamp)
			}
		}},
		{"timestamp absent", `{"type":"track","event":"E","userId":"u","timestamp":null}`, "", func(t *testing.T, m Message) {
			if !m.Timestamp.IsZero() || !m.SentAt.IsZero() {
				t.Errorf("Timestamp %v SentAt %v", m.Timestamp, m.SentAt)
			}
		}},
		{"timestamp words", `{"type":"track","event":"E","userId":"u","timestamp":"yesterday"}`, "invalid_timestamp", nil},
		{"timestamp epoch", `{"type":"track","event":"E","userId":"u","timestamp":1714566896}`, "invalid_timestamp", nil},
		{"timestamp month 13", `{"type":"track","event":"E","userId":"u","timestamp":"2024-13-01T00:00:00Z"}`, "invalid_timestamp", nil},
		{"timestamp feb 30", `{"type":"track","event":"E","userId":"u","timestamp":"2024-02-30T00:00:00Z"}`, "invalid_timestamp", nil},
		{"sentAt bad", `{"type":"track","event":"E","userId":"u","sentAt":"2024-05-01T25:00:00Z"}`, "invalid_timestamp", nil},
		{"originalTimestamp bad", `{"type":"track","event":"E","userId":"u","originalTimestamp":"May 1"}`, "invalid_timestamp", nil},
		{"timestamp escaped", `{"type":"track","event":"E","userId":"u","timestamp":"2024-05-01T12:34:56\u002E789Z"}`, "", nil},

		// Size, depth, encoding.
		{"too large", big, "too_large", nil},
		{"depth 64", nest(maxDepth), "", nil},
		{"depth 65", nest(maxDepth + 1), "too_deep", nil},
		{"bad utf8 in property", "{\"type\":\"track\",\"event\":\"E\",\"userId\":\"u\",\"properties\":{\"a\":\"\xc3\x28\"}}", "invalid_utf8", nil},
		{"bad utf8 in unknown key", "{\"type\":\"track\",\"event\":\"E\",\"userId\":\"u\",\"\xff\":1}", "invalid_utf8", nil},
		{"utf8 surrogate bytes", "{\"type\":\"track\",\"event\":\"E\",\"userId\":\"\xed\xa0\x80\"}", "invalid_utf8", nil},
		{"utf8 ok", `{"type":"track","event":"Añadido al carrito 🛒","userId":"ü"}`, "", func(t *testing.T, m Message) {
			if m.Event != "Añadido al carrito 🛒" {
				t.Errorf("Event = %q", m.Event)
			}
		}},
		{"lone surrogate in property", `{"type":"track","event":"E","userId":"u","properties":{"title":"abc\ud83d"}}`, "", nil},
		{"lone surrogate in userId", `{"type":"track","event":"E","userId":"u\ud83d"}`, "invalid_field", nil},
		{"lone low surrogate in event", `{"type":"track","event":"\ude00","userId":"u"}`, "invalid_field", nil},
		{"surrogate pair in userId", `{"type":"track","event":"E","userId":"\ud83d\ude00"}`, "", func(t *testing.T, m Message) {
			if m.UserID != "😀" {
				t.Errorf("UserID = %q", m.UserID)
			}
		}},
		{"escapes decoded", `{"type":"track","event":"a\"b\\c\/d\n\u00e9","userId":"u"}`, "", func(t *testing.T, m Message) {
			if m.Event != "a\"b\\c/d\né" {
				t.Errorf("Event = %q", m.Event)
			}
		}},

		// Keys.
		{"duplicate userId", `{"type":"track","event":"E","userId":"a","userId":"b"}`, "invalid_field", nil},
		{"duplicate type", `{"type":"track","type":"identify","event":"E","userId":"a"}`, "invalid_field", nil},
		{"duplicate unknown key", `{"type":"track","event":"E","userId":"a","x":1,"x":2}`, "", nil},
		{"case variant not interpreted", `{"type":"track","event":"E","UserId":"a"}`, "missing_id", nil},
		{"escaped key interpreted", `{"type":"track","event":"E","user\u0049d":"a"}`, "", func(t *testing.T, m Message) {
			if m.UserID != "a" {
				t.Errorf("UserID = %q", m.UserID)
			}
		}},
		{"escaped duplicate", `{"type":"track","event":"E","userId":"a","user\u0049d":"b"}`, "invalid_field", nil},
		{"unknown fields kept", `{"type":"track","event":"E","userId":"u","receivedAt":"x","category":7,"custom":{"deep":[1,2]}}`, "", func(t *testing.T, m Message) {
			if !bytes.Contains(m.Raw, []byte(`"custom":{"deep":[1,2]}`)) || !bytes.Contains(m.Raw, []byte(`"receivedAt":"x"`)) {
				t.Errorf("Raw lost unknown fields: %s", m.Raw)
			}
		}},
		{"writeKey number", `{"type":"track","event":"E","userId":"u","writeKey":1}`, "invalid_field", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := parseOne(t, tt.msg)
			checkMessage(t, &m)
			if tt.reason == "" {
				if m.Err != nil {
					t.Fatalf("unexpected error %v", m.Err)
				}
			} else {
				if m.Err == nil {
					t.Fatalf("accepted, want %s: Raw %s", tt.reason, m.Raw)
				}
				if m.Err.Reason != tt.reason {
					t.Fatalf("reason %q (%v), want %q", m.Err.Reason, m.Err, tt.reason)
				}
				if !strings.HasPrefix(m.Err.Error(), "segment: "+tt.reason+": ") {
					t.Errorf("Error() = %q", m.Err.Error())
				}
			}
			if tt.check != nil {
				tt.check(t, m)
			}
		})
	}
}

func TestRejectedMessageKeepsMessageID(t *testing.T) {
	b, err := ParseBatch([]byte(`{"batch":[
		{"type":"track","userId":"u","messageId":"m-1"},
		{"type":"bogus","messageId":"m-2"},
		{"type":"track","event":"E","userId":"u","messageId":"m-3"},
		{"messageId":{"no":1}}
	]}`))
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ id, reason string }{{"m-1", "missing_event"}, {"m-2", "invalid_type"}, {"m-3", ""}, {"", "invalid_type"}}
	for i, w := range want {
		m := b.Messages[i]
		checkMessage(t, &m)
		reason := ""
		if m.Err != nil {
			reason = m.Err.Reason
		}
		if m.MessageID != w.id || reason != w.reason {
			t.Errorf("message %d: id %q reason %q, want %q %q", i, m.MessageID, reason, w.id, w.reason)
		}
		if m.Err != nil && (m.UserID != "" || m.Event != "") {
			t.Errorf("message %d: rejected message has parsed fields: %+v", i, m)
		}
	}
}

func TestRawIsVerbatim(t *testing.T) {
	msgs := []string{
		`{"type":"track","event":"E","userId":"u","properties":{"n":1.0E+2,"s":"caf\u00e9","z":-0}}`,
		"{ \"type\" : \"identify\" ,\n \"userId\":\"u\" , \"traits\" : { \"b\" : 2 , \"a\" : 1 } }",
		`{"z":1,"type":"page","a":[],"anonymousId":"a","name":null}`,
	}
	body := `{"batch":[` + strings.Join(msgs, " ,\n") + `]}`
	b, err := ParseBatch([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range b.Messages {
		checkMessage(t, &m)
		if string(m.Raw) != msgs[i] {
			t.Errorf("Raw %d = %s, want %s", i, m.Raw, msgs[i])
		}
	}
	// Raw must not alias the caller's body, which may be a reused buffer.
	orig := string(b.Messages[0].Raw)
	bb := []byte(body)
	b2, _ := ParseBatch(bb)
	for i := range bb {
		bb[i] = 'x'
	}
	if string(b2.Messages[0].Raw) != orig || b2.Messages[0].UserID != "u" {
		t.Errorf("Raw or fields alias the body")
	}
}

func TestBatchLevelMerge(t *testing.T) {
	body := `{
		"writeKey": "wk_123",
		"sentAt": "2024-05-01T12:00:00.000Z",
		"context": {"library":{"name":"custom","version":"1"},"ip":"203.0.113.9"},
		"integrations": {"All":false,"Mixpanel":true},
		"batch": [
			{"type":"track","event":"A","userId":"u"},
			{"type":"track","event":"B","userId":"u","context":{"own":true},"integrations":{"All":true},"sentAt":"2024-05-01T11:59:59Z"},
			{"type":"track","event":"C","userId":"u","context":null,"integrations":null},
			{"type":"track","event":"D","userId":"u","context":{}},
			{}
		]
	}`
	b, err := ParseBatch([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if b.WriteKey != "wk_123" {
		t.Errorf("WriteKey = %q", b.WriteKey)
	}
	batchSent := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	if !b.SentAt.Equal(batchSent) {
		t.Errorf("SentAt = %v", b.SentAt)
	}
	ctx := `{"library":{"name":"custom","version":"1"},"ip":"203.0.113.9"}`
	integ := `{"All":false,"Mixpanel":true}`
	want := []struct{ raw, ctx, integ string }{
		{`{"context":` + ctx + `,"integrations":` + integ + `,"type":"track","event":"A","userId":"u"}`, ctx, integ},
		{`{"type":"track","event":"B","userId":"u","context":{"own":true},"integrations":{"All":true},"sentAt":"2024-05-01T11:59:59Z"}`, `{"own":true}`, `{"All":true}`},
		{`{"type":"track","event":"C","userId":"u","context":` + ctx + `,"integrations":` + integ + `}`, ctx, integ},
		{`{"integrations":` + integ + `,"type":"track","event":"D","userId":"u","context":{}}`, `{}`, integ},
	}
	for i, w := range want {
		m := b.Messages[i]
		checkMessage(t, &m)
		if m.Err != nil {
			t.Fatalf("message %d: %v", i, m.Err)
		}
		if string(m.Raw) != w.raw {
			t.Errorf("message %d Raw\n got %s\nwant %s", i, m.Raw, w.raw)
		}
		if string(m.Context) != w.ctx || string(m.Integrations) != w.integ {
			t.Errorf("message %d Context %s Integrations %s", i, m.Context, m.Integrations)
		}
	}
	if !b.Messages[0].SentAt.Equal(batchSent) {
		t.Errorf("batch sentAt not applied: %v", b.Messages[0].SentAt)
	}
	if bytes.Contains(b.Messages[0].Raw, []byte("sentAt")) {
		t.Errorf("batch sentAt copied into Raw")
	}
	if want := time.Date(2024, 5, 1, 11, 59, 59, 0, time.UTC); !b.Messages[1].SentAt.Equal(want) {
		t.Errorf("message sentAt overridden: %v", b.Messages[1].SentAt)
	}
	if m := b.Messages[4]; m.Err == nil || m.Err.Reason != "invalid_type" {
		t.Errorf("empty message: %+v", m)
	}
}

func TestMergeTooLarge(t *testing.T) {
	// Each message is small; with the batch context merged in, it is over the limit.
	ctx := `{"x":"` + strings.Repeat("a", MaxMessageBytes-20) + `"}`
	body := `{"context":` + ctx + `,"batch":[{"type":"track","event":"E","userId":"u"},{"type":"track","event":"E","userId":"u","context":{}}]}`
	b, err := ParseBatch([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if m := b.Messages[0]; m.Err == nil || m.Err.Reason != "too_large" {
		t.Errorf("merged message: %v", m.Err)
	}
	if m := b.Messages[1]; m.Err != nil {
		t.Errorf("message with own context: %v", m.Err)
	}
}

func TestWriteKeyRemoved(t *testing.T) {
	tests := []struct{ msg, raw string }{
		{`{"writeKey":"k","type":"track","event":"E","userId":"u"}`, `{"type":"track","event":"E","userId":"u"}`},
		{`{"type":"track","writeKey":"k","event":"E","userId":"u"}`, `{"type":"track","event":"E","userId":"u"}`},
		{`{"type":"track","event":"E","userId":"u","writeKey":"k"}`, `{"type":"track","event":"E","userId":"u"}`},
		{"{\"type\":\"track\",\"event\":\"E\",\"userId\":\"u\" ,\n \"writeKey\" : \"k\"\n}", "{\"type\":\"track\",\"event\":\"E\",\"userId\":\"u\"\n}"},
		{"{ \"writeKey\" : \"k\" ,\n \"type\":\"track\",\"event\":\"E\",\"userId\":\"u\"}", `{ "type":"track","event":"E","userId":"u"}`},
		{`{"type":"track","event":"E","userId":"u","writeKey":null}`, `{"type":"track","event":"E","userId":"u"}`},
	}
	for _, tt := range tests {
		m := parseOne(t, tt.msg)
		checkMessage(t, &m)
		if m.Err != nil {
			t.Fatalf("%s: %v", tt.msg, m.Err)
		}
		if string(m.Raw) != tt.raw {
			t.Errorf("Raw\n got %s\nwant %s", m.Raw, tt.raw)
		}
	}
	m := parseOne(t, tests[0].msg)
	if m.WriteKey != "k" {
		t.Errorf("Message.WriteKey = %q", m.WriteKey)
	}
}

func TestParseSingle(t *testing.T) {
	tests := []struct {
		name, typ, body string
		batchErr        string // reason of a *BatchError
		msgErr          string // reason of the message's error
		raw             string // expected Raw when accepted
	}{
		{"type added", "track", `{"event":"E","userId":"u"}`, "", "", `{"type":"track","event":"E","userId":"u"}`},
		{"type added to spaced body", "identify", " { \"userId\":\"u\" } ", "", "", `{"type":"identify", "userId":"u" }`},
		{"type agrees", "page", `{"type":"page","anonymousId":"a"}`, "", "", `{"type":"page","anonymousId":"a"}`},
		{"type null replaced", "screen", `{"type":null,"userId":"u"}`, "", "", `{"type":"screen","userId":"u"}`},
		{"type disagrees", "track", `{"type":"identify","event":"E","userId":"u"}`, "", "invalid_type", ""},
		{"type wrong kind", "track", `{"type":["track"],"event":"E","userId":"u"}`, "", "invalid_type", ""},
		{"writeKey only other member", "alias", `{"writeKey":"k","previousId":"p","userId":"u"}`, "", "", `{"type":"alias","previousId":"p","userId":"u"}`},
		{"writeKey last", "group", `{"groupId":"g","userId":"u","writeKey":"k"}`, "", "", `{"type":"group","groupId":"g","userId":"u"}`},
		{"empty object", "identify", `{}`, "", "missing_id", ""},
		{"only writeKey", "identify", `{"writeKey":"k"}`, "", "missing_id", ""},
		{"missing event", "track", `{"userId":"u"}`, "", "missing_event", ""},
		{"bad path type", "purchase", `{"userId":"u"}`, "invalid_type", "", ""},
		{"path type case", "Track", `{"userId":"u","event":"E"}`, "invalid_type", "", ""},
		{"array", "track", `[{"userId":"u"}]`, "not_an_object", "", ""},
		{"invalid json", "track", `{"userId":"u"`, "invalid_json", "", ""},
		{"empty", "track", ``, "invalid_json", "", ""},
		{"trailing", "track", `{"userId":"u","event":"E"}]`, "invalid_json", "", ""},
		{"writeKey number", "track", `{"userId":"u","event":"E","writeKey":5}`, "invalid_field", "", ""},
		{"too large", "track", `{"userId":"u","event":"E","properties":{"x":"` + strings.Repeat("a", MaxMessageBytes) + `"}}`, "too_large", "", ""},
		{"too large once typed", "track", `{"event":"E","userId":"u","p":"` + strings.Repeat("a", MaxMessageBytes-40) + `"}`, "", "too_large", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := ParseSingle(tt.typ, []byte(tt.body))
			if tt.batchErr != "" {
				var be *BatchError
				if !errors.As(err, &be) || be.Reason != tt.batchErr {
					t.Fatalf("got %v, want BatchError %s", err, tt.batchErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(b.Messages) != 1 {
				t.Fatalf("%d messages", len(b.Messages))
			}
			m := b.Messages[0]
			checkMessage(t, &m)
			if tt.msgErr != "" {
				if m.Err == nil || m.Err.Reason != tt.msgErr {
					t.Fatalf("message error %v, want %s", m.Err, tt.msgErr)
				}
				return
			}
			if m.Err != nil {
				t.Fatal(m.Err)
			}
			if m.Type != tt.typ {
				t.Errorf("Type = %q", m.Type)
			}
			if string(m.Raw) != tt.raw {
				t.Errorf("Raw\n got %s\nwant %s", m.Raw, tt.raw)
			}
		})
	}
	b, err := ParseSingle("track", []byte(`{"writeKey":"wk_1","event":"E","userId":"u","sentAt":"2024-05-01T00:00:00Z"}`))
	if err != nil {
		t.Fatal(err)
	}
	if b.WriteKey != "wk_1" || b.Messages[0].WriteKey != "wk_1" {
		t.Errorf("WriteKey = %q / %q", b.WriteKey, b.Messages[0].WriteKey)
	}
	if !b.SentAt.IsZero() || b.Messages[0].SentAt.IsZero() {
		t.Errorf("SentAt: batch %v message %v", b.SentAt, b.Messages[0].SentAt)
	}
}

// Payloads shaped like what the SDKs send.

// analytics.js (analytics-next) in its default mode: one call per request to /v1/t, /v1/p...,
// with writeKey, "userId": null for anonymous visitors, _metadata and a browser context.
const ajsTrack = `{"timestamp":"2024-05-01T09:15:27.343Z","integrations":{},"type":"track","properties":{"product_id":"507f1f77bcf86cd799439011","sku":"G-32","category":"Games","name":"Monopoly: 3rd Edition","brand":"Hasbro","variant":"200 pieces","price":18.99,"quantity":1,"coupon":"MAYDEALS","position":3,"url":"https://www.example.com/product/path","image_url":"https://www.example.com/product/path.jpg"},"event":"Product Added","messageId":"ajs-next-1714554927343-a1b2c3d4-5e6f-4a5b-8c9d-0e1f2a3b4c5d","anonymousId":"6f1d3c2b-9f5e-4a8b-b1c2-3d4e5f6a7b8c","context":{"page":{"path":"/product/monopoly","referrer":"https://www.google.com/","search":"?utm_source=google","title":"Monopoly – Example Store","url":"https://www.example.com/product/monopoly?utm_source=google"},"userAgent":"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36","userAgentData":{"brands":[{"brand":"Chromium","version":"124"},{"brand":"Google Chrome","version":"124"}],"mobile":false,"platform":"macOS"},"locale":"en-GB","library":{"name":"analytics.js","version":"next-1.70.0"},"campaign":{"source":"google"}},"userId":null,"writeKey":"Wk3yAbCdEf0123456789","sentAt":"2024-05-01T09:15:27.351Z","_metadata":{"bundled":["Segment.io"],"unbundled":[],"bundledIds":[]}}`

// analytics.js in batching mode posts to /v1/b: writeKey both per message and at the top, no
// per-message sentAt.
const ajsBatch = `{"writeKey":"Wk3yAbCdEf0123456789","batch":[{"timestamp":"2024-05-01T09:15:20.001Z","integrations":{},"type":"page","properties":{"path":"/","referrer":"","search":"","title":"Example Store","url":"https://www.example.com/"},"category":null,"name":null,"messageId":"ajs-next-1714554920001-0a1b","anonymousId":"6f1d3c2b-9f5e-4a8b-b1c2-3d4e5f6a7b8c","context":{"page":{"path":"/","referrer":"","search":"","title":"Example Store","url":"https://www.example.com/"},"userAgent":"Mozilla/5.0","locale":"en-GB","library":{"name":"analytics.js","version":"next-1.70.0"}},"userId":null,"writeKey":"Wk3yAbCdEf0123456789","_metadata":{"bundled":["Segment.io"],"unbundled":[],"bundledIds":[]}},{"timestamp":"2024-05-01T09:15:24.500Z","integrations":{},"type":"identify","traits":{"email":"ada@example.com","name":"Ada"},"messageId":"ajs-next-1714554924500-9f8e","anonymousId":"6f1d3c2b-9f5e-4a8b-b1c2-3d4e5f6a7b8c","userId":"user_8123","context":{"library":{"name":"analytics.js","version":"next-1.70.0"}},"writeKey":"Wk3yAbCdEf0123456789","_metadata":{"bundled":["Segment.io"],"unbundled":[],"bundledIds":[]}}],"sentAt":"2024-05-01T09:15:25.000Z"}`

// @segment/analytics-node posts to /v1/batch: {batch, writeKey, sentAt}.
const nodeBatch = `{"batch":[{"userId":"user_8123","event":"Order Completed","properties":{"order_id":"50314b8e9bcf000000000000","total":27.5,"revenue":25,"currency":"USD","products":[{"product_id":"507f1f77bcf86cd799439011","sku":"45790-32","name":"Monopoly: 3rd Edition","price":19,"quantity":1}]},"type":"track","context":{"library":{"name":"@segment/analytics-node","version":"2.1.2"}},"_metadata":{"nodeVersion":"20.12.2","jsRuntime":"node"},"timestamp":"2024-05-01T09:16:00.120Z","integrations":{},"messageId":"node-next-1714554960120-8c1f0a9e-2b3d-4e5f-8a9b-0c1d2e3f4a5b"},{"userId":"user_8123","groupId":"org_42","traits":{"name":"Acme","plan":"enterprise"},"type":"group","context":{"library":{"name":"@segment/analytics-node","version":"2.1.2"}},"_metadata":{"nodeVersion":"20.12.2","jsRuntime":"node"},"timestamp":"2024-05-01T09:16:00.130Z","integrations":{},"messageId":"node-next-1714554960130-1d2e"},{"previousId":"6f1d3c2b-9f5e-4a8b-b1c2-3d4e5f6a7b8c","userId":"user_8123","type":"alias","context":{"library":{"name":"@segment/analytics-node","version":"2.1.2"}},"_metadata":{"nodeVersion":"20.12.2","jsRuntime":"node"},"timestamp":"2024-05-01T09:16:00.140Z","integrations":{},"messageId":"node-next-1714554960140-3f4a"}],"writeKey":"NodeKey987","sentAt":"2024-05-01T09:16:01.002Z"}`

// A mobile SDK (analytics-ios classic style): originalTimestamp, basic-format offsets,
// numeric-looking ids, screen calls, device context.
const mobileBatch = `{"batch":[{"type":"screen","name":"Checkout","properties":{"step":2},"anonymousId":"A1B2C3D4-E5F6-4789-ABCD-0123456789AB","messageId":"F7E6D5C4-B3A2-4190-8F7E-6D5C4B3A2910","originalTimestamp":"2024-05-01T11:16:00.120+0200","timestamp":"2024-05-01T11:16:00.120+0200","context":{"app":{"name":"Shop","version":"4.2.0","build":"420"},"device":{"manufacturer":"Apple","model":"iPhone15,2","type":"ios"},"os":{"name":"iOS","version":"17.4.1"},"library":{"name":"analytics-ios","version":"4.1.8"},"network":{"wifi":true},"timezone":"Europe/Paris","locale":"fr-FR"},"integrations":{}},{"type":"identify","userId":8123,"traits":{"firstName":"Ada"},"messageId":"0C1D2E3F-4A5B-4C6D-8E9F-A0B1C2D3E4F5","originalTimestamp":"2024-05-01T11:16:01.000+02:00","context":{"library":{"name":"analytics-ios","version":"4.1.8"}}}],"sentAt":"2024-05-01T09:16:02.500Z"}`

func TestSDKPayloads(t *testing.T) {
	t.Run("analytics.js single track", func(t *testing.T) {
		b, err := ParseSingle(TypeTrack, []byte(ajsTrack))
		if err != nil {
			t.Fatal(err)
		}
		m := b.Messages[0]
		checkMessage(t, &m)
		if m.Err != nil {
			t.Fatal(m.Err)
		}
		if b.WriteKey != "Wk3yAbCdEf0123456789" || m.Event != "Product Added" || m.UserID != "" ||
			m.AnonymousID != "6f1d3c2b-9f5e-4a8b-b1c2-3d4e5f6a7b8c" ||
			m.MessageID != "ajs-next-1714554927343-a1b2c3d4-5e6f-4a5b-8c9d-0e1f2a3b4c5d" {
			t.Errorf("fields: %+v", m)
		}
		if !m.Timestamp.Equal(time.Date(2024, 5, 1, 9, 15, 27, 343e6, time.UTC)) || !m.SentAt.Equal(time.Date(2024, 5, 1, 9, 15, 27, 351e6, time.UTC)) {
			t.Errorf("times %v %v", m.Timestamp, m.SentAt)
		}
		// Only writeKey is gone; everything else is byte for byte.
		want := strings.Replace(ajsTrack, `"writeKey":"Wk3yAbCdEf0123456789",`, "", 1)
		if string(m.Raw) != want {
			t.Errorf("Raw\n got %s\nwant %s", m.Raw, want)
		}
		var lib struct {
			Library struct{ Name string } `json:"library"`
		}
		if err := json.Unmarshal(m.Context, &lib); err != nil || lib.Library.Name != "analytics.js" {
			t.Errorf("context.library: %v %+v", err, lib)
		}
	})
	t.Run("analytics.js batch", func(t *testing.T) {
		b, err := ParseBatch([]byte(ajsBatch))
		if err != nil {
			t.Fatal(err)
		}
		if b.WriteKey != "Wk3yAbCdEf0123456789" || len(b.Messages) != 2 {
			t.Fatalf("batch: %+v", b)
		}
		for i := range b.Messages {
			m := &b.Messages[i]
			checkMessage(t, m)
			if m.Err != nil {
				t.Fatalf("message %d: %v", i, m.Err)
			}
			if !m.SentAt.Equal(b.SentAt) || m.WriteKey != b.WriteKey {
				t.Errorf("message %d: SentAt %v WriteKey %q", i, m.SentAt, m.WriteKey)
			}
		}
		if m := b.Messages[0]; m.Type != TypePage || m.Name != "" {
			t.Errorf("page: %+v", m)
		}
		if m := b.Messages[1]; m.Type != TypeIdentify || m.UserID != "user_8123" || string(m.Traits) != `{"email":"ada@example.com","name":"Ada"}` {
			t.Errorf("identify: %+v", m)
		}
	})
	t.Run("analytics-node batch", func(t *testing.T) {
		b, err := ParseBatch([]byte(nodeBatch))
		if err != nil {
			t.Fatal(err)
		}
		if b.WriteKey != "NodeKey987" || len(b.Messages) != 3 {
			t.Fatalf("batch: %+v", b)
		}
		types := []string{TypeTrack, TypeGroup, TypeAlias}
		for i := range b.Messages {
			m := &b.Messages[i]
			checkMessage(t, m)
			if m.Err != nil {
				t.Fatalf("message %d: %v", i, m.Err)
			}
			if m.Type != types[i] || !strings.HasPrefix(m.MessageID, "node-next-") || m.Timestamp.IsZero() {
				t.Errorf("message %d: %+v", i, m)
			}
			if !bytes.Contains(m.Raw, []byte(`"_metadata":{"nodeVersion":"20.12.2","jsRuntime":"node"}`)) {
				t.Errorf("message %d lost _metadata: %s", i, m.Raw)
			}
		}
		if m := b.Messages[0]; m.Event != "Order Completed" || !bytes.HasPrefix(m.Properties, []byte(`{"order_id":`)) {
			t.Errorf("track: %+v", m)
		}
		if m := b.Messages[1]; m.GroupID != "org_42" {
			t.Errorf("group: %+v", m)
		}
		if m := b.Messages[2]; m.PreviousID != "6f1d3c2b-9f5e-4a8b-b1c2-3d4e5f6a7b8c" || m.UserID != "user_8123" {
			t.Errorf("alias: %+v", m)
		}
	})
	t.Run("mobile batch", func(t *testing.T) {
		b, err := ParseBatch([]byte(mobileBatch))
		if err != nil {
			t.Fatal(err)
		}
		for i := range b.Messages {
			m := &b.Messages[i]
			checkMessage(t, m)
			if m.Err != nil {
				t.Fatalf("message %d: %v", i, m.Err)
			}
		}
		m := b.Messages[0]
		want := time.Date(2024, 5, 1, 9, 16, 0, 120e6, time.UTC)
		if m.Type != TypeScreen || m.Name != "Checkout" || !m.OriginalTimestamp.Equal(want) || !m.Timestamp.Equal(want) {
			t.Errorf("screen: %+v", m)
		}
		if m := b.Messages[1]; m.UserID != "8123" || !m.OriginalTimestamp.Equal(time.Date(2024, 5, 1, 9, 16, 1, 0, time.UTC)) || m.SentAt.IsZero() {
			t.Errorf("identify: %+v", m)
		}
	})
}

func TestParseTimestamp(t *testing.T) {
	utc := func(y, mo, d, h, mi, s, ns int) time.Time {
		return time.Date(y, time.Month(mo), d, h, mi, s, ns, time.UTC)
	}
	good := []struct {
		in   string
		want time.Time
	}{
		{"2024-05-01T12:34:56Z", utc(2024, 5, 1, 12, 34, 56, 0)},
		{"2024-05-01T12:34:56.789Z", utc(2024, 5, 1, 12, 34, 56, 789e6)},
		{"2024-05-01T12:34:56.123456789Z", utc(2024, 5, 1, 12, 34, 56, 123456789)},
		{"2024-05-01T12:34:56.1234567891234Z", utc(2024, 5, 1, 12, 34, 56, 123456789)},
		{"2024-05-01T12:34:56,5Z", utc(2024, 5, 1, 12, 34, 56, 5e8)},
		{"2024-05-01t12:34:56z", utc(2024, 5, 1, 12, 34, 56, 0)},
		{"2024-05-01 12:34:56Z", utc(2024, 5, 1, 12, 34, 56, 0)},
		{"2024-05-01T12:34:56+02:00", utc(2024, 5, 1, 10, 34, 56, 0)},
		{"2024-05-01T12:34:56.1-05:30", utc(2024, 5, 1, 18, 4, 56, 1e8)},
		{"2024-05-01T12:34:56+0200", utc(2024, 5, 1, 10, 34, 56, 0)},
		{"2024-05-01T12:34:56+02", utc(2024, 5, 1, 10, 34, 56, 0)},
		{"2024-05-01T00:30:00+01:00", utc(2024, 4, 30, 23, 30, 0, 0)},
		{"2024-05-01T12:34:56", utc(2024, 5, 1, 12, 34, 56, 0)},
		{"2024-05-01T12:34", utc(2024, 5, 1, 12, 34, 0, 0)},
		{"2024-05-01T12:34Z", utc(2024, 5, 1, 12, 34, 0, 0)},
		{"2024-05-01", utc(2024, 5, 1, 0, 0, 0, 0)},
		{"2024-02-29T00:00:00Z", utc(2024, 2, 29, 0, 0, 0, 0)},
		{"2016-12-31T23:59:60Z", utc(2017, 1, 1, 0, 0, 0, 0)},
	}
	for _, g := range good {
		got, ok := parseTimestamp([]byte(g.in))
		if !ok || !got.Equal(g.want) || got.Location() != time.UTC {
			t.Errorf("%q: got %v %v, want %v", g.in, got, ok, g.want)
		}
	}
	bad := []string{
		"", "2024", "2024-05", "2024-5-1", "2024/05/01", "20240501", "2024-05-01T", "2024-05-01T12",
		"2024-05-01T12:3", "2024-05-01T12:34:5", "2024-05-01T12:34:56.", "2024-05-01T12:34:56.Z",
		"2024-00-01", "2024-13-01", "2023-02-29", "2024-04-31", "2024-05-00", "2024-05-01T24:00:00Z",
		"2024-05-01T12:60:00Z", "2024-05-01T12:34:61Z", "2024-05-01T12:34:56+24:00",
		"2024-05-01T12:34:56+02:60", "2024-05-01T12:34:56+2", "2024-05-01T12:34:56+02:0",
		"2024-05-01T12:34:56+02:000", "2024-05-01T12:34:56ZZ", "2024-05-01T12:34:56 Z",
		"2024-05-01X12:34:56Z", "+2024-05-01", "2024-05-01T12:34:56UTC", "１２３４-05-01",
		"2024-05-01T12:34:56.789Zjunk", "2024-05-01T-1:34:56Z",
	}
	for _, in := range bad {
		if got, ok := parseTimestamp([]byte(in)); ok {
			t.Errorf("%q: accepted as %v", in, got)
		}
	}
}

// TestScannerAgreesWithEncodingJSON checks the hand-written scanner against json.Valid on
// inputs chosen to hit every state; FuzzParseBatch does the same on random ones.
func TestScannerAgreesWithEncodingJSON(t *testing.T) {
	docs := []string{
		``, ` `, `{}`, `[]`, `[`, `]`, `{`, `}`, `{"a"}`, `{"a":}`, `{"a":1,}`, `[1,]`, `[,1]`, `{,}`,
		`{"a":1 "b":2}`, `[1 2]`, `{"a":1}}`, `[[[]]]`, `[[[]]`, `{"a":[{"b":{}}]}`, `{1:2}`,
		`"a"`, `"`, `"\"`, `"\\"`, `"\u12"`, `"\u12g4"`, `"\uD800"`, `"\uDC00\uD800"`, `"\a"`,
		"\"\x00\"", "\"\x1f\"", "\"\x7f\"", "\"\xff\"", "\"\xe2\x82\"", `"é"`,
		`0`, `-0`, `-`, `01`, `1.`, `.1`, `1.5`, `1e`, `1e+`, `1e+5`, `1E-5`, `-1.5e10`, `+1`, `0x10`,
		`1.5.5`, `Infinity`, `NaN`, `true`, `tru`, `truee`, `false`, `fals`, `null`, `nul`, `nulll`,
		` [ 1 , { "a" : null } ] `, "\t\r\n{}\n", `{"a":"b"}x`, `{} {}`, `[true false]`, `[-]`,
		`{"a":-}`, `{"a":tru}`, `{"a"  :  [  ]  }`, `[{}[]]`, `{"a":{}"b":1}`, "\u00a0{}",
	}
	for _, d := range docs {
		s := scanner{b: []byte(d)}
		err := s.whole()
		if got, want := err == nil, json.Valid([]byte(d)); got != want {
			t.Errorf("%q: scanner valid=%v (%v), encoding/json valid=%v", d, got, err, want)
		}
	}
}

func TestAppendUnquotedMatchesEncodingJSON(t *testing.T) {
	for _, lit := range []string{
		`"plain"`, `"a\"b\\c\/d\b\f\n\r\t"`, `"\u00e9\u4e2d"`, `"\ud83d\ude00"`, `"x\ud83dy"`,
		`"\ude00"`, `"\ud83d\u0041"`, `"\ud83d\ud83d\ude00"`, `"caf\u00E9 ok"`, `"\u0000"`,
	} {
		var want string
		if err := json.Unmarshal([]byte(lit), &want); err != nil {
			t.Fatal(err)
		}
		got, _ := appendUnquoted(nil, []byte(lit[1:len(lit)-1]))
		if string(got) != want {
			t.Errorf("%s: got %q, want %q", lit, got, want)
		}
	}
}

func TestErrorTypes(t *testing.T) {
	var err error = &BatchError{Reason: "too_large", Detail: "d"}
	if err.Error() != "segment: too_large: d" {
		t.Error(err)
	}
	err = &MessageError{Reason: "missing_id", Detail: "d"}
	if err.Error() != "segment: missing_id: d" {
		t.Error(err)
	}
}

func TestFieldsMatchEncodingJSON(t *testing.T) {
	// A decode of Raw with encoding/json into the obvious struct must agree with our fields,
	// for valid messages of every type.
	type want struct {
		Type        string          `json:"type"`
		MessageID   string          `json:"messageId"`
		UserID      any             `json:"userId"`
		AnonymousID any             `json:"anonymousId"`
		Event       string          `json:"event"`
		Properties  json.RawMessage `json:"properties"`
	}
	b, err := ParseBatch([]byte(nodeBatch))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range b.Messages {
		var w want
		if err := json.Unmarshal(m.Raw, &w); err != nil {
			t.Fatal(err)
		}
		got := want{m.Type, m.MessageID, m.UserID, nil, m.Event, m.Properties}
		w.AnonymousID = nil
		if w.UserID == nil {
			w.UserID = ""
		}
		if !reflect.DeepEqual(got, w) {
			t.Errorf("got %+v\nwant %+v", got, w)
		}
	}
}

func ExampleParseBatch() {
	b, err := ParseBatch([]byte(`{"writeKey":"wk","batch":[
		{"type":"track","event":"Order Completed","userId":"u1","properties":{"total":27.5}},
		{"type":"track","userId":"u1"}
	]}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, m := range b.Messages {
		if m.Err != nil {
			fmt.Println("rejected:", m.Err.Reason)
			continue
		}
		fmt.Printf("%s %q %s\n", m.Type, m.Event, m.Properties)
	}
	// Output:
	// track "Order Completed" {"total":27.5}
	// rejected: missing_event
}
