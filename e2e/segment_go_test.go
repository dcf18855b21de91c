package e2e

import "testing"

// TestSegmentGoLibrary sends identify, track, page, screen, group and alias calls with
// Segment's Go library (from the Go module proxy, built in a module of its own outside the
// repository) through a recording proxy. The library sends plain JSON with its context (and
// so context.library) at the batch level, which applies to every message that has no context
// of its own; every event must be stored exactly as that reading of the batch says, with the
// alias tying the anonymous id to the user.
func TestSegmentGoLibrary(t *testing.T) {
	t.Parallel()
	testGoSDK(t, goSDK{
		module: "github.com/segmentio/analytics-go/v3", version: "v3.3.0", endpointField: "Endpoint",
		wire: wireWant{gzip: false, basicAuth: true}, timeField: "timestamp", batchContext: true,
	}, "Segment Go Library Co", "segment-go")
}
