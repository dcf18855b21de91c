// Package recommendation holds the recommendation models and their offline evaluation, as pure
// computation over implicit feedback: no I/O, no store. Interactions reach it only through
// package access (a purpose-bound read, recorded); what it trains on is what consent allowed.
//
// The models:
//   - Popularity: items by how many users interacted with them (the non-personalised fallback).
//   - EASE (Steck, "Embarrassingly Shallow Autoencoders for Sparse Data", WWW 2019): an item-item
//     weight matrix B minimising ‖X − XB‖² + λ‖B‖² with diag(B) = 0, in closed form
//     P = (XᵀX + λI)⁻¹, B_ij = −P_ij / P_jj. A user's scores are their history times B, so a
//     new interaction changes the next list without retraining (fold-in).
//
// The linear algebra is gonum's (gonum.org/v1/gonum/mat): the Gram matrix is a SymDense, its
// inverse comes from a Cholesky factorisation.
package recommendation

import (
	"fmt"
	"slices"
	"sync"

	"gonum.org/v1/gonum/mat"
)

// Interactions is implicit feedback over dense indexes: Users[u] lists the items user u
// interacted with (each once; the order does not matter).
type Interactions struct {
	Items int
	Users [][]int
}

// Count returns the number of (user, item) pairs.
func (x *Interactions) Count() int {
	n := 0
	for _, h := range x.Users {
		n += len(h)
	}
	return n
}

// Model scores every item for a user's history: out[i] is item i's score (higher first).
type Model interface {
	Score(history []int, out []float64)
}

// Scorer is a model that can serve: it scores a history taken at request time (so a new
// interaction changes the next list without retraining), says how much each history item
// contributed to one item's score (the explanation), and finds an item's neighbours.
type Scorer interface {
	Model
	// Explain sets out[k] to history[k]'s share of item's score (len(out) = len(history)).
	Explain(history []int, item int, out []float64)
	// ExplainAll is Explain for each of items (out[t] for items[t]), at the cost of one.
	ExplainAll(history []int, items []int, out [][]float64)
	// Similar returns up to n items most like item, best first, item itself left out.
	Similar(item, n int) []int
	// Items is the number of items the model scores.
	Items() int
	// Sim is how alike two items are, in [0, 1] (MMR's similarity).
	Sim(i, j int) float64
}

// Popularity scores items by how many users have them.
type Popularity struct{ counts []float64 }

// TrainPopularity counts the users of each item.
func TrainPopularity(x *Interactions) *Popularity {
	p := &Popularity{counts: make([]float64, x.Items)}
	for _, h := range x.Users {
		for _, i := range h {
			p.counts[i]++
		}
	}
	return p
}

// Score ignores the history: everyone gets the same list.
func (p *Popularity) Score(_ []int, out []float64) { copy(out, p.counts) }

// EASE is a trained EASE model.
type EASE struct {
	Lambda float64
	b      *mat.Dense // items × items, zero diagonal

	rowMaxOnce sync.Once
	rowMax     []float64 // each row's largest weight, for Sim
}

// MaxEASEItems bounds the catalogue EASE is trained on: its matrices grow as the square of
// the items (3.2 GB each at 20,000); a larger catalogue needs a factorisation model.
const MaxEASEItems = 20000

// TrainEASE fits EASE with regulariser lambda (> 0). It needs items² float64s three times
// over (the Gram matrix, its factor and B): 600 MB for 5,000 items.
func TrainEASE(x *Interactions, lambda float64) (*EASE, error) {
	if lambda <= 0 {
		return nil, fmt.Errorf("recommendation: EASE lambda must be positive, not %g", lambda)
	}
	n := x.Items
	if n > MaxEASEItems {
		return nil, fmt.Errorf("recommendation: EASE over %d items needs %d GB; it is bounded at %d items", n, n*n*8*3>>30, MaxEASEItems)
	}
	if n == 0 {
		return &EASE{Lambda: lambda, b: nil}, nil
	}
	// G = XᵀX + λI, accumulated from each user's pairs (X is binary).
	g := mat.NewSymDense(n, nil)
	raw := g.RawSymmetric()
	for _, h := range x.Users {
		hs := slices.Clone(h)
		slices.Sort(hs)
		for a, i := range hs {
			row := raw.Data[i*raw.Stride:]
			for _, j := range hs[a:] {
				row[j]++ // upper triangle: i ≤ j
			}
		}
	}
	for i := range n {
		raw.Data[i*raw.Stride+i] += lambda
	}
	var chol mat.Cholesky
	if ok := chol.Factorize(g); !ok {
		return nil, fmt.Errorf("recommendation: EASE Gram matrix is not positive definite (lambda %g)", lambda)
	}
	var p mat.SymDense
	if err := chol.InverseTo(&p); err != nil {
		return nil, fmt.Errorf("recommendation: EASE inverse: %w", err)
	}
	b := mat.NewDense(n, n, nil)
	for i := range n {
		for j := range n {
			if i != j {
				b.Set(i, j, -p.At(i, j)/p.At(j, j))
			}
		}
	}
	return &EASE{Lambda: lambda, b: b}, nil
}

// Score sums the rows of B of the history's items.
func (m *EASE) Score(history []int, out []float64) {
	clear(out)
	if m.b == nil {
		return
	}
	for _, i := range history {
		row := m.b.RawRowView(i)
		for j, w := range row {
			out[j] += w
		}
	}
}

// Explain: an EASE score is the sum of B's rows of the history, so history[k]'s share of
// item's score is B[history[k], item].
func (m *EASE) Explain(history []int, item int, out []float64) {
	for k, h := range history {
		out[k] = 0
		if m.b != nil {
			out[k] = m.b.At(h, item)
		}
	}
}

// ExplainAll is Explain for each of items.
func (m *EASE) ExplainAll(history []int, items []int, out [][]float64) {
	for t, item := range items {
		m.Explain(history, item, out[t])
	}
}

// Items is the number of items the model scores.
func (m *EASE) Items() int {
	if m.b == nil {
		return 0
	}
	r, _ := m.b.Dims()
	return r
}

// Sim is how alike two items are by the learnt weights, in [0, 1]: the larger of B_ij and
// B_ji, each relative to its row's largest weight (1 for an item's strongest neighbour, 0
// when the model sees no positive link). MMR re-ranks with it.
func (m *EASE) Sim(i, j int) float64 {
	if m.b == nil || i == j {
		return 1
	}
	m.rowMaxOnce.Do(func() {
		n, _ := m.b.Dims()
		m.rowMax = make([]float64, n)
		for r := range n {
			for _, w := range m.b.RawRowView(r) {
				m.rowMax[r] = max(m.rowMax[r], w)
			}
		}
	})
	s := 0.0
	if w := m.b.At(i, j); w > 0 && m.rowMax[i] > 0 {
		s = w / m.rowMax[i]
	}
	if w := m.b.At(j, i); w > 0 && m.rowMax[j] > 0 {
		s = max(s, w/m.rowMax[j])
	}
	return s
}

// Similar returns up to n items most like item by the learnt weights (row item of B, the
// items a history of that one item would rank first).
func (m *EASE) Similar(item, n int) []int {
	if m.b == nil {
		return nil
	}
	return Top(m.b.RawRowView(item), n, map[int]bool{item: true})
}

// Top returns the k best-scored items, best first, leaving out those in exclude (ties by
// index, so a list is deterministic). It keeps the best k in a heap as it goes, O(n log k):
// a list of 20 out of 50,000 items does not sort the catalogue.
func Top(scores []float64, k int, exclude map[int]bool) []int {
	// better orders items best first: higher score, then lower index.
	better := func(a, b int) bool {
		switch {
		case scores[a] > scores[b]:
			return true
		case scores[a] < scores[b]:
			return false
		}
		return a < b
	}
	if k <= 0 {
		return []int{}
	}
	// h is a heap with the worst of the best k so far at its root.
	h := make([]int, 0, min(k, len(scores)))
	down := func(i int) {
		for {
			w, l, r := i, 2*i+1, 2*i+2
			if l < len(h) && better(h[w], h[l]) {
				w = l
			}
			if r < len(h) && better(h[w], h[r]) {
				w = r
			}
			if w == i {
				return
			}
			h[i], h[w] = h[w], h[i]
			i = w
		}
	}
	for i := range scores {
		if exclude[i] {
			continue
		}
		if len(h) < k {
			h = append(h, i)
			for j := len(h) - 1; j > 0; { // up
				p := (j - 1) / 2
				if !better(h[p], h[j]) {
					break
				}
				h[p], h[j] = h[j], h[p]
				j = p
			}
			continue
		}
		if better(i, h[0]) {
			h[0] = i
			down(0)
		}
	}
	slices.SortFunc(h, func(a, b int) int {
		if better(a, b) {
			return -1
		}
		if better(b, a) {
			return 1
		}
		return 0
	})
	return h
}
