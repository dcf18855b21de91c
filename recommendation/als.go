package recommendation

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/lapack/lapack64"
	"gonum.org/v1/gonum/mat"
)

// ALS is implicit-feedback matrix factorisation by alternating least squares (Hu, Koren and
// Volinsky, "Collaborative Filtering for Implicit Feedback Datasets", ICDM 2008): users and
// items get k factors each, fitted to minimise
//
//	Σ_u,i c_ui (p_ui − x_uᵀy_i)² + λ(Σ‖x_u‖² + Σ‖y_i‖²)
//
// where p_ui is 1 when user u has item i (0 otherwise) and the confidence c_ui = 1 + α·r_ui
// (r_ui = 1 for an interaction: the feedback is binary). With the items fixed each user's
// factors are a ridge regression, x_u = (YᵀCᵘY + λI)⁻¹ YᵀCᵘp(u), and the other way round; the
// sweeps alternate. Its memory grows with items × k, not items², so it is the model for
// catalogues EASE cannot hold (50,000 items at k = 64: 25.6 MB of factors).
//
// Only the item factors are kept: a user's factors are folded in from their history at
// request time (the same ridge regression against the trained Y), so a new interaction
// changes the next list without retraining, and no consumer's factors outlive the training.
type ALS struct {
	Factors    int
	Lambda     float64
	Alpha      float64
	Iterations int

	y     *mat.Dense    // items × factors
	y32   []float32     // yᵀ in single precision (factors × items): what a request's scores read
	gram  *mat.SymDense // YᵀY + λI, the part of every fold-in's system that is the same for all
	norms []float64     // ‖y_i‖, for Similar's cosine
	work  sync.Pool     // *foldWork
}

// ALSConfig are ALS's hyperparameters; a zero field takes its default.
type ALSConfig struct {
	Factors    int     // k (64)
	Lambda     float64 // the L2 regulariser λ (DefaultALSLambda)
	Alpha      float64 // confidence 1 + α of an interaction (DefaultALSAlpha); must not be negative
	Iterations int     // alternating sweeps, each users then items (10)
	Seed       uint64  // of the random initial item factors (1)
	Workers    int     // goroutines solving (runtime.GOMAXPROCS)
}

// Defaults and bounds of ALS. The defaults are what validation chose on MovieLens-100K
// (docs/benchmarks.md): α = 2 of {0.5, 1, 2, 3, 10, 30}, λ = 25 of ALSLambdas for every α ≤ 3;
// 10 sweeps (15 gained 0.001 NDCG@10 and cost half as much again).
const (
	DefaultALSFactors    = 64
	DefaultALSLambda     = 25
	DefaultALSAlpha      = 2
	DefaultALSIterations = 10
	// MaxALSFactors bounds k: a fold-in costs O(k³), and a model's file items × k float64s.
	MaxALSFactors = 256
	// MaxALSItems bounds the catalogue (a million items at k = 256: 2 GB of factors).
	MaxALSItems = 1_000_000
	// MaxALSIterations bounds the sweeps (ALS converges in 10–20).
	MaxALSIterations = 100
	// MaxFoldIn bounds the history a request folds in, whose cost grows as k² per item
	// (2,048 items at k = 64: about 4 ms): only the last MaxFoldIn items of a longer one
	// count (the most recent, when the caller lists them oldest first).
	MaxFoldIn = 2048
)

func (c ALSConfig) withDefaults() ALSConfig {
	if c.Factors == 0 {
		c.Factors = DefaultALSFactors
	}
	if c.Lambda == 0 {
		c.Lambda = DefaultALSLambda
	}
	if c.Alpha == 0 {
		c.Alpha = DefaultALSAlpha
	}
	if c.Iterations == 0 {
		c.Iterations = DefaultALSIterations
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	if c.Workers <= 0 {
		c.Workers = runtime.GOMAXPROCS(0)
	}
	return c
}

func (c ALSConfig) check() error {
	switch {
	case c.Factors < 1 || c.Factors > MaxALSFactors:
		return fmt.Errorf("recommendation: ALS factors must be 1 to %d, not %d", MaxALSFactors, c.Factors)
	case !(c.Lambda > 0) || math.IsInf(c.Lambda, 1):
		return fmt.Errorf("recommendation: ALS lambda must be positive, not %g", c.Lambda)
	case !(c.Alpha >= 0) || math.IsInf(c.Alpha, 1):
		return fmt.Errorf("recommendation: ALS alpha must not be negative, not %g", c.Alpha)
	case c.Iterations < 1 || c.Iterations > MaxALSIterations:
		return fmt.Errorf("recommendation: ALS iterations must be 1 to %d, not %d", MaxALSIterations, c.Iterations)
	}
	return nil
}

// TrainALS fits ALS to x. It needs (users + items) × k float64s for the factors and, per
// worker, a k × k system; each sweep costs O(k²·interactions + k³·(users + items)).
func TrainALS(x *Interactions, cfg ALSConfig) (*ALS, error) {
	cfg = cfg.withDefaults()
	if err := cfg.check(); err != nil {
		return nil, err
	}
	n, k := x.Items, cfg.Factors
	if n < 1 || n > MaxALSItems {
		return nil, fmt.Errorf("recommendation: ALS over %d items: it is bounded at 1 to %d", n, MaxALSItems)
	}
	// The items' users (the transpose of x), for the item half of each sweep.
	perItem := make([]int, n)
	for u, h := range x.Users {
		for _, i := range h {
			if i < 0 || i >= n {
				return nil, fmt.Errorf("recommendation: user %d has item %d of %d", u, i, n)
			}
			perItem[i]++
		}
	}
	byItem := make([][]int, n)
	flat := make([]int, x.Count())
	for i, c := range perItem {
		byItem[i], flat = flat[:0:c], flat[c:]
	}
	for u, h := range x.Users {
		for _, i := range h {
			byItem[i] = append(byItem[i], u)
		}
	}
	// Small random item factors to start from: zero would be a fixed point of the sweeps.
	rng := rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x5851f42d4c957f2d))
	y := mat.NewDense(n, k, nil)
	scale := 1 / math.Sqrt(float64(k))
	for i, raw := 0, y.RawMatrix().Data; i < len(raw); i++ {
		raw[i] = rng.NormFloat64() * scale
	}
	users := mat.NewDense(max(1, len(x.Users)), k, nil)
	for range cfg.Iterations {
		if err := solveHalf(y, x.Users, users, cfg); err != nil {
			return nil, err
		}
		if err := solveHalf(users, byItem, y, cfg); err != nil {
			return nil, err
		}
	}
	return newALS(y, cfg.Lambda, cfg.Alpha, cfg.Iterations)
}

// newALS completes a model from its item factors (after training, or read from a file).
func newALS(y *mat.Dense, lambda, alpha float64, iterations int) (*ALS, error) {
	n, k := y.Dims()
	m := &ALS{Factors: k, Lambda: lambda, Alpha: alpha, Iterations: iterations, y: y, norms: make([]float64, n)}
	m.gram = gram(y, lambda)
	m.y32 = make([]float32, n*k)
	for i := range n {
		row := y.RawRowView(i)
		m.norms[i] = blas64.Nrm2(blas64.Vector{N: k, Inc: 1, Data: row})
		for j, v := range row {
			m.y32[j*n+i] = float32(v)
		}
	}
	m.work.New = func() any { return newFoldWork(k) }
	return m, nil
}

// gram returns FᵀF + λI.
func gram(f *mat.Dense, lambda float64) *mat.SymDense {
	_, k := f.Dims()
	g := mat.NewSymDense(k, nil)
	g.SymOuterK(1, f.T())
	for i := range k {
		g.SetSym(i, i, g.At(i, i)+lambda)
	}
	return g
}

// solveHalf sets each row r of out to the ridge regression of lists[r] against the fixed
// factors f: out_r = (FᵀF + λI + α·Σ_{j∈lists[r]} f_j f_jᵀ)⁻¹ (1+α)·Σ_{j∈lists[r]} f_j.
// FᵀF + λI is computed once (Hu et al.'s speed-up: FᵀCʳF = FᵀF + Fᵀ(Cʳ − I)F, and Cʳ − I is
// zero outside the row's own items), so a row costs O(k²·|lists[r]| + k³). Rows are shared
// out in chunks among cfg.Workers goroutines; each writes only its own rows.
func solveHalf(f *mat.Dense, lists [][]int, out *mat.Dense, cfg ALSConfig) error {
	g := gram(f, cfg.Lambda)
	_, k := f.Dims()
	const chunk = 64
	var next atomic.Int64
	var failed atomic.Int64
	failed.Store(-1)
	var wg sync.WaitGroup
	for range cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := newFoldWork(k)
			for {
				lo := int(next.Add(chunk)) - chunk
				if lo >= len(lists) || failed.Load() >= 0 {
					return
				}
				for r := lo; r < min(lo+chunk, len(lists)); r++ {
					row := out.RawRowView(r)
					if len(lists[r]) == 0 {
						clear(row) // no interactions: the regulariser alone, x = 0
						continue
					}
					if !w.solve(f, g, lists[r], cfg.Alpha) {
						failed.CompareAndSwap(-1, int64(r))
						return
					}
					copy(row, w.u)
				}
			}
		}()
	}
	wg.Wait()
	if r := failed.Load(); r >= 0 {
		return fmt.Errorf("recommendation: ALS system of row %d is not positive definite (lambda %g)", r, cfg.Lambda)
	}
	return nil
}

// foldWork is one solver's workspace: the k × k system (then its Cholesky factor, in
// place), the right-hand side, the solution and, for Explain, a second solution.
//
// The factorisation is gonum's (lapack64.Potrf, then blas64.Trsv) without mat.Cholesky's wrapper:
// that one also estimates the condition number of every system, which profiled at three
// times the factorisation itself for k = 64, and the estimate is not needed — λ > 0 bounds
// the condition number by (λ + ‖FᵀCF‖)/λ.
type foldWork struct {
	a       blas64.Symmetric // upper triangle
	b, u, w []float64
	rows    []float64 // the items' factors gathered, |items| × k
	u32     []float32 // u, and the scores, in single precision
	s32     []float32
}

func newFoldWork(k int) *foldWork {
	return &foldWork{a: blas64.Symmetric{N: k, Stride: k, Uplo: blas.Upper, Data: make([]float64, k*k)},
		b: make([]float64, k), u: make([]float64, k), w: make([]float64, k)}
}

// solve sets w.u to (G + α·Σ_{j∈items} f_j f_jᵀ)⁻¹ (1+α)·Σ_{j∈items} f_j and leaves the
// system's Cholesky factor in w.a; false when the system is not positive definite (it always
// is for λ > 0, barring NaNs).
func (w *foldWork) solve(f *mat.Dense, g *mat.SymDense, items []int, alpha float64) bool {
	_, k := f.Dims()
	// Only the upper triangle is read and written (half the copying of the whole).
	ga := g.RawSymmetric()
	for i := range k {
		copy(w.a.Data[i*k+i:(i+1)*k], ga.Data[i*ga.Stride+i:i*ga.Stride+k])
	}
	clear(w.b)
	b := blas64.Vector{N: k, Inc: 1, Data: w.b}
	// The items' rows gathered into one matrix Fₕ, so that α·FₕᵀFₕ is one rank-|items|
	// update (Syrk runs on gonum's assembly kernels, the rank-one Syr does not).
	w.rows = slices.Grow(w.rows[:0], len(items)*k)[:len(items)*k]
	for r, j := range items {
		fj := f.RawRowView(j)
		copy(w.rows[r*k:], fj)
		blas64.Axpy(1+alpha, blas64.Vector{N: k, Inc: 1, Data: fj}, b)
	}
	if alpha != 0 {
		blas64.Syrk(blas.Trans, alpha, blas64.General{Rows: len(items), Cols: k, Stride: k, Data: w.rows}, 1, w.a)
	}
	if _, ok := lapack64.Potrf(w.a); !ok {
		return false
	}
	copy(w.u, w.b)
	w.solveTo(w.u)
	return true
}

// solveTo overwrites x with A⁻¹x, A = UᵀU the system solve factorised: Uᵀz = x, then Ux = z
// (two triangular solves; Potrs would do the same through the many-column Trsm).
func (w *foldWork) solveTo(x []float64) {
	t := blas64.Triangular{N: w.a.N, Stride: w.a.Stride, Uplo: blas.Upper, Diag: blas.NonUnit, Data: w.a.Data}
	v := blas64.Vector{N: len(x), Inc: 1, Data: x}
	blas64.Trsv(blas.Trans, t, v)
	blas64.Trsv(blas.NoTrans, t, v)
}

// window is the part of a history a fold-in uses: the last MaxFoldIn items, each once, in
// range; counted[k] says whether history[k] is one of them.
func (m *ALS) window(history []int) (items []int, counted []bool) {
	n := m.Items()
	from := max(0, len(history)-MaxFoldIn)
	counted = make([]bool, len(history))
	seen := make(map[int]bool, len(history)-from)
	items = make([]int, 0, len(history)-from)
	for k := from; k < len(history); k++ {
		i := history[k]
		if i < 0 || i >= n || seen[i] {
			continue
		}
		seen[i], counted[k] = true, true
		items = append(items, i)
	}
	return items, counted
}

// foldIn solves the history's user factors into a workspace taken from the pool (nil when
// nothing of the history counts). The caller puts it back.
func (m *ALS) foldIn(items []int) *foldWork {
	if len(items) == 0 || m.y == nil {
		return nil
	}
	w := m.work.Get().(*foldWork)
	if !w.solve(m.y, m.gram, items, m.Alpha) {
		// Unreachable for λ > 0 (the system is at least λI); scores of zero rather than a
		// panic in a request.
		m.work.Put(w)
		return nil
	}
	return w
}

// Score folds the history in, u = (YᵀY + Yᵀ(Cᵘ − I)Y + λI)⁻¹ YᵀCᵘp(u), and scores every
// item, out = Y·u (one matrix-vector product). Items out of range and repeats are ignored;
// a history of more than MaxFoldIn items counts its last MaxFoldIn. An empty history scores
// every item zero.
func (m *ALS) Score(history []int, out []float64) {
	clear(out)
	items, _ := m.window(history)
	w := m.foldIn(items)
	if w == nil {
		return
	}
	defer m.work.Put(w)
	// Y·u in single precision: the product reads every item's factors, so it is bound by
	// memory, and float32 halves what it reads (12.8 MB instead of 25.6 at 50,000 items and
	// 64 factors); a score is off by about 1e-6 of itself, below any difference a ranking of
	// implicit feedback can mean.
	n, k := m.y.Dims()
	if len(w.u32) != k {
		w.u32 = make([]float32, k)
	}
	if len(w.s32) != n {
		w.s32 = make([]float32, n)
	}
	for j, v := range w.u {
		w.u32[j] = float32(v)
	}
	// (Yᵀ)ᵀu as k passes of y += u_j·(row j of Yᵀ) over the items: long unit-stride runs,
	// rather than a short dot product per item.
	blas32.Gemv(blas.Trans, 1, blas32.General{Rows: k, Cols: n, Stride: n, Data: m.y32}, blas32.Vector{N: k, Inc: 1, Data: w.u32},
		0, blas32.Vector{N: n, Inc: 1, Data: w.s32})
	for i, v := range w.s32[:min(n, len(out))] {
		out[i] = float64(v)
	}
}

// Explain splits item's score among the history by Hu et al.'s §5: with
// Wᵘ = (YᵀCᵘY + λI)⁻¹ the user's score of i is
//
//	ŷ_ui = y_iᵀ u = Σ_{j∈history} s_ij c_uj,   s_ij = y_iᵀ Wᵘ y_j,
//
// so out[k] = s_{i,history[k]}·(1+α), and the shares sum to the score. A repeated or ignored
// history item's share is 0.
func (m *ALS) Explain(history []int, item int, out []float64) {
	m.ExplainAll(history, []int{item}, [][]float64{out})
}

// ExplainAll is Explain for several items, folding the history in once: out[t] is for
// items[t].
func (m *ALS) ExplainAll(history []int, items []int, out [][]float64) {
	for t := range items {
		clear(out[t][:len(history)])
	}
	window, counted := m.window(history)
	w := m.foldIn(window)
	if w == nil {
		return
	}
	defer m.work.Put(w)
	_, k := m.y.Dims()
	for t, item := range items {
		if item < 0 || item >= m.Items() {
			continue
		}
		// Wᵘy_i once, from the fold-in's factorisation; then one dot product per history item.
		copy(w.w, m.y.RawRowView(item))
		w.solveTo(w.w)
		wi := blas64.Vector{N: k, Inc: 1, Data: w.w}
		for j, h := range history {
			if counted[j] {
				out[t][j] = (1 + m.Alpha) * blas64.Dot(wi, blas64.Vector{N: k, Inc: 1, Data: m.y.RawRowView(h)})
			}
		}
	}
}

// Similar returns up to n items by the cosine of their factors with item's. An item no one
// had in training has zero factors and no neighbours; such items are never anyone's.
func (m *ALS) Similar(item, n int) []int {
	if m.y == nil || item < 0 || item >= m.Items() || m.norms[item] == 0 || n <= 0 {
		return nil
	}
	_, k := m.y.Dims()
	cos := make([]float64, m.Items())
	blas64.Gemv(blas.NoTrans, 1, m.y.RawMatrix(), blas64.Vector{N: k, Inc: 1, Data: m.y.RawRowView(item)}, 0, blas64.Vector{N: len(cos), Inc: 1, Data: cos})
	zero := 0
	for j, nj := range m.norms {
		if nj == 0 {
			cos[j] = math.Inf(-1)
			zero++
			continue
		}
		cos[j] /= nj * m.norms[item]
	}
	return Top(cos, min(n, m.Items()-zero-1), map[int]bool{item: true})
}

// Sim is the cosine of two items' factors, floored at 0 (MMR's similarity): 1 for the same
// item, 0 for an item no one had in training.
func (m *ALS) Sim(i, j int) float64 {
	if i == j {
		return 1
	}
	if m.y == nil || m.norms[i] == 0 || m.norms[j] == 0 {
		return 0
	}
	_, k := m.y.Dims()
	c := blas64.Dot(blas64.Vector{N: k, Inc: 1, Data: m.y.RawRowView(i)}, blas64.Vector{N: k, Inc: 1, Data: m.y.RawRowView(j)}) / (m.norms[i] * m.norms[j])
	return max(0, c)
}

// Items is the number of items the model scores.
func (m *ALS) Items() int {
	if m.y == nil {
		return 0
	}
	r, _ := m.y.Dims()
	return r
}

// ItemFactors returns a copy of the item factors (items × Factors), for inspection.
func (m *ALS) ItemFactors() *mat.Dense { return mat.DenseCopyOf(m.y) }
