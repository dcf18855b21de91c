package ledger

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/tlog"
)

// Verification of a consumer's proof document, offline but for the log's public tiles: what
// `symbiont verify` runs. It trusts nothing the document says without a check: records must
// open to their commitments, commitments must be in the log at their indexes under a checkpoint
// signed by the log's key, that checkpoint must be consistent with the log's current one (and
// with the one seen last time), and each chain must be complete and unbroken up to the head
// seen last time.

// State is what the verifier remembers between runs, like a monitor: the log's key, the last
// checkpoint it saw and the head of every chain.
type State struct {
	Origin string          `json:"origin"`
	Key    string          `json:"key"`
	Size   int64           `json:"size"`
	Root   string          `json:"root"` // base64
	Heads  map[string]Head `json:"heads"`
}

// Head is the last record of a chain seen.
type Head struct {
	N          int64  `json:"n"`
	Commitment string `json:"commitment"`
}

// Log is the verifier's view of the log: its current checkpoint and its tiles.
type Log interface {
	// Checkpoint returns the log's current signed checkpoint.
	Checkpoint() ([]byte, error)
	// Tiles returns a tlog.TileReader over the log's C2SP tiles.
	Tiles() tlog.TileReader
}

// Report says what was verified.
type Report struct {
	Records, Chains, Pending int
	Size                     int64 // the log's current size
	PreviousSize             int64 // from the state, 0 the first time
}

// VerifyExport verifies doc against the log with the trusted verifier key. prev is the state of
// the previous run (nil the first time); the returned state is the one to keep. Any failure is
// an error saying precisely what is wrong.
func VerifyExport(doc *Export, log Log, key string, prev *State) (*Report, *State, error) {
	rep := &Report{}
	if doc.Format != ExportFormat && doc.Format != ExportFormatV1 {
		return nil, nil, fmt.Errorf("not a ledger proof document (format %q, want %q or the older %q)", doc.Format, ExportFormat, ExportFormatV1)
	}
	if doc.Log.Key != key {
		return nil, nil, fmt.Errorf("the document names log key %q, but the trusted key is %q", doc.Log.Key, key)
	}
	// The log's current checkpoint, and consistency with the last one seen.
	curMsg, err := log.Checkpoint()
	if err != nil {
		return nil, nil, fmt.Errorf("fetching the log's checkpoint: %w", err)
	}
	cur, err := OpenCheckpoint(curMsg, key)
	if err != nil {
		return nil, nil, fmt.Errorf("the log's current checkpoint: %w", err)
	}
	if cur.Origin != doc.Log.Origin {
		return nil, nil, fmt.Errorf("the log calls itself %q, the document %q", cur.Origin, doc.Log.Origin)
	}
	rep.Size = cur.Size
	hr := tlog.TileHashReader(tlog.Tree{N: cur.Size, Hash: cur.Root}, log.Tiles())
	consistent := func(what string, size int64, root tlog.Hash) error {
		if size > cur.Size {
			return fmt.Errorf("%s has %d entries but the log now has only %d: the log was truncated or rebuilt", what, size, cur.Size)
		}
		if size == 0 {
			return nil
		}
		p, err := tlog.ProveTree(cur.Size, size, hr)
		if err != nil {
			return fmt.Errorf("reading the log's tiles to prove %s consistent: %w", what, err)
		}
		if err := tlog.CheckTree(p, cur.Size, cur.Root, size, root); err != nil {
			return fmt.Errorf("%s (size %d) is not a prefix of the log's current tree (size %d): history was rewritten", what, size, cur.Size)
		}
		return nil
	}
	if prev != nil && prev.Size > 0 {
		if prev.Origin != cur.Origin {
			return nil, nil, fmt.Errorf("the saved state is for log %q, not %q", prev.Origin, cur.Origin)
		}
		rep.PreviousSize = prev.Size
		var root tlog.Hash
		b, err := base64.StdEncoding.DecodeString(prev.Root)
		if err != nil || len(b) != tlog.HashSize {
			return nil, nil, fmt.Errorf("the saved state's root is malformed")
		}
		copy(root[:], b)
		if err := consistent("the checkpoint seen last time", prev.Size, root); err != nil {
			return nil, nil, err
		}
	}
	// The document's checkpoint.
	var docCP *ParsedCheckpoint
	if doc.Log.Checkpoint != "" {
		if docCP, err = OpenCheckpoint([]byte(doc.Log.Checkpoint), key); err != nil {
			return nil, nil, fmt.Errorf("the document's checkpoint: %w", err)
		}
		if docCP.Origin != cur.Origin {
			return nil, nil, fmt.Errorf("the document's checkpoint is of log %q", docCP.Origin)
		}
		if err := consistent("the document's checkpoint", docCP.Size, docCP.Root); err != nil {
			return nil, nil, err
		}
	}
	// Each record: opens to its commitment, is what the document says, is in the log.
	chains := map[string][]*ExportRecord{}
	prevOf := make(map[*ExportRecord]string, len(doc.Records)) // what each record names as the one before it
	for i := range doc.Records {
		x := &doc.Records[i]
		r, err := x.check(cur.Origin, docCP)
		if err != nil {
			return nil, nil, err
		}
		prevOf[x] = r.Prev
		if x.Pending {
			rep.Pending++
		}
		chains[x.Subject] = append(chains[x.Subject], x)
		rep.Records++
	}
	// Each chain: complete from 0, linked, and reaching at least the head seen last time.
	next := &State{Origin: cur.Origin, Key: key, Size: cur.Size, Root: base64.StdEncoding.EncodeToString(cur.Root[:]), Heads: map[string]Head{}}
	if prev != nil {
		for s, h := range prev.Heads {
			next.Heads[s] = h
		}
	}
	subjects := make([]string, 0, len(chains))
	for s := range chains {
		subjects = append(subjects, s)
	}
	sort.Strings(subjects)
	for _, subject := range subjects {
		rs := chains[subject]
		sort.Slice(rs, func(a, b int) bool { return rs[a].N < rs[b].N })
		prevC := ""
		pendingFrom := int64(-1)
		for i, x := range rs {
			if x.N != int64(i) {
				return nil, nil, fmt.Errorf("chain %s: record %d is missing (the next one shown is %d)", subject, i, x.N)
			}
			// The log integrates a chain in order: nothing proven can follow something pending.
			if x.Pending && pendingFrom < 0 {
				pendingFrom = x.N
			} else if !x.Pending && pendingFrom >= 0 {
				return nil, nil, fmt.Errorf("chain %s: record %d is proven but record %d before it is shown as pending", subject, x.N, pendingFrom)
			}
			if prevOf[x] != prevC {
				return nil, nil, fmt.Errorf("chain %s: record %d does not follow record %d (a record was replaced or reordered)", subject, x.N, x.N-1)
			}
			prevC = x.Commitment
		}
		if h, ok := next.Heads[subject]; ok {
			if int64(len(rs)) <= h.N {
				return nil, nil, fmt.Errorf("chain %s: %d records shown, but %d were verified last time: records were withheld", subject, len(rs), h.N+1)
			}
			if rs[h.N].Commitment != h.Commitment {
				return nil, nil, fmt.Errorf("chain %s: record %d differs from the one verified last time: history was rewritten", subject, h.N)
			}
			if rs[h.N].Pending {
				return nil, nil, fmt.Errorf("chain %s: record %d, proven last time, is shown as pending", subject, h.N)
			}
		}
		// Remember the last proven record as the head.
		for i := len(rs) - 1; i >= 0; i-- {
			if !rs[i].Pending {
				next.Heads[subject] = Head{N: rs[i].N, Commitment: rs[i].Commitment}
				break
			}
		}
		rep.Chains++
	}
	for subject, h := range next.Heads {
		if _, shown := chains[subject]; !shown && prev != nil {
			if _, was := prev.Heads[subject]; was {
				return nil, nil, fmt.Errorf("chain %s (%d records verified last time) is missing from the document", subject, h.N+1)
			}
		}
	}
	return rep, next, nil
}

// Check verifies one record of a proof document: it opens to its commitment, says what the
// committed record says, belongs to the log named origin, and (unless pending) is included in
// the log under cp, the document's checkpoint already opened with the log's key.
//
// In a document of format 2 the record's details are read from its committed bytes and its
// commitment is computed from them, so a record altered in the file is reported as not in the
// log at its index (there is no separate claim to contradict).
func (x *ExportRecord) Check(origin string, cp *ParsedCheckpoint) error {
	_, err := x.check(origin, cp)
	return err
}

func (x *ExportRecord) check(origin string, cp *ParsedCheckpoint) (*Record, error) {
	where := fmt.Sprintf("record %d of %s", x.N, x.Subject)
	salt, err := base64.StdEncoding.DecodeString(x.Salt)
	if err != nil {
		return nil, fmt.Errorf("%s: malformed salt", where)
	}
	commitment := Commit([]byte(x.Record), salt)
	if base64.StdEncoding.EncodeToString(commitment) != x.Commitment {
		return nil, fmt.Errorf("%s: the record and salt do not open its commitment: the record was altered", where)
	}
	r, err := x.open()
	if err != nil {
		return nil, fmt.Errorf("%s: the record is not JSON", where)
	}
	if r.Subject != x.Subject || r.N != x.N || r.Kind != x.Kind || !r.At.Equal(x.At) ||
		!(bytes.Equal(r.Body, x.Details) || jsonEqual(r.Body, x.Details)) {
		return nil, fmt.Errorf("%s: the details shown differ from the committed record", where)
	}
	if r.Log != origin {
		return nil, fmt.Errorf("%s: committed to log %q", where, r.Log)
	}
	if x.Pending {
		return r, nil
	}
	if cp == nil || x.Index == nil {
		return nil, fmt.Errorf("%s: no index or checkpoint to prove it against", where)
	}
	proof, err := x.proofBytes()
	if err != nil {
		return nil, err
	}
	if err := CheckInclusion(commitment, *x.Index, proof, cp.Size, cp.Root); err != nil {
		return nil, fmt.Errorf("%s: not in the log at index %d under the checkpoint (size %d): %v (the record or its salt was altered, or the proof is not its own)", where, *x.Index, cp.Size, err)
	}
	return r, nil
}

func jsonEqual(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return bytes.Equal(a, b)
	}
	ja, _ := json.Marshal(x)
	jb, _ := json.Marshal(y)
	return bytes.Equal(ja, jb)
}

// TilePath is the C2SP path of a tile: tile/<L>/<N>[.p/<W>], or tile/entries/… for data
// tiles (level -1).
func TilePath(t tlog.Tile) string {
	level := strconv.Itoa(t.L)
	if t.L < 0 {
		level = "entries"
	}
	n := strconv.FormatInt(t.N, 10)
	for len(n)%3 != 0 {
		n = "0" + n
	}
	var parts []string
	for i := 0; i < len(n); i += 3 {
		parts = append(parts, n[i:i+3])
	}
	for i := range parts[:len(parts)-1] {
		parts[i] = "x" + parts[i]
	}
	p := "tile/" + level + "/" + strings.Join(parts, "/")
	if t.W != 1<<t.H {
		p += ".p/" + strconv.Itoa(t.W)
	}
	return p
}
