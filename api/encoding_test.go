package api_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/symbiont/symbiont/segment"
)

// gz gzip-compresses b.
func gz(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

// bomb is a gzip stream of about 100 KB that inflates to 100 MB of zeros: deflate cannot do
// better than about 1:1000, so this is as small as a 100 MB bomb gets. Built once.
var bomb = sync.OnceValue(func() []byte {
	var buf bytes.Buffer
	w, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	w.Write([]byte(`{"batch":[],"pad":"`))
	zeros := make([]byte, 1<<20)
	for range 100 {
		w.Write(zeros)
	}
	w.Close()
	return buf.Bytes()
})

// TestIngestGzip: every ingestion endpoint, long and short, takes a gzip body (Content-Encoding
// gzip, x-gzip, any case, with identity around it), and what it stores is the decoded message
// byte for byte, as if it had been sent uncompressed.
func TestIngestGzip(t *testing.T) {
	e := newEnv(t)
	b := e.setup("Aurora")
	e.grant(b, "guest-1", "purchases", "personalization")
	e.grant(b, "guest-1", "contact", "personalization")
	bodies := map[string]string{
		"batch":    `{"batch":[{"type":"track","userId":"guest-1","event":"Order Completed","messageId":"$ID","properties":{"sku":"酒店-1","n":1.50},"channel":"server","rudderId":"r-1","originalTimestamp":"2026-11-01T08:00:00.123Z","sentAt":"2026-11-01T08:00:01Z"}],"sentAt":"2026-11-01T08:00:01Z","timestamp":"2026-11-01T08:00:01Z"}`,
		"track":    `{"userId":"guest-1","event":"Order Completed","messageId":"$ID","properties":{"sku":"B"},"context":{"library":{"name":"analytics-go","version":"4.2.2"}}}`,
		"identify": `{"userId":"guest-1","messageId":"$ID","traits":{"email":"mei@example.com"}}`,
		"page":     `{"userId":"guest-1","messageId":"$ID","name":"Home"}`,
		"screen":   `{"userId":"guest-1","messageId":"$ID","name":"Booking"}`,
		"alias":    `{"userId":"guest-1","previousId":"anon-9","messageId":"$ID"}`,
		"group":    `{"userId":"guest-1","groupId":"g-1","messageId":"$ID"}`,
	}
	long := map[string]string{"b": "batch", "t": "track", "i": "identify", "p": "page", "s": "screen", "a": "alias", "g": "group"}
	codings := []string{"gzip", "x-gzip", "GZIP", "identity, gzip", " gzip ", "gzip, identity"}
	for i, p := range ingestPaths {
		name := strings.TrimPrefix(p, "/v1/")
		if l, ok := long[name]; ok {
			name = l
		}
		id := "gz-" + strings.TrimPrefix(p, "/v1/")
		body := strings.ReplaceAll(bodies[name], "$ID", id)
		coding := codings[i%len(codings)]
		r := e.do("POST", p, "", gz([]byte(body)), basic(b.PK), header("Content-Encoding", coding))
		if r.Status != 200 {
			t.Fatalf("%s with Content-Encoding %q: status %d: %s", p, coding, r.Status, r.Body)
		}
		res := r.json(t)
		if res["success"] != true || len(dropped(res)) != 0 && name != "page" && name != "screen" && name != "group" {
			t.Fatalf("%s: %s", p, r.Body)
		}
	}
	// Two gzip members, one body: decoded as gunzip does.
	half := `{"batch":[{"type":"track","userId":"guest-1","event":"Order Completed",`
	multi := append(gz([]byte(half)), gz([]byte(`"messageId":"gz-multi","properties":{"sku":"M"}}]}`))...)
	if r := e.do("POST", "/v1/batch", "", multi, basic(b.PK), header("Content-Encoding", "gzip")); r.Status != 200 || num(r.json(t)["accepted"]) != 1 {
		t.Fatalf("multistream gzip: %d %s", r.Status, r.Body)
	}
	// A gzip body of unknown length (chunked transfer encoding).
	chunked := func(r *http.Request) { r.ContentLength, r.Body = -1, io.NopCloser(r.Body) }
	body := gz([]byte(strings.ReplaceAll(bodies["track"], "$ID", "gz-chunked")))
	if r := e.do("POST", "/v1/track", "", body, basic(b.PK), header("Content-Encoding", "gzip"), chunked); r.Status != 200 || num(r.json(t)["accepted"]) != 1 {
		t.Fatalf("chunked gzip: %d %s", r.Status, r.Body)
	}
	// identity is no encoding.
	plain := strings.ReplaceAll(bodies["track"], "$ID", "plain-identity")
	if r := e.do("POST", "/v1/track", "", plain, basic(b.PK), header("Content-Encoding", "identity")); r.Status != 200 || num(r.json(t)["accepted"]) != 1 {
		t.Fatalf("identity: %d %s", r.Status, r.Body)
	}

	// Stored exactly as decoded, unknown fields (RudderStack's channel, rudderId,
	// originalTimestamp, sentAt) included.
	d := e.must(200, "GET", "/v1/consumers/guest-1/data?purpose=personalization&categories=purchases", b.SK, nil)
	stored := map[string]any{}
	for _, m := range d["data"].(map[string]any)["purchases"].([]any) {
		stored[m.(map[string]any)["messageId"].(string)] = m
	}
	var batch struct {
		Batch []any `json:"batch"`
	}
	json.Unmarshal([]byte(strings.ReplaceAll(bodies["batch"], "$ID", "gz-batch")), &batch)
	var single map[string]any
	json.Unmarshal([]byte(strings.ReplaceAll(bodies["track"], "$ID", "gz-t")), &single)
	single["type"] = "track"
	for id, want := range map[string]any{"gz-batch": batch.Batch[0], "gz-b": nil, "gz-t": single, "gz-multi": nil, "gz-chunked": nil, "plain-identity": nil} {
		got := stored[id]
		if got == nil {
			t.Errorf("%s not stored; stored: %v", id, stored)
		} else if want != nil && !reflect.DeepEqual(got, want) {
			t.Errorf("%s stored as %s, sent %s", id, mustJSON(got), mustJSON(want))
		}
	}
	if n := len(stored); n != 7 { // batch, b, track, t, multi, chunked, identity
		t.Errorf("%d purchases stored, want 7: %v", n, stored)
	}
	// The identify through /v1/i and /v1/identify stored the contact trait.
	c := e.must(200, "GET", "/v1/consumers/guest-1/data?purpose=personalization&categories=contact", b.SK, nil)
	if n := len(c["data"].(map[string]any)["contact"].([]any)); n != 2 {
		t.Errorf("%d identify parts stored, want 2: %v", n, c)
	}
}

// TestIngestBadEncoding: whatever a broken SDK sends as a compressed body gets a JSON error
// with the right status and reason, and changes nothing.
func TestIngestBadEncoding(t *testing.T) {
	e := newEnv(t)
	b := e.setup("Aurora")
	e.grant(b, "guest-1", "purchases", "personalization")
	wt := e.wallet(b, "guest-1")
	e.batch(b, track("guest-1", "Order Completed", map[string]any{"sku": "before"}))

	ok := []byte(`{"batch":[{"type":"track","userId":"guest-1","event":"Order Completed","messageId":"bad-1"}]}`)
	okGz := gz(ok)
	flip := func(b []byte, i int) []byte {
		c := bytes.Clone(b)
		c[(i+len(c))%len(c)] ^= 0xff
		return c
	}
	big := gz([]byte(`{"batch":[],"pad":"` + strings.Repeat("x", segment.MaxBatchBytes) + `"}`))
	bigEvent := gz([]byte(`{"userId":"guest-1","event":"Order Completed","properties":{"pad":"` + strings.Repeat("x", segment.MaxMessageBytes) + `"}}`))
	// 30,000 empty gzip members: 600 KB on the wire that inflate to nothing.
	empties := bytes.Repeat(gz(nil), 30000)

	cases := []struct {
		name, path, coding string
		body               []byte
		status             int
		code, reason       string
	}{
		{"brotli", "/v1/batch", "br", okGz, 415, "unsupported_media_type", ""},
		{"deflate", "/v1/batch", "deflate", okGz, 415, "unsupported_media_type", ""},
		{"compress", "/v1/track", "compress", okGz, 415, "unsupported_media_type", ""},
		{"zstd", "/v1/t", "zstd", okGz, 415, "unsupported_media_type", ""},
		{"stacked gzip", "/v1/batch", "gzip, gzip", gz(okGz), 415, "unsupported_media_type", ""},
		{"gzip then br", "/v1/batch", "gzip, br", okGz, 415, "unsupported_media_type", ""},
		{"unknown token", "/v1/b", "gzip;q=1", okGz, 415, "unsupported_media_type", ""},
		{"gzip header, plain JSON", "/v1/batch", "gzip", ok, 400, "invalid", "invalid_gzip"},
		{"gzip header, empty body", "/v1/batch", "gzip", nil, 400, "invalid", "invalid_gzip"},
		{"truncated stream", "/v1/batch", "gzip", okGz[:len(okGz)-12], 400, "invalid", "invalid_gzip"},
		{"header only", "/v1/track", "gzip", okGz[:10], 400, "invalid", "invalid_gzip"},
		{"bad CRC", "/v1/batch", "gzip", flip(okGz, -8), 400, "invalid", "invalid_gzip"},
		{"bad length", "/v1/batch", "gzip", flip(okGz, -1), 400, "invalid", "invalid_gzip"},
		{"corrupt deflate data", "/v1/batch", "gzip", flip(okGz, 12), 400, "invalid", "invalid_gzip"},
		{"bad magic", "/v1/batch", "gzip", flip(okGz, 0), 400, "invalid", "invalid_gzip"},
		{"trailing garbage", "/v1/batch", "gzip", append(bytes.Clone(okGz), "garbage after the stream"...), 400, "invalid", "invalid_gzip"},
		{"one trailing byte", "/v1/batch", "gzip", append(bytes.Clone(okGz), 0), 400, "invalid", "invalid_gzip"},
		{"empty gzip stream", "/v1/batch", "gzip", gz(nil), 400, "invalid", "invalid_json"},
		{"gzip of invalid JSON", "/v1/batch", "gzip", gz([]byte(`{"batch":[`)), 400, "invalid", "invalid_json"},
		{"gzip of not a batch", "/v1/batch", "gzip", gz([]byte(`[]`)), 400, "invalid", "not_a_batch"},
		{"batch over 500 KB decoded", "/v1/batch", "gzip", big, 413, "too_large", "too_large"},
		{"event over 32 KB decoded", "/v1/track", "gzip", bigEvent, 413, "too_large", "too_large"},
		{"bomb: 100 MB decoded", "/v1/batch", "gzip", bomb(), 413, "too_large", "too_large"},
		{"bomb on a single-event path", "/v1/i", "x-gzip", bomb(), 413, "too_large", "too_large"},
		{"endless empty members", "/v1/batch", "gzip", empties, 413, "too_large", "too_large"},
	}
	before := snapshot(e, b, wt)
	data := func() string {
		return mustJSON(e.must(200, "GET", "/v1/consumers/guest-1/data?purpose=personalization", b.SK, nil)["data"])
	}
	dataBefore := data()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var body any = c.body
			if c.body == nil {
				body = []byte{}
			}
			start := time.Now()
			r := e.do("POST", c.path, "", body, basic(b.PK), header("Content-Encoding", c.coding))
			t.Logf("%d bytes on the wire: %d in %v", len(c.body), r.Status, time.Since(start).Round(time.Microsecond))
			if r.Status != c.status {
				t.Fatalf("status %d, want %d: %s", r.Status, c.status, r.Body)
			}
			if got := r.errCode(t); got != c.code {
				t.Fatalf("code %q, want %q: %s", got, c.code, r.Body)
			}
			details, _ := r.json(t)["error"].(map[string]any)["details"].(map[string]any)
			if c.reason != "" && details["reason"] != c.reason {
				t.Fatalf("reason %v, want %q: %s", details["reason"], c.reason, r.Body)
			}
			if c.status == 415 {
				if got := r.Header.Get("Accept-Encoding"); got != "gzip, identity" {
					t.Errorf("a 415 answers Accept-Encoding %q, want the accepted codings", got)
				}
				if !reflect.DeepEqual(details["accepted"], []any{"gzip", "identity"}) {
					t.Errorf("details.accepted = %v", details["accepted"])
				}
			}
		})
	}
	if after := snapshot(e, b, wt); after != before {
		t.Fatalf("bad bodies changed state:\nbefore %s\nafter  %s", before, after)
	}
	if after := data(); after != dataBefore {
		t.Fatalf("bad bodies stored events:\nbefore %s\nafter  %s", dataBefore, after)
	}
}

// TestIngestPreflightAllowsEncoding: a browser SDK that gzips (or sends RudderStack's
// AnonymousId header) passes the CORS preflight.
func TestIngestPreflightAllowsEncoding(t *testing.T) {
	e := newEnv(t)
	for _, p := range []string{"/v1/batch", "/v1/t"} {
		r := e.do("OPTIONS", p, "", nil, header("Origin", "https://shop.example"), header("Access-Control-Request-Method", "POST"),
			header("Access-Control-Request-Headers", "content-encoding, anonymousid"))
		if r.Status != http.StatusNoContent {
			t.Fatalf("%s preflight: %d", p, r.Status)
		}
		allow := strings.ToLower(r.Header.Get("Access-Control-Allow-Headers"))
		for _, h := range []string{"content-encoding", "anonymousid", "authorization", "content-type"} {
			if !strings.Contains(allow, h) {
				t.Errorf("%s preflight does not allow %s: %q", p, h, allow)
			}
		}
	}
}

// TestIngestBombCostsLittle: a 100 KB gzip bomb that would inflate to 100 MB is answered 413
// after reading at most the limit, so the whole request (client and server, measured by the
// process's allocation counter) allocates a few megabytes; inflating it in full would take
// over 100 MB. No timing is asserted; the time is logged.
func TestIngestBombCostsLittle(t *testing.T) {
	e := newEnv(t)
	b := e.setup("Aurora")
	body := bomb()
	e.do("POST", "/v1/batch", "", body, basic(b.PK), header("Content-Encoding", "gzip")) // warm the pools
	var before, after runtime.MemStats
	const runs = 5
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	for range runs {
		if r := e.do("POST", "/v1/batch", "", body, basic(b.PK), header("Content-Encoding", "gzip")); r.Status != 413 {
			t.Fatalf("bomb: %d %s", r.Status, r.Body)
		}
	}
	elapsed := time.Since(start)
	runtime.ReadMemStats(&after)
	perRequest := (after.TotalAlloc - before.TotalAlloc) / runs
	t.Logf("a %d-byte bomb (100 MB inflated): %d bytes allocated and %v a request", len(body), perRequest, elapsed/runs)
	if perRequest > 16<<20 {
		t.Fatalf("a bomb request allocated %d bytes: the body is being inflated beyond the limit", perRequest)
	}
}
