package rewards

import (
	"context"
	"testing"

	"github.com/symbiont/symbiont"
)

// bookTx is a Tx that only books: it answers PostJournals with balances, counting its calls.
type bookTx struct {
	Tx       // nil: any other method panics
	balances map[string]int64
	calls    int
}

func (b *bookTx) PostJournals(context.Context, []*Journal) (map[string]int64, error) {
	b.calls++
	return b.balances, nil
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
	} {
		t.Run(tt.name, func(t *testing.T) {
			tx := &bookTx{balances: tt.balances}
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
