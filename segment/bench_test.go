package segment

import (
	"fmt"
	"strings"
	"testing"
)

// orderCompleted returns an "Order Completed" track event as @segment/analytics-node sends it
// (about 1.3 KB, the size of a typical e-commerce event).
func orderCompleted(i int) string {
	return fmt.Sprintf(`{"userId":"user_%d","event":"Order Completed","properties":{"checkout_id":"fksdjfsdjfisjf9sdfjsd9f","order_id":"50314b8e9bcf%012d","affiliation":"Google Store","total":27.50,"subtotal":22.50,"revenue":25.00,"shipping":3,"tax":2,"discount":2.5,"coupon":"hasbros","currency":"USD","products":[{"product_id":"507f1f77bcf86cd799439011","sku":"45790-32","name":"Monopoly: 3rd Edition","price":19,"quantity":1,"category":"Games","url":"https://www.example.com/product/path","image_url":"https:///www.example.com/product/path.jpg"},{"product_id":"505bd76785ebb509fc183733","sku":"46493-32","name":"Uno Card Game","price":3,"quantity":2,"category":"Games"}]},"type":"track","context":{"library":{"name":"@segment/analytics-node","version":"2.1.2"},"ip":"203.0.113.7","userAgent":"Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1","locale":"en-US","timezone":"America/New_York"},"_metadata":{"nodeVersion":"20.12.2","jsRuntime":"node"},"timestamp":"2024-05-01T09:16:00.%03dZ","integrations":{},"messageId":"node-next-1714554960120-8c1f0a9e-2b3d-4e5f-8a9b-%012d"}`, i, i, i%1000, i)
}

func orderBatch(n int) []byte {
	msgs := make([]string, n)
	for i := range msgs {
		msgs[i] = orderCompleted(i)
	}
	return []byte(`{"batch":[` + strings.Join(msgs, ",") + `],"writeKey":"NodeKey987","sentAt":"2024-05-01T09:16:01.002Z"}`)
}

func BenchmarkParseBatch(b *testing.B) {
	const n = 100
	body := orderBatch(n)
	if len(body) > MaxBatchBytes {
		b.Fatalf("benchmark body is %d bytes", len(body))
	}
	if bt, err := ParseBatch(body); err != nil || len(bt.Messages) != n || bt.Messages[n-1].Err != nil {
		b.Fatalf("setup: %v", err)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseBatch(body); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/msg")
}

func BenchmarkParseSingle(b *testing.B) {
	body := []byte(ajsTrack)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseSingle(TypeTrack, body); err != nil {
			b.Fatal(err)
		}
	}
}
