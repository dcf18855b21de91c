package recommendation

import (
	"math"
	"slices"
)

// Similarity is item-to-item cosine similarity over implicit feedback,
// sim(i, j) = |users of i and j| / √(|users of i| · |users of j|), kept as each item's
// Neighbours most similar items. It answers "similar items" and measures how alike a list is.
type Similarity struct {
	Neighbours int
	nb         [][]neighbour // per item, most similar first
}

type neighbour struct {
	item int
	sim  float64
}

// TrainSimilarity computes each item's neighbours (at most k). It counts co-occurrences per
// item pair, so it needs items² counters while it runs.
func TrainSimilarity(x *Interactions, k int) *Similarity {
	n := x.Items
	co := make([]float32, n*n)
	deg := make([]float64, n)
	for _, h := range x.Users {
		for a, i := range h {
			deg[i]++
			for _, j := range h[a+1:] {
				co[i*n+j]++
				co[j*n+i]++
			}
		}
	}
	s := &Similarity{Neighbours: k, nb: make([][]neighbour, n)}
	for i := range n {
		var cand []neighbour
		for j := range n {
			if c := co[i*n+j]; c > 0 && j != i {
				cand = append(cand, neighbour{j, float64(c) / math.Sqrt(deg[i]*deg[j])})
			}
		}
		slices.SortFunc(cand, func(a, b neighbour) int {
			if a.sim != b.sim {
				if a.sim > b.sim {
					return -1
				}
				return 1
			}
			return a.item - b.item
		})
		s.nb[i] = cand[:min(k, len(cand))]
	}
	return s
}

// Similar returns up to n items most like item, most similar first.
func (s *Similarity) Similar(item, n int) []int {
	out := make([]int, 0, n)
	for _, nb := range s.nb[item] {
		if len(out) == n {
			break
		}
		out = append(out, nb.item)
	}
	return out
}

// Sim returns the similarity of two items (0 when neither is among the other's neighbours).
func (s *Similarity) Sim(i, j int) float64 {
	for _, nb := range s.nb[i] {
		if nb.item == j {
			return nb.sim
		}
	}
	for _, nb := range s.nb[j] {
		if nb.item == i {
			return nb.sim
		}
	}
	return 0
}

// IntraListDiversity is the mean dissimilarity (1 − sim) of a list's pairs; 0 for fewer than
// two items.
func (s *Similarity) IntraListDiversity(list []int) float64 {
	if len(list) < 2 {
		return 0
	}
	var sum float64
	pairs := 0
	for a, i := range list {
		for _, j := range list[a+1:] {
			sum += 1 - s.Sim(i, j)
			pairs++
		}
	}
	return sum / float64(pairs)
}

// Similarities says how alike two items are, in [0, 1].
type Similarities interface {
	Sim(i, j int) float64
}

// MMR re-ranks candidates by maximal marginal relevance (Carbonell and Goldstein, SIGIR 1998):
// it picks, k times, the candidate maximising weight·relevance − (1 − weight)·(its largest
// similarity to those already picked). Relevance is the candidates' scores scaled to [0, 1];
// weight 1 keeps the ranking by score, lower weights trade relevance for diversity.
func MMR(scores []float64, candidates []int, k int, weight float64, s Similarities) []int {
	if len(candidates) == 0 || k <= 0 {
		return nil
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, c := range candidates {
		lo, hi = math.Min(lo, scores[c]), math.Max(hi, scores[c])
	}
	rel := func(c int) float64 {
		if hi == lo {
			return 1
		}
		return (scores[c] - lo) / (hi - lo)
	}
	left := slices.Clone(candidates)
	maxSim := make([]float64, len(left)) // to the picked items, per candidate left
	out := make([]int, 0, min(k, len(left)))
	for len(out) < k && len(left) > 0 {
		best, bestV := 0, math.Inf(-1)
		for a, c := range left {
			if v := weight*rel(c) - (1-weight)*maxSim[a]; v > bestV {
				best, bestV = a, v
			}
		}
		pick := left[best]
		out = append(out, pick)
		left = slices.Delete(left, best, best+1)
		maxSim = slices.Delete(maxSim, best, best+1)
		for a, c := range left {
			maxSim[a] = math.Max(maxSim[a], s.Sim(pick, c))
		}
	}
	return out
}

// Gini is the Gini coefficient of how often each item was shown: 0 when every item is shown
// equally, (n − 1)/n when one item takes all the exposure. G = Σᵢ (2i − n − 1)·xᵢ / (n·Σx)
// over x sorted ascending, i from 1 (the mean-absolute-difference form).
func Gini(exposure []float64) float64 {
	x := slices.Clone(exposure)
	slices.Sort(x)
	var total, num float64
	n := float64(len(x))
	for i, v := range x {
		total += v
		num += (2*float64(i+1) - n - 1) * v
	}
	if len(x) < 2 || total == 0 {
		return 0
	}
	return num / (n * total)
}
