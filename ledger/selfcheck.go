package ledger

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/symbiont/symbiont"
)

// The self-check verifies the stored log before it is served, and the log's new entries while
// it runs: every entry opens to its commitment; every chain runs from 0 without gaps and each
// record names the previous commitment; the integrated entries hold every index below the
// checkpoint exactly once; the stored tree hashes are the ones those entries give; the newest
// checkpoint is signed by this log's key over that tree; and the tree still contains the
// checkpoint kept outside the database (Options.HeadFile).
//
// It does not read the whole log on every start. The newest state it found consistent, the
// size and root of a checkpoint, is kept in the database sealed with the master key (the
// verified state); a check starts from there. It reads the stored hashes of the verified
// tree's complete subtrees and requires them to give the verified root, hashes the entries
// after it onto them, and requires the result to be the stored hashes and the newest
// checkpoint's root: so the whole stored tree is proven an extension of the verified one, and
// every entry after it is checked in full. While the server runs, a background pass does the
// same for each newly integrated range (Run), so that a start has only the last second or so
// to read. CheckStored reads everything again from the first entry (`symbiont verify --full`).
//
// What one who can write the database but does not hold the master key (which wraps the
// signing key) can do against this: nothing with the verified state but delete it or put back
// an older one they saw, which makes the next start check more, never less; a state that does
// not open is a failure. Truncating or rolling back the database is caught by the verified
// state (larger than the log) and by the checkpoint kept outside it. What they can do
// unnoticed at start is edit what was verified before (an old record, salt or tile): that is
// what `symbiont verify --full` is for, and what every consumer's verifier finds in their own
// records.

// settingVerified holds the verified state, sealed by the master key (Wrapper).
const settingVerified = "ledger_verified_state"

// verifiedState is the newest state of the stored log a check found consistent.
type verifiedState struct {
	Origin string    `json:"origin"`
	Size   int64     `json:"size"`
	Root   []byte    `json:"root"`
	At     time.Time `json:"at"`
}

// CheckReport says what a check read.
type CheckReport struct {
	From    int64     // the verified size it started from (0: the whole log)
	Size    int64     // the newest checkpoint's size, now verified
	Root    tlog.Hash // and its root
	Entries int64     // entries read (integrated after From, and pending)
	Pending int64     // of which not yet integrated
}

// finding is what a check found wrong with the stored log (as opposed to failing to read it).
type finding struct{ msg string }

func (f *finding) Error() string { return f.msg }

func found(format string, args ...any) error { return &finding{fmt.Sprintf(format, args...)} }

// IsFinding reports whether err says the stored log is inconsistent (rather than that it could
// not be read).
func IsFinding(err error) bool {
	var f *finding
	return errors.As(err, &f) || errors.Is(err, ErrBroken)
}

// SelfCheck checks the stored log from the verified state before it is served, and moves the
// verified state to the newest checkpoint. On failure the ledger refuses to serve anything as
// valid (Healthy reports why) and stops integrating.
func (s *Service) SelfCheck(ctx context.Context) (*CheckReport, error) {
	rep, err := s.selfCheck(ctx)
	if err != nil {
		return nil, s.fail(err)
	}
	return rep, nil
}

// fail records what a check found: from now on the ledger is served as broken.
func (s *Service) fail(err error) error {
	// Served as a 503 that says what was found; errors.Is(err, ErrBroken) holds.
	err = &symbiont.Error{Code: symbiont.EUNAVAILABLE, Err: ErrBroken,
		Message: "The ledger failed its self-check and is not served as valid: " + err.Error() + "."}
	s.mu.Lock()
	s.broken = err
	s.mu.Unlock()
	return err
}

func (s *Service) selfCheck(ctx context.Context) (*CheckReport, error) {
	// The key that checks the checkpoints must be the signing key's: the verifier key is a
	// setting like any other, which one who writes the database could replace.
	probe, err := note.Sign(&note.Note{Text: "symbiont ledger key check\n"}, s.signer)
	if err != nil {
		return nil, err
	}
	if _, err := note.Open(probe, note.VerifierList(s.verifier)); err != nil {
		return nil, found("the stored verifier key %q is not the signing key's (the settings were altered)", s.vkey)
	}
	c := newChecker(s.origin, s.vkey, s.opt.HeadFile)
	// What was integrated up to the newest checkpoint now: immutable once integrated, so it is
	// read without holding up integration.
	if err := s.db.View(ctx, func(tx IntegrationTx) error {
		st, err := s.loadVerified(ctx, tx)
		if err != nil {
			return err
		}
		if err := c.begin(ctx, tx, st); err != nil {
			return err
		}
		return c.integrated(ctx, tx)
	}); err != nil {
		return nil, err
	}
	// The rest under the integration lock: whatever was integrated meanwhile (PostgreSQL, other
	// nodes), the pending entries, and nothing beyond the checkpoint.
	if err := s.db.View(ctx, func(tx IntegrationTx) error {
		if err := tx.LockLedger(ctx); err != nil {
			return err
		}
		if err := c.integrated(ctx, tx); err != nil {
			return err
		}
		return c.finish(ctx, tx, false)
	}); err != nil {
		return nil, err
	}
	if c.kept == nil && c.newest != nil {
		if err := s.saveHead(c.newest); err != nil {
			return nil, err
		}
	}
	if err := s.saveVerified(ctx, c.rep.Size, c.rep.Root); err != nil {
		return nil, err
	}
	s.checked = c.rep.Entries
	return &c.rep, nil
}

// VerifyIntegrated checks what was integrated since the verified state and moves the verified
// state to the newest checkpoint (what Run does in the background after integrations). A
// finding marks the ledger broken, as at start.
func (s *Service) VerifyIntegrated(ctx context.Context) (*CheckReport, error) {
	if err := s.Healthy(); err != nil {
		return nil, err
	}
	c := newChecker(s.origin, s.vkey, "")
	c.cache = s.verifiedHeads
	err := s.db.View(ctx, func(tx IntegrationTx) error {
		st, err := s.loadVerified(ctx, tx)
		if err != nil {
			return err
		}
		if err := c.begin(ctx, tx, st); err != nil {
			return err
		}
		return c.integrated(ctx, tx)
	})
	if err == nil {
		err = s.saveVerified(ctx, c.rep.Size, c.rep.Root)
	}
	if err != nil {
		if IsFinding(err) {
			return nil, s.fail(err)
		}
		return nil, err
	}
	for chain, h := range c.heads {
		s.verifiedHeads.put(chain, cachedHead{h.n, b64(h.commitment)})
	}
	return &c.rep, nil
}

// verifiedHeads keeps the last verified entry of recently active chains, so that a background
// pass need not read back the entry before each chain's first new one. (Unlike the appends'
// headCache, it holds only what a check found consistent.) It is cleared wholesale when full.
type verifiedHeads struct {
	mu  sync.Mutex
	m   map[int64]cachedHead
	max int
}

type cachedHead struct {
	n          int64
	commitment string // base64, as records name it
}

func newVerifiedHeads(max int) *verifiedHeads {
	return &verifiedHeads{m: map[int64]cachedHead{}, max: max}
}

func (c *verifiedHeads) get(chain int64) (cachedHead, bool) {
	if c == nil {
		return cachedHead{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	h, ok := c.m[chain]
	return h, ok
}

func (c *verifiedHeads) put(chain int64, h cachedHead) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		clear(c.m)
	}
	c.m[chain] = h
}

// Verified returns the size of the verified state as this process last saw it: every entry
// below it has been checked once (after the start, or in the background).
func (s *Service) Verified() int64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.verified
}

// verifyLoop runs VerifyIntegrated when the log has grown past the verified state, at most
// every period.
func (s *Service) verifyLoop(ctx context.Context, period time.Duration) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.mu.RLock()
		grown := s.broken == nil && s.latest != nil && s.latest.Size > s.verified
		s.mu.RUnlock()
		if !grown {
			continue
		}
		rep, err := s.VerifyIntegrated(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			s.opt.Log.Error("ledger verification of new entries", "err", err)
		case err == nil:
			s.opt.Log.Debug("ledger entries verified", "size", rep.Size, "from", rep.From, "entries", rep.Entries)
		}
	}
}

// loadVerified reads the verified state (nil when there is none: the check starts from 0).
func (s *Service) loadVerified(ctx context.Context, tx IntegrationTx) (*verifiedState, error) {
	sealed, err := tx.Setting(ctx, settingVerified)
	if err != nil || sealed == nil {
		return nil, err
	}
	b, err := s.wrap.UnwrapSecret(sealed, settingVerified)
	if err != nil {
		return nil, found("the verified state stored in the database does not open with the master key: it was altered")
	}
	var st verifiedState
	if err := json.Unmarshal(b, &st); err != nil || st.Size < 0 || (st.Size > 0 && len(st.Root) != tlog.HashSize) {
		return nil, found("the verified state stored in the database is malformed")
	}
	if st.Origin != s.origin {
		return nil, found("the verified state stored in the database is of log %q", st.Origin)
	}
	return &st, nil
}

// saveVerified moves the verified state forward (never back: another node may be ahead).
func (s *Service) saveVerified(ctx context.Context, size int64, root tlog.Hash) error {
	if size == 0 {
		return nil
	}
	err := s.db.Update(ctx, func(tx IntegrationTx) error {
		if err := tx.LockLedger(ctx); err != nil {
			return err
		}
		cur, err := s.loadVerified(ctx, tx)
		if err != nil {
			return err // one altered since it was read is a finding too
		}
		if cur != nil && cur.Size >= size {
			size = cur.Size
			return nil
		}
		b, err := json.Marshal(verifiedState{Origin: s.origin, Size: size, Root: root[:], At: s.clock.Now().UTC()})
		if err != nil {
			return err
		}
		return tx.PutSetting(ctx, settingVerified, s.wrap.WrapSecret(b, settingVerified))
	})
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.verified = max(s.verified, size)
	s.mu.Unlock()
	return nil
}

// CheckOptions configure CheckStored.
type CheckOptions struct {
	// Key is the trusted verifier key of the log's checkpoints; empty: the one stored in the
	// database (which one who can write the database can replace: compare it with the
	// published key).
	Key string
	// HeadFile is the checkpoint kept outside the database (platform.LedgerHeadFile in the
	// data directory), if there is one to compare with.
	HeadFile string
	// Progress, if set, is called after each batch of entries with the integrated entries
	// checked so far and the checkpoint's size.
	Progress func(done, total int64)
}

// CheckStored checks the whole stored log from its first entry, read-only, without the signing
// key or the master key: what `symbiont verify --full` runs. It returns the key it trusted and
// what it read; a finding (IsFinding) says what is wrong.
func CheckStored(ctx context.Context, db symbiont.Transactor[IntegrationTx], opt CheckOptions) (string, *CheckReport, error) {
	var origin []byte
	key := opt.Key
	if err := db.View(ctx, func(tx IntegrationTx) (err error) {
		if origin, err = tx.Setting(ctx, settingOrigin); err != nil || key != "" {
			return err
		}
		k, err := tx.Setting(ctx, settingVerifier)
		key = string(k)
		return err
	}); err != nil {
		return "", nil, err
	}
	if origin == nil {
		return "", nil, fmt.Errorf("ledger: the database holds no ledger (no origin is set)")
	}
	v, err := note.NewVerifier(key)
	if err != nil {
		return key, nil, fmt.Errorf("ledger: verifier key: %w", err)
	}
	if v.Name() != string(origin) {
		return key, nil, found("the key is of log %q, the database of log %q", v.Name(), origin)
	}
	c := newChecker(string(origin), key, opt.HeadFile)
	c.full, c.progress = true, opt.Progress
	if err := db.View(ctx, func(tx IntegrationTx) error {
		if err := c.begin(ctx, tx, nil); err != nil {
			return err
		}
		return c.integrated(ctx, tx)
	}); err != nil {
		return key, nil, err
	}
	err = db.View(ctx, func(tx IntegrationTx) error {
		if err := tx.LockLedger(ctx); err != nil {
			return err
		}
		if err := c.integrated(ctx, tx); err != nil {
			return err
		}
		return c.finish(ctx, tx, true)
	})
	return key, &c.rep, err
}

// checker checks a stored log in index order from a verified size, keeping only the hashes
// of the complete subtrees left of the entries read so far (at most one a level).
type checker struct {
	origin, vkey, headFile string
	full                   bool // from the first entry: every chain must start at 0 in range
	progress               func(done, total int64)

	cache  *verifiedHeads      // chain heads verified by earlier passes (nil: look them up)
	size   int64               // entries hashed into the tree so far
	known  map[int64]tlog.Hash // stored hashes: the complete subtrees left of size, and the batch's
	heads  map[int64]link      // the last entry read of each chain
	links  []pendingLink       // chains whose first entry read is not their first: to look up
	newest *Checkpoint         // the newest checkpoint, as stored
	kept   *ParsedCheckpoint   // the checkpoint kept outside the database
	rep    CheckReport
}

type link struct {
	n          int64
	commitment []byte
}

// pendingLink is an entry whose predecessor in its chain is before the range read.
type pendingLink struct {
	id, chain, n int64
	prev         string // the commitment it names
}

// checkBatch is how many entries a check reads at a time.
const checkBatch = 10_000

func newChecker(origin, vkey, headFile string) *checker {
	return &checker{origin: origin, vkey: vkey, headFile: headFile, known: map[int64]tlog.Hash{}, heads: map[int64]link{}}
}

// ReadHashes serves the hashing from what the check has computed or verified.
func (c *checker) ReadHashes(idx []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(idx))
	for i, x := range idx {
		h, ok := c.known[x]
		if !ok {
			return nil, fmt.Errorf("ledger: self-check: stored hash %d not at hand", x)
		}
		out[i] = h
	}
	return out, nil
}

// subtrees returns the stored-hash indexes of the complete subtrees that make up the tree of
// size n (what tlog.TreeHash reads).
func subtrees(n int64) []int64 {
	var idx []int64
	tlog.TreeHash(n, tlog.HashReaderFunc(func(x []int64) ([]tlog.Hash, error) {
		idx = append(idx, x...)
		return make([]tlog.Hash, len(x)), nil
	}))
	return idx
}

// begin starts from the verified state (nil: from the first entry): the stored hashes of its
// subtrees must give its root, and it must not be larger than the log.
func (c *checker) begin(ctx context.Context, tx IntegrationTx, st *verifiedState) error {
	cp, err := c.latest(ctx, tx)
	if err != nil {
		return err
	}
	if st == nil || st.Size == 0 {
		return nil
	}
	c.rep.From = st.Size
	if st.Size > cp.Size {
		return found("the log was verified at %d entries but the database holds %d: it was truncated or rolled back", st.Size, cp.Size)
	}
	idx := subtrees(st.Size)
	hs, err := tx.LedgerHashes(ctx, idx)
	if symbiont.ErrorCode(err) == symbiont.ENOTFOUND {
		return found("stored tree hashes of the verified state (size %d) are missing: the log was truncated", st.Size)
	} else if err != nil {
		return err
	}
	for i, h := range hs {
		c.known[idx[i]] = toHash(h)
	}
	root, err := tlog.TreeHash(st.Size, c)
	if err != nil {
		return err
	}
	if !bytes.Equal(root[:], st.Root) {
		return found("the stored tree hashes do not give the root of the verified state (size %d): a tile was altered or history rewritten", st.Size)
	}
	c.size, c.rep.Size, c.rep.Root = st.Size, st.Size, root
	return nil
}

// latest reads the newest checkpoint and checks its signature.
func (c *checker) latest(ctx context.Context, tx IntegrationTx) (*ParsedCheckpoint, error) {
	cp, err := tx.LatestCheckpoint(ctx)
	if err != nil {
		return nil, err
	}
	c.newest = cp
	if cp == nil {
		return &ParsedCheckpoint{Origin: c.origin}, nil
	}
	pc, err := OpenCheckpoint(cp.Note, c.vkey)
	if err != nil {
		return nil, found("newest checkpoint: %v", err)
	}
	if pc.Origin != c.origin || pc.Size != cp.Size || !bytes.Equal(pc.Root[:], cp.Root) {
		return nil, found("newest checkpoint does not match its stored size and root")
	}
	return pc, nil
}

// integrated checks the entries from c.size up to the newest checkpoint, a batch at a time.
func (c *checker) integrated(ctx context.Context, tx IntegrationTx) error {
	cp, err := c.latest(ctx, tx)
	if err != nil {
		return err
	}
	if cp.Size < c.size {
		return found("the log had %d entries when the check began but now holds %d: it was truncated", c.size, cp.Size)
	}
	for from := c.size; from < cp.Size; from += checkBatch {
		to := min(from+checkBatch, cp.Size)
		es, err := tx.LedgerEntries(ctx, from, to)
		if err != nil {
			return err
		}
		// Records and chains first (a deleted entry is reported as the gap in its chain), then
		// the indexes: every one in [from, to) is held (they are unique in the store).
		for _, e := range es {
			if err := c.entry(e); err != nil {
				return err
			}
		}
		if err := c.resolveLinks(ctx, tx); err != nil {
			return err
		}
		if int64(len(es)) != to-from {
			missing := from
			for _, e := range es {
				if e.Index != missing {
					break
				}
				missing++
			}
			return found("no entry has index %d (the log is truncated or an entry was deleted)", missing)
		}
		// Hash the batch onto the tree and compare with the stored hashes.
		start := tlog.StoredHashCount(from)
		var computed []tlog.Hash
		for _, e := range es {
			hs, err := tlog.StoredHashesForRecordHash(e.Index, tlog.RecordHash(e.Commitment), c)
			if err != nil {
				return err
			}
			for _, h := range hs {
				c.known[start+int64(len(computed))] = h
				computed = append(computed, h)
			}
		}
		stored, err := tx.LedgerHashRange(ctx, start, start+int64(len(computed)))
		if symbiont.ErrorCode(err) == symbiont.ENOTFOUND {
			return found("%d tree hashes stored, %d expected for %d entries", start+int64(len(stored)), tlog.StoredHashCount(to), to)
		} else if err != nil {
			return err
		}
		for j, h := range stored {
			if !bytes.Equal(h, computed[j][:]) {
				return found("stored tree hash %d (a tile) does not match the entries", start+int64(j))
			}
		}
		// Keep only what the next entries hash onto.
		keep := map[int64]tlog.Hash{}
		for _, x := range subtrees(to) {
			keep[x] = c.known[x]
		}
		c.known, c.size = keep, to
		if c.progress != nil {
			c.progress(to, cp.Size)
		}
	}
	if cp.Size > 0 {
		root, err := tlog.TreeHash(cp.Size, c)
		if err != nil {
			return err
		}
		if root != cp.Root {
			return found("the entries give root %x, the checkpoint says %x", root[:8], cp.Root[:8])
		}
	}
	c.rep.Size, c.rep.Root = cp.Size, cp.Root
	return nil
}

// entry checks one entry: it opens to its commitment, is a record of this log, and follows the
// last entry read of its chain (or, when that is before the range, is looked up).
func (c *checker) entry(e *Entry) error {
	c.rep.Entries++
	if !bytes.Equal(Commit(e.Record, e.Salt), e.Commitment) {
		return found("entry %d (chain %d, n %d): the record does not open to its commitment", e.ID, e.ChainID, e.N)
	}
	r, err := chainFields(e.Record)
	if err != nil {
		return found("entry %d: record is not JSON: %v", e.ID, err)
	}
	if r.N != e.N {
		return found("chain %d: entry %d says it is record %d, but is stored as record %d", e.ChainID, e.ID, r.N, e.N)
	}
	h, ok := c.heads[e.ChainID]
	switch {
	case ok:
		if e.N != h.n+1 {
			return found("chain %d: entry %d is record %d, expected %d (a record is missing or out of order)", e.ChainID, e.ID, e.N, h.n+1)
		}
		if r.Prev != b64(h.commitment) {
			return found("chain %d: record %d does not name the commitment of record %d", e.ChainID, e.N, e.N-1)
		}
	case c.full || e.N == 0:
		if e.N != 0 {
			return found("chain %d: entry %d is record %d, expected 0 (a record is missing or out of order)", e.ChainID, e.ID, e.N)
		}
		if r.Prev != "" {
			return found("chain %d: record 0 names a previous record", e.ChainID)
		}
	default:
		if h, ok := c.cache.get(e.ChainID); ok && h.n == e.N-1 {
			if r.Prev != h.commitment {
				return found("chain %d: record %d does not name the commitment of record %d", e.ChainID, e.N, e.N-1)
			}
			break
		}
		c.links = append(c.links, pendingLink{id: e.ID, chain: e.ChainID, n: e.N, prev: r.Prev})
	}
	if r.Log != c.origin {
		return found("entry %d belongs to log %q", e.ID, r.Log)
	}
	c.heads[e.ChainID] = link{e.N, e.Commitment}
	return nil
}

// chainFields is what the self-check reads of a record: json.Unmarshal of n, prev and log, read
// straight from the canonical prefix that Record.Encode writes when that gives the same result
// (most of a full check's time was spent decoding JSON otherwise).
type recordChain struct {
	N    int64  `json:"n"`
	Prev string `json:"prev"`
	Log  string `json:"log"`
}

func chainFields(rec []byte) (recordChain, error) {
	if r, ok := canonicalChainFields(rec); ok {
		return r, nil
	}
	var r recordChain
	err := json.Unmarshal(rec, &r)
	return r, err
}

// canonicalChainFields reads {"v":1,"log":"…","brand":"…","sub":"…","n":N,"prev":"…","kind":…
// when the strings hold no escapes, and only when json.Unmarshal would read the same: the
// record is valid JSON and nothing after prev can be another n, prev, log or v (encoding/json
// takes the last of duplicate keys, matched without regard to case).
func canonicalChainFields(rec []byte) (recordChain, bool) {
	var r recordChain
	rest, ok := bytes.CutPrefix(rec, []byte(`{"v":1,"log":"`))
	if !ok {
		return r, false
	}
	str := func(after string) (string, bool) {
		i := bytes.IndexByte(rest, '"')
		if i < 0 {
			return "", false
		}
		v := rest[:i]
		for _, c := range v {
			if c < 0x20 || c == '\\' || c >= 0x80 {
				return "", false
			}
		}
		if rest, ok = bytes.CutPrefix(rest[i:], []byte(after)); !ok {
			return "", false
		}
		return string(v), true
	}
	if r.Log, ok = str(`","brand":"`); !ok {
		return r, false
	}
	if _, ok = str(`","sub":"`); !ok {
		return r, false
	}
	if _, ok = str(`","n":`); !ok {
		return r, false
	}
	i := 0
	for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
		i++
	}
	if i == 0 || i > 18 || (rest[0] == '0' && i > 1) {
		return r, false
	}
	for _, c := range rest[:i] {
		r.N = r.N*10 + int64(c-'0')
	}
	if rest, ok = bytes.CutPrefix(rest[i:], []byte(`,"prev":"`)); !ok {
		return r, false
	}
	if r.Prev, ok = str(`","kind":`); !ok {
		return r, false
	}
	for _, c := range rest {
		if c == '\\' || c >= 0x80 {
			return r, false
		}
	}
	lower := bytes.ToLower(rest)
	for _, k := range []string{`"n"`, `"prev"`, `"log"`, `"v"`} {
		if bytes.Contains(lower, []byte(k)) {
			return r, false
		}
	}
	return r, json.Valid(rec)
}

// resolveLinks checks the entries whose predecessor is before the range against it: it must
// exist, be integrated before the range, and be the commitment they name.
func (c *checker) resolveLinks(ctx context.Context, tx IntegrationTx) error {
	if len(c.links) == 0 {
		return nil
	}
	at := make([]ChainPos, len(c.links))
	for i, l := range c.links {
		at[i] = ChainPos{Chain: l.chain, N: l.n - 1}
	}
	es, err := tx.LedgerLinks(ctx, at)
	if err != nil {
		return err
	}
	byPos := make(map[ChainPos]*Entry, len(es))
	for _, e := range es {
		byPos[ChainPos{e.ChainID, e.N}] = e
	}
	for _, l := range c.links {
		p, ok := byPos[ChainPos{l.chain, l.n - 1}]
		switch {
		case !ok:
			return found("chain %d: entry %d is record %d, but there is no record %d (a record is missing or out of order)", l.chain, l.id, l.n, l.n-1)
		case p.Index < 0 || p.Index >= c.rep.From:
			return found("chain %d: record %d is not in the log before record %d (a record is out of order)", l.chain, l.n-1, l.n)
		case b64(p.Commitment) != l.prev:
			return found("chain %d: record %d does not name the commitment of record %d", l.chain, l.n, l.n-1)
		}
	}
	c.links = c.links[:0]
	return nil
}

// finish checks, under the integration lock, what follows the integrated entries: the
// pending entries, that nothing is stored beyond the checkpoint, and the checkpoint kept
// outside the database. full also counts every stored tree hash.
func (c *checker) finish(ctx context.Context, tx IntegrationTx, full bool) error {
	size := c.rep.Size
	beyond, err := tx.LedgerEntries(ctx, size, math.MaxInt64)
	if err != nil {
		return err
	}
	if len(beyond) > 0 {
		return found("entry %d has index %d beyond the checkpoint (size %d)", beyond[0].ID, beyond[0].Index, size)
	}
	want := tlog.StoredHashCount(size)
	if full {
		n, err := tx.LedgerHashCount(ctx)
		if err != nil {
			return err
		}
		if n != want {
			return found("%d tree hashes stored, %d expected for %d entries", n, want, size)
		}
	} else if _, err := tx.LedgerHashRange(ctx, want, want+1); err == nil {
		return found("a tree hash is stored beyond the checkpoint (index %d, size %d)", want, size)
	} else if symbiont.ErrorCode(err) != symbiont.ENOTFOUND {
		return err
	}
	err = tx.ForEachPendingLedgerEntry(ctx, func(e *Entry) error {
		c.rep.Pending++
		return c.entry(e)
	})
	if err != nil {
		return err
	}
	if err := c.resolveLinks(ctx, tx); err != nil {
		return err
	}
	// The copy of a recent checkpoint kept outside the database: the stored tree must still
	// contain it. A truncated or rolled-back database does not.
	if c.kept, err = loadHead(c.headFile, c.vkey); err != nil {
		return err
	}
	if c.kept == nil || c.kept.Size == 0 {
		return nil
	}
	if c.kept.Size > size {
		return found("the log had %d entries (checkpoint kept in %s) but the database holds %d: it was truncated or rolled back", c.kept.Size, c.headFile, size)
	}
	proof, err := tlog.ProveTree(size, c.kept.Size, storedHashes{ctx, tx})
	if err == nil {
		err = tlog.CheckTree(proof, size, c.rep.Root, c.kept.Size, c.kept.Root)
	}
	if err != nil {
		return found("the stored tree is not an extension of the checkpoint kept in %s (size %d): history was rewritten (or a tile altered)", c.headFile, c.kept.Size)
	}
	return nil
}

// storedHashes reads stored hashes straight from the store.
type storedHashes struct {
	ctx context.Context
	tx  IntegrationTx
}

func (r storedHashes) ReadHashes(idx []int64) ([]tlog.Hash, error) {
	hs, err := r.tx.LedgerHashes(r.ctx, idx)
	if err != nil {
		return nil, err
	}
	out := make([]tlog.Hash, len(hs))
	for i, h := range hs {
		out[i] = toHash(h)
	}
	return out, nil
}

func toHash(b []byte) tlog.Hash {
	var h tlog.Hash
	copy(h[:], b)
	return h
}

// loadHead reads the checkpoint kept outside the database, verifying its signature.
func loadHead(path, vkey string) (*ParsedCheckpoint, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	pc, err := OpenCheckpoint(b, vkey)
	if err != nil {
		return nil, found("the checkpoint kept in %s: %v", path, err)
	}
	return pc, nil
}

// saveHead writes the newest checkpoint outside the database, durably.
func (s *Service) saveHead(cp *Checkpoint) error {
	if s.opt.HeadFile == "" {
		return nil
	}
	tmp := s.opt.HeadFile + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(cp.Note); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, s.opt.HeadFile)
}

func b64(b []byte) string {
	if b == nil {
		return ""
	}
	return base64.StdEncoding.EncodeToString(b)
}
