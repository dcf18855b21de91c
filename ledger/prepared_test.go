package ledger

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

// TestPreparedEncoding checks that a record spliced from a prepared act (Prepare, then the
// writer's record) is byte for byte what Record.Encode gives: the commitment is over these
// bytes, and verifiers re-encode records to compare them.
func TestPreparedEncoding(t *testing.T) {
	at := time.Date(2026, 12, 2, 18, 4, 5, 678912345, time.FixedZone("x", 3600))
	tests := []struct {
		name          string
		origin, brand string
		subject       string
		kind          string
		body          any
		n             int64
		prev          string
	}{
		{"first of a chain", "symbiont.example/ledger", "brd_abc", "sub_AAAA", "consent.given", map[string]any{"state": "given"}, 0, ""},
		{"later", "symbiont.example/ledger", "brd_abc", "sub_AAAA", "access.read",
			map[string]any{"categories": []string{"a", "b"}, "records": 5, "withheld": []string{}}, 41, "q83vEjRWeJA+/w=="},
		{"escapes", `o"<&>\` + "\u2028\x01", "b<&>\"", "s\\\t", "k<\u00e9>", json.RawMessage(` { "a" : "<&>" , "b":[1, 2] } `), 1 << 40, "AA=="},
		{"printable ASCII kind and subject", "o", "b", "sub_-Az09 <&>", "access.read <&>'/", map[string]any{"a": "<&>"}, 2, ""},
		{"raw body", "o", "b", "s", "consent.withdrawn", json.RawMessage(`{"receipt_id":"rcpt_x"}`), 7, "x/+="},
		{"invalid utf-8", "o\xff", "b", "s\xfe", "k\xc3", map[string]any{"v": "\xff"}, 3, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &Service{origin: tt.origin, opt: Options{Subject: func(int64, int64) string { return tt.subject }}}
			p, err := s.Prepare(Act{BrandID: 1, ConsumerID: 2, Kind: tt.kind, At: at, Body: tt.body})
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.record(p, tt.brand, tt.n, tt.prev)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := json.Marshal(tt.body)
			r := Record{Version: Version, Log: tt.origin, Brand: tt.brand, Subject: tt.subject, N: tt.n, Prev: tt.prev,
				Kind: tt.kind, At: at.UTC().Truncate(time.Millisecond), Body: body}
			want, err := r.Encode()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("spliced record differs:\n got %s\nwant %s", got, want)
			}
			if !p.at.Equal(r.At) || len(p.salt) != 32 {
				t.Fatalf("at %v salt %d", p.at, len(p.salt))
			}
			// The brand's head is cached: a second record of the brand is the same.
			again, _ := s.record(p, tt.brand, tt.n, tt.prev)
			if !bytes.Equal(again, want) {
				t.Fatalf("second record differs: %s", again)
			}
		})
	}
}
