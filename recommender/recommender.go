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
	"time"

	"github.com/symbiont/symbiont"
	"github.com/symbiont/symbiont/access"
	"github.com/symbiont/symbiont/catalog"
	"github.com/symbiont/symbiont/recommendation"
)

// DefaultCategories are what a model learns from unless configured otherwise.
var DefaultCategories = []string{"purchases", "browsing"}

// Model is one trained version, ready to score.
type Model struct {
	Meta  recommendation.Meta
	model recommendation.Scorer
	index map[string]int // item id → matrix index
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
	// EASEItems is the largest catalogue trained with EASE (DefaultEASEItems when 0); a
	// larger one is trained with ALS, up to recommendation.MaxALSItems.
	EASEItems int

	mu     sync.Mutex // one training at a time per service
	models sync.Map   // brand id → *Model
}

// NewService returns the service keeping its model files under dir.
func NewService(a *access.Service, c *catalog.Service, dir string, clock symbiont.Clock, log *slog.Logger) *Service {
	return &Service{access: a, catalog: c, dir: dir, clock: clock, log: log}
}

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
}

// Train trains the brand's next model version and makes it the serving one. progress, when
// set, hears each step.
func (s *Service) Train(ctx context.Context, brandID int64, progress func(format string, args ...any)) (*TrainResult, error) {
	if progress == nil {
		progress = func(string, ...any) {}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	start := time.Now()
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
	progress("training %s over %d items", version, len(ids))
	kinds := recommendation.DefaultEventKinds
	if s.Kinds != nil {
		kinds = s.Kinds(brandID)
	}
	cats := s.Categories
	if cats == nil {
		cats = DefaultCategories
	}
	b := recommendation.NewBuilder(kinds, ids)
	read, err := s.access.Train(ctx, access.Training{BrandID: brandID, Model: version, Categories: cats,
		Actor: symbiont.Actor{Kind: symbiont.ActorSystem, BrandID: brandID, KeyID: "recommendations"}},
		func(d *access.TrainingData) error {
			ms := make([][]byte, len(d.Events))
			for i, e := range d.Events {
				ms[i] = e.Message
			}
			b.Add(d.ConsumerID, ms)
			return nil
		})
	if err != nil {
		return nil, err
	}
	x := b.Interactions()
	progress("read %d consumers (%d events), %d with interactions", read.Consumers, read.Events, len(x.Users))
	var model recommendation.Scorer
	var kind string
	var lambda float64
	if len(ids) <= easeItems {
		kind, lambda = "ease", 250.0
		if len(x.Users) >= 50 {
			if lambda, _, err = recommendation.SelectEASE(x, recommendation.Lambdas, recommendation.K, 1); err != nil {
				return nil, err
			}
		}
		if model, err = recommendation.TrainEASE(x, lambda); err != nil {
			return nil, err
		}
	} else {
		// ALS with its defaults: choosing λ by validation would train it once per value of
		// the grid, which at 50,000 items is minutes.
		als, err := recommendation.TrainALS(x, recommendation.ALSConfig{})
		if err != nil {
			return nil, err
		}
		model, kind, lambda = als, "als", als.Lambda
	}
	// The metadata served is the file's, kind and hyperparameters included.
	meta := recommendation.DescribeModel(recommendation.Meta{Version: version, ItemIDs: ids, Consumers: len(x.Users), TrainedAt: s.clock.Now()}, model)
	m, err := s.save(brandID, meta, model)
	if err != nil {
		return nil, err
	}
	s.models.Store(brandID, m)
	res := &TrainResult{Version: version, Consumers: len(x.Users), Items: len(ids), Events: read.Events, Kind: kind, Lambda: lambda, Took: time.Since(start)}
	s.log.Info("recommendation model trained", "brand", brandID, "version", version, "kind", kind, "consumers", res.Consumers, "items", res.Items, "lambda", lambda, "took", res.Took)
	return res, nil
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

// save writes the model to a temporary file, syncs it and renames it into place, so that a
// crash leaves the previous model or this one.
func (s *Service) save(brandID int64, meta recommendation.Meta, model recommendation.Scorer) (*Model, error) {
	dir := s.brandDir(brandID)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("recommender: %w", err)
	}
	f, err := os.CreateTemp(dir, ".training-*")
	if err != nil {
		return nil, fmt.Errorf("recommender: %w", err)
	}
	defer os.Remove(f.Name())
	if err := recommendation.WriteModel(f, meta, model); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, fmt.Errorf("recommender: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("recommender: %w", err)
	}
	if err := os.Rename(f.Name(), filepath.Join(dir, meta.Version+".model")); err != nil {
		return nil, fmt.Errorf("recommender: %w", err)
	}
	if d, err := os.Open(dir); err == nil { // the rename, durable
		d.Sync()
		d.Close()
	}
	return newModel(meta, model), nil
}

func newModel(meta recommendation.Meta, model recommendation.Scorer) *Model {
	m := &Model{Meta: meta, model: model, index: make(map[string]int, len(meta.ItemIDs))}
	for i, id := range meta.ItemIDs {
		m.index[id] = i
	}
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
