package recommendation

import (
	"math"
	"slices"
	"strings"
	"testing"
)

// On feedback with planted clusters ALS beats popularity by a clear margin on the protocol,
// as EASE does (TestPlantedStructure).
func TestALSPlantedStructure(t *testing.T) {
	x := Planted(800, 300, 10, 25, 0.85, 2026)
	train, test := Split(x, 0.2, 1)
	m, err := TrainALS(train, ALSConfig{Factors: 16})
	if err != nil {
		t.Fatal(err)
	}
	a, p := Evaluate(m, train, test, 10), Evaluate(TrainPopularity(train), train, test, 10)
	t.Logf("ALS %+v; popularity %+v", a, p)
	if a.NDCG < 2*p.NDCG || a.Recall < 2*p.Recall {
		t.Errorf("ALS NDCG@10 %.4f, recall %.4f; popularity %.4f, %.4f: want ALS at least twice as good", a.NDCG, a.Recall, p.NDCG, p.Recall)
	}
	if a.Coverage <= p.Coverage {
		t.Errorf("ALS covers %.3f of the catalogue, popularity %.3f: want more", a.Coverage, p.Coverage)
	}
}

// clusterOf is Planted's cluster of an item.
func clusterOf(item, clusters int) int { return item % clusters }

// Fold-in at request time: a user of one cluster who interacts with an item of another gets,
// on the next scoring and without retraining, that other cluster's items ranked higher.
func TestALSFoldInReacts(t *testing.T) {
	const clusters = 6
	x := Planted(600, 180, clusters, 20, 0.9, 5)
	m, err := TrainALS(x, ALSConfig{Factors: 12})
	if err != nil {
		t.Fatal(err)
	}
	history := slices.Clone(x.Users[0]) // user 0 is of cluster 0
	var other int                       // an item of cluster 3 the user does not have
	for i := 3; ; i += clusters {
		if !slices.Contains(history, i) {
			other = i
			break
		}
	}
	before, after := make([]float64, x.Items), make([]float64, x.Items)
	m.Score(history, before)
	m.Score(append(history, other), after)
	// The mean score of cluster 3's items (other left out) rises against cluster 0's.
	gain := func(c int) float64 {
		var s float64
		var n int
		for i := c; i < x.Items; i += clusters {
			if i != other {
				s += after[i] - before[i]
				n++
			}
		}
		return s / float64(n)
	}
	if g3, g0 := gain(3), gain(0); !(g3 > 0 && g3 > g0) {
		t.Errorf("after an item of cluster 3, cluster 3's items moved by %.4f, cluster 0's by %.4f: want cluster 3 up and more", g3, g0)
	}
	// Repeats and unknown items do not count; an empty history scores zero.
	again := make([]float64, x.Items)
	m.Score(append(append(history, other), other, -1, x.Items), again)
	if !slices.Equal(again, after) {
		t.Error("a repeated or out-of-range item changed the scores")
	}
	m.Score(nil, again)
	if slices.ContainsFunc(again, func(v float64) bool { return v != 0 }) {
		t.Error("an empty history has non-zero scores")
	}
}

// Explain's shares sum to the score: with Wᵘ = (YᵀCᵘY + λI)⁻¹, the fold-in's user factors are
// u = Wᵘ·Σ_j c_uj y_j, so ŷ_ui = y_iᵀu = Σ_j (y_iᵀWᵘy_j)·c_uj exactly; the test asks for it to
// rounding: 1e-5 relative, as scores are computed in single precision (the shares in double). The item's own cluster mates in the history carry most of it.
func TestALSExplainSumsToScore(t *testing.T) {
	const clusters = 5
	x := Planted(400, 100, clusters, 15, 0.85, 8)
	m, err := TrainALS(x, ALSConfig{Factors: 10, Lambda: 2, Alpha: 15})
	if err != nil {
		t.Fatal(err)
	}
	scores := make([]float64, x.Items)
	for u := range 20 {
		history := x.Users[u]
		m.Score(history, scores)
		share := make([]float64, len(history))
		for _, item := range Top(scores, 5, nil) {
			m.Explain(history, item, share)
			var sum float64
			for _, s := range share {
				sum += s
			}
			if math.Abs(sum-scores[item]) > 1e-5*math.Max(1, math.Abs(scores[item])) {
				t.Fatalf("user %d, item %d: shares sum to %.12f, score %.12f", u, item, sum, scores[item])
			}
		}
	}
	// A repeated history item gets no share of its own; the sum still holds.
	history := append(slices.Clone(x.Users[0]), x.Users[0][0])
	m.Score(history, scores)
	share := make([]float64, len(history))
	m.Explain(history, 1, share)
	var sum float64
	for _, s := range share {
		sum += s
	}
	if share[len(share)-1] != 0 || math.Abs(sum-scores[1]) > 1e-5*math.Max(1, math.Abs(scores[1])) {
		t.Errorf("with a repeat: shares %v sum to %g, score %g", share, sum, scores[1])
	}
}

// Similar finds items of the same planted cluster.
func TestALSSimilar(t *testing.T) {
	const clusters = 6
	x := Planted(600, 180, clusters, 20, 0.9, 5)
	m, err := TrainALS(x, ALSConfig{Factors: 12})
	if err != nil {
		t.Fatal(err)
	}
	same, total := 0, 0
	for item := range 30 {
		sim := m.Similar(item, 5)
		if len(sim) != 5 || slices.Contains(sim, item) {
			t.Fatalf("Similar(%d, 5) = %v", item, sim)
		}
		for _, j := range sim {
			total++
			if clusterOf(j, clusters) == clusterOf(item, clusters) {
				same++
			}
		}
	}
	if share := float64(same) / float64(total); share < 0.8 {
		t.Errorf("%.2f of the neighbours are of the item's cluster, want at least 0.8", share)
	}
	if m.Similar(-1, 3) != nil || m.Similar(x.Items, 3) != nil {
		t.Error("neighbours of an item out of range")
	}
}

// A fold-in is the user half of a training sweep against the trained Y: its factors solve the
// normal equations (YᵀCᵘY + λI)u = YᵀCᵘp(u), checked here summed over every item the slow way
// (Cᵘ is 1 + α on the history, 1 elsewhere), to rounding.
func TestALSFoldInSolvesNormalEquations(t *testing.T) {
	x := Planted(100, 40, 4, 10, 0.8, 9)
	m, err := TrainALS(x, ALSConfig{Factors: 6, Lambda: 0.5, Alpha: 4, Iterations: 5})
	if err != nil {
		t.Fatal(err)
	}
	items, _ := m.window(x.Users[3])
	w := m.foldIn(items)
	defer m.work.Put(w)
	k := m.Factors
	for r := range k {
		// row r of (YᵀCY + λI)u − YᵀCp
		var lhs, rhs float64
		for i := range x.Items {
			c, p := 1.0, 0.0
			if slices.Contains(items, i) {
				c, p = 1+m.Alpha, 1
			}
			var yu float64
			for s := range k {
				yu += m.y.At(i, s) * w.u[s]
			}
			lhs += m.y.At(i, r) * c * yu
			rhs += m.y.At(i, r) * c * p
		}
		lhs += m.Lambda * w.u[r]
		if math.Abs(lhs-rhs) > 1e-9 {
			t.Errorf("normal equation %d: %.12f ≠ %.12f", r, lhs, rhs)
		}
	}
}

// Bad hyperparameters and inputs are refused with the reason.
func TestALSConfigErrors(t *testing.T) {
	x := Planted(20, 8, 2, 4, 0.8, 1)
	for _, c := range []struct {
		cfg  ALSConfig
		want string
	}{
		{ALSConfig{Factors: MaxALSFactors + 1}, "factors"},
		{ALSConfig{Factors: -1}, "factors"},
		{ALSConfig{Lambda: -1}, "lambda"},
		{ALSConfig{Lambda: math.NaN()}, "lambda"},
		{ALSConfig{Alpha: -2}, "alpha"},
		{ALSConfig{Iterations: MaxALSIterations + 1}, "iterations"},
	} {
		if _, err := TrainALS(x, c.cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want an error about %s", c.cfg, err, c.want)
		}
	}
	if _, err := TrainALS(&Interactions{Items: 3, Users: [][]int{{0, 5}}}, ALSConfig{}); err == nil {
		t.Error("an item out of range was trained on")
	}
	if _, err := TrainALS(&Interactions{}, ALSConfig{}); err == nil {
		t.Error("a model of no items was trained")
	}
}
