package recommendation

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"gonum.org/v1/gonum/mat"
)

// A trained model is kept in a file so that the serving model survives a restart:
//
//	"SYMBREC1" | uint32 length | JSON Meta | the model's matrices, by Meta.Kind:
//	  ease: B (items × items) in gonum's binary matrix format
//	  als:  Y, the item factors (items × Meta.Factors), in gonum's binary matrix format; Lambda
//	        and Alpha in Meta are what a fold-in needs besides
//
// The file is written whole to a temporary name and renamed by its caller, so a crash leaves
// the old model or the new one, never half of one.

const fileMagic = "SYMBREC1"

// Meta describes a trained model version.
type Meta struct {
	Version string  `json:"version"` // "recs-v12"
	Kind    string  `json:"kind"`    // "ease" or "als"
	Lambda  float64 `json:"lambda"`
	// ALS only: its factors, confidence weight and training sweeps.
	Factors    int       `json:"factors,omitempty"`
	Alpha      float64   `json:"alpha,omitempty"`
	Iterations int       `json:"iterations,omitempty"`
	ItemIDs    []string  `json:"item_ids"` // item i of the matrix is ItemIDs[i]
	Consumers  int       `json:"consumers"`
	TrainedAt  time.Time `json:"trained_at"`
	// Categories are the data categories the model learnt from.
	Categories []string `json:"categories,omitempty"`
	// Popular[i] is how many consumers of the training had item i; Recent[i], how many of
	// them within RecentDays before TrainedAt: aggregates only, for the non-personalised
	// lists ("popular", "trending").
	Popular    []float64 `json:"popular,omitempty"`
	Recent     []float64 `json:"recent,omitempty"`
	RecentDays int       `json:"recent_days,omitempty"`
	// Offline is the model's validation at training (nil when too few consumers).
	Offline *Validation `json:"offline,omitempty"`
}

// matrixHeader is the size of gonum's binary matrix header (version, form, packing, shape),
// measured on a 1×1 matrix.
var matrixHeader = func() int {
	b, err := mat.NewDense(1, 1, nil).MarshalBinary()
	if err != nil {
		panic(err)
	}
	return len(b) - 8
}()

// maxMeta bounds the metadata a file may claim (50,000 item ids of 128 bytes and change).
const maxMeta = 16 << 20

// DescribeModel returns meta with the model's kind and hyperparameters (Kind, Lambda and, for
// ALS, Factors, Alpha, Iterations) set from s, as WriteModel writes them.
func DescribeModel(meta Meta, s Scorer) Meta {
	meta.Factors, meta.Alpha, meta.Iterations = 0, 0, 0
	switch m := s.(type) {
	case *EASE:
		meta.Kind, meta.Lambda = "ease", m.Lambda
	case *ALS:
		meta.Kind, meta.Lambda, meta.Factors, meta.Alpha, meta.Iterations = "als", m.Lambda, m.Factors, m.Alpha, m.Iterations
	}
	return meta
}

// WriteModel writes a trained model with its metadata (Kind and the hyperparameters are set
// from the model, by DescribeModel).
func WriteModel(w io.Writer, meta Meta, s Scorer) error {
	if n := len(meta.Popular); n != 0 && n != len(meta.ItemIDs) {
		return fmt.Errorf("recommendation: %d popularity counts for %d items", n, len(meta.ItemIDs))
	}
	if n := len(meta.Recent); n != 0 && n != len(meta.ItemIDs) {
		return fmt.Errorf("recommendation: %d recent counts for %d items", n, len(meta.ItemIDs))
	}
	switch m := s.(type) {
	case *EASE:
		return writeEASE(w, meta, m)
	case *ALS:
		return writeALS(w, meta, m)
	}
	return fmt.Errorf("recommendation: cannot write a %T", s)
}

func writeEASE(w io.Writer, meta Meta, m *EASE) error {
	if m.b == nil {
		return errors.New("recommendation: an empty EASE model has nothing to write")
	}
	if r, _ := m.b.Dims(); r != len(meta.ItemIDs) {
		return fmt.Errorf("recommendation: model of %d items, %d item ids", r, len(meta.ItemIDs))
	}
	return writeFile(w, DescribeModel(meta, m), m.b)
}

func writeALS(w io.Writer, meta Meta, m *ALS) error {
	if m.y == nil {
		return errors.New("recommendation: an empty ALS model has nothing to write")
	}
	if r := m.Items(); r != len(meta.ItemIDs) {
		return fmt.Errorf("recommendation: model of %d items, %d item ids", r, len(meta.ItemIDs))
	}
	return writeFile(w, DescribeModel(meta, m), m.y)
}

// writeFile writes the header, the metadata and the model's matrix.
func writeFile(w io.Writer, meta Meta, matrix *mat.Dense) error {
	js, err := json.Marshal(meta)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	bw.WriteString(fileMagic)
	binary.Write(bw, binary.BigEndian, uint32(len(js)))
	bw.Write(js)
	if _, err := matrix.MarshalBinaryTo(bw); err != nil {
		return fmt.Errorf("recommendation: write model: %w", err)
	}
	return bw.Flush()
}

// ReadModel reads a model WriteModel wrote, refusing a file that is not one, is truncated, or
// whose matrices do not match its item ids.
func ReadModel(r io.Reader) (Meta, Scorer, error) {
	var meta Meta
	br := bufio.NewReader(r)
	magic := make([]byte, len(fileMagic))
	if _, err := io.ReadFull(br, magic); err != nil || !bytes.Equal(magic, []byte(fileMagic)) {
		return meta, nil, errors.New("recommendation: not a model file")
	}
	var n uint32
	if err := binary.Read(br, binary.BigEndian, &n); err != nil || n > maxMeta {
		return meta, nil, errors.New("recommendation: model file: bad metadata length")
	}
	js := make([]byte, n)
	if _, err := io.ReadFull(br, js); err != nil {
		return meta, nil, fmt.Errorf("recommendation: model file truncated: %w", err)
	}
	if err := json.Unmarshal(js, &meta); err != nil {
		return meta, nil, fmt.Errorf("recommendation: model metadata: %w", err)
	}
	if n := len(meta.Popular); n != 0 && n != len(meta.ItemIDs) {
		return meta, nil, fmt.Errorf("recommendation: model file: %d popularity counts for %d items", n, len(meta.ItemIDs))
	}
	if n := len(meta.Recent); n != 0 && n != len(meta.ItemIDs) {
		return meta, nil, fmt.Errorf("recommendation: model file: %d recent counts for %d items", n, len(meta.ItemIDs))
	}
	switch meta.Kind {
	case "ease":
		m, err := readEASE(br, meta)
		if err != nil {
			return meta, nil, err
		}
		return meta, m, nil
	case "als":
		m, err := readALS(br, meta)
		if err != nil {
			return meta, nil, err
		}
		return meta, m, nil
	}
	return meta, nil, fmt.Errorf("recommendation: unknown model kind %q", meta.Kind)
}

func readEASE(br io.Reader, meta Meta) (*EASE, error) {
	items := len(meta.ItemIDs)
	if items == 0 || items > MaxEASEItems {
		return nil, fmt.Errorf("recommendation: model file of %d items (1 to %d)", items, MaxEASEItems)
	}
	b, err := readMatrix(br, items, items)
	if err != nil {
		return nil, err
	}
	return &EASE{Lambda: meta.Lambda, b: b}, nil
}

func readALS(br io.Reader, meta Meta) (*ALS, error) {
	items := len(meta.ItemIDs)
	if items == 0 || items > MaxALSItems {
		return nil, fmt.Errorf("recommendation: model file of %d items (1 to %d)", items, MaxALSItems)
	}
	cfg := ALSConfig{Factors: meta.Factors, Lambda: meta.Lambda, Alpha: meta.Alpha, Iterations: max(1, meta.Iterations)}
	if cfg.Factors == 0 || cfg.Lambda == 0 {
		return nil, fmt.Errorf("recommendation: ALS model file without factors or lambda (%d, %g)", cfg.Factors, cfg.Lambda)
	}
	if err := cfg.check(); err != nil {
		return nil, fmt.Errorf("%w (model file)", err)
	}
	y, err := readMatrix(br, items, cfg.Factors)
	if err != nil {
		return nil, err
	}
	for _, v := range y.RawMatrix().Data {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, errors.New("recommendation: ALS model file: factors not finite")
		}
	}
	return newALS(y, cfg.Lambda, cfg.Alpha, cfg.Iterations)
}

// readMatrix reads a rows × cols matrix in gonum's binary format, and nothing else: no more
// than the matrix the metadata announces is read (gonum would allocate whatever size the
// matrix header claims), and a matrix of another shape is refused.
func readMatrix(br io.Reader, rows, cols int) (*mat.Dense, error) {
	size := rows*cols*8 + matrixHeader
	raw, err := io.ReadAll(io.LimitReader(br, int64(size)+1))
	if err != nil {
		return nil, fmt.Errorf("recommendation: model matrix: %w", err)
	}
	if len(raw) != size {
		return nil, fmt.Errorf("recommendation: model matrix of %d bytes, want %d", len(raw), size)
	}
	var m mat.Dense
	if err := m.UnmarshalBinary(raw); err != nil {
		return nil, fmt.Errorf("recommendation: model matrix: %w", err)
	}
	if r, c := m.Dims(); r != rows || c != cols {
		return nil, fmt.Errorf("recommendation: model matrix %d×%d, want %d×%d", r, c, rows, cols)
	}
	return &m, nil
}
