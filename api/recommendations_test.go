package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/symbiont/symbiont/api/ledgerclient"
	"github.com/symbiont/symbiont/ledger"
)

// Training over HTTP: 404 before any model; a training reads the consumers who granted
// model_training and serves recs-v1, then recs-v2; a key without the data scope may not train.
func TestRecommendationTraining(t *testing.T) {
	e := newEnv(t)
	b := e.roomsBrand()
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
	// Each training is in the consumer's export, and its ledger records verify (the code
	// `symbiont verify` runs, against the served log); guest-5 never granted model_training.
	for user, want := range map[string]int{"guest-0": 2, "guest-5": 0} {
		tok := e.wallet(b, user)
		ex := e.do("GET", "/v1/me/export", tok, nil)
		if _, err := e.p.Ledger.Integrate(context.Background()); err != nil { // the export's own record too
			t.Fatal(err)
		}
		if n := strings.Count(string(ex.Body), `"action":"train"`); ex.Status != 200 || n != want {
			t.Errorf("%s's export: %d trainings in its access log, want %d (status %d)", user, n, want, ex.Status)
		}
		proofs := e.do("GET", "/v1/me/access-log", tok, nil).Body
		var doc ledger.Export
		if err := json.Unmarshal(proofs, &doc); err != nil {
			t.Fatal(err)
		}
		trained := 0
		for _, r := range doc.Records {
			if strings.Contains(r.Record, `"kind":"access.train"`) {
				trained++
				if !strings.Contains(r.Record, `"model":"recs-v`) {
					t.Errorf("%s's training record names no model: %s", user, r.Record)
				}
			}
		}
		if trained != want {
			t.Errorf("%s's ledger records: %d trainings, want %d", user, trained, want)
		}
		if rep, _, err := ledger.VerifyExport(&doc, ledgerclient.ForServer(e.srv.URL, nil), e.p.Ledger.VerifierKey(), nil); err != nil || rep.Pending != 0 {
			t.Errorf("%s's proof document: %+v, %v", user, rep, err)
		}
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

// A consumer's list over HTTP, for the brand and in the wallet: personalised while granted,
// each call recorded; a withdrawal in the wallet makes the very next call non-personalised;
// an unknown consumer gets the non-personalised list; settings are validated.
func TestRecommendationsAPI(t *testing.T) {
	e := newEnv(t)
	b := e.roomsBrand()
	var msgs []map[string]any
	for u := range 8 {
		user := fmt.Sprint("guest-", u)
		e.grant(b, user, "purchases", "personalization")
		e.grant(b, user, "purchases", "model_training")
		for j := range 2 { // pairs: rooms 2k and 2k+1
			msgs = append(msgs, track(user, "Order Completed", map[string]any{"product_id": fmt.Sprint("room:", (u%3)*2+j)}))
		}
	}
	e.grant(b, "solo", "purchases", "personalization")
	msgs = append(msgs, track("solo", "Order Completed", map[string]any{"product_id": "room:2"}))
	e.batch(b, msgs...)
	// Before any model: the catalogue, as new.
	l := e.must(200, "GET", "/v1/consumers/solo/recommendations?n=3", b.SK, nil)
	if l["personalized"] != false || l["reason"] != "no_model" || len(l["items"].([]any)) != 3 {
		t.Fatalf("before training: %v", l)
	}
	e.must(200, "POST", "/v1/recommendations/train", b.SK, nil)

	l = e.must(200, "GET", "/v1/consumers/solo/recommendations?n=3&surface=home", b.SK, nil)
	first := l["items"].([]any)[0].(map[string]any)
	why := first["why"].([]any)[0].(map[string]any)
	if l["personalized"] != true || first["id"] != "room:3" || why["kind"] != "history" || why["text"] != "Because you bought Room 2" ||
		l["model"].(map[string]any)["version"] != "recs-v1" || l["surface"] != "home" {
		t.Fatalf("solo's list: %v", l)
	}
	tok := e.wallet(b, "solo")
	zh := e.must(200, "GET", "/v1/me/recommendations?n=3&locale=zh-CN", tok, nil)
	if w := zh["items"].([]any)[0].(map[string]any)["why"].([]any)[0].(map[string]any); w["text"] != "因为您购买了Room 2" {
		t.Errorf("the wallet's list in Chinese: %v", zh)
	}
	e.must(200, "DELETE", "/v1/me/consents/purchases/personalization", tok, nil)
	l = e.must(200, "GET", "/v1/me/recommendations?n=3", tok, nil)
	if l["personalized"] != false || l["reason"] != "withdrawn" {
		t.Errorf("the next call after a withdrawal: %v", l)
	}
	logs := e.must(200, "GET", "/v1/consumers/solo/access-log", b.SK, nil)["records"].([]any)
	reads := 0
	for _, r := range logs {
		if r := r.(map[string]any); r["purpose"] == "personalization" {
			reads++
		}
	}
	if reads != 3 {
		t.Errorf("%d personalization reads in solo's access log, want 3 (brand, wallet, after withdrawal): %v", reads, logs)
	}
	if l := e.must(200, "GET", "/v1/consumers/nobody/recommendations?n=2", b.SK, nil); l["personalized"] != false || l["reason"] != "no_consent" || len(l["items"].([]any)) != 2 {
		t.Errorf("an unknown consumer: %v", l)
	}
	for _, q := range []string{"n=0", "n=101", "surface=Home%20Page", "id_type=email"} {
		if r := e.do("GET", "/v1/consumers/solo/recommendations?"+q, b.SK, nil); r.Status != 400 {
			t.Errorf("?%s: %d %s", q, r.Status, r.Body)
		}
	}
	if st := e.must(200, "GET", "/v1/recommendations/settings", b.SK, nil); st["diversity"] != 0.7 || st["train_every"] != "24h0m0s" {
		t.Errorf("default settings: %v", st)
	}
	for _, bad := range []map[string]any{{"diversity": 0.2}, {"diversity": 2}, {"train_every": "1m"}, {"train_every": "soon"}, {"colour": "red"}} {
		if r := e.do("PUT", "/v1/recommendations/settings", b.SK, bad); r.Status != 400 {
			t.Errorf("settings %v: %d %s", bad, r.Status, r.Body)
		}
	}
	if st := e.must(200, "PUT", "/v1/recommendations/settings", b.SK, map[string]any{"diversity": 0.9}); st["diversity"] != 0.9 || st["train_every"] != "24h0m0s" {
		t.Errorf("settings after a change of diversity: %v", st)
	}
	if l := e.must(200, "GET", "/v1/consumers/guest-0/recommendations", b.SK, nil); l["diversity"] != 0.9 {
		t.Errorf("a list after the change: diversity %v", l["diversity"])
	}
	// A training in the background, followed in the status; the served lists' exposure.
	if st := e.must(202, "POST", "/v1/recommendations/train?async=true", b.SK, nil); st["state"] == "idle" {
		t.Errorf("an async training's status: %v", st)
	}
	var st map[string]any
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if st = e.must(200, "GET", "/v1/recommendations/status", b.SK, nil); st["training"].(map[string]any)["state"] == "idle" {
			break
		}
	}
	tr, model := st["training"].(map[string]any), st["model"].(map[string]any)
	if tr["last"].(map[string]any)["version"] != "recs-v2" || model["version"] != "recs-v2" || tr["next_at"] == nil {
		t.Errorf("status after the async training: %v", st)
	}
	if r := e.do("POST", "/v1/recommendations/train?async=maybe", b.SK, nil); r.Status != 400 {
		t.Errorf("async=maybe: %d", r.Status)
	}
	key := e.must(201, "POST", "/v1/keys", b.SK, map[string]any{"kind": "secret", "name": "catalogue only", "scopes": []string{"catalog"}})
	if r := e.do("GET", "/v1/consumers/solo/recommendations", key["secret"].(string), nil); r.Status != 403 {
		t.Errorf("a key without the data scope reads recommendations: %d", r.Status)
	}
}

// roomsBrand is a brand whose purchases are Order Completed, with six rooms.
func (e *env) roomsBrand() brand {
	b := e.newBrand("Aurora")
	e.must(200, "PUT", "/v1/tracking-plan", b.SK, map[string]any{"events": map[string]string{"Order Completed": "purchases"}})
	var items []map[string]any
	for i := range 6 {
		items = append(items, map[string]any{"id": fmt.Sprint("room:", i), "title": fmt.Sprint("Room ", i), "category": "rooms"})
	}
	e.must(200, "POST", "/v1/items/batch", b.SK, map[string]any{"items": items})
	return b
}
