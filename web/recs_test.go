package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/symbiont/symbiont/catalog"
	"github.com/symbiont/symbiont/identity"
	"github.com/symbiont/symbiont/recommender"
)

// TestConsoleCatalog adds, updates, lists and deletes an item through the console's forms;
// an invalid price is shown in the form and stores nothing; a form without its token or from
// another brand's session changes nothing.
func TestConsoleCatalog(t *testing.T) {
	e := newConEnv(t)
	ctx := context.Background()
	c := e.client
	if r := e.login(c, e.a.SecretKey); r.status != http.StatusSeeOther {
		t.Fatalf("login: %d", r.status)
	}
	if r := e.get(c, "/console/catalog"); r.status != 200 || !strings.Contains(r.body, "The catalogue is empty.") || !strings.Contains(r.body, `href="/console/catalog" aria-current="page"`) {
		t.Fatalf("empty catalogue: %d %.500s", r.status, r.body)
	}
	item := url.Values{"id": {"room:lake"}, "title": {"Lake Suite"}, "category": {"rooms"}, "amount": {"120.50"}, "currency": {"eur"}, "available": {"yes"}}
	r := e.post(c, "/console/catalog", "/console/catalog", item)
	if r.status != http.StatusSeeOther || r.location != "/console/catalog?done=item_saved" {
		t.Fatalf("add: %d %s %.300s", r.status, r.location, r.body)
	}
	it, err := e.p.Catalog.Get(ctx, e.a.Brand.ID, "room:lake")
	if err != nil || it.Title != "Lake Suite" || it.Price == nil || it.Price.Amount != 12050 || it.Price.Currency != "EUR" || !it.IsAvailable() {
		t.Fatalf("stored item: %+v %v", it, err)
	}
	page := e.get(c, "/console/catalog?done=item_saved")
	for _, want := range []string{"Item saved.", "Lake Suite", "room:lake", "120.50 EUR", "Delete Lake Suite"} {
		if !strings.Contains(page.body, want) {
			t.Errorf("the list does not show %q", want)
		}
	}
	// An update keeps what the form does not show.
	it.Tags = []string{"lake"}
	if _, err := e.p.Catalog.Put(ctx, e.a.Brand.ID, it); err != nil {
		t.Fatal(err)
	}
	if ed := e.get(c, "/console/catalog?edit=room:lake"); !strings.Contains(ed.body, `value="Lake Suite"`) || !strings.Contains(ed.body, `value="120.50"`) {
		t.Errorf("the edit form is not filled in: %.800s", ed.body)
	}
	upd := url.Values{"id": {"room:lake"}, "title": {"Lake Suite, renovated"}, "category": {"rooms"}, "amount": {"130"}, "currency": {"EUR"}, "editing": {"yes"}}
	if r := e.post(c, "/console/catalog", "/console/catalog", upd); r.status != http.StatusSeeOther {
		t.Fatalf("update: %d %.300s", r.status, r.body)
	}
	it, _ = e.p.Catalog.Get(ctx, e.a.Brand.ID, "room:lake")
	if it.Title != "Lake Suite, renovated" || it.Price.Amount != 13000 || it.IsAvailable() || len(it.Tags) != 1 {
		t.Errorf("updated item: %+v", it)
	}
	// Invalid: an error in the form, what was typed kept, nothing stored.
	bad := url.Values{"id": {"room:bad"}, "title": {"Bad"}, "category": {"rooms"}, "amount": {"12.345"}, "currency": {"EUR"}}
	if r := e.post(c, "/console/catalog", "/console/catalog", bad); r.status != http.StatusBadRequest || !strings.Contains(r.body, "The price must be a number") || !strings.Contains(r.body, `value="12.345"`) {
		t.Errorf("invalid price: %d %.500s", r.status, r.body)
	}
	bad.Set("amount", "1")
	bad.Set("category", "Rooms!")
	if r := e.post(c, "/console/catalog", "/console/catalog", bad); r.status != http.StatusBadRequest || !strings.Contains(r.body, "The category must be") {
		t.Errorf("invalid category: %d %.500s", r.status, r.body)
	}
	if _, err := e.p.Catalog.Get(ctx, e.a.Brand.ID, "room:bad"); err == nil {
		t.Error("an invalid item was stored")
	}
	// Brand B does not see it, and cannot delete it.
	other := e.newClient()
	e.login(other, e.b.SecretKey)
	if r := e.get(other, "/console/catalog"); strings.Contains(r.body, "Lake Suite") {
		t.Error("brand B sees brand A's item")
	}
	if r := e.post(other, "/console/catalog", "/console/catalog/delete", url.Values{"id": {"room:lake"}}); r.status != http.StatusNotFound {
		t.Errorf("brand B deleting A's item: %d", r.status)
	}
	if r := e.do(c, "POST", "/console/catalog/delete", url.Values{"id": {"room:lake"}}); r.status != http.StatusForbidden {
		t.Errorf("delete without a token: %d", r.status)
	}
	if r := e.post(c, "/console/catalog", "/console/catalog/delete", url.Values{"id": {"room:lake"}}); r.status != http.StatusSeeOther || r.location != "/console/catalog?done=item_deleted" {
		t.Fatalf("delete: %d %s", r.status, r.location)
	}
	if _, err := e.p.Catalog.Get(ctx, e.a.Brand.ID, "room:lake"); err == nil {
		t.Error("the item is still live after deleting")
	}
	if r := e.get(c, "/console/catalog"); strings.Contains(r.body, "Lake Suite") {
		t.Error("the deleted item is still listed")
	}
}

// TestConsoleCatalogPages pages through a catalogue larger than a page with the cursor.
func TestConsoleCatalogPages(t *testing.T) {
	e := newConEnv(t)
	var items []*catalog.Item
	for i := range 60 {
		items = append(items, &catalog.Item{ID: "item-" + string(rune('a'+i/26)) + string(rune('a'+i%26)), Title: "Item", Category: "rooms"})
	}
	if _, err := e.p.Catalog.PutBatch(context.Background(), e.a.Brand.ID, items); err != nil {
		t.Fatal(err)
	}
	c := e.client
	e.login(c, e.a.SecretKey)
	first := e.get(c, "/console/catalog")
	if strings.Count(first.body, `aria-label="Delete Item"`) != 50 || !strings.Contains(first.body, `href="/console/catalog?after=item-bx"`) {
		t.Fatalf("first page: %d items, next link: %v", strings.Count(first.body, `aria-label="Delete Item"`), strings.Contains(first.body, "Next page"))
	}
	second := e.get(c, "/console/catalog?after=item-bx")
	if n := strings.Count(second.body, `aria-label="Delete Item"`); n != 10 || strings.Contains(second.body, "Next page") || !strings.Contains(second.body, "First page") {
		t.Errorf("second page: %d items", n)
	}
}

// TestConsoleRecommendationSettings saves the diversity weight and the schedule; values out
// of range are shown with their error and change nothing; "Train now" starts a training.
func TestConsoleRecommendationSettings(t *testing.T) {
	e := newConEnv(t)
	c := e.client
	e.login(c, e.a.SecretKey)
	page := e.get(c, "/console/recommendations")
	if page.status != 200 || !strings.Contains(page.body, "No model is trained yet") || !strings.Contains(page.body, `value="0.7"`) || !strings.Contains(page.body, `value="1d"`) {
		t.Fatalf("recommendations page: %d %.800s", page.status, page.body)
	}
	r := e.post(c, "/console/recommendations", "/console/recommendations/settings", url.Values{"diversity": {"0.85"}, "train_every": {"6h"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("save: %d %.500s", r.status, r.body)
	}
	want := recommender.Settings{Diversity: 0.85, TrainEvery: recommender.Duration(6 * time.Hour)}
	if got, _ := e.p.Recommender.Settings(e.a.Brand.ID); got != want {
		t.Errorf("settings %+v, want %+v", got, want)
	}
	if p := e.get(c, "/console/recommendations"); !strings.Contains(p.body, `value="0.85"`) || !strings.Contains(p.body, `value="6h"`) {
		t.Error("the page does not show the saved settings")
	}
	for _, tt := range []struct{ div, every, msg string }{
		{"0.3", "6h", "The diversity weight must be"},
		{"much", "6h", "The diversity weight must be"},
		{"0.8", "5m", "Train every must be"},
		{"0.8", "often", "Train every must be"},
	} {
		r := e.post(c, "/console/recommendations", "/console/recommendations/settings", url.Values{"diversity": {tt.div}, "train_every": {tt.every}})
		if r.status != http.StatusBadRequest || !strings.Contains(r.body, tt.msg) || !strings.Contains(r.body, `aria-invalid="true"`) || !strings.Contains(r.body, `value="`+tt.div+`"`) {
			t.Errorf("%s/%s: %d %.300s", tt.div, tt.every, r.status, r.body)
		}
	}
	if got, _ := e.p.Recommender.Settings(e.a.Brand.ID); got != want {
		t.Errorf("invalid values changed the settings: %+v", got)
	}
	if _, err := e.p.Catalog.Put(context.Background(), e.a.Brand.ID, &catalog.Item{ID: "x", Title: "X", Category: "rooms"}); err != nil {
		t.Fatal(err)
	}
	r = e.post(c, "/console/recommendations", "/console/recommendations/train", url.Values{})
	if r.status != http.StatusSeeOther || !strings.HasPrefix(r.location, "/console/recommendations?done=train_") {
		t.Fatalf("train: %d %s", r.status, r.location)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		st, _ := e.p.Recommender.Status(e.a.Brand.ID)
		if st.State == "idle" && (st.Last != nil || st.LastError != "") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("training did not finish: %+v", st)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if p := e.get(c, "/console/recommendations"); !strings.Contains(p.body, "recs-v1") {
		t.Errorf("after training the page does not show recs-v1: %.1500s", p.body)
	}
}

// TestWalletForYouNoModel: before any training the wallet's "For you" says so and lists
// what is new.
func TestWalletForYouNoModel(t *testing.T) {
	e := newConEnv(t)
	ctx := context.Background()
	if _, err := e.p.Catalog.Put(ctx, e.a.Brand.ID, &catalog.Item{ID: "x", Title: "Lake Suite", Category: "rooms"}); err != nil {
		t.Fatal(err)
	}
	cid, err := e.p.Directory.Consumer(ctx, e.a.Brand.ID, identity.KindUserID, "a-user")
	if err != nil || cid == 0 {
		t.Fatalf("consumer: %d %v", cid, err)
	}
	sess, err := e.p.Tenants.OpenSession(ctx, e.a.Brand.ID, cid, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	c := e.newClient()
	if r := e.get(c, "/wallet/for-you?token="+sess.Token); r.status != http.StatusSeeOther || r.location != "/wallet/for-you" {
		t.Fatalf("wallet link: %d %s", r.status, r.location)
	}
	r := e.get(c, "/wallet/for-you")
	if r.status != 200 || !strings.Contains(r.body, "Recommendations have not been trained yet.") || !strings.Contains(r.body, "Lake Suite") ||
		!strings.Contains(r.body, `href="/wallet/for-you" aria-current="page"`) {
		t.Errorf("for you: %d %.1000s", r.status, r.body)
	}
}
