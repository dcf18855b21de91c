package postgres_test

import (
	"testing"

	"github.com/symbiont/symbiont/store/postgres"
	"github.com/symbiont/symbiont/store/storetest"
)

// BenchmarkStore: the store's write hot paths (see storetest.Bench).
func BenchmarkStore(b *testing.B) {
	s, err := postgres.Open(b.Context(), storetest.PostgresDSN(b), 8)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	storetest.Bench(b, s)
}
