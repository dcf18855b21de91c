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

// TestPrepareAll checks that acts prepared together (AppendAll: a bulk read's entries sharing
// one encoded body, whose tail is encoded once) give each the record it gets prepared alone,
// with a salt of its own.
func TestPrepareAll(t *testing.T) {
	at := time.Date(2026, 12, 2, 18, 4, 5, 678912345, time.UTC)
	s := &Service{origin: "o", opt: Options{Subject: func(b, c int64) string { return "sub_" + string(rune('a'+c)) }}}
	body, _ := json.Marshal(map[string]any{"action": "train", "model": "recs-v1"})
	other, _ := json.Marshal(map[string]any{"action": "train", "model": "recs-v1", "records": 3})
	acts := []Act{
		{BrandID: 1, ConsumerID: 1, Kind: "access.train", At: at, Body: EncodedBody(body)},
		{BrandID: 1, ConsumerID: 2, Kind: "access.train", At: at, Body: EncodedBody(body)},
		{BrandID: 1, ConsumerID: 3, Kind: "access.train", At: at, Body: EncodedBody(other)},
		{BrandID: 1, ConsumerID: 4, Kind: "access.train", At: at.Add(time.Second), Body: EncodedBody(other)},
		{BrandID: 1, ConsumerID: 5, Kind: "access.read", At: at.Add(time.Second), Body: EncodedBody(other)},
		{BrandID: 1, ConsumerID: 6, Kind: "access.read", At: at.Add(time.Second), Body: map[string]any{"action": "read"}},
		{BrandID: 1, ConsumerID: 7, Kind: "access.read", At: at.Add(time.Second), Body: map[string]any{"action": "read"}},
	}
	ps, err := s.prepareAll(acts)
	if err != nil {
		t.Fatal(err)
	}
	salts := map[string]bool{}
	for i, a := range acts {
		alone, err := s.Prepare(a)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := s.record(ps[i], "b", 3, "AA==")
		want, _ := s.record(alone, "b", 3, "AA==")
		if !bytes.Equal(got, want) {
			t.Errorf("act %d prepared with others:\n got %s\nwant %s", i, got, want)
		}
		if ps[i].consumerID != a.ConsumerID || ps[i].brandID != a.BrandID || !ps[i].at.Equal(alone.at) || len(ps[i].salt) != 32 || salts[string(ps[i].salt)] {
			t.Errorf("act %d: consumer %d brand %d at %v salt %x", i, ps[i].consumerID, ps[i].brandID, ps[i].at, ps[i].salt)
		}
		salts[string(ps[i].salt)] = true
	}
}
