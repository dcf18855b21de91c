package api

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/symbiont/symbiont/segment"
)

// BenchmarkReadIngestBody is the cost of reading an ingestion body, plain and gzip-compressed
// (what RudderStack's SDKs send), for a 100-event batch and for one just under the 500 KB limit. The
// gzip figures include inflating; b.SetBytes counts decoded bytes.
//
//	go test -run '^$' -bench ReadIngestBody -benchmem ./api/
func BenchmarkReadIngestBody(b *testing.B) {
	msg := `{"type":"track","userId":"guest-%d","event":"Order Completed","messageId":"m-%d","properties":{"sku":"SKU-%d","revenue":12.5,"currency":"EUR"},"context":{"library":{"name":"analytics-node","version":"3.0.13"}},"channel":"server","originalTimestamp":"2026-11-01T08:00:00.000Z"}`
	batch := func(n int) []byte {
		var msgs []string
		for i := range n {
			msgs = append(msgs, fmt.Sprintf(msg, i, i, i))
		}
		return []byte(`{"batch":[` + strings.Join(msgs, ",") + `]}`)
	}
	n := segment.MaxBatchBytes / (len(batch(1)) + 1)
	for len(batch(n)) > segment.MaxBatchBytes {
		n--
	}
	full := batch(n)
	for _, c := range []struct {
		name string
		body []byte
	}{{"100events", batch(100)}, {"limit", full}} {
		var zb bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&zb, gzip.BestSpeed) // as RudderStack's Go SDK
		zw.Write(c.body)
		zw.Close()
		for _, enc := range []struct {
			name, coding string
			wire         []byte
		}{{"identity", "", c.body}, {"gzip", "gzip", zb.Bytes()}} {
			b.Run(c.name+"/"+enc.name, func(b *testing.B) {
				b.SetBytes(int64(len(c.body)))
				b.ReportAllocs()
				rd := bytes.NewReader(nil)
				r := httptest.NewRequest("POST", "/v1/batch", nil)
				if enc.coding != "" {
					r.Header.Set("Content-Encoding", enc.coding)
				}
				w := httptest.NewRecorder()
				for b.Loop() {
					rd.Reset(enc.wire)
					r.Body, r.ContentLength = readCloser{rd}, int64(len(enc.wire))
					if got, err := readIngestBody(w, r, segment.MaxBatchBytes); err != nil || len(got) != len(c.body) {
						b.Fatalf("read %d bytes, %v", len(got), err)
					}
				}
				b.ReportMetric(float64(len(enc.wire)), "wire-bytes")
			})
		}
	}
}

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }
