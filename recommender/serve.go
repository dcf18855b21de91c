package recommender

import (
	"context"
	"math"
	"regexp"
	"slices"
	"sync"
	"time"

	"github.com/symbiont/symbiont"
	"github.com/symbiont/symbiont/access"
	"github.com/symbiont/symbiont/recommendation"
)

// PurposePersonalization is the purpose a consumer's history is read under to serve them.
const PurposePersonalization = "personalization"

// MaxN bounds a list's length.
const MaxN = 100

// Request asks for one consumer's list.
type Request struct {
	BrandID    int64
	ConsumerID int64  // 0: a consumer the brand does not know (served the non-personalised list)
	N          int    // 1 to MaxN
	Surface    string // where the list is shown ("home", "email"): echoed, and counted apart
	Locale     string // of the explanations: "en" (default) or "zh-CN"
	// Categories, when set, keeps only items of these catalogue categories; Exclude leaves
	// out items of those.
	Categories []string
	Exclude    []string
	Actor      symbiont.Actor
	RequestID  string
}

// List is a consumer's recommendations.
type List struct {
	// Personalized is true when the consumer's own history shaped the list; Reason says why
	// not otherwise: a consent reason of package access (no_consent, withdrawn, expired,
	// refused), no_history, or no_model.
	Personalized bool   `json:"personalized"`
	Reason       string `json:"reason,omitempty"`
	Surface      string `json:"surface,omitempty"`
	Items        []Item `json:"items"`
	// Model is the version that ranked the list (nil before the first training).
	Model *ModelRef `json:"model"`
	// Diversity is the MMR weight the list was re-ranked with.
	Diversity float64 `json:"diversity"`
}

// ModelRef names a model version.
type ModelRef struct {
	Version   string    `json:"version"`
	Kind      string    `json:"kind"`
	TrainedAt time.Time `json:"trained_at"`
}

// Item is one recommended item with the reasons it is there.
type Item struct {
	ID       string  `json:"id"`
	Title    string  `json:"title"`
	Category string  `json:"category"`
	Score    float64 `json:"score"`
	Why      []Why   `json:"why"`
}

// Why kinds.
const (
	WhyHistory   = "history"   // an item of the consumer's history (Item, Interaction, Category)
	WhyDifferent = "different" // picked for variety by MMR, not by score alone
	WhyTrending  = "trending"  // popular within RecentDays
	WhyPopular   = "popular"   // popular over the training
	WhyNew       = "new"       // newer than the model
)

// Why is one reason, structured and in the consumer's language.
type Why struct {
	Kind string `json:"kind"`
	Text string `json:"text"`
	// Item is the history item cited; Interaction what the consumer did with it; Category the
	// data category it was read from (always one the consumer granted for personalization).
	Item        string `json:"item,omitempty"`
	Interaction string `json:"interaction,omitempty"`
	Category    string `json:"category,omitempty"`
}

var surfaceRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,63}$`)

// Recommend ranks the brand's live items for one consumer. The consumer's history is read
// through access under the personalization purpose (recorded, with the model version, in
// their ledger): only categories granted now are read, so a withdrawal holds from the next
// call, and a new interaction changes the next list (the model scores the history as read
// now, without retraining). Without a grant, or without history, the list is the
// non-personalised one (trending, popular, new) and reads nothing of the consumer.
func (s *Service) Recommend(ctx context.Context, req Request) (*List, error) {
	if req.N == 0 {
		req.N = 10
	}
	if req.N < 1 || req.N > MaxN {
		return nil, symbiont.Errorf(symbiont.EINVALID, "n must be from 1 to %d.", MaxN).With("field", "n")
	}
	if req.Surface != "" && !surfaceRE.MatchString(req.Surface) {
		return nil, symbiont.Errorf(symbiont.EINVALID, "surface must be 1–64 lowercase letters, digits, '_', '.' or '-'.").With("field", "surface")
	}
	if len(req.Categories)+len(req.Exclude) > 50 {
		return nil, symbiont.Errorf(symbiont.EINVALID, "At most 50 catalogue categories to keep or exclude.").With("field", "category")
	}
	st, err := s.Settings(req.BrandID)
	if err != nil {
		return nil, err
	}
	tx := s.texts(req.BrandID, req.Locale)
	out := &List{Surface: req.Surface, Items: []Item{}, Diversity: st.Diversity}
	w, err := s.view(ctx, req.BrandID)
	if err != nil {
		return nil, err
	}
	m := s.Current(req.BrandID)
	if m == nil {
		out.Reason = "no_model"
		s.appendNew(w, req, nil, out, nil, tx, req.N)
		return out, nil
	}
	out.Model = &ModelRef{Version: m.Meta.Version, Kind: m.Meta.Kind, TrainedAt: m.Meta.TrainedAt}

	d := &access.Data{}
	if req.ConsumerID == 0 { // unknown to the brand: nothing granted, nothing to read
		out.Reason = access.ReasonNoConsent
	} else {
		if d, err = s.access.Read(ctx, access.Request{BrandID: req.BrandID, ConsumerID: req.ConsumerID, Purpose: PurposePersonalization,
			Categories: m.categories(s), Actor: req.Actor, RequestID: req.RequestID, Model: m.Meta.Version}); err != nil {
			return nil, err
		}
	}
	h := m.history(s.kinds(req.BrandID), d)
	switch {
	case out.Reason != "":
	case len(d.Withheld) == len(m.categories(s)) && len(d.Withheld) > 0:
		out.Reason = withheldReason(d.Withheld)
	case len(h.items) == 0:
		out.Reason = "no_history"
	}
	scores := m.scores.Get().(*[]float64)
	defer m.scores.Put(scores)
	sc := *scores
	var exclude map[int]bool
	if out.Reason == "" {
		out.Personalized = true
		m.model.Score(h.items, sc)
		exclude = h.exclude
	} else {
		m.fallback(sc)
	}
	ranked := s.rank(w, req, m, sc, exclude, st.Diversity, tx)
	if out.Personalized {
		s.explainAll(w, m, h, ranked, tx)
	} else {
		for i := range ranked {
			ranked[i].Why = append(m.popularWhy(ranked[i].index, tx), ranked[i].Why...)
		}
	}
	for _, r := range ranked {
		out.Items = append(out.Items, r.Item)
	}
	// One slot for an item newer than the model (cold start for items), when there is one;
	// more when the model has too few to offer.
	if len(out.Items) == req.N && len(out.Items) > 1 {
		s.appendNew(w, req, m, out, h.categories, tx, 1)
		if len(out.Items) > req.N {
			out.Items = slices.Delete(out.Items, req.N-1, req.N)
			ranked = ranked[:req.N-1]
		}
	} else {
		s.appendNew(w, req, m, out, h.categories, tx, req.N-len(out.Items))
	}
	m.expose(req.Surface, ranked)
	return out, nil
}

// withheldReason is why nothing was read: withdrawn when any category was, else the first.
func withheldReason(w []access.Withheld) string {
	for _, x := range w {
		if x.Reason == access.ReasonWithdrawn {
			return x.Reason
		}
	}
	return w[0].Reason
}

func (m *Model) categories(s *Service) []string {
	if len(m.Meta.Categories) > 0 {
		return m.Meta.Categories
	}
	return s.categories()
}

// history is a consumer's interactions as the model sees them.
type history struct {
	items   []int        // model indexes, ascending
	exclude map[int]bool // in the history, dismissed or rated low: not recommended again
	// how[i] is the strongest thing the consumer did with item i, and the data category it
	// was read from.
	how        map[int]signal
	categories map[string]int // catalogue categories of the history, by count (set in explainAll)
}

type signal struct{ kind, category string }

// strength orders interaction kinds for the explanation: a purchase says more than a view.
var strength = map[string]int{recommendation.KindView: 1, recommendation.KindCart: 2, recommendation.KindRating: 3, recommendation.KindPurchase: 4}

func (m *Model) history(kinds recommendation.EventKinds, d *access.Data) *history {
	h := &history{exclude: map[int]bool{}, how: map[int]signal{}}
	dismissed := map[int]bool{}
	for cat, msgs := range d.Data {
		for _, msg := range msgs {
			for _, sg := range kinds.Signals(msg) {
				i, ok := m.index[sg.Item]
				if !ok {
					continue
				}
				switch {
				case sg.Kind == recommendation.KindDismissal:
					dismissed[i] = true
				case sg.Kind == recommendation.KindRating && sg.Rating < 3:
					dismissed[i] = true // a low rating is not a liking, and not offered again
				default:
					if cur, ok := h.how[i]; !ok || strength[sg.Kind] > strength[cur.kind] {
						h.how[i] = signal{sg.Kind, cat}
					}
				}
			}
		}
	}
	for i := range h.how {
		if dismissed[i] {
			delete(h.how, i)
			continue
		}
		h.items = append(h.items, i)
		h.exclude[i] = true // what they already know is not news (a factor model ranks it first)
	}
	for i := range dismissed {
		h.exclude[i] = true
	}
	slices.Sort(h.items)
	return h
}

// fallback scores the non-personalised list: trending first, then popular (ties: catalogue
// order).
func (m *Model) fallback(out []float64) {
	for i := range out {
		out[i] = 0
		if len(m.Meta.Popular) == len(out) {
			out[i] = m.Meta.Popular[i]
		}
		if len(m.Meta.Recent) == len(out) {
			out[i] += 1e6 * m.Meta.Recent[i]
		}
	}
}

func (m *Model) popularWhy(i int, tx map[string]string) []Why {
	switch {
	case len(m.Meta.Recent) > i && m.Meta.Recent[i] > 0:
		return []Why{{Kind: WhyTrending, Text: tx[WhyTrending]}}
	case len(m.Meta.Popular) > i && m.Meta.Popular[i] > 0:
		return []Why{{Kind: WhyPopular, Text: tx[WhyPopular]}}
	}
	return []Why{{Kind: WhyNew, Text: tx[WhyNew]}}
}

// ranked is an item of a list with its model index.
type ranked struct {
	Item
	index int
}

// rank picks req.N live, available items that pass the category filters: the best-scored
// candidates are checked against the catalogue (a few times as many as asked for, more when
// too many fail), then re-ranked by MMR; an item MMR moved into the list is marked different.
func (s *Service) rank(w *view, req Request, m *Model, scores []float64, exclude map[int]bool, weight float64, tx map[string]string) []ranked {
	want := max(3*req.N, 30)
	// Left out by scoring them −∞ (the request's own scores): one pass over the catalogue
	// without a lookup per item. Those already checked go the same way.
	for i := range exclude {
		scores[i] = math.Inf(-1)
	}
	var pass, checked []int
	var saved []float64
	items := map[int]*entry{}
	for round := 0; round < 4 && len(pass) < 2*req.N; round++ {
		cand := recommendation.Top(scores, want, nil)
		for len(cand) > 0 && math.IsInf(scores[cand[len(cand)-1]], -1) {
			cand = cand[:len(cand)-1]
		}
		if len(cand) == 0 {
			break
		}
		ids := make([]string, len(cand))
		for k, i := range cand {
			ids[k] = m.Meta.ItemIDs[i]
		}
		live := w.get(ids)
		for _, i := range cand {
			it, ok := live[m.Meta.ItemIDs[i]]
			if ok && it.Available && keep(it.Category, req) {
				pass = append(pass, i)
				items[i] = it
			}
		}
		checked = append(checked, cand...)
		for _, i := range cand {
			saved = append(saved, scores[i])
			scores[i] = math.Inf(-1)
		}
		want *= 4
	}
	for k, i := range checked { // back, for MMR's relevance and the list's scores
		scores[i] = saved[k]
	}
	// pass is in score order within each round, and rounds are in score order.
	picked := recommendation.MMR(scores, pass, req.N, weight, m.model)
	byScore := map[int]bool{}
	for _, i := range pass[:min(req.N, len(pass))] {
		byScore[i] = true
	}
	out := make([]ranked, len(picked))
	for k, i := range picked {
		it := items[i]
		out[k] = ranked{Item: Item{ID: it.ID, Title: it.Title, Category: it.Category, Score: scores[i], Why: []Why{}}, index: i}
		if !byScore[i] {
			out[k].Why = append(out[k].Why, Why{Kind: WhyDifferent, Text: tx[WhyDifferent]})
		}
	}
	return out
}

func keep(category string, req Request) bool {
	if len(req.Categories) > 0 && !slices.Contains(req.Categories, category) {
		return false
	}
	return !slices.Contains(req.Exclude, category)
}

// explainAll gives each item the history item that contributed most to its score (among the
// few best, the first still in the catalogue, for its title); every history item was read
// from a granted category, so no explanation cites another.
func (s *Service) explainAll(w *view, m *Model, h *history, list []ranked, tx map[string]string) {
	const cite = 3
	best := make([][]int, len(list))
	items, shares := make([]int, len(list)), make([][]float64, len(list))
	for k, r := range list {
		items[k], shares[k] = r.index, make([]float64, len(h.items))
	}
	m.model.ExplainAll(h.items, items, shares)
	var ids []string
	for k := range list {
		contrib := shares[k]
		order := make([]int, 0, len(h.items))
		for j := range h.items {
			if contrib[j] > 0 {
				order = append(order, j)
			}
		}
		slices.SortFunc(order, func(a, b int) int {
			if contrib[a] > contrib[b] {
				return -1
			}
			if contrib[a] < contrib[b] {
				return 1
			}
			return a - b
		})
		for _, j := range order[:min(cite, len(order))] {
			best[k] = append(best[k], h.items[j])
			ids = append(ids, m.Meta.ItemIDs[h.items[j]])
		}
	}
	live := w.get(ids)
	all := make([]string, len(h.items))
	for k, i := range h.items {
		all[k] = m.Meta.ItemIDs[i]
	}
	h.categories = map[string]int{}
	for _, it := range w.get(all) {
		h.categories[it.Category]++
	}
	for k := range list {
		var why []Why
		for _, i := range best[k] {
			it, ok := live[m.Meta.ItemIDs[i]]
			if !ok {
				continue
			}
			sg := h.how[i]
			why = append(why, Why{Kind: WhyHistory, Text: sprintf(tx[sg.kind], it.Title), Item: it.ID, Interaction: sg.kind, Category: sg.category})
			break
		}
		why = append(why, list[k].Why...) // different, when MMR moved it in
		if len(why) == 0 {
			why = m.popularWhy(list[k].index, tx)
		}
		list[k].Why = why
	}
}

// expose counts what was shown, per surface: the exposure Gini and coverage of served lists.
func (m *Model) expose(surface string, list []ranked) {
	c, ok := m.exposure.Load(surface)
	if !ok {
		// Surfaces are the client's words: beyond maxSurfaces they are counted together, so
		// that many names cannot each take a counter per item.
		if m.surfaces.Add(1) > maxSurfaces {
			surface = otherSurface
		}
		c, _ = m.exposure.LoadOrStore(surface, &counts{n: make([]int64, len(m.Meta.ItemIDs))})
	}
	e := c.(*counts)
	e.mu.Lock()
	for _, r := range list {
		e.n[r.index]++
	}
	e.lists++
	e.mu.Unlock()
}

// maxSurfaces bounds the surfaces whose exposure is counted apart, per model.
const maxSurfaces = 32

// otherSurface counts the surfaces beyond maxSurfaces.
const otherSurface = "(other)"

type counts struct {
	mu    sync.Mutex
	n     []int64
	lists int64
}

// Exposure is what a model's served lists showed on one surface since it started serving.
type Exposure struct {
	Surface  string  `json:"surface"`
	Lists    int64   `json:"lists"`
	Coverage float64 `json:"coverage"` // share of the model's items shown at least once
	Gini     float64 `json:"gini"`     // of how often each item was shown
}

// Exposure reports the served lists, per surface.
func (m *Model) Exposure() []Exposure {
	var out []Exposure
	m.exposure.Range(func(k, v any) bool {
		c := v.(*counts)
		c.mu.Lock()
		x := make([]float64, len(c.n))
		shown := 0
		for i, n := range c.n {
			x[i] = float64(n)
			if n > 0 {
				shown++
			}
		}
		e := Exposure{Surface: k.(string), Lists: c.lists}
		c.mu.Unlock()
		if len(x) > 0 {
			e.Coverage = float64(shown) / float64(len(x))
		}
		e.Gini = recommendation.Gini(x)
		out = append(out, e)
		return true
	})
	slices.SortFunc(out, func(a, b Exposure) int {
		if a.Surface < b.Surface {
			return -1
		}
		if a.Surface > b.Surface {
			return 1
		}
		return 0
	})
	return out
}
