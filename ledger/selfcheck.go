package ledger

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/symbiont/symbiont"
)

// SelfCheck verifies the stored log before it is served: every entry opens to its commitment;
// every chain runs from 0 without gaps and each record names the previous commitment; the
// integrated entries hold every index below the checkpoint exactly once; the stored tree hashes
// are the ones those entries give; and the newest checkpoint is signed by this log's key over
// that tree. On failure the ledger refuses to serve anything as valid (Healthy reports why) and
// stops integrating. It returns the number of entries checked.
func (s *Service) SelfCheck(ctx context.Context) (int64, error) {
	err := s.selfCheck(ctx)
	if err != nil {
		// Served as a 503 that says what was found; errors.Is(err, ErrBroken) holds.
		err = &symbiont.Error{Code: symbiont.EUNAVAILABLE, Err: ErrBroken,
			Message: "The ledger failed its self-check and is not served as valid: " + err.Error() + "."}
		s.mu.Lock()
		s.broken = err
		s.mu.Unlock()
	}
	return s.checked, err
}

func (s *Service) selfCheck(ctx context.Context) error {
	s.checked = 0
	return s.db.View(ctx, func(tx IntegrationTx) error {
		cp, err := tx.LatestCheckpoint(ctx)
		if err != nil {
			return err
		}
		var size int64
		var root tlog.Hash
		if cp != nil {
			pc, err := OpenCheckpoint(cp.Note, s.vkey)
			if err != nil {
				return fmt.Errorf("newest checkpoint: %v", err)
			}
			if pc.Origin != s.origin || pc.Size != cp.Size || !bytes.Equal(pc.Root[:], cp.Root) {
				return fmt.Errorf("newest checkpoint does not match its stored size and root")
			}
			size, root = pc.Size, pc.Root
		}
		leaves := make([]tlog.Hash, size)
		seen := make([]bool, size)
		type head struct {
			n    int64
			prev []byte
		}
		heads := map[int64]head{}
		err = tx.ForEachLedgerEntry(ctx, func(e *Entry) error {
			s.checked++
			if !bytes.Equal(Commit(e.Record, e.Salt), e.Commitment) {
				return fmt.Errorf("entry %d (chain %d, n %d): the record does not open to its commitment", e.ID, e.ChainID, e.N)
			}
			var r Record
			if err := json.Unmarshal(e.Record, &r); err != nil {
				return fmt.Errorf("entry %d: record is not JSON: %v", e.ID, err)
			}
			h, ok := heads[e.ChainID]
			want := int64(0)
			if ok {
				want = h.n + 1
			}
			if r.N != e.N || e.N != want {
				return fmt.Errorf("chain %d: entry %d is record %d, expected %d (a record is missing or out of order)", e.ChainID, e.ID, e.N, want)
			}
			if wantPrev := b64(h.prev); r.Prev != wantPrev {
				return fmt.Errorf("chain %d: record %d does not name the commitment of record %d", e.ChainID, e.N, e.N-1)
			}
			if r.Log != s.origin {
				return fmt.Errorf("entry %d belongs to log %q", e.ID, r.Log)
			}
			heads[e.ChainID] = head{e.N, e.Commitment}
			if e.Index >= 0 {
				if e.Index >= size {
					return fmt.Errorf("entry %d has index %d beyond the checkpoint (size %d)", e.ID, e.Index, size)
				}
				if seen[e.Index] {
					return fmt.Errorf("index %d is taken twice", e.Index)
				}
				seen[e.Index] = true
				leaves[e.Index] = tlog.RecordHash(e.Commitment)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for i, ok := range seen {
			if !ok {
				return fmt.Errorf("no entry has index %d (the log is truncated or an entry was deleted)", i)
			}
		}
		// Recompute the tree from the entries and compare it with the stored hashes.
		stored, err := tx.LedgerHashCount(ctx)
		if err != nil {
			return err
		}
		if want := tlog.StoredHashCount(size); stored != want {
			return fmt.Errorf("%d tree hashes stored, %d expected for %d entries", stored, want, size)
		}
		var computed []tlog.Hash
		mem := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
			out := make([]tlog.Hash, len(idx))
			for i, x := range idx {
				out[i] = computed[x]
			}
			return out, nil
		})
		for i := int64(0); i < size; i++ {
			hs, err := tlog.StoredHashesForRecordHash(i, leaves[i], mem)
			if err != nil {
				return err
			}
			computed = append(computed, hs...)
		}
		const batch = 4096
		for from := int64(0); from < int64(len(computed)); from += batch {
			idx := make([]int64, 0, batch)
			for i := from; i < min(from+batch, int64(len(computed))); i++ {
				idx = append(idx, i)
			}
			hs, err := tx.LedgerHashes(ctx, idx)
			if err != nil {
				return err
			}
			for j, h := range hs {
				if !bytes.Equal(h, computed[idx[j]][:]) {
					return fmt.Errorf("stored tree hash %d (a tile) does not match the entries", idx[j])
				}
			}
		}
		if size > 0 {
			th, err := tlog.TreeHash(size, mem)
			if err != nil {
				return err
			}
			if th != root {
				return fmt.Errorf("the entries give root %x, the checkpoint says %x", th[:8], root[:8])
			}
		}
		// The copy of the newest checkpoint kept outside the database: the stored tree must
		// still contain it. A truncated or rolled-back database does not.
		kept, err := s.loadHead()
		if err != nil {
			return err
		}
		if kept != nil {
			if kept.Size > size {
				return fmt.Errorf("the log had %d entries (checkpoint kept in %s) but the database holds %d: it was truncated or rolled back", kept.Size, s.opt.HeadFile, size)
			}
			if kept.Size > 0 {
				th, err := tlog.TreeHash(kept.Size, mem)
				if err != nil {
					return err
				}
				if th != kept.Root {
					return fmt.Errorf("the stored tree is not an extension of the checkpoint kept in %s (size %d): history was rewritten", s.opt.HeadFile, kept.Size)
				}
			}
		} else if cp != nil {
			if err := s.saveHead(cp); err != nil {
				return err
			}
		}
		return nil
	})
}

// loadHead reads the checkpoint kept outside the database, verifying its signature.
func (s *Service) loadHead() (*ParsedCheckpoint, error) {
	if s.opt.HeadFile == "" {
		return nil, nil
	}
	b, err := os.ReadFile(s.opt.HeadFile)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	pc, err := OpenCheckpoint(b, s.vkey)
	if err != nil {
		return nil, fmt.Errorf("the checkpoint kept in %s: %v", s.opt.HeadFile, err)
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
