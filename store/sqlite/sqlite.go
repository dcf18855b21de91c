// Package sqlite is Symbiont's embedded store: two SQLite files in a data directory, opened with
// the pure-Go driver modernc.org/sqlite (no cgo, no server).
//
//   - symbiont.db holds everything but data keys. WAL mode; a transaction is on disk before
//     its caller is answered (acknowledged means durable, even on power loss: the writer's
//     group commit fdatasyncs the log after each COMMIT, see walSyncer); one writer connection (SQLite allows one writer; a pool would only queue on
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
	"syscall"
	"time"

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
	// LockFile is held (flock) while a process has the store open.
	LockFile = "symbiont.lock"
)

var dialect = sqlstore.Dialect{KeyTable: "data_keys", PreparedReads: true,
	// A destroyed key's pages stay in keys.db-wal until a checkpoint (which, with the
	// default auto-checkpoint, may be much later): copy them into keys.db, where secure_delete
	// has zeroed the key, and truncate the log. The row is (busy, log frames, checkpointed).
	PurgeKeys:    "PRAGMA wal_checkpoint(TRUNCATE)",
	WriterDedup:  true,
	LastInsertID: true,
	GroupCommit:  true,
}

// engine is SQLite's sqlstore.Engine. One process owns the files (the data directory's lock)
// and its write transactions run one at a time on the one writer connection: there is nobody
// to lock against, to notify or to listen to, so those operations do nothing.
type engine struct {
	dialect sqlstore.Dialect // dialect, with this store's SyncCommit
}

var _ sqlstore.Engine = (*engine)(nil)

func (*engine) Name() string { return "sqlite" }

func (*engine) Shared() bool { return false }

func (e *engine) Dialect() sqlstore.Dialect { return e.dialect }

func (*engine) LockConsumer(context.Context, sqlstore.Execer, int64) error { return nil }

func (*engine) LockConsumers(context.Context, sqlstore.Execer, []int64) error { return nil }

func (*engine) LockIdentifier(context.Context, sqlstore.Execer, int64, string, []byte) error {
	return nil
}

func (*engine) LockLedger(context.Context, sqlstore.Execer) error { return nil }

func (*engine) Notify(context.Context, sqlstore.Execer, string) error { return nil }

func (*engine) Listen(context.Context, func(string), func(error)) error { return nil }

// InsertConflict is never asked: the writer deduplicates events itself (WriterDedup).
func (*engine) InsertConflict(error) bool { return false }

// Connection roles.
const (
	roleWriter = iota
	roleReader
	roleCheckpointer
	roleKeys
)

func dsn(path string, role int) string {
	v := url.Values{}
	// synchronous: FULL everywhere but on the writer, so that a commit is on disk when it
	// returns. The writer runs NORMAL (in WAL mode: no fsync at COMMIT, the log still synced
	// before each checkpoint), and its group commit makes each COMMIT durable with an fdatasync
	// of the log on another goroutine before anyone is answered (walSyncer, and group.go in
	// sqlstore): the writer does not wait for the disk. secure_delete zeroes deleted rows.
	// temp_store keeps statement journals off the disk; journal_size_limit trims the WAL file
	// after a burst. (mmap was measured slower for the writer here.)
	sync := "synchronous(FULL)"
	if role == roleWriter {
		sync = "synchronous(NORMAL)"
	}
	for _, p := range []string{"journal_mode(WAL)", sync, "busy_timeout(10000)", "foreign_keys(1)", "secure_delete(1)",
		"temp_store(MEMORY)", "journal_size_limit(67108864)"} {
		v.Add("_pragma", p)
	}
	cache := "cache_size(-32768)" // 32 MiB per connection
	if role == roleReader {
		cache = "cache_size(-16384)" // 16 MiB each: there are readers of them (≤ 256 MiB in all)
	}
	if role == roleWriter {
		// 64 MiB: the writer's hot pages are the table's last ones and the consumer index.
		// A larger cache was slower (measured, issue 14: 256 MiB 39k events/s, 64 MiB 45k):
		// appending needs a fresh cache slot per page, which a cache that is not full mallocs,
		// and every commit walks the cache to truncate it.
		cache = "cache_size(-65536)"
	}
	v.Add("_pragma", cache)
	switch role {
	case roleWriter:
		v.Set("_txlock", "immediate") // take the write lock at BEGIN, not at the first write
		// Checkpointing is split: a background checkpointer on its own connection copies
		// committed WAL frames into the database while the writer goes on (on the other
		// core), and the writer itself checkpoints once the WAL passes this many pages. Its
		// checkpoint then has little left to copy, and since it runs between the writer's own
		// transactions it completes, so the WAL starts over instead of growing. (A RESTART
		// checkpoint from the background instead stalls the writer for up to a second.)
		v.Add("_pragma", "wal_autocheckpoint(16384)")
	case roleKeys:
		v.Set("_txlock", "immediate")
	case roleReader:
		v.Add("_pragma", "query_only(1)")
	}
	return "file:" + path + "?" + v.Encode()
}

// readers is the size of the pool of read-only connections. Every act reads before it writes
// (consent's current state, a purpose-bound read's events), outside the write transaction, and
// with 32 concurrent callers a pool of 4 made them queue for a connection, so that fewer acts
// reached each group commit (measured, issue 14: 4 readers 4.2 transactions a group, 16
// readers 8.0, and purpose-bound reads with their records 4,067 and 4,861 against 5,768 and
// 6,450 a second; docs/benchmarks.md). SQLite readers in WAL mode never block each other or the
// writer.
var readers = max(16, runtime.GOMAXPROCS(0)*2)

// walSyncer makes the writer's commits durable: it fdatasyncs the database's write-ahead log
// through a descriptor of its own (fdatasync flushes the file, whichever descriptor wrote it).
// SQLite keeps the log file while a connection is open (the writer's is, for good) and only
// truncates or rewrites it in place; should the path ever name another file, it is reopened.
type walSyncer struct {
	path string
	f    *os.File
	ino  uint64
}

func (w *walSyncer) sync() error {
	var st syscall.Stat_t
	if err := syscall.Stat(w.path, &st); err != nil {
		return fmt.Errorf("sqlite: the write-ahead log: %w", err)
	}
	if w.f == nil || st.Ino != w.ino {
		if w.f != nil {
			w.f.Close()
		}
		f, err := os.Open(w.path)
		if err != nil {
			w.f = nil
			return fmt.Errorf("sqlite: the write-ahead log: %w", err)
		}
		w.f, w.ino = f, st.Ino
	}
	if err := syscall.Fdatasync(int(w.f.Fd())); err != nil {
		return fmt.Errorf("sqlite: fdatasync of the write-ahead log: %w", err)
	}
	return nil
}

func (w *walSyncer) close() error {
	if w.f != nil {
		return w.f.Close()
	}
	return nil
}

// checkpointEvery is how often the background checkpointer copies committed WAL frames. The
// pages commits write are mostly the same few (the table's last pages, the consumer index's
// hot pages), rewritten by group after group: a checkpoint copies each once however often it
// changed since the last one, so fewer checkpoints copy fewer pages. (Issue 14: 500 ms against
// 100 ms, 42k against 40k events/s, within the noise of one run; 20 ms was 37.5k.)
const checkpointEvery = 500 * time.Millisecond

// checkpointer runs PASSIVE checkpoints, which never block the writer or readers, until stop
// is closed.
func checkpointer(db *sql.DB, stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			db.Exec(`PRAGMA wal_checkpoint(PASSIVE)`)
		}
	}
}

// Open opens (creating and migrating if needed) the store in dir.
func Open(ctx context.Context, dir string) (*sqlstore.DB, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("sqlite: data directory: %w", err)
	}
	// One process at a time: two would fight over the single writer lock and the checkpoints.
	lock, err := os.OpenFile(filepath.Join(dir, LockFile), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		return nil, fmt.Errorf("sqlite: the data directory %s is in use by another symbiont process", dir)
	}
	open := func(name string, role int, conns int, m fs.FS) (*sql.DB, error) {
		path := filepath.Join(dir, name)
		if role == roleWriter || role == roleKeys {
			// Create the file 0600 before SQLite does (it would use the umask).
			f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
			if err != nil {
				return nil, fmt.Errorf("sqlite: %w", err)
			}
			f.Close()
		}
		db, err := sql.Open("sqlite", dsn(path, role))
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
	var closers []func() error
	fail := func(err error) (*sqlstore.DB, error) {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
		lock.Close()
		return nil, err
	}
	writer, err := open(DBFile, roleWriter, 1, mig)
	if err != nil {
		return fail(err)
	}
	closers = append(closers, writer.Close)
	reader, err := open(DBFile, roleReader, readers, nil)
	if err != nil {
		return fail(err)
	}
	closers = append(closers, reader.Close)
	cp, err := open(DBFile, roleCheckpointer, 1, nil)
	if err != nil {
		return fail(err)
	}
	closers = append(closers, cp.Close)
	keys, err := open(KeysFile, roleKeys, 1, kmig)
	if err != nil {
		return fail(err)
	}
	stop, done := make(chan struct{}), make(chan struct{})
	go checkpointer(cp, stop, done)
	// Close order: stop the checkpointer, truncate the WAL, then the pools, then the lock.
	ws := &walSyncer{path: filepath.Join(dir, DBFile) + "-wal"}
	e := &engine{dialect: dialect}
	e.dialect.SyncCommit = ws.sync
	return sqlstore.Open(ctx, writer, reader, keys, e, nil,
		func() error {
			close(stop)
			<-done
			_, err := writer.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`)
			return err
		},
		reader.Close, writer.Close, cp.Close, keys.Close, ws.close, lock.Close)
}
