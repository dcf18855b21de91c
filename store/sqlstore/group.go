package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"time"

	"github.com/symbiont/symbiont/store"
)

// Group commit (SQLite). SQLite has one writer and pays an fsync per commit; transactions from
// concurrent callers are therefore run one after the other inside one database transaction and
// committed together. When several are grouped, each caller's function runs inside its own
// SAVEPOINT: when it fails, only its own writes are rolled back and only it sees the error; when
// the commit fails, every caller in the group sees that error. A transaction alone in its group
// needs no savepoint, and one that asks to be alone (UpdateAlone: a large, self-batched
// transaction, for which a savepoint would copy every page it touches into the sub-journal)
// is never grouped. A caller returns only after its commit is durable, so "acknowledged means
// durable" holds as before.
//
// Durability is pipelined (Dialect.SyncCommit): the writer connection commits without an fsync
// (SQLite's synchronous=NORMAL in WAL mode) and hands the group to the syncer goroutine, which
// makes the log durable (one fdatasync for every group committed since its last one) and only
// then answers the group's callers, while the writer already runs the next group. So the fsync
// wait is off the writer. Ordering keeps it exact: a later group is answered only after a sync
// that started after its own COMMIT, which covers every earlier group too, so whatever a later
// transaction read of an earlier one (a duplicate, a chain head) is durable when it is
// answered. A failed sync fails the store: no caller of that group or any later one is told
// its transaction committed, and every later Update and View fails (the process must restart,
// and SQLite's recovery decides what survived).
//
// Readers (View, on other connections) could see a commit before it is durable. A View
// therefore waits, after its function returns and before its results go to its caller, until
// every commit that had started when it finished is durable (durableBarrier): nothing read can
// vanish in a crash after it was shown. When nothing is being synced it does not wait.
//
// The committer runs callers' functions on one long-lived goroutine of its own (the runner),
// not on the callers' goroutines: a panic or a runtime.Goexit in a function then reaches only
// that caller and never stops the committer (a runner that exited is replaced), and, unlike a
// goroutine per function, the runner keeps the deep stack SQLite's calls need instead of
// growing a new one each time (measured: ~15 µs of writer time per transaction). Both
// goroutines carry the profiler label symbiont=sqlite-writer, so that a CPU profile shows the
// writer's time on its own.

// maxGroup bounds the transactions committed together.
const maxGroup = 128

type groupReq struct {
	alone    bool
	ctx      context.Context
	fn       func(store.Tx) error
	err      error
	panicked any
	done     chan struct{}
	// undo holds what the caller asked to run should its writes be undone (Tx.OnUndo).
	undo []func()
	// counts are the console counter deltas of its transaction, written by the committer
	// with the group's if the transaction stays in it (addCounts).
	counts counts
}

// errExited is reported when a transaction function ended its goroutine (runtime.Goexit).
var errExited = errors.New("sqlstore: the transaction function exited without returning")

// writerLabels mark the writer's goroutines in CPU profiles; syncerLabels the syncer's.
var (
	writerLabels = pprof.Labels("symbiont", "sqlite-writer")
	syncerLabels = pprof.Labels("symbiont", "sqlite-syncer")
)

// WriterStats is what the single writer (SQLite group commit) has done since the store opened.
type WriterStats struct {
	// Busy is the wall time the writer spent in transactions, from BEGIN to the end of COMMIT,
	// less the time a group held open waited for callers (commitGroup).
	Busy time.Duration
	// Transactions counts callers' transactions that committed; Groups the commits.
	Transactions, Groups int64
}

type writerStats struct{ busy, txs, groups atomic.Int64 }

// pipeline is the state shared by the writer, the syncer and readers (see durableBarrier).
type pipeline struct {
	sync func() error // nil: COMMIT is durable by itself
	ch   chan *syncJob
	done chan struct{}
	// started counts COMMITs begun; durable is the count of those settled (durable, or failed).
	started atomic.Int64
	// synced is signalled (without blocking) after every sync: the writer, holding a group
	// open while the syncer is busy, commits as soon as it is free (see extend).
	synced  chan struct{}
	mu      sync.Mutex
	cond    *sync.Cond
	durable int64
	failed  error // set once by a failed sync; under mu
}

type syncJob struct {
	n      int64 // the COMMIT's number in started
	err    error // the COMMIT's own error: nothing to sync
	finish func(error)
}

// fail reports why the store can no longer acknowledge anything, nil while it can.
func (p *pipeline) fail() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.failed
}

// syncLoop makes committed groups durable in order and answers them.
func (p *pipeline) syncLoop() {
	defer close(p.done)
	for j := range p.ch {
		jobs := []*syncJob{j}
	more:
		for {
			select {
			case j2, ok := <-p.ch:
				if !ok {
					break more
				}
				jobs = append(jobs, j2)
			default:
				break more
			}
		}
		err := p.fail()
		if err == nil {
			if err = p.sync(); err != nil {
				err = fmt.Errorf("sqlstore: the write-ahead log could not be made durable; the store stops: %w", err)
				p.mu.Lock()
				p.failed = err
				p.mu.Unlock()
			}
		}
		for _, j := range jobs {
			if j.err != nil {
				j.finish(j.err)
			} else {
				j.finish(err)
			}
		}
		p.mu.Lock()
		p.durable = jobs[len(jobs)-1].n
		p.cond.Broadcast()
		p.mu.Unlock()
		select {
		case p.synced <- struct{}{}:
		default:
		}
	}
}

// syncing reports whether a COMMIT is waiting for or in its sync.
func (p *pipeline) syncing() bool {
	n := p.started.Load()
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.durable < n && p.failed == nil
}

// durableBarrier waits until every COMMIT begun so far is settled; it reports the store's
// failure, if any.
func (db *DB) durableBarrier() error {
	p := db.pipe
	if p == nil {
		return nil
	}
	n := p.started.Load()
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.durable < n && p.failed == nil {
		p.cond.Wait()
	}
	return p.failed
}

// WriterStats reports the writer's work so far (zero without group commit); benchmarks divide
// Busy by Transactions to get the writer time per act.
func (db *DB) WriterStats() WriterStats {
	return WriterStats{Busy: time.Duration(db.wstats.busy.Load()), Transactions: db.wstats.txs.Load(), Groups: db.wstats.groups.Load()}
}

// startGroupCommit takes the writer connection for good and starts the committer; Close stops
// it.
func (db *DB) startGroupCommit(ctx context.Context) error {
	conn, err := db.writer.Conn(ctx)
	if err != nil {
		return fmt.Errorf("sqlstore: writer connection: %w", err)
	}
	db.wconn, db.connStmts = conn, map[string]*sql.Stmt{}
	db.group = make(chan *groupReq, 4*maxGroup)
	db.groupDone = make(chan struct{})
	if db.dialect.SyncCommit != nil {
		p := &pipeline{sync: db.dialect.SyncCommit, ch: make(chan *syncJob, 4*maxGroup), done: make(chan struct{}), synced: make(chan struct{}, 1)}
		p.cond = sync.NewCond(&p.mu)
		db.pipe = p
		go pprof.Do(context.Background(), syncerLabels, func(context.Context) { p.syncLoop() })
	}
	go pprof.Do(context.Background(), writerLabels, func(context.Context) {
		defer close(db.groupDone)
		defer func() { // after the last group: let the syncer answer it and stop
			if db.pipe != nil {
				close(db.pipe.ch)
				<-db.pipe.done
			}
		}()
		var run runner
		defer run.stop()
		for req := range db.group {
			batch := []*groupReq{req}
			var next *groupReq
		fill:
			for !req.alone && len(batch) < maxGroup {
				select {
				case r, ok := <-db.group:
					if !ok {
						break fill
					}
					if r.alone {
						next = r
						break fill
					}
					batch = append(batch, r)
				default:
					break fill
				}
			}
			if deferred := db.commitGroup(&run, batch, next == nil && !req.alone); next == nil {
				next = deferred
			}
			for next != nil {
				next = db.commitGroup(&run, []*groupReq{next}, false)
			}
		}
	})
	return nil
}

// updateGrouped queues fn for the committer and waits for the group's commit.
func (db *DB) updateGrouped(ctx context.Context, fn func(store.Tx) error) error {
	return db.updateGroupedAs(ctx, fn, false)
}

func (db *DB) updateGroupedAs(ctx context.Context, fn func(store.Tx) error, alone bool) error {
	req := &groupReq{ctx: ctx, fn: fn, done: make(chan struct{}), alone: alone}
	db.groupMu.RLock()
	if db.groupClosed {
		db.groupMu.RUnlock()
		return errors.New("sqlstore: the store is closed")
	}
	select {
	case db.group <- req:
		db.groupMu.RUnlock()
	case <-ctx.Done():
		db.groupMu.RUnlock()
		return ctx.Err()
	}
	<-req.done
	if req.panicked != nil {
		panic(req.panicked)
	}
	return req.err
}

// commitGroup runs batch's functions in one transaction and commits it. With extend, while
// the syncer is still making an earlier COMMIT durable, it keeps the transaction open and runs
// the callers that arrive meanwhile in it too (up to maxGroup), committing once the syncer is
// free: those callers would wait for that sync anyway, and one COMMIT of many transactions
// writes each page they share to the log once (measured: groups of 2-5 acts became ~20, and the
// writer's time per act fell; docs/benchmarks.md). A caller that asks to be alone and arrives
// meanwhile ends the extension and is returned, to be committed next.
func (db *DB) commitGroup(run *runner, batch []*groupReq, extend bool) (deferred *groupReq) {
	start := time.Now()
	undoAll := func() {
		for _, r := range batch {
			r.undone()
		}
	}
	finish := func(err error) {
		committed := int64(0)
		for _, r := range batch {
			if r.err == nil && r.panicked == nil {
				r.err = err
			}
			if r.err == nil && r.panicked == nil {
				committed++
			}
			close(r.done)
		}
		if committed > 0 {
			db.wstats.txs.Add(committed)
			db.wstats.groups.Add(1)
		}
	}
	var idle time.Duration // waiting for callers while the group is held open: not busy
	defer func() { db.wstats.busy.Add(int64(time.Since(start) - idle)) }()
	if db.pipe != nil {
		if err := db.pipe.fail(); err != nil {
			finish(err)
			return nil
		}
	}
	ctx := context.Background()
	exec := func(q string) error {
		st, done, err := db.connStmt(ctx, db.wconn, q)
		if err != nil {
			return err
		}
		defer done()
		_, err = st.ExecContext(ctx)
		return err
	}
	if err := exec("BEGIN IMMEDIATE"); err != nil {
		finish(fmt.Errorf("sqlstore: begin: %w", err))
		return nil
	}
	rollback := func() { _, _ = db.wconn.ExecContext(ctx, "ROLLBACK"); undoAll() }
	ok := 0
	// saved runs r inside a savepoint; an error means the transaction is in an unknown state.
	saved := func(r *groupReq) error {
		if err := r.ctx.Err(); err != nil {
			r.err = err
			return nil
		}
		// One savepoint name serves every caller: each is released (or rolled back to and
		// released) before the next one opens, and the statements stay prepared.
		if err := exec("SAVEPOINT g"); err != nil {
			r.err = err
			return nil
		}
		run.do(r, &Tx{db: db, conn: db.wconn, req: r})
		if r.err != nil || r.panicked != nil {
			if err := exec("ROLLBACK TO g"); err != nil {
				return fmt.Errorf("sqlstore: rollback to savepoint: %w", err)
			}
			r.undone()
		} else {
			ok++
		}
		if err := exec("RELEASE g"); err != nil {
			return fmt.Errorf("sqlstore: release savepoint: %w", err)
		}
		return nil
	}
	if len(batch) == 1 { // alone: the transaction itself is the isolation, no savepoint
		r := batch[0]
		if r.err = r.ctx.Err(); r.err == nil {
			run.do(r, &Tx{db: db, conn: db.wconn, req: r})
		}
		if r.err == nil && r.panicked == nil {
			ok++
		} else {
			extend = false // nothing else may share a transaction that must be rolled back
		}
	} else {
		for _, r := range batch {
			if err := saved(r); err != nil {
				// The transaction is in an unknown state: give up on the whole group.
				rollback()
				finish(err)
				return nil
			}
		}
	}
	if p := db.pipe; p != nil && extend {
	wait:
		for len(batch) < maxGroup {
			select { // a signal from a sync that ended before now says nothing
			case <-p.synced:
			default:
			}
			if !p.syncing() {
				break
			}
			waited := time.Now()
			select {
			case r, open := <-db.group:
				idle += time.Since(waited)
				if !open {
					break wait
				}
				if r.alone {
					deferred = r
					break wait
				}
				batch = append(batch, r)
				if err := saved(r); err != nil {
					rollback()
					finish(err)
					return deferred
				}
			case <-p.synced:
				idle += time.Since(waited)
			}
		}
	}
	if ok == 0 {
		rollback()
		finish(nil)
		return deferred
	}
	if err := db.writeGroupCounts(ctx, batch); err != nil {
		rollback()
		finish(err)
		return deferred
	}
	if p := db.pipe; p != nil {
		// The syncer answers the group once its COMMIT is durable; readers that might see
		// this COMMIT wait for that too (durableBarrier), so it is counted before it begins.
		j := &syncJob{n: p.started.Add(1), finish: finish}
		if err := exec("COMMIT"); err != nil {
			rollback()
			j.err = fmt.Errorf("sqlstore: commit: %w", err)
		}
		p.ch <- j
		return deferred
	}
	if err := exec("COMMIT"); err != nil {
		rollback() // SQLite may leave the transaction open after a failed COMMIT
		finish(fmt.Errorf("sqlstore: commit: %w", err))
		return deferred
	}
	finish(nil)
	return deferred
}

// writeGroupCounts writes, in the group's transaction, the counter deltas of every caller
// whose transaction stays in it.
func (db *DB) writeGroupCounts(ctx context.Context, batch []*groupReq) error {
	var all counts
	for _, r := range batch {
		if r.err != nil || r.panicked != nil || len(r.counts) == 0 {
			continue
		}
		if all == nil {
			all = r.counts
			continue
		}
		for k, n := range r.counts {
			all[k] += n
		}
	}
	if len(all) == 0 {
		return nil
	}
	if err := (&Tx{db: db, conn: db.wconn}).writeCounts(ctx, all, 0); err != nil {
		return fmt.Errorf("sqlstore: console counters: %w", err)
	}
	return nil
}

// undone runs what the caller registered for the case its writes are undone, once, on the
// committer's goroutine before the next caller's function runs; its counter deltas go too.
func (r *groupReq) undone() {
	for i := len(r.undo) - 1; i >= 0; i-- {
		r.undo[i]()
	}
	r.undo, r.counts = nil, nil
}

// OnUndo registers fn to run if this transaction's writes are undone (its savepoint rolled
// back, or the whole group's transaction), before any later transaction runs, and reports true;
// on a store with other writers (PostgreSQL, several processes) it reports false and keeps
// nothing. It lets a caller keep in memory what only this writer changes (the ledger's chain
// heads) and forget it if the change does not commit.
func (t *Tx) OnUndo(fn func()) bool {
	if t.req == nil {
		return false
	}
	t.req.undo = append(t.req.undo, fn)
	return true
}

// runner runs callers' functions for the committer on a long-lived goroutine.
type runner struct {
	jobs chan *runJob
}

type runJob struct {
	r  *groupReq
	tx *Tx
	// exited is set when the function ended the runner's goroutine (runtime.Goexit).
	exited bool
	done   chan struct{}
}

// do runs r's function on the runner and waits for it to return, panic or exit.
func (run *runner) do(r *groupReq, tx *Tx) {
	if run.jobs == nil {
		run.jobs = make(chan *runJob)
		go runLoop(run.jobs) // inherits the committer's profiler labels
	}
	j := &runJob{r: r, tx: tx, done: make(chan struct{})}
	run.jobs <- j
	<-j.done
	if j.exited {
		run.jobs = nil // that goroutine is gone; the next call starts another
	}
}

func (run *runner) stop() {
	if run.jobs != nil {
		close(run.jobs)
	}
}

func runLoop(jobs <-chan *runJob) {
	for j := range jobs {
		runOne(j)
	}
}

// runOne runs one function, turning a panic into r.panicked and a runtime.Goexit into
// errExited (after which the goroutine ends, as Goexit demands).
func runOne(j *runJob) {
	returned := false
	defer func() {
		if !returned {
			if p := recover(); p != nil {
				j.r.panicked = p
			} else {
				j.r.err, j.exited = errExited, true
			}
		}
		close(j.done)
	}()
	j.r.err = j.r.fn(j.tx)
	returned = true
}
