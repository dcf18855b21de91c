package e2e

import "testing"

// TestRudderStackGoSDK sends identify, track, page, screen, group and alias calls with
// RudderStack's Go SDK (from the Go module proxy, built in a module of its own outside the
// repository) at its default settings, which gzip every batch, through a recording proxy:
// every request must really be gzip, and every event stored exactly as the SDK sent it, with
// RudderStack's own fields (channel, originalTimestamp, sentAt, the random anonymousId it adds
// to calls that have none) and the alias tying the anonymous id to the user.
func TestRudderStackGoSDK(t *testing.T) {
	t.Parallel()
	testGoSDK(t, goSDK{
		// v4.2.3, the newest tag, is not in the checksum database the module proxy serves here.
		module: "github.com/rudderlabs/analytics-go/v4", version: "v4.2.2", endpointField: "DataPlaneUrl",
		wire: wireWant{gzip: true, basicAuth: true}, timeField: "originalTimestamp",
		check: func(t *testing.T, wire map[string]map[string]any) {
			for id, m := range wire {
				if m["channel"] != "server" || m["originalTimestamp"] == nil || m["sentAt"] == nil {
					t.Errorf("message %s lacks RudderStack's fields (channel, originalTimestamp, sentAt): %s", id, jsonText(m))
				}
			}
		},
	}, "RudderStack Go SDK Co", "rudder-go")
}
