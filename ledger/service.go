package ledger

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/symbiont/symbiont"
)

// TileHeight is the C2SP tlog-tiles tile height: 2^8 = 256 hashes a tile.
const TileHeight = 8

// Settings the ledger keeps.
const (
	settingOrigin   = "ledger_origin"
	settingSigner   = "ledger_signer_key" // wrapped by the master key
	settingVerifier = "ledger_verifier_key"
)

// Wrapper protects the signing key at rest (the vault's master key does it).
type Wrapper interface {
	WrapSecret(secret []byte, label string) []byte
	UnwrapSecret(wrapped []byte, label string) ([]byte, error)
}

// Options configure the ledger.
type Options struct {
	// Origin names the log in its checkpoints (C2SP: the log's URL prefix without scheme).
	// It is fixed at first start; set later, it must equal the stored one.
	Origin string
	// DefaultOrigin is the origin used at first start when Origin is empty.
	DefaultOrigin string
	// Subject returns the pseudonym of a brand's consumer (the chain name).
	Subject func(brandID, consumerID int64) string
	// BrandID, when set, returns a brand's public id instead of the transaction's
	// BrandPublicID (tests). It is given the caller's transaction and must read through it,
	// never through another connection: n transactions each waiting for one more connection of
	// an n-connection pool would wait forever.
	BrandID func(ctx context.Context, tx Tx, brandID int64) (string, error)
	// IntegrateEvery is how often pending entries are integrated (default 1 s).
	IntegrateEvery time.Duration
	// HeadFile, when set, keeps a copy of the newest checkpoint outside the database (in the
	// data directory), so that a log truncated or rolled back in the database is caught by the
	// self-check at start.
	HeadFile string
	Log      *slog.Logger
}

// Service appends to the log, integrates it, signs checkpoints and serves proofs.
type Service struct {
	db       symbiont.Transactor[IntegrationTx]
	opt      Options
	clock    symbiont.Clock
	signer   note.Signer
	verifier note.Verifier
	vkey     string
	origin   string

	wake chan struct{}

	brands sync.Map // brand id → public id

	mu       sync.RWMutex
	latest   *Checkpoint
	broken   error // set when the self-check found the stored log inconsistent
	verified int64 // the size of the verified state (selfcheck.go)
	wrap     Wrapper
	// verifiedHeads are the chain heads the background pass verified (selfcheck.go).
	verifiedHeads *verifiedHeads

	hashes *hashCache
	heads  *headCache // chain heads, with a single writer (see AppendAll)
	// recordHeads are the first bytes of every record of a brand (public id → []byte).
	recordHeads sync.Map
	intMu       sync.Mutex // one integration at a time in this process
	// heldUntil, while in the future, holds integration off (HoldIntegration): unix nanoseconds.
	heldUntil atomic.Int64
	holds     atomic.Int32
	checked   int64 // entries the last self-check read
}

// Open loads (or, on first start, creates) the log's origin and signing key.
func Open(ctx context.Context, db symbiont.Transactor[IntegrationTx], wrap Wrapper, clock symbiont.Clock, opt Options) (*Service, error) {
	if opt.IntegrateEvery <= 0 {
		opt.IntegrateEvery = time.Second
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	s := &Service{db: db, opt: opt, clock: clock, wake: make(chan struct{}, 1), hashes: newHashCache(1 << 20), heads: newHeadCache(1 << 20),
		wrap: wrap, verifiedHeads: newVerifiedHeads(1 << 17)}
	var skey string
	err := db.Update(ctx, func(tx IntegrationTx) error {
		origin, err := tx.Setting(ctx, settingOrigin)
		if err != nil {
			return err
		}
		if origin == nil {
			o := strings.TrimSpace(opt.Origin)
			if o == "" {
				o = strings.TrimSpace(opt.DefaultOrigin)
			}
			if o == "" || strings.ContainsAny(o, " \t\n+") {
				return fmt.Errorf("ledger: a log origin (one word, no spaces or '+') is needed at first start")
			}
			sk, vk, err := note.GenerateKey(rand.Reader, o)
			if err != nil {
				return err
			}
			for name, v := range map[string][]byte{settingOrigin: []byte(o), settingVerifier: []byte(vk),
				settingSigner: wrap.WrapSecret([]byte(sk), settingSigner)} {
				if err := tx.PutSetting(ctx, name, v); err != nil {
					return err
				}
			}
			origin = []byte(o)
		}
		s.origin = string(origin)
		if opt.Origin != "" && opt.Origin != s.origin {
			return fmt.Errorf("ledger: this log's origin is %q; it cannot become %q (the origin is the log's identity)", s.origin, opt.Origin)
		}
		w, err := tx.Setting(ctx, settingSigner)
		if err != nil {
			return err
		}
		k, err := wrap.UnwrapSecret(w, settingSigner)
		if err != nil {
			return fmt.Errorf("ledger: signing key: %w", err)
		}
		skey = string(k)
		vk, err := tx.Setting(ctx, settingVerifier)
		s.vkey = string(vk)
		if err != nil {
			return err
		}
		s.latest, err = tx.LatestCheckpoint(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	if s.signer, err = note.NewSigner(skey); err != nil {
		return nil, fmt.Errorf("ledger: signing key: %w", err)
	}
	if s.verifier, err = note.NewVerifier(s.vkey); err != nil {
		return nil, fmt.Errorf("ledger: verifier key: %w", err)
	}
	return s, nil
}

// Origin is the log's name in its checkpoints.
func (s *Service) Origin() string { return s.origin }

// VerifierKey is the signed-note verifier key of the log's checkpoints.
func (s *Service) VerifierKey() string { return s.vkey }

// Act is something to record: who, about whom, what.
type Act struct {
	BrandID    int64
	ConsumerID int64
	Kind       string
	At         time.Time
	Body       any // JSON-encoded into the record
}

// Append records an act in the caller's transaction: the entry commits or rolls back with the
// act. It extends the consumer's chain; the entry gets its log index when integrated.
func (s *Service) Append(ctx context.Context, tx Tx, a Act) (*Entry, error) {
	es, err := s.AppendAll(ctx, tx, []Act{a})
	if err != nil {
		return nil, err
	}
	return es[0], nil
}

// Prepared is an act encoded ahead of its write transaction (Prepare): all of its record but
// its place in the chain (n and prev), which only the write transaction knows, and its salt.
type Prepared struct {
	brandID, consumerID int64
	at                  time.Time
	sub                 []byte // the subject as a JSON string
	tail                []byte // `,"kind":…,"at":…,"body":…}`
	salt                []byte
}

// Prepare encodes an act for AppendPrepared. It needs no transaction: on SQLite it runs on the
// caller's goroutine, before the write transaction, so that the single writer only splices
// the chain position into the record and hashes it (encoding, the subject's HMAC and the salt
// cost ~10 µs of its time an entry otherwise).
func (s *Service) Prepare(a Act) (*Prepared, error) {
	salt := make([]byte, saltSize)
	rand.Read(salt)
	return s.prepare(a, salt)
}

// saltSize is the length of a record's salt: 256 random bits, which hide what a commitment
// commits to.
const saltSize = 32

// EncodedBody is an act's body encoded already, as json.Marshal writes it (compact, HTML
// characters escaped): Prepare takes it as it is. A caller recording many acts with one body
// (a training read's entries) encodes it once.
type EncodedBody []byte

// prepare is Prepare with the salt given (AppendAll draws a batch's salts at once).
func (s *Service) prepare(a Act, salt []byte) (*Prepared, error) {
	var body []byte
	if b, ok := a.Body.(EncodedBody); ok {
		body = b
	} else {
		var err error
		if body, err = json.Marshal(a.Body); err != nil {
			return nil, fmt.Errorf("ledger: record body: %w", err)
		}
	}
	at := a.At.UTC().Truncate(time.Millisecond)
	// The tail is `,"kind":…,"at":…,"body":…}`, written out rather than encoded from a struct
	// around a json.RawMessage, which encoding/json would validate and compact a second time
	// (a tenth of a purpose-bound read's CPU went to encoding its entry). json.Marshal's
	// output is compact already; TestPreparedEncoding holds the bytes to Record.Encode's.
	kind, err := jsonString(a.Kind)
	if err != nil {
		return nil, err
	}
	atJSON, err := at.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("ledger: record time: %w", err)
	}
	tail := make([]byte, 0, len(kind)+len(atJSON)+len(body)+24)
	tail = append(tail, `,"kind":`...)
	tail = append(tail, kind...)
	tail = append(tail, `,"at":`...)
	tail = append(tail, atJSON...)
	tail = append(tail, `,"body":`...)
	tail = append(tail, body...)
	tail = append(tail, '}')
	sub, err := jsonString(s.opt.Subject(a.BrandID, a.ConsumerID))
	if err != nil {
		return nil, err
	}
	return &Prepared{brandID: a.BrandID, consumerID: a.ConsumerID, at: at, sub: sub, tail: tail, salt: salt}, nil
}

// jsonString is s as a JSON string, as marshal encodes it: printable ASCII other than quotes and
// backslashes (kinds, subjects) goes as it is, anything else through the encoder.
func jsonString(s string) ([]byte, error) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return marshal(s)
		}
	}
	return append(append(append(make([]byte, 0, len(s)+2), '"'), s...), '"'), nil
}

// record returns the canonical bytes of the prepared act's record at position n after prev:
// exactly what Record.Encode gives for it (TestPreparedEncoding), spliced from the parts.
func (s *Service) record(p *Prepared, brand string, n int64, prev string) ([]byte, error) {
	head, err := s.recordHead(brand)
	if err != nil {
		return nil, err
	}
	b := make([]byte, 0, len(head)+len(p.sub)+len(prev)+len(p.tail)+40)
	b = append(b, head...)
	b = append(b, `,"sub":`...)
	b = append(b, p.sub...)
	b = append(b, `,"n":`...)
	b = strconv.AppendInt(b, n, 10)
	b = append(b, `,"prev":"`...) // base64: nothing in it is escaped
	b = append(b, prev...)
	b = append(b, '"')
	return append(b, p.tail...), nil
}

// recordHead is the start of every record of a brand: `{"v":…,"log":…,"brand":…`.
func (s *Service) recordHead(brand string) ([]byte, error) {
	if h, ok := s.recordHeads.Load(brand); ok {
		return h.([]byte), nil
	}
	h, err := marshal(struct {
		Version int    `json:"v"`
		Log     string `json:"log"`
		Brand   string `json:"brand"`
	}{Version, s.origin, brand})
	if err != nil {
		return nil, err
	}
	h = h[:len(h)-1] // without the closing brace
	s.recordHeads.Store(brand, h)
	return h, nil
}

// AppendAll records several acts in the caller's transaction, in order (acts about one
// consumer extend their chain one after the other), with at most one query for the chains'
// heads and one insert for all entries.
//
// The acts' salts are drawn from the system's CSPRNG in one read (each its own 32 bytes of it:
// as random and as independent as one read each, without a call per entry).
func (s *Service) AppendAll(ctx context.Context, tx Tx, acts []Act) ([]*Entry, error) {
	ps, err := s.prepareAll(acts)
	if err != nil {
		return nil, err
	}
	return s.AppendPrepared(ctx, tx, ps...)
}

// prepareAll prepares acts for AppendAll: each run of acts alike but for their consumer (a
// bulk read's, with one EncodedBody) shares one encoded tail.
func (s *Service) prepareAll(acts []Act) ([]*Prepared, error) {
	ps := make([]*Prepared, len(acts))
	salts := make([]byte, saltSize*len(acts))
	rand.Read(salts)
	for i, a := range acts {
		salt := salts[i*saltSize : (i+1)*saltSize : (i+1)*saltSize]
		if i > 0 && sameTail(&acts[i-1], &a) {
			sub, err := jsonString(s.opt.Subject(a.BrandID, a.ConsumerID))
			if err != nil {
				return nil, err
			}
			p := *ps[i-1]
			p.consumerID, p.sub, p.salt = a.ConsumerID, sub, salt
			ps[i] = &p
			continue
		}
		var err error
		if ps[i], err = s.prepare(a, salt); err != nil {
			return nil, err
		}
	}
	return ps, nil
}

// sameTail reports whether two acts of one brand have the same kind, time and encoded body, and
// so the same record tail (Prepared.tail, which is only ever read).
func sameTail(a, b *Act) bool {
	ab, ok1 := a.Body.(EncodedBody)
	bb, ok2 := b.Body.(EncodedBody)
	return ok1 && ok2 && a.BrandID == b.BrandID && a.Kind == b.Kind && a.At.Equal(b.At) && bytes.Equal(ab, bb)
}

// brandID returns the public id of a brand, read through tx once and then remembered (a
// brand's public id never changes).
func (s *Service) brandID(ctx context.Context, tx Tx, id int64) (string, error) {
	if s.opt.BrandID != nil {
		return s.opt.BrandID(ctx, tx, id)
	}
	if v, ok := s.brands.Load(id); ok {
		return v.(string), nil
	}
	pub, err := tx.BrandPublicID(ctx, id)
	if err != nil {
		return "", err
	}
	s.brands.Store(id, pub)
	return pub, nil
}

// AppendPrepared is AppendAll of acts made ready by Prepare (each appended at most once).
//
// The heads come from memory when the store has a single writer in this process (SQLite: the
// transaction's OnUndo reports true): the head an append leaves is remembered at once and forgotten if
// the transaction's writes are undone, before any other transaction runs, so the cache only
// ever holds what the writer's own view of the table says. Elsewhere (PostgreSQL, where other
// nodes append too) every append reads its chains' heads under their consumer locks.
func (s *Service) AppendPrepared(ctx context.Context, tx Tx, ps ...*Prepared) ([]*Entry, error) {
	chains := make([]int64, 0, len(ps))
	for _, p := range ps {
		chains = append(chains, p.consumerID)
	}
	slices.Sort(chains)
	chains = slices.Compact(chains) // lock in one order everywhere: no deadlocks between nodes
	if len(chains) == 1 {
		if err := tx.LockConsumer(ctx, chains[0]); err != nil {
			return nil, err
		}
	} else if err := tx.LockConsumers(ctx, chains); err != nil {
		return nil, err
	}
	// Registered first: forgetting is harmless, and whether OnUndo keeps it decides whether
	// the cache may be read at all.
	sole := tx.OnUndo(func() { s.heads.forget(chains) })
	heads := make(map[int64]Head, len(chains))
	missing := chains
	if sole {
		missing = s.heads.fill(heads, chains)
	}
	if len(missing) > 0 {
		read, err := tx.LedgerHeads(ctx, missing)
		if err != nil {
			return nil, err
		}
		for _, c := range missing {
			h, ok := read[c]
			if !ok {
				h = Head{N: -1}
			}
			heads[c] = h
		}
	}
	out := make([]*Entry, len(ps))
	for i, p := range ps {
		brand, err := s.brandID(ctx, tx, p.brandID)
		if err != nil {
			return nil, err
		}
		h := heads[p.consumerID]
		rec, err := s.record(p, brand, h.N+1, h.Commitment)
		if err != nil {
			return nil, err
		}
		e := &Entry{Index: -1, BrandID: p.brandID, ChainID: p.consumerID, N: h.N + 1, Commitment: Commit(rec, p.salt), Record: rec, Salt: p.salt, At: p.at}
		heads[p.consumerID] = Head{N: e.N, Commitment: b64(e.Commitment)}
		out[i] = e
	}
	if err := tx.InsertLedgerEntries(ctx, out); err != nil {
		if sole {
			s.heads.forget(chains) // an insert in parts may have stored some: read them next time
		}
		return nil, err
	}
	if sole {
		s.heads.put(chains, heads)
	}
	s.Wake()
	return out, nil
}

// Wake asks the integrator to run soon.
func (s *Service) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Latest returns the newest checkpoint (nil before the first).
func (s *Service) Latest() (*Checkpoint, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.broken != nil {
		return nil, s.broken
	}
	return s.latest, nil
}

// Healthy reports the self-check's verdict.
func (s *Service) Healthy() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.broken
}

// Run integrates pending entries until ctx ends: at most every IntegrateEvery while entries
// arrive, so that checkpoints follow within about a second.
func (s *Service) Run(ctx context.Context) {
	// What is integrated is then checked in the background, so that a start has little to read.
	var verifying sync.WaitGroup
	verifying.Go(func() { s.verifyLoop(ctx, s.opt.IntegrateEvery) })
	defer verifying.Wait()
	t := time.NewTicker(s.opt.IntegrateEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.wake:
			// Let a burst of appends gather before integrating them together.
			select {
			case <-ctx.Done():
				return
			case <-time.After(s.opt.IntegrateEvery / 4):
			}
		}
		if s.held() {
			continue // integrated when the hold is released (it wakes the loop) or ends
		}
		for {
			n, err := s.Integrate(ctx)
			if err != nil {
				if ctx.Err() == nil {
					s.opt.Log.Error("ledger integration", slog.Any("err", err))
				}
				break
			}
			if n < integrateBatch {
				break
			}
		}
	}
}

// integrateBatch bounds the entries one integration takes: its transaction holds the (SQLite)
// writer, so a large batch would stall every act behind it (2,000 entries take about 15 ms).
const integrateBatch = 2000

// HoldIntegration holds the background integration off while a bulk write appends (a training
// read records an entry per consumer in a run of write transactions), so that the single
// writer is not shared with integration passes for the few hundred milliseconds the run takes:
// the entries are integrated, together, once release is called. A hold lasts at most max (a
// bulk write that runs longer shares the writer again, so that checkpoints keep following);
// nothing else changes: entries commit with their acts either way, and an entry not yet
// integrated when the process stops is integrated at the next start, as always.
func (s *Service) HoldIntegration(max time.Duration) (release func()) {
	s.holds.Add(1)
	until := time.Now().Add(max).UnixNano()
	for {
		old := s.heldUntil.Load()
		if old >= until || s.heldUntil.CompareAndSwap(old, until) {
			break
		}
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			if s.holds.Add(-1) == 0 {
				s.heldUntil.Store(0)
			}
			s.Wake()
		})
	}
}

// held reports whether a HoldIntegration is in force.
func (s *Service) held() bool {
	return s.holds.Load() > 0 && time.Now().UnixNano() < s.heldUntil.Load()
}

// Integrate gives pending entries their log indexes, hashes them into the tree and signs a
// checkpoint of the new size, in one transaction. It returns how many entries it integrated.
func (s *Service) Integrate(ctx context.Context) (int, error) {
	if err := s.Healthy(); err != nil {
		return 0, err // never extend a log that failed its self-check
	}
	s.intMu.Lock()
	defer s.intMu.Unlock()
	var cp *Checkpoint
	var added map[int64][]byte
	count := 0
	err := s.db.Update(ctx, func(tx IntegrationTx) error {
		count, added, cp = 0, map[int64][]byte{}, nil
		if err := tx.LockLedger(ctx); err != nil {
			return err
		}
		latest, err := tx.LatestCheckpoint(ctx)
		if err != nil {
			return err
		}
		var size int64
		if latest != nil {
			size = latest.Size
		}
		cp = latest // another node may have moved on: remember what is stored
		pending, err := tx.PendingLedgerEntries(ctx, integrateBatch)
		if err != nil || len(pending) == 0 {
			return err
		}
		ids := make([]int64, len(pending))
		for i, e := range pending {
			ids[i] = e.ID
		}
		if err := tx.AssignLedgerIndexes(ctx, ids, size); err != nil {
			return err
		}
		r := s.reader(ctx, tx, added)
		start := tlog.StoredHashCount(size)
		var newHashes [][]byte
		for i, e := range pending {
			hs, err := tlog.StoredHashesForRecordHash(size+int64(i), tlog.RecordHash(e.Commitment), r)
			if err != nil {
				return fmt.Errorf("ledger: hashing entry %d: %w", size+int64(i), err)
			}
			for _, h := range hs {
				added[start+int64(len(newHashes))] = h[:]
				newHashes = append(newHashes, append([]byte(nil), h[:]...))
			}
		}
		if err := tx.PutLedgerHashes(ctx, start, newHashes); err != nil {
			return err
		}
		newSize := size + int64(len(pending))
		root, err := tlog.TreeHash(newSize, r)
		if err != nil {
			return err
		}
		cp, err = s.sign(newSize, root[:])
		if err != nil {
			return err
		}
		count = len(pending)
		return tx.PutCheckpoint(ctx, cp)
	})
	if err != nil || cp == nil {
		return 0, err
	}
	for i, h := range added {
		s.hashes.put(i, h)
	}
	s.mu.Lock()
	if s.latest == nil || cp.Size > s.latest.Size {
		s.latest = cp
	}
	s.mu.Unlock()
	if err := s.saveHead(cp); err != nil {
		return count, err
	}
	return count, nil
}

// sign makes the C2SP tlog-checkpoint of a tree.
func (s *Service) sign(size int64, root []byte) (*Checkpoint, error) {
	body := s.origin + "\n" + strconv.FormatInt(size, 10) + "\n" + base64.StdEncoding.EncodeToString(root) + "\n"
	msg, err := note.Sign(&note.Note{Text: body}, s.signer)
	if err != nil {
		return nil, err
	}
	return &Checkpoint{Size: size, Root: root, Note: msg, At: s.clock.Now()}, nil
}

// reader reads stored hashes: those added by the running integration, then the cache, then
// the store.
func (s *Service) reader(ctx context.Context, tx IntegrationTx, added map[int64][]byte) tlog.HashReader {
	return tlog.HashReaderFunc(func(indexes []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(indexes))
		var missing []int64
		var where []int
		for i, idx := range indexes {
			if h, ok := added[idx]; ok {
				copy(out[i][:], h)
			} else if h, ok := s.hashes.get(idx); ok {
				copy(out[i][:], h)
			} else {
				missing = append(missing, idx)
				where = append(where, i)
			}
		}
		if len(missing) > 0 {
			hs, err := tx.LedgerHashes(ctx, missing)
			if err != nil {
				return nil, err
			}
			for j, h := range hs {
				copy(out[where[j]][:], h)
				s.hashes.put(missing[j], h)
			}
		}
		return out, nil
	})
}

// ErrNotYet is returned for tree sizes or entries the log has not integrated yet.
var ErrNotYet = symbiont.Errorf(symbiont.ENOTFOUND, "The ledger has not integrated that far yet.")

// InclusionProof proves that the entry at index is in the tree of the given size.
func (s *Service) InclusionProof(ctx context.Context, index, size int64) ([][]byte, error) {
	if index < 0 || index >= size {
		return nil, symbiont.Errorf(symbiont.EINVALID, "index must be below the tree size.")
	}
	var proof tlog.RecordProof
	err := s.db.View(ctx, func(tx IntegrationTx) (err error) {
		proof, err = tlog.ProveRecord(size, index, s.reader(ctx, tx, nil))
		return err
	})
	return hashesOut(proof), err
}

// ConsistencyProof proves that the tree of size old is a prefix of the tree of size new.
func (s *Service) ConsistencyProof(ctx context.Context, old, new int64) ([][]byte, error) {
	if old < 0 || old > new {
		return nil, symbiont.Errorf(symbiont.EINVALID, "Need 0 ≤ old ≤ new.")
	}
	cp, err := s.Latest()
	if err != nil {
		return nil, err
	}
	if cp == nil || new > cp.Size {
		return nil, ErrNotYet
	}
	var proof tlog.TreeProof
	err = s.db.View(ctx, func(tx IntegrationTx) (err error) {
		proof, err = tlog.ProveTree(new, old, s.reader(ctx, tx, nil))
		return err
	})
	return hashesOut(proof), err
}

func hashesOut(hs []tlog.Hash) [][]byte {
	out := make([][]byte, len(hs))
	for i := range hs {
		out[i] = hs[i][:]
	}
	return out
}

// Tile returns a C2SP tile of hashes: level l, index n, width w (256 for a full tile).
func (s *Service) Tile(ctx context.Context, l int, n int64, w int) ([]byte, error) {
	cp, err := s.Latest()
	if err != nil {
		return nil, err
	}
	t := tlog.Tile{H: TileHeight, L: l, N: n, W: w}
	if cp == nil || !tileWithin(t, cp.Size) {
		return nil, ErrNotYet
	}
	var data []byte
	err = s.db.View(ctx, func(tx IntegrationTx) (err error) {
		data, err = tlog.ReadTileData(t, s.reader(ctx, tx, nil))
		return err
	})
	return data, err
}

// tileWithin reports whether the tree of the given size holds all of tile t.
func tileWithin(t tlog.Tile, size int64) bool {
	if t.L < 0 || t.L > 63/TileHeight || t.N < 0 || t.W < 1 || t.W > 1<<TileHeight {
		return false
	}
	span := int64(1) << (uint(t.L) * TileHeight) // leaves under one hash of the tile
	end := (t.N<<TileHeight + int64(t.W)) * span
	return end > 0 && end <= size
}

// EntryBundle returns a C2SP entry bundle: the entries [n*256, n*256+w), each as a big-endian
// uint16 length and the entry (its 32-byte commitment).
func (s *Service) EntryBundle(ctx context.Context, n int64, w int) ([]byte, error) {
	cp, err := s.Latest()
	if err != nil {
		return nil, err
	}
	if cp == nil || !tileWithin(tlog.Tile{H: TileHeight, L: 0, N: n, W: w}, cp.Size) {
		return nil, ErrNotYet
	}
	from := n << TileHeight
	var es []*Entry
	if err := s.db.View(ctx, func(tx IntegrationTx) (err error) {
		es, err = tx.LedgerEntries(ctx, from, from+int64(w))
		return err
	}); err != nil {
		return nil, err
	}
	if len(es) != w {
		return nil, fmt.Errorf("ledger: entry bundle %d/%d: %d entries stored", n, w, len(es))
	}
	out := make([]byte, 0, w*(2+32))
	for _, e := range es {
		out = append(out, byte(len(e.Commitment)>>8), byte(len(e.Commitment)))
		out = append(out, e.Commitment...)
	}
	return out, nil
}

// CheckpointAt returns the checkpoint issued for a tree size.
func (s *Service) CheckpointAt(ctx context.Context, size int64) (*Checkpoint, error) {
	if err := s.Healthy(); err != nil {
		return nil, err
	}
	var cp *Checkpoint
	err := s.db.View(ctx, func(tx IntegrationTx) (err error) {
		cp, err = tx.CheckpointAt(ctx, size)
		return err
	})
	return cp, err
}

// Chains returns the entries of the chains, in chain order.
func (s *Service) Chains(ctx context.Context, chainIDs []int64) ([]*Entry, error) {
	if err := s.Healthy(); err != nil {
		return nil, err
	}
	var es []*Entry
	err := s.db.View(ctx, func(tx IntegrationTx) (err error) {
		es, err = tx.ChainEntries(ctx, chainIDs)
		return err
	})
	return es, err
}

// ErrBroken wraps what the self-check found.
var ErrBroken = errors.New("ledger: the stored log failed its self-check")
