// Package rewards is the value exchange: a brand's published, versioned rate card turns consent
// grants into points; points accrue by the day while a grant is active, are booked in a
// double-entry points ledger, raise member tiers and buy rewards from a catalogue. Every
// movement of points is explained (a statement line says why it happened) and appended to the
// verifiable ledger.
//
// Fairness rules built in: the terms shown when a consumer grants are the terms they are paid
// under (a grant keeps the rate card version of its grant); withdrawing never takes back points
// already earned; and nothing here gates the service itself on consent.
package rewards

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/symbiont/symbiont"
)

// Accounts of the double-entry ledger. Every journal's postings sum to zero.
//
//	consumer:<id>      the consumer's points (never negative)
//	brand:<id>:issued  points the brand has issued (negative: what it owes)
//	brand:<id>:redeemed  points spent on rewards
//	brand:<id>:expired   points that expired unspent
func ConsumerAccount(consumerID int64) string { return consumerAccountPrefix + itoa(consumerID) }

// consumerAccountPrefix begins the name of every consumer's account.
const consumerAccountPrefix = "consumer:"

// BrandAccount is one of a brand's accounts: "issued", "redeemed" or "expired".
func BrandAccount(brandID int64, name string) string { return "brand:" + itoa(brandID) + ":" + name }

// Journal kinds.
const (
	KindAccrual    = "accrual"
	KindBonus      = "bonus"
	KindRedemption = "redemption"
	KindExpiry     = "expiry"
)

// Grant is a consent grant as the rate card pays it: the terms are copied at grant time.
type Grant struct {
	RecordID   int64 // the consent record that granted it
	ReceiptID  string
	BrandID    int64
	ConsumerID int64
	Category   string
	Purpose    string
	Version    int64 // rate card version the terms come from
	Start      time.Time
	End        time.Time // the grant's expiry
	Ended      time.Time // withdrawal, refusal or expiry record; zero while active
	Days       int       // days of grant already credited
	BonusPaid  bool
	Settled    bool // ended and fully credited: accrual skips it
	// Terms.
	PointsPer30  int
	Bonus        int
	FactorMilli  int // multiplier ×1000 for the grant's duration
	Cap          int // 0: none
	DurationDays int
}

// Posting is one line of a journal.
type Posting struct {
	Account     string
	Amount      int64 // positive: credit to the account
	Description string
	Ref         string // the grant's receipt id, the reward id, …
	// Detail is what a consumer's line is for, as data (nil on the brand's lines).
	Detail *Detail
}

// Kinds of statement line (Detail.Kind).
const (
	LineAccrual    = "accrual"
	LineBonus      = "bonus"
	LineRedemption = "redemption"
	LineExpiry     = "expiry"
)

// Detail says what a statement line is for, as data, so that a page or an app can say it in
// the consumer's language with the brand's labels; the line's Description says the same in
// English. Fields not used by the kind are omitted.
type Detail struct {
	Kind string `json:"kind"` // accrual, bonus, redemption or expiry
	// accrual and bonus: the grant's category and purpose (names, not labels).
	Category string `json:"category,omitempty"`
	Purpose  string `json:"purpose,omitempty"`
	// accrual: days credited at the grant's rate; the multiplier for its duration (a decimal,
	// when it is not 1) and the duration; its cap (0: none).
	Days        int    `json:"days,omitempty"`
	PointsPer30 int    `json:"points_per_30_days,omitempty"`
	Factor      string `json:"factor,omitempty"`
	GrantDays   int    `json:"grant_days,omitempty"`
	Cap         int    `json:"cap,omitempty"`
	// redemption: the reward's id and its name in the catalogue when redeemed.
	Reward     string `json:"reward,omitempty"`
	RewardName string `json:"reward_name,omitempty"`
	// expiry: how many points expired, earned on which day (UTC, YYYY-MM-DD).
	Points   int64  `json:"points,omitempty"`
	EarnedOn string `json:"earned_on,omitempty"`
}

// Journal is one balanced movement of points.
type Journal struct {
	ID             int64
	BrandID        int64
	ConsumerID     int64
	Kind           string
	IdempotencyKey string
	At             time.Time
	Postings       []Posting
}

// Lot is points earned together, spent first-in first-out and expiring together.
type Lot struct {
	ID         int64
	BrandID    int64
	ConsumerID int64
	Amount     int64
	Remaining  int64
	EarnedAt   time.Time
	ExpiresAt  time.Time // zero: never
}

// Reward is an item of the catalogue.
type Reward struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Kind        string `json:"kind"` // coupon, upgrade, experience, donation
	Description string `json:"description"`
	Cost        int64  `json:"cost"`
	// Stock left; -1 for unlimited.
	Stock int64 `json:"stock"`
	// PerConsumer limits how often one consumer may redeem it; 0 for no limit.
	PerConsumer int   `json:"per_consumer_limit"`
	Active      bool  `json:"active"`
	BrandID     int64 `json:"-"`
}

// Redemption is a reward redeemed.
type Redemption struct {
	ID             int64     `json:"-"`
	BrandID        int64     `json:"-"`
	ConsumerID     int64     `json:"-"`
	Reward         string    `json:"reward"`
	Cost           int64     `json:"cost"`
	Code           string    `json:"code"`
	IdempotencyKey string    `json:"idempotency_key"`
	At             time.Time `json:"at"`
}

// TierChange is a recorded change of a consumer's tier.
type TierChange struct {
	Tier     string    `json:"tier"`
	Previous string    `json:"previous"`
	Reason   string    `json:"reason"`
	At       time.Time `json:"at"`
}

// Tx is what the rewards need of a store transaction.
type Tx interface {
	PutRateCard(ctx context.Context, brandID int64, card []byte, at time.Time) (version int64, err error)
	// RateCard returns a version of the brand's rate card (0: the newest); nil when none.
	RateCard(ctx context.Context, brandID, version int64) (card []byte, v int64, err error)

	InsertGrant(ctx context.Context, g *Grant) error
	// LatestGrant returns the consumer's newest grant of the pair (ended or not), or nil.
	LatestGrant(ctx context.Context, consumerID int64, category, purpose string) (*Grant, error)
	EndGrant(ctx context.Context, recordID int64, at time.Time) error
	// UnsettledGrants returns up to limit unsettled grants with RecordID > after, in RecordID
	// order.
	UnsettledGrants(ctx context.Context, after int64, limit int) ([]*Grant, error)
	// CreditGrants records how far grants are credited (their Days, BonusPaid and Settled).
	CreditGrants(ctx context.Context, gs []*Grant) error
	ActiveGrantCount(ctx context.Context, consumerID int64, now time.Time) (int, error)

	// PostJournals books journals, updating balances, and returns the new balance of every
	// account they changed (ErrBooked when an idempotency key was used before, within the
	// brand). It sets their IDs. It checks no money rule: post does (balanced journals, no
	// consumer overdrawn), and fails the transaction when one is broken.
	PostJournals(ctx context.Context, js []*Journal) (balances map[string]int64, err error)
	JournalByKey(ctx context.Context, brandID int64, key string) (*Journal, error)
	Balance(ctx context.Context, account string) (int64, error)
	// Statement returns the postings to an account, newest first, with their journals' kind
	// and time.
	Statement(ctx context.Context, account string, limit int) ([]StatementLine, error)
	// Earned returns the points credited to each consumer by accrual since t.
	Earned(ctx context.Context, consumerIDs []int64, since time.Time) (map[int64]int64, error)

	InsertLots(ctx context.Context, ls []*Lot) error
	// SpendableLots returns the consumer's lots with points left that have not expired at now,
	// oldest first (earned, then id).
	SpendableLots(ctx context.Context, consumerID int64, now time.Time) ([]*Lot, error)
	// SpendLot takes amount from the lot's remaining points (spendLots decides how much).
	SpendLot(ctx context.Context, lotID, amount int64) error
	// ExpiredLots returns up to limit lots with points left that expired at or before now.
	ExpiredLots(ctx context.Context, now time.Time, limit int) ([]*Lot, error)
	EmptyLot(ctx context.Context, lotID int64) error

	PutReward(ctx context.Context, r *Reward) error
	Rewards(ctx context.Context, brandID int64) ([]*Reward, error)
	Reward(ctx context.Context, brandID int64, id string) (*Reward, error)
	// TakeStock decrements a limited reward's stock; false when none is left.
	TakeStock(ctx context.Context, brandID int64, id string) (bool, error)
	InsertRedemption(ctx context.Context, r *Redemption) error
	RedemptionByKey(ctx context.Context, consumerID int64, key string) (*Redemption, error)
	RedemptionCount(ctx context.Context, consumerID int64, reward string) (int, error)
	Redemptions(ctx context.Context, consumerID int64) ([]*Redemption, error)

	// CurrentTiers returns each consumer's latest tier change (absent: none yet).
	CurrentTiers(ctx context.Context, consumerIDs []int64) (map[int64]*TierChange, error)
	InsertTierChange(ctx context.Context, brandID, consumerID int64, c *TierChange) error
	// TierHolders returns up to limit (brand, consumer) pairs with a tier change, consumer id
	// above after, in consumer order.
	TierHolders(ctx context.Context, after int64, limit int) ([][2]int64, error)

	// Report figures for the brand.
	Liability(ctx context.Context, brandID int64) (points int64, consumers int64, err error)
	GrantsByCategory(ctx context.Context, brandID int64, now time.Time) ([]CategoryCount, error)
	RedemptionReport(ctx context.Context, brandID int64) ([]RewardCount, error)
}

// StatementLine is a posting as the consumer's statement shows it: Description in English,
// Detail as data for every language.
type StatementLine struct {
	At          time.Time `json:"at"`
	Kind        string    `json:"kind"`
	Points      int64     `json:"points"`
	Description string    `json:"description"`
	Ref         string    `json:"ref,omitempty"`
	Detail      *Detail   `json:"detail,omitempty"`
}

// CategoryCount counts active grants of a category and purpose.
type CategoryCount struct {
	Category string `json:"category"`
	Purpose  string `json:"purpose"`
	Active   int64  `json:"active_grants"`
}

// RewardCount sums redemptions of a reward.
type RewardCount struct {
	Reward string `json:"reward"`
	Count  int64  `json:"redemptions"`
	Points int64  `json:"points"`
}

// post books journals through tx under the double-entry rules: every journal has two postings
// or more and sums to zero, and no consumer's balance goes below zero (checked on the balances
// the booking leaves; an error fails the whole transaction, the booking included).
// ErrBooked is the store's answer to a journal whose idempotency key was booked before.
var ErrBooked = errors.New("rewards: journal already booked")

func post(ctx context.Context, tx Tx, js []*Journal) error {
	for _, j := range js {
		var sum int64
		for _, p := range j.Postings {
			sum += p.Amount
		}
		if sum != 0 || len(j.Postings) < 2 {
			return symbiont.Errorf(symbiont.EINTERNAL, "An unbalanced journal (%d) was refused.", sum)
		}
	}
	balances, err := tx.PostJournals(ctx, js)
	if errors.Is(err, ErrBooked) {
		return symbiont.Errorf(symbiont.ECONFLICT, "This movement of points was already booked.").With("reason", "duplicate")
	}
	if err != nil {
		return err
	}
	for account, b := range balances {
		if b < 0 && strings.HasPrefix(account, consumerAccountPrefix) {
			return symbiont.Errorf(symbiont.ECONFLICT, "Not enough points.").With("reason", "insufficient_points")
		}
	}
	return nil
}

// spendLots takes amount from the consumer's oldest unexpired lots, first in first out; it
// changes nothing, and fails with a conflict, when they hold fewer points.
func spendLots(ctx context.Context, tx Tx, consumerID, amount int64, now time.Time) error {
	lots, err := tx.SpendableLots(ctx, consumerID, now)
	if err != nil {
		return err
	}
	var held int64
	for _, l := range lots {
		held += l.Remaining
	}
	if held < amount {
		return symbiont.Errorf(symbiont.ECONFLICT, "Not enough unexpired points.").With("reason", "insufficient_points")
	}
	for _, l := range lots {
		if amount == 0 {
			break
		}
		take := min(amount, l.Remaining)
		if err := tx.SpendLot(ctx, l.ID, take); err != nil {
			return err
		}
		amount -= take
	}
	return nil
}
