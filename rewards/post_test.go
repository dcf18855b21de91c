package rewards

import (
	"context"
	"testing"
	"time"

	"github.com/symbiont/symbiont"
)

// bookTx is a Tx that only books: it answers PostJournals with balances, counting its calls.
type bookTx struct {
	Tx       // nil: any other method panics
	balances map[string]int64
	calls    int
	err      error // PostJournals' answer
}

func (b *bookTx) PostJournals(context.Context, []*Journal) (map[string]int64, error) {
	b.calls++
	return b.balances, b.err
}

// lotsTx is a Tx that holds lots: SpendableLots returns them, SpendLot records what it took.
type lotsTx struct {
	Tx
	lots  []*Lot
	spent map[int64]int64
}

func (l *lotsTx) SpendableLots(context.Context, int64, time.Time) ([]*Lot, error) { return l.lots, nil }

func (l *lotsTx) SpendLot(_ context.Context, id, amount int64) error {
	l.spent[id] += amount
	return nil
}

// Lots are spent first in first out (the store returns them oldest first), each down to what it
// holds; a spend larger than every lot together changes nothing and is refused.
func TestSpendLots(t *testing.T) {
	lots := func() []*Lot { return []*Lot{{ID: 1, Remaining: 10}, {ID: 2, Remaining: 20}, {ID: 3, Remaining: 30}} }
	for _, tt := range []struct {
		name   string
		amount int64
		spent  map[int64]int64
		code   string
	}{
		{"within the oldest", 4, map[int64]int64{1: 4}, ""},
		{"the oldest exactly", 10, map[int64]int64{1: 10}, ""},
		{"across two", 15, map[int64]int64{1: 10, 2: 5}, ""},
		{"everything", 60, map[int64]int64{1: 10, 2: 20, 3: 30}, ""},
		{"nothing", 0, map[int64]int64{}, ""},
		{"one more than held", 61, map[int64]int64{}, symbiont.ECONFLICT},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tx := &lotsTx{lots: lots(), spent: map[int64]int64{}}
			err := spendLots(context.Background(), tx, 2, tt.amount, time.Time{})
			if got := symbiont.ErrorCode(err); (err == nil) != (tt.code == "") || (err != nil && got != tt.code) {
				t.Fatalf("spendLots(%d): %v, want code %q", tt.amount, err, tt.code)
			}
			if len(tx.spent) != len(tt.spent) {
				t.Fatalf("spent %v, want %v", tx.spent, tt.spent)
			}
			for id, n := range tt.spent {
				if tx.spent[id] != n {
					t.Errorf("spent %v, want %v", tx.spent, tt.spent)
				}
			}
		})
	}
}

// The money rules are the rewards package's: a journal must have two postings or more and sum
// to zero (refused before anything is booked), and no consumer's balance may go below zero
// (refused after booking, which fails the transaction); brands' accounts may.
func TestPostRules(t *testing.T) {
	ctx := context.Background()
	j := func(amounts ...int64) *Journal {
		jr := &Journal{BrandID: 1, ConsumerID: 2, Kind: KindAccrual, IdempotencyKey: "k"}
		for i, a := range amounts {
			acct := ConsumerAccount(2)
			if i > 0 {
				acct = BrandAccount(1, "issued")
			}
			jr.Postings = append(jr.Postings, Posting{Account: acct, Amount: a})
		}
		return jr
	}
	for _, tt := range []struct {
		name     string
		journal  *Journal
		balances map[string]int64
		code     string // "" for booked
		reason   string
		booked   bool
	}{
		{"balanced", j(10, -10), map[string]int64{"consumer:2": 10, "brand:1:issued": -10}, "", "", true},
		{"unbalanced", j(10, -9), nil, symbiont.EINTERNAL, "", false},
		{"one posting", j(0), nil, symbiont.EINTERNAL, "", false},
		{"consumer overdrawn", j(-10, 10), map[string]int64{"consumer:2": -3, "brand:1:issued": 10}, symbiont.ECONFLICT, "insufficient_points", true},
		{"consumer at zero", j(-10, 10), map[string]int64{"consumer:2": 0, "brand:1:issued": 10}, "", "", true},
		{"booked before", j(10, -10), nil, symbiont.ECONFLICT, "duplicate", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tx := &bookTx{balances: tt.balances}
			if tt.reason == "duplicate" {
				tx.err = ErrBooked
			}
			err := post(ctx, tx, []*Journal{tt.journal})
			if got := symbiont.ErrorCode(err); (err == nil) != (tt.code == "") || (err != nil && got != tt.code) {
				t.Fatalf("post: %v (code %q), want code %q", err, got, tt.code)
			}
			if tt.reason != "" {
				if e, ok := err.(*symbiont.Error); !ok || e.Details["reason"] != tt.reason {
					t.Errorf("post: %#v, want reason %q", err, tt.reason)
				}
			}
			if booked := tx.calls > 0; booked != tt.booked {
				t.Errorf("booked: %v, want %v", booked, tt.booked)
			}
		})
	}
}
