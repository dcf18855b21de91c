package recommendation

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// EASE's closed form against its definition, solved another way: with diag(B) = 0, column j of
// B is the ridge regression of item j's column of X on the other items' columns,
// b = (X₋ⱼᵀX₋ⱼ + λI)⁻¹ X₋ⱼᵀ xⱼ (Steck 2019, §2). Solved here column by column with gonum's
// general solver, it must agree with −P_ij/P_jj to rounding.
func TestEASEIsPerItemRidgeRegression(t *testing.T) {
	x := &Interactions{Items: 6, Users: [][]int{{0, 1, 2}, {1, 2}, {2, 3, 4}, {0, 4, 5}, {3, 5}, {0, 1}, {4}, {1, 3, 5}}}
	const lambda = 1.5
	m, err := TrainEASE(x, lambda)
	if err != nil {
		t.Fatal(err)
	}
	dense := mat.NewDense(len(x.Users), x.Items, nil)
	for u, h := range x.Users {
		for _, i := range h {
			dense.Set(u, i, 1)
		}
	}
	for j := range x.Items {
		var others []int
		for i := range x.Items {
			if i != j {
				others = append(others, i)
			}
		}
		xo := mat.NewDense(len(x.Users), len(others), nil)
		for u := range x.Users {
			for c, i := range others {
				xo.Set(u, c, dense.At(u, i))
			}
		}
		var a mat.Dense
		a.Mul(xo.T(), xo)
		for c := range others {
			a.Set(c, c, a.At(c, c)+lambda)
		}
		var rhs, b mat.Dense
		rhs.Mul(xo.T(), dense.ColView(j))
		if err := b.Solve(&a, &rhs); err != nil {
			t.Fatal(err)
		}
		for c, i := range others {
			if got, want := m.b.At(i, j), b.At(c, 0); math.Abs(got-want) > 1e-9 {
				t.Errorf("B[%d][%d] = %.12f, ridge regression gives %.12f", i, j, got, want)
			}
		}
		if m.b.At(j, j) != 0 {
			t.Errorf("B[%d][%d] = %g, want 0", j, j, m.b.At(j, j))
		}
	}
}

// Metrics on a ranking worked out by hand: popularity ranks items 0, 1, 2, … in that order;
// one user with no training items and test items {0, 3, 12} gets the top 10 (items 0–9), with
// hits at ranks 1 and 4 (item 12 is 13th).
func TestMetricsByHand(t *testing.T) {
	// Popularity from 20 other users: item i has 20-i users, so the ranking is 0, 1, 2, …
	x := &Interactions{Items: 20}
	for u := range 20 {
		var h []int
		for i := range 20 - u {
			h = append(h, i)
		}
		x.Users = append(x.Users, h)
	}
	p := TrainPopularity(x)
	train := &Interactions{Items: 20, Users: [][]int{{}}}
	test := [][]int{{0, 3, 12}}
	got := Evaluate(p, train, test, 10)
	// hits: item 0 at rank 1, item 3 at rank 4; item 12 is ranked 13th.
	dcg := 1/math.Log2(2) + 1/math.Log2(5)
	idcg := 1/math.Log2(2) + 1/math.Log2(3) + 1/math.Log2(4)
	want := Metrics{K: 10, Users: 1, Precision: 0.2, Recall: 2.0 / 3, NDCG: dcg / idcg, Coverage: 10.0 / 20}
	if math.Abs(got.NDCG-want.NDCG) > 1e-12 || got.Precision != want.Precision || math.Abs(got.Recall-want.Recall) > 1e-12 ||
		got.Coverage != want.Coverage || got.Users != 1 {
		t.Errorf("Evaluate = %+v, want %+v", got, want)
	}
	// A user's training items are never recommended back.
	train.Users[0] = []int{0, 1}
	if top := Top(make([]float64, 20), 3, map[int]bool{0: true, 1: true}); !slices.Equal(top, []int{2, 3, 4}) {
		t.Errorf("Top excluding 0, 1 = %v", top)
	}
}

// The split is per user, deterministic for a seed, and keeps every item once.
func TestSplit(t *testing.T) {
	x := Planted(50, 100, 5, 20, 0.8, 7)
	train, test := Split(x, 0.2, 42)
	again, test2 := Split(x, 0.2, 42)
	for u := range x.Users {
		if !slices.Equal(train.Users[u], again.Users[u]) || !slices.Equal(test[u], test2[u]) {
			t.Fatalf("user %d: the split differs for one seed", u)
		}
		all := slices.Concat(train.Users[u], test[u])
		slices.Sort(all)
		if !slices.Equal(all, x.Users[u]) {
			t.Fatalf("user %d: train ∪ test = %v, want %v", u, all, x.Users[u])
		}
		if n := len(x.Users[u]); n >= 2 && len(test[u]) != int(math.Round(float64(n)*0.2)) {
			t.Errorf("user %d: %d of %d items in test", u, len(test[u]), n)
		}
	}
	if other, _ := Split(x, 0.2, 43); slices.Equal(other.Users[0], train.Users[0]) && slices.Equal(other.Users[1], train.Users[1]) {
		t.Error("another seed gives the same split")
	}
}

// On feedback with planted clusters, EASE (its lambda chosen by validation) beats popularity
// by a clear margin on the protocol, and a new interaction changes a user's scores without
// retraining.
func TestPlantedStructure(t *testing.T) {
	x := Planted(800, 300, 10, 25, 0.85, 2026)
	train, test := Split(x, 0.2, 1)
	lambda, grid, err := SelectEASE(train, Lambdas, 10, 1)
	if err != nil {
		t.Fatal(err)
	}
	ease, err := TrainEASE(train, lambda)
	if err != nil {
		t.Fatal(err)
	}
	e, p := Evaluate(ease, train, test, 10), Evaluate(TrainPopularity(train), train, test, 10)
	t.Logf("lambda %g (validation NDCG %v); EASE %+v; popularity %+v", lambda, grid, e, p)
	if e.NDCG < 2*p.NDCG || e.Recall < 2*p.Recall {
		t.Errorf("EASE NDCG@10 %.4f, recall %.4f; popularity %.4f, %.4f: want EASE at least twice as good", e.NDCG, e.Recall, p.NDCG, p.Recall)
	}
	if e.Coverage <= p.Coverage {
		t.Errorf("EASE covers %.3f of the catalogue, popularity %.3f: want more", e.Coverage, p.Coverage)
	}
	before, after := make([]float64, x.Items), make([]float64, x.Items)
	ease.Score(train.Users[0], before)
	ease.Score(append(slices.Clone(train.Users[0]), test[0][0]), after)
	if slices.Equal(before, after) {
		t.Error("a new interaction left the scores as they were")
	}
}

// Top keeps the k best with a heap; it must agree with sorting everything (ties by index).
func TestTopAgreesWithSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 5))
	for trial := range 200 {
		n := rng.IntN(60)
		scores := make([]float64, n)
		for i := range scores {
			scores[i] = float64(rng.IntN(8)) // many ties
		}
		exclude := map[int]bool{}
		for range rng.IntN(5) {
			exclude[rng.IntN(n+1)] = true
		}
		k := rng.IntN(n + 3)
		var want []int
		for i := range n {
			if !exclude[i] {
				want = append(want, i)
			}
		}
		slices.SortStableFunc(want, func(a, b int) int { return cmp.Compare(scores[b], scores[a]) })
		want = want[:min(k, len(want))]
		if got := Top(scores, k, exclude); !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
			t.Fatalf("trial %d: Top(%v, %d, %v) = %v, want %v", trial, scores, k, exclude, got, want)
		}
	}
}
