package postgres_test

import (
	"strings"
	"testing"

	"github.com/symbiont/symbiont/consent"
	"github.com/symbiont/symbiont/store"
	"github.com/symbiont/symbiont/store/postgres"
	"github.com/symbiont/symbiont/store/storetest"
)

// TestChangeChannel: every schema name, however long or odd, gives a valid channel name (an
// identifier of at most 63 bytes), and different schemas different channels.
func TestChangeChannel(t *testing.T) {
	seen := map[string]string{}
	for _, schema := range []string{"public", "t_0123456789abcdef", strings.Repeat("s", 63), strings.Repeat("é", 40), `odd "schema"; name`, ""} {
		ch := postgres.ChangeChannel(schema)
		if len(ch) > 63 || !strings.HasPrefix(ch, "symbiont_changes_") || strings.Trim(ch, "abcdefghijklmnopqrstuvwxyz0123456789_") != "" {
			t.Errorf("ChangeChannel(%q) = %q", schema, ch)
		}
		if other, ok := seen[ch]; ok {
			t.Errorf("schemas %q and %q share channel %q", other, schema, ch)
		}
		seen[ch] = schema
	}
}

// TestChangesStayInTheirSchema: nodes of two schemas in one database do not hear each other's
// change notices (each would otherwise reload its own brand and consumer of the same id).
func TestChangesStayInTheirSchema(t *testing.T) {
	storetest.RequirePostgres(t)
	a := open(t, storetest.PostgresDSN(t))
	b := open(t, storetest.PostgresDSN(t))
	next := storetest.Listen(t, a)
	if c := next(); c.Kind != store.ChangeConnected {
		t.Fatalf("first notice %+v, want connected", c)
	}
	term := consent.Term{Kind: "purpose", Name: "raffle", Label: "Raffles", Description: "r"}
	// b's change commits first: were it heard on a's channel, it would arrive first.
	for _, s := range []struct {
		st    store.Store
		brand int64
	}{{b, 7}, {a, 8}} {
		if err := s.st.Update(t.Context(), func(tx store.Tx) error { return tx.PutCustomTerm(t.Context(), s.brand, term) }); err != nil {
			t.Fatal(err)
		}
	}
	if c := next(); c.Kind != store.ChangeVocab || c.BrandID != 8 {
		t.Fatalf("a heard %+v first, want its own vocab change of brand 8", c)
	}
}
