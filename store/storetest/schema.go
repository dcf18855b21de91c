package storetest

import (
	"database/sql"
	"slices"
	"testing"
)

// Columns returns table → its column names, sorted, from a query of the engine's catalogue
// whose rows are (table, column): what the schema tests compare and search.
func Columns(t testing.TB, db *sql.DB, q string) map[string][]string {
	t.Helper()
	rows, err := db.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string][]string{}
	for rows.Next() {
		var table, col string
		if err := rows.Scan(&table, &col); err != nil {
			t.Fatal(err)
		}
		out[table] = append(out[table], col)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for _, cols := range out {
		slices.Sort(cols)
	}
	return out
}

// SQLiteColumnsQuery lists (table, column) of an SQLite database's own tables.
const SQLiteColumnsQuery = `SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p
	WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'`
