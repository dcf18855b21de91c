package api_test

import (
	"fmt"
	"strings"
	"testing"
)

// The catalogue over HTTP: put one item and a batch, read, page, delete and restore; bad items
// are refused with the field named and change nothing; a key without the catalog scope, a
// write key and another brand see nothing; a wallet reads the live catalogue.
func TestCatalogAPI(t *testing.T) {
	eachStore(t, func(t *testing.T, newEnv func(*testing.T) *env) {
		e := newEnv(t)
		b, other := e.setup("Aurora"), e.setup("Other")
		suite := map[string]any{"title": "Lake View Suite", "category": "rooms", "tags": []string{"lake", "suite"},
			"price": map[string]any{"amount": 42000, "currency": "EUR"}, "locale": "en",
			"cost_breakdown": []map[string]any{{"label": "Room", "amount": 36000}, {"label": "City tax", "amount": 6000}}}
		got := e.must(200, "PUT", "/v1/items/room:lake-suite", b.SK, suite)
		if got["id"] != "room:lake-suite" || got["version"] != float64(1) || got["available"] != true {
			t.Fatalf("PUT item: %v", got)
		}
		var batch []map[string]any
		for i := range 5 {
			batch = append(batch, map[string]any{"id": fmt.Sprintf("spa:%d", i), "title": fmt.Sprintf("Treatment %d", i), "category": "spa"})
		}
		if got := e.must(200, "POST", "/v1/items/batch", b.SK, map[string]any{"items": batch}); len(got["items"].([]any)) != 5 {
			t.Fatalf("batch: %v", got)
		}

		// Refusals name the field (and the index in a batch) and store nothing.
		for _, tt := range []struct {
			method, path string
			body         any
			status       int
			field        string
		}{
			{"PUT", "/v1/items/room:x", map[string]any{"title": "X", "category": "Rooms"}, 400, "category"},
			{"PUT", "/v1/items/room:x", map[string]any{"id": "room:y", "title": "X", "category": "rooms"}, 400, "id"},
			{"PUT", "/v1/items/room:x", map[string]any{"title": "X", "category": "rooms", "price": map[string]any{"amount": 10, "currency": "EUR"},
				"cost_breakdown": []map[string]any{{"label": "a", "amount": 9}}}, 400, "cost_breakdown"},
			{"POST", "/v1/items/batch", map[string]any{"items": []map[string]any{{"id": "ok", "title": "A", "category": "spa"}, {"id": "bad id", "title": "B", "category": "spa"}}}, 400, "id"},
			{"POST", "/v1/items/batch", map[string]any{"items": []map[string]any{}}, 400, "items"},
		} {
			r := e.do(tt.method, tt.path, b.SK, tt.body)
			if r.Status != tt.status || r.errCode(t) != "invalid" || !strings.Contains(string(r.Body), `"field":"`+tt.field+`"`) {
				t.Errorf("%s %s %v: %d %s, want %d naming %s", tt.method, tt.path, tt.body, r.Status, r.Body, tt.status, tt.field)
			}
		}
		if r := e.do("GET", "/v1/items/ok", b.SK, nil); r.Status != 404 {
			t.Errorf("the valid item of a refused batch was stored: %d %s", r.Status, r.Body)
		}

		// Pages by id.
		page := e.must(200, "GET", "/v1/items?limit=4", b.SK, nil)
		if items := page["items"].([]any); len(items) != 4 || page["next"] != "spa:2" {
			t.Fatalf("first page: %v", page)
		}
		page = e.must(200, "GET", "/v1/items?limit=4&after=spa:2", b.SK, nil)
		if items := page["items"].([]any); len(items) != 2 || page["next"] != nil {
			t.Fatalf("second page: %v", page)
		}
		if r := e.do("GET", "/v1/items?limit=0", b.SK, nil); r.Status != 400 {
			t.Errorf("limit=0: %d", r.Status)
		}

		// Isolation and scopes.
		if r := e.do("GET", "/v1/items/room:lake-suite", other.SK, nil); r.Status != 404 {
			t.Errorf("another brand reads the item: %d %s", r.Status, r.Body)
		}
		if got := e.must(200, "GET", "/v1/items", other.SK, nil); len(got["items"].([]any)) != 0 {
			t.Errorf("another brand lists items: %v", got)
		}
		key := e.must(201, "POST", "/v1/keys", b.SK, map[string]any{"kind": "secret", "name": "consents only", "scopes": []string{"consents"}})
		if r := e.do("PUT", "/v1/items/room:x", key["secret"].(string), map[string]any{"title": "X", "category": "rooms"}); r.Status != 403 {
			t.Errorf("a key without the catalog scope puts an item: %d %s", r.Status, r.Body)
		}
		if r := e.do("GET", "/v1/items", b.PK, nil); r.Status != 401 && r.Status != 403 {
			t.Errorf("a write key lists items: %d %s", r.Status, r.Body)
		}
		wt := e.wallet(b, "guest-1")
		if got := e.must(200, "GET", "/v1/items/room:lake-suite", wt, nil); got["title"] != "Lake View Suite" {
			t.Errorf("wallet reads item: %v", got)
		}
		if r := e.do("PUT", "/v1/items/room:x", wt, map[string]any{"title": "X", "category": "rooms"}); r.Status != 401 && r.Status != 403 {
			t.Errorf("a wallet puts an item: %d %s", r.Status, r.Body)
		}

		// Soft delete, then restore by a put.
		e.must(200, "DELETE", "/v1/items/room:lake-suite", b.SK, nil)
		if r := e.do("DELETE", "/v1/items/room:lake-suite", b.SK, nil); r.Status != 404 {
			t.Errorf("second delete: %d", r.Status)
		}
		if r := e.do("GET", "/v1/items/room:lake-suite", b.SK, nil); r.Status != 404 {
			t.Errorf("deleted item read: %d %s", r.Status, r.Body)
		}
		if got := e.must(200, "PUT", "/v1/items/room:lake-suite", b.SK, suite); got["version"] != float64(3) {
			t.Errorf("restored item: %v", got)
		}
	})
}
