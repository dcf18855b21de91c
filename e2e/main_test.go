// Package e2e tests the real `symbiont` binary from the outside: it is built once by TestMain,
// started as a child process on a temporary data directory, driven over HTTP only and stopped
// with real signals (SIGTERM, SIGKILL). Nothing here imports the product's packages, so what is
// tested is exactly what ships.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// adminToken is the operator token the test servers run with (SYMBIONT_ADMIN_TOKEN).
const adminToken = "op_e2e-operator-token-0123456789"

var (
	binPath  string // the symbiont binary built by TestMain
	repoRoot string // the module root (holds go.mod)
)

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	root, err := findRepoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	repoRoot = root
	tmp, err := os.MkdirTemp("", "symbiont-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(tmp)
	binPath = filepath.Join(tmp, "symbiont")
	goTool, err := exec.LookPath("go")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: the go tool is not on PATH:", err)
		return 1
	}
	start := time.Now()
	build := exec.Command(goTool, "build", "-o", binPath, "./cmd/symbiont")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: go build ./cmd/symbiont failed: %v\n%s", err, out)
		return 1
	}
	if testing.Verbose() {
		fmt.Printf("e2e: built %s in %v\n", binPath, time.Since(start).Round(time.Millisecond))
	}
	return m.Run()
}

// findRepoRoot walks up from the test's directory to the directory holding the module's go.mod.
func findRepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.Contains(b, []byte("module github.com/symbiont/symbiont\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("cannot find the symbiont module root (go.mod) above the e2e directory")
		}
		dir = parent
	}
}

// ---------------------------------------------------------------------------------------------
// The server process.

// syncBuffer is a goroutine-safe output sink for a child process.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// server is a running `symbiont serve` child process.
type server struct {
	t       testing.TB
	DataDir string
	Base    string // http://127.0.0.1:PORT
	cmd     *exec.Cmd
	stdout  *syncBuffer
	stderr  *syncBuffer
	exited  chan struct{}
	waitErr error
}

type serverOptions struct {
	demo    bool
	noAdmin bool     // do not set SYMBIONT_ADMIN_TOKEN
	env     []string // extra KEY=VALUE
}

// startServer starts the binary on a free port (it listens on 127.0.0.1:0 and the test reads
// the address from its log) with dataDir and waits until /readyz answers 200.
func startServer(t testing.TB, dataDir string, opt serverOptions) *server {
	t.Helper()
	args := []string{"serve", "--data", dataDir, "--addr", "127.0.0.1:0", "--log-format", "json"}
	if opt.demo {
		args = append(args, "--demo")
	}
	cmd := exec.Command(binPath, args...)
	cmd.Dir = t.TempDir()
	// The environment of the developer or CI must not leak into the server (a SYMBIONT_POSTGRES
	// there would silently test another store).
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SYMBIONT_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	if !opt.noAdmin {
		cmd.Env = append(cmd.Env, "SYMBIONT_ADMIN_TOKEN="+adminToken)
	}
	cmd.Env = append(cmd.Env, opt.env...)
	s := &server{t: t, DataDir: dataDir, cmd: cmd, stdout: &syncBuffer{}, stderr: &syncBuffer{}, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = s.stdout, s.stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", binPath, err)
	}
	go func() {
		s.waitErr = cmd.Wait()
		close(s.exited)
	}()
	t.Cleanup(func() {
		if !s.hasExited() {
			_ = s.cmd.Process.Kill()
			<-s.exited
		}
		if t.Failed() {
			t.Logf("server %s stderr (tail):\n%s", s.Base, tail(s.stderr.String(), 4000))
		}
	})

	// The address: from the "symbiont serving" log line.
	deadline := time.Now().Add(60 * time.Second)
	for s.Base == "" {
		if addr := servingAddr(s.stderr.String()); addr != "" {
			s.Base = "http://" + addr
			break
		}
		if s.hasExited() {
			t.Fatalf("symbiont exited before serving (%v)\nstdout:\n%s\nstderr:\n%s", s.waitErr, s.stdout.String(), s.stderr.String())
		}
		if time.Now().After(deadline) {
			t.Fatalf("symbiont did not log its address within 60s\nstderr:\n%s", s.stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	for {
		resp, err := http.Get(s.Base + "/readyz")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if s.hasExited() || time.Now().After(deadline) {
			t.Fatalf("symbiont at %s never became ready (last error %v)\nstderr:\n%s", s.Base, err, s.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return s
}

// servingAddr finds the listen address in the JSON log.
func servingAddr(log string) string {
	sc := bufio.NewScanner(strings.NewReader(log))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var line struct {
			Msg  string `json:"msg"`
			Addr string `json:"addr"`
		}
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "symbiont serving" && line.Addr != "" {
			return line.Addr
		}
	}
	return ""
}

func (s *server) hasExited() bool {
	select {
	case <-s.exited:
		return true
	default:
		return false
	}
}

func (s *server) signal(sig syscall.Signal) {
	s.t.Helper()
	if err := s.cmd.Process.Signal(sig); err != nil && !s.hasExited() {
		s.t.Fatalf("signal %v: %v", sig, err)
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (s *server) kill() {
	s.t.Helper()
	s.signal(syscall.SIGKILL)
	if _, err := s.wait(10 * time.Second); err != nil {
		s.t.Fatal(err)
	}
}

// stop sends SIGTERM and requires a clean exit (status 0) within the timeout.
func (s *server) stop(timeout time.Duration) {
	s.t.Helper()
	s.signal(syscall.SIGTERM)
	code, err := s.wait(timeout)
	if err != nil {
		s.t.Fatal(err)
	}
	if code != 0 {
		s.t.Fatalf("symbiont exited with status %d after SIGTERM; stderr:\n%s", code, tail(s.stderr.String(), 4000))
	}
}

// wait waits for the process to exit and returns its exit status (-1 when killed by a signal).
func (s *server) wait(timeout time.Duration) (int, error) {
	select {
	case <-s.exited:
	case <-time.After(timeout):
		return 0, fmt.Errorf("symbiont did not exit within %v", timeout)
	}
	if s.waitErr == nil {
		return 0, nil
	}
	var ee *exec.ExitError
	if errors.As(s.waitErr, &ee) {
		return ee.ExitCode(), nil
	}
	return 0, s.waitErr
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// ---------------------------------------------------------------------------------------------
// HTTP.

// httpClient has a pool large enough for the load tests' concurrent clients.
var httpClient = &http.Client{
	Timeout: 60 * time.Second,
	Transport: &http.Transport{
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     30 * time.Second,
	},
}

// bearer and basic build Authorization header values.
func bearer(token string) string { return "Bearer " + token }

func basic(writeKey string) string {
	req, _ := http.NewRequest("GET", "http://x", nil)
	req.SetBasicAuth(writeKey, "")
	return req.Header.Get("Authorization")
}

// call makes one request; body is sent as JSON unless it is already []byte. It returns the
// status, the body and the response headers.
func call(t testing.TB, method, u, auth string, body any) (int, []byte, http.Header) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, ok := body.([]byte)
		if !ok {
			var err error
			if b, err = json.Marshal(body); err != nil {
				t.Fatalf("marshal request: %v", err)
			}
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, u, err)
	}
	return resp.StatusCode, rb, resp.Header
}

// mustCall makes a request, requires the status and decodes the JSON answer into out (if not nil).
func mustCall(t testing.TB, method, u, auth string, body any, want int, out any) []byte {
	t.Helper()
	st, rb, _ := call(t, method, u, auth, body)
	if st != want {
		t.Fatalf("%s %s: status %d, want %d; body: %s", method, u, st, want, tail(string(rb), 2000))
	}
	if out != nil {
		if err := json.Unmarshal(rb, out); err != nil {
			t.Fatalf("%s %s: decode %s: %v", method, u, tail(string(rb), 500), err)
		}
	}
	return rb
}

// ---------------------------------------------------------------------------------------------
// Domain helpers.

type brandKeys struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	SecretKey string `json:"secret_key"`
	WriteKey  string `json:"write_key"`
}

func createBrand(t testing.TB, s *server, name string) brandKeys {
	t.Helper()
	var b brandKeys
	mustCall(t, "POST", s.Base+"/v1/brands", bearer(adminToken), map[string]string{"name": name}, http.StatusCreated, &b)
	if !strings.HasPrefix(b.SecretKey, "sk_") || !strings.HasPrefix(b.WriteKey, "pk_") || b.ID == "" {
		t.Fatalf("create brand: unexpected keys %+v", b)
	}
	return b
}

func putPlan(t testing.TB, s *server, sk string, events, traits map[string]string) {
	t.Helper()
	mustCall(t, "PUT", s.Base+"/v1/tracking-plan", bearer(sk), map[string]any{"events": events, "traits": traits}, http.StatusOK, nil)
}

func grant(t testing.TB, s *server, sk, userID, category, purpose string) {
	t.Helper()
	var res struct {
		Consent struct {
			Category string `json:"category"`
			Purpose  string `json:"purpose"`
			State    string `json:"state"`
		} `json:"consent"`
		Receipt string `json:"receipt"`
	}
	mustCall(t, "POST", s.Base+"/v1/consumers/"+url.PathEscape(userID)+"/consents", bearer(sk),
		map[string]any{"category": category, "purpose": purpose, "duration_days": 30}, http.StatusCreated, &res)
	if res.Consent.State != "given" || res.Consent.Category != category || res.Consent.Purpose != purpose {
		t.Fatalf("grant %s/%s for %s: unexpected answer %+v", category, purpose, userID, res)
	}
}

// dataAnswer is the purpose-bound read's answer.
type dataAnswer struct {
	Purpose  string                       `json:"purpose"`
	Data     map[string][]json.RawMessage `json:"data"`
	Withheld []struct {
		Category string `json:"category"`
		Reason   string `json:"reason"`
	} `json:"withheld"`
	Truncated bool `json:"truncated"`
}

func (d *dataAnswer) withheld(category string) (reason string, ok bool) {
	for _, w := range d.Withheld {
		if w.Category == category {
			return w.Reason, true
		}
	}
	return "", false
}

// readData is the brand's purpose-bound read of a consumer's data.
func readData(t testing.TB, s *server, sk, userID, purpose string, categories ...string) *dataAnswer {
	t.Helper()
	q := url.Values{"purpose": {purpose}}
	if len(categories) > 0 {
		q.Set("categories", strings.Join(categories, ","))
	}
	var d dataAnswer
	mustCall(t, "GET", s.Base+"/v1/consumers/"+url.PathEscape(userID)+"/data?"+q.Encode(), bearer(sk), nil, http.StatusOK, &d)
	if d.Truncated {
		t.Fatalf("read of %s was truncated: the test must stay under the read limit", userID)
	}
	return &d
}

// ingestAnswer is the answer of the ingestion endpoints.
type ingestAnswer struct {
	Success    bool `json:"success"`
	Accepted   int  `json:"accepted"`
	Duplicates int  `json:"duplicates"`
	Dropped    []struct {
		MessageID string `json:"messageId"`
		Reason    string `json:"reason"`
		Detail    string `json:"detail"`
	} `json:"dropped"`
}

// openWallet opens a wallet session for a consumer and returns its token.
func openWallet(t testing.TB, s *server, sk, userID string) string {
	t.Helper()
	var w struct {
		Token string `json:"token"`
		URL   string `json:"url"`
	}
	mustCall(t, "POST", s.Base+"/v1/wallet/sessions", bearer(sk), map[string]string{"consumer": userID}, http.StatusCreated, &w)
	if !strings.HasPrefix(w.Token, "wt_") {
		t.Fatalf("wallet session: unexpected token %q", w.Token)
	}
	return w.Token
}

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// messageID reads the messageId of a stored message.
func messageID(t testing.TB, raw json.RawMessage) string {
	t.Helper()
	var m struct {
		MessageID string `json:"messageId"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("stored message is not JSON: %v: %s", err, tail(string(raw), 300))
	}
	return m.MessageID
}

// withTimeout is a context for one phase of a test.
func withTimeout(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
