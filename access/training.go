package access

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/symbiont/symbiont"
	"github.com/symbiont/symbiont/ledger"
	"github.com/symbiont/symbiont/store"
)

// PurposeTraining is the purpose a model's training reads under: a consumer may grant
// personalisation without it, and the other way round.
const PurposeTraining = "model_training"

// Training asks for the data of many consumers to train one version of a model.
type Training struct {
	BrandID int64
	// Model names the version the data trains ("recs-v12"): each consumer's ledger says it.
	Model string
	// Categories are what the model learns from (purchases, browsing, …).
	Categories []string
	Actor      symbiont.Actor
	RequestID  string
	// Batch is how many consumers one record transaction holds (default 1,000).
	Batch int
}

// TrainingData is one consumer's data as a training read hands it over: the categories the
// consumer has granted for model_training (of those asked for), and their events, opened.
type TrainingData struct {
	ConsumerID int64
	Categories []string
	Events     []TrainingEvent
}

// TrainingEvent is one opened event.
type TrainingEvent struct {
	Category   string
	ReceivedAt time.Time
	Message    json.RawMessage // the Segment message as stored
}

// TrainingResult says what a training read used.
type TrainingResult struct {
	Consumers int // whose data was handed over (and recorded)
	Events    int
	// Withdrawn is how many consumers of the snapshot had withdrawn by the time their batch was
	// recorded: they were left out, fail closed.
	Withdrawn int
	// Where the time went: the snapshot, the record transactions, opening and handing over.
	Snapshot, Record, Open time.Duration
}

// trainee is one consumer of a training snapshot, sealed until recorded.
type trainee struct {
	id         int64
	categories []string
	events     []*store.Event
}

// Train reads, for one model version, the events of every consumer of the brand who has
// granted any of the categories for model_training, and hands each consumer's data to fn.
//
// The consumers and their sealed events come from one read-only snapshot. They are then
// recorded in batches: a write transaction per Batch consumers decides consent again (on SQLite
// from the index, authoritative under the write lock; on PostgreSQL from the database), leaves
// out whoever withdrew since the snapshot, and appends for each of the others an access record
// (action "train") and its ledger entry, naming the model. Only after a batch commits are its
// events opened and handed to fn, so no data reaches the model unrecorded. An error from fn
// stops the read; what was recorded stays recorded (the data was handed over).
func (s *Service) Train(ctx context.Context, t Training, fn func(*TrainingData) error) (*TrainingResult, error) {
	if t.Model == "" || len(t.Model) > 100 {
		return nil, symbiont.Errorf(symbiont.EINVALID, "A training read names its model version (1 to 100 bytes).").With("field", "model")
	}
	v, err := s.consent.Vocabulary(ctx, t.BrandID)
	if err != nil {
		return nil, err
	}
	if len(t.Categories) == 0 {
		return nil, symbiont.Errorf(symbiont.EINVALID, "A training read names the categories the model learns from.").With("field", "categories")
	}
	for _, c := range t.Categories {
		if _, ok := v.Category(c); !ok {
			return nil, symbiont.Errorf(symbiont.EINVALID, "Unknown category %q.", c).With("field", "categories")
		}
	}
	cats := dedupe(t.Categories)
	batch := t.Batch
	if batch <= 0 {
		batch = 1000
	}

	var snap []*trainee
	at := s.clock.Now()
	start := time.Now()
	if err := s.store.ViewBeforeUpdate(ctx, func(tx store.Tx) error {
		grants, err := tx.PurposeGrants(ctx, t.BrandID, PurposeTraining, cats)
		if err != nil {
			return err
		}
		for _, g := range grants { // by consumer, then category
			if !g.Active(at) {
				continue
			}
			if len(snap) == 0 || snap[len(snap)-1].id != g.ConsumerID {
				snap = append(snap, &trainee{id: g.ConsumerID})
			}
			tr := snap[len(snap)-1]
			tr.categories = append(tr.categories, g.Category)
		}
		for _, tr := range snap {
			if tr.events, err = tx.ConsumerEvents(ctx, t.BrandID, tr.id, tr.categories, 0); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return nil, err
	}

	res := &TrainingResult{Snapshot: time.Since(start)}
	// The record's transactions have the single writer to themselves (on SQLite the
	// integrator's passes would otherwise interleave with them, ~9 µs of writer time an entry):
	// the entries are integrated together when the read ends, or after trainingHold.
	release := s.Ledger.HoldIntegration(trainingHold)
	defer release()
	// Batches are recorded one ahead of the hand-over: while a batch's commit is made durable
	// and its events opened and handed over, the writer records the next (its own transaction,
	// UpdateAlone), so that the record does not wait for the disk a batch at a time. A batch is
	// handed over only once its own record has committed. When the read stops (fn's error, a
	// failed record), at most the one batch recorded ahead is recorded without being handed
	// over, as the rest of a batch is when fn fails within it: the ledger may say more was
	// used, never less.
	var parts [][]*trainee
	for from := 0; from < len(snap); from += batch {
		parts = append(parts, snap[from:min(from+batch, len(snap))])
	}
	type recorded struct {
		kept []*trainee
		err  error
	}
	results := make([]chan recorded, len(parts))
	for i := range results {
		results[i] = make(chan recorded, 1)
	}
	rctx, stop := context.WithCancel(ctx)
	var clock recordClock
	var wg sync.WaitGroup
	defer func() {
		stop()
		wg.Wait()
		res.Record = clock.total
	}()
	record := func(i int) {
		wg.Go(func() {
			if err := rctx.Err(); err != nil {
				results[i] <- recorded{err: err}
				return
			}
			clock.begin()
			kept, err := s.recordTraining(rctx, t, parts[i])
			clock.end()
			results[i] <- recorded{kept, err}
		})
	}
	const ahead = 1
	for i := 0; i <= ahead && i < len(parts); i++ {
		record(i)
	}
	for i, part := range parts {
		r := <-results[i]
		if r.err != nil {
			return res, r.err
		}
		if i+ahead+1 < len(parts) {
			record(i + ahead + 1)
		}
		kept := r.kept
		res.Withdrawn += len(part) - len(kept)
		start = time.Now()
		for _, tr := range kept {
			d := &TrainingData{ConsumerID: tr.id, Categories: tr.categories, Events: make([]TrainingEvent, 0, len(tr.events))}
			for _, e := range tr.events {
				msg, err := s.vault.Open(ctx, e.BrandID, e.KeyOwner, e.Payload, e.AppendAAD(nil))
				if err != nil {
					return res, fmt.Errorf("access: open event %d: %w", e.ID, err)
				}
				d.Events = append(d.Events, TrainingEvent{Category: e.Category, ReceivedAt: e.ReceivedAt, Message: msg})
			}
			res.Consumers++
			res.Events += len(d.Events)
			if err := fn(d); err != nil {
				return res, err
			}
		}
		res.Open += time.Since(start)
	}
	return res, nil
}

// recordClock measures the wall time during which at least one batch is being recorded (two
// may be at once).
type recordClock struct {
	mu       sync.Mutex
	inflight int
	since    time.Time
	total    time.Duration
}

func (c *recordClock) begin() {
	c.mu.Lock()
	if c.inflight == 0 {
		c.since = time.Now()
	}
	c.inflight++
	c.mu.Unlock()
}

func (c *recordClock) end() {
	c.mu.Lock()
	if c.inflight--; c.inflight == 0 {
		c.total += time.Since(c.since)
	}
	c.mu.Unlock()
}

// trainingHold bounds how long a training read holds the ledger's integration off: a read of
// 100,000 consumers records in well under it; a longer one shares the writer again, so that
// checkpoints keep following.
const trainingHold = 2 * time.Second

// recordTraining records the training use of a batch of consumers, in one write transaction,
// after deciding consent again: it returns those still granted (each with only the categories
// still granted), whose use it recorded.
func (s *Service) recordTraining(ctx context.Context, t Training, part []*trainee) ([]*trainee, error) {
	var kept []*trainee
	bodies := trainBodies{}
	err := s.store.UpdateAlone(ctx, func(tx store.Tx) error {
		kept = kept[:0]
		now := s.clock.Now()
		granted := func(consumer int64, c string) bool {
			return s.consent.Index.Allowed(t.BrandID, consumer, c, PurposeTraining, now)
		}
		if s.store.Shared() {
			ids := make([]int64, len(part))
			for i, tr := range part {
				ids[i] = tr.id
			}
			// Locked before consent is decided (ascending, as the snapshot is ordered): a
			// change of their consent on another node waits for this record, or this record
			// for it, and the decision reads it either way.
			if err := tx.LockConsumers(ctx, ids); err != nil {
				return err
			}
			grants, err := tx.ActiveGrants(ctx, ids)
			if err != nil {
				return err
			}
			have := map[[2]any]bool{}
			for _, g := range grants {
				if g.BrandID == t.BrandID && g.Purpose == PurposeTraining && (g.ExpiresAt.IsZero() || now.Before(g.ExpiresAt)) {
					have[[2]any{g.ConsumerID, g.Category}] = true
				}
			}
			granted = func(consumer int64, c string) bool { return have[[2]any{consumer, c}] }
		}
		acts := make([]ledger.Act, 0, len(part))
		recs := make([]*store.AccessRecord, 0, len(part))
		for _, tr := range part {
			var cats []string
			for _, c := range tr.categories {
				if granted(tr.id, c) {
					cats = append(cats, c)
				}
			}
			if len(cats) == 0 {
				continue
			}
			k := &trainee{id: tr.id, categories: cats}
			for _, e := range tr.events {
				if slices.Contains(cats, e.Category) {
					k.events = append(k.events, e)
				}
			}
			kept = append(kept, k)
			r := &store.AccessRecord{BrandID: t.BrandID, ConsumerID: tr.id, Actor: t.Actor.Label(), Purpose: PurposeTraining,
				Categories: cats, Withheld: withheld(t.Categories, cats), Records: len(k.events), Action: "train", RequestID: t.RequestID, At: now}
			recs = append(recs, r)
			body, err := bodies.encode(r, t.Model)
			if err != nil {
				return err
			}
			acts = append(acts, ledger.Act{BrandID: t.BrandID, ConsumerID: tr.id, Kind: "access.train", At: now, Body: body})
		}
		if err := tx.InsertAccesses(ctx, recs); err != nil {
			return err
		}
		_, err := s.Ledger.AppendAll(ctx, tx, acts)
		return err
	})
	return kept, err
}

// trainBody is a training read's ledger entry: an access body naming the model version.
type trainBody struct {
	accessBody
	Model string `json:"model"`
}

// trainBodies encodes the ledger bodies of a training read's entries, each distinct one once:
// the consumers of a batch mostly share their categories and differ, if at all, in the number
// of their records (what an entry says of its consumer beyond that, its subject and place in
// their chain, is outside the body).
type trainBodies map[string]ledger.EncodedBody

func (b trainBodies) encode(r *store.AccessRecord, model string) (ledger.EncodedBody, error) {
	key := strings.Join(r.Categories, "\x00") + "\x01" + strings.Join(r.Withheld, "\x00") + "\x01" + strconv.Itoa(r.Records)
	if e, ok := b[key]; ok {
		return e, nil
	}
	e, err := json.Marshal(&trainBody{accessBody: accessBody{Action: r.Action, Actor: r.Actor, Categories: r.Categories, Purpose: r.Purpose,
		Records: r.Records, RequestID: r.RequestID, Withheld: nonNil(r.Withheld)}, Model: model})
	if err != nil {
		return nil, fmt.Errorf("access: training record: %w", err)
	}
	b[key] = e
	return e, nil
}

// withheld is what was asked for and not granted.
func withheld(asked, granted []string) []string {
	var out []string
	for _, c := range dedupe(asked) {
		if !slices.Contains(granted, c) {
			out = append(out, c)
		}
	}
	return out
}
