// Package recommender trains, keeps and serves brands' recommendation models. A training reads
// the consumers' interactions only through access.Train (purpose model_training, recorded in
// each consumer's ledger under the model's version), learns over the brand's live catalogue
// (package recommendation's EASE, or its ALS for a catalogue too large for EASE), writes the model to a file and swaps it in atomically; at
// start the newest file of each brand is loaded, so the serving model survives a restart.
package recommender

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/symbiont/symbiont"
	"github.com/symbiont/symbiont/access"
	"github.com/symbiont/symbiont/catalog"
	"github.com/symbiont/symbiont/recommendation"
)

// DefaultCategories are what a model learns from unless configured otherwise.
var DefaultCategories = []string{"purchases", "browsing"}

// DefaultLambda is EASE's regulariser when it cannot be chosen by validation.
const DefaultLambda = 250.0

// MinValidationUsers is the fewest consumers with interactions that a validation split (and
// the offline metrics) is made of; below it the model is trained with the default lambda.
const MinValidationUsers = 50

// MaxSelectItems bounds the catalogue over which lambda is chosen from the whole grid (13
// fits); a larger one validates only the previous value.
const MaxSelectItems = 1500

// RecentDays is the window of the "trending" list: interactions of the last week.
const RecentDays = 7

// Model is one trained version, ready to score.
type Model struct {
	Meta  recommendation.Meta
	model recommendation.Scorer
	index map[string]int // item id → matrix index

	scores   sync.Pool    // *[]float64 of len(ItemIDs), a request's scores
	exposure sync.Map     // surface → *counts
	surfaces atomic.Int64 // surfaces counted apart so far (maxSurfaces at most)
}

// Index returns the matrix index of an item, false when the model does not know it.
func (m *Model) Index(item string) (int, bool) { i, ok := m.index[item]; return i, ok }

// Score scores every item of the model for a history of item ids (unknown ones ignored).
func (m *Model) Score(history []string, out []float64) {
	h := make([]int, 0, len(history))
	for _, id := range history {
		if i, ok := m.index[id]; ok {
			h = append(h, i)
		}
	}
	m.model.Score(h, out)
}

// Similar returns up to n item ids most like item, false when the model does not know it.
func (m *Model) Similar(item string, n int) ([]string, bool) {
	i, ok := m.index[item]
	if !ok {
		return nil, false
	}
	var out []string
	for _, j := range m.model.Similar(i, n) {
		out = append(out, m.Meta.ItemIDs[j])
	}
	return out, true
}

// DefaultEASEItems is where the recommender turns from EASE to ALS: EASE's training grows as
// the cube of the items and its memory as the square (22 s and 570 MB at 5,000 items, see
// docs/benchmarks.md); ALS's grow with the interactions and items × factors.
const DefaultEASEItems = 5000

// Service keeps the models of every brand.
type Service struct {
	access  *access.Service
	catalog *catalog.Service
	dir     string
	clock   symbiont.Clock
	log     *slog.Logger
	// Kinds says how a brand's events read as interactions (DefaultEventKinds when nil).
	Kinds func(brandID int64) recommendation.EventKinds
	// Categories are what models learn from (DefaultCategories when nil).
	Categories []string
	// Phrases, when set, rewords a brand's explanations: for a locale, the phrases to use
	// instead of the defaults (keys as in package phrases: "purchase", "trending", …).
	Phrases func(brandID int64, locale string) map[string]string
	// EASEItems is the largest catalogue trained with EASE (DefaultEASEItems when 0); a
	// larger one is trained with ALS, up to recommendation.MaxALSItems.
	EASEItems int

	mu       sync.Mutex                      // one training at a time per service
	models   sync.Map                        // brand id → *Model
	statuses sync.Map                        // brand id → *status
	base     atomic.Pointer[context.Context] // Run's, for TrainAsync
	jobs     sync.WaitGroup                  // TrainAsync's trainings
	settings sync.Map                        // brand id → Settings
	views    sync.Map                        // brand id → *view
	listing  sync.Mutex                      // a brand's first catalogue listing
}

// NewService returns the service keeping its model files under dir.
func NewService(a *access.Service, c *catalog.Service, dir string, clock symbiont.Clock, log *slog.Logger) *Service {
	s := &Service{access: a, catalog: c, dir: dir, clock: clock, log: log}
	c.Watch(s.watch)
	return s
}

// Dir is the directory of the model files.
func (s *Service) Dir() string { return s.dir }

// Current returns the brand's serving model, nil when it has none.
func (s *Service) Current(brandID int64) *Model {
	if m, ok := s.models.Load(brandID); ok {
		return m.(*Model)
	}
	return nil
}

// TrainResult says what a training did.
type TrainResult struct {
	Version   string        `json:"version"`
	Consumers int           `json:"consumers"`
	Items     int           `json:"items"`
	Events    int           `json:"events"`
	Kind      string        `json:"kind"` // "ease" or "als"
	Lambda    float64       `json:"lambda"`
	Took      time.Duration `json:"took_ns"`
	// Offline is the model's and popularity's metrics on a validation split of the training
	// data (absent under MinValidationUsers).
	Offline *recommendation.Validation `json:"offline,omitempty"`
	// FinishedAt is set in Status.
	FinishedAt time.Time `json:"finished_at,omitzero"`
}

// Train trains the brand's next model version and makes it the serving one, one training at
// a time; its progress is in Status and the log.
func (s *Service) Train(ctx context.Context, brandID int64) (*TrainResult, error) {
	st := s.status(brandID)
	st.queue()
	s.mu.Lock()
	defer s.mu.Unlock()
	res, err := s.train(ctx, brandID, st)
	st.finish(res, err, s.clock.Now())
	if err != nil {
		s.log.Warn("recommendation training failed", "brand", brandID, "err", err)
	}
	return res, err
}

func (s *Service) train(ctx context.Context, brandID int64, st *status) (*TrainResult, error) {
	start := time.Now()
	st.step("", "listing the catalogue")
	var ids []string
	for after := ""; ; {
		items, next, err := s.catalog.List(ctx, brandID, after, catalog.MaxBatch)
		if err != nil {
			return nil, err
		}
		for _, it := range items {
			ids = append(ids, it.ID)
		}
		if next == "" {
			break
		}
		after = next
	}
	if len(ids) == 0 {
		return nil, symbiont.Errorf(symbiont.ECONFLICT, "The catalogue is empty: there is nothing to recommend.")
	}
	easeItems := s.EASEItems
	if easeItems == 0 {
		easeItems = DefaultEASEItems
	}
	easeItems = min(easeItems, recommendation.MaxEASEItems)
	if len(ids) > recommendation.MaxALSItems {
		return nil, symbiont.Errorf(symbiont.ECONFLICT, "The catalogue has %d items; the model is bounded at %d.", len(ids), recommendation.MaxALSItems)
	}
	version, err := s.nextVersion(brandID)
	if err != nil {
		return nil, err
	}
	st.step(version, "reading consumers' data (model_training)")
	s.log.Info("recommendation training started", "brand", brandID, "version", version, "items", len(ids))
	kinds, cats := s.kinds(brandID), s.categories()
	b := recommendation.NewBuilder(kinds, ids)
	b.RecentSince = s.clock.Now().AddDate(0, 0, -RecentDays)
	read, err := s.access.Train(ctx, access.Training{BrandID: brandID, Model: version, Categories: cats,
		Actor: symbiont.Actor{Kind: symbiont.ActorSystem, BrandID: brandID, KeyID: "recommendations"}},
		func(d *access.TrainingData) error {
			ms, at := make([][]byte, len(d.Events)), make([]time.Time, len(d.Events))
			for i, e := range d.Events {
				ms[i], at[i] = e.Message, e.ReceivedAt
			}
			b.AddTimed(d.ConsumerID, ms, at)
			if n := st.read(len(d.Events)); n%20000 == 0 {
				s.log.Info("recommendation training reading", "brand", brandID, "version", version, "consumers", n)
			}
			return nil
		})
	if err != nil {
		return nil, err
	}
	x := b.Interactions()
	s.log.Info("recommendation training read", "brand", brandID, "version", version, "consumers", read.Consumers, "events", read.Events, "with_interactions", len(x.Users))
	var model recommendation.Scorer
	var offline *recommendation.Validation
	if len(ids) <= easeItems {
		// EASE's regulariser is chosen by validation over the grid, which costs a fit per
		// value: over a large catalogue only the previous model's value (or DefaultLambda) is
		// validated, for the offline metrics.
		lambda := DefaultLambda
		if prev := s.Current(brandID); prev != nil && prev.Meta.Kind == "ease" && prev.Meta.Lambda > 0 {
			lambda = prev.Meta.Lambda
		}
		if len(x.Users) >= MinValidationUsers {
			grid := recommendation.Lambdas
			if len(ids) > MaxSelectItems {
				grid = []float64{lambda}
			}
			st.step(version, fmt.Sprintf("validating (%d regularisers)", len(grid)))
			if offline, err = recommendation.ValidateEASE(x, grid, recommendation.K, 1); err != nil {
				return nil, err
			}
			lambda = offline.Lambda
		}
		st.step(version, "fitting EASE")
		if model, err = recommendation.TrainEASE(x, lambda); err != nil {
			return nil, err
		}
	} else {
		// ALS with its defaults (chosen on MovieLens-100K): choosing λ by validation would
		// train it once per value of the grid, which at 50,000 items is minutes. One fit on
		// the validation split gives the offline metrics.
		if len(x.Users) >= MinValidationUsers {
			st.step(version, "validating")
			if offline, err = recommendation.ValidateALS(x, recommendation.ALSConfig{}, recommendation.K, 1); err != nil {
				return nil, err
			}
		}
		st.step(version, "fitting ALS")
		if model, err = recommendation.TrainALS(x, recommendation.ALSConfig{}); err != nil {
			return nil, err
		}
	}
	st.step(version, "saving")
	popular := make([]float64, len(ids))
	for _, h := range x.Users {
		for _, i := range h {
			popular[i]++
		}
	}
	// The metadata served is the file's, kind and hyperparameters included.
	meta := recommendation.DescribeModel(recommendation.Meta{Version: version, ItemIDs: ids, Consumers: len(x.Users), TrainedAt: s.clock.Now(),
		Categories: cats, Popular: popular, Recent: b.Recent(), RecentDays: RecentDays, Offline: offline}, model)
	m, err := s.save(brandID, meta, model)
	if err != nil {
		return nil, err
	}
	s.models.Store(brandID, m)
	res := &TrainResult{Version: version, Consumers: len(x.Users), Items: len(ids), Events: read.Events, Kind: meta.Kind, Lambda: meta.Lambda,
		Offline: offline, Took: time.Since(start)}
	s.log.Info("recommendation model trained", "brand", brandID, "version", version, "kind", meta.Kind, "consumers", res.Consumers, "items", res.Items,
		"lambda", meta.Lambda, "took", res.Took)
	return res, nil
}

func (s *Service) kinds(brandID int64) recommendation.EventKinds {
	if s.Kinds != nil {
		return s.Kinds(brandID)
	}
	return recommendation.DefaultEventKinds
}

func (s *Service) categories() []string {
	if s.Categories != nil {
		return s.Categories
	}
	return DefaultCategories
}

var fileName = regexp.MustCompile(`^recs-v([0-9]+)\.model$`)

// brandDir is where a brand's model files live.
func (s *Service) brandDir(brandID int64) string {
	return filepath.Join(s.dir, strconv.FormatInt(brandID, 10))
}

// versions lists the brand's model files' version numbers, ascending.
func (s *Service) versions(brandID int64) ([]int, error) {
	ents, err := os.ReadDir(s.brandDir(brandID))
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("recommender: %w", err)
	}
	var vs []int
	for _, e := range ents {
		if m := fileName.FindStringSubmatch(e.Name()); m != nil {
			n, _ := strconv.Atoi(m[1])
			vs = append(vs, n)
		}
	}
	slices.Sort(vs)
	return vs, nil
}

func (s *Service) nextVersion(brandID int64) (string, error) {
	vs, err := s.versions(brandID)
	if err != nil {
		return "", err
	}
	n := 1
	if len(vs) > 0 {
		n = vs[len(vs)-1] + 1
	}
	return "recs-v" + strconv.Itoa(n), nil
}

// save writes the model file durably and returns the model.
func (s *Service) save(brandID int64, meta recommendation.Meta, model recommendation.Scorer) (*Model, error) {
	if err := s.writeFile(brandID, meta.Version+".model", func(f *os.File) error { return recommendation.WriteModel(f, meta, model) }); err != nil {
		return nil, err
	}
	return newModel(meta, model), nil
}

// writeFile writes one of the brand's files to a temporary name, syncs it and renames it into
// place, so that a crash leaves the previous file or this one, never half of one.
func (s *Service) writeFile(brandID int64, name string, write func(*os.File) error) error {
	dir := s.brandDir(brandID)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("recommender: %w", err)
	}
	f, err := os.CreateTemp(dir, ".write-*")
	if err != nil {
		return fmt.Errorf("recommender: %w", err)
	}
	defer os.Remove(f.Name())
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("recommender: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("recommender: %w", err)
	}
	if err := os.Rename(f.Name(), filepath.Join(dir, name)); err != nil {
		return fmt.Errorf("recommender: %w", err)
	}
	if d, err := os.Open(dir); err == nil { // the rename, durable
		d.Sync()
		d.Close()
	}
	return nil
}

func newModel(meta recommendation.Meta, model recommendation.Scorer) *Model {
	m := &Model{Meta: meta, model: model, index: make(map[string]int, len(meta.ItemIDs))}
	for i, id := range meta.ItemIDs {
		m.index[id] = i
	}
	m.scores.New = func() any { s := make([]float64, len(meta.ItemIDs)); return &s }
	return m
}

// Load makes the newest model file of each brand the serving model (at start).
func (s *Service) Load() (int, error) {
	ents, err := os.ReadDir(s.dir)
	if os.IsNotExist(err) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("recommender: %w", err)
	}
	n := 0
	for _, e := range ents {
		brandID, err := strconv.ParseInt(e.Name(), 10, 64)
		if err != nil || !e.IsDir() {
			continue
		}
		vs, err := s.versions(brandID)
		if err != nil || len(vs) == 0 {
			continue
		}
		path := filepath.Join(s.brandDir(brandID), "recs-v"+strconv.Itoa(vs[len(vs)-1])+".model")
		f, err := os.Open(path)
		if err != nil {
			return n, fmt.Errorf("recommender: %w", err)
		}
		meta, model, err := recommendation.ReadModel(f)
		f.Close()
		if err != nil {
			return n, fmt.Errorf("recommender: %s: %w", path, err)
		}
		s.models.Store(brandID, newModel(meta, model))
		n++
	}
	return n, nil
}
