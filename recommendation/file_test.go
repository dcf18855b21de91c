package recommendation

import (
	"bytes"
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
	f.Fuzz(func(t *testing.T, b []byte) {
		meta, model, err := ReadModel(bytes.NewReader(b))
		if err == nil && (model == nil || len(meta.ItemIDs) == 0) {
			t.Fatal("a model without items was accepted")
		}
	})
}
