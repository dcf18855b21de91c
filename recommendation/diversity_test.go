package recommendation

import (
	"math"
	"slices"
	"testing"
)

// The Gini coefficient against values worked out from its definition (population form):
// equal exposure 0; one item of n taking all of it (n−1)/n; 1, 2, 3, 4, 5 gives 4/15.
func TestGini(t *testing.T) {
	for _, tt := range []struct {
		x    []float64
		want float64
	}{
		{[]float64{3, 3, 3, 3}, 0},
		{[]float64{0, 0, 0, 1}, 0.75},
		{[]float64{5, 1, 4, 2, 3}, 4.0 / 15},
		{[]float64{0, 0}, 0},
		{[]float64{7}, 0},
	} {
		if got := Gini(tt.x); math.Abs(got-tt.want) > 1e-12 {
			t.Errorf("Gini(%v) = %.6f, want %.6f", tt.x, got, tt.want)
		}
	}
}

// Cosine similarity by hand: items 0 and 1 share 2 users of 2 and 3 → 2/√6; item 2 shares none
// with 0.
func TestSimilarity(t *testing.T) {
	x := &Interactions{Items: 3, Users: [][]int{{0, 1}, {0, 1}, {1, 2}}}
	s := TrainSimilarity(x, 10)
	if got, want := s.Sim(0, 1), 2/math.Sqrt(6); math.Abs(got-want) > 1e-12 {
		t.Errorf("sim(0,1) = %v, want %v", got, want)
	}
	if got, want := s.Sim(1, 2), 1/math.Sqrt(3); math.Abs(got-want) > 1e-12 {
		t.Errorf("sim(1,2) = %v, want %v", got, want)
	}
	if s.Sim(0, 2) != 0 || s.Sim(2, 0) != 0 {
		t.Error("items without common users are similar")
	}
	if got := s.Similar(1, 5); !slices.Equal(got, []int{0, 2}) {
		t.Errorf("Similar(1) = %v, want [0 2]", got)
	}
	if d := s.IntraListDiversity([]int{0, 1}); math.Abs(d-(1-2/math.Sqrt(6))) > 1e-12 {
		t.Errorf("diversity of [0 1] = %v", d)
	}
}

// MMR at weight 1 is the ranking by score; at a lower weight it passes over an item very like
// one already picked for a less relevant, different one.
func TestMMR(t *testing.T) {
	// Items 0 and 1 always together (similarity 1); item 2 alone.
	x := &Interactions{Items: 3, Users: [][]int{{0, 1}, {0, 1}, {2}}}
	s := TrainSimilarity(x, 10)
	scores := []float64{1.0, 0.9, 0.5}
	if got := MMR(scores, []int{0, 1, 2}, 3, 1, s); !slices.Equal(got, []int{0, 1, 2}) {
		t.Errorf("MMR weight 1 = %v, want the ranking by score", got)
	}
	if got := MMR(scores, []int{0, 1, 2}, 2, 0.5, s); !slices.Equal(got, []int{0, 2}) {
		t.Errorf("MMR weight 0.5 = %v, want [0 2]: item 1 is item 0 again", got)
	}
}

// On planted feedback, re-ranking EASE's lists by MMR raises their diversity, more the lower
// the weight, and costs accuracy. (Exposure is reported, not asserted: pulling in items unlike
// the first pick can concentrate exposure on a few "different" items.)
func TestMMRTradesAccuracyForDiversity(t *testing.T) {
	x := Planted(600, 200, 8, 25, 0.85, 5)
	train, test := Split(x, 0.2, 1)
	ease, err := TrainEASE(train, 250)
	if err != nil {
		t.Fatal(err)
	}
	ev := Evaluator{K: 10, Sim: TrainSimilarity(train, 100)}
	plain := ev.Evaluate(ease, train, test)
	prev := plain
	for _, w := range []float64{0.7, 0.4} {
		ev.MMR = w
		m := ev.Evaluate(ease, train, test)
		t.Logf("weight %.1f: NDCG %.4f diversity %.4f gini %.4f (plain %.4f %.4f %.4f)", w, m.NDCG, m.Diversity, m.ExposureGini, plain.NDCG, plain.Diversity, plain.ExposureGini)
		if m.Diversity <= prev.Diversity {
			t.Errorf("weight %.1f: diversity %.4f, want above %.4f", w, m.Diversity, prev.Diversity)
		}
		if m.NDCG >= plain.NDCG {
			t.Errorf("weight %.1f: NDCG %.4f, want below the plain lists' %.4f (diversity is not free here)", w, m.NDCG, plain.NDCG)
		}
		prev = m
	}
}
