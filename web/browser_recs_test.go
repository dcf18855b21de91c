package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/symbiont/symbiont"
	"github.com/symbiont/symbiont/consent"
	"github.com/symbiont/symbiont/demo"
	"github.com/symbiont/symbiont/identity"
	"github.com/symbiont/symbiont/recommender"
	"github.com/symbiont/symbiont/segment"
)

// TestBrowserWalletForYou: "For you" lists the demo member's recommendations, each with its
// reasons in the brand's wording ("Because you booked …"), in English and Chinese; after the
// member stops sharing their purchases for personalisation, the page says it is not
// personalised and why, with a link to "What I share".
func TestBrowserWalletForYou(t *testing.T) {
	_, tb := openWallet(t)
	nav := tb.in("navigation", "Symbiont")
	nav.click("link", "For you")
	if p := tb.path(); p != "/wallet/for-you" {
		t.Fatalf("the For you link led to %s", p)
	}
	tb.mustFind("heading", "For you")
	recs := tb.in("list", "For you").names("listitem")
	if len(recs) == 0 {
		t.Fatalf("no recommendations: %.500s", tb.text())
	}
	tb.expectText("Picked for you from what you let us use for Personalisation.")
	booked := 0
	for _, r := range recs {
		if strings.Contains(r, "Because you booked ") {
			booked++
		}
	}
	if booked == 0 {
		t.Errorf("no recommendation says why from the member's bookings: %q", recs)
	}
	if tb.has("region", "Not personalised") {
		t.Errorf("a personalised list says it is not: %.300s", tb.text())
	}
	tb.click("link", "Language: 中文")
	tb.mustFind("heading", "为您推荐")
	tb.in("list", "为您推荐").expectText("因为您预订了")
	tb.click("link", "语言: English")

	// Stop sharing purchases for personalisation: the next list reads nothing and says why.
	nav.click("link", "What I share")
	tb.withdraw("Purchases · Personalisation")
	nav.click("link", "For you")
	why := tb.in("region", "Not personalised")
	why.expectText("You stopped letting us use your data to personalise, so none of it was read. Recommendations below are what is popular.")
	tb.expectNoText("Because you booked", "Picked for you")
	if len(tb.in("list", "For you").names("listitem")) == 0 {
		t.Errorf("no popular items after withdrawing: %.300s", tb.text())
	}
	tb.click("link", "Language: 中文")
	tb.in("region", "未个性化").expectText("您已停止允许我们使用您的数据进行个性化")
	tb.click("link", "语言: English")
	tb.in("region", "Not personalised").click("link", "What I share")
	if p := tb.path(); p != "/wallet" {
		t.Errorf("the explanation's link led to %s", p)
	}
}

// TestBrowserWalletActivityModels: "Who used my data" says which model version each training
// made from which categories, and which model a personalisation read served (opening "For
// you" is such a read), each verified.
func TestBrowserWalletActivityModels(t *testing.T) {
	s, tb := openWallet(t)
	ver := s.P.Recommender.Current(brandID(t, s)).Meta.Version
	tb.in("navigation", "Symbiont").click("link", "For you")
	tb.in("navigation", "Symbiont").click("link", "Who used my data")
	uses := tb.in("list", "Who used my data").names("listitem")
	train := "Your Purchases trained the recommendations model " + ver + " (AI model training)"
	read := "Recommendations (model " + ver + ") used your Purchases for Personalisation"
	var sawTrain, sawRead bool
	for _, u := range uses {
		if strings.Contains(u, train) {
			sawTrain = true
			if !strings.Contains(u, "✓ Verified") && !strings.Contains(u, "Being added") {
				t.Errorf("the training line is neither verified nor pending: %q", u)
			}
		}
		sawRead = sawRead || strings.Contains(u, read)
	}
	if !sawTrain || !sawRead {
		t.Errorf("activity: training %q shown %v, read %q shown %v; lines: %q", train, sawTrain, read, sawRead, uses[:min(len(uses), 12)])
	}
	tb.click("link", "Language: 中文")
	tb.in("list", "谁使用了我的数据").expectText("您的购买记录训练了推荐模型 "+ver+"（模型训练）", "推荐功能（模型 "+ver+"）")
}

// addTrainers gives the demo brand n more members, each with a few bookings from one of four
// tastes and a grant of purchases for model training: enough for a validation split, so
// training measures offline metrics.
func addTrainers(t *testing.T, s *site, n int) {
	t.Helper()
	ctx := context.Background()
	bid := brandID(t, s)
	actor := symbiont.Actor{Kind: symbiont.ActorBrand, BrandID: bid, KeyID: "browser-test"}
	var msgs []map[string]any
	for i := range n {
		id := fmt.Sprintf("trainer-%03d", i)
		if _, err := s.P.Consent.Apply(ctx, []*consent.Change{{BrandID: bid, Consumer: consent.ConsumerRef{Kind: identity.KindUserID, Value: id},
			Category: "purchases", Purpose: "model_training", State: consent.StateGiven, DurationDays: 365, Method: consent.MethodBrand,
			Notice: consent.Notice{ID: "browser-test", Version: "1"}, Actor: actor}}, ""); err != nil {
			t.Fatal(err)
		}
		for k := range 4 {
			it := demo.Items[(i%4)*5+(i+k)%5]
			msgs = append(msgs, map[string]any{"type": "track", "userId": id, "messageId": fmt.Sprintf("%s-%d", id, k), "event": "Room Booked",
				"timestamp": time.Now().Add(-time.Duration(k+1) * time.Hour).UTC().Format(time.RFC3339), "properties": map[string]any{"product_id": it.ID}})
		}
	}
	body, _ := json.Marshal(map[string]any{"batch": msgs})
	batch, err := segment.ParseBatch(body)
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.P.Ingest.Ingest(ctx, bid, batch, false, actor)
	if err != nil || res.Accepted != len(msgs) {
		t.Fatalf("ingest the trainers' bookings: %+v %v", res, err)
	}
}

// TestBrowserConsoleRecommendations: the console's recommendations page shows the serving
// model; "Train now" trains the next version in the background (the page follows it) and the
// offline metrics of the model and of popularity appear; the diversity weight is saved, and an
// invalid schedule is shown with its error and changes nothing. In English and Chinese.
func TestBrowserConsoleRecommendations(t *testing.T) {
	s, tb := openConsole(t)
	bid := brandID(t, s)
	addTrainers(t, s, 60)
	before := s.P.Recommender.Current(bid).Meta.Version
	if st := tb.signIn(s.Demo.SecretKey); st != http.StatusOK {
		t.Fatalf("sign in: status %d", st)
	}
	tb.in("navigation", "Symbiont").click("link", "Recommendations")
	if p := tb.path(); p != "/console/recommendations" {
		t.Fatalf("the Recommendations link led to %s", p)
	}
	tb.mustFind("heading", "Recommendations")
	tb.in("region", "Serving model").expectText(before, "Purchases")
	tb.in("region", "Training").expectText("Idle")

	if st := tb.in("region", "Training").click("button", "Train now"); st != http.StatusOK {
		t.Fatalf("Train now: status %d: %.300s", st, tb.text())
	}
	tb.in("status", "").expectText("Training started.")
	want := nextVersion(before)
	deadline := time.Now().Add(45 * time.Second)
	for {
		txt := tb.in("region", "Training").text()
		if strings.Contains(txt, "Idle") && strings.Contains(txt, want+", finished") {
			break
		}
		// Empty while the page's own refresh (every 3 s during a training) reloads it.
		if txt != "" && !strings.Contains(txt, "Queued") && !strings.Contains(txt, "Training is in progress") && !strings.Contains(txt, "Idle") {
			t.Fatalf("the training region shows no state: %q", txt)
		}
		if time.Now().After(deadline) {
			t.Fatalf("training did not finish in the page: %q", txt)
		}
		time.Sleep(500 * time.Millisecond)
		if st := tb.open("/console/recommendations"); st != http.StatusOK {
			t.Fatalf("reloading the page: status %d", st)
		}
	}
	tb.in("region", "Serving model").expectText(want)
	off := tb.in("region", "Offline metrics")
	off.expectText("NDCG@10", "Precision@10", "Recall@10", "Catalogue coverage", "Model", "Popularity")
	bars := 0
	for _, n := range off.names("img") {
		if strings.HasPrefix(n, "NDCG@10: model ") {
			bars++
		}
	}
	if bars != 1 {
		t.Errorf("offline metrics: bars named %q", off.names("img"))
	}
	if m := s.P.Recommender.Current(bid); m.Meta.Version != want || m.Meta.Offline == nil {
		t.Fatalf("the platform serves %s (offline %v), want %s with offline metrics", m.Meta.Version, m.Meta.Offline, want)
	}

	// Diversity: saved; an invalid schedule: an error, nothing changed.
	set := tb.in("region", "Diversity and schedule")
	set.fill("Diversity (MMR weight)", "0.85")
	if st := set.click("button", "Save settings"); st != http.StatusOK {
		t.Fatalf("save settings: status %d", st)
	}
	tb.in("status", "").expectText("Settings saved.")
	if v := tb.in("region", "Diversity and schedule").value("textbox", "Diversity (MMR weight)"); v != "0.85" {
		t.Errorf("diversity after saving shows %q", v)
	}
	if got, _ := s.P.Recommender.Settings(bid); got.Diversity != 0.85 {
		t.Errorf("the platform's diversity is %v, want 0.85", got.Diversity)
	}
	saved, _ := s.P.Recommender.Settings(bid)
	set = tb.in("region", "Diversity and schedule")
	set.fill("Train every", "5m")
	if st := set.click("button", "Save settings"); st != http.StatusBadRequest {
		t.Errorf("an invalid schedule: status %d", st)
	}
	tb.in("alert", "").expectText("Train every must be 0 (only on demand) or from 10 minutes to 90 days")
	if tb.has("status", "") {
		t.Errorf("an invalid schedule shows a success message: %q", tb.in("status", "").text())
	}
	if v := tb.in("region", "Diversity and schedule").value("textbox", "Train every"); v != "5m" {
		t.Errorf("after the error the field shows %q, not what was typed", v)
	}
	if got, _ := s.P.Recommender.Settings(bid); got != saved {
		t.Errorf("an invalid schedule changed the settings: %+v, was %+v", got, saved)
	}
	if saved.TrainEvery != recommender.Duration(24*time.Hour) {
		t.Errorf("the schedule changed on saving the diversity: %v", saved.TrainEvery)
	}

	tb.open("/lang?lang=zh-CN&back=/console/recommendations")
	tb.mustFind("heading", "推荐")
	tb.in("region", "离线指标").expectText("NDCG@10", "精确率@10", "模型", "热门")
	tb.in("region", "训练").mustFind("button", "立即训练")
	tb.in("region", "多样性与训练计划").mustFind("textbox", "多样性（MMR 权重）")

	// At a phone's width, in both languages, neither console page scrolls sideways.
	tb.setViewport(phoneWidth, phoneHeight)
	for _, lang := range []string{"zh-CN", "en"} {
		tb.open("/lang?lang=" + lang + "&back=/console")
		for _, p := range []string{"/console/recommendations", "/console/catalog"} {
			if st := tb.open(p); st != http.StatusOK {
				t.Fatalf("%s: status %d", p, st)
			}
			tb.noHorizontalScroll(phoneWidth)
		}
	}
}

// nextVersion is the model version after v ("recs-v4" → "recs-v5").
func nextVersion(v string) string {
	var n int
	fmt.Sscanf(v, "recs-v%d", &n)
	return fmt.Sprintf("recs-v%d", n+1)
}

// TestBrowserConsoleCatalog adds an item with the catalogue's form, sees it listed with its
// price, and deletes it (the browser's confirmation accepted). In English and Chinese.
func TestBrowserConsoleCatalog(t *testing.T) {
	s, tb := openConsole(t)
	if st := tb.signIn(s.Demo.SecretKey); st != http.StatusOK {
		t.Fatalf("sign in: status %d", st)
	}
	tb.in("navigation", "Symbiont").click("link", "Catalogue")
	if p := tb.path(); p != "/console/catalog" {
		t.Fatalf("the Catalogue link led to %s", p)
	}
	tb.mustFind("heading", "Catalogue")
	tb.in("region", "Items").expectText("Bund View Suite")
	form := tb.in("region", "Add or update an item")
	form.fill("Id", "room:browser-test")
	form.fill("Title", "Browser Test Suite")
	form.fill("Category", "rooms")
	form.fill("Price", "321")
	form.fill("Currency", "EUR")
	if st := form.click("button", "Save item"); st != http.StatusOK {
		t.Fatalf("save item: status %d: %.300s", st, tb.text())
	}
	tb.in("status", "").expectText("Item saved.")
	tb.in("region", "Items").expectText("Browser Test Suite", "room:browser-test", "321.00 EUR")
	it, err := s.P.Catalog.Get(context.Background(), brandID(t, s), "room:browser-test")
	if err != nil || it.Price == nil || it.Price.Amount != 32100 {
		t.Errorf("the platform's item: %+v %v", it, err)
	}

	msg, st := tb.in("region", "Items").clickConfirm("button", "Delete Browser Test Suite")
	if msg != "confirm: Delete Browser Test Suite from the catalogue?" || st != http.StatusOK {
		t.Errorf("delete: dialog %q, status %d", msg, st)
	}
	tb.in("status", "").expectText("Item deleted.")
	tb.in("region", "Items").expectNoText("Browser Test Suite")
	if _, err := s.P.Catalog.Get(context.Background(), brandID(t, s), "room:browser-test"); err == nil {
		t.Error("the item is still live")
	}

	tb.open("/lang?lang=zh-CN&back=/console/catalog")
	tb.mustFind("heading", "商品目录")
	zh := tb.in("region", "添加或更新商品")
	zh.fill("ID", "room:browser-zh")
	zh.fill("名称", "Browser Test Suite ZH")
	zh.fill("类别", "rooms")
	zh.fill("价格", "12.5")
	zh.fill("货币", "EUR")
	zh.click("button", "保存商品")
	tb.in("status", "").expectText("商品已保存。")
	tb.in("region", "商品").expectText("Browser Test Suite ZH", "12.50 EUR")
}
