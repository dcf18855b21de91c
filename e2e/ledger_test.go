package e2e

import (
	"bytes"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "modernc.org/sqlite"
)

// proofDoc is the part of the consumer's ledger proof document (GET /v1/me/access-log) the
// tests look at (format 2: each record is its committed bytes, with its salt and proof).
type proofDoc struct {
	Format  string `json:"format"`
	Records []struct {
		Record  string `json:"record"`
		Pending bool   `json:"pending"`
	} `json:"records"`
}

// kind is what record i of the document says it is.
func (d *proofDoc) kind(t *testing.T, i int) string {
	t.Helper()
	var r struct {
		Kind string `json:"kind"`
	}
	if err := json.Unmarshal([]byte(d.Records[i].Record), &r); err != nil {
		t.Fatalf("record %d: %v", i, err)
	}
	return r.Kind
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
	if d.Format != "symbiont-ledger-proofs/2" || len(d.Records) != 2 || d.kind(t, 0) != "consent.given" || d.kind(t, 1) != "access.read" {
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
	// Nor a document doctored by its holder: what a record says is its committed bytes.
	raw, _ := os.ReadFile(doc2)
	doctored := filepath.Join(work, "doctored.json")
	os.WriteFile(doctored, bytes.Replace(raw, []byte(`\"kind\":\"access.read\"`), []byte(`\"kind\":\"access.export\"`), 1), 0o600)
	code, _, errOut = runVerify(t, nil, "--ledger", s.Base, "--state", state, doctored)
	if code == 0 || !strings.Contains(errOut, "VERIFICATION FAILED: record 1 of sub_") || !strings.Contains(errOut, "not in the log at index") ||
		!strings.Contains(errOut, "the record or its salt was altered") {
		t.Fatalf("doctored document: exit %d: %s", code, errOut)
	}
	// A document saved in the older format 1 (each proof twice, the details beside the
	// record) still verifies, and its doctored details are still found.
	v1 := filepath.Join(work, "alice-v1.json")
	if err := os.WriteFile(v1, formatV1(t, raw), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := runVerify(t, nil, "--ledger", s.Base, "--state", state, v1); code != 0 || !strings.Contains(out, "OK: 3 records in 1 chains verified") {
		t.Fatalf("format 1 document: exit %d\n%s%s", code, out, errOut)
	}
	rawV1, _ := os.ReadFile(v1)
	os.WriteFile(doctored, bytes.Replace(rawV1, []byte(`"kind":"access.read"`), []byte(`"kind":"access.export"`), 1), 0o600)
	code, _, errOut = runVerify(t, nil, "--ledger", s.Base, "--state", state, doctored)
	if code == 0 || !strings.Contains(errOut, "VERIFICATION FAILED: record 1 of sub_") || !strings.Contains(errOut, "the details shown differ from the committed record") {
		t.Fatalf("doctored format 1 document: exit %d: %s", code, errOut)
	}

	// The operator edits alice's first record while the server is stopped.
	s.stop(30 * time.Second)
	db, err := sql.Open("sqlite", filepath.Join(dataDir, "symbiont.db"))
	if err != nil {
		t.Fatal(err)
	}
	rec := []byte(d.Records[0].Record)
	edited := bytes.Replace(rec, []byte(`"purpose":"personalization"`), []byte(`"purpose":"service"`), 1)
	if bytes.Equal(edited, rec) {
		t.Fatalf("record 0 has no personalization purpose: %s", rec)
	}
	if res, err := db.Exec(`UPDATE ledger_entries SET record = ? WHERE record = ?`, edited, rec); err != nil {
		t.Fatal(err)
	} else if n, _ := res.RowsAffected(); n != 1 {
		t.Fatalf("%d entries edited", n)
	}
	db.Close()
	// The full check finds it, wherever the verified state is…
	code, out, errOut = runVerify(t, nil, "--full", "--data", dataDir)
	if code != 1 || strings.Contains(out, "OK") || !strings.Contains(errOut, "VERIFICATION FAILED: the stored log is not intact") ||
		!strings.Contains(errOut, "the record does not open to its commitment") {
		t.Fatalf("verify --full on the tampered data: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	// …and so does the start, once it has to read the record again (here: the verified state
	// is gone, as on the first start after an upgrade; the background pass had most likely
	// verified the record already, and a start does not read it again).
	db, err = sql.Open("sqlite", filepath.Join(dataDir, "symbiont.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`DELETE FROM settings WHERE name = 'ledger_verified_state'`); err != nil {
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
		if os.Getenv("CI") == "true" {
			t.Fatal("no curl on PATH to run the printed command (CI=true: this test must run; install curl)")
		}
		t.Skip("no curl on PATH to run the printed command; install curl to run it")
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

// formatV1 rewrites a proof document of format 2 as the server wrote it in format 1 (before
// issue 14): each record with its details beside it, its commitment, and its inclusion proof
// twice, as a list and as a C2SP tlog-proof with the checkpoint. The commitment is computed
// as docs/ledger.md says.
func formatV1(t *testing.T, raw []byte) []byte {
	t.Helper()
	var v2 struct {
		Log struct {
			Checkpoint string `json:"checkpoint"`
		} `json:"log"`
		Hashes  []string `json:"hashes"`
		Records []struct {
			Record  string `json:"record"`
			Salt    string `json:"salt"`
			Pending bool   `json:"pending"`
			Index   *int64 `json:"index"`
			Proof   []int  `json:"proof"`
		} `json:"records"`
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &v2); err != nil || json.Unmarshal(raw, &doc) != nil {
		t.Fatalf("format 2 document: %v", err)
	}
	var records []map[string]any
	for _, x := range v2.Records {
		var r struct {
			Sub  string          `json:"sub"`
			N    int64           `json:"n"`
			Kind string          `json:"kind"`
			At   string          `json:"at"`
			Body json.RawMessage `json:"body"`
		}
		if err := json.Unmarshal([]byte(x.Record), &r); err != nil {
			t.Fatal(err)
		}
		salt, err := base64.StdEncoding.DecodeString(x.Salt)
		if err != nil {
			t.Fatal(err)
		}
		c := sha256.Sum256(append(append([]byte("symbiont-ledger-record/v1\x00"), x.Record...), salt...))
		rec := map[string]any{"subject": r.Sub, "n": r.N, "kind": r.Kind, "at": r.At, "details": r.Body, "record": x.Record,
			"salt": x.Salt, "commitment": base64.StdEncoding.EncodeToString(c[:])}
		if x.Pending {
			rec["pending"] = true
		} else {
			var proof []string
			tp := fmt.Sprintf("c2sp.org/tlog-proof@v1\nindex %d\n", *x.Index)
			for _, p := range x.Proof {
				proof = append(proof, v2.Hashes[p])
				tp += v2.Hashes[p] + "\n"
			}
			rec["index"], rec["inclusion_proof"], rec["tlog_proof"] = *x.Index, proof, tp+"\n"+v2.Log.Checkpoint
		}
		records = append(records, rec)
	}
	doc["format"], doc["records"] = "symbiont-ledger-proofs/1", records
	delete(doc, "hashes")
	out, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// selfCheckLine is the server's log line of its start's ledger self-check.
type selfCheckLine struct {
	Msg            string `json:"msg"`
	Size           int64  `json:"size"`
	VerifiedFrom   int64  `json:"verified_from"`
	EntriesChecked int64  `json:"entries_checked"`
	Pending        int64  `json:"pending"`
	// The background pass's line (debug).
	From int64 `json:"from"`
}

// logLines returns the JSON log lines with the message msg.
func logLines(log, msg string) []selfCheckLine {
	var out []selfCheckLine
	for _, l := range strings.Split(log, "\n") {
		var line selfCheckLine
		if json.Unmarshal([]byte(l), &line) == nil && line.Msg == msg {
			out = append(out, line)
		}
	}
	return out
}

// TestLedgerStartAfterKill: the server is killed (SIGKILL) while consent changes and reads are
// recorded, integrated, and verified in the background. Restarted, it reads only what it had
// not verified yet and what was pending, serves the ledger and integrates on. `symbiont verify
// --full` finds the stored log intact (and cannot run while the server holds the database);
// once an old record is edited, it finds that, while a start, which does not read the record
// again, still serves the ledger.
func TestLedgerStartAfterKill(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	opt := serverOptions{env: []string{"SYMBIONT_RATE_API=0", "SYMBIONT_LOG_LEVEL=debug"}}
	s := startServer(t, dataDir, opt)
	b := createBrand(t, s, "Aurora")
	putPlan(t, s, b.SecretKey, map[string]string{"Order Completed": "purchases"}, nil)
	grant(t, s, b.SecretKey, "alice", "purchases", "personalization")

	// Acts from 8 clients until the kill, after the background pass has verified some.
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var acked atomic.Int64
	for c := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				user := fmt.Sprintf("user-%d-%d", c, i%20)
				req, _ := http.NewRequest("POST", s.Base+"/v1/consumers/"+user+"/consents",
					strings.NewReader(`{"category":"purchases","purpose":"personalization","duration_days":30}`))
				if i%2 == 1 {
					req, _ = http.NewRequest("GET", s.Base+"/v1/consumers/"+user+"/data?purpose=personalization", nil)
				}
				req.Header.Set("Authorization", bearer(b.SecretKey))
				req.Header.Set("Content-Type", "application/json")
				resp, err := httpClient.Do(req)
				if err != nil {
					return // killed
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode < 300 {
					acked.Add(1)
				}
			}
		})
	}
	deadline := time.Now().Add(60 * time.Second)
	for len(logLines(s.stderr.String(), "ledger entries verified")) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("the background pass verified nothing within 60 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.kill()
	close(stop)
	wg.Wait()
	if acked.Load() == 0 {
		t.Fatal("no act was recorded before the kill")
	}

	s = startServer(t, dataDir, opt) // ready: the ledger passed its self-check
	lines := logLines(s.stderr.String(), "ledger self-check passed")
	if len(lines) != 1 {
		t.Fatalf("self-check lines: %+v", lines)
	}
	sc := lines[0]
	if sc.VerifiedFrom == 0 || sc.VerifiedFrom > sc.Size || sc.EntriesChecked != sc.Size-sc.VerifiedFrom+sc.Pending {
		t.Fatalf("start after the kill: %+v", sc)
	}
	t.Logf("%d acts acknowledged before the kill; the start read %d entries (%d pending) of %d, from the verified state at %d",
		acked.Load(), sc.EntriesChecked, sc.Pending, sc.Size+sc.Pending, sc.VerifiedFrom)
	// The ledger goes on: alice's records verify.
	readData(t, s, b.SecretKey, "alice", "personalization")
	work := t.TempDir()
	fetchProofs(t, s, openWallet(t, s, b.SecretKey, "alice"), filepath.Join(work, "alice.json"))
	if code, out, errOut := runVerify(t, nil, "--ledger", s.Base, "--state", filepath.Join(work, "state.json"), filepath.Join(work, "alice.json")); code != 0 {
		t.Fatalf("verify after the restart: exit %d\n%s%s", code, out, errOut)
	}
	// The full check needs the database to itself (SQLite).
	if code, _, errOut := runVerify(t, nil, "--full", "--data", dataDir); code != 2 || !strings.Contains(errOut, "is in use by another symbiont process") {
		t.Fatalf("verify --full beside the running server: exit %d: %s", code, errOut)
	}
	s.stop(30 * time.Second)

	code, out, errOut := runVerify(t, nil, "--full", "--data", dataDir)
	if code != 0 || !regexp.MustCompile(`(?m)^OK: the stored log is intact: \d+ entries in the checkpoint of size \d+ `).MatchString(out) ||
		!strings.Contains(out, "Checked against the key stored in the database") {
		t.Fatalf("verify --full: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	// The first entry (alice's grant) is below every verified state since the restart.
	db, err := sql.Open("sqlite", filepath.Join(dataDir, "symbiont.db"))
	if err != nil {
		t.Fatal(err)
	}
	if res, err := db.Exec(`UPDATE ledger_entries SET record = replace(record, 'personalization', 'service') WHERE idx = 0`); err != nil {
		t.Fatal(err)
	} else if n, _ := res.RowsAffected(); n != 1 {
		t.Fatalf("%d entries edited", n)
	}
	db.Close()
	s = startServer(t, dataDir, opt)
	if lines := logLines(s.stderr.String(), "ledger self-check passed"); len(lines) != 1 || lines[0].VerifiedFrom == 0 {
		t.Fatalf("start after the edit: %+v", lines)
	}
	s.stop(30 * time.Second)
	code, out, errOut = runVerify(t, nil, "--full", "--data", dataDir)
	if code != 1 || strings.Contains(out, "OK") || !strings.Contains(errOut, "VERIFICATION FAILED: the stored log is not intact") ||
		!strings.Contains(errOut, "the record does not open to its commitment") {
		t.Fatalf("verify --full after the edit: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	// Nothing to check where there is no database.
	if code, _, errOut := runVerify(t, nil, "--full", "--data", filepath.Join(work, "none")); code != 2 || !strings.Contains(errOut, "no Symbiont database in") {
		t.Fatalf("verify --full of nothing: exit %d: %s", code, errOut)
	}
}
