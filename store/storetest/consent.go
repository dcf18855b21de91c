package storetest

import (
	"cmp"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/symbiont/symbiont"
	"github.com/symbiont/symbiont/consent"
	"github.com/symbiont/symbiont/store"
)

// testConsentRecordByReceipt: a receipt id finds its record, current or superseded, every
// field as stored, in its own brand only (a receipt shown to another brand finds nothing).
func testConsentRecordByReceipt(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	a, b := newBrand(t, s, "a"), newBrand(t, s, "b")
	ca, cb := newConsumer(t, s, a.ID), newConsumer(t, s, b.ID)
	old := grant(a.ID, ca, "email", "marketing", consent.StateGiven, at(1))
	old.ExpiresAt = at(60 * 24 * 365)
	old.Notice = consent.Notice{ID: "privacy", Version: "3", Hash: "sha256:00ff", Language: "fr-CH", URL: "https://example.com/privacy"}
	old.LegalBasis, old.Method, old.Actor = consent.BasisExplicitConsent, consent.MethodWallet, "wallet:ws_1"
	old.Jurisdiction, old.Explicit = "CH", true
	old.Evidence = json.RawMessage(`{"form":"signup"}`)
	old.Receipt = "eyJhbGciOiJFZERTQSJ9.e30.sig"
	cur := grant(a.ID, ca, "email", "marketing", consent.StateWithdrawn, at(2))
	other := grant(b.ID, cb, "email", "marketing", consent.StateGiven, at(3))
	insertRecords(t, s, old, cur, other)
	view(t, s, func(tx store.Tx) error {
		for _, tc := range []struct {
			name    string
			brand   int64
			receipt string
			want    *consent.Record // nil: not found
		}{
			{"superseded record", a.ID, old.ReceiptID, old},
			{"current record", a.ID, cur.ReceiptID, cur},
			{"another brand's record, in its brand", b.ID, other.ReceiptID, other},
			{"another brand's receipt", a.ID, other.ReceiptID, nil},
			{"a's receipt through b", b.ID, old.ReceiptID, nil},
			{"unknown receipt", a.ID, "rcpt_unknown", nil},
			{"no receipt", a.ID, "", nil},
		} {
			r, err := tx.ConsentRecordByReceipt(ctx, tc.brand, tc.receipt)
			if tc.want == nil {
				wantCode(t, "ConsentRecordByReceipt("+tc.name+")", err, symbiont.ENOTFOUND)
				continue
			}
			if err != nil {
				t.Errorf("ConsentRecordByReceipt(%s): %v", tc.name, err)
				continue
			}
			eq(t, "ConsentRecordByReceipt("+tc.name+")", r, tc.want)
		}
		return nil
	})
}

// testActiveGrants: the grants of the consumers asked about whose current state is given,
// lapsed ones included with their expiry (the caller decides what is active at its now); a
// withdrawal, refusal or expiry record ends one, a renewal replaces it, and each grant carries
// its own brand.
func testActiveGrants(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	a, b := newBrand(t, s, "a"), newBrand(t, s, "b")
	c1, c2, c3, none := newConsumer(t, s, a.ID), newConsumer(t, s, a.ID), newConsumer(t, s, a.ID), newConsumer(t, s, a.ID)
	cb := newConsumer(t, s, b.ID)
	renewed := grant(a.ID, c1, "location", "ads", consent.StateGiven, at(5))
	renewed.ExpiresAt = at(500)
	lapsed := grant(a.ID, c2, "email", "marketing", consent.StateGiven, at(1))
	lapsed.ExpiresAt = at(2) // past, but no expiry record yet: still state given
	expiring := grant(a.ID, c1, "location", "ads", consent.StateGiven, at(1))
	expiring.ExpiresAt = at(50)
	insertRecords(t, s,
		grant(a.ID, c1, "email", "marketing", consent.StateGiven, at(1)),
		grant(a.ID, c1, "email", "marketing", consent.StateWithdrawn, at(2)),
		grant(a.ID, c1, "email", "analytics", consent.StateGiven, at(3)),
		expiring, renewed,
		lapsed,
		grant(a.ID, c2, "phone", "ads", consent.StateRefused, at(1)),
		grant(a.ID, c2, "purchases", "marketing", consent.StateGiven, at(1)),
		grant(a.ID, c2, "purchases", "marketing", consent.StateExpired, at(3)),
		grant(a.ID, c3, "email", "marketing", consent.StateGiven, at(1)),
		grant(b.ID, cb, "email", "marketing", consent.StateGiven, at(1)),
	)
	g := func(brand, consumer int64, category, purpose string, r *consent.Record) consent.Grant {
		out := consent.Grant{BrandID: brand, ConsumerID: consumer, Category: category, Purpose: purpose}
		if r != nil {
			out.ExpiresAt = r.ExpiresAt
		}
		return out
	}
	c1Grants := []consent.Grant{g(a.ID, c1, "email", "analytics", nil), g(a.ID, c1, "location", "ads", renewed)}
	c2Grants := []consent.Grant{g(a.ID, c2, "email", "marketing", lapsed)}
	cbGrants := []consent.Grant{g(b.ID, cb, "email", "marketing", nil)}
	// The order of ActiveGrants is not part of its contract.
	sorted := func(gs []consent.Grant) []consent.Grant {
		if len(gs) == 0 {
			return nil
		}
		slices.SortFunc(gs, func(x, y consent.Grant) int {
			return cmp.Or(cmp.Compare(x.ConsumerID, y.ConsumerID), strings.Compare(x.Category, y.Category), strings.Compare(x.Purpose, y.Purpose))
		})
		return gs
	}
	view(t, s, func(tx store.Tx) error {
		for _, tc := range []struct {
			name string
			ids  []int64
			want []consent.Grant
		}{
			{"no consumers", nil, nil},
			{"withdrawn, renewed and open grants", []int64{c1}, c1Grants},
			{"lapsed, refused and expired", []int64{c2}, c2Grants},
			{"across brands", []int64{cb, c2, c1}, slices.Concat(c1Grants, c2Grants, cbGrants)},
			{"a consumer without decisions, an unknown one", []int64{none, cb + 1000}, nil},
		} {
			eq(t, "ActiveGrants("+tc.name+")", sorted(get[[]consent.Grant](t)(tx.ActiveGrants(ctx, tc.ids))), tc.want)
		}
		return nil
	})
	// A grant recorded in the transaction is the database's word at once.
	update(t, s, func(tx store.Tx) error {
		must(t, tx.InsertConsentRecord(ctx, grant(a.ID, none, "email", "marketing", consent.StateGiven, at(9))))
		eq(t, "ActiveGrants after a grant in the transaction", get[[]consent.Grant](t)(tx.ActiveGrants(ctx, []int64{none})),
			[]consent.Grant{g(a.ID, none, "email", "marketing", nil)})
		return nil
	})
}

// testPurposeGrants: a brand's given grants for one purpose and the categories asked for, by
// consumer then category, expired ones included (the caller decides at its own time), nothing
// withdrawn, refused, of another purpose or of another brand.
func testPurposeGrants(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	a, b := newBrand(t, s, "a"), newBrand(t, s, "b")
	c1, c2, c3 := newConsumer(t, s, a.ID), newConsumer(t, s, a.ID), newConsumer(t, s, a.ID)
	other := newConsumer(t, s, b.ID)
	expiring := grant(a.ID, c3, "purchases", "model_training", consent.StateGiven, at(1))
	expiring.ExpiresAt = at(5)
	insertRecords(t, s,
		grant(a.ID, c2, "purchases", "model_training", consent.StateGiven, at(1)),
		grant(a.ID, c1, "browsing", "model_training", consent.StateGiven, at(1)),
		grant(a.ID, c1, "purchases", "model_training", consent.StateGiven, at(1)),
		grant(a.ID, c1, "location", "model_training", consent.StateGiven, at(1)), // not asked for
		grant(a.ID, c2, "browsing", "personalization", consent.StateGiven, at(1)),
		grant(a.ID, c2, "browsing", "model_training", consent.StateRefused, at(1)),
		expiring,
		grant(b.ID, other, "purchases", "model_training", consent.StateGiven, at(1)),
	)
	insertRecords(t, s, grant(a.ID, c2, "purchases", "model_training", consent.StateWithdrawn, at(2))) // c2 withdraws
	view(t, s, func(tx store.Tx) error {
		got := get[[]consent.Grant](t)(tx.PurposeGrants(ctx, a.ID, "model_training", []string{"purchases", "browsing"}))
		want := []consent.Grant{
			{BrandID: a.ID, ConsumerID: c1, Category: "browsing", Purpose: "model_training"},
			{BrandID: a.ID, ConsumerID: c1, Category: "purchases", Purpose: "model_training"},
			{BrandID: a.ID, ConsumerID: c3, Category: "purchases", Purpose: "model_training", ExpiresAt: at(5)},
		}
		eq(t, "PurposeGrants", got, want)
		if got := get[[]consent.Grant](t)(tx.PurposeGrants(ctx, a.ID, "model_training", nil)); len(got) != 0 {
			t.Errorf("PurposeGrants of no category = %v", got)
		}
		if got := get[[]consent.Grant](t)(tx.PurposeGrants(ctx, b.ID, "personalization", []string{"purchases"})); len(got) != 0 {
			t.Errorf("PurposeGrants of brand b, personalization = %v", got)
		}
		return nil
	})
}
