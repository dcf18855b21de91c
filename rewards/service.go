package rewards

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/symbiont/symbiont"
	"github.com/symbiont/symbiont/consent"
	"github.com/symbiont/symbiont/ledger"
)

// ServiceTx is what the rewards service needs of a transaction.
type ServiceTx interface {
	Tx
	ledger.Tx
	symbiont.IdempotencyTx
}

// Vocabularies gives a brand's categories and purposes (the consent service does).
type Vocabularies interface {
	Vocabulary(ctx context.Context, brandID int64) (symbiont.Vocabulary, error)
}

// Keyer keys clients' idempotency keys for storage (identity.Graph does).
type Keyer interface {
	Idempotency(brandID int64, key string, request []byte) (*symbiont.Idempotency, error)
}

// Service runs the value exchange.
type Service struct {
	// Keys keys redemptions' idempotency keys; set it before Redeem is called.
	Keys   Keyer
	db     symbiont.Transactor[ServiceTx]
	vocab  Vocabularies
	ledger *ledger.Service
	clock  symbiont.Clock
	// PageSize is how many grants one accrual transaction settles.
	PageSize int
	// reviewed is the Unix day tiers were last reviewed (ReviewTiers).
	reviewed atomic.Int64
	// cardless holds brands known to have no rate card (brand id → struct{}), and so no grant:
	// a grant is only ever made under a card, and cards are never deleted. Only OnConsent
	// fills it, in a transaction of the store's single writer (SQLite, Tx.OnUndo), where
	// nothing else can add a card unseen: PutRateCard forgets the brand inside its own
	// transaction, on the same writer, before the card is written. A consent change of such a
	// brand then needs no query here (it cost two statements, ~15 µs of the writer's time).
	// With other writers (PostgreSQL) it is never used.
	cardless sync.Map
}

// NewService returns the rewards service. l is required: every movement of points is recorded
// in the verifiable ledger, in its transaction.
func NewService(db symbiont.Transactor[ServiceTx], vocab Vocabularies, l *ledger.Service, clock symbiont.Clock) *Service {
	s := &Service{db: db, vocab: vocab, ledger: l, clock: clock, PageSize: 2000}
	s.reviewed.Store(-1)
	return s
}

// PutRateCard validates and publishes a new version of the brand's rate card. It applies to
// grants (and renewals) from now on; existing grants keep the terms they were given under.
func (s *Service) PutRateCard(ctx context.Context, brandID int64, body []byte) (*RateCard, error) {
	v, err := s.vocab.Vocabulary(ctx, brandID)
	if err != nil {
		return nil, err
	}
	c, err := ParseRateCard(body, v)
	if err != nil {
		return nil, err
	}
	c.Version = 0
	raw, _ := json.Marshal(c)
	err = s.db.Update(ctx, func(tx ServiceTx) (err error) {
		s.cardless.Delete(brandID) // before the card is written, on the writer (see cardless)
		c.Version, err = tx.PutRateCard(ctx, brandID, raw, s.clock.Now())
		return err
	})
	return c, err
}

// RateCard returns a version of the brand's rate card (0: the newest); nil when none is set.
func (s *Service) RateCard(ctx context.Context, brandID, version int64) (*RateCard, error) {
	var c *RateCard
	err := s.db.View(ctx, func(tx ServiceTx) (err error) {
		c, err = rateCard(ctx, tx, brandID, version)
		return err
	})
	return c, err
}

func rateCard(ctx context.Context, tx Tx, brandID, version int64) (*RateCard, error) {
	raw, v, err := tx.RateCard(ctx, brandID, version)
	if err != nil || raw == nil {
		return nil, err
	}
	var c RateCard
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("rewards: stored rate card %d/%d: %w", brandID, v, err)
	}
	c.Version = v
	return &c, nil
}

// OnConsent keeps the paid grants in step with consent, inside the consent change's
// transaction: a grant starts earning under the newest rate card; a renewal ends the previous
// grant and starts a new one (new terms apply to renewals); a withdrawal, refusal or expiry ends
// it — what it earned stays earned.
//
// It is a consent change hook (consent.Hooks): tx is the change's transaction.
func (s *Service) OnConsent(ctx context.Context, tx ServiceTx, r *consent.Record) error {
	sole := tx.OnUndo(func() {}) // the store's single writer: cardless may be used
	if _, none := s.cardless.Load(r.BrandID); none && sole {
		return nil // no card, so no grant to end or start
	}
	if sole {
		if card, err := rateCard(ctx, tx, r.BrandID, 0); err != nil {
			return err
		} else if card == nil {
			s.cardless.Store(r.BrandID, struct{}{})
			return nil
		}
	}
	last, err := tx.LatestGrant(ctx, r.ConsumerID, r.Category, r.Purpose)
	if err != nil {
		return err
	}
	if last != nil && last.Ended.IsZero() {
		if err := tx.EndGrant(ctx, last.RecordID, r.At); err != nil {
			return err
		}
	}
	if r.State != consent.StateGiven {
		return nil
	}
	card, err := rateCard(ctx, tx, r.BrandID, 0)
	if err != nil || card == nil {
		return err
	}
	rate, ok := card.Rate(r.Category, r.Purpose)
	if !ok {
		return nil
	}
	days := int(math.Round(r.ExpiresAt.Sub(r.At).Hours() / 24))
	g := &Grant{RecordID: r.ID, ReceiptID: r.ReceiptID, BrandID: r.BrandID, ConsumerID: r.ConsumerID, Category: r.Category,
		Purpose: r.Purpose, Version: card.Version, Start: r.At, End: r.ExpiresAt, PointsPer30: rate.PointsPer30Days,
		Bonus: rate.Bonus, FactorMilli: rate.factorMilli(days), Cap: rate.Cap, DurationDays: days}
	if last != nil {
		g.Bonus = 0 // the bonus is paid once per category and purpose: a renewal or a re-grant earns none
	}
	return tx.InsertGrant(ctx, g)
}

// AccrualResult says what an accrual run did.
type AccrualResult struct {
	Grants   int   `json:"grants"`
	Journals int   `json:"journals"`
	Points   int64 `json:"points"`
}

// Accrue credits every unsettled grant up to now: whole days of active grant since it was last
// credited (so a run after downtime catches up), stopping at withdrawal or expiry. It is
// idempotent: a second run at the same time credits nothing. Each transaction settles one page
// of grants.
func (s *Service) Accrue(ctx context.Context) (*AccrualResult, error) {
	res := &AccrualResult{}
	now := s.clock.Now()
	if day := now.Unix() / 86400; s.reviewed.Load() != day {
		if err := s.ReviewTiers(ctx); err != nil {
			return res, err
		}
		s.reviewed.Store(day)
	}
	after := int64(0)
	for {
		var page []*Grant
		err := s.db.Update(ctx, func(tx ServiceTx) (err error) {
			// One accrual at a time across nodes sharing the database.
			if err := tx.LockConsumer(ctx, accrualLock); err != nil {
				return err
			}
			if page, err = tx.UnsettledGrants(ctx, after, s.PageSize); err != nil || len(page) == 0 {
				return err
			}
			return s.accruePage(ctx, tx, page, now, res)
		})
		if err != nil {
			return res, err
		}
		if len(page) == 0 {
			return res, nil
		}
		after = page[len(page)-1].RecordID
		res.Grants += len(page)
	}
}

type consumerKey struct{ brand, consumer int64 }

// ReviewTiers rechecks the tier of every consumer who has one. Accrual checks the consumers
// whose grants changed; this catches what changes with time alone: points earned more than 12
// months ago leave a points_12m tier's window. Accrue runs it once a day.
func (s *Service) ReviewTiers(ctx context.Context) error {
	now := s.clock.Now()
	after := int64(0)
	for {
		var who []consumerKey
		err := s.db.Update(ctx, func(tx ServiceTx) error {
			if err := tx.LockConsumer(ctx, accrualLock); err != nil {
				return err
			}
			holders, err := tx.TierHolders(ctx, after, 1000)
			if err != nil || len(holders) == 0 {
				return err
			}
			for _, h := range holders {
				who = append(who, consumerKey{h[0], h[1]})
			}
			return s.updateTiers(ctx, tx, map[int64]*RateCard{}, who, now)
		})
		if err != nil || len(who) == 0 {
			return err
		}
		after = who[len(who)-1].consumer
	}
}

// accrualLock is the advisory lock (a consumer id no consumer has) that serialises accrual.
const accrualLock = -0x52455744

func (s *Service) accruePage(ctx context.Context, tx ServiceTx, page []*Grant, now time.Time, res *AccrualResult) error {
	journals := map[consumerKey]*Journal{}
	var order []consumerKey
	var credited []*Grant
	for _, g := range page {
		until := now
		if g.End.Before(until) {
			until = g.End
		}
		if !g.Ended.IsZero() && g.Ended.Before(until) {
			until = g.Ended
		}
		days := max(int(until.Sub(g.Start)/(24*time.Hour)), g.Days)
		credit := g.Due(days) - g.Due(g.Days)
		bonus := int64(0)
		if !g.BonusPaid {
			bonus = g.BonusDue()
		}
		final := g.End
		if !g.Ended.IsZero() && g.Ended.Before(final) {
			final = g.Ended
		}
		settled := !now.Before(final) // nothing more can ever be due
		if credit > 0 || bonus > 0 {
			k := consumerKey{g.BrandID, g.ConsumerID}
			j := journals[k]
			if j == nil {
				j = &Journal{BrandID: g.BrandID, ConsumerID: g.ConsumerID, Kind: KindAccrual, At: now}
				journals[k] = j
				order = append(order, k)
			}
			acct := ConsumerAccount(g.ConsumerID)
			if bonus > 0 {
				d := &Detail{Kind: LineBonus, Category: g.Category, Purpose: g.Purpose}
				j.Postings = append(j.Postings, Posting{Account: acct, Amount: bonus, Ref: g.ReceiptID, Description: d.English(), Detail: d})
			}
			if credit > 0 {
				d := g.detail(days - g.Days)
				j.Postings = append(j.Postings, Posting{Account: acct, Amount: credit, Ref: g.ReceiptID, Description: d.English(), Detail: d})
			}
		}
		if days != g.Days || !g.BonusPaid || settled {
			g.Days, g.BonusPaid, g.Settled = days, true, settled
			credited = append(credited, g)
		}
	}
	if err := tx.CreditGrants(ctx, credited); err != nil {
		return err
	}
	// Every consumer whose grants changed gets a tier check, credited or not: a grant that
	// ended (withdrawn, expired) can lower an active-grants tier without any points moving.
	cards := map[int64]*RateCard{}
	changed := order
	for _, g := range credited {
		k := consumerKey{g.BrandID, g.ConsumerID}
		if journals[k] == nil {
			changed = append(changed, k)
		}
	}
	if len(order) == 0 {
		return s.updateTiers(ctx, tx, cards, dedupe(changed), now)
	}
	js := make([]*Journal, 0, len(order))
	lots := make([]*Lot, 0, len(order))
	totals := make([]int64, 0, len(order))
	for _, k := range order {
		j := journals[k]
		var total int64
		h := sha256.New()
		for _, p := range j.Postings {
			total += p.Amount
			fmt.Fprintf(h, "%s|%d|%s\n", p.Ref, p.Amount, p.Description)
		}
		fmt.Fprintf(h, "%d", now.UnixMilli())
		j.IdempotencyKey = "accrual/" + itoa(k.consumer) + "/" + hex.EncodeToString(h.Sum(nil)[:12])
		j.Postings = append(j.Postings, Posting{Account: BrandAccount(k.brand, "issued"), Amount: -total, Description: "points issued"})
		card, ok := cards[k.brand]
		if !ok {
			var err error
			if card, err = rateCard(ctx, tx, k.brand, 0); err != nil {
				return err
			}
			cards[k.brand] = card
		}
		lot := &Lot{BrandID: k.brand, ConsumerID: k.consumer, Amount: total, Remaining: total, EarnedAt: now}
		if card != nil && card.PointsExpireAfterDays > 0 {
			lot.ExpiresAt = now.AddDate(0, 0, card.PointsExpireAfterDays)
		}
		js, lots, totals = append(js, j), append(lots, lot), append(totals, total)
		res.Journals++
		res.Points += total
	}
	if err := post(ctx, tx, js); err != nil {
		return err
	}
	if err := tx.InsertLots(ctx, lots); err != nil {
		return err
	}
	if err := s.recordJournals(ctx, tx, js, totals); err != nil {
		return err
	}
	return s.updateTiers(ctx, tx, cards, dedupe(changed), now)
}

func dedupe(ks []consumerKey) []consumerKey {
	seen := make(map[consumerKey]bool, len(ks))
	out := ks[:0:0]
	for _, k := range ks {
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}

// detail says why a grant's points arrived.
func (g *Grant) detail(days int) *Detail {
	d := &Detail{Kind: LineAccrual, Category: g.Category, Purpose: g.Purpose, Days: days, PointsPer30: g.PointsPer30, Cap: g.Cap}
	if g.FactorMilli != 1000 {
		d.Factor = strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.3f", float64(g.FactorMilli)/1000), "0"), ".")
		d.GrantDays = g.DurationDays
	}
	return d
}

// English is the line's description in English (the API's description; every other
// language is the page's to say from the detail).
func (d *Detail) English() string {
	switch d.Kind {
	case LineBonus:
		return fmt.Sprintf("Bonus for sharing %s for %s", d.Category, d.Purpose)
	case LineAccrual:
		s := fmt.Sprintf("%d days of %s for %s at %d points/30 days", d.Days, d.Category, d.Purpose, d.PointsPer30)
		if d.Factor != "" {
			s += fmt.Sprintf(", ×%s for a %d-day grant", d.Factor, d.GrantDays)
		}
		if d.Cap > 0 {
			s += fmt.Sprintf(" (capped at %d per grant)", d.Cap)
		}
		return s
	case LineRedemption:
		return "Redeemed: " + d.RewardName
	case LineExpiry:
		if t, err := time.Parse(time.DateOnly, d.EarnedOn); err == nil {
			return fmt.Sprintf("%d points earned on %s expired", d.Points, t.Format("2 Jan 2006"))
		}
	}
	return ""
}

// Lines written before statement lines carried their detail (migration 0007) have only
// their description, in one of the formats English gives; legacyDetail reads it back.
var (
	legacyBonus      = regexp.MustCompile(`^Bonus for sharing ([a-z0-9_]+) for ([a-z0-9_]+)$`)
	legacyAccrual    = regexp.MustCompile(`^(\d+) days of ([a-z0-9_]+) for ([a-z0-9_]+) at (\d+) points/30 days(?:, ×([0-9.]+) for a (\d+)-day grant)?(?: \(capped at (\d+) per grant\))?$`)
	legacyExpiry     = regexp.MustCompile(`^(\d+) points earned on (\d{1,2} [A-Z][a-z]{2} \d{4}) expired$`)
	legacyRedemption = "Redeemed: "
)

func legacyDetail(l StatementLine) *Detail {
	atoi := func(s string) int { n, _ := strconv.Atoi(s); return n }
	switch {
	case legacyBonus.MatchString(l.Description):
		m := legacyBonus.FindStringSubmatch(l.Description)
		return &Detail{Kind: LineBonus, Category: m[1], Purpose: m[2]}
	case legacyAccrual.MatchString(l.Description):
		m := legacyAccrual.FindStringSubmatch(l.Description)
		return &Detail{Kind: LineAccrual, Days: atoi(m[1]), Category: m[2], Purpose: m[3], PointsPer30: atoi(m[4]), Factor: m[5], GrantDays: atoi(m[6]), Cap: atoi(m[7])}
	case legacyExpiry.MatchString(l.Description):
		m := legacyExpiry.FindStringSubmatch(l.Description)
		if t, err := time.Parse("2 Jan 2006", m[2]); err == nil {
			return &Detail{Kind: LineExpiry, Points: int64(atoi(m[1])), EarnedOn: t.Format(time.DateOnly)}
		}
	case l.Kind == KindRedemption && strings.HasPrefix(l.Description, legacyRedemption):
		return &Detail{Kind: LineRedemption, Reward: l.Ref, RewardName: strings.TrimPrefix(l.Description, legacyRedemption)}
	}
	return nil
}

// recordJournals appends movements of points to the verifiable ledger, one entry per journal.
func (s *Service) recordJournals(ctx context.Context, tx ServiceTx, js []*Journal, points []int64) error {
	acts := make([]ledger.Act, len(js))
	for i, j := range js {
		var lines []map[string]any
		for _, p := range j.Postings {
			if strings.HasPrefix(p.Account, "consumer:") {
				lines = append(lines, map[string]any{"points": p.Amount, "why": p.Description, "ref": p.Ref})
			}
		}
		acts[i] = ledger.Act{BrandID: j.BrandID, ConsumerID: j.ConsumerID, Kind: "rewards." + j.Kind, At: j.At,
			Body: map[string]any{"points": points[i], "lines": lines, "journal": j.IdempotencyKey}}
	}
	_, err := s.ledger.AppendAll(ctx, tx, acts)
	return err
}

// updateTiers recomputes consumers' tiers and records each change, with its reason.
func (s *Service) updateTiers(ctx context.Context, tx ServiceTx, cards map[int64]*RateCard, who []consumerKey, now time.Time) error {
	for _, k := range who {
		if _, ok := cards[k.brand]; !ok {
			card, err := rateCard(ctx, tx, k.brand, 0)
			if err != nil {
				return err
			}
			cards[k.brand] = card
		}
	}
	var ids []int64
	for _, k := range who {
		if c := cards[k.brand]; c != nil && len(c.Tiers.Levels) > 0 {
			ids = append(ids, k.consumer)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	earned, err := tx.Earned(ctx, ids, now.AddDate(-1, 0, 0))
	if err != nil {
		return err
	}
	current, err := tx.CurrentTiers(ctx, ids)
	if err != nil {
		return err
	}
	for _, k := range who {
		card := cards[k.brand]
		if card == nil || len(card.Tiers.Levels) == 0 {
			continue
		}
		value, what := earned[k.consumer], fmt.Sprintf("%d points earned in the last 12 months", earned[k.consumer])
		if card.Tiers.Basis == "active_grants" {
			n, err := tx.ActiveGrantCount(ctx, k.consumer, now)
			if err != nil {
				return err
			}
			value, what = int64(n), fmt.Sprintf("%d active grants", n)
		}
		level := ""
		var min int64
		for _, t := range card.Tiers.Levels {
			if value >= t.Min {
				level, min = t.Name, t.Min
			}
		}
		prev := ""
		if cur := current[k.consumer]; cur != nil {
			prev = cur.Tier
		}
		if level == prev {
			continue
		}
		if err := tx.InsertTierChange(ctx, k.brand, k.consumer, &TierChange{Tier: level, Previous: prev, At: now,
			Reason: fmt.Sprintf("%s (%s needs %d)", what, level, min)}); err != nil {
			return err
		}
	}
	return nil
}

// ExpirePoints expires what is left of lots past their expiry date. It returns the points
// expired.
func (s *Service) ExpirePoints(ctx context.Context) (int64, error) {
	var total int64
	for {
		now := s.clock.Now()
		var lots []*Lot
		err := s.db.Update(ctx, func(tx ServiceTx) (err error) {
			if err := tx.LockConsumer(ctx, accrualLock); err != nil {
				return err
			}
			if lots, err = tx.ExpiredLots(ctx, now, 500); err != nil || len(lots) == 0 {
				return err
			}
			// Lock the consumers (in one order, as everywhere), then read their lots again: a
			// redemption that spent from a lot before the lock must not be expired twice.
			var ids []int64
			locked := map[int64]bool{}
			for _, l := range lots {
				if !locked[l.ConsumerID] {
					locked[l.ConsumerID] = true
					ids = append(ids, l.ConsumerID)
				}
			}
			slices.Sort(ids)
			for _, id := range ids {
				if err := tx.LockConsumer(ctx, id); err != nil {
					return err
				}
			}
			fresh, err := tx.ExpiredLots(ctx, now, 500)
			if err != nil {
				return err
			}
			lots = lots[:0]
			for _, l := range fresh {
				if locked[l.ConsumerID] { // the others wait for the next round
					lots = append(lots, l)
				}
			}
			for _, l := range lots {
				d := &Detail{Kind: LineExpiry, Points: l.Remaining, EarnedOn: l.EarnedAt.UTC().Format(time.DateOnly)}
				j := &Journal{BrandID: l.BrandID, ConsumerID: l.ConsumerID, Kind: KindExpiry, At: now,
					IdempotencyKey: "expiry/lot/" + itoa(l.ID), Postings: []Posting{
						{Account: ConsumerAccount(l.ConsumerID), Amount: -l.Remaining, Ref: "lot-" + itoa(l.ID),
							Description: d.English(), Detail: d},
						{Account: BrandAccount(l.BrandID, "expired"), Amount: l.Remaining, Description: "points expired"}}}
				if err := post(ctx, tx, []*Journal{j}); err != nil {
					return err
				}
				if err := tx.EmptyLot(ctx, l.ID); err != nil {
					return err
				}
				if err := s.recordJournals(ctx, tx, []*Journal{j}, []int64{-l.Remaining}); err != nil {
					return err
				}
				total += l.Remaining
			}
			return nil
		})
		if err != nil || len(lots) == 0 {
			return total, err
		}
	}
}

// Redeem spends points on a reward: the points are debited (oldest first), the stock taken and
// a unique code issued, all or nothing, exactly once per idempotency key — a retry returns the
// first redemption. The key shares the consumer's one key space (symbiont.Idempotency): a key
// used before for anything else, a consent change or another reward, is refused.
func (s *Service) Redeem(ctx context.Context, brandID, consumerID int64, rewardID, key string) (*Redemption, bool, error) {
	if !symbiont.ValidText(key, 200) || key == "" {
		return nil, false, symbiont.Errorf(symbiont.EINVALID, "idempotency_key is required: 1-200 bytes of text, new for each redemption.").With("field", "idempotency_key")
	}
	if s.Keys == nil {
		return nil, false, errors.New("rewards: Service.Keys is not set")
	}
	req, _ := json.Marshal(map[string]string{"op": "redeem", "reward": rewardID})
	idem, err := s.Keys.Idempotency(brandID, key, req)
	if err != nil {
		return nil, false, err
	}
	now := s.clock.Now().Truncate(time.Millisecond)
	var red *Redemption
	replay := false
	err = s.db.Update(ctx, func(tx ServiceTx) error {
		red, replay = nil, false
		if err := tx.LockConsumer(ctx, consumerID); err != nil {
			return err
		}
		if _, err := idem.Lookup(ctx, tx, brandID, consumerID); err != nil {
			return err // the key came with another request
		}
		// The redemption carries its client's key (the consumer's statement shows it): a
		// replay finds it there, as do redemptions recorded before keys were kept as hashes.
		prev, err := tx.RedemptionByKey(ctx, consumerID, key)
		if err != nil {
			return err
		}
		if prev != nil {
			if prev.Reward != rewardID {
				return symbiont.Errorf(symbiont.ECONFLICT, "This idempotency_key was already used to redeem %q.", prev.Reward).With("reason", "idempotency_key_reused")
			}
			red, replay = prev, true
			return nil
		}
		rw, err := tx.Reward(ctx, brandID, rewardID)
		if err != nil {
			return err
		}
		if !rw.Active {
			return symbiont.Errorf(symbiont.ECONFLICT, "%q is not available any more.", rewardID).With("reason", "inactive")
		}
		if rw.PerConsumer > 0 {
			n, err := tx.RedemptionCount(ctx, consumerID, rewardID)
			if err != nil {
				return err
			}
			if n >= rw.PerConsumer {
				return symbiont.Errorf(symbiont.ECONFLICT, "You have redeemed %q the most times allowed (%d).", rw.Name, rw.PerConsumer).With("reason", "limit_reached")
			}
		}
		bal, err := tx.Balance(ctx, ConsumerAccount(consumerID))
		if err != nil {
			return err
		}
		if bal < rw.Cost {
			return symbiont.Errorf(symbiont.ECONFLICT, "%q costs %d points; your balance is %d.", rw.Name, rw.Cost, bal).
				With("reason", "insufficient_points").With("balance", bal).With("cost", rw.Cost)
		}
		if ok, err := tx.TakeStock(ctx, brandID, rewardID); err != nil {
			return err
		} else if !ok {
			return symbiont.Errorf(symbiont.ECONFLICT, "%q is out of stock.", rw.Name).With("reason", "out_of_stock")
		}
		if err := spendLots(ctx, tx, consumerID, rw.Cost, now); err != nil {
			return err
		}
		j := &Journal{BrandID: brandID, ConsumerID: consumerID, Kind: KindRedemption, At: now, IdempotencyKey: "redeem/" + itoa(consumerID) + "/" + hex.EncodeToString(idem.Key[:16]), // never the client's key: it goes into the ledger
			Postings: []Posting{{Account: ConsumerAccount(consumerID), Amount: -rw.Cost, Ref: rw.ID, Description: "Redeemed: " + rw.Name,
				Detail: &Detail{Kind: LineRedemption, Reward: rw.ID, RewardName: rw.Name}},
				{Account: BrandAccount(brandID, "redeemed"), Amount: rw.Cost, Ref: rw.ID, Description: "reward redeemed"}}}
		if err := post(ctx, tx, []*Journal{j}); err != nil {
			return err
		}
		red = &Redemption{BrandID: brandID, ConsumerID: consumerID, Reward: rw.ID, Cost: rw.Cost, Code: newCode(), IdempotencyKey: key, At: now}
		if err := tx.InsertRedemption(ctx, red); err != nil {
			return err
		}
		if err := idem.Record(ctx, tx, brandID, consumerID, "redemption", now); err != nil {
			return err
		}
		return s.recordJournals(ctx, tx, []*Journal{j}, []int64{-rw.Cost})
	})
	if err != nil {
		return nil, false, err
	}
	return red, replay, nil
}

// newCode is a redemption code: 16 random base32 characters in groups, unguessable.
func newCode() string {
	b := make([]byte, 10)
	rand.Read(b)
	s := base32.StdEncoding.EncodeToString(b)
	return s[0:4] + "-" + s[4:8] + "-" + s[8:12] + "-" + s[12:16]
}

// PutReward adds or changes a catalogue item.
func (s *Service) PutReward(ctx context.Context, brandID int64, r *Reward) error {
	switch {
	case !symbiont.ValidName(strings.ReplaceAll(r.ID, "-", "_")):
		return symbiont.Errorf(symbiont.EINVALID, "id must be 1-40 lower-case letters, digits, - or _.").With("field", "id")
	case r.Name == "" || !symbiont.ValidText(r.Name, 100) || !symbiont.ValidText(r.Description, 1000):
		return symbiont.Errorf(symbiont.EINVALID, "name (1-100 bytes) is required; description is at most 1000 bytes.").With("field", "name")
	case r.Kind != "coupon" && r.Kind != "upgrade" && r.Kind != "experience" && r.Kind != "donation":
		return symbiont.Errorf(symbiont.EINVALID, "kind must be coupon, upgrade, experience or donation.").With("field", "kind")
	case r.Cost < 1 || r.Cost > 100_000_000:
		return symbiont.Errorf(symbiont.EINVALID, "cost must be between 1 and 100000000 points.").With("field", "cost")
	case r.Stock < -1 || r.Stock > 1_000_000_000:
		return symbiont.Errorf(symbiont.EINVALID, "stock must be -1 (unlimited) or between 0 and 1000000000.").With("field", "stock")
	case r.PerConsumer < 0 || r.PerConsumer > 1000:
		return symbiont.Errorf(symbiont.EINVALID, "per_consumer_limit must be between 0 (none) and 1000.").With("field", "per_consumer_limit")
	}
	r.BrandID = brandID
	return s.db.Update(ctx, func(tx ServiceTx) error { return tx.PutReward(ctx, r) })
}

// Catalog lists the brand's rewards (active only, unless all).
func (s *Service) Catalog(ctx context.Context, brandID int64, all bool) ([]*Reward, error) {
	var out []*Reward
	err := s.db.View(ctx, func(tx ServiceTx) error {
		rs, err := tx.Rewards(ctx, brandID)
		for _, r := range rs {
			if all || r.Active {
				out = append(out, r)
			}
		}
		return err
	})
	return out, err
}

// Summary is a consumer's rewards: balance, tier, statement.
type Summary struct {
	Balance     int64           `json:"balance"`
	Tier        *TierView       `json:"tier"`
	Statement   []StatementLine `json:"statement"`
	Redemptions []*Redemption   `json:"redemptions"`
	RateCard    int64           `json:"rate_card_version"`
}

// TierView is the consumer's tier with why, and what the next one needs.
type TierView struct {
	Name   string `json:"name"`
	Since  string `json:"since,omitempty"`
	Reason string `json:"reason,omitempty"`
	// Basis is what tiers are reached by ("points_12m" or "active_grants") and Min what
	// this one needs of it (absent below the lowest level).
	Basis    string   `json:"basis"`
	Min      int64    `json:"min,omitempty"`
	Benefits []string `json:"benefits"`
	Next     *Next    `json:"next,omitempty"`
}

// Next is the next tier up.
type Next struct {
	Name string `json:"name"`
	Min  int64  `json:"min"`
}

// Summary returns the consumer's balance, tier and statement (newest first, up to limit lines).
func (s *Service) Summary(ctx context.Context, brandID, consumerID int64, limit int) (*Summary, error) {
	out := &Summary{Statement: []StatementLine{}, Redemptions: []*Redemption{}}
	err := s.db.View(ctx, func(tx ServiceTx) error {
		var err error
		acct := ConsumerAccount(consumerID)
		if out.Balance, err = tx.Balance(ctx, acct); err != nil {
			return err
		}
		lines, err := tx.Statement(ctx, acct, limit)
		if err != nil {
			return err
		}
		for i := range lines {
			if lines[i].Detail == nil {
				lines[i].Detail = legacyDetail(lines[i])
			}
		}
		out.Statement = append(out.Statement, lines...)
		rs, err := tx.Redemptions(ctx, consumerID)
		if err != nil {
			return err
		}
		out.Redemptions = append(out.Redemptions, rs...)
		card, err := rateCard(ctx, tx, brandID, 0)
		if err != nil {
			return err
		}
		cur, err := tx.CurrentTiers(ctx, []int64{consumerID})
		if err != nil {
			return err
		}
		if card != nil {
			out.RateCard = card.Version
			out.Tier = tierView(card, cur[consumerID])
		}
		return nil
	})
	return out, err
}

func tierView(card *RateCard, cur *TierChange) *TierView {
	levels := card.Tiers.Levels
	if len(levels) == 0 {
		return nil
	}
	v := &TierView{Benefits: []string{}, Basis: card.Tiers.Basis}
	switch {
	case cur != nil && cur.Tier != "":
		v.Name, v.Since, v.Reason = cur.Tier, cur.At.UTC().Format(time.RFC3339), cur.Reason
	case levels[0].Min <= 0:
		v.Name = levels[0].Name // everyone starts at a level that needs nothing
	default:
		// Below the lowest level: no tier yet, only what the first one needs.
		v.Next = &Next{Name: levels[0].Name, Min: levels[0].Min}
		return v
	}
	for i, t := range levels {
		if t.Name == v.Name {
			v.Min = t.Min
			v.Benefits = append(v.Benefits, t.Benefits...)
			if i+1 < len(levels) {
				v.Next = &Next{Name: levels[i+1].Name, Min: levels[i+1].Min}
			}
		}
	}
	return v
}

// Offer is what a grant earns, shown before the consumer decides (11 CCR §7016: a notice of
// the financial incentive with a good-faith estimate of the data's value and its method).
type Offer struct {
	Category        string       `json:"category"`
	Purpose         string       `json:"purpose"`
	PointsPer30Days int          `json:"points_per_30_days"`
	Bonus           int          `json:"bonus"`
	Multipliers     []Multiplier `json:"multipliers,omitempty"`
	Cap             int          `json:"cap,omitempty"`
	// PointsFirstYear is what a 365-day grant earns in its first year, bonus included.
	PointsFirstYear int64 `json:"points_first_year"`
	// ValueFirstYear is that in Currency, at the card's point value.
	ValueFirstYear float64 `json:"value_first_year"`
	// DataValuePerYear is the brand's estimate of what the data is worth to it per year.
	DataValuePerYear *float64 `json:"data_value_per_year,omitempty"`
	Currency         string   `json:"currency"`
	EstimateMethod   string   `json:"estimate_method,omitempty"`
	RateCardVersion  int64    `json:"rate_card_version"`
}

// Offers lists what each grant would earn under the newest rate card.
func (s *Service) Offers(ctx context.Context, brandID int64) ([]Offer, error) {
	card, err := s.RateCard(ctx, brandID, 0)
	if err != nil || card == nil {
		return []Offer{}, err
	}
	out := make([]Offer, 0, len(card.Rates))
	for _, r := range card.Rates {
		g := Grant{PointsPer30: r.PointsPer30Days, Bonus: r.Bonus, FactorMilli: r.factorMilli(365), Cap: r.Cap}
		pts := g.Due(365) + g.BonusDue()
		o := Offer{Category: r.Category, Purpose: r.Purpose, PointsPer30Days: r.PointsPer30Days, Bonus: r.Bonus, Multipliers: r.Multipliers,
			Cap: r.Cap, PointsFirstYear: pts, ValueFirstYear: math.Round(float64(pts)*card.PointValue*100) / 100, Currency: card.Currency,
			EstimateMethod: card.EstimateMethod, RateCardVersion: card.Version}
		if v, ok := card.DataValuePerYear[r.Category+"/"+r.Purpose]; ok {
			o.DataValuePerYear = &v
		}
		out = append(out, o)
	}
	sort.Slice(out, func(a, b int) bool {
		return out[a].Category+"/"+out[a].Purpose < out[b].Category+"/"+out[b].Purpose
	})
	return out, nil
}

// Report is the brand's view: what it owes, what is granted, what was redeemed.
type Report struct {
	Liability struct {
		Points    int64   `json:"points"`
		Value     float64 `json:"value"`
		Currency  string  `json:"currency"`
		Consumers int64   `json:"consumers"`
	} `json:"liability"`
	Grants      []CategoryCount `json:"grants_by_category"`
	Redemptions []RewardCount   `json:"redemptions"`
}

// Report computes the brand's rewards report.
func (s *Service) Report(ctx context.Context, brandID int64) (*Report, error) {
	out := &Report{}
	err := s.db.View(ctx, func(tx ServiceTx) error {
		var err error
		if out.Liability.Points, out.Liability.Consumers, err = tx.Liability(ctx, brandID); err != nil {
			return err
		}
		if out.Grants, err = tx.GrantsByCategory(ctx, brandID, s.clock.Now()); err != nil {
			return err
		}
		if out.Redemptions, err = tx.RedemptionReport(ctx, brandID); err != nil {
			return err
		}
		card, err := rateCard(ctx, tx, brandID, 0)
		if card != nil {
			out.Liability.Currency = card.Currency
			out.Liability.Value = math.Round(float64(out.Liability.Points)*card.PointValue*100) / 100
		}
		return err
	})
	if out.Grants == nil {
		out.Grants = []CategoryCount{}
	}
	if out.Redemptions == nil {
		out.Redemptions = []RewardCount{}
	}
	return out, err
}
