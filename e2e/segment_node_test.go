package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// analyticsNodeVersion is the pinned @segment/analytics-node release the test installs.
const analyticsNodeVersion = "2.2.1"

// TestSegmentNodeLibrary sends identify, track, page, screen, group and alias calls with
// Segment's own Node.js library (installed from npm, cached outside the repository) and reads
// them back through the purpose-bound API: each event must be stored exactly as the library
// sent it, and the alias must tie the anonymous id to the user.
func TestSegmentNodeLibrary(t *testing.T) {
	t.Parallel()
	node, modDir := segmentNode(t)

	s := startServer(t, t.TempDir(), serverOptions{})
	b := createBrand(t, s, "Segment Node Library Co")
	putPlan(t, s, b.SecretKey,
		map[string]string{"Order Completed": "purchases", "$group": "profile"}, // page and screen: browsing
		map[string]string{"email": "contact", "name": "profile"})
	suffix := newUUID()[:8]
	user, anon := "node-user-"+suffix, "node-anon-"+suffix
	for _, c := range []string{"purchases", "profile", "contact", "browsing"} {
		grant(t, s, b.SecretKey, user, c, "personalization")
	}

	fixture := map[string]any{
		"userId": user, "anonymousId": anon, "groupId": "company-42",
		"traits": map[string]any{"email": "node-" + suffix + "@example.com", "name": "张伟 Zhang Wei"},
		"order": map[string]any{
			"orderId": "ORD-酒店-0001", "total": 1288.5, "quantity": 3, "currency": "CNY",
			"hotel": "上海外滩酒店", "note": "酒店 🏨 \"quoted\" <b>&amp;</b> back\\slash \u2028 line",
			"products": []any{
				map[string]any{"sku": "RM-KING", "name": "海景大床房 Harbour-view king", "price": 429.5, "nights": 3, "tags": []any{"view", "king"}},
				map[string]any{"sku": "BRK", "name": "早餐 breakfast", "price": 0, "tags": []any{}},
			},
			"shipping": map[string]any{"address": map[string]any{"city": "上海", "zip": "200002", "geo": map[string]any{"lat": 31.2304, "lng": 121.4737}},
				"express": true, "eta": nil},
			"big": 12345678901234, "neg": -0.25, "tiny": 1e-7, "empty": map[string]any{}, "flag": false,
		},
		"order2":  map[string]any{"orderId": "ORD-0002", "total": 99, "currency": "USD"},
		"context": map[string]any{"ip": "203.0.113.7", "locale": "zh-CN", "campaign": map[string]any{"name": "春节 Spring", "source": "wechat"}},
		"page":    map[string]any{"category": "Hotels", "name": "Offers 优惠", "properties": map[string]any{"path": "/offers", "title": "优惠 Offers", "referrer": ""}},
		"screen":  map[string]any{"name": "Booking", "properties": map[string]any{"step": 2, "variant": "B"}},
		"group":   map[string]any{"name": "Aurora 酒店集团", "employees": 1200, "plan": "enterprise"},
		"later":   map[string]any{"orderId": "ORD-ANON-0003", "total": 12.25},
	}
	fx, _ := json.Marshal(fixture)

	script, err := filepath.Abs(filepath.Join("testdata", "segment_node.mjs"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, script)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "SEGMENT_NODE_DIR="+modDir, "SYMBIONT_HOST="+s.Base, "WRITE_KEY="+b.WriteKey, "E2E_FIXTURE="+string(fx))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("node %s: %v\nstdout:\n%s\nstderr:\n%s", script, err, stdout.String(), stderr.String())
	}
	t.Logf("node script ran in %v", time.Since(start).Round(time.Millisecond))

	var out struct {
		Version   string           `json:"version"`
		Delivered []map[string]any `json:"delivered"`
		Requests  []struct {
			URL     string            `json:"url"`
			Method  string            `json:"method"`
			Headers map[string]string `json:"headers"`
			Body    json.RawMessage   `json:"body"`
		} `json:"requests"`
		Errors []map[string]any `json:"errors"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatalf("script output is not JSON: %v\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	if out.Version != analyticsNodeVersion {
		t.Errorf("the script ran @segment/analytics-node %s, want %s", out.Version, analyticsNodeVersion)
	}
	if len(out.Errors) > 0 {
		t.Fatalf("the library reported delivery errors: %v", out.Errors)
	}

	// What the library put on the wire, by messageId (numbers kept as their text).
	wire := map[string]map[string]any{}
	for _, r := range out.Requests {
		if r.URL != s.Base+"/v1/batch" || r.Method != "POST" {
			t.Errorf("the library sent %s %s, want POST %s/v1/batch", r.Method, r.URL, s.Base)
		}
		var body struct {
			Batch    []json.RawMessage `json:"batch"`
			WriteKey string            `json:"writeKey"`
		}
		if err := json.Unmarshal(r.Body, &body); err != nil {
			t.Fatal(err)
		}
		if body.WriteKey != b.WriteKey {
			t.Errorf("request carries write key %q, want the brand's", body.WriteKey)
		}
		for _, raw := range body.Batch {
			m := decodeExact(t, raw)
			id, _ := m["messageId"].(string)
			if _, dup := wire[id]; dup {
				t.Errorf("the library sent message %s twice (a retry?)", id)
			}
			wire[id] = m
		}
	}
	if len(out.Requests) < 3 {
		t.Errorf("the library made %d requests; with flushAt 4, want at least 3 (two batches, then one)", len(out.Requests))
	}

	// The messageIds the library generated, by call.
	ids := map[string][]string{}
	for _, ev := range out.Delivered {
		typ, _ := ev["type"].(string)
		id, _ := ev["messageId"].(string)
		if id == "" {
			t.Fatalf("a delivered %s event has no messageId: %v", typ, ev)
		}
		if wire[id] == nil {
			t.Fatalf("delivered %s event %s is not in any request the library made", typ, id)
		}
		ids[typ] = append(ids[typ], id)
	}
	want := map[string]int{"identify": 1, "track": 3, "page": 1, "screen": 1, "group": 1, "alias": 1}
	for typ, n := range want {
		if len(ids[typ]) != n {
			t.Fatalf("the library delivered %d %s events, want %d (delivered: %v)", len(ids[typ]), typ, n, ids)
		}
	}
	t.Logf("messageIds generated by @segment/analytics-node: %v", ids)

	// Read everything back through the purpose-bound API.
	d := readData(t, s, b.SecretKey, user, "personalization", "purchases", "profile", "contact", "browsing")
	stored := map[string]map[string]map[string]any{} // category → messageId → message
	for cat, msgs := range d.Data {
		stored[cat] = map[string]map[string]any{}
		for _, raw := range msgs {
			m := decodeExact(t, raw)
			id, _ := m["messageId"].(string)
			if _, dup := stored[cat][id]; dup {
				t.Errorf("%s: message %s stored twice", cat, id)
			}
			stored[cat][id] = m
		}
	}
	counts := map[string]int{"purchases": 3, "browsing": 2, "profile": 2, "contact": 1}
	for cat, n := range counts {
		if len(stored[cat]) != n {
			t.Errorf("%s holds %d messages, want %d: %v", cat, len(stored[cat]), n, keys(stored[cat]))
		}
	}

	// Stored exactly as sent: each message deep-equals the library's own (numbers compared as
	// their JSON text).
	exact := func(cat, id string) map[string]any {
		t.Helper()
		got := stored[cat][id]
		if got == nil {
			t.Errorf("message %s (%v) is not in %s", id, wire[id]["type"], cat)
			return nil
		}
		if !reflect.DeepEqual(got, wire[id]) {
			t.Errorf("%s message %s differs from what the library sent:\n got: %s\nsent: %s", cat, id, jsonText(got), jsonText(wire[id]))
		}
		return got
	}
	for _, id := range ids["track"] {
		exact("purchases", id)
	}
	exact("browsing", ids["page"][0])
	exact("browsing", ids["screen"][0])
	exact("profile", ids["group"][0])
	// identify is stored as one part per category, each with that category's traits only.
	idf := ids["identify"][0]
	for cat, trait := range map[string]string{"contact": "email", "profile": "name"} {
		got := stored[cat][idf]
		if got == nil {
			t.Errorf("identify %s has no %s part", idf, cat)
			continue
		}
		sent := map[string]any{}
		for k, v := range wire[idf] {
			sent[k] = v
		}
		sent["traits"] = map[string]any{trait: wire[idf]["traits"].(map[string]any)[trait]}
		if !reflect.DeepEqual(got, sent) {
			t.Errorf("identify %s part %s:\n got: %s\nwant: %s", idf, cat, jsonText(got), jsonText(sent))
		}
	}
	for cat := range stored {
		if _, ok := stored[cat][ids["alias"][0]]; ok {
			t.Errorf("the alias call was stored as data in %s", cat)
		}
	}

	// And what was sent is what the script asked for: field by field, against the fixture.
	semantic := func(cat, id string) map[string]any {
		t.Helper()
		m := map[string]any{}
		if raw, err := json.Marshal(stored[cat][id]); err == nil {
			_ = json.Unmarshal(raw, &m)
		}
		if m["messageId"] != id {
			t.Errorf("%s %s: messageId %v", cat, id, m["messageId"])
		}
		if ts, _ := m["timestamp"].(string); ts == "" {
			t.Errorf("%s %s: no timestamp", cat, id)
		} else if _, err := time.Parse(time.RFC3339Nano, ts); err != nil {
			t.Errorf("%s %s: timestamp %q: %v", cat, id, ts, err)
		}
		lib, _ := dig(m, "context", "library").(map[string]any)
		if lib["name"] != "@segment/analytics-node" || lib["version"] != analyticsNodeVersion {
			t.Errorf("%s %s: context.library = %v, want @segment/analytics-node %s", cat, id, lib, analyticsNodeVersion)
		}
		return m
	}
	byOrder := map[string]map[string]any{}
	for _, id := range ids["track"] {
		m := semantic("purchases", id)
		if m["event"] != "Order Completed" || m["type"] != "track" {
			t.Errorf("track %s: event %v type %v", id, m["event"], m["type"])
		}
		byOrder[fmt.Sprint(dig(m, "properties", "orderId"))] = m
	}
	for key, orderID := range map[string]string{"order": "ORD-酒店-0001", "order2": "ORD-0002", "later": "ORD-ANON-0003"} {
		m := byOrder[orderID]
		if m == nil {
			t.Errorf("no stored track with orderId %s", orderID)
			continue
		}
		if want := roundTrip(fixture[key]); !reflect.DeepEqual(m["properties"], want) {
			t.Errorf("track %s properties:\n got: %s\nwant: %s", orderID, jsonText(m["properties"]), jsonText(want))
		}
		if key == "later" {
			if m["anonymousId"] != anon || m["userId"] != nil {
				t.Errorf("the post-alias event has userId %v anonymousId %v, want only anonymousId %s", m["userId"], m["anonymousId"], anon)
			}
		} else if m["userId"] != user {
			t.Errorf("track %s: userId %v, want %s", orderID, m["userId"], user)
		}
	}
	if m := byOrder["ORD-0002"]; m != nil {
		for k, v := range roundTrip(fixture["context"]).(map[string]any) {
			if !reflect.DeepEqual(dig(m, "context", k), v) {
				t.Errorf("track ORD-0002: context.%s = %v, want %v", k, dig(m, "context", k), v)
			}
		}
	}
	pg := semantic("browsing", ids["page"][0])
	if pg["type"] != "page" || pg["name"] != "Offers 优惠" || pg["userId"] != user {
		t.Errorf("page: %s", jsonText(pg))
	}
	for k, v := range roundTrip(dig(fixture, "page", "properties")).(map[string]any) {
		if !reflect.DeepEqual(dig(pg, "properties", k), v) {
			t.Errorf("page property %s = %v, want %v", k, dig(pg, "properties", k), v)
		}
	}
	sc := semantic("browsing", ids["screen"][0])
	if sc["type"] != "screen" || sc["name"] != "Booking" || !reflect.DeepEqual(sc["properties"], roundTrip(dig(fixture, "screen", "properties"))) {
		t.Errorf("screen: %s", jsonText(sc))
	}
	gr := semantic("profile", ids["group"][0])
	if gr["type"] != "group" || gr["groupId"] != "company-42" || gr["userId"] != user || !reflect.DeepEqual(gr["traits"], roundTrip(fixture["group"])) {
		t.Errorf("group: %s", jsonText(gr))
	}
	ct := semantic("contact", idf)
	if ct["type"] != "identify" || ct["userId"] != user || !reflect.DeepEqual(ct["traits"], map[string]any{"email": dig(fixture, "traits", "email")}) {
		t.Errorf("identify (contact part): %s", jsonText(ct))
	}

	// The alias tied the anonymous id to the user: reading by it finds the same purchases.
	var byAnon dataAnswer
	q := url.Values{"id_type": {"anonymous_id"}, "purpose": {"personalization"}, "categories": {"purchases"}}
	mustCall(t, "GET", s.Base+"/v1/consumers/"+url.PathEscape(anon)+"/data?"+q.Encode(), bearer(b.SecretKey), nil, http.StatusOK, &byAnon)
	if len(byAnon.Data["purchases"]) != 3 {
		t.Errorf("read by the aliased anonymous id: %d purchases, want the user's 3", len(byAnon.Data["purchases"]))
	}
}

// decodeExact decodes a JSON object keeping numbers as their text.
func decodeExact(t *testing.T, raw []byte) map[string]any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatalf("not a JSON object: %v: %s", err, tail(string(raw), 300))
	}
	return m
}

// roundTrip turns a Go fixture value into what decoding its JSON gives (float64 numbers).
func roundTrip(v any) any {
	b, _ := json.Marshal(v)
	var out any
	_ = json.Unmarshal(b, &out)
	return out
}

func dig(v any, path ...string) any {
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// segmentNode finds Node.js and npm and installs the pinned @segment/analytics-node into a
// cache directory outside the repository (once; later runs reuse it). It returns the node
// binary and the directory whose node_modules holds the library. Without Node.js, npm or the
// npm registry the test fails under CI=true and is skipped elsewhere.
func segmentNode(t *testing.T) (node, dir string) {
	t.Helper()
	unavailable := func(format string, args ...any) {
		t.Helper()
		msg := fmt.Sprintf(format, args...)
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s (CI=true: this test must run; install Node.js 18+ and npm, with access to registry.npmjs.org)", msg)
		}
		t.Skipf("%s; to run this test install Node.js 18+ and npm, with network access to registry.npmjs.org", msg)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		unavailable("node is not on PATH")
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		unavailable("npm is not on PATH")
	}
	v, err := exec.Command(node, "--version").Output()
	if err != nil {
		unavailable("node --version: %v", err)
	}
	major, _ := strconv.Atoi(strings.SplitN(strings.TrimPrefix(strings.TrimSpace(string(v)), "v"), ".", 2)[0])
	if major < 18 {
		unavailable("node %s is too old", strings.TrimSpace(string(v)))
	}

	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	dir = filepath.Join(base, "symbiont", "e2e-node", "analytics-node-"+analyticsNodeVersion)
	if installedVersion(dir) == analyticsNodeVersion {
		return node, dir
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		unavailable("cache directory: %v", err)
	}
	// Install into a fresh directory and rename it into place, so that concurrent runs and
	// interrupted installs never leave a half-installed cache behind.
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "install-")
	if err != nil {
		unavailable("cache directory: %v", err)
	}
	defer os.RemoveAll(tmp)
	if err := os.WriteFile(filepath.Join(tmp, "package.json"), []byte(`{"name":"symbiont-e2e-node","private":true}`+"\n"), 0o644); err != nil {
		unavailable("cache directory: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// Shorter retry back-off than npm's default (about 70 s in all), so that an offline
	// machine skips quickly.
	cmd := exec.CommandContext(ctx, npm, "install", "--no-audit", "--no-fund",
		"--fetch-retries=2", "--fetch-retry-mintimeout=1000", "--fetch-retry-maxtimeout=4000",
		"@segment/analytics-node@"+analyticsNodeVersion)
	cmd.Dir = tmp
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		unavailable("npm install @segment/analytics-node@%s failed (offline?): %v\n%s", analyticsNodeVersion, err, tail(string(out), 3000))
	}
	if got := installedVersion(tmp); got != analyticsNodeVersion {
		unavailable("npm installed @segment/analytics-node %q, want %s", got, analyticsNodeVersion)
	}
	if err := os.Rename(tmp, dir); err != nil && installedVersion(dir) != analyticsNodeVersion {
		// Not another run's complete install, which would be fine: a broken one. Replace it.
		_ = os.RemoveAll(dir)
		if err := os.Rename(tmp, dir); err != nil {
			t.Fatalf("move the npm install into the cache: %v", err)
		}
	}
	t.Logf("installed @segment/analytics-node@%s into %s in %v", analyticsNodeVersion, dir, time.Since(start).Round(time.Millisecond))
	return node, dir
}

// installedVersion is the version of @segment/analytics-node installed under dir, or "".
func installedVersion(dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, "node_modules", "@segment", "analytics-node", "package.json"))
	if err != nil {
		return ""
	}
	var p struct {
		Version string `json:"version"`
	}
	_ = json.Unmarshal(b, &p)
	return p.Version
}
