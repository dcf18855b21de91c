package rewards

import (
	"fmt"
	"math"
	"sort"
	"strconv"

	"github.com/symbiont/symbiont"
)

// RateCard is a brand's published terms: what each grant earns.
type RateCard struct {
	Version  int64  `json:"version"`
	Currency string `json:"currency"`
	// PointValue is what one point is worth in Currency when spent on rewards (the basis of the
	// value estimate shown before granting).
	PointValue float64 `json:"point_value"`
	Rates      []Rate  `json:"rates"`
	// PointsExpireAfterDays: points expire this many days after they were earned (0: never).
	PointsExpireAfterDays int   `json:"points_expire_after_days"`
	Tiers                 Tiers `json:"tiers"`
	// EstimateMethod explains, in plain words, how the brand estimated what the data is worth
	// to it (California 11 CCR §7016 requires a good-faith estimate and its method).
	EstimateMethod string `json:"estimate_method"`
	// DataValuePerYear is the brand's estimate of the value of one consumer's grant per year, by
	// "category/purpose", in Currency.
	DataValuePerYear map[string]float64 `json:"data_value_per_year,omitempty"`
}

// Rate is what a grant of a category for a purpose earns.
type Rate struct {
	Category string `json:"category"`
	Purpose  string `json:"purpose"`
	// PointsPer30Days accrue by the day while the grant is active.
	PointsPer30Days int `json:"points_per_30_days"`
	// Bonus is paid once, when the grant is given.
	Bonus int `json:"bonus"`
	// Multipliers reward long grants: the largest factor whose MinDays the grant's duration
	// reaches applies to its daily accrual (not to the bonus).
	Multipliers []Multiplier `json:"multipliers,omitempty"`
	// Cap bounds the points one grant can earn in total, bonus included (0: no cap).
	Cap int `json:"cap,omitempty"`
}

// Multiplier is a factor for grants of at least MinDays.
type Multiplier struct {
	MinDays int     `json:"min_days"`
	Factor  float64 `json:"factor"`
}

// Tiers define member levels.
type Tiers struct {
	// Basis: "points_12m" (points earned in the trailing 365 days) or "active_grants".
	Basis  string `json:"basis"`
	Levels []Tier `json:"levels"`
}

// Tier is one member level.
type Tier struct {
	Name     string   `json:"name"`
	Min      int64    `json:"min"`
	Benefits []string `json:"benefits,omitempty"`
}

// Limits on rate card values: absurd numbers are refused, not stored.
const (
	MaxPointsPer30Days = 100_000
	MaxBonus           = 1_000_000
	MaxFactor          = 5.0
	MaxCap             = 100_000_000
	maxRates           = 1000
)

// ParseRateCard parses and validates a rate card against the brand's vocabulary.
func ParseRateCard(body []byte, v symbiont.Vocabulary) (*RateCard, error) {
	var c RateCard
	if err := symbiont.DecodeJSON(body, &c); err != nil {
		return nil, err
	}
	bad := func(field, format string, args ...any) error {
		return symbiont.Errorf(symbiont.EINVALID, "%s: %s", field, fmt.Sprintf(format, args...)).With("field", field)
	}
	if c.Currency == "" {
		c.Currency = "USD"
	}
	if len(c.Currency) != 3 {
		return nil, bad("currency", "an ISO 4217 code such as USD or CNY")
	}
	if c.PointValue < 0 || c.PointValue > 1000 || math.IsNaN(c.PointValue) {
		return nil, bad("point_value", "between 0 and 1000")
	}
	if c.PointsExpireAfterDays < 0 || c.PointsExpireAfterDays > 3650 {
		return nil, bad("points_expire_after_days", "between 0 (never) and 3650")
	}
	if len(c.Rates) == 0 || len(c.Rates) > maxRates {
		return nil, bad("rates", "1 to %d rates", maxRates)
	}
	seen := map[string]bool{}
	for i, r := range c.Rates {
		f := "rates[" + strconv.Itoa(i) + "]"
		if _, ok := v.Category(r.Category); !ok {
			return nil, bad(f+".category", "unknown category %q", r.Category)
		}
		if _, ok := v.Purpose(r.Purpose); !ok {
			return nil, bad(f+".purpose", "unknown purpose %q", r.Purpose)
		}
		if seen[r.Category+"/"+r.Purpose] {
			return nil, bad(f, "%s for %s appears twice", r.Category, r.Purpose)
		}
		seen[r.Category+"/"+r.Purpose] = true
		if r.PointsPer30Days < 0 || r.PointsPer30Days > MaxPointsPer30Days {
			return nil, bad(f+".points_per_30_days", "between 0 and %d", MaxPointsPer30Days)
		}
		if r.Bonus < 0 || r.Bonus > MaxBonus {
			return nil, bad(f+".bonus", "between 0 and %d", MaxBonus)
		}
		if r.Cap < 0 || r.Cap > MaxCap {
			return nil, bad(f+".cap", "between 0 (none) and %d", MaxCap)
		}
		for j, m := range r.Multipliers {
			mf := f + ".multipliers[" + strconv.Itoa(j) + "]"
			if m.MinDays < 1 || m.MinDays > 3650 {
				return nil, bad(mf+".min_days", "between 1 and 3650")
			}
			if !(m.Factor >= 1 && m.Factor <= MaxFactor) {
				return nil, bad(mf+".factor", "between 1 and %g", MaxFactor)
			}
		}
	}
	if c.Tiers.Basis == "" {
		c.Tiers.Basis = "points_12m"
	}
	if c.Tiers.Basis != "points_12m" && c.Tiers.Basis != "active_grants" {
		return nil, bad("tiers.basis", `"points_12m" or "active_grants"`)
	}
	sort.SliceStable(c.Tiers.Levels, func(a, b int) bool { return c.Tiers.Levels[a].Min < c.Tiers.Levels[b].Min })
	for i, t := range c.Tiers.Levels {
		if t.Name == "" || !symbiont.ValidText(t.Name, 50) || t.Min < 0 || (i > 0 && t.Min == c.Tiers.Levels[i-1].Min) {
			return nil, bad("tiers.levels", "each level needs a name (1-50 bytes) and a distinct min ≥ 0")
		}
		for _, b := range t.Benefits {
			if !symbiont.ValidText(b, 200) {
				return nil, bad("tiers.levels", "benefits are text of at most 200 bytes")
			}
		}
	}
	if !symbiont.ValidText(c.EstimateMethod, 2000) {
		return nil, bad("estimate_method", "at most 2000 bytes of text")
	}
	for k, val := range c.DataValuePerYear {
		if !seen[k] || val < 0 || val > 1e6 || math.IsNaN(val) {
			return nil, bad("data_value_per_year", "keys are category/purpose of the rates, values between 0 and 1e6")
		}
	}
	return &c, nil
}

// Rate returns the terms for a category and purpose.
func (c *RateCard) Rate(category, purpose string) (Rate, bool) {
	for _, r := range c.Rates {
		if r.Category == category && r.Purpose == purpose {
			return r, true
		}
	}
	return Rate{}, false
}

// factorMilli is the multiplier (×1000) for a grant of the given duration.
func (r Rate) factorMilli(durationDays int) int {
	f := 1.0
	for _, m := range r.Multipliers {
		if durationDays >= m.MinDays && m.Factor > f {
			f = m.Factor
		}
	}
	return int(math.Round(f * 1000))
}

// Due is what a grant has earned by accrual after days days: points by the day, pro-rated, with
// the multiplier, rounded down, within the cap (the bonus counts against the cap first).
// Crediting Due(new) - Due(old) each run never drifts and never pays a day twice.
func (g *Grant) Due(days int) int64 {
	v := int64(g.PointsPer30) * int64(days) * int64(g.FactorMilli) / (30 * 1000)
	if g.Cap > 0 {
		room := int64(g.Cap) - int64(min(g.Bonus, g.Cap))
		v = min(v, room)
	}
	return v
}

// BonusDue is the one-time bonus within the cap.
func (g *Grant) BonusDue() int64 {
	if g.Cap > 0 {
		return int64(min(g.Bonus, g.Cap))
	}
	return int64(g.Bonus)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
