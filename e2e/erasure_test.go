package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestErasureLeavesNoPlaintext stores distinctive personal data, checks that the consumer's
// export holds it, erases the consumer through the wallet (DELETE /v1/me), and then, with the
// server running and again stopped, scans every file of the data directory (symbiont.db, its
// -wal and -shm, keys.db, …, raw bytes) and the server's whole log for the distinctive values —
// the user id, the email and the phone number included: none may be left. The consumer's
// requests carried Idempotency-Keys (whose records once kept the user id in clear) and named
// the user id in request paths (which the log once kept). The wallet session that made the
// export must be revoked by the erasure.
func TestErasureLeavesNoPlaintext(t *testing.T) {
	t.Parallel()
	const (
		user  = "zz-erase-user-4711"
		email = "zz-unique-4711@example.com"
		phone = "+1 415 555 0147"
		name  = "Zelda ZZ-NAME-MARKER-4711"
		note  = "ZZ-PLAINTEXT-MARKER-4711"
		// brandName is stored in clear by design: the scan must find it (the scan works).
		brandName = "ZZ-CONTROL-BRAND-4711"
	)
	// The phone as sent, and as normalised (E.164) and digits only.
	markers := []string{email, name, note, user, phone, "+14155550147", "4155550147"}

	dataDir := t.TempDir()
	s := startServer(t, dataDir, serverOptions{})
	b := createBrand(t, s, brandName)
	putPlan(t, s, b.SecretKey, map[string]string{"Order Completed": "purchases"}, map[string]string{"email": "contact", "name": "profile", "phone": "contact"})
	grant(t, s, b.SecretKey, user, "contact", "service")
	grant(t, s, b.SecretKey, user, "profile", "service")
	// A grant retried with an Idempotency-Key: its record names the consumer.
	for range 2 {
		keyed(t, "POST", s.Base+"/v1/consumers/"+user+"/consents", b.SecretKey, "erase-grant-key-1",
			map[string]any{"category": "purchases", "purpose": "personalization", "duration_days": 30})
	}

	var ia ingestAnswer
	mustCall(t, "POST", s.Base+"/v1/batch", basic(b.WriteKey), map[string]any{"batch": []map[string]any{
		{"type": "identify", "userId": user, "messageId": "erase-identify-1", "traits": map[string]any{"email": email, "name": name, "phone": phone}},
		{"type": "track", "userId": user, "messageId": "erase-track-1", "event": "Order Completed",
			"properties": map[string]any{"note": note, "orderId": "ZZ-ORDER-1", "total": 47.11}},
	}}, http.StatusOK, &ia)
	if ia.Accepted != 2 || len(ia.Dropped) != 0 {
		t.Fatalf("ingest: %+v, want both messages accepted", ia)
	}
	if d := readData(t, s, b.SecretKey, user, "personalization", "purchases"); len(d.Data["purchases"]) != 1 ||
		!bytes.Contains(d.Data["purchases"][0], []byte(note)) {
		t.Fatalf("brand read before erasure: %+v", d.Data)
	}

	// The export holds everything, in clear.
	token := openWallet(t, s, b.SecretKey, user)
	keyed(t, "POST", s.Base+"/v1/me/consents", token, "erase-wallet-key-1", map[string]any{"category": "profile", "purpose": "personalization"})
	export := mustCall(t, "GET", s.Base+"/v1/me/export", bearer(token), nil, http.StatusOK, nil)
	for _, m := range []string{email, name, note} {
		if !bytes.Contains(export, []byte(m)) {
			t.Errorf("export before erasure lacks %q", m)
		}
	}

	var er struct {
		Events    int64  `json:"events_deleted"`
		Keys      int64  `json:"keys_destroyed"`
		Consumers int    `json:"profiles_erased"`
		At        string `json:"erased_at"`
	}
	mustCall(t, "DELETE", s.Base+"/v1/me", bearer(token), nil, http.StatusOK, &er)
	// identify is stored as one part per category (contact, profile), plus the track.
	if er.Events != 3 || er.Keys < 1 || er.Consumers != 1 || er.At == "" {
		t.Errorf("erasure answer %+v, want 3 events deleted, keys destroyed, 1 profile", er)
	}

	// The session that could fetch the export is gone with the data.
	for _, p := range []string{"/v1/me/export", "/v1/me", "/v1/me/data"} {
		st, body, _ := call(t, "GET", s.Base+p, bearer(token), nil)
		if st != http.StatusUnauthorized {
			t.Errorf("GET %s with the erased consumer's wallet token: %d, want 401: %s", p, st, tail(string(body), 300))
		}
	}
	// The brand no longer knows the consumer, and new events about them are not kept.
	if st, body, _ := call(t, "GET", s.Base+"/v1/consumers/"+user+"/data?purpose=personalization", bearer(b.SecretKey), nil); st != http.StatusNotFound {
		t.Errorf("brand read after erasure: %d, want 404: %s", st, tail(string(body), 300))
	}
	ia = ingestAnswer{}
	mustCall(t, "POST", s.Base+"/v1/track", basic(b.WriteKey), map[string]any{"userId": user, "messageId": "erase-track-2",
		"event": "Order Completed", "properties": map[string]any{"orderId": "ZZ-ORDER-2"}}, http.StatusOK, &ia)
	if ia.Accepted != 0 || len(ia.Dropped) != 1 || ia.Dropped[0].Reason != "unknown_consumer" {
		t.Errorf("event after erasure: %+v, want dropped as unknown_consumer", ia)
	}
	// A new wallet for the same user id starts empty.
	token2 := openWallet(t, s, b.SecretKey, user)
	export2 := mustCall(t, "GET", s.Base+"/v1/me/export", bearer(token2), nil, http.StatusOK, nil)
	for _, m := range []string{email, name, note} {
		if bytes.Contains(export2, []byte(m)) {
			t.Errorf("a new wallet of the erased user id exports %q", m)
		}
	}

	// Scan while the server runs (the -wal and -shm files exist), then after a clean stop.
	scanDataDir(t, "running", dataDir, brandName, markers)
	s.stop(30 * time.Second)
	scanDataDir(t, "stopped", dataDir, brandName, markers)

	// The log: every request above is in it (consumer paths with a keyed hash for the id).
	log := s.stderr.String() + s.stdout.String()
	if !strings.Contains(log, `"path":"/v1/consumers/`) || !strings.Contains(log, `"path":"/v1/me/consents"`) {
		t.Fatalf("the log lacks the request lines the scan looks through:\n%s", tail(log, 3000))
	}
	for _, m := range markers {
		if strings.Contains(log, m) {
			t.Errorf("the server's log holds %q", m)
		}
	}
}

// keyed sends a JSON request with an Idempotency-Key and requires a 2xx answer.
func keyed(t *testing.T, method, u, token, key string, body any) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, err := http.NewRequest(method, u, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", bearer(token))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", key)
	res, err := httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	rb, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode/100 != 2 {
		t.Fatalf("%s %s with Idempotency-Key: %d %s", method, u, res.StatusCode, rb)
	}
}

// scanDataDir looks for each marker's bytes in every file under dir; control must be found
// (it proves the scan reads what the store writes), the markers must not.
func scanDataDir(t *testing.T, when, dir, control string, markers []string) {
	t.Helper()
	found := map[string][]string{}
	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		files = append(files, rel+" ("+strconv.Itoa(len(b))+" bytes)")
		for _, m := range append([]string{control}, markers...) {
			if bytes.Contains(b, []byte(m)) {
				found[m] = append(found[m], rel)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: scanned %s", when, strings.Join(files, ", "))
	if len(found[control]) == 0 {
		t.Fatalf("%s: the scan did not find the brand name, which is stored in clear: the scan is broken (files: %v)", when, files)
	}
	for _, m := range markers {
		if len(found[m]) > 0 {
			t.Errorf("%s: after erasure, %q is still in %v", when, m, found[m])
		}
	}
}
