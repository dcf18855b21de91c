package e2e

// What the SDK tests share (segment_node_test.go, segment_go_test.go, rudder_node_test.go,
// rudder_go_test.go): installing a pinned SDK outside the repository (npm, or a generated Go
// module built with the module proxy), a recording proxy that keeps every request exactly as
// the SDK put it on the wire, one scenario (a brand, a plan, grants and the fixture each SDK
// script sends), and the check that every event was stored exactly as sent.

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"text/template"
	"time"
)

// sdkUnavailable fails the test under CI=true, where every SDK test must run, and skips it
// elsewhere with how to enable it.
func sdkUnavailable(t *testing.T, enable, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s (CI=true: this test must run; %s)", msg, enable)
	}
	t.Skipf("%s; to run this test, %s", msg, enable)
}

// sdkCacheDir is the directory, outside the repository, where SDK installs and builds are kept
// between runs.
func sdkCacheDir(kind string) string {
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	return filepath.Join(base, "symbiont", kind)
}

// installAtomically fills dir once: fill runs in a fresh sibling directory, which is then
// renamed into place, so that concurrent runs and interrupted installs never leave a half-made
// cache behind. done says whether a directory holds a complete install.
func installAtomically(t *testing.T, dir string, done func(string) bool, fill func(tmp string) error) error {
	t.Helper()
	if done(dir) {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "install-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := fill(tmp); err != nil {
		return err
	}
	if !done(tmp) {
		return fmt.Errorf("the install in %s is incomplete", tmp)
	}
	if err := os.Rename(tmp, dir); err != nil && !done(dir) {
		// Not another run's complete install, which would be fine: a broken one. Replace it.
		_ = os.RemoveAll(dir)
		if err := os.Rename(tmp, dir); err != nil {
			return fmt.Errorf("move the install into the cache: %w", err)
		}
	}
	return nil
}

const npmEnable = "install Node.js 18+ and npm, with network access to the npm registry"

// nodePackage finds Node.js and npm and installs the pinned npm package pkg@version into a
// cache directory outside the repository (once; later runs reuse it). It returns the node
// binary and the directory whose node_modules holds the package.
func nodePackage(t *testing.T, pkg, version string) (node, dir string) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		sdkUnavailable(t, npmEnable, "node is not on PATH")
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		sdkUnavailable(t, npmEnable, "npm is not on PATH")
	}
	v, err := exec.Command(node, "--version").Output()
	if err != nil {
		sdkUnavailable(t, npmEnable, "node --version: %v", err)
	}
	major, _ := strconv.Atoi(strings.SplitN(strings.TrimPrefix(strings.TrimSpace(string(v)), "v"), ".", 2)[0])
	if major < 18 {
		sdkUnavailable(t, npmEnable, "node %s is too old", strings.TrimSpace(string(v)))
	}

	dir = filepath.Join(sdkCacheDir("e2e-node"), strings.ReplaceAll(strings.TrimPrefix(pkg, "@"), "/", "+")+"-"+version)
	done := func(d string) bool { return npmInstalledVersion(d, pkg) == version }
	start := time.Now()
	installed := !done(dir)
	err = installAtomically(t, dir, done, func(tmp string) error {
		if err := os.WriteFile(filepath.Join(tmp, "package.json"), []byte(`{"name":"symbiont-e2e-node","private":true}`+"\n"), 0o644); err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		// Shorter retry back-off than npm's default (about 70 s in all), so that an offline
		// machine skips quickly.
		cmd := exec.CommandContext(ctx, npm, "install", "--no-audit", "--no-fund",
			"--fetch-retries=2", "--fetch-retry-mintimeout=1000", "--fetch-retry-maxtimeout=4000", pkg+"@"+version)
		cmd.Dir = tmp
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("npm install %s@%s failed (offline?): %v\n%s", pkg, version, err, tail(string(out), 3000))
		}
		return nil
	})
	if err != nil {
		sdkUnavailable(t, npmEnable, "%v", err)
	}
	if installed {
		t.Logf("installed %s@%s into %s in %v", pkg, version, dir, time.Since(start).Round(time.Millisecond))
	}
	return node, dir
}

// npmInstalledVersion is the version of pkg installed under dir, or "".
func npmInstalledVersion(dir, pkg string) string {
	b, err := os.ReadFile(filepath.Join(dir, "node_modules", filepath.FromSlash(pkg), "package.json"))
	if err != nil {
		return ""
	}
	var p struct {
		Version string `json:"version"`
	}
	_ = json.Unmarshal(b, &p)
	return p.Version
}

// runNodeScript runs testdata/<script> with node and the environment given, and returns its
// standard output.
func runNodeScript(t *testing.T, node, script string, env ...string) []byte {
	t.Helper()
	path, err := filepath.Abs(filepath.Join("testdata", script))
	if err != nil {
		t.Fatal(err)
	}
	return runProgram(t, exec.Command(node, path), env...)
}

// runProgram runs an SDK program with a time limit and returns its standard output.
func runProgram(t *testing.T, cmd *exec.Cmd, env ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	c := exec.CommandContext(ctx, cmd.Path, cmd.Args[1:]...)
	c.Dir = t.TempDir()
	c.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	c.Stdout, c.Stderr = &stdout, &stderr
	start := time.Now()
	if err := c.Run(); err != nil {
		t.Fatalf("%s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(c.Args, " "), err, stdout.String(), stderr.String())
	}
	t.Logf("%s ran in %v", filepath.Base(c.Args[len(c.Args)-1]), time.Since(start).Round(time.Millisecond))
	return stdout.Bytes()
}

const goProxyEnable = "let the go command reach the Go module proxy (GOPROXY)"

// goSDKProgram builds testdata/go_sdk/main.go.tmpl against the pinned Go library module@version
// in a module of its own, generated into a cache directory outside the repository (so the
// project's go.mod never requires an SDK), with the dependencies from the Go module proxy. It
// returns the program; later runs reuse the build. endpointField is the library's Config field
// for the server's URL.
func goSDKProgram(t *testing.T, module, version, endpointField string) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		sdkUnavailable(t, goProxyEnable, "the go tool is not on PATH")
	}
	tmpl, err := os.ReadFile(filepath.Join("testdata", "go_sdk", "main.go.tmpl"))
	if err != nil {
		t.Fatal(err)
	}
	var src bytes.Buffer
	if err := template.Must(template.New("main").Parse(string(tmpl))).Execute(&src, map[string]string{"Module": module, "EndpointField": endpointField}); err != nil {
		t.Fatal(err)
	}
	gomod := fmt.Sprintf("module symbiont-e2e-go-sdk\n\ngo 1.21\n\nrequire %s %s\n", module, version)
	// The module's go.sum is pinned beside the template: with it the go command needs only the
	// module proxy, never the checksum database (which some networks, this CI's included, cannot
	// reach, and whose proxy answers 404 for some versions).
	gosum, err := os.ReadFile(filepath.Join("testdata", "go_sdk", strings.ReplaceAll(module, "/", "+")+"@"+version+".sum"))
	if err != nil {
		t.Fatalf("the pinned go.sum of %s@%s: %v", module, version, err)
	}
	sum := sha256.Sum256([]byte(gomod + string(gosum) + src.String()))
	dir := filepath.Join(sdkCacheDir("e2e-go"), strings.ReplaceAll(module, "/", "+")+"@"+version+"-"+hex.EncodeToString(sum[:6]))
	bin := filepath.Join(dir, "sdk")
	done := func(d string) bool {
		fi, err := os.Stat(filepath.Join(d, "sdk"))
		return err == nil && fi.Mode().IsRegular()
	}
	start := time.Now()
	built := !done(dir)
	err = installAtomically(t, dir, done, func(tmp string) error {
		if err := os.WriteFile(filepath.Join(tmp, "go.mod"), []byte(gomod), 0o644); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(tmp, "main.go"), src.Bytes(), 0o644); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(tmp, "go.sum"), gosum, 0o644); err != nil {
			return err
		}
		for _, args := range [][]string{{"mod", "tidy"}, {"build", "-o", "sdk", "."}} {
			ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
			cmd := exec.CommandContext(ctx, goTool, args...)
			cmd.Dir = tmp
			cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod -buildvcs=false")
			out, err := cmd.CombinedOutput()
			cancel()
			if err != nil {
				return fmt.Errorf("go %s for %s@%s failed (no module proxy?): %v\n%s", strings.Join(args, " "), module, version, err, tail(string(out), 3000))
			}
		}
		return nil
	})
	if err != nil {
		sdkUnavailable(t, goProxyEnable, "%v", err)
	}
	if built {
		t.Logf("built a program with %s@%s in %s in %v", module, version, dir, time.Since(start).Round(time.Millisecond))
	}
	return bin
}

// goSDKReport is what testdata/go_sdk/main.go.tmpl prints.
type goSDKReport struct {
	Module         string `json:"module"`          // the library module's version, from the build info
	LibraryVersion string `json:"library_version"` // its Version constant
	Delivered      []struct {
		Type      string `json:"type"`
		MessageID string `json:"messageId"`
	} `json:"delivered"`
	Errors []string `json:"errors"`
}

// goSDK is a Go analytics library under test.
type goSDK struct {
	module, version string
	endpointField   string // the Config field for the server's URL
	wire            wireWant
	timeField       string // see sdkLibrary
	batchContext    bool   // see sdkLibrary
	// check, if set, checks the messages as sent for the library's own fields.
	check func(t *testing.T, wire map[string]map[string]any)
}

// testGoSDK plays the scenario with a Go library: builds the program, runs it through a
// recording proxy, checks the requests and what was stored, and that the messages the library
// reports delivered are the ones it sent.
func testGoSDK(t *testing.T, lib goSDK, brand, prefix string) {
	t.Helper()
	bin := goSDKProgram(t, lib.module, lib.version, lib.endpointField)
	sc := newSDKScenario(t, brand, prefix)
	rec := sc.record(t)
	out := runProgram(t, exec.Command(bin), sc.env()...)
	var r goSDKReport
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("program output is not JSON: %v\n%s", err, out)
	}
	if len(r.Errors) > 0 {
		t.Fatalf("the library reported delivery failures: %v", r.Errors)
	}
	if r.Module != lib.version {
		t.Errorf("the program was built with %s %s, want %s", lib.module, r.Module, lib.version)
	}
	wire := wireMessages(t, rec.batches(t, sc.b.WriteKey, lib.wire))
	if lib.check != nil {
		lib.check(t, wire)
	}
	ids := sc.checkStored(t, wire, sdkLibrary{Name: "analytics-go", Version: r.LibraryVersion, TimeField: lib.timeField, BatchContext: lib.batchContext})
	delivered := map[string][]string{}
	for _, d := range r.Delivered {
		delivered[d.Type] = append(delivered[d.Type], d.MessageID)
	}
	sameIDs(t, delivered, ids)
}

// ---------------------------------------------------------------------------------------------
// The recording proxy.

// wireRequest is one request exactly as the SDK sent it, and the server's answer.
type wireRequest struct {
	Method, Path string
	Header       http.Header
	Body         []byte // as on the wire
	Status       int
}

// wireRecorder sits between an SDK and the server and keeps every request.
type wireRecorder struct {
	URL  string
	mu   sync.Mutex
	reqs []wireRequest
}

// newWireRecorder starts a recording proxy in front of the server at target.
func newWireRecorder(t *testing.T, target string) *wireRecorder {
	t.Helper()
	rec := &wireRecorder{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		req, err := http.NewRequestWithContext(r.Context(), r.Method, target+r.URL.RequestURI(), bytes.NewReader(body))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		req.Header = r.Header.Clone()
		res, err := httpClient.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer res.Body.Close()
		rb, _ := io.ReadAll(res.Body)
		rec.mu.Lock()
		rec.reqs = append(rec.reqs, wireRequest{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: body, Status: res.StatusCode})
		rec.mu.Unlock()
		for k, v := range res.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(res.StatusCode)
		w.Write(rb)
	}))
	t.Cleanup(srv.Close)
	rec.URL = srv.URL
	return rec
}

func (rec *wireRecorder) requests() []wireRequest {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]wireRequest(nil), rec.reqs...)
}

// wireWant is how an SDK is expected to send its batches.
type wireWant struct {
	gzip      bool // every request gzip-compressed (else none)
	basicAuth bool // the write key as the HTTP Basic user name (else in the body)
}

// batches checks that every request was a POST /v1/batch the server answered 200, sent as
// want says, and returns the decoded bodies.
func (rec *wireRecorder) batches(t *testing.T, writeKey string, want wireWant) [][]byte {
	t.Helper()
	var out [][]byte
	gzipped := 0
	for i, r := range rec.requests() {
		if r.Method != "POST" || r.Path != "/v1/batch" {
			t.Errorf("request %d: %s %s, want POST /v1/batch", i, r.Method, r.Path)
		}
		if r.Status != http.StatusOK {
			t.Errorf("request %d: the server answered %d", i, r.Status)
		}
		hr := &http.Request{Header: r.Header}
		if user, _, ok := hr.BasicAuth(); want.basicAuth && (!ok || user != writeKey) {
			t.Errorf("request %d: Authorization is not HTTP Basic with the write key", i)
		} else if !want.basicAuth && r.Header.Get("Authorization") != "" {
			t.Errorf("request %d: Authorization %q, want the write key in the body", i, r.Header.Get("Authorization"))
		}
		body := r.Body
		switch enc := r.Header.Get("Content-Encoding"); enc {
		case "gzip":
			gzipped++
			zr, err := gzip.NewReader(bytes.NewReader(r.Body))
			if err != nil {
				t.Fatalf("request %d says gzip but is not: %v", i, err)
			}
			if body, err = io.ReadAll(zr); err != nil {
				t.Fatalf("request %d: gunzip: %v", i, err)
			}
		case "":
		default:
			t.Errorf("request %d: Content-Encoding %q", i, enc)
		}
		out = append(out, body)
	}
	if len(out) == 0 {
		t.Fatal("the SDK made no request")
	}
	if want.gzip && gzipped != len(out) {
		t.Errorf("%d of %d requests were gzip-compressed; the SDK's default is gzip", gzipped, len(out))
	}
	if !want.gzip && gzipped != 0 {
		t.Errorf("%d of %d requests were gzip-compressed; this SDK does not compress", gzipped, len(out))
	}
	t.Logf("%d requests, %d gzip-compressed", len(out), gzipped)
	return out
}

// wireMessages decodes batch bodies into the messages they carry, by messageId, each as the
// Segment spec says the server must read it: batch-level context and integrations apply to
// the messages without their own, and writeKey is a credential, not data. Numbers are kept as
// their JSON text.
func wireMessages(t *testing.T, bodies [][]byte) map[string]map[string]any {
	t.Helper()
	wire := map[string]map[string]any{}
	for _, b := range bodies {
		var body struct {
			Batch        []json.RawMessage `json:"batch"`
			Context      json.RawMessage   `json:"context"`
			Integrations json.RawMessage   `json:"integrations"`
		}
		if err := json.Unmarshal(b, &body); err != nil {
			t.Fatalf("a batch body is not JSON: %v: %s", err, tail(string(b), 300))
		}
		for _, raw := range body.Batch {
			m := decodeExact(t, raw)
			for k, v := range map[string]json.RawMessage{"context": body.Context, "integrations": body.Integrations} {
				if _, own := m[k]; !own && len(v) > 0 && string(v) != "null" {
					m[k] = decodeExact(t, v)
				}
			}
			delete(m, "writeKey")
			id, _ := m["messageId"].(string)
			if id == "" {
				t.Fatalf("a message without messageId: %s", raw)
			}
			if _, dup := wire[id]; dup {
				t.Errorf("the SDK sent message %s twice (a retry?)", id)
			}
			wire[id] = m
		}
	}
	return wire
}

// ---------------------------------------------------------------------------------------------
// The scenario every SDK test plays.

// sdkScenario is a fresh server with one brand: a tracking plan, a user who granted every
// category the fixture touches, and the fixture the SDK script sends.
type sdkScenario struct {
	s          *server
	b          brandKeys
	user, anon string
	fixture    map[string]any
	host       string // where the SDK sends: the server, or a recording proxy in front of it
}

func newSDKScenario(t *testing.T, brand, prefix string) *sdkScenario {
	t.Helper()
	s := startServer(t, t.TempDir(), serverOptions{})
	b := createBrand(t, s, brand)
	putPlan(t, s, b.SecretKey,
		map[string]string{"Order Completed": "purchases", "$group": "profile"}, // page and screen: browsing
		map[string]string{"email": "contact", "name": "profile"})
	suffix := newUUID()[:8]
	sc := &sdkScenario{s: s, b: b, user: prefix + "-user-" + suffix, anon: prefix + "-anon-" + suffix, host: s.Base}
	for _, c := range []string{"purchases", "profile", "contact", "browsing"} {
		grant(t, s, b.SecretKey, sc.user, c, "personalization")
	}
	sc.fixture = map[string]any{
		"userId": sc.user, "anonymousId": sc.anon, "groupId": "company-42",
		"traits": map[string]any{"email": prefix + "-" + suffix + "@example.com", "name": "张伟 Zhang Wei"},
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
	return sc
}

// record puts a recording proxy between the SDK and the server.
func (sc *sdkScenario) record(t *testing.T) *wireRecorder {
	rec := newWireRecorder(t, sc.s.Base)
	sc.host = rec.URL
	return rec
}

// env is the environment of an SDK script: SYMBIONT_HOST, WRITE_KEY and E2E_FIXTURE.
func (sc *sdkScenario) env() []string {
	fx, _ := json.Marshal(sc.fixture)
	return []string{"SYMBIONT_HOST=" + sc.host, "WRITE_KEY=" + sc.b.WriteKey, "E2E_FIXTURE=" + string(fx)}
}

// sdkLibrary is what an SDK says about itself in each message, and how it sends time.
type sdkLibrary struct {
	Name, Version string
	// TimeField is the message field that holds the event's time: Segment's SDKs send
	// timestamp, RudderStack's originalTimestamp.
	TimeField string
	// BatchContext: the library sends context.library in the batch-level context, which a
	// message with its own context does not inherit (Segment's Go library).
	BatchContext bool
}

// checkStored reads everything back through the purpose-bound API and checks that each call
// the script made (one identify, page, screen, group and alias; three tracks, the last one
// after the alias and known only by the anonymous id) was stored exactly as the SDK sent it
// (wire, by messageId), that the fields are the fixture's, and that the alias tied the
// anonymous id to the user. It returns the messageIds by call type.
func (sc *sdkScenario) checkStored(t *testing.T, wire map[string]map[string]any, lib sdkLibrary) map[string][]string {
	t.Helper()
	s, b, user, anon, fixture := sc.s, sc.b, sc.user, sc.anon, sc.fixture
	ids := map[string][]string{}
	for id, m := range wire {
		typ, _ := m["type"].(string)
		ids[typ] = append(ids[typ], id)
	}
	want := map[string]int{"identify": 1, "track": 3, "page": 1, "screen": 1, "group": 1, "alias": 1}
	for typ, n := range want {
		if len(ids[typ]) != n {
			t.Fatalf("the SDK sent %d %s messages, want %d (sent: %v)", len(ids[typ]), typ, n, ids)
		}
	}
	if len(wire) != 8 {
		t.Fatalf("the SDK sent %d messages, want 8: %v", len(wire), ids)
	}

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

	// Stored exactly as sent: each message deep-equals the SDK's own (numbers compared as their
	// JSON text), unknown fields (channel, _metadata, originalTimestamp, sentAt …) included.
	exact := func(cat, id string) {
		t.Helper()
		got := stored[cat][id]
		if got == nil {
			t.Errorf("message %s (%v) is not in %s", id, wire[id]["type"], cat)
			return
		}
		if !reflect.DeepEqual(got, wire[id]) {
			t.Errorf("%s message %s differs from what the SDK sent:\n got: %s\nsent: %s", cat, id, jsonText(got), jsonText(wire[id]))
		}
	}
	for _, id := range ids["track"] {
		exact("purchases", id)
	}
	exact("browsing", ids["page"][0])
	exact("browsing", ids["screen"][0])
	exact("profile", ids["group"][0])
	// identify is stored as one part per category, each with that category's traits only, and
	// without context.traits (RudderStack's Node SDK copies all traits there; see
	// ingest.ReasonContextTraits).
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
		if c, ok := sent["context"].(map[string]any); ok {
			if _, ok := c["traits"]; ok {
				cc := map[string]any{}
				for k, v := range c {
					if k != "traits" {
						cc[k] = v
					}
				}
				sent["context"] = cc
			}
		}
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
		if ts, _ := m[lib.TimeField].(string); ts == "" {
			t.Errorf("%s %s: no %s", cat, id, lib.TimeField)
		} else if _, err := time.Parse(time.RFC3339Nano, ts); err != nil {
			t.Errorf("%s %s: %s %q: %v", cat, id, lib.TimeField, ts, err)
		}
		libInfo, _ := dig(m, "context", "library").(map[string]any)
		if libInfo == nil && lib.BatchContext && dig(fixture, "context", "locale") == dig(m, "context", "locale") {
			return m // the message's own context replaced the batch's, library and all
		}
		if libInfo["name"] != lib.Name || libInfo["version"] != lib.Version {
			t.Errorf("%s %s: context.library = %v, want %s %s", cat, id, libInfo, lib.Name, lib.Version)
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
	sc2 := semantic("browsing", ids["screen"][0])
	if sc2["type"] != "screen" || sc2["name"] != "Booking" || !reflect.DeepEqual(sc2["properties"], roundTrip(dig(fixture, "screen", "properties"))) {
		t.Errorf("screen: %s", jsonText(sc2))
	}
	gr := semantic("profile", ids["group"][0])
	if gr["type"] != "group" || gr["groupId"] != "company-42" || gr["userId"] != user || !reflect.DeepEqual(gr["traits"], roundTrip(fixture["group"])) {
		t.Errorf("group: %s", jsonText(gr))
	}
	ct := semantic("contact", idf)
	if ct["type"] != "identify" || ct["userId"] != user || !reflect.DeepEqual(ct["traits"], map[string]any{"email": dig(fixture, "traits", "email")}) {
		t.Errorf("identify (contact part): %s", jsonText(ct))
	}
	if al := wire[ids["alias"][0]]; al["previousId"] != anon || al["userId"] != user {
		t.Errorf("alias: previousId %v userId %v, want %s → %s", al["previousId"], al["userId"], anon, user)
	}

	// The alias tied the anonymous id to the user: reading by it finds the same purchases.
	var byAnon dataAnswer
	q := url.Values{"id_type": {"anonymous_id"}, "purpose": {"personalization"}, "categories": {"purchases"}}
	mustCall(t, "GET", s.Base+"/v1/consumers/"+url.PathEscape(anon)+"/data?"+q.Encode(), bearer(b.SecretKey), nil, http.StatusOK, &byAnon)
	if len(byAnon.Data["purchases"]) != 3 {
		t.Errorf("read by the aliased anonymous id: %d purchases, want the user's 3", len(byAnon.Data["purchases"]))
	}
	return ids
}

// sameIDs checks that the messageIds an SDK reported delivered, by type, are those it sent.
func sameIDs(t *testing.T, delivered, sent map[string][]string) {
	t.Helper()
	norm := func(m map[string][]string) string {
		var parts []string
		for typ, ids := range m {
			for _, id := range ids {
				parts = append(parts, typ+":"+id)
			}
		}
		sort.Strings(parts)
		return strings.Join(parts, " ")
	}
	if a, b := norm(delivered), norm(sent); a != b {
		t.Errorf("the SDK reported delivered %s\nbut sent %s", a, b)
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
