package tcf

import (
	"errors"
	"strings"
	"testing"
)

// FuzzDecode: Decode never panics, returns either a result or a *DecodeError, and what it
// returns holds the format's invariants.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		"COtybn4PA_zT4KjACBENAPCIAEBAAECAAIAAAAAAAAAA",
		"COrEAV4OrXx94ACABBENAHCIAD-AAAAAAACAAxAAAAgAIAwgAgAAAAEAgQAAAAAEAYQAQAAAACAAAABAAA.IBAgAAAgAIAwgAgAAAAEAAAACA.QAagAQAgAIAwgA.cAAAAAAAITg=",
		"COv__-wOv__-wC2AAAENAPCgAAAAAAAAAAAAA_wAQA_gEBABAEAAAA",
		"CQSbk4AQSbk4ANwAAAENAwCgAAAAAAAAAAYgACPAAAAA.IDKQA4AAgAKAGQAygAAA.YAAAAAAAAAAA",
		"CPTtLAAPTtLAAAKAAAENAAFgALwAAEAAAAAAAOgAgABgAAAA.IAoAAgABgAAEAQAAEAAA.d4AACEAAAAAA",
		"CA==", "B", "C.I.Y.d", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tc, err := Decode(s)
		if err != nil {
			var de *DecodeError
			if tc != nil || !errors.As(err, &de) || de.Reason == "" || de.Detail == "" {
				t.Fatalf("Decode(%q) = %v, %v", s, tc, err)
			}
			return
		}
		if tc.Version != 2 || len(tc.Language) != 2 || len(tc.PublisherCC) != 2 || strings.Count(s, ".") > 3 {
			t.Fatalf("Decode(%q): core %+v", s, tc)
		}
		if tc.PurposesConsent >= 1<<24 || tc.SpecialFeatureOptIns >= 1<<12 {
			t.Fatalf("Decode(%q): sets wider than their fields", s)
		}
		sets := []*VendorSet{&tc.VendorConsents, &tc.VendorLegitimateInterests, tc.DisclosedVendors, tc.AllowedVendors}
		for _, v := range sets {
			if v == nil {
				continue
			}
			prev := 0
			for _, r := range v.Ranges {
				if r.Start <= prev || r.End < r.Start || r.End > v.MaxID {
					t.Fatalf("Decode(%q): vendor ranges %v (max %d)", s, v.Ranges, v.MaxID)
				}
				if !v.Has(r.Start) || !v.Has(r.End) || v.Has(prev) && prev > 0 && prev+1 < r.Start && v.Has(prev+1) {
					t.Fatalf("Decode(%q): Has disagrees with %v", s, v.Ranges)
				}
				prev = r.End
			}
		}
		for _, p := range tc.PublisherRestrictions {
			if p.Type > RequireLegitimateInterest || p.PurposeID > 63 {
				t.Fatalf("Decode(%q): restriction %+v", s, p)
			}
			for _, r := range p.Vendors {
				if r.Start == 0 || r.End < r.Start {
					t.Fatalf("Decode(%q): restriction range %v", s, r)
				}
			}
		}
		if tc.Publisher != nil && tc.Publisher.CustomPurposesConsent >= 1<<tc.Publisher.NumCustomPurposes {
			t.Fatalf("Decode(%q): custom purposes", s)
		}
	})
}
