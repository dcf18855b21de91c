package e2e

import (
	"bytes"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"
)

// proofDoc is the part of the consumer's ledger proof document (GET /v1/me/access-log) the
// tests look at.
type proofDoc struct {
	Format  string `json:"format"`
	Records []struct {
		N          int64  `json:"n"`
		Kind       string `json:"kind"`
		Commitment string `json:"commitment"`
		Pending    bool   `json:"pending"`
	} `json:"records"`
}

// fetchProofs saves the consumer's proof document to file once every record is in a
// checkpoint (the server integrates about every second), and returns it.
func fetchProofs(t *testing.T, s *server, walletToken, file string) *proofDoc {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		raw := mustCall(t, "GET", s.Base+"/v1/me/access-log", bearer(walletToken), nil, http.StatusOK, nil)
		var doc proofDoc
		if err := json.Unmarshal(raw, &doc); err != nil {
			t.Fatalf("proof document: %v", err)
		}
		pending := false
		for _, r := range doc.Records {
			pending = pending || r.Pending
		}
		if !pending || time.Now().After(deadline) {
			if err := os.WriteFile(file, raw, 0o600); err != nil {
				t.Fatal(err)
			}
			return &doc
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// runVerify runs `symbiont verify` and returns its exit status and output.
func runVerify(t *testing.T, env []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(binPath, append([]string{"verify"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		t.Fatalf("symbiont verify: %v", err)
	}
	return code, out.String(), errb.String()
}

// startUnready starts the server like startServer but waits only for it to serve (/healthz),
// not to be ready: a server whose ledger failed its self-check is never ready.
func startUnready(t *testing.T, dataDir string) *server {
	t.Helper()
	cmd := exec.Command(binPath, "serve", "--data", dataDir, "--addr", "127.0.0.1:0", "--log-format", "json")
	cmd.Dir = t.TempDir()
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SYMBIONT_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "SYMBIONT_ADMIN_TOKEN="+adminToken)
	s := &server{t: t, DataDir: dataDir, cmd: cmd, stdout: &syncBuffer{}, stderr: &syncBuffer{}, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = s.stdout, s.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
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
			t.Logf("server stderr (tail):\n%s", tail(s.stderr.String(), 4000))
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for s.Base == "" {
		if addr := servingAddr(s.stderr.String()); addr != "" {
			s.Base = "http://" + addr
		} else if s.hasExited() || time.Now().After(deadline) {
			t.Fatalf("symbiont did not serve (%v):\n%s", s.waitErr, s.stderr.String())
		} else {
			time.Sleep(10 * time.Millisecond)
		}
	}
	mustCall(t, "GET", s.Base+"/healthz", "", nil, http.StatusOK, nil)
	return s
}

// TestLedgerVerifyCLI: a consumer saves their proof document and `symbiont verify` accepts it,
// twice, remembering the log's state; after the operator edits a record in the stopped
// server's database, the restarted server refuses to serve the ledger and the same
// verification fails, saying why.
func TestLedgerVerifyCLI(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	work := t.TempDir()
	state := filepath.Join(work, "state.json")
	doc1 := filepath.Join(work, "alice-1.json")
	doc2 := filepath.Join(work, "alice-2.json")

	s := startServer(t, dataDir, serverOptions{})
	b := createBrand(t, s, "Aurora")
	putPlan(t, s, b.SecretKey, map[string]string{"Order Completed": "purchases"}, map[string]string{"email": "contact"})
	grant(t, s, b.SecretKey, "alice", "purchases", "personalization")
	grant(t, s, b.SecretKey, "bob", "purchases", "personalization")
	readData(t, s, b.SecretKey, "alice", "personalization")
	wt := openWallet(t, s, b.SecretKey, "alice")
	d := fetchProofs(t, s, wt, doc1)
	if d.Format != "symbiont-ledger-proofs/1" || len(d.Records) != 2 || d.Records[0].Kind != "consent.given" || d.Records[1].Kind != "access.read" {
		t.Fatalf("alice's proof document: %+v", d)
	}

	code, out, errOut := runVerify(t, nil, "--ledger", s.Base, "--state", state, doc1)
	if code != 0 || !strings.Contains(out, "First verification against this log: trusting its key") ||
		!regexp.MustCompile(`(?m)^OK: 2 records in 1 chains verified; the log \(3 entries\) is consistent\.`).MatchString(out) {
		t.Fatalf("first verify: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	var st struct {
		Key  string `json:"key"`
		Size int64  `json:"size"`
	}
	if b, err := os.ReadFile(state); err != nil || json.Unmarshal(b, &st) != nil || st.Size != 3 {
		t.Fatalf("state file: %s %v", b, err)
	}
	_, key, _ := call(t, "GET", s.Base+"/ledger/key", "", nil)
	if st.Key != strings.TrimSpace(string(key)) {
		t.Fatalf("state key %q, /ledger/key %q", st.Key, key)
	}

	// More happens; the second run is consistent with the first.
	readData(t, s, b.SecretKey, "bob", "personalization")
	readData(t, s, b.SecretKey, "alice", "personalization")
	fetchProofs(t, s, wt, doc2)
	code, out, errOut = runVerify(t, nil, "--ledger", s.Base, "--state", state, doc2)
	if code != 0 || strings.Contains(out, "First verification") ||
		!strings.Contains(out, "OK: 3 records in 1 chains verified; the log (5 entries) is consistent with the checkpoint verified last time (3 entries).") {
		t.Fatalf("second verify: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	// An older document still verifies (nothing it shows has gone)…
	if code, out, errOut = runVerify(t, nil, "--ledger", s.Base, "--state", state, doc2); code != 0 {
		t.Fatalf("verify again: exit %d\n%s%s", code, out, errOut)
	}
	// …but not against another key than the one remembered.
	code, _, errOut = runVerify(t, nil, "--ledger", s.Base, "--state", state, "--key", "other.example/ledger+01234567+AAAA", doc2)
	if code == 0 || !strings.Contains(errOut, "--key differs from the key remembered in "+state) {
		t.Fatalf("verify with another key: exit %d: %s", code, errOut)
	}
	// Nor a document doctored by its holder.
	raw, _ := os.ReadFile(doc2)
	doctored := filepath.Join(work, "doctored.json")
	os.WriteFile(doctored, bytes.Replace(raw, []byte(`"kind":"access.read"`), []byte(`"kind":"access.export"`), 1), 0o600)
	code, _, errOut = runVerify(t, nil, "--ledger", s.Base, "--state", state, doctored)
	if code == 0 || !strings.Contains(errOut, "VERIFICATION FAILED: record 1 of sub_") || !strings.Contains(errOut, "the details shown differ from the committed record") {
		t.Fatalf("doctored document: exit %d: %s", code, errOut)
	}

	// The operator edits alice's first record while the server is stopped.
	s.stop(30 * time.Second)
	db, err := sql.Open("sqlite", filepath.Join(dataDir, "symbiont.db"))
	if err != nil {
		t.Fatal(err)
	}
	c0, _ := base64.StdEncoding.DecodeString(d.Records[0].Commitment)
	var rec []byte
	if err := db.QueryRow(`SELECT record FROM ledger_entries WHERE commitment = ?`, c0).Scan(&rec); err != nil {
		t.Fatal(err)
	}
	edited := bytes.Replace(rec, []byte(`"purpose":"personalization"`), []byte(`"purpose":"service"`), 1)
	if bytes.Equal(edited, rec) {
		t.Fatalf("record 0 has no personalization purpose: %s", rec)
	}
	if _, err := db.Exec(`UPDATE ledger_entries SET record = ? WHERE commitment = ?`, edited, c0); err != nil {
		t.Fatal(err)
	}
	db.Close()

	s2 := startUnready(t, dataDir)
	const why = "the record does not open to its commitment"
	for _, path := range []string{"/readyz", "/ledger/checkpoint"} {
		st, body, _ := call(t, "GET", s2.Base+path, "", nil)
		var e struct {
			Error struct{ Code, Message string }
		}
		if st != http.StatusServiceUnavailable || json.Unmarshal(body, &e) != nil || !strings.Contains(e.Error.Message, "failed its self-check") || !strings.Contains(e.Error.Message, why) {
			t.Errorf("GET %s on the tampered data: %d %s", path, st, body)
		}
	}
	if !strings.Contains(s2.stderr.String(), "LEDGER SELF-CHECK FAILED") {
		t.Errorf("the server did not log the failed self-check")
	}
	code, out, errOut = runVerify(t, nil, "--ledger", s2.Base, "--state", state, doc2)
	if code == 0 || strings.Contains(out, "OK") || !strings.Contains(errOut, "VERIFICATION FAILED") || !strings.Contains(errOut, why) {
		t.Fatalf("verify against the tampered log: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	// The state file still holds what was verified before (a failure changes nothing).
	if b, _ := os.ReadFile(state); !bytes.Contains(b, []byte(`"size": 5`)) {
		t.Fatalf("state after a failed run: %s", b)
	}
	s2.stop(30 * time.Second)
}

// TestLedgerDemoVerify: `serve --demo` prints a one-line command that saves the demo member's
// proof document and verifies it; run as printed (with this build of the binary in place of
// `go run ./cmd/symbiont`), it succeeds.
func TestLedgerDemoVerify(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), serverOptions{demo: true, noAdmin: true})
	out := waitOutput(t, s, "/v1/me/consents/purchases/personalization")
	var line string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, " verify --ledger ") {
			if line != "" {
				t.Fatalf("two verify commands in the demo output:\n%s", out)
			}
			line = strings.TrimSpace(l)
		}
	}
	if line == "" {
		t.Fatalf("the demo prints no verify command:\n%s", out)
	}
	const goRun = "go run ./cmd/symbiont verify "
	if !strings.Contains(line, goRun) || !strings.Contains(line, "--ledger "+s.Base+" ") || !strings.Contains(line, s.Base+"/v1/me/access-log") {
		t.Fatalf("unexpected verify command: %s", line)
	}
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("no curl on PATH to run the printed command")
	}
	work := t.TempDir()
	cmd := exec.Command("sh", "-c", strings.Replace(line, goRun, binPath+" verify ", 1))
	cmd.Dir = work
	// The state goes to the user's config dir: keep it in the test's.
	cmd.Env = append(os.Environ(), "HOME="+work, "XDG_CONFIG_HOME="+filepath.Join(work, "config"))
	res, err := cmd.CombinedOutput()
	if err != nil || !regexp.MustCompile(`(?m)^OK: \d+ records in 1 chains verified`).Match(res) {
		t.Fatalf("the printed verify command: %v\n%s", err, res)
	}
	if _, err := os.Stat(filepath.Join(work, "guest-0001-ledger.json")); err != nil {
		t.Fatalf("the proof document was not saved where the command says: %v", err)
	}
	states, _ := filepath.Glob(filepath.Join(work, "config", "symbiont", "verify", "*.json"))
	if len(states) != 1 {
		t.Fatalf("state files: %v", states)
	}
	s.stop(30 * time.Second)
}
