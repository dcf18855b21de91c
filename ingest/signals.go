package ingest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/symbiont/symbiont"
	"github.com/symbiont/symbiont/consent"
	"github.com/symbiont/symbiont/identity"
	"github.com/symbiont/symbiont/segment"
	"github.com/symbiont/symbiont/store"
	"github.com/symbiont/symbiont/tcf"
)

// ReasonInvalidSignal drops a message whose consent signal cannot be read: nothing it says is
// recorded and the message itself is not stored (detail says what is wrong).
const ReasonInvalidSignal = "invalid_consent_signal"

// Consent signals: a consent manager's decision riding on an event (Segment's
// context.consent.categoryPreferences, RudderStack's context.consentManagement, an IAB TC
// string) is recorded as consent, through consent.Service.Apply, before the event is gated.
//
// Reading a signal value through the brand's map happens once per distinct value (cached);
// what each event then costs is a map lookup of the value and one lookup of the consumer in
// the consent index, which tells whether the signal would change anything. Only a change
// records, so the same signal on every event records once.
//
// Precedence, per category × purpose pair (docs/api.md, "Consent signals"):
//   - a refusal applies to any active grant (refusing is always safe);
//   - a grant applies where there is no decision, an expired grant, or an earlier signal's
//     refusal. A refusal or withdrawal recorded otherwise (in the wallet, by the brand's API,
//     by GPC, by erasure) is overridden only by a TC string last updated after it; Segment's
//     and RudderStack's signals carry no decision time and never override one;
//   - grants of sensitive categories are never derived from a signal, and a request with
//     Sec-GPC: 1 derives no grant of a GPC purpose.

const (
	maxSignalReadings = 4096             // cached distinct signal values per brand and kind
	maxBlocked        = 1 << 16          // remembered skipped grants, all brands
	blockedFor        = 60 * time.Second // how long a skipped grant is not retried
	maxEvidenceValue  = 1024             // bytes of a signal kept verbatim in the evidence
	maxEvidenceFrom   = 20               // signal elements named in one change's evidence
)

// signalCache is the Service's state for consent signals.
type signalCache struct {
	signalsMu    sync.RWMutex
	signalStates map[int64]*signalState

	blockedMu sync.Mutex
	blocked   map[blockKey]time.Time

	signalsRecorded prometheus.Counter
}

// signalState is a brand's compiled map and the readings of the signal values seen.
type signalState struct {
	m         *SignalMap
	pairs     [][2]string
	sensitive []bool
	cats      map[string][]int // category id → pair indexes
	purposes  [25][]int
	special   [13][]int

	mu       sync.RWMutex
	readings [3]map[string]*reading // by kind (kindSegment …), keyed by the raw value
	merged   map[[3]*reading]*reading
}

const (
	kindSegment = iota
	kindRudder
	kindTCF
)

var kindNames = [3]string{"segment", "rudderstack", "tcf"}

// reading is one signal value read through a brand's map: what it says of each pair.
type reading struct {
	bad     string // why the value cannot be read; "" when it can
	pairs   [][2]string
	grant   []bool     // per pair: grant (true) or refuse
	from    [][]string // per pair: the signal's elements that say so
	gpc     []bool     // per pair: the purpose is one GPC refuses
	decided time.Time  // the decision's time, when the signal carries one (TC strings)
	notice  consent.Notice
	signals []json.RawMessage // evidence: each signal as read
	words   atomic.Pointer[pairWords]
}

// pairWords are a reading's pairs as consent index words, as of an index numbering.
type pairWords struct {
	numbered uint64
	words    []uint64
}

// compile builds the state of a map.
func compileSignals(m *SignalMap, v symbiont.Vocabulary) *signalState {
	st := &signalState{m: m, cats: map[string][]int{}, merged: map[[3]*reading]*reading{}}
	for i := range st.readings {
		st.readings[i] = map[string]*reading{}
	}
	index := map[[2]string]int{}
	add := func(ss []string) []int {
		var out []int
		for _, p := range pairsOf(ss) {
			i, ok := index[p]
			if !ok {
				i = len(st.pairs)
				index[p] = i
				st.pairs = append(st.pairs, p)
				c, _ := v.Category(p[0])
				st.sensitive = append(st.sensitive, c.Sensitive)
			}
			if !slices.Contains(out, i) {
				out = append(out, i)
			}
		}
		return out
	}
	for k, ss := range m.Categories {
		st.cats[k] = add(ss)
	}
	for k, ss := range m.TCF.Purposes {
		n, _ := strconv.Atoi(k)
		st.purposes[n] = add(ss)
	}
	for k, ss := range m.TCF.SpecialFeatures {
		n, _ := strconv.Atoi(k)
		st.special[n] = add(ss)
	}
	return st
}

// verdicts collects what one or more signals say of each pair: a refusal wins over a grant.
type verdicts struct {
	st    *signalState
	order []int
	grant map[int]bool
	from  map[int][]string
}

func (st *signalState) newVerdicts() *verdicts {
	return &verdicts{st: st, grant: map[int]bool{}, from: map[int][]string{}}
}

func (vs *verdicts) add(pairs []int, grant bool, from string) {
	for _, i := range pairs {
		g, ok := vs.grant[i]
		if !ok {
			vs.order = append(vs.order, i)
			g = true
		}
		vs.grant[i] = g && grant
		vs.from[i] = append(vs.from[i], from)
	}
}

// reading turns the verdicts into a reading; sensitive categories keep only their refusals.
func (vs *verdicts) reading(r *reading) *reading {
	for _, i := range vs.order {
		g := vs.grant[i]
		if g && vs.st.sensitive[i] {
			continue
		}
		p := vs.st.pairs[i]
		r.pairs = append(r.pairs, p)
		r.grant = append(r.grant, g)
		from := vs.from[i]
		if len(from) > maxEvidenceFrom {
			from = append(from[:maxEvidenceFrom:maxEvidenceFrom], fmt.Sprintf("and %d more", len(from)-maxEvidenceFrom))
		}
		r.from = append(r.from, from)
		r.gpc = append(r.gpc, slices.Contains(symbiont.GPCPurposes, p[1]))
	}
	return r
}

// evidenceValue is a signal's value for the evidence: verbatim up to maxEvidenceValue bytes,
// else its digest.
func evidenceValue(e map[string]any, raw []byte) {
	if len(raw) <= maxEvidenceValue {
		e["value"] = json.RawMessage(raw)
		return
	}
	h := sha256.Sum256(raw)
	e["value_sha256"] = base64.RawURLEncoding.EncodeToString(h[:])
	e["value_bytes"] = len(raw)
}

func marshalEvidence(e map[string]any) json.RawMessage {
	b, _ := json.Marshal(e)
	return b
}

// readSegment reads Segment's categoryPreferences object: category id → bool.
func (st *signalState) readSegment(raw []byte) *reading {
	if path, err := duplicateKey(raw); err != nil || path != "" {
		return &reading{bad: fmt.Sprintf("context.consent.categoryPreferences has the key %q twice", path)}
	}
	var prefs map[string]json.RawMessage
	if err := json.Unmarshal(raw, &prefs); err != nil {
		return &reading{bad: "context.consent.categoryPreferences must be an object of category ids to true or false"}
	}
	keys := make([]string, 0, len(prefs))
	for k := range prefs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	vs := st.newVerdicts()
	for _, k := range keys {
		var b bool
		if err := json.Unmarshal(prefs[k], &b); err != nil {
			return &reading{bad: fmt.Sprintf("context.consent.categoryPreferences[%q] must be true or false, not %.40s", k, prefs[k])}
		}
		vs.add(st.cats[k], b, k)
	}
	e := map[string]any{"kind": "segment"}
	evidenceValue(e, raw)
	return vs.reading(&reading{signals: []json.RawMessage{marshalEvidence(e)}})
}

// readRudder reads RudderStack's consentManagement object.
func (st *signalState) readRudder(raw []byte) *reading {
	if path, err := duplicateKey(raw); err != nil || path != "" {
		return &reading{bad: fmt.Sprintf("context.consentManagement has the key %q twice", path)}
	}
	var cm struct {
		Provider           *string   `json:"provider"`
		Allowed            *[]string `json:"allowedConsentIds"`
		Denied             *[]string `json:"deniedConsentIds"`
		ResolutionStrategy *string   `json:"resolutionStrategy"`
	}
	if err := json.Unmarshal(raw, &cm); err != nil {
		return &reading{bad: "context.consentManagement must be an object whose allowedConsentIds and deniedConsentIds are arrays of strings and whose provider and resolutionStrategy are strings"}
	}
	vs := st.newVerdicts()
	for _, l := range []struct {
		ids   *[]string
		grant bool
	}{{cm.Allowed, true}, {cm.Denied, false}} {
		if l.ids == nil {
			continue
		}
		for _, id := range *l.ids {
			if id != "" { // RudderStack's own filter skips empty ids too
				vs.add(st.cats[id], l.grant, id)
			}
		}
	}
	e := map[string]any{"kind": "rudderstack"}
	if cm.Provider != nil {
		e["provider"] = *cm.Provider
	}
	evidenceValue(e, raw)
	return vs.reading(&reading{signals: []json.RawMessage{marshalEvidence(e)}})
}

// readTCF reads an IAB TC string (raw is its JSON string literal).
func (st *signalState) readTCF(raw []byte, where string) *reading {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return &reading{bad: where + " must be a TC string"}
	}
	t, err := tcf.Decode(s)
	if err == nil {
		err = t.CheckPolicy()
	}
	if err != nil {
		return &reading{bad: where + ": " + err.Error()}
	}
	vs := st.newVerdicts()
	m := st.m.TCF
	src := &t.PurposesConsent
	if m.PurposesFrom == "publisher" {
		src = nil
		if t.Publisher != nil {
			src = &t.Publisher.PurposesConsent
		}
	}
	if src != nil {
		for id := 1; id <= 24; id++ {
			if len(st.purposes[id]) == 0 {
				continue
			}
			ok := src.Has(id)
			if m.VendorID != 0 {
				ok = ok && t.VendorConsents.Has(m.VendorID)
				for _, pr := range t.PublisherRestrictions {
					if pr.PurposeID == id && pr.Type == tcf.NotAllowed && pr.Restricts(m.VendorID) {
						ok = false
					}
				}
			}
			vs.add(st.purposes[id], ok, "tcf purpose "+strconv.Itoa(id))
		}
	}
	for id := 1; id <= 12; id++ {
		if len(st.special[id]) > 0 {
			vs.add(st.special[id], t.SpecialFeatureOptIns.Has(id), "tcf special feature "+strconv.Itoa(id))
		}
	}
	e := map[string]any{"kind": "tcf", "cmp_id": t.CmpID, "cmp_version": t.CmpVersion, "consent_screen": t.ConsentScreen,
		"last_updated": t.LastUpdated.Format(time.RFC3339), "policy_version": t.PolicyVersion, "vendor_list_version": t.VendorListVersion}
	evidenceValue(e, raw)
	r := &reading{decided: t.LastUpdated, signals: []json.RawMessage{marshalEvidence(e)},
		notice: consent.Notice{ID: "iab-tcf-v2", Version: fmt.Sprintf("policy %d, vendor list %d", t.PolicyVersion, t.VendorListVersion),
			Language: strings.ToLower(t.Language)}}
	return vs.reading(r)
}

// cached returns the reading of raw for a kind, reading it on first sight.
func (st *signalState) cached(kind int, raw []byte, read func() *reading) *reading {
	st.mu.RLock()
	r := st.readings[kind][string(raw)]
	st.mu.RUnlock()
	if r != nil {
		return r
	}
	r = read()
	st.mu.Lock()
	if len(st.readings[kind]) >= maxSignalReadings {
		clear(st.readings[kind])
		clear(st.merged)
	}
	st.readings[kind][string(raw)] = r
	st.mu.Unlock()
	return r
}

func isNull(raw []byte) bool { return raw == nil || string(raw) == "null" }

// read returns the reading of a message's signals (merged when it carries several), or nil
// when it carries none that the map reads.
func (st *signalState) read(c *segment.Consent) *reading {
	var rs [3]*reading
	if !isNull(c.Object) && c.Object[0] != '{' {
		return &reading{bad: "context.consent must be an object"}
	}
	if !isNull(c.CategoryPreferences) {
		rs[kindSegment] = st.cached(kindSegment, c.CategoryPreferences, func() *reading { return st.readSegment(c.CategoryPreferences) })
	}
	if !isNull(c.Management) {
		rs[kindRudder] = st.cached(kindRudder, c.Management, func() *reading { return st.readRudder(c.Management) })
	}
	// A TC string may come in several places; they must agree.
	var tc []byte
	where := ""
	for i := range 1 + len(c.GDPRConsent) {
		raw := c.TCF
		if i > 0 {
			raw = c.GDPRConsent[i-1]
		}
		if isNull(raw) || string(raw) == `""` {
			continue
		}
		name := "context.consent.tcf"
		if i > 0 {
			name = segment.GDPRConsentPaths[i-1]
		}
		if tc != nil && !bytes.Equal(tc, raw) {
			return &reading{bad: fmt.Sprintf("%s and %s carry different TC strings", where, name)}
		}
		tc, where = raw, name
	}
	if tc != nil {
		rs[kindTCF] = st.cached(kindTCF, tc, func() *reading { return st.readTCF(tc, where) })
	}
	n := 0
	var one *reading
	for _, r := range rs {
		if r != nil {
			if r.bad != "" {
				return r
			}
			n++
			one = r
		}
	}
	if n <= 1 {
		return one
	}
	st.mu.RLock()
	m := st.merged[rs]
	st.mu.RUnlock()
	if m != nil {
		return m
	}
	m = st.merge(rs)
	st.mu.Lock()
	st.merged[rs] = m
	st.mu.Unlock()
	return m
}

// merge combines the readings of several signals on one message: a refusal by any wins. The
// decision time is kept only when one signal alone has one (the others are undated).
func (st *signalState) merge(rs [3]*reading) *reading {
	index := map[[2]string]int{}
	for i, p := range st.pairs {
		index[p] = i
	}
	vs := st.newVerdicts()
	out := &reading{}
	for _, r := range rs {
		if r == nil {
			continue
		}
		for i, p := range r.pairs {
			for _, f := range r.from[i] {
				vs.add([]int{index[p]}, r.grant[i], f)
			}
		}
		out.signals = append(out.signals, r.signals...)
		if r.notice != (consent.Notice{}) {
			out.notice = r.notice
		}
	}
	return vs.reading(out)
}

// wordsFor returns the index words of r's pairs, computed again only after the index numbered
// a new name (a pair nobody held a grant of may now be held).
func (r *reading) wordsFor(ix *consent.Index, brandID int64) []uint64 {
	n := ix.Numbered()
	if w := r.words.Load(); w != nil && w.numbered == n {
		return w.words
	}
	w := &pairWords{numbered: n, words: ix.PairWords(brandID, r.pairs, make([]uint64, 0, len(r.pairs)))}
	r.words.Store(w)
	return w.words
}

// signals returns a brand's compiled signal state.
func (s *Service) signals(ctx context.Context, brandID int64) (*signalState, error) {
	s.signalsMu.RLock()
	st := s.signalStates[brandID]
	s.signalsMu.RUnlock()
	if st != nil {
		return st, nil
	}
	m, err := s.SignalMap(ctx, brandID)
	if err != nil {
		return nil, err
	}
	v, err := s.consent.Vocabulary(ctx, brandID)
	if err != nil {
		return nil, err
	}
	st = compileSignals(m, v)
	s.signalsMu.Lock()
	if s.signalStates == nil {
		s.signalStates = map[int64]*signalState{}
	}
	s.signalStates[brandID] = st
	s.signalsMu.Unlock()
	return st, nil
}

// SignalMap returns a brand's consent signal mapping (the defaults when it set none).
func (s *Service) SignalMap(ctx context.Context, brandID int64) (*SignalMap, error) {
	var raw []byte
	var version int64
	if err := s.store.View(ctx, func(tx store.Tx) (err error) {
		raw, version, err = tx.SignalMap(ctx, brandID)
		return err
	}); err != nil {
		return nil, err
	}
	if raw == nil {
		return DefaultSignalMap(), nil
	}
	m := &SignalMap{}
	if err := json.Unmarshal(raw, m); err != nil {
		return nil, fmt.Errorf("ingest: stored consent signal map of brand %d: %w", brandID, err)
	}
	m.Version = version
	return m, nil
}

// PutSignalMap validates and replaces a brand's consent signal mapping. It applies to the next
// request.
func (s *Service) PutSignalMap(ctx context.Context, brandID int64, body []byte) (*SignalMap, error) {
	v, err := s.consent.Vocabulary(ctx, brandID)
	if err != nil {
		return nil, err
	}
	m, err := ParseSignalMap(body, v)
	if err != nil {
		return nil, err
	}
	raw, _ := json.Marshal(struct {
		Categories map[string][]string `json:"categories"`
		TCF        TCFMap              `json:"tcf"`
	}{m.Categories, m.TCF})
	if err := s.store.Update(ctx, func(tx store.Tx) (err error) {
		m.Version, err = tx.PutSignalMap(ctx, brandID, raw, s.clock.Now())
		return err
	}); err != nil {
		return nil, err
	}
	s.ForgetSignals(brandID)
	return m, nil
}

// ForgetSignals drops a brand's cached signal mapping (0: every brand's), after it changed
// here or on another node.
func (s *Service) ForgetSignals(brandID int64) {
	s.signalsMu.Lock()
	if brandID == 0 {
		clear(s.signalStates)
	} else {
		delete(s.signalStates, brandID)
	}
	s.signalsMu.Unlock()
}

// blockKey remembers that a reading's grants were skipped for a consumer (a decision the
// signal may not override), so that the next events do not look again for a while.
type blockKey struct {
	brand, consumer int64
	r               *reading
}

func (s *Service) isBlocked(k blockKey, now time.Time) bool {
	s.blockedMu.Lock()
	defer s.blockedMu.Unlock()
	until, ok := s.blocked[k]
	return ok && now.Before(until)
}

func (s *Service) block(k blockKey, now time.Time) {
	s.blockedMu.Lock()
	defer s.blockedMu.Unlock()
	if s.blocked == nil || len(s.blocked) >= maxBlocked {
		s.blocked = map[blockKey]time.Time{}
	}
	s.blocked[k] = now.Add(blockedFor)
}

// mayGrant reports whether a signal whose decision dates from decided (zero: undated) may grant
// a pair whose current record is cur.
func mayGrant(cur *consent.Record, decided time.Time, now time.Time) bool {
	switch {
	case cur == nil:
		return true
	case cur.State == consent.StateGiven:
		return !cur.Active(now) // an active grant needs nothing; an expired one is renewed
	case cur.State == consent.StateExpired, cur.Method == consent.MethodSignal:
		return true
	default: // refused or withdrawn in the wallet, by the brand, by GPC or by erasure
		return !decided.IsZero() && decided.After(cur.At)
	}
}

// applySignals records what the message's consent signals change for its consumer, before the
// message is gated. It returns the consumer (created when a signal grants something to a
// person Symbiont did not know), whether it was created, and why the signal cannot be read
// ("" when it can).
func (s *Service) applySignals(ctx context.Context, brandID, cid int64, m *segment.Message, gpc bool, actor symbiont.Actor, now time.Time) (int64, bool, string, error) {
	st, err := s.signals(ctx, brandID)
	if err != nil {
		return cid, false, "", err
	}
	r := st.read(m.Consent)
	if r == nil {
		return cid, false, "", nil
	}
	if r.bad != "" {
		return cid, false, r.bad, nil
	}
	ix := s.consent.Index
	var buf [32]bool
	active := ix.ActiveWords(brandID, cid, r.wordsFor(ix, brandID), now, buf[:0])
	need := false
	for i, g := range r.grant {
		if g && !active[i] && !(gpc && r.gpc[i]) || !g && active[i] {
			need = true
			break
		}
	}
	if !need || s.isBlocked(blockKey{brandID, cid, r}, now) {
		return cid, false, "", nil // the steady state: nothing to change
	}
	return s.recordSignals(ctx, brandID, cid, m, r, active, gpc, actor, now)
}

// recordSignals is the slow path of applySignals: something may change.
func (s *Service) recordSignals(ctx context.Context, brandID, cid int64, m *segment.Message, r *reading, active []bool, gpc bool, actor symbiont.Actor, now time.Time) (int64, bool, string, error) {
	cur := map[[2]string]*consent.Record{}
	if cid != 0 {
		recs, err := s.consent.Current(ctx, brandID, cid)
		if err != nil {
			return cid, false, "", err
		}
		for _, rec := range recs {
			cur[[2]string{rec.Category, rec.Purpose}] = rec
		}
	}
	var changes []*consent.Change
	grants, blocked := 0, false
	for i, p := range r.pairs {
		c := &consent.Change{BrandID: brandID, Category: p[0], Purpose: p[1], Method: consent.MethodSignal, Actor: actor,
			Notice: r.notice, GPC: gpc}
		if r.grant[i] {
			if active[i] || gpc && r.gpc[i] {
				continue
			}
			if !mayGrant(cur[p], r.decided, now) {
				blocked = true
				continue
			}
			decided := r.decided
			c.State = consent.StateGiven
			c.Skip = func(cur *consent.Record) bool { return !mayGrant(cur, decided, s.clock.Now()) }
			grants++
		} else {
			if !active[i] {
				continue
			}
			c.State = consent.StateRefused
			c.Skip = func(cur *consent.Record) bool { return cur == nil || !cur.Active(s.clock.Now()) }
		}
		c.Evidence = marshalEvidence(map[string]any{"message_id": m.MessageID, "from": r.from[i], "signals": r.signals})
		changes = append(changes, c)
	}
	key := blockKey{brandID, cid, r}
	if len(changes) == 0 || cid == 0 && grants == 0 {
		if blocked {
			s.block(key, now)
		}
		return cid, false, "", nil
	}
	ref := consent.ConsumerRef{ID: cid}
	if cid == 0 {
		// A consent manager's grant is a consent decision the brand recorded: as with one sent
		// to the API, it creates the consumer.
		ref = consent.ConsumerRef{Kind: identity.KindUserID, Value: m.UserID}
		if m.UserID == "" {
			ref = consent.ConsumerRef{Kind: identity.KindAnonymousID, Value: m.AnonymousID}
		}
		changes = slices.DeleteFunc(changes, func(c *consent.Change) bool { return c.State != consent.StateGiven })
	}
	for _, c := range changes {
		c.Consumer = ref
	}
	results, err := s.consent.Apply(ctx, changes, "")
	if err != nil {
		return cid, false, "", err
	}
	created := cid == 0
	cid = results[0].ConsumerID
	for i, res := range results {
		switch {
		case !res.Unchanged:
			s.signalsRecorded.Inc()
		case changes[i].State == consent.StateGiven:
			blocked = true
		}
	}
	if blocked {
		s.block(blockKey{brandID, cid, r}, now)
	}
	return cid, created, "", nil
}
