package postgres_test

import (
	"database/sql"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"

	"github.com/symbiont/symbiont/store/sqlite"
	"github.com/symbiont/symbiont/store/storetest"
)

// TestSchemasMatch: the SQLite and PostgreSQL migrations, applied from scratch, define the
// same tables with the same columns, but for the differences listed here, each with its
// reason. The two migration sets are written by hand; this is what keeps them from drifting.
func TestSchemasMatch(t *testing.T) {
	// Tables only one engine has, and why.
	onlySQLite := map[string]string{
		"sequences":              "the arrival sequence of events, assigned by the single writer (PostgreSQL: an identity column)",
		"keys.data_keys":         "consumers' data keys live in their own file on SQLite (PostgreSQL: vault_keys)",
		"keys.schema_migrations": "keys.db has its own migrations",
	}
	onlyPostgres := map[string]string{
		"vault_keys": "consumers' data keys (SQLite: keys.db's data_keys)",
	}

	dir := t.TempDir()
	st, err := sqlite.Open(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	lite := map[string][]string{}
	for prefix, file := range map[string]string{"": "symbiont.db", "keys.": "keys.db"} {
		db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, file)+"?mode=ro")
		if err != nil {
			t.Fatal(err)
		}
		for table, cols := range storetest.Columns(t, db, storetest.SQLiteColumnsQuery) {
			lite[prefix+table] = cols
		}
		db.Close()
	}

	dsn := storetest.PostgresDSN(t)
	open(t, dsn) // migrates the fresh schema
	pdb, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pdb.Close()
	pg := storetest.Columns(t, pdb, `SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema()`)

	if len(lite) < 20 || len(pg) < 20 {
		t.Fatalf("read %d SQLite tables and %d PostgreSQL tables; want the whole schema of each", len(lite), len(pg))
	}
	for table := range onlySQLite {
		if _, ok := lite[table]; !ok {
			t.Errorf("table %s is listed as SQLite's only, but SQLite has no such table", table)
		}
	}
	for table := range onlyPostgres {
		if _, ok := pg[table]; !ok {
			t.Errorf("table %s is listed as PostgreSQL's only, but PostgreSQL has no such table", table)
		}
	}
	t.Logf("compared %d SQLite tables with %d PostgreSQL tables", len(lite), len(pg))
	for _, table := range slices.Sorted(maps.Keys(lite)) {
		if why, ok := onlySQLite[table]; ok {
			if _, both := pg[table]; both {
				t.Errorf("table %s is listed as SQLite's only (%s) but PostgreSQL has it too", table, why)
			}
			continue
		}
		want, ok := pg[table]
		if !ok {
			t.Errorf("table %s: in SQLite's schema, not in PostgreSQL's", table)
			continue
		}
		if got := lite[table]; !slices.Equal(got, want) {
			t.Errorf("table %s: columns differ\n  sqlite:     %s\n  postgresql: %s", table, strings.Join(got, ", "), strings.Join(want, ", "))
		}
	}
	for _, table := range slices.Sorted(maps.Keys(pg)) {
		if _, ok := lite[table]; ok {
			continue
		}
		if _, ok := onlyPostgres[table]; !ok {
			t.Errorf("table %s: in PostgreSQL's schema, not in SQLite's", table)
		}
	}
}
