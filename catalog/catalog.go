// Package catalog is a brand's catalogue of what it offers — rooms, dining, treatments,
// packages — as recommendations rank it: items with a title, a category, tags and attributes, a
// price with an optional public breakdown of what it is made of, availability and a locale.
// Items are upserted one at a time or in batches and deleted softly (a deleted item keeps its
// id, so history that names it still reads).
package catalog

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/symbiont/symbiont"
)

// Limits of an item and of a batch.
const (
	MaxBatch      = 1000 // items in one batch upsert
	MaxIDBytes    = 128
	MaxTitleRunes = 200
	MaxTags       = 32
	MaxTagRunes   = 64
	MaxAttributes = 64
	MaxAttrKey    = 64
	MaxAttrValue  = 256 // runes
	MaxCostLines  = 20
	MaxAmount     = 1_000_000_000_000 // minor units
)

// Item is one thing a brand offers.
type Item struct {
	ID       string   `json:"id"`
	Title    string   `json:"title"`
	Category string   `json:"category"`
	Tags     []string `json:"tags,omitempty"`
	// Attributes are free facts about the item ("view": "lake", "beds": "2").
	Attributes map[string]string `json:"attributes,omitempty"`
	Price      *Price            `json:"price,omitempty"`
	// Available: whether the item can be offered now (true when not given).
	Available *bool `json:"available,omitempty"`
	// Locale is the language of the title and tags (BCP 47, e.g. "en", "zh-CN").
	Locale string `json:"locale,omitempty"`
	// Costs is the public breakdown of the price (price transparency): lines summing to it.
	Costs []Cost `json:"cost_breakdown,omitempty"`

	// Set by the store.
	Version   int64      `json:"version"`
	UpdatedAt time.Time  `json:"updated_at"`
	DeletedAt *time.Time `json:"deleted_at,omitempty"`
}

// Price is an amount in a currency's minor units (cents).
type Price struct {
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"` // ISO 4217, e.g. "EUR"
}

// Cost is a line of an item's price breakdown.
type Cost struct {
	Label  string `json:"label"`
	Amount int64  `json:"amount"`
}

// IsAvailable reports whether the item may be offered.
func (it *Item) IsAvailable() bool {
	return it.DeletedAt == nil && (it.Available == nil || *it.Available)
}

// Tx is what the catalogue needs of a store transaction.
type Tx interface {
	// PutItems inserts or replaces the brand's items (undeleting any that were deleted), each
	// one version higher than its last, and sets their Version and UpdatedAt.
	PutItems(ctx context.Context, brandID int64, items []*Item, at time.Time) error
	// Item returns the brand's item, deleted or not (DeletedAt set); not_found when none.
	Item(ctx context.Context, brandID int64, id string) (*Item, error)
	// Items returns up to limit of the brand's live items with ids after after, by id.
	Items(ctx context.Context, brandID int64, after string, limit int) ([]*Item, error)
	// DeleteItem marks a live item deleted; false when there is no live item of that id.
	DeleteItem(ctx context.Context, brandID int64, id string, at time.Time) (bool, error)
}

// invalid is the error of a field that breaks a rule.
func invalid(field, format string, args ...any) *symbiont.Error {
	return symbiont.Errorf(symbiont.EINVALID, format, args...).With("field", field)
}

// Validate checks the item against the catalogue's rules and normalises it (tags without
// duplicates, availability given). The message names what is wrong and the field.
func (it *Item) Validate() error {
	if err := validID(it.ID); err != nil {
		return err
	}
	if n := utf8.RuneCountInString(it.Title); n == 0 || n > MaxTitleRunes || !printable(it.Title) {
		return invalid("title", "The title must be 1 to %d printable characters.", MaxTitleRunes)
	}
	if !validName(it.Category, 64) {
		return invalid("category", "The category must be 1 to 64 of a-z, 0-9, _ and -.")
	}
	if len(it.Tags) > MaxTags {
		return invalid("tags", "An item has at most %d tags.", MaxTags)
	}
	seen := map[string]bool{}
	tags := it.Tags[:0:0]
	for _, tag := range it.Tags {
		if n := utf8.RuneCountInString(tag); n == 0 || n > MaxTagRunes || !printable(tag) {
			return invalid("tags", "Each tag must be 1 to %d printable characters.", MaxTagRunes)
		}
		if !seen[tag] {
			seen[tag] = true
			tags = append(tags, tag)
		}
	}
	it.Tags = tags
	if len(it.Attributes) > MaxAttributes {
		return invalid("attributes", "An item has at most %d attributes.", MaxAttributes)
	}
	for k, v := range it.Attributes {
		if !validName(k, MaxAttrKey) {
			return invalid("attributes", "Attribute names must be 1 to %d of a-z, 0-9, _ and -: %q is not.", MaxAttrKey, k)
		}
		if utf8.RuneCountInString(v) > MaxAttrValue || !printable(v) {
			return invalid("attributes", "The value of attribute %q must be at most %d printable characters.", k, MaxAttrValue)
		}
	}
	if p := it.Price; p != nil {
		if p.Amount < 0 || p.Amount > MaxAmount {
			return invalid("price.amount", "The price must be 0 to %d minor units.", int64(MaxAmount))
		}
		if !currency(p.Currency) {
			return invalid("price.currency", "The currency must be an ISO 4217 code of three capital letters, such as EUR.")
		}
	}
	if it.Locale != "" && !locale(it.Locale) {
		return invalid("locale", "The locale must be a BCP 47 language tag, such as en or zh-CN.")
	}
	if len(it.Costs) > 0 {
		if it.Price == nil {
			return invalid("cost_breakdown", "A cost breakdown needs a price to break down.")
		}
		if len(it.Costs) > MaxCostLines {
			return invalid("cost_breakdown", "A cost breakdown has at most %d lines.", MaxCostLines)
		}
		var sum int64
		for _, c := range it.Costs {
			if n := utf8.RuneCountInString(c.Label); n == 0 || n > 100 || !printable(c.Label) {
				return invalid("cost_breakdown", "Each line's label must be 1 to 100 printable characters.")
			}
			if c.Amount < 0 || c.Amount > MaxAmount {
				return invalid("cost_breakdown", "Each line's amount must be 0 to %d minor units.", int64(MaxAmount))
			}
			sum += c.Amount
		}
		if sum != it.Price.Amount {
			return invalid("cost_breakdown", "The cost breakdown sums to %d, not to the price (%d).", sum, it.Price.Amount).
				With("sum", sum).With("price", it.Price.Amount)
		}
	}
	if it.Available == nil {
		yes := true
		it.Available = &yes
	}
	return nil
}

// validID: 1 to MaxIDBytes of A-Z, a-z, 0-9, '.', '_', ':', '-' (an id goes into URLs).
func validID(id string) error {
	if len(id) == 0 || len(id) > MaxIDBytes {
		return invalid("id", "An item id must be 1 to %d characters.", MaxIDBytes)
	}
	for _, c := range []byte(id) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == ':' || c == '-') {
			return invalid("id", "An item id may hold only letters, digits, '.', '_', ':' and '-'.")
		}
	}
	return nil
}

func validName(s string, max int) bool {
	if len(s) == 0 || len(s) > max {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// printable: valid UTF-8 without control characters.
func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return false
		}
	}
	return true
}

func currency(s string) bool {
	return len(s) == 3 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z' && s[2] >= 'A' && s[2] <= 'Z'
}

// locale accepts the shape of a BCP 47 tag: a 2–3 letter language, then subtags of 1–8
// letters or digits.
func locale(s string) bool {
	if len(s) > 35 {
		return false
	}
	for i, sub := range strings.Split(s, "-") {
		if i == 0 && (len(sub) < 2 || len(sub) > 3 || !alnum(sub, true)) || i > 0 && (len(sub) < 1 || len(sub) > 8 || !alnum(sub, false)) {
			return false
		}
	}
	return true
}

func alnum(s string, lettersOnly bool) bool {
	for _, c := range []byte(s) {
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !letter && (lettersOnly || c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// Body is what the store keeps of an item: everything the brand gave, as JSON (the version and
// times live in columns of their own).
func (it *Item) Body() ([]byte, error) {
	b := *it
	b.Version, b.UpdatedAt, b.DeletedAt = 0, time.Time{}, nil
	out, err := json.Marshal(&b)
	if err != nil {
		return nil, fmt.Errorf("catalog: encode item %q: %w", it.ID, err)
	}
	return out, nil
}
