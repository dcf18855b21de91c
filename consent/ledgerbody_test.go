package consent

import (
	"encoding/json"
	"testing"
	"time"
)

// TestLedgerBodyEncoding checks that a consent record's ledger body encodes as the map it
// replaced did (keys in order, the same escaping), so that records keep their bytes.
func TestLedgerBodyEncoding(t *testing.T) {
	exp := time.Date(2027, 12, 2, 18, 0, 0, 0, time.FixedZone("x", -7200))
	for _, r := range []*Record{
		{ReceiptID: "rcpt_a", Category: "purchases", Purpose: "personalization", State: StateGiven, LegalBasis: BasisConsent,
			Method: MethodBrand, Actor: "brand:<key>&", ExpiresAt: exp, Jurisdiction: "EU"},
		{ReceiptID: "rcpt_b", Category: "c", Purpose: "p", State: StateWithdrawn, LegalBasis: BasisConsent, Method: "m\u2028", Actor: "consumer"},
	} {
		old := map[string]any{"receipt_id": r.ReceiptID, "category": r.Category, "purpose": r.Purpose, "state": r.State,
			"legal_basis": r.LegalBasis, "method": r.Method, "actor": r.Actor}
		if !r.ExpiresAt.IsZero() {
			old["expires_at"] = r.ExpiresAt.UTC().Format(time.RFC3339)
		}
		if r.Jurisdiction != "" {
			old["jurisdiction"] = r.Jurisdiction
		}
		want, _ := json.Marshal(old)
		got, err := json.Marshal(ledgerAct(r).Body)
		if err != nil || string(got) != string(want) {
			t.Fatalf("body %s (%v), want %s", got, err, want)
		}
	}
}
