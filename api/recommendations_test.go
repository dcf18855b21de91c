package api_test

import (
	"fmt"
	"testing"
)

// Training over HTTP: 404 before any model; a training reads the consumers who granted
// model_training and serves recs-v1, then recs-v2; a key without the data scope may not train.
func TestRecommendationTraining(t *testing.T) {
	e := newEnv(t)
	b := e.newBrand("Aurora")
	e.must(200, "PUT", "/v1/tracking-plan", b.SK, map[string]any{"events": map[string]string{"Order Completed": "purchases"}})
	var items []map[string]any
	for i := range 6 {
		items = append(items, map[string]any{"id": fmt.Sprint("room:", i), "title": fmt.Sprint("Room ", i), "category": "rooms"})
	}
	e.must(200, "POST", "/v1/items/batch", b.SK, map[string]any{"items": items})
	if r := e.do("GET", "/v1/recommendations/model", b.SK, nil); r.Status != 404 {
		t.Fatalf("model before training: %d %s", r.Status, r.Body)
	}
	var msgs []map[string]any
	for u := range 6 {
		user := fmt.Sprint("guest-", u)
		e.grant(b, user, "purchases", "personalization")
		if u < 4 {
			e.grant(b, user, "purchases", "model_training")
		}
		for j := range 2 {
			msgs = append(msgs, track(user, "Order Completed", map[string]any{"product_id": fmt.Sprint("room:", (u+j)%6)}))
		}
	}
	e.batch(b, msgs...)
	got := e.must(200, "POST", "/v1/recommendations/train", b.SK, nil)
	if got["version"] != "recs-v1" || got["consumers"] != float64(4) || got["items"] != float64(6) {
		t.Fatalf("train: %v", got)
	}
	if got := e.must(200, "POST", "/v1/recommendations/train", b.SK, nil); got["version"] != "recs-v2" {
		t.Fatalf("second train: %v", got)
	}
	if m := e.must(200, "GET", "/v1/recommendations/model", b.SK, nil); m["version"] != "recs-v2" || m["consumers"] != float64(4) {
		t.Errorf("model: %v", m)
	}
	// Similar items, from the serving model; a deleted item is not offered; bad n refused.
	sim := e.must(200, "GET", "/v1/items/room:0/similar?n=2", b.SK, nil)
	list := sim["items"].([]any)
	if len(list) != 2 || sim["model"].(map[string]any)["version"] != "recs-v2" {
		t.Fatalf("similar: %v", sim)
	}
	first := list[0].(map[string]any)["id"]
	if first != "room:1" && first != "room:5" {
		t.Errorf("most like room:0: %v, want room:1 or room:5 (bought with it)", first)
	}
	e.must(200, "DELETE", "/v1/items/"+first.(string), b.SK, nil)
	for _, it := range e.must(200, "GET", "/v1/items/room:0/similar?n=5", b.SK, nil)["items"].([]any) {
		if it.(map[string]any)["id"] == first {
			t.Errorf("the deleted item %v is offered as similar", first)
		}
	}
	if r := e.do("GET", "/v1/items/room:0/similar?n=0", b.SK, nil); r.Status != 400 {
		t.Errorf("n=0: %d", r.Status)
	}
	if r := e.do("GET", "/v1/items/room:none/similar", b.SK, nil); r.Status != 404 {
		t.Errorf("unknown item: %d", r.Status)
	}
	key := e.must(201, "POST", "/v1/keys", b.SK, map[string]any{"kind": "secret", "name": "catalogue only", "scopes": []string{"catalog"}})
	if r := e.do("POST", "/v1/recommendations/train", key["secret"].(string), nil); r.Status != 403 {
		t.Errorf("a key without the data scope trains: %d %s", r.Status, r.Body)
	}
}
