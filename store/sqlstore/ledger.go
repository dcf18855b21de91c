package sqlstore

import (
	"context"
	"database/sql"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/symbiont/symbiont/ledger"
	"github.com/symbiont/symbiont/store"
)

// LedgerHeads returns the last entry of each non-empty chain.
func (t *Tx) LedgerHeads(ctx context.Context, chainIDs []int64) (map[int64]ledger.Head, error) {
	out := map[int64]ledger.Head{}
	if len(chainIDs) == 1 { // the usual case: one act about one consumer, straight down the index
		var n int64
		var c []byte
		err := t.queryRow(ctx, `SELECT n, commitment FROM ledger_entries WHERE chain_id = ? ORDER BY n DESC LIMIT 1`, chainIDs[0]).Scan(&n, &c)
		if isNoRows(err) {
			return out, nil
		} else if err != nil {
			return nil, err
		}
		out[chainIDs[0]] = ledger.Head{N: n, Commitment: base64.StdEncoding.EncodeToString(c)}
		return out, nil
	}
	if t.db.dialect.Numbered { // PostgreSQL
		// Each chain's head straight down the (chain_id, n) index, in one statement. The join
		// below, planned on statistics that lag a fast-growing table, became a sequential scan
		// of the whole table per 500 chains (0.8 s each at 450,000 entries: a training read's
		// record took 38 s).
		rows, err := t.query(ctx, `SELECT c.id, h.n, h.commitment FROM unnest(?::bigint[]) AS c(id)
			CROSS JOIN LATERAL (SELECT n, commitment FROM ledger_entries WHERE chain_id = c.id ORDER BY n DESC LIMIT 1) h`, chainIDs)
		if err != nil {
			return nil, err
		}
		return out, scanHeads(rows, out)
	}
	for from := 0; from < len(chainIDs); from += 500 {
		in, args := inList(chainIDs[from:min(from+500, len(chainIDs))])
		rows, err := t.query(ctx, `SELECT e.chain_id, e.n, e.commitment FROM ledger_entries e JOIN
			(SELECT chain_id, MAX(n) AS n FROM ledger_entries WHERE chain_id IN (`+in+`) GROUP BY chain_id) m
			ON m.chain_id = e.chain_id AND m.n = e.n`, args...)
		if err != nil {
			return nil, err
		}
		if err := scanHeads(rows, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// scanHeads reads (chain id, n, commitment) rows into out, and closes them.
func scanHeads(rows *sql.Rows, out map[int64]ledger.Head) error {
	for rows.Next() {
		var c, n int64
		var commitment []byte
		if err := rows.Scan(&c, &n, &commitment); err != nil {
			rows.Close()
			return err
		}
		out[c] = ledger.Head{N: n, Commitment: base64.StdEncoding.EncodeToString(commitment)}
	}
	return rowsDone(rows)
}

// execConsecutive runs a multi-row INSERT of n rows on SQLite and returns the first row's id:
// the single writer gives one statement's rows consecutive rowids, in order.
func (t *Tx) execConsecutive(ctx context.Context, q string, n int, args ...any) (int64, error) {
	res, err := t.exec(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	last, err := res.LastInsertId()
	if err != nil {
		return 0, err
	}
	return last - int64(n-1), nil
}

// InsertLedgerEntries stores sequenced entries in multi-row statements.
func (t *Tx) InsertLedgerEntries(ctx context.Context, es []*ledger.Entry) error {
	if len(es) == 1 { // every act's append: one row, without the statement text and map below
		e := es[0]
		var err error
		e.ID, err = t.insertID(ctx, `INSERT INTO ledger_entries (brand_id, chain_id, n, commitment, record, salt, at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			e.BrandID, e.ChainID, e.N, e.Commitment, e.Record, e.Salt, ms(e.At))
		return err
	}
	args := make([]any, 0, 7*min(len(es), ledgerChunk))
	for from := 0; from < len(es); from += ledgerChunk {
		part := es[from:min(from+ledgerChunk, len(es))]
		args = args[:0]
		for _, e := range part {
			args = append(args, e.BrandID, e.ChainID, e.N, e.Commitment, e.Record, e.Salt, ms(e.At))
		}
		q := `INSERT INTO ledger_entries (brand_id, chain_id, n, commitment, record, salt, at) VALUES ` + placeholders(len(part), 7)
		if t.db.dialect.LastInsertID {
			// The single writer gives the statement's rows consecutive rowids in order (see
			// InsertAccesses): no result set to read.
			first, err := t.execConsecutive(ctx, q, len(part), args...)
			if err != nil {
				return err
			}
			for i, e := range part {
				e.ID = first + int64(i)
			}
			continue
		}
		rows, err := t.query(ctx, q+` RETURNING id, chain_id, n`, args...)
		if err != nil {
			return err
		}
		byKey := make(map[[2]int64]*ledger.Entry, len(part))
		for _, e := range part {
			byKey[[2]int64{e.ChainID, e.N}] = e
		}
		for rows.Next() {
			var id, c, n int64
			if err := rows.Scan(&id, &c, &n); err != nil {
				rows.Close()
				return err
			}
			if e := byKey[[2]int64{c, n}]; e != nil {
				e.ID = id
			}
		}
		if err := rowsDone(rows); err != nil {
			return err
		}
	}
	return nil
}

// ledgerChunk bounds the entries of one multi-row insert (7 values a row).
const ledgerChunk = 200

// LockLedger serialises integration (Engine.LockLedger; on SQLite, which has one writer,
// nothing).
func (t *Tx) LockLedger(ctx context.Context) error {
	return t.db.engine.LockLedger(ctx, t.execer())
}

const entryCols = `id, idx, brand_id, chain_id, n, commitment, record, salt, at`

func (t *Tx) entries(ctx context.Context, query string, args ...any) ([]*ledger.Entry, error) {
	var out []*ledger.Entry
	err := t.eachEntry(ctx, func(e *ledger.Entry) error { out = append(out, e); return nil }, query, args...)
	return out, err
}

func (t *Tx) eachEntry(ctx context.Context, fn func(*ledger.Entry) error, query string, args ...any) error {
	rows, err := t.query(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var e ledger.Entry
		var idx *int64
		var at int64
		if err := rows.Scan(&e.ID, &idx, &e.BrandID, &e.ChainID, &e.N, &e.Commitment, &e.Record, &e.Salt, &at); err != nil {
			return err
		}
		e.Index = -1
		if idx != nil {
			e.Index = *idx
		}
		e.At = fromMS(at)
		if err := fn(&e); err != nil {
			return err
		}
	}
	return rows.Err()
}

// PendingLedgerEntries returns entries without an index, in insertion order.
// Only the id and commitment are read: integration needs nothing else.
func (t *Tx) PendingLedgerEntries(ctx context.Context, limit int) ([]*ledger.Entry, error) {
	if limit <= 0 { // none, in both engines (see UnsettledGrants)
		return nil, nil
	}
	rows, err := t.query(ctx, `SELECT id, commitment FROM ledger_entries WHERE idx IS NULL ORDER BY id LIMIT ?`, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*ledger.Entry
	for rows.Next() {
		e := &ledger.Entry{Index: -1}
		if err := rows.Scan(&e.ID, &e.Commitment); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// AssignLedgerIndexes gives entries consecutive indexes from start.
// ids are ascending; each run of consecutive ids (usually all of them) is one ranged update.
func (t *Tx) AssignLedgerIndexes(ctx context.Context, ids []int64, start int64) error {
	for i := 0; i < len(ids); {
		j := i + 1
		for j < len(ids) && ids[j] == ids[j-1]+1 {
			j++
		}
		res, err := t.exec(ctx, `UPDATE ledger_entries SET idx = id + ? WHERE id BETWEEN ? AND ? AND idx IS NULL`,
			start+int64(i)-ids[i], ids[i], ids[j-1])
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err == nil && n != int64(j-i) {
			return fmt.Errorf("sqlstore: assigning ledger indexes: %d of %d entries updated", n, j-i)
		}
		i = j
	}
	return nil
}

// PutLedgerHashes stores hashes at consecutive stored-hash indexes.
func (t *Tx) PutLedgerHashes(ctx context.Context, start int64, hashes [][]byte) error {
	for from := 0; from < len(hashes); from += 500 {
		part := hashes[from:min(from+500, len(hashes))]
		args := make([]any, 0, 2*len(part))
		for i, h := range part {
			args = append(args, start+int64(from+i), h)
		}
		if _, err := t.exec(ctx, `INSERT INTO ledger_hashes (id, hash) VALUES `+placeholders(len(part), 2), args...); err != nil {
			return err
		}
	}
	return nil
}

// LedgerHashes returns stored hashes by index.
func (t *Tx) LedgerHashes(ctx context.Context, indexes []int64) ([][]byte, error) {
	out := make([][]byte, len(indexes))
	pos := make(map[int64][]int, len(indexes))
	for i, x := range indexes {
		pos[x] = append(pos[x], i)
	}
	for from := 0; from < len(indexes); from += 500 {
		in, args := inList(indexes[from:min(from+500, len(indexes))])
		rows, err := t.query(ctx, `SELECT id, hash FROM ledger_hashes WHERE id IN (`+in+`)`, args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var id int64
			var h []byte
			if err := rows.Scan(&id, &h); err != nil {
				rows.Close()
				return nil, err
			}
			for _, i := range pos[id] {
				out[i] = h
			}
		}
		if err := rowsDone(rows); err != nil {
			return nil, err
		}
	}
	for i, h := range out {
		if h == nil {
			return nil, notFound(errNoRows, "Ledger hash "+strconv.FormatInt(indexes[i], 10))
		}
	}
	return out, nil
}

// LedgerHashCount returns the number of stored hashes.
func (t *Tx) LedgerHashCount(ctx context.Context) (int64, error) {
	var n int64
	err := t.queryRow(ctx, `SELECT COUNT(*) FROM ledger_hashes`).Scan(&n)
	return n, err
}

// PutCheckpoint stores a signed checkpoint.
func (t *Tx) PutCheckpoint(ctx context.Context, c *ledger.Checkpoint) error {
	_, err := t.exec(ctx, `INSERT INTO ledger_checkpoints (size, root, note, at) VALUES (?, ?, ?, ?)`, c.Size, c.Root, c.Note, ms(c.At))
	return err
}

func (t *Tx) checkpoint(ctx context.Context, query string, args ...any) (*ledger.Checkpoint, error) {
	var c ledger.Checkpoint
	var at int64
	err := t.queryRow(ctx, query, args...).Scan(&c.Size, &c.Root, &c.Note, &at)
	if err != nil {
		return nil, err
	}
	c.At = fromMS(at)
	return &c, nil
}

// LatestCheckpoint returns the checkpoint of the largest tree, or nil.
func (t *Tx) LatestCheckpoint(ctx context.Context) (*ledger.Checkpoint, error) {
	c, err := t.checkpoint(ctx, `SELECT size, root, note, at FROM ledger_checkpoints ORDER BY size DESC LIMIT 1`)
	if isNoRows(err) {
		return nil, nil
	}
	return c, err
}

// CheckpointAt returns the checkpoint of a tree size.
func (t *Tx) CheckpointAt(ctx context.Context, size int64) (*ledger.Checkpoint, error) {
	c, err := t.checkpoint(ctx, `SELECT size, root, note, at FROM ledger_checkpoints WHERE size = ?`, size)
	return c, notFound(err, "Checkpoint")
}

// LedgerEntries returns the entries with indexes in [from, to).
func (t *Tx) LedgerEntries(ctx context.Context, from, to int64) ([]*ledger.Entry, error) {
	return t.entries(ctx, `SELECT `+entryCols+` FROM ledger_entries WHERE idx >= ? AND idx < ? ORDER BY idx`, from, to)
}

// ChainEntries returns the entries of the chains in chain order.
func (t *Tx) ChainEntries(ctx context.Context, chainIDs []int64) ([]*ledger.Entry, error) {
	if len(chainIDs) == 0 {
		return nil, nil
	}
	in, args := inList(chainIDs)
	return t.entries(ctx, `SELECT `+entryCols+` FROM ledger_entries WHERE chain_id IN (`+in+`) ORDER BY chain_id, n`, args...)
}

// ForEachLedgerEntry streams every entry, chain by chain.
func (t *Tx) ForEachLedgerEntry(ctx context.Context, fn func(e *ledger.Entry) error) error {
	return t.eachEntry(ctx, fn, `SELECT `+entryCols+` FROM ledger_entries ORDER BY chain_id, n`)
}

// ForEachPendingLedgerEntry streams the entries without an index, in insertion order, with
// every column (the self-check; integration reads only ids and commitments).
func (t *Tx) ForEachPendingLedgerEntry(ctx context.Context, fn func(e *ledger.Entry) error) error {
	return t.eachEntry(ctx, fn, `SELECT `+entryCols+` FROM ledger_entries WHERE idx IS NULL ORDER BY id`)
}

// LedgerLinks returns the index and commitment of the entries at the given chain positions
// (those that exist), down the (chain_id, n) index.
func (t *Tx) LedgerLinks(ctx context.Context, at []ledger.ChainPos) ([]*ledger.Entry, error) {
	var out []*ledger.Entry
	const batch = 200
	for from := 0; from < len(at); from += batch {
		part := at[from:min(from+batch, len(at))]
		args := make([]any, 0, 2*len(part))
		where := strings.TrimSuffix(strings.Repeat("(chain_id = ? AND n = ?) OR ", len(part)), " OR ")
		for _, p := range part {
			args = append(args, p.Chain, p.N)
		}
		rows, err := t.query(ctx, `SELECT chain_id, n, idx, commitment FROM ledger_entries WHERE `+where, args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			e := &ledger.Entry{Index: -1}
			var idx *int64
			if err := rows.Scan(&e.ChainID, &e.N, &idx, &e.Commitment); err != nil {
				rows.Close()
				return nil, err
			}
			if idx != nil {
				e.Index = *idx
			}
			out = append(out, e)
		}
		if err := rowsDone(rows); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// LedgerHashRange returns the stored hashes with indexes in [from, to), in order
// (ENOTFOUND if one is missing).
func (t *Tx) LedgerHashRange(ctx context.Context, from, to int64) ([][]byte, error) {
	rows, err := t.query(ctx, `SELECT id, hash FROM ledger_hashes WHERE id >= ? AND id < ? ORDER BY id`, from, to)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make([][]byte, 0, max(0, to-from))
	for rows.Next() {
		var id int64
		var h []byte
		if err := rows.Scan(&id, &h); err != nil {
			return nil, err
		}
		if id != from+int64(len(out)) {
			break
		}
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if int64(len(out)) != max(0, to-from) {
		return nil, notFound(errNoRows, "Ledger hash "+strconv.FormatInt(from+int64(len(out)), 10))
	}
	return out, nil
}

// ledgerRows: a consumer's chain of ledger entries. The log is append-only and holds
// commitments only: a merge leaves the chain under its consumer (the proof document follows
// MergedFrom to it), and erasure keeps it.
type ledgerRows struct{}

func (ledgerRows) tables() []store.ConsumerTable {
	return []store.ConsumerTable{{Name: "ledger_entries", Column: "chain_id",
		Kept:  "the append-only log: commitments only, never personal data",
		Stays: "the log is append-only; the surviving consumer's proofs reach the chain through MergedFrom"}}
}

func (ledgerRows) merge(context.Context, *Tx, int64, int64, int64) error { return nil }

func (ledgerRows) erase(context.Context, *Tx, int64, []int64, time.Time) (int64, error) {
	return 0, nil
}
