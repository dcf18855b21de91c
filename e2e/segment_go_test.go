package e2e

import "testing"

// segmentGoModule and segmentGoVersion pin Segment's own Go library.
const (
	segmentGoModule  = "github.com/segmentio/analytics-go/v3"
	segmentGoVersion = "v3.3.0"
)

// TestSegmentGoLibrary sends identify, track, page, screen, group and alias calls with
// Segment's Go library (from the Go module proxy, built in a module of its own outside the
// repository) through a recording proxy. The library sends plain JSON with its context (and
// so context.library) at the batch level, which applies to every message that has no context
// of its own; every event must be stored exactly as that reading of the batch says, with the
// alias tying the anonymous id to the user.
func TestSegmentGoLibrary(t *testing.T) {
	t.Parallel()
	bin := goSDKProgram(t, segmentGoModule, segmentGoVersion, "Endpoint")
	sc := newSDKScenario(t, "Segment Go Library Co", "segment-go")
	rec := sc.record(t)
	r := runGoSDK(t, bin, sc)
	if r.Module != segmentGoVersion {
		t.Errorf("the program was built with %s %s, want %s", segmentGoModule, r.Module, segmentGoVersion)
	}
	wire := wireMessages(t, rec.batches(t, sc.b.WriteKey, wireWant{gzip: false, basicAuth: true}))
	ids := sc.checkStored(t, wire, sdkLibrary{Name: "analytics-go", Version: r.LibraryVersion, TimeField: "timestamp", BatchContext: true})
	sameIDs(t, r.deliveredByType(), ids)
}
