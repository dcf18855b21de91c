// Package ledger is Symbiont's verifiable ledger: an append-only Merkle transparency log
// (RFC 6962 hashing, via golang.org/x/mod/sumdb/tlog) of every consent change and every access to
// consumer data, served as C2SP tlog-tiles with C2SP tlog-checkpoint checkpoints signed with
// Ed25519 (golang.org/x/mod/sumdb/note).
//
// Privacy: a leaf is a commitment, SHA-256 over a domain tag, the canonical record and a random
// 32-byte salt, never personal data. The consumer receives each record with its salt through
// their wallet and is the only one who can open their commitments.
//
// Completeness: each consumer's records form a chain. Record n carries n and the commitment of
// record n-1, so a consumer who holds their chain can tell that nothing is missing from it up
// to its head; `symbiont verify` remembers the head it last saw, so that the chain can never
// shrink below it.
//
// Write path: an entry is inserted in the same database transaction as the act it records
// (sequencing); a background integrator later gives entries their log index in commit order,
// hashes them into the tree and signs a checkpoint (integration), as Tessera does.
package ledger

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"time"

	"github.com/symbiont/symbiont"
)

// Record kinds. Later features append with kinds of their own.
const (
	KindConsentGiven     = "consent.given"
	KindConsentWithdrawn = "consent.withdrawn"
	KindConsentExpired   = "consent.expired"
	KindConsentRefused   = "consent.refused"
	KindAccessRead       = "access.read"
	KindAccessExport     = "access.export"
	KindAccessErase      = "access.erase"
)

// Version is the record format version.
const Version = 1

// commitmentTag separates ledger commitments from every other use of SHA-256.
const commitmentTag = "symbiont-ledger-record/v1\x00"

// Record is what one entry says, as the consumer receives it.
type Record struct {
	Version int    `json:"v"`
	Log     string `json:"log"`   // the log's origin
	Brand   string `json:"brand"` // the brand's public id
	// Subject is the consumer's pseudonym at the brand: the chain this record belongs to.
	Subject string `json:"sub"`
	// N is the record's position in the subject's chain, from 0.
	N int64 `json:"n"`
	// Prev is the commitment of record N-1 (base64), "" for N = 0.
	Prev string          `json:"prev"`
	Kind string          `json:"kind"`
	At   time.Time       `json:"at"`
	Body json.RawMessage `json:"body"`
}

// Encode returns the canonical bytes of r: JSON with the struct's field order, no HTML escaping,
// no trailing newline. The commitment is over exactly these bytes.
func (r *Record) Encode() ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// Commit returns the commitment to a record's canonical bytes with its salt.
func Commit(record, salt []byte) []byte {
	h := sha256.New()
	h.Write([]byte(commitmentTag))
	h.Write(record)
	h.Write(salt)
	return h.Sum(nil)
}

// Entry is a stored ledger entry.
type Entry struct {
	ID         int64 // insertion order
	Index      int64 // position in the log; -1 until integrated
	BrandID    int64
	ChainID    int64 // the consumer whose chain it belongs to (never changes, even after a merge)
	N          int64
	Commitment []byte // the public leaf
	Record     []byte // canonical record bytes
	Salt       []byte
	At         time.Time
}

// ChainPos is a position in a chain: the chain's id and the record's n.
type ChainPos struct{ Chain, N int64 }

// Checkpoint is a signed tree head as stored.
type Checkpoint struct {
	Size int64
	Root []byte
	Note []byte // the signed note (C2SP tlog-checkpoint)
	At   time.Time
}

// Tx is what the ledger needs of a store transaction.
type Tx interface {
	symbiont.UndoTx
	// BrandPublicID returns the public id of a brand (a not_found error when there is none): the
	// brand an entry's record names.
	BrandPublicID(ctx context.Context, brandID int64) (string, error)
	// LedgerHeads returns the last entry of each non-empty chain: its N and its commitment
	// (base64).
	LedgerHeads(ctx context.Context, chainIDs []int64) (map[int64]Head, error)
	// InsertLedgerEntries stores sequenced entries (Index -1) and sets their IDs.
	InsertLedgerEntries(ctx context.Context, es []*Entry) error
	// LockConsumer serialises appends to one chain across processes sharing the database.
	LockConsumer(ctx context.Context, consumerID int64) error
	// LockConsumers is LockConsumer of each of the consumers, in the order given (ascending,
	// the one order every process locks in), in as few statements as the engine can.
	LockConsumers(ctx context.Context, consumerIDs []int64) error
}

// IntegrationTx is what the integrator and the readers of the tree need.
type IntegrationTx interface {
	// LockLedger serialises integration across processes sharing the database.
	LockLedger(ctx context.Context) error
	// PendingLedgerEntries returns up to limit entries without an index, in insertion order.
	PendingLedgerEntries(ctx context.Context, limit int) ([]*Entry, error)
	// AssignLedgerIndexes gives the entries ids[i] the index start+i.
	AssignLedgerIndexes(ctx context.Context, ids []int64, start int64) error
	// PutLedgerHashes stores hashes at consecutive stored-hash indexes from start.
	PutLedgerHashes(ctx context.Context, start int64, hashes [][]byte) error
	// LedgerHashes returns the stored hashes at the given indexes (ENOTFOUND if one is missing).
	LedgerHashes(ctx context.Context, indexes []int64) ([][]byte, error)
	// LedgerHashCount returns the number of stored hashes.
	LedgerHashCount(ctx context.Context) (int64, error)
	PutCheckpoint(ctx context.Context, c *Checkpoint) error
	// LatestCheckpoint returns the checkpoint of the largest tree; nil when there is none.
	LatestCheckpoint(ctx context.Context) (*Checkpoint, error)
	// CheckpointAt returns the checkpoint of a tree size; ENOTFOUND when none was issued.
	CheckpointAt(ctx context.Context, size int64) (*Checkpoint, error)
	// LedgerEntries returns the entries with indexes in [from, to), in index order.
	LedgerEntries(ctx context.Context, from, to int64) ([]*Entry, error)
	// ChainEntries returns every entry of the chains, in chain order.
	ChainEntries(ctx context.Context, chainIDs []int64) ([]*Entry, error)
	// ForEachLedgerEntry streams every entry, chain by chain.
	ForEachLedgerEntry(ctx context.Context, fn func(e *Entry) error) error
	// The self-check's reads:
	// ForEachPendingLedgerEntry streams the entries without an index, in insertion order.
	ForEachPendingLedgerEntry(ctx context.Context, fn func(e *Entry) error) error
	// LedgerLinks returns the entries at the chain positions (those that exist), with their
	// chain, n, index and commitment only.
	LedgerLinks(ctx context.Context, at []ChainPos) ([]*Entry, error)
	// LedgerHashRange returns the stored hashes with indexes in [from, to), in order
	// (ENOTFOUND if one is missing).
	LedgerHashRange(ctx context.Context, from, to int64) ([][]byte, error)
	Setting(ctx context.Context, name string) ([]byte, error)
	PutSetting(ctx context.Context, name string, value []byte) error
}
