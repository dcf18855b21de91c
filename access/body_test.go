package access

import (
	"encoding/json"
	"testing"

	"github.com/symbiont/symbiont/store"
)

// TestAccessBodyEncoding checks that an access record's ledger body encodes as the map it
// replaced did, so that records keep their bytes.
func TestAccessBodyEncoding(t *testing.T) {
	for _, r := range []*store.AccessRecord{
		{Action: "read", Purpose: "personalization", Categories: []string{"browsing", "purchases"}, Records: 5, Actor: "brand:<k>&"},
		{Action: "erase", Purpose: PurposeConsumerRequest, Withheld: []string{"x"}, RequestID: "req-1", Actor: "consumer"},
	} {
		old := map[string]any{"action": r.Action, "purpose": r.Purpose, "categories": nonNil(r.Categories), "withheld": nonNil(r.Withheld),
			"records": r.Records, "actor": r.Actor}
		if r.RequestID != "" {
			old["request_id"] = r.RequestID
		}
		want, _ := json.Marshal(old)
		got, err := json.Marshal(&accessBody{Action: r.Action, Actor: r.Actor, Categories: nonNil(r.Categories), Purpose: r.Purpose,
			Records: r.Records, RequestID: r.RequestID, Withheld: nonNil(r.Withheld)})
		if err != nil || string(got) != string(want) {
			t.Fatalf("body %s (%v), want %s", got, err, want)
		}
	}
}
