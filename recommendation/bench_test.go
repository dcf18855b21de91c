package recommendation

import (
	"runtime"
	"testing"
)

// BenchmarkTrainEASE5K trains EASE on 1,000,000 interactions over 5,000 items (40,000 users
// of 25 items each, planted clusters), the training floor (≤ 60 s). It reports the
// heap in use after training (the model and what is kept alive with it).
func BenchmarkTrainEASE5K(b *testing.B) {
	x := Planted(40000, 5000, 50, 25, 0.8, 3)
	b.ReportMetric(float64(x.Count()), "interactions")
	for b.Loop() {
		m, err := TrainEASE(x, 350)
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MiB")
		runtime.KeepAlive(m)
	}
}
