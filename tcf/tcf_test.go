package tcf

import (
	"encoding/base64"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Sources of the TC strings below, all public and published by the IAB Tech Lab:
const (
	// iabtcf-java: InteractiveAdvertisingBureau/iabtcf-java @ 1bc03e64eb873a427dea52b3a1ae0d7c7ccfd1b3,
	// iabtcf-decoder/src/test/java/com/iabtcf/decoder/TCStringV2Test.java.
	javaV2Test = "iabtcf-java@1bc03e64 TCStringV2Test.java"
	// iabtcf-es: InteractiveAdvertisingBureau/iabtcf-es @ 839b9557bfb9852ab9187a65747fce8e305b90b3,
	// modules/core/test/ReportedIssues.test.ts.
	esIssues = "iabtcf-es@839b9557 modules/core/test/ReportedIssues.test.ts"
	// The TCF v2 specification: InteractiveAdvertisingBureau/GDPR-Transparency-and-Consent-Framework
	// @ 10b489eae0d5328e07241001520d984e15afb59a, "TCFv2/IAB Tech Lab - Consent string and vendor
	// list formats v2.md", section "TC String Format".
	spec = "TCF spec@10b489ea TC String Format"
)

// Strings the sources give without decoded values are checked against the values the IAB's
// reference decoder, @iabtechlabtcf/core 1.5.21 (iabtcf-es's published package), reports for
// them; the source is named on each.

func ids(xs ...int) []int { return xs }

func date(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

// TestDecodeCore checks every core field of the strings whose values the sources publish.
func TestDecodeCore(t *testing.T) {
	tests := []struct {
		source, s string
		want      TCString
		pc, pli   []int // purposes consent, LI transparency
		sf        []int
	}{{
		// testCanConstructTCModelFromBase64String: every field asserted there.
		source: javaV2Test, s: "COtybn4PA_zT4KjACBENAPCIAEBAAECAAIAAAAAAAAAA",
		want: TCString{Version: 2, Created: date("2020-01-26T17:01:00Z"), LastUpdated: date("2021-02-02T17:01:00Z"),
			CmpID: 675, CmpVersion: 2, ConsentScreen: 1, Language: "EN", VendorListVersion: 15, PolicyVersion: 2,
			IsServiceSpecific: false, UseNonStandardTexts: false, PurposeOneTreatment: true, PublisherCC: "AA"},
		sf: ids(1), pc: ids(2, 10), pli: ids(2, 9),
	}, {
		// The commented-out "TCString.decode finds all vendors as disclosed" test; values from
		// @iabtechlabtcf/core 1.5.21. A TCF v2.3 string (policy version 5).
		source: esIssues, s: "CQd924AQd924AASACCENCNFsAP_gAEIAACiQL6QBAAGAAOANmAcAF9IAIADgAA.IL6" + strings.Repeat("A", 255) + ".YIAAAAAAAAAA",
		want: TCString{Version: 2, Created: date("2026-01-13T00:00:00Z"), LastUpdated: date("2026-01-13T00:00:00Z"),
			CmpID: 18, CmpVersion: 2, ConsentScreen: 2, Language: "EN", VendorListVersion: 141, PolicyVersion: 5,
			IsServiceSpecific: true, PublisherCC: "US"},
		sf: ids(1, 2), pc: ids(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11), pli: ids(2, 7),
	}, {
		// The example string of the specification; values from @iabtechlabtcf/core 1.5.21.
		source: spec, s: "CQSbk4AQSbk4ANwAAAENAwCgAAAAAAAAAAYgACPAAAAA.IDKQA4AAgAKAGQAygAAA.YAAAAAAAAAAA",
		want: TCString{Version: 2, Created: date("2025-06-03T00:00:00Z"), LastUpdated: date("2025-06-03T00:00:00Z"),
			CmpID: 880, Language: "EN", VendorListVersion: 48, PolicyVersion: 2, IsServiceSpecific: true, PublisherCC: "DE"},
	}}
	for _, tc := range tests {
		got, err := Decode(tc.s)
		if err != nil {
			t.Fatalf("%s: Decode(%.20s…): %v", tc.source, tc.s, err)
		}
		core := *got
		core.SpecialFeatureOptIns, core.PurposesConsent, core.PurposesLITransparency = 0, 0, 0
		core.VendorConsents, core.VendorLegitimateInterests, core.PublisherRestrictions = VendorSet{}, VendorSet{}, nil
		core.DisclosedVendors, core.AllowedVendors, core.Publisher = nil, nil, nil
		if !reflect.DeepEqual(core, tc.want) {
			t.Errorf("%s: %.20s…:\n got %+v\nwant %+v", tc.source, tc.s, core, tc.want)
		}
		for _, f := range []struct {
			name      string
			got, want []int
		}{{"SpecialFeatureOptIns", got.SpecialFeatureOptIns.IDs(), tc.sf}, {"PurposesConsent", got.PurposesConsent.IDs(), tc.pc},
			{"PurposesLITransparency", got.PurposesLITransparency.IDs(), tc.pli}} {
			if !reflect.DeepEqual(f.got, f.want) {
				t.Errorf("%s: %.20s…: %s = %v, want %v", tc.source, tc.s, f.name, f.got, f.want)
			}
		}
	}
}

// TestDecodeVendors checks the vendor sections, bit field and range encoded, and the optional
// segments.
func TestDecodeVendors(t *testing.T) {
	tests := []struct {
		source, s string
		check     func(t *testing.T, tc *TCString)
	}{{
		// testConstructConsentsFromBitFields and testCanParseDisclosedAndAllowedVendors (bit
		// fields); testCanParseAllParts (one publisher purpose).
		javaV2Test, "COrEAV4OrXx94ACABBENAHCIAD-AAAAAAACAAxAAAAgAIAwgAgAAAAEAgQAAAAAEAYQAQAAAACAAAABAAA.IBAgAAAgAIAwgAgAAAAEAAAACA.QAagAQAgAIAwgA.cAAAAAAAITg=",
		func(t *testing.T, tc *TCString) {
			eqInts(t, "PurposesConsent", tc.PurposesConsent.IDs(), ids(3, 4, 5, 6, 7, 8, 9))
			eqInts(t, "VendorConsents", tc.VendorConsents.IDs(), ids(23, 37, 47, 48, 53, 65, 98))
			eqInts(t, "VendorLegitimateInterests", tc.VendorLegitimateInterests.IDs(), ids(37, 47, 48, 53, 65, 98, 129))
			eqInts(t, "AllowedVendors", tc.AllowedVendors.IDs(), ids(12, 23, 37, 47, 48, 53))
			eqInts(t, "DisclosedVendors", tc.DisclosedVendors.IDs(), ids(23, 37, 47, 48, 53, 65, 98, 129))
			if tc.VendorConsents.RangeEncoded || tc.VendorConsents.MaxID != 98 {
				t.Errorf("VendorConsents encoding: %+v", tc.VendorConsents)
			}
			eqInts(t, "Publisher.PurposesConsent", tc.Publisher.PurposesConsent.IDs(), ids(1))
		},
	}, {
		// testCanParseRangeEncodedVendorLegitimateInterests.
		javaV2Test, "COv__-wOv__-wC2AAAENAPCgAAAAAAAAAAAAA_wAQA_gEBABAEAAAA",
		func(t *testing.T, tc *TCString) {
			eqInts(t, "VendorLegitimateInterests", tc.VendorLegitimateInterests.IDs(), ids(128))
			if !tc.VendorLegitimateInterests.RangeEncoded {
				t.Error("LI section not range encoded")
			}
		},
	}, {
		// testRange: a two-vendor range entry.
		javaV2Test, "COwBOpCOwBOpCLqAAAENAPCAAAAAAAAAAAAAFfwAYFfAV-BVkAGBVYFWAAA.IFoEUQQgAIQwgIwQABAEAAAAOIAACAIAAAAQAIAgEAACEAAAAAgAQBAAAAAAAGBAAgAAAAAAAFAAECAAAgAAQARAEQAAAAAJAAIAAgAAAYQEAAAQmAgBC3ZAYzUw",
		func(t *testing.T, tc *TCString) {
			eqInts(t, "VendorConsents", tc.VendorConsents.IDs(), ids(702, 703))
			if got := tc.VendorConsents.Ranges; !reflect.DeepEqual(got, []Range{{702, 703}}) {
				t.Errorf("Ranges = %v", got)
			}
			for id, want := range map[int]bool{701: false, 702: true, 703: true, 704: false} {
				if tc.VendorConsents.Has(id) != want {
					t.Errorf("Has(%d) = %v", id, !want)
				}
			}
		},
	}, {
		// testRange: a one-vendor range entry.
		javaV2Test, "COwBOpCOwBOpCLqAAAENAPCAAAAAAAAAAAAAFfwAQFfgUbABAUaAAA.IFoEUQQgAIQwgIwQABAEAAAAOIAACAIAAAAQAIAgEAACEAAAAAgAQBAAAAAAAGBAAgAAAAAAAFAAECAAAgAAQARAEQAAAAAJAAIAAgAAAYQEAAAQmAgBC3ZAYzUw",
		func(t *testing.T, tc *TCString) { eqInts(t, "VendorConsents", tc.VendorConsents.IDs(), ids(703)) },
	}, {
		// testPurposesConsent.
		javaV2Test, "COwxsONOwxsONKpAAAENAdCAAMAAAAAAAAAAAAAAAAAA",
		func(t *testing.T, tc *TCString) {
			if !tc.PurposesConsent.Has(1) || !tc.PurposesConsent.Has(2) {
				t.Errorf("PurposesConsent = %v, want 1 and 2", tc.PurposesConsent.IDs())
			}
		},
	}, {
		// Issue 201: publisher restrictions that name one vendor more than once decode, and
		// purpose 1 requires consent of vendors 7, 20, 71, 122, 140 and 183.
		esIssues, "CO4VGswO4VGswAfZCBDEAzCsAP_AAH_AAAigGUNf_X9fb2vj-_599_t0eY1f9_63t-wzjheMs-8NyZ-X_J4Wv2MyvB34JqQKGRgkunLBAQdtHGncTQgBwIlViTLMY02MjzNKJrJEilsbe2dYGH9vn8XT_ZKZ70-_v__7v3___33_5Ayhr_6_r7e18f3_Pvv9ujzGr_v_W9v2GccLxln3huTPy_5PC1-xmV4O_BNSBQyMEl05YICDto407iaEAOBEqsSZZjGmxkeZpRNZIkUtjb2zrAw_t8_i6f7JTPen39___d-___--__ICgKAOAAcAA4AFAAjgB6AEYALcGACAW0AtoJAHAAOAAcACgARwA9ACMAFuFABALaAW0GgDgAHAAOABQAI4AegBGAC3DgAgFtALaEQBwADgAHAAoAEcAPQAjABbiQAQC2gFtCoA4ABwADgAUACOAHoARgAtxYAIBbQC2hkAcAA4ABwAKABHAD0AIwAW40AEAtoBbQ6AOAAcAA4AFAAjgB6AEYALceACAW0AtohAHAAOAAcACgARwA9ACMAFuRABALaAW0SgDgAHAAOABQAI4AegBGAC3JgAgFtALaKQBwADgAHAAoAEcAPQAjABblQAQC2gFtA",
		func(t *testing.T, tc *TCString) {
			var got []int
			seen := map[int]bool{}
			for _, p := range tc.PublisherRestrictions {
				if p.PurposeID != 1 || p.Type != RequireConsent {
					continue
				}
				for _, r := range p.Vendors {
					for id := r.Start; id <= r.End; id++ {
						if !seen[id] {
							seen[id] = true
							got = append(got, id)
						}
					}
				}
			}
			eqInts(t, "purpose 1 require-consent vendors", got, ids(7, 20, 71, 122, 140, 183))
			if tc.PublisherRestrictions[0].Restricts(8) || !tc.PublisherRestrictions[0].Restricts(183) {
				t.Error("Restricts")
			}
		},
	}, {
		// The specification's example: all three segments; values from @iabtechlabtcf/core 1.5.21.
		spec, "CQSbk4AQSbk4ANwAAAENAwCgAAAAAAAAAAYgACPAAAAA.IDKQA4AAgAKAGQAygAAA.YAAAAAAAAAAA",
		func(t *testing.T, tc *TCString) {
			eqInts(t, "VendorConsents", tc.VendorConsents.IDs(), ids(1, 2, 3, 4))
			eqInts(t, "DisclosedVendors", tc.DisclosedVendors.IDs(), ids(1, 2, 3, 4, 5, 100, 404))
			if tc.Publisher == nil || tc.Publisher.PurposesConsent != 0 || tc.AllowedVendors != nil {
				t.Errorf("segments: publisher %+v, allowed %v", tc.Publisher, tc.AllowedVendors)
			}
		},
	}, {
		// A TCF v2.2 string with a publisher TC segment, from a comment in the "Decode tcString
		// for Debug Purposes" test; values from @iabtechlabtcf/core 1.5.21.
		esIssues, "CPTtLAAPTtLAAAKAAAENAAFgALwAAEAAAAAAAOgAgABgAAAA.IAoAAgABgAAEAQAAEAAA.d4AACEAAAAAA",
		func(t *testing.T, tc *TCString) {
			eqInts(t, "PurposesConsent", tc.PurposesConsent.IDs(), ids(1, 3, 4, 5, 6))
			eqInts(t, "PurposesLITransparency", tc.PurposesLITransparency.IDs(), ids(2))
			eqInts(t, "VendorConsents", tc.VendorConsents.IDs(), ids(11, 28, 29))
			eqInts(t, "DisclosedVendors", tc.DisclosedVendors.IDs(), ids(11, 28, 29, 50, 60, 80))
			eqInts(t, "Publisher.PurposesConsent", tc.Publisher.PurposesConsent.IDs(), ids(1, 3, 4, 5, 6))
			eqInts(t, "Publisher.PurposesLITransparency", tc.Publisher.PurposesLITransparency.IDs(), ids(2, 7))
			if tc.PolicyVersion != 5 || tc.CmpID != 10 || !tc.IsServiceSpecific {
				t.Errorf("core: %+v", tc)
			}
		},
	}}
	for _, tc := range tests {
		t.Run(tc.s[:12], func(t *testing.T) {
			got, err := Decode(tc.s)
			if err != nil {
				t.Fatalf("%s: %v", tc.source, err)
			}
			tc.check(t, got)
		})
	}
}

func eqInts(t *testing.T, what string, got, want []int) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

// base64FromBitString is iabtcf-java's TCStringV2Test helper: it packs a bit string into bytes
// and encodes them with Java's URL encoder, which pads with '='.
func base64FromBitString(bits string) string {
	var b []byte
	for i := 0; i < len(bits); i += 8 {
		chunk := bits[i:min(i+8, len(bits))]
		v, _ := strconv.ParseUint(chunk, 2, 8)
		b = append(b, byte(v))
	}
	return base64.URLEncoding.EncodeToString(b)
}

// TestBitStringCases are iabtcf-java's tests that build a segment bit by bit.
func TestBitStringCases(t *testing.T) {
	const core = "COtybn4PA_zT4KjACBENAPCIAEBAAECAAIAAAAAAAAAA"
	// testPublisherPurposes.
	pub := "011" + "100000000000000000000000" + "000000000000000000000001" + "000010" + "01" + "11" + "000"
	tc, err := Decode(core + "." + base64FromBitString(pub))
	if err != nil {
		t.Fatal(err)
	}
	p := tc.Publisher
	eqInts(t, "PubPurposesConsent", p.PurposesConsent.IDs(), ids(1))
	eqInts(t, "PubPurposesLITransparency", p.PurposesLITransparency.IDs(), ids(24))
	eqInts(t, "CustomPurposesConsent", p.CustomPurposesConsent.IDs(), ids(2))
	eqInts(t, "CustomPurposesLITransparency", p.CustomPurposesLITransp.IDs(), ids(1, 2))

	// testPublisherRestrictions: three restrictions without vendors.
	bits := "0000100011101011100" + "1000000000000001010" + "0000001110101110010" + "0000000000000101000" +
		"0000110011111000000" + "0000000000000000100" + "0011010000000011110" + "0001000000000000000" +
		strings.Repeat("0000000000000000000", 5) + "000000000011" +
		"000001" + "01" + "000000000000" + "000010" + "00" + "000000000000" + "000011" + "10" + "000000000000" + "0"
	tc, err = Decode(base64FromBitString(bits))
	if err != nil {
		t.Fatal(err)
	}
	want := []PublisherRestriction{{1, RequireConsent, []Range{}}, {2, NotAllowed, []Range{}}, {3, RequireLegitimateInterest, []Range{}}}
	if !reflect.DeepEqual(tc.PublisherRestrictions, want) {
		t.Errorf("PublisherRestrictions = %+v, want %+v", tc.PublisherRestrictions, want)
	}

	// testDefaultSegmentType: a segment of type 0 after the core is not a segment type we know.
	_, err = Decode(core + "." + base64FromBitString("00000000"))
	wantReason(t, err, "segment_type")
}

func wantReason(t *testing.T, err error, reason string) {
	t.Helper()
	var de *DecodeError
	if !errors.As(err, &de) || de.Reason != reason {
		t.Fatalf("error %v, want reason %s", err, reason)
	}
	if de.Detail == "" || !strings.HasPrefix(de.Error(), "tcf: "+reason) {
		t.Fatalf("error text %q", de.Error())
	}
}

// bitString builds a TC string segment from a bit string (padded with zeros), for the
// malformed cases below.
func bitString(bits string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for len(bits)%6 != 0 {
		bits += "0"
	}
	var b strings.Builder
	for i := 0; i < len(bits); i += 6 {
		v, _ := strconv.ParseUint(bits[i:i+6], 2, 8)
		b.WriteByte(alphabet[v])
	}
	return b.String()
}

func bin(v, n int) string {
	s := strconv.FormatInt(int64(v), 2)
	return strings.Repeat("0", n-len(s)) + s
}

// coreBits is a valid core string's bits up to the vendor sections: version 2, policy 4,
// service-specific, English, German publisher.
var coreBits = bin(2, 6) + bin(17000000000, 36) + bin(17000000000, 36) + bin(10, 12) + bin(1, 12) + bin(1, 6) +
	bin(4, 6) + bin(13, 6) + bin(100, 12) + bin(4, 6) + "1" + "0" + bin(0, 12) + bin(0x800000, 24) + bin(0, 24) + "0" + bin(3, 6) + bin(4, 6)

// rangeSection encodes a vendor section in range encoding.
func rangeSection(max int, entries ...[2]int) string {
	s := bin(max, 16) + "1" + bin(len(entries), 12)
	for _, e := range entries {
		if e[0] == e[1] {
			s += "0" + bin(e[0], 16)
		} else {
			s += "1" + bin(e[0], 16) + bin(e[1], 16)
		}
	}
	return s
}

func TestDecodeBuilt(t *testing.T) {
	s := bitString(coreBits + rangeSection(10, [2]int{2, 4}, [2]int{7, 7}) + bin(0, 16) + "0" + bin(0, 12))
	tc, err := Decode(s)
	if err != nil {
		t.Fatal(err)
	}
	if tc.Language != "EN" || tc.PublisherCC != "DE" || !tc.PurposesConsent.Has(1) || tc.PurposesConsent.Has(2) || tc.PolicyVersion != 4 {
		t.Fatalf("core: %+v", tc)
	}
	if tc.Created != time.Unix(1700000000, 0).UTC() {
		t.Errorf("Created = %v", tc.Created)
	}
	eqInts(t, "VendorConsents", tc.VendorConsents.IDs(), ids(2, 3, 4, 7))
	if err := tc.CheckPolicy(); err != nil {
		t.Errorf("CheckPolicy: %v", err)
	}
}

// TestMalformed: every way a string can be wrong has its own reason.
func TestMalformed(t *testing.T) {
	valid := coreBits + rangeSection(10, [2]int{2, 4}) + bin(0, 16) + "0" + bin(0, 12)
	tests := []struct {
		name, s, reason string
	}{
		{"empty", "", "empty"},
		{"too long", strings.Repeat("A", MaxLength+1), "too_long"},
		{"not base64url", "COtybn4PA/zT4KjACBENAPCIAEBAAECAAIAAAAAAAAAA", "base64"},
		{"standard base64 plus", "COtybn4PA+zT4KjACBENAPCIAEBAAECAAIAAAAAAAAAA", "base64"},
		{"padding inside", "COty=bn4PA_zT4KjACBENAPCIAEBAAECAAIAAAAAAAAAA", "base64"},
		{"too much padding", "COtybn4PA_zT4KjACBENAPCIAEBAAECAAIAAAAAAAAA===", "base64"},
		{"empty segment", "COtybn4PA_zT4KjACBENAPCIAEBAAECAAIAAAAAAAAAA..IBAgAAAgAIAwgAgAAAAEAAAACA", "base64"},
		{"trailing dot", "COtybn4PA_zT4KjACBENAPCIAEBAAECAAIAAAAAAAAAA.", "base64"},
		{"UTF-8", "COtybn4PA_zT4KjACBENAPCIAEBAAECAAIAAAAAAAAAé", "base64"},
		// iabtcf-es issue 156: a version 1 string.
		{"version 1", "BOhwdphOxFC7tAHABBFRC--AAAAuhr_7__7-_9_-_f__9uj3Or_v_f__32ccL59v_h_7v-_7fi_20nV4u_1vft9yfk1-5ctDztp507iakivXmqdeb9v_nz3_5pxP78k89r7337Ew_v8_v-b7BCON_YxEiA", "version"},
		{"version 3", bitString(bin(3, 6) + valid[6:]), "version"},
		// iabtcf-java TCStringDecoderTest: a version field and nothing else.
		{"version only", "CA==", "truncated"},
		{"cut core", "COtybn4PA_zT4KjACBENAPCIAEBAAEC", "truncated"},
		// iabtcf-es issue 142: a bit field longer than what is left of its segment.
		{"bit field past the end", "CLSYjTaOngnCIAOABBENAXCMAGOAABBAAA7IA5n-m7fP6_3fbqVv6E__PoA5Aqff3aJx8tv_1967rfnQEQoAIAAQCrwkAEABAcACABIMACAAuApEVABABUSABgBCAVSAtIoACACIArYQAHACgAFgAVwBJgDcAI7AWgMAAgBiKgAgBMgFfKQAQBRkQAQA4AFiBAAoA-AEVAJlAVgAtYcACAJcAr4eABAK8OgBgFzAOmAqwgABAWyA.IFukWSQh", "truncated"},
		{"no restrictions count", bitString(coreBits + rangeSection(10, [2]int{2, 4}) + bin(0, 16) + "0")[:len(bitString(coreBits+rangeSection(10, [2]int{2, 4})+bin(0, 16)+"0"))-1], "truncated"},
		{"segment type 0", bitString(valid) + "." + bitString("000"+bin(0, 16)+"0"), "segment_type"},
		{"segment type 4", bitString(valid) + "." + bitString("100"+bin(0, 16)+"0"), "segment_type"},
		{"segment twice", bitString(valid) + "." + bitString("001"+bin(0, 16)+"0") + "." + bitString("001"+bin(0, 16)+"0"), "segment_type"},
		{"five segments", bitString(valid) + "." + bitString("001"+bin(0, 16)+"0") + "." + bitString("010"+bin(0, 16)+"0") + "." + bitString("011"+bin(0, 60)) + "." + bitString("011"+bin(0, 60)), "segment_type"},
		{"range backwards", bitString(coreBits + rangeSection(10, [2]int{4, 2}) + bin(0, 16) + "0" + bin(0, 12)), "range"},
		{"ranges out of order", bitString(coreBits + rangeSection(10, [2]int{5, 6}, [2]int{2, 3}) + bin(0, 16) + "0" + bin(0, 12)), "range"},
		{"ranges overlap", bitString(coreBits + rangeSection(10, [2]int{2, 5}, [2]int{5, 6}) + bin(0, 16) + "0" + bin(0, 12)), "range"},
		{"range beyond max", bitString(coreBits + rangeSection(10, [2]int{9, 11}) + bin(0, 16) + "0" + bin(0, 12)), "range"},
		{"vendor 0", bitString(coreBits + rangeSection(10, [2]int{0, 0}) + bin(0, 16) + "0" + bin(0, 12)), "range"},
		{"disclosed out of order", bitString(valid) + "." + bitString("001"+rangeSection(10, [2]int{3, 3}, [2]int{1, 1})), "range"},
		{"restriction backwards", bitString(coreBits + rangeSection(10) + bin(0, 16) + "0" + bin(1, 12) + bin(2, 6) + "00" + bin(1, 12) + "1" + bin(9, 16) + bin(3, 16)), "range"},
		{"restriction type 3", bitString(coreBits + rangeSection(10) + bin(0, 16) + "0" + bin(1, 12) + bin(2, 6) + "11" + bin(0, 12)), "field"},
		{"language letter", bitString(valid[:6+36+36+12+12+6] + bin(26, 6) + valid[6+36+36+12+12+6+6:]), "field"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Decode(tc.s)
			if got != nil {
				t.Fatalf("Decode returned a result with error %v", err)
			}
			wantReason(t, err, tc.reason)
		})
	}
	if _, err := Decode(bitString(valid)); err != nil {
		t.Fatalf("the valid base of the cases fails: %v", err)
	}
}

func TestCheckPolicy(t *testing.T) {
	// iabtcf-java's strings are TCF v2.0 (policy version 2), some with global scope.
	for s, reason := range map[string]string{
		"COtybn4PA_zT4KjACBENAPCIAEBAAECAAIAAAAAAAAAA":                                   "policy_version",
		"CQSbk4AQSbk4ANwAAAENAwCgAAAAAAAAAAYgACPAAAAA.IDKQA4AAgAKAGQAygAAA.YAAAAAAAAAAA": "policy_version",
		bitString(strings.Replace(coreBits, "1"+"0"+bin(0, 12)+bin(0x800000, 24), "0"+"0"+bin(0, 12)+bin(0x800000, 24), 1) + rangeSection(10) + bin(0, 16) + "0" + bin(0, 12)): "global_scope",
	} {
		tc, err := Decode(s)
		if err != nil {
			t.Fatal(err)
		}
		wantReason(t, tc.CheckPolicy(), reason)
	}
	tc, err := Decode("CPTtLAAPTtLAAAKAAAENAAFgALwAAEAAAAAAAOgAgABgAAAA.IAoAAgABgAAEAQAAEAAA.d4AACEAAAAAA")
	if err != nil || tc.CheckPolicy() != nil {
		t.Fatalf("a TCF v2.2 string: %v, %v", err, tc.CheckPolicy())
	}
}

func TestIDSet(t *testing.T) {
	s := IDSet(1<<0 | 1<<23 | 1<<63)
	eqInts(t, "IDs", s.IDs(), ids(1, 24, 64))
	for id, want := range map[int]bool{0: false, 1: true, 2: false, 24: true, 64: true, 65: false, -1: false} {
		if s.Has(id) != want {
			t.Errorf("Has(%d) = %v", id, !want)
		}
	}
	var v VendorSet
	if v.Has(1) || v.Len() != 0 || len(v.IDs()) != 0 {
		t.Error("empty VendorSet")
	}
}

func BenchmarkDecode(b *testing.B) {
	s := "CQd924AQd924AASACCENCNFsAP_gAEIAACiQL6QBAAGAAOANmAcAF9IAIADgAA.IL6" + strings.Repeat("A", 255) + ".YIAAAAAAAAAA"
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(s); err != nil {
			b.Fatal(err)
		}
	}
}
