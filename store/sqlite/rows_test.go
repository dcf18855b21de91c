package sqlite_test

import (
	"database/sql"
	"path/filepath"
	"slices"
	"testing"

	"github.com/symbiont/symbiont/store"
	"github.com/symbiont/symbiont/store/sqlite"
	"github.com/symbiont/symbiont/store/sqlstore"
	"github.com/symbiont/symbiont/store/storetest"
)

// consumerColumns are the columns that say whose a row is: a consumer's id, the chain of a
// consumer's ledger entries, a consumer's points account.
var consumerColumns = []string{"consumer_id", "chain_id", "account"}

// TestConsumerTablesClaimed: every table of the schema with a column saying whose a row is
// belongs to a domain's declared per-consumer rows (sqlstore.ConsumerTables), so merge and
// erasure reach it; a table added without a declaration fails here. (TestSchemasMatch holds
// PostgreSQL's schema to this one.)
func TestConsumerTablesClaimed(t *testing.T) {
	dir := t.TempDir()
	st, err := sqlite.Open(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, sqlite.DBFile)+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	schema := storetest.Columns(t, db, storetest.SQLiteColumnsQuery)
	claimed := map[string]store.ConsumerTable{}
	for _, tb := range sqlstore.ConsumerTables() {
		if _, dup := claimed[tb.Name]; dup {
			t.Errorf("table %s is declared by two domains", tb.Name)
		}
		claimed[tb.Name] = tb
		if !slices.Contains(schema[tb.Name], tb.Column) {
			t.Errorf("declared table %s has no column %s in the schema", tb.Name, tb.Column)
		}
		if !tb.Unscoped && !slices.Contains(schema[tb.Name], "brand_id") {
			t.Errorf("declared table %s has no brand_id column: its rows cannot be counted per brand", tb.Name)
		}
	}
	n := 0
	for table, cols := range schema {
		for _, c := range consumerColumns {
			if !slices.Contains(cols, c) {
				continue
			}
			n++
			if _, ok := claimed[table]; !ok {
				t.Errorf("table %s has a %s column but no domain declares its rows: add it to its domain's consumerRows in store/sqlstore (see rows.go), or it survives merge and erasure", table, c)
			}
		}
	}
	if n < 10 {
		t.Fatalf("found %d tables of consumer rows; want the whole schema", n)
	}
}
