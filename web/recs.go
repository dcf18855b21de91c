package web

import (
	"errors"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/symbiont/symbiont"
	"github.com/symbiont/symbiont/access"
	"github.com/symbiont/symbiont/recommendation"
	"github.com/symbiont/symbiont/recommender"
	"github.com/symbiont/symbiont/tenant"
)

// Recommendations in the pages: the wallet's "For you" (the consumer's own list, read through
// the recommender like GET /v1/me/recommendations), and the console's model, training and
// settings page (like GET /v1/recommendations/status, /model and /settings).

// ForYouItem is one recommended item as the wallet shows it.
type ForYouItem struct {
	Title, Category string
	Why             []string
}

// forYou is the consumer's recommendations, with the reasons of each, or the reason the list
// is not personalised. The read of the consumer's history is recorded (Recommend does it).
func (s *Server) forYou(w http.ResponseWriter, r *http.Request, ws *walletSession, p *Page) error {
	p.Title = p.T("nav.for_you")
	l, err := s.Recommender.Recommend(r.Context(), recommender.Request{BrandID: ws.actor.BrandID, ConsumerID: ws.actor.ConsumerID, N: 10,
		Surface: "wallet", Locale: p.Lang, Actor: ws.actor, RequestID: "wallet-" + newKey()[4:]})
	if err != nil {
		return err
	}
	vocab, err := s.Consent.Vocabulary(r.Context(), ws.actor.BrandID)
	if err != nil {
		return err
	}
	items := make([]ForYouItem, len(l.Items))
	for i, it := range l.Items {
		items[i] = ForYouItem{Title: it.Title, Category: it.Category}
		for _, y := range it.Why {
			items[i].Why = append(items[i].Why, y.Text)
		}
	}
	data := map[string]any{"Items": items, "Personalized": l.Personalized, "Model": l.Model,
		"Purpose": p.label("pur", recommender.PurposePersonalization, vocab)}
	if !l.Personalized {
		reason := l.Reason
		if _, ok := messages["en"]["foryou.reason."+reason]; !ok {
			reason = "other"
		}
		data["Reason"] = p.T("foryou.reason." + reason)
		data["Consent"] = reason == access.ReasonNoConsent || reason == access.ReasonWithdrawn || reason == access.ReasonExpired || reason == access.ReasonRefused
	}
	p.Data = data
	s.render(w, "wallet_for_you", p)
	return nil
}

// --- Console: recommendations -------------------------------------------------------------

// Metric is one offline metric of the model and of popularity, with bars drawn to scale.
type Metric struct {
	Name              string
	Model, Popularity float64
	Bars              template.HTML
}

// RecSettingsForm is the settings form as shown: the stored values, or what was typed.
type RecSettingsForm struct {
	Diversity, TrainEvery string
	Field                 string // the field in error
}

func (s *Server) recommendationsPage(w http.ResponseWriter, r *http.Request, cs *consoleSession, p *Page) error {
	if err := cs.need(p, tenant.ScopeData); err != nil {
		return err
	}
	set, err := s.Recommender.Settings(cs.brand.ID)
	if err != nil {
		return err
	}
	return s.renderRecommendations(w, r, cs, p, RecSettingsForm{Diversity: formatWeight(set.Diversity), TrainEvery: formatEvery(time.Duration(set.TrainEvery))}, 0)
}

var validatingStep = regexp.MustCompile(`^validating \((\d+) regularisers\)$`)

// stepText says a training step of the recommender in the page's language.
func (p *Page) stepText(step string) string {
	if m := validatingStep.FindStringSubmatch(step); m != nil {
		n, _ := strconv.Atoi(m[1])
		return p.T("console.recs.step.validating", n)
	}
	switch step {
	case "":
		return ""
	case "listing the catalogue":
		return p.T("console.recs.step.listing")
	case "reading consumers' data (model_training)":
		return p.T("console.recs.step.reading")
	case "fitting":
		return p.T("console.recs.step.fitting")
	case "saving":
		return p.T("console.recs.step.saving")
	}
	return step
}

func (s *Server) renderRecommendations(w http.ResponseWriter, r *http.Request, cs *consoleSession, p *Page, form RecSettingsForm, status int) error {
	p.Title = p.T("console.nav.recommendations")
	bid := cs.brand.ID
	st, err := s.Recommender.Status(bid)
	if err != nil {
		return err
	}
	vocab, err := s.Consent.Vocabulary(r.Context(), bid)
	if err != nil {
		return err
	}
	data := map[string]any{"Status": st, "State": p.T("console.recs.state." + st.State), "Step": p.stepText(st.Step),
		"Busy": st.State != "idle", "Form": form}
	if m := s.Recommender.Current(bid); m != nil {
		var cats []string
		for _, c := range m.Meta.Categories {
			cats = append(cats, p.label("cat", c, vocab))
		}
		data["Model"] = m.Meta
		data["Items"] = len(m.Meta.ItemIDs)
		data["Categories"] = strings.Join(cats, p.T("use.and"))
		data["Lambda"] = formatNumber(m.Meta.Lambda)
		data["Exposure"] = m.Exposure()
		if o := m.Meta.Offline; o != nil {
			data["Offline"] = o
			data["Metrics"] = offlineMetrics(o, p)
		}
	}
	if st.Last != nil {
		data["LastLambda"] = formatNumber(st.Last.Lambda)
		data["LastTook"] = st.Last.Took.Round(time.Millisecond).String()
	}
	p.Status = status
	p.Data = data
	s.render(w, "console_recommendations", p)
	return nil
}

// offlineMetrics lists the validation's metrics, each with a pair of bars (model, popularity)
// drawn to the same scale, 0 to 1.
func offlineMetrics(o *recommendation.Validation, p *Page) []Metric {
	k := o.Model.K
	if k == 0 {
		k = recommendation.K
	}
	rows := []Metric{
		{Name: p.T("console.recs.metric.ndcg", k), Model: o.Model.NDCG, Popularity: o.Popularity.NDCG},
		{Name: p.T("console.recs.metric.precision", k), Model: o.Model.Precision, Popularity: o.Popularity.Precision},
		{Name: p.T("console.recs.metric.recall", k), Model: o.Model.Recall, Popularity: o.Popularity.Recall},
		{Name: p.T("console.recs.metric.coverage"), Model: o.Model.Coverage, Popularity: o.Popularity.Coverage},
	}
	for i := range rows {
		rows[i].Bars = metricBars(rows[i], p)
	}
	return rows
}

// metricBars draws a metric's two bars as SVG (the numbers are in the table beside it).
func metricBars(m Metric, p *Page) template.HTML {
	const width, bar = 200.0, 10.0
	clamp := func(v float64) float64 {
		if math.IsNaN(v) || v < 0 {
			return 0
		}
		return math.Min(v, 1)
	}
	title := template.HTMLEscapeString(p.T("console.recs.metric.bars", m.Name, formatMetric(m.Model), formatMetric(m.Popularity)))
	return template.HTML(fmt.Sprintf(`<svg class="bars" role="img" viewBox="0 0 %.0f %.0f" width="%.0f" height="%.0f"><title>%s</title>`+
		`<rect x="0" y="0" width="%.1f" height="%.0f" fill="#0b5cad"></rect>`+
		`<rect x="0" y="%.0f" width="%.1f" height="%.0f" fill="#b34700"></rect></svg>`,
		width, 2*bar+2, width, 2*bar+2, title, width*clamp(m.Model), bar, bar+2, width*clamp(m.Popularity), bar))
}

func formatMetric(v float64) string { return fmt.Sprintf("%.3f", v) }

func formatNumber(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

func formatWeight(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// formatEvery writes a schedule as the form reads it: 0, or a whole number of days, hours or
// minutes ("1d", "6h", "90m"), else Go's form.
func formatEvery(d time.Duration) string {
	switch {
	case d == 0:
		return "0"
	case d%(24*time.Hour) == 0:
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	case d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	case d%time.Minute == 0:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	}
	return d.String()
}

// parseEvery reads a schedule: 0, a number of days ("7d") or a Go duration ("24h", "90m").
func parseEvery(s string) (time.Duration, bool) {
	s = strings.TrimSpace(s)
	if s == "0" {
		return 0, true
	}
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days < 0 || days > 3650 {
			return 0, false
		}
		return time.Duration(days) * 24 * time.Hour, true
	}
	d, err := time.ParseDuration(s)
	return d, err == nil && d >= 0
}

// trainNow starts a training in the background and returns to the page, which follows it.
func (s *Server) trainNow(w http.ResponseWriter, r *http.Request, cs *consoleSession, p *Page) error {
	if err := cs.need(p, tenant.ScopeData); err != nil {
		return err
	}
	done := "train_started"
	if !s.Recommender.TrainAsync(r.Context(), cs.brand.ID) {
		done = "train_busy"
	}
	redirect(w, r, "/console/recommendations", done)
	return nil
}

// saveRecSettings replaces the diversity weight and the schedule; a value out of range is
// shown in the form with its error, and nothing changes.
func (s *Server) saveRecSettings(w http.ResponseWriter, r *http.Request, cs *consoleSession, p *Page) error {
	if err := cs.need(p, tenant.ScopeData); err != nil {
		return err
	}
	form := RecSettingsForm{Diversity: strings.TrimSpace(r.PostForm.Get("diversity")), TrainEvery: strings.TrimSpace(r.PostForm.Get("train_every"))}
	fail := func(field string) error {
		form.Field = field
		p.Error = p.T("console.recs.err." + field)
		return s.renderRecommendations(w, r, cs, p, form, http.StatusBadRequest)
	}
	div, err := strconv.ParseFloat(strings.ReplaceAll(form.Diversity, ",", "."), 64)
	if err != nil {
		return fail("diversity")
	}
	every, ok := parseEvery(form.TrainEvery)
	if !ok {
		return fail("train_every")
	}
	set := recommender.Settings{Diversity: div, TrainEvery: recommender.Duration(every)}
	if err := s.Recommender.PutSettings(cs.brand.ID, set); err != nil {
		var e *symbiont.Error
		if symbiont.ErrorCode(err) == symbiont.EINVALID && errors.As(err, &e) {
			if f, _ := e.Details["field"].(string); f == "diversity" || f == "train_every" {
				return fail(f)
			}
		}
		return err
	}
	redirect(w, r, "/console/recommendations#settings", "recs_saved")
	return nil
}
