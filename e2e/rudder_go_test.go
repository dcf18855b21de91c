package e2e

import "testing"

// rudderGoModule and rudderGoVersion pin RudderStack's Go SDK. (v4.2.3, the newest tag, is not
// in the checksum database the Go module proxy serves here; v4.2.2 is.)
const (
	rudderGoModule  = "github.com/rudderlabs/analytics-go/v4"
	rudderGoVersion = "v4.2.2"
)

// TestRudderStackGoSDK sends identify, track, page, screen, group and alias calls with
// RudderStack's Go SDK (from the Go module proxy, built in a module of its own outside the
// repository) at its default settings, which gzip every batch, through a recording proxy:
// every request must really be gzip, and every event stored exactly as the SDK sent it, with
// RudderStack's own fields (channel, originalTimestamp, sentAt, the random anonymousId it adds
// to calls that have none) and the alias tying the anonymous id to the user.
func TestRudderStackGoSDK(t *testing.T) {
	t.Parallel()
	bin := goSDKProgram(t, rudderGoModule, rudderGoVersion, "DataPlaneUrl")
	sc := newSDKScenario(t, "RudderStack Go SDK Co", "rudder-go")
	rec := sc.record(t)
	r := runGoSDK(t, bin, sc)
	if r.Module != rudderGoVersion {
		t.Errorf("the program was built with %s %s, want %s", rudderGoModule, r.Module, rudderGoVersion)
	}
	wire := wireMessages(t, rec.batches(t, sc.b.WriteKey, wireWant{gzip: true, basicAuth: true}))
	for id, m := range wire {
		if m["channel"] != "server" || m["originalTimestamp"] == nil || m["sentAt"] == nil {
			t.Errorf("message %s lacks RudderStack's fields (channel, originalTimestamp, sentAt): %s", id, jsonText(m))
		}
	}
	ids := sc.checkStored(t, wire, sdkLibrary{Name: "analytics-go", Version: r.LibraryVersion, TimeField: "originalTimestamp"})
	sameIDs(t, r.deliveredByType(), ids)
}
