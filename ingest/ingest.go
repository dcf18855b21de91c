// Package ingest takes events in the Segment HTTP Tracking API format, decides for each whether
// it may be stored (it is in the tracking plan and its category has an active grant), seals what
// may be stored with its consumer's data key and commits it through one group-committing writer.
// A batch is acknowledged only after its events are durable.
package ingest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/symbiont/symbiont"
	"github.com/symbiont/symbiont/consent"
	"github.com/symbiont/symbiont/identity"
	"github.com/symbiont/symbiont/segment"
	"github.com/symbiont/symbiont/store"
	"github.com/symbiont/symbiont/vault"
)

// Drop reasons, reported per message and counted in metrics.
const (
	ReasonInvalid   = "invalid"              // the message breaks the Segment spec (detail says how)
	ReasonNotInPlan = "not_in_tracking_plan" // the tracking plan does not map the event or any trait
	ReasonNoConsent = "no_consent"           // no active grant for the event's category
	ReasonUnknown   = "unknown_consumer"     // never consented to anything: nothing is kept
	// ReasonContextTraits warns that context.traits was removed from a stored event: traits
	// belong to their own categories and are stored only through identify calls, by the plan.
	ReasonContextTraits = "context_traits_dropped"
)

// Drop is a message that was not stored.
type Drop struct {
	MessageID string `json:"messageId"`
	Reason    string `json:"reason"`
	Detail    string `json:"detail,omitempty"`
}

// Warning is a message stored only in part (e.g. identify traits outside the plan).
type Warning struct {
	MessageID string   `json:"messageId"`
	Reason    string   `json:"reason"`
	Traits    []string `json:"traits,omitempty"`
}

// Result is the outcome of one request.
type Result struct {
	Accepted   int       `json:"accepted"`
	Duplicates int       `json:"duplicates"`
	Dropped    []Drop    `json:"dropped"`
	Warnings   []Warning `json:"warnings,omitempty"`
}

// Service is the ingestion pipeline.
type Service struct {
	store   store.Store
	consent *consent.Service
	graph   *identity.Graph
	vault   *vault.Vault
	clock   symbiont.Clock
	log     *slog.Logger

	plansMu sync.RWMutex
	plans   map[int64]*Plan

	signalCache // consent signals (signals.go)

	w *writer
	// counts tallies accepted and dropped messages per brand and day for the console.
	counts *tally

	received  prometheus.Counter
	accepted  prometheus.Counter
	dupes     prometheus.Counter
	dropped   *prometheus.CounterVec
	batchSize prometheus.Histogram
	commitDur prometheus.Histogram
}

// Options tune the pipeline.
type Options struct {
	// Writers is the number of concurrent committing writers: 2 by default (for SQLite, one
	// commits while the other's group is being made durable), more for PostgreSQL.
	Writers int
	// MaxGroup bounds the events committed in one transaction.
	MaxGroup int
}

// NewService returns a started pipeline; Close stops it after draining.
func NewService(st store.Store, cs *consent.Service, graph *identity.Graph, v *vault.Vault, clock symbiont.Clock, log *slog.Logger, reg prometheus.Registerer, opt Options) *Service {
	if opt.Writers <= 0 {
		// SQLite has one writer, but its commits are pipelined (store/sqlstore/group.go): while
		// one group waits for its fsync, a second writer has the next group committed, so
		// the store's writer never waits for the disk. More would only queue.
		opt.Writers = 2
	}
	if opt.MaxGroup <= 0 {
		opt.MaxGroup = 2000
	}
	s := &Service{store: st, consent: cs, graph: graph, vault: v, clock: clock, log: log, plans: map[int64]*Plan{}, counts: newTally(),
		received:  prometheus.NewCounter(prometheus.CounterOpts{Name: "symbiont_events_received_total", Help: "Events received."}),
		accepted:  prometheus.NewCounter(prometheus.CounterOpts{Name: "symbiont_events_accepted_total", Help: "Events stored (after the consent gate)."}),
		dupes:     prometheus.NewCounter(prometheus.CounterOpts{Name: "symbiont_events_duplicate_total", Help: "Events already stored (same messageId)."}),
		dropped:   prometheus.NewCounterVec(prometheus.CounterOpts{Name: "symbiont_events_dropped_total", Help: "Events not stored, by reason."}, []string{"reason"}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "symbiont_ingest_commit_events", Help: "Events per group commit.", Buckets: prometheus.ExponentialBuckets(1, 4, 8)}),
		commitDur: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "symbiont_ingest_commit_seconds", Help: "Duration of one group commit.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}),
	}
	s.signalsRecorded = prometheus.NewCounter(prometheus.CounterOpts{Name: "symbiont_consent_signal_records_total", Help: "Consent records made from the consent signals events carry."})
	if reg != nil {
		reg.MustRegister(s.received, s.accepted, s.dupes, s.dropped, s.batchSize, s.commitDur, s.signalsRecorded)
	}
	for _, r := range []string{ReasonInvalid, ReasonInvalidSignal, ReasonNotInPlan, ReasonNoConsent, ReasonUnknown} {
		s.dropped.WithLabelValues(r)
	}
	s.w = newWriter(s, opt)
	return s
}

// Close stops accepting work, commits what is queued, saves the daily tallies and returns.
func (s *Service) Close() {
	s.w.close()
	if err := s.FlushCounts(context.Background()); err != nil {
		s.log.Warn("ingest: saving daily tallies", slog.Any("err", err))
	}
}

// Plan returns a brand's tracking plan (an empty plan when none is set).
func (s *Service) Plan(ctx context.Context, brandID int64) (*Plan, error) {
	s.plansMu.RLock()
	p := s.plans[brandID]
	s.plansMu.RUnlock()
	if p != nil {
		return p, nil
	}
	var raw []byte
	var version int64
	if err := s.store.View(ctx, func(tx store.Tx) (err error) {
		raw, version, err = tx.TrackingPlan(ctx, brandID)
		return err
	}); err != nil {
		return nil, err
	}
	p = &Plan{Events: map[string]string{}, Traits: map[string]string{}}
	if raw != nil {
		if err := json.Unmarshal(raw, p); err != nil {
			return nil, fmt.Errorf("ingest: stored tracking plan of brand %d: %w", brandID, err)
		}
	}
	p.Version = version
	s.plansMu.Lock()
	s.plans[brandID] = p
	s.plansMu.Unlock()
	return p, nil
}

// ForgetPlan drops a brand's cached tracking plan (0: every brand's), after another node
// changed it.
func (s *Service) ForgetPlan(brandID int64) {
	s.plansMu.Lock()
	if brandID == 0 {
		clear(s.plans)
	} else {
		delete(s.plans, brandID)
	}
	s.plansMu.Unlock()
}

// PutPlan validates and replaces a brand's tracking plan. It applies to the next request.
func (s *Service) PutPlan(ctx context.Context, brandID int64, body []byte) (*Plan, error) {
	v, err := s.consent.Vocabulary(ctx, brandID)
	if err != nil {
		return nil, err
	}
	p, err := ParsePlan(body, v)
	if err != nil {
		return nil, err
	}
	raw, _ := json.Marshal(struct {
		Events map[string]string `json:"events"`
		Traits map[string]string `json:"traits"`
	}{p.Events, p.Traits})
	err = s.store.Update(ctx, func(tx store.Tx) (err error) {
		p.Version, err = tx.PutTrackingPlan(ctx, brandID, raw, s.clock.Now())
		return err
	})
	if err != nil {
		return nil, err
	}
	s.plansMu.Lock()
	s.plans[brandID] = p
	s.plansMu.Unlock()
	return p, nil
}

// MID returns the dedup key of a message: a digest of the brand, the client's messageId and a
// part name (identify calls are stored as one part per category).
func MID(brandID int64, messageID, part string) []byte {
	h := sha256.New()
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(brandID))
	h.Write(b[:])
	h.Write([]byte(messageID))
	h.Write([]byte{0})
	h.Write([]byte(part))
	return h.Sum(nil)[:16]
}

// pending is one message on its way to the store.
type pending struct {
	idx    int // position in the batch
	msgID  string
	events []*store.Event
}

// Ingest processes a parsed batch for a brand. gpc is true when the request carried Sec-GPC: 1.
func (s *Service) Ingest(ctx context.Context, brandID int64, batch *segment.Batch, gpc bool, actor symbiont.Actor) (*Result, error) {
	res := &Result{Dropped: []Drop{}}
	s.received.Add(float64(len(batch.Messages)))
	plan, err := s.Plan(ctx, brandID)
	if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	drop := func(m *segment.Message, reason, detail string) {
		res.Dropped = append(res.Dropped, Drop{MessageID: m.MessageID, Reason: reason, Detail: detail})
		s.dropped.WithLabelValues(reason).Inc()
	}

	// Phase 1: identity calls, in order, so that later events resolve to the stitched consumer.
	linked := make(map[int]bool)
	for i := range batch.Messages {
		m := &batch.Messages[i]
		if m.Err != nil || (m.Type != segment.TypeIdentify && m.Type != segment.TypeAlias) {
			continue
		}
		ok, err := s.stitch(ctx, brandID, m, now)
		if err != nil {
			return nil, err
		}
		linked[i] = ok
	}

	// Phase 2: resolve, gate and seal every message.
	var work []*pending
	consumers := map[int64]bool{}
	for i := range batch.Messages {
		m := &batch.Messages[i]
		if m.Err != nil {
			drop(m, ReasonInvalid, m.Err.Error())
			continue
		}
		cid, err := s.resolve(ctx, brandID, m)
		if err != nil {
			return nil, err
		}
		if m.Consent != nil {
			// The consent manager's decision this message carries takes effect before the
			// message is gated (signals.go).
			var created bool
			var bad string
			if cid, created, bad, err = s.applySignals(ctx, brandID, cid, m, gpc, actor, now); err != nil {
				return nil, err
			}
			if bad != "" {
				drop(m, ReasonInvalidSignal, bad)
				continue
			}
			if created && (m.Type == segment.TypeIdentify || m.Type == segment.TypeAlias) {
				if linked[i], err = s.stitch(ctx, brandID, m, now); err != nil {
					return nil, err
				}
			}
		}
		if m.Type == segment.TypeAlias {
			if linked[i] {
				res.Accepted++
				s.accepted.Inc()
			} else {
				drop(m, ReasonUnknown, "neither id is known to have consented to anything")
			}
			continue
		}
		if cid == 0 {
			drop(m, ReasonUnknown, "this person is not known to the brand: no consent was ever recorded for them")
			continue
		}
		if gpc && !consumers[cid] {
			// A browser's Global Privacy Control signal refuses marketing and partner sharing,
			// before the consumer's first message of the request is gated.
			if err := s.consent.RefuseGPC(ctx, brandID, cid, symbiont.Actor{Kind: symbiont.ActorSystem, KeyID: "gpc"}); err != nil {
				return nil, err
			}
		}
		consumers[cid] = true
		p := &pending{idx: i, msgID: m.MessageID}
		if m.Type == segment.TypeIdentify {
			parts, skipped, denied := s.splitTraits(plan, brandID, cid, m, now)
			if len(skipped) > 0 {
				res.Warnings = append(res.Warnings, Warning{MessageID: m.MessageID, Reason: ReasonNotInPlan, Traits: skipped})
			}
			if len(denied) > 0 {
				res.Warnings = append(res.Warnings, Warning{MessageID: m.MessageID, Reason: ReasonNoConsent, Traits: denied})
			}
			for cat, raw := range parts {
				ev, err := s.seal(ctx, brandID, cid, m, cat, cat, raw, now)
				if err != nil {
					return nil, err
				}
				p.events = append(p.events, ev)
			}
			sort.Slice(p.events, func(a, b int) bool { return p.events[a].Category < p.events[b].Category })
			if len(p.events) == 0 {
				if linked[i] {
					res.Accepted++ // the identity link itself was the point
					s.accepted.Inc()
				} else if len(denied) > 0 {
					drop(m, ReasonNoConsent, "no trait's category has an active grant")
				} else {
					drop(m, ReasonNotInPlan, "no trait is in the tracking plan")
				}
				continue
			}
		} else {
			cat := plan.categoryOf(m.Type, m.Event)
			if cat == "" {
				name := m.Event
				if m.Type != segment.TypeTrack {
					name = "$" + m.Type
				}
				drop(m, ReasonNotInPlan, fmt.Sprintf("the tracking plan does not map %q to a category", name))
				continue
			}
			if !s.consent.Index.AllowedAny(brandID, cid, cat, now) {
				drop(m, ReasonNoConsent, "no active grant for "+cat)
				continue
			}
			raw, stripped := stripContextTraits(m.Raw)
			if stripped {
				res.Warnings = append(res.Warnings, Warning{MessageID: m.MessageID, Reason: ReasonContextTraits})
			}
			ev, err := s.seal(ctx, brandID, cid, m, cat, "", raw, now)
			if err != nil {
				return nil, err
			}
			p.events = append(p.events, ev)
		}
		work = append(work, p)
	}

	if len(work) == 0 {
		s.CountResult(brandID, res)
		return res, nil
	}
	outcome, err := s.w.submit(ctx, work)
	if err != nil {
		return nil, err
	}
	for i, p := range work {
		switch outcome[i] {
		case outcomeInserted:
			res.Accepted++
			s.accepted.Inc()
		case outcomeDuplicate:
			res.Accepted++
			res.Duplicates++
			s.dupes.Inc()
		case outcomeDenied:
			drop(&batch.Messages[p.idx], ReasonNoConsent, "consent was withdrawn before the event was stored")
		}
	}
	s.CountResult(brandID, res)
	return res, nil
}

// seal builds the stored event of one message part.
func (s *Service) seal(ctx context.Context, brandID, cid int64, m *segment.Message, category, part string, raw []byte, now time.Time) (*store.Event, error) {
	msgID := m.MessageID
	if msgID == "" {
		// No messageId: nothing to deduplicate on, so every copy is kept.
		var b [16]byte
		binary.BigEndian.PutUint64(b[:8], uint64(now.UnixNano()))
		binary.BigEndian.PutUint64(b[8:], nextSeq())
		msgID = fmt.Sprintf("symbiont-%x", b)
	}
	e := &store.Event{BrandID: brandID, ConsumerID: cid, Category: category, MID: MID(brandID, msgID, part), Timestamp: m.EventTime(now), ReceivedAt: now, KeyOwner: cid}
	var err error
	if e.Payload, err = s.vault.Seal(ctx, brandID, cid, raw, e.AppendAAD(nil)); err != nil {
		return nil, err
	}
	return e, nil
}

var seq struct {
	sync.Mutex
	n uint64
}

func nextSeq() uint64 {
	seq.Lock()
	defer seq.Unlock()
	seq.n++
	return seq.n
}

// resolve finds the consumer a message is about: by userId, else by anonymousId.
func (s *Service) resolve(ctx context.Context, brandID int64, m *segment.Message) (int64, error) {
	type probe struct{ kind, value string }
	var probes []probe
	if m.UserID != "" {
		probes = append(probes, probe{identity.KindUserID, m.UserID})
	}
	if m.AnonymousID != "" {
		probes = append(probes, probe{identity.KindAnonymousID, m.AnonymousID})
	}
	for _, p := range probes {
		h, ok := s.graph.HashValue(brandID, p.kind, p.value)
		if !ok {
			continue
		}
		if id, ok := s.graph.Cached(brandID, p.kind, h); ok {
			return id, nil
		}
		var id int64
		if err := s.store.View(ctx, func(tx store.Tx) (err error) {
			id, err = s.graph.Lookup(ctx, tx, brandID, p.kind, h)
			return err
		}); err != nil {
			return 0, err
		}
		if id != 0 {
			return id, nil
		}
	}
	return 0, nil
}

// splitTraits splits an identify call's traits by category, keeping only categories with an
// active grant. Each part is stored as its own identify message holding just those traits.
func (s *Service) splitTraits(plan *Plan, brandID, cid int64, m *segment.Message, now time.Time) (parts map[string][]byte, skipped, denied []string) {
	var traits map[string]json.RawMessage
	if len(m.Traits) > 0 {
		_ = json.Unmarshal(m.Traits, &traits) // the parser checked it is an object
	}
	byCat := map[string]map[string]json.RawMessage{}
	for name, v := range traits {
		cat := plan.Traits[name]
		switch {
		case cat == "":
			skipped = append(skipped, name)
		case !s.consent.Index.AllowedAny(brandID, cid, cat, now):
			denied = append(denied, name)
		default:
			if byCat[cat] == nil {
				byCat[cat] = map[string]json.RawMessage{}
			}
			byCat[cat][name] = v
		}
	}
	sort.Strings(skipped)
	sort.Strings(denied)
	parts = map[string][]byte{}
	var msg map[string]json.RawMessage
	if err := json.Unmarshal(m.Raw, &msg); err != nil {
		return parts, skipped, denied
	}
	// Traits of other categories must not ride along in context.traits.
	if c, ok := msg["context"]; ok {
		var cm map[string]json.RawMessage
		if json.Unmarshal(c, &cm) == nil {
			delete(cm, "traits")
			msg["context"], _ = json.Marshal(cm)
		}
	}
	for cat, t := range byCat {
		tb, _ := json.Marshal(t)
		msg["traits"] = tb
		raw, _ := json.Marshal(msg)
		parts[cat] = raw
	}
	return parts, skipped, denied
}

// stripContextTraits removes context.traits from a message (some SDKs copy the user's traits
// there on every call). It returns raw unchanged when there is none.
func stripContextTraits(raw []byte) ([]byte, bool) {
	if !bytes.Contains(raw, []byte(`"traits"`)) {
		return raw, false
	}
	var msg map[string]json.RawMessage
	if json.Unmarshal(raw, &msg) != nil {
		return raw, false
	}
	c, ok := msg["context"]
	if !ok {
		return raw, false
	}
	var cm map[string]json.RawMessage
	if json.Unmarshal(c, &cm) != nil {
		return raw, false
	}
	if _, ok := cm["traits"]; !ok {
		return raw, false
	}
	delete(cm, "traits")
	msg["context"], _ = json.Marshal(cm)
	out, err := json.Marshal(msg)
	if err != nil {
		return raw, false
	}
	return out, true
}
