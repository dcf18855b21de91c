package recommendation

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"
)

// The offline evaluation protocol (what `symbiont eval recs` runs and docs/benchmarks.md
// reports):
//
//   - implicit feedback: every (user, item) pair counts once, whatever its rating;
//   - per user, a random 80/20 split of their items with a fixed seed (users with fewer than
//     two items are all training);
//   - full ranking: each test user's list ranks every item not in their training items;
//   - at K = 10: precision (hits / K), recall (hits / test items), NDCG (binary relevance,
//     DCG = Σ 1/log2(rank+1) over hits, divided by the ideal DCG of min(test items, K) hits),
//     averaged over the users with test items; catalogue coverage (the share of items that
//     are in some list).

// Split divides x per user into training and test items: testShare of each user's items (at
// least one when they have two or more), chosen by a generator seeded with seed.
func Split(x *Interactions, testShare float64, seed uint64) (train *Interactions, test [][]int) {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	train = &Interactions{Items: x.Items, Users: make([][]int, len(x.Users))}
	test = make([][]int, len(x.Users))
	for u, h := range x.Users {
		h = slices.Clone(h)
		slices.Sort(h) // the split depends on the seed only, not on the input's order
		rng.Shuffle(len(h), func(i, j int) { h[i], h[j] = h[j], h[i] })
		n := 0
		if len(h) >= 2 {
			n = max(1, int(math.Round(float64(len(h))*testShare)))
		}
		test[u], train.Users[u] = h[:n], h[n:]
	}
	return train, test
}

// Metrics are a model's scores on a split, at K.
type Metrics struct {
	K         int     `json:"k"`
	Users     int     `json:"users"` // test users
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	NDCG      float64 `json:"ndcg"`
	Coverage  float64 `json:"coverage"`
	// Diversity is the mean intra-list diversity (1 − cosine similarity of the list's pairs),
	// ExposureGini the Gini coefficient of how often each item was shown; both only when the
	// evaluation has a similarity.
	Diversity    float64 `json:"diversity,omitempty"`
	ExposureGini float64 `json:"exposure_gini,omitempty"`
	// MMR is the relevance weight of the re-ranking the lists had (0: none).
	MMR float64 `json:"mmr_weight,omitempty"`
}

// Evaluator scores lists of K items; with Sim it measures diversity and exposure too, and
// with MMR (a weight in (0, 1)) it re-ranks the top Pool candidates by maximal marginal
// relevance first.
type Evaluator struct {
	K    int
	Sim  *Similarity
	MMR  float64
	Pool int // candidates MMR re-ranks (default 10·K)
}

// Evaluate ranks, for every user with test items, every item outside their training items,
// and scores the top k against the test items.
func Evaluate(m Model, train *Interactions, test [][]int, k int) Metrics {
	return Evaluator{K: k}.Evaluate(m, train, test)
}

// Evaluate is the package's Evaluate with e's diversity measures and re-ranking.
func (e Evaluator) Evaluate(m Model, train *Interactions, test [][]int) Metrics {
	k := e.K
	res := Metrics{K: k, MMR: e.MMR}
	exposure := make([]float64, train.Items)
	var ild float64
	scores := make([]float64, train.Items)
	shown := make([]bool, train.Items)
	idcg := make([]float64, k+1)
	for i := 1; i <= k; i++ {
		idcg[i] = idcg[i-1] + 1/math.Log2(float64(i)+1)
	}
	for u, t := range test {
		if len(t) == 0 {
			continue
		}
		seen := make(map[int]bool, len(train.Users[u]))
		for _, i := range train.Users[u] {
			seen[i] = true
		}
		relevant := make(map[int]bool, len(t))
		for _, i := range t {
			relevant[i] = true
		}
		m.Score(train.Users[u], scores)
		var top []int
		if e.MMR > 0 && e.Sim != nil {
			pool := e.Pool
			if pool == 0 {
				pool = 10 * k
			}
			top = MMR(scores, Top(scores, pool, seen), k, e.MMR, e.Sim)
		} else {
			top = Top(scores, k, seen)
		}
		if e.Sim != nil {
			ild += e.Sim.IntraListDiversity(top)
		}
		hits, dcg := 0, 0.0
		for r, i := range top {
			shown[i] = true
			exposure[i]++
			if relevant[i] {
				hits++
				dcg += 1 / math.Log2(float64(r)+2)
			}
		}
		res.Users++
		res.Precision += float64(hits) / float64(k)
		res.Recall += float64(hits) / float64(len(t))
		res.NDCG += dcg / idcg[min(len(t), k)]
	}
	if res.Users > 0 {
		n := float64(res.Users)
		res.Precision, res.Recall, res.NDCG = res.Precision/n, res.Recall/n, res.NDCG/n
		if e.Sim != nil {
			res.Diversity, res.ExposureGini = ild/n, Gini(exposure)
		}
	}
	covered := 0
	for _, s := range shown {
		if s {
			covered++
		}
	}
	if train.Items > 0 {
		res.Coverage = float64(covered) / float64(train.Items)
	}
	return res
}

// Lambdas is the grid SelectEASE searches.
var Lambdas = []float64{1, 5, 10, 25, 50, 100, 150, 250, 350, 500, 750, 1000, 2500}

// SelectEASE picks EASE's regulariser by validation: it holds out a further share of each
// user's training items, trains on the rest for every lambda of the grid, keeps the one with
// the best NDCG@k, and returns it with the NDCG of each.
func SelectEASE(train *Interactions, grid []float64, k int, seed uint64) (best float64, ndcg map[float64]float64, err error) {
	v, err := ValidateEASE(train, grid, k, seed)
	if err != nil {
		return 0, nil, err
	}
	return v.Lambda, v.Grid, nil
}

// Validation is what ValidateEASE measured on its held-out split.
type Validation struct {
	Lambda     float64             `json:"lambda"`
	Grid       map[float64]float64 `json:"-"`     // lambda → NDCG@k
	Model      Metrics             `json:"model"` // the chosen model's
	Popularity Metrics             `json:"popularity"`
}

// ValidateEASE is SelectEASE with the metrics of the chosen lambda's model and of popularity
// on the same validation split (a trained model's offline metrics).
func ValidateEASE(train *Interactions, grid []float64, k int, seed uint64) (*Validation, error) {
	fit, val := validationSplit(train, seed)
	v := &Validation{Grid: map[float64]float64{}}
	bestScore := -1.0
	for _, l := range grid {
		m, err := TrainEASE(fit, l)
		if err != nil {
			return nil, err
		}
		met := Evaluate(m, fit, val, k)
		v.Grid[l] = met.NDCG
		if met.NDCG > bestScore {
			v.Lambda, v.Model, bestScore = l, met, met.NDCG
		}
	}
	v.Popularity = Evaluate(TrainPopularity(fit), fit, val, k)
	return v, nil
}

// ALSLambdas is the grid SelectALS searches (at the configured factors and alpha).
var ALSLambdas = []float64{5, 10, 25, 50, 100, 250}

// SelectALS picks ALS's regulariser as SelectEASE picks EASE's: on a further validation split
// of the training items it trains cfg with every lambda of the grid and keeps the one with the
// best NDCG@k (the scores are fold-ins of the fitting items, as served).
func SelectALS(train *Interactions, cfg ALSConfig, grid []float64, k int, seed uint64) (best float64, ndcg map[float64]float64, err error) {
	fit, val := Split(train, 0.2, seed+1)
	ndcg = map[float64]float64{}
	bestScore := -1.0
	for _, l := range grid {
		c := cfg
		c.Lambda = l
		m, err := TrainALS(fit, c)
		if err != nil {
			return 0, nil, err
		}
		s := Evaluate(m, fit, val, k).NDCG
		ndcg[l] = s
		if s > bestScore {
			best, bestScore = l, s
		}
	}
	return best, ndcg, nil
}

// MaxValidationUsers bounds the users a validation ranks (every user's items still train the
// fit): each one is a full ranking of the catalogue, so at 100,000 users and 50,000 items
// ranking all of them would cost far more than the training.
const MaxValidationUsers = 5000

// validationSplit is the further 80/20 split of a training's items, with at most
// MaxValidationUsers users' held-out items kept (evenly spaced, so the same every time).
func validationSplit(train *Interactions, seed uint64) (*Interactions, [][]int) {
	fit, val := Split(train, 0.2, seed+1)
	if n := len(val); n > MaxValidationUsers {
		step := (n + MaxValidationUsers - 1) / MaxValidationUsers
		for u := range val {
			if u%step != 0 {
				val[u] = nil
			}
		}
	}
	return fit, val
}

// ValidateALS measures ALS with cfg, and popularity, on a validation split of train (a trained
// model's offline metrics).
func ValidateALS(train *Interactions, cfg ALSConfig, k int, seed uint64) (*Validation, error) {
	fit, val := validationSplit(train, seed)
	m, err := TrainALS(fit, cfg)
	if err != nil {
		return nil, err
	}
	v := &Validation{Lambda: m.Lambda, Model: Evaluate(m, fit, val, k), Popularity: Evaluate(TrainPopularity(fit), fit, val, k)}
	v.Grid = map[float64]float64{m.Lambda: v.Model.NDCG}
	return v, nil
}

// Planted generates implicit feedback with known structure: items and users fall into
// clusters; each user takes most of their items (share inCluster) from their own cluster,
// the rest from anywhere, each draw skewed towards an item's popularity (a Zipf-like weight).
// A model that finds the clusters beats popularity by far; one that does not, does not.
func Planted(users, items, clusters, perUser int, inCluster float64, seed uint64) *Interactions {
	rng := rand.New(rand.NewPCG(seed, seed+1))
	weight := make([]float64, items)
	for i := range weight {
		weight[i] = 1 / math.Pow(float64(i%50+1), 0.8) // popularity within each block of 50
	}
	byCluster := make([][]int, clusters)
	for i := range items {
		c := i % clusters
		byCluster[c] = append(byCluster[c], i)
	}
	draw := func(from []int) int {
		var total float64
		for _, i := range from {
			total += weight[i]
		}
		r := rng.Float64() * total
		for _, i := range from {
			if r -= weight[i]; r <= 0 {
				return i
			}
		}
		return from[len(from)-1]
	}
	all := make([]int, items)
	for i := range all {
		all[i] = i
	}
	x := &Interactions{Items: items, Users: make([][]int, users)}
	for u := range users {
		c := u % clusters
		have := map[int]bool{}
		for tries := 0; len(have) < perUser && tries < perUser*20; tries++ {
			from := all
			if rng.Float64() < inCluster {
				from = byCluster[c]
			}
			have[draw(from)] = true
		}
		h := make([]int, 0, len(have))
		for i := range have {
			h = append(h, i)
		}
		slices.Sort(h)
		x.Users[u] = h
	}
	return x
}

// K is the list length the protocol scores.
const K = 10

// MMRWeights are the relevance weights Run re-ranks EASE's lists with.
var MMRWeights = []float64{0.9, 0.7, 0.5}

// ProtocolOptions are the choices of Run's protocol.
type ProtocolOptions struct {
	TestShare float64 // per-user share held out (0.2)
	Seed      uint64  // of the split (1)
	Lambda    float64 // EASE's regulariser; 0: chosen by validation over Lambdas
	// Models are the models to train besides popularity: "ease", "als" or "all" ("": all).
	Models string
	// ALS are ALS's hyperparameters (zero fields take the defaults), but a zero Lambda is
	// chosen by validation over ALSLambdas.
	ALS ALSConfig
}

// ALSParams are the hyperparameters of the ALS a report measured.
type ALSParams struct {
	Factors    int     `json:"factors"`
	Lambda     float64 `json:"lambda"`
	Alpha      float64 `json:"alpha"`
	Iterations int     `json:"iterations"`
}

// Report is what Run measured: the protocol, the data, each model's metrics, and the headline
// figures at the top level (EASE's, or ALS's when EASE was not run; Model says which), as
// `symbiont eval recs --json` prints it. Lambda, Validation and TrainSeconds are EASE's.
type Report struct {
	Protocol     string             `json:"protocol"`
	Users        int                `json:"users"`
	Items        int                `json:"items"`
	Interactions int                `json:"interactions"`
	Seed         uint64             `json:"seed"`
	Lambda       float64            `json:"lambda"`
	Validation   map[string]float64 `json:"validation_ndcg,omitempty"` // lambda → NDCG@K on the validation split
	NDCG         float64            `json:"ndcg@10"`
	Precision    float64            `json:"precision@10"`
	Recall       float64            `json:"recall@10"`
	Coverage     float64            `json:"coverage"`
	Model        string             `json:"model"` // of the top-level figures: "ease" or "als"
	EASE         *Metrics           `json:"ease,omitempty"`
	ALS          *Metrics           `json:"als,omitempty"`
	Popularity   Metrics            `json:"popularity"`
	// MMRLists are EASE's lists re-ranked by MMR at each weight of MMRWeights: the diversity
	// they gain and the accuracy it costs.
	MMRLists     []Metrics `json:"ease_mmr"`
	TrainSeconds float64   `json:"train_seconds"` // EASE's final training
	// ALS's hyperparameters, the validation NDCG@K of each lambda tried, its final training.
	ALSParams       *ALSParams         `json:"als_params,omitempty"`
	ALSValidation   map[string]float64 `json:"als_validation_ndcg,omitempty"`
	ALSTrainSeconds float64            `json:"als_train_seconds,omitempty"`
}

// Run runs the offline protocol on x: the split, then for each model of o.Models its
// regulariser (given or chosen by validation) and its training on the training items, and
// every model (popularity too) evaluated on the test items. progress, when set, hears each
// step.
func Run(x *Interactions, o ProtocolOptions, progress func(format string, args ...any)) (*Report, error) {
	if progress == nil {
		progress = func(string, ...any) {}
	}
	if o.TestShare == 0 {
		o.TestShare = 0.2
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	runEASE, runALS := false, false
	switch o.Models {
	case "", "all":
		runEASE, runALS = true, true
	case "ease":
		runEASE = true
	case "als":
		runALS = true
	default:
		return nil, fmt.Errorf("recommendation: unknown models %q (ease, als or all)", o.Models)
	}
	rep := &Report{Protocol: fmt.Sprintf("implicit feedback; per-user random %d/%d split (seed %d); full ranking of unseen items; metrics at %d",
		int(math.Round(100*(1-o.TestShare))), int(math.Round(100*o.TestShare)), o.Seed, K),
		Users: len(x.Users), Items: x.Items, Interactions: x.Count(), Seed: o.Seed}
	train, test := Split(x, o.TestShare, o.Seed)
	progress("split: %d users, %d items, %d interactions (%d for training)", rep.Users, rep.Items, rep.Interactions, train.Count())
	// The models are trained first and evaluated after: the similarity the evaluation needs
	// is built once they are, as it was before ALS (the run's peak memory is EASE's grid).
	var ease *EASE
	var als *ALS
	var err error
	if runEASE {
		if ease, err = trainEASEProtocol(rep, train, o, progress); err != nil {
			return nil, err
		}
	}
	if runALS {
		if als, err = trainALSProtocol(rep, train, o, progress); err != nil {
			return nil, err
		}
	}
	progress("evaluating")
	sim := TrainSimilarity(train, 100)
	ev := Evaluator{K: K, Sim: sim}
	if ease != nil {
		m := ev.Evaluate(ease, train, test)
		rep.EASE = &m
	}
	if als != nil {
		m := ev.Evaluate(als, train, test)
		rep.ALS = &m
	}
	rep.Popularity = ev.Evaluate(TrainPopularity(train), train, test)
	if ease != nil {
		for _, w := range MMRWeights {
			progress("EASE re-ranked by MMR, relevance weight %g", w)
			ev.MMR = w
			rep.MMRLists = append(rep.MMRLists, ev.Evaluate(ease, train, test))
		}
	}
	head := rep.EASE
	rep.Model = "ease"
	if head == nil {
		head, rep.Model = rep.ALS, "als"
	}
	rep.NDCG, rep.Precision, rep.Recall, rep.Coverage = head.NDCG, head.Precision, head.Recall, head.Coverage
	return rep, nil
}

func trainEASEProtocol(rep *Report, train *Interactions, o ProtocolOptions, progress func(string, ...any)) (*EASE, error) {
	rep.Lambda = o.Lambda
	if rep.Lambda == 0 {
		progress("choosing EASE's lambda on a validation split: %v", Lambdas)
		best, grid, err := SelectEASE(train, Lambdas, K, o.Seed)
		if err != nil {
			return nil, err
		}
		rep.Lambda, rep.Validation = best, map[string]float64{}
		for l, v := range grid {
			rep.Validation[strconv.FormatFloat(l, 'g', -1, 64)] = v
		}
		progress("lambda %g", best)
	}
	start := time.Now()
	ease, err := TrainEASE(train, rep.Lambda)
	if err != nil {
		return nil, err
	}
	rep.TrainSeconds = time.Since(start).Seconds()
	progress("EASE trained in %.1f s", rep.TrainSeconds)
	return ease, nil
}

func trainALSProtocol(rep *Report, train *Interactions, o ProtocolOptions, progress func(string, ...any)) (*ALS, error) {
	cfg := o.ALS
	if cfg.Lambda == 0 {
		c := cfg.withDefaults()
		progress("choosing ALS's lambda on a validation split (%d factors, alpha %g, %d iterations): %v", c.Factors, c.Alpha, c.Iterations, ALSLambdas)
		best, grid, err := SelectALS(train, cfg, ALSLambdas, K, o.Seed)
		if err != nil {
			return nil, err
		}
		cfg.Lambda, rep.ALSValidation = best, map[string]float64{}
		for l, v := range grid {
			rep.ALSValidation[strconv.FormatFloat(l, 'g', -1, 64)] = v
		}
		progress("ALS lambda %g", best)
	}
	start := time.Now()
	als, err := TrainALS(train, cfg)
	if err != nil {
		return nil, err
	}
	rep.ALSTrainSeconds = time.Since(start).Seconds()
	rep.ALSParams = &ALSParams{Factors: als.Factors, Lambda: als.Lambda, Alpha: als.Alpha, Iterations: als.Iterations}
	progress("ALS trained in %.1f s", rep.ALSTrainSeconds)
	return als, nil
}
