package ledger

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// ParsedCheckpoint is the body of a C2SP tlog-checkpoint.
type ParsedCheckpoint struct {
	Origin string
	Size   int64
	Root   tlog.Hash
}

// OpenCheckpoint verifies a signed checkpoint against the verifier key and parses it. An
// unknown signer, a bad signature or a malformed body is an error.
func OpenCheckpoint(msg []byte, vkey string) (*ParsedCheckpoint, error) {
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, fmt.Errorf("ledger: verifier key: %w", err)
	}
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		return nil, fmt.Errorf("ledger: checkpoint not signed by %s: %w", v.Name(), err)
	}
	return ParseCheckpoint(n.Text)
}

// ParseCheckpoint parses a checkpoint body: origin, decimal size, base64 root hash, then
// optional extension lines.
func ParseCheckpoint(text string) (*ParsedCheckpoint, error) {
	lines := strings.SplitAfter(text, "\n")
	if len(lines) < 3 || !strings.HasSuffix(text, "\n") {
		return nil, fmt.Errorf("ledger: malformed checkpoint")
	}
	origin := strings.TrimSuffix(lines[0], "\n")
	size, err := strconv.ParseInt(strings.TrimSuffix(lines[1], "\n"), 10, 64)
	if err != nil || size < 0 || origin == "" {
		return nil, fmt.Errorf("ledger: malformed checkpoint")
	}
	root, err := base64.StdEncoding.DecodeString(strings.TrimSuffix(lines[2], "\n"))
	if err != nil || len(root) != tlog.HashSize {
		return nil, fmt.Errorf("ledger: malformed checkpoint root")
	}
	c := &ParsedCheckpoint{Origin: origin, Size: size}
	copy(c.Root[:], root)
	return c, nil
}

// FormatProof writes a C2SP tlog-proof: an offline-verifiable proof that the entry at index is
// in the tree of the checkpoint.
func FormatProof(index int64, proof [][]byte, checkpoint []byte) string {
	var b strings.Builder
	b.WriteString("c2sp.org/tlog-proof@v1\n")
	fmt.Fprintf(&b, "index %d\n", index)
	for _, h := range proof {
		b.WriteString(base64.StdEncoding.EncodeToString(h))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.Write(checkpoint)
	return b.String()
}

// ParseProof reads a C2SP tlog-proof: the entry index, the inclusion proof and the checkpoint
// (still to be verified).
func ParseProof(text string) (index int64, proof [][]byte, checkpoint []byte, err error) {
	head, cp, ok := strings.Cut(text, "\n\n")
	if !ok {
		return 0, nil, nil, fmt.Errorf("ledger: malformed tlog-proof")
	}
	lines := strings.Split(head, "\n")
	if len(lines) < 2 || lines[0] != "c2sp.org/tlog-proof@v1" {
		return 0, nil, nil, fmt.Errorf("ledger: not a c2sp.org/tlog-proof@v1")
	}
	i := 1
	if strings.HasPrefix(lines[i], "extra ") {
		i++
	}
	if i >= len(lines) || !strings.HasPrefix(lines[i], "index ") {
		return 0, nil, nil, fmt.Errorf("ledger: tlog-proof without an index")
	}
	if index, err = strconv.ParseInt(strings.TrimPrefix(lines[i], "index "), 10, 64); err != nil || index < 0 {
		return 0, nil, nil, fmt.Errorf("ledger: bad tlog-proof index")
	}
	for _, l := range lines[i+1:] {
		h, err := base64.StdEncoding.DecodeString(l)
		if err != nil || len(h) != tlog.HashSize {
			return 0, nil, nil, fmt.Errorf("ledger: bad tlog-proof hash %q", l)
		}
		proof = append(proof, h)
	}
	return index, proof, bytes.Clone([]byte(cp)), nil
}

// CheckInclusion verifies that commitment is the entry at index in the tree (size, root).
func CheckInclusion(commitment []byte, index int64, proof [][]byte, size int64, root tlog.Hash) error {
	p := make(tlog.RecordProof, len(proof))
	for i, h := range proof {
		if len(h) != tlog.HashSize {
			return fmt.Errorf("ledger: proof hash of %d bytes", len(h))
		}
		copy(p[i][:], h)
	}
	return tlog.CheckRecord(p, size, root, index, tlog.RecordHash(commitment))
}

// CheckConsistency verifies that the tree (oldSize, oldRoot) is a prefix of (newSize, newRoot).
func CheckConsistency(proof [][]byte, newSize int64, newRoot tlog.Hash, oldSize int64, oldRoot tlog.Hash) error {
	p := make(tlog.TreeProof, len(proof))
	for i, h := range proof {
		if len(h) != tlog.HashSize {
			return fmt.Errorf("ledger: proof hash of %d bytes", len(h))
		}
		copy(p[i][:], h)
	}
	return tlog.CheckTree(p, newSize, newRoot, oldSize, oldRoot)
}
