package sqlite_test

import (
	"testing"

	"github.com/symbiont/symbiont/store/sqlite"
	"github.com/symbiont/symbiont/store/storetest"
)

// BenchmarkStore: the store's write hot paths (see storetest.Bench).
func BenchmarkStore(b *testing.B) {
	s, err := sqlite.Open(b.Context(), b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	storetest.Bench(b, s)
}
