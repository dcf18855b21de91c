package recommendation

import (
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"

	"gonum.org/v1/gonum/mat"
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

// plantedLarge is Planted's kind of feedback for catalogues too large for Planted's linear
// draws (it is O(items) a draw): users × perUser interactions over items, clusters of
// items/clusters items, share inCluster of each user's items from their own cluster, the
// rest uniform over the catalogue, popularity skewed within each cluster (Zipf-like by
// rank, by inverse-transform sampling).
func plantedLarge(users, items, clusters, perUser int, inCluster float64, seed uint64) *Interactions {
	rng := rand.New(rand.NewPCG(seed, seed+1))
	size := items / clusters
	cum := make([]float64, size) // cumulative weights of an item's rank in its cluster
	var total float64
	for r := range size {
		total += 1 / math.Pow(float64(r+1), 0.8)
		cum[r] = total
	}
	x := &Interactions{Items: items, Users: make([][]int, users)}
	for u := range users {
		c := u % clusters
		h := make([]int, 0, perUser)
		for tries := 0; len(h) < perUser && tries < perUser*20; tries++ {
			var i int
			if rng.Float64() < inCluster {
				r, _ := slices.BinarySearch(cum, rng.Float64()*total)
				i = c + clusters*min(r, size-1)
			} else {
				i = rng.IntN(items)
			}
			if !slices.Contains(h, i) {
				h = append(h, i)
			}
		}
		x.Users[u] = h
	}
	return x
}

// BenchmarkTrainALS50K trains ALS (k = 64, 10 sweeps, the defaults) on 1,000,000 interactions over 50,000
// items (100,000 users of 10 items each, 500 planted clusters), the training floor
// for the catalogue EASE cannot hold (≤ 60 s). It reports the heap in use after training.
func BenchmarkTrainALS50K(b *testing.B) {
	x := plantedLarge(100000, 50000, 500, 10, 0.8, 3)
	b.ReportMetric(float64(x.Count()), "interactions")
	for b.Loop() {
		m, err := TrainALS(x, ALSConfig{})
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

// BenchmarkALSServe50K is a request's work on a 50,000-item catalogue at k = 64: the fold-in
// of a 50-item history alone (the k × k system and its Cholesky solve), and the fold-in with
// the scores of every item (Y·u, one matrix-vector product). The factors are random: the
// cost does not depend on their values.
func BenchmarkALSServe50K(b *testing.B) {
	const items, k = 50000, DefaultALSFactors
	rng := rand.New(rand.NewPCG(1, 2))
	y := mat.NewDense(items, k, nil)
	for i, raw := 0, y.RawMatrix().Data; i < len(raw); i++ {
		raw[i] = rng.NormFloat64() / 8
	}
	m, err := newALS(y, DefaultALSLambda, DefaultALSAlpha, 1)
	if err != nil {
		b.Fatal(err)
	}
	history := make([]int, 50)
	for j := range history {
		history[j] = rng.IntN(items)
	}
	b.Run("fold-in", func(b *testing.B) {
		for b.Loop() {
			items, _ := m.window(history)
			m.work.Put(m.foldIn(items))
		}
	})
	b.Run("fold-in+score", func(b *testing.B) {
		out := make([]float64, items)
		for b.Loop() {
			m.Score(history, out)
		}
	})
	b.Run("explain", func(b *testing.B) {
		out := make([]float64, len(history))
		for b.Loop() {
			m.Explain(history, 7, out)
		}
	})
	b.Run("similar", func(b *testing.B) {
		for b.Loop() {
			m.Similar(7, 20)
		}
	})
}
