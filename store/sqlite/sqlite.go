// Package sqlite is Symbiont's embedded store: two SQLite files in a data directory, opened with
// the pure-Go driver modernc.org/sqlite (no cgo, no server).
//
//   - symbiont.db holds everything but data keys. WAL mode; synchronous=FULL so that a
//     transaction is on disk when Commit returns (acknowledged means durable, even on power
//     loss); one writer connection (SQLite allows one writer; a pool would only queue on
//     SQLITE_BUSY) and a pool of read-only connections that read while the writer writes.
//   - keys.db holds consumers' wrapped data keys apart, so that an erased consumer's data is
//     unreadable in every copy of symbiont.db, including old backups.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/symbiont/symbiont/store/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

//go:embed keymigrations/*.sql
var keyMigrations embed.FS

// Files in the data directory.
const (
	DBFile   = "symbiont.db"
	KeysFile = "keys.db"
)

var dialect = sqlstore.Dialect{Name: "sqlite", KeyTable: "data_keys",
	// A destroyed key's pages stay in keys.db-wal until a checkpoint (which, with the
	// default auto-checkpoint, may be much later): copy them into keys.db, where secure_delete
	// has zeroed the key, and truncate the log. The row is (busy, log frames, checkpointed).
	PurgeKeys:    "PRAGMA wal_checkpoint(TRUNCATE)",
	PlacedEvents: true,
}

func dsn(path string, write bool) string {
	v := url.Values{}
	// cache_size and mmap_size keep the hot pages in memory; temp_store keeps statement
	// journals (multi-row inserts open one) off the disk; wal_autocheckpoint is
	// raised so that a large group commit does not also checkpoint every time.
	for _, p := range []string{"journal_mode(WAL)", "synchronous(FULL)", "busy_timeout(10000)", "foreign_keys(1)", "secure_delete(1)",
		"cache_size(-65536)", "mmap_size(1073741824)", "wal_autocheckpoint(8192)", "temp_store(MEMORY)"} {
		v.Add("_pragma", p)
	}
	if write {
		v.Set("_txlock", "immediate") // take the write lock at BEGIN, not at the first write
	} else {
		v.Add("_pragma", "query_only(1)")
	}
	return "file:" + path + "?" + v.Encode()
}

// Open opens (creating and migrating if needed) the store in dir.
func Open(ctx context.Context, dir string) (*sqlstore.DB, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("sqlite: data directory: %w", err)
	}
	open := func(name string, write bool, conns int, m fs.FS) (*sql.DB, error) {
		path := filepath.Join(dir, name)
		if write {
			// Create the file 0600 before SQLite does (it would use the umask).
			f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
			if err != nil {
				return nil, fmt.Errorf("sqlite: %w", err)
			}
			f.Close()
		}
		db, err := sql.Open("sqlite", dsn(path, write))
		if err != nil {
			return nil, fmt.Errorf("sqlite: open %s: %w", name, err)
		}
		db.SetMaxOpenConns(conns)
		db.SetMaxIdleConns(conns)
		db.SetConnMaxLifetime(0)
		db.SetConnMaxIdleTime(0)
		if m != nil {
			if err := sqlstore.Migrate(ctx, db, m, dialect); err != nil {
				db.Close()
				return nil, fmt.Errorf("sqlite: %s: %w", name, err)
			}
		}
		return db, nil
	}
	mig, _ := fs.Sub(migrations, "migrations")
	kmig, _ := fs.Sub(keyMigrations, "keymigrations")
	writer, err := open(DBFile, true, 1, mig)
	if err != nil {
		return nil, err
	}
	reader, err := open(DBFile, false, max(4, runtime.GOMAXPROCS(0)*2), nil)
	if err != nil {
		writer.Close()
		return nil, err
	}
	keys, err := open(KeysFile, true, 1, kmig)
	if err != nil {
		writer.Close()
		reader.Close()
		return nil, err
	}
	return sqlstore.Open(writer, reader, keys, dialect, nil, reader.Close, writer.Close, keys.Close), nil
}
