package recommendation

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"
)

// A model read back from its file scores exactly as the one written; a truncated or foreign
// file is refused.
func TestModelFile(t *testing.T) {
	x := Planted(100, 40, 4, 10, 0.8, 9)
	m, err := TrainEASE(x, 10)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, x.Items)
	for i := range ids {
		ids[i] = fmt.Sprint("item:", i)
	}
	meta := Meta{Version: "recs-v3", ItemIDs: ids, Consumers: 100, TrainedAt: time.Date(2026, 12, 3, 17, 0, 0, 0, time.UTC)}
	var buf bytes.Buffer
	if err := WriteModel(&buf, meta, m); err != nil {
		t.Fatal(err)
	}
	file := buf.Bytes()
	got, back, err := ReadModel(bytes.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != "recs-v3" || got.Kind != "ease" || got.Lambda != 10 || !slices.Equal(got.ItemIDs, ids) || !got.TrainedAt.Equal(meta.TrainedAt) {
		t.Errorf("meta read back: %+v", got)
	}
	a, b := make([]float64, x.Items), make([]float64, x.Items)
	for u := range 10 {
		m.Score(x.Users[u], a)
		back.Score(x.Users[u], b)
		if !slices.Equal(a, b) {
			t.Fatalf("user %d: scores differ after the round trip", u)
		}
	}
	for _, bad := range [][]byte{file[:len(file)/2], file[:10], []byte("not a model at all"), nil} {
		if _, _, err := ReadModel(bytes.NewReader(bad)); err == nil {
			t.Errorf("a %d-byte file was read as a model", len(bad))
		}
	}
	if err := WriteModel(&buf, Meta{ItemIDs: ids[:3]}, m); err == nil {
		t.Error("a model written with the wrong number of item ids")
	}
}

// FuzzReadModel: no input makes ReadModel panic or allocate beyond its bounds.
func FuzzReadModel(f *testing.F) {
	x := Planted(20, 8, 2, 4, 0.8, 1)
	m, _ := TrainEASE(x, 5)
	var buf bytes.Buffer
	WriteModel(&buf, Meta{Version: "v", ItemIDs: []string{"a", "b", "c", "d", "e", "f", "g", "h"}}, m)
	f.Add(buf.Bytes())
	als, _ := TrainALS(x, ALSConfig{Factors: 3, Iterations: 2})
	buf.Reset()
	WriteModel(&buf, Meta{Version: "v", ItemIDs: []string{"a", "b", "c", "d", "e", "f", "g", "h"}}, als)
	f.Add(buf.Bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		meta, model, err := ReadModel(bytes.NewReader(b))
		if err == nil && (model == nil || len(meta.ItemIDs) == 0) {
			t.Fatal("a model without items was accepted")
		}
	})
}

// An ALS model read back scores, explains and finds neighbours exactly as the one written;
// a truncated file, a matrix of the wrong shape or bad hyperparameters are refused.
func TestALSModelFile(t *testing.T) {
	x := Planted(100, 40, 4, 10, 0.8, 9)
	m, err := TrainALS(x, ALSConfig{Factors: 8, Lambda: 2, Alpha: 7, Iterations: 4})
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, x.Items)
	for i := range ids {
		ids[i] = fmt.Sprint("item:", i)
	}
	meta := Meta{Version: "recs-v4", ItemIDs: ids, Consumers: 100, Popular: make([]float64, x.Items)}
	write := func(meta Meta, s Scorer) []byte {
		var buf bytes.Buffer
		if err := WriteModel(&buf, meta, s); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	file := write(meta, m)
	got, back, err := ReadModel(bytes.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	if got.Kind != "als" || got.Factors != 8 || got.Lambda != 2 || got.Alpha != 7 || got.Iterations != 4 || !slices.Equal(got.ItemIDs, ids) {
		t.Errorf("meta read back: %+v", got)
	}
	a, b := make([]float64, x.Items), make([]float64, x.Items)
	ea, eb := make([]float64, 10), make([]float64, 10)
	for u := range 10 {
		m.Score(x.Users[u], a)
		back.Score(x.Users[u], b)
		m.Explain(x.Users[u], u, ea[:len(x.Users[u])])
		back.Explain(x.Users[u], u, eb[:len(x.Users[u])])
		if !slices.Equal(a, b) || !slices.Equal(ea, eb) || !slices.Equal(m.Similar(u, 5), back.Similar(u, 5)) {
			t.Fatalf("user %d: scores, explanations or neighbours differ after the round trip", u)
		}
	}
	// Files made wrong: the matrix of an 8-factor model announced as 6 or 9 factors (the
	// bytes then do not match the shape), as fewer items, or with hyperparameters no training
	// would give.
	other := func(f func(*Meta)) []byte {
		mm := meta
		mm.ItemIDs = slices.Clone(ids)
		f(&mm)
		js, _ := json.Marshal(mm)
		var buf bytes.Buffer
		buf.WriteString(fileMagic)
		binary.Write(&buf, binary.BigEndian, uint32(len(js)))
		buf.Write(js)
		y, _ := m.y.MarshalBinary()
		buf.Write(y)
		return buf.Bytes()
	}
	for _, c := range []struct {
		name string
		file []byte
	}{
		{"half", file[:len(file)/2]},
		{"without its last byte", file[:len(file)-1]},
		{"header only", file[:20]},
		{"one byte more", append(slices.Clone(file), 0)},
		{"fewer factors", other(func(m *Meta) { m.Kind, m.Factors = "als", 6 })},
		{"more factors", other(func(m *Meta) { m.Kind, m.Factors = "als", 9 })},
		{"fewer items", other(func(m *Meta) { m.Kind, m.Factors, m.ItemIDs, m.Popular = "als", 8, m.ItemIDs[:39], nil })},
		{"no factors", other(func(m *Meta) { m.Kind, m.Factors = "als", 0 })},
		{"factors beyond the bound", other(func(m *Meta) { m.Kind, m.Factors = "als", MaxALSFactors+1 })},
		{"negative lambda", other(func(m *Meta) { m.Kind, m.Factors, m.Lambda = "als", 8, -1 })},
		{"negative alpha", other(func(m *Meta) { m.Kind, m.Factors, m.Lambda, m.Alpha = "als", 8, 2, -1 })},
		{"the factors read as EASE", other(func(m *Meta) { m.Kind = "ease" })},
	} {
		if _, _, err := ReadModel(bytes.NewReader(c.file)); err == nil {
			t.Errorf("%s: read as a model", c.name)
		} else {
			t.Logf("%s: %v", c.name, err)
		}
	}
	if _, _, err := ReadModel(bytes.NewReader(other(func(m *Meta) { m.Kind, m.Factors, m.Lambda, m.Alpha = "als", 8, 2, 7 }))); err != nil {
		t.Errorf("the file made by hand as written: %v", err)
	}
	var buf bytes.Buffer
	if err := WriteModel(&buf, Meta{ItemIDs: ids[:3]}, m); err == nil {
		t.Error("a model written with the wrong number of item ids")
	}
}
