// Package tcf decodes the consent strings of the IAB Europe Transparency & Consent Framework,
// version 2 ("TC strings"), as specified in "IAB Tech Lab – Consent string and vendor list
// formats v2" (github.com/InteractiveAdvertisingBureau/GDPR-Transparency-and-Consent-Framework,
// TCFv2). It does no I/O, keeps no state and knows nothing of what a decision means to its
// caller: it turns a string into a [TCString] or says exactly why it cannot.
//
// A consent management platform (CMP) writes a TC string when a user makes their choices on its
// banner; sites pass it along with their events and ad requests. The string records, for the
// user, which of the TCF's standard purposes (1–11 are defined today, 24 are encodable) they
// consented to, which special features (1–2 defined, 12 encodable) they opted in to, which
// vendors of the Global Vendor List they consented to, and which purposes the publisher (the
// site itself) may use.
//
// # Decoding
//
// [Decode] takes a TC string and returns a [TCString] holding every field of every segment, or
// a *[DecodeError] whose Reason is a short, stable code. Nothing is guessed: a string that
// breaks the format is an error, never a partial result.
//
// [TCString.CheckPolicy] then says whether a well-formed string may be acted on under the
// current policies (TCF v2.2 and later): a string of policy version 3 or older, or one with
// the global scope TCF v2.2 abolished, decodes but does not pass.
//
// # TC String Format
//
// A TC string is one to four segments joined by '.'. Each segment is the URL-safe base64
// alphabet (RFC 4648 §5: A–Z a–z 0–9 - _), six bits a character, read as one big-endian bit
// string, left to right; the bits after a segment's last field are padding. '=' padding, which
// the IAB's encoders never write, is accepted at the end of a segment where base64 would put
// it (iabtcf-java accepts it too; iabtcf-es does not).
//
// The first segment is the core string. It starts with a 6-bit Version, which must be 2
// (version 1 strings, which start with 'B', were retired in 2020), followed by:
//
//	Created                 36  deciseconds since 1970 (since 2021: the day, at 00:00 UTC)
//	LastUpdated             36  deciseconds since 1970 (since 2021: the day, at 00:00 UTC)
//	CmpId                   12
//	CmpVersion              12
//	ConsentScreen            6
//	ConsentLanguage         12  two letters, 6 bits each, a=0 … z=25
//	VendorListVersion       12
//	TcfPolicyVersion         6  4 for TCF v2.2, 5 for v2.3
//	IsServiceSpecific        1
//	UseNonStandardTexts      1
//	SpecialFeatureOptIns    12  bit i (from the left) is special feature i+1
//	PurposesConsent         24  bit i is purpose i+1
//	PurposesLITransparency  24
//	PurposeOneTreatment      1
//	PublisherCC             12  two letters, as ConsentLanguage
//	vendor consents             a vendor section (below)
//	vendor legitimate interests a vendor section
//	NumPubRestrictions      12  then that many entries of
//	    PurposeId            6
//	    RestrictionType      2  0 not allowed, 1 require consent, 2 require legitimate interest
//	    NumEntries          12  then that many range entries (below)
//
// A vendor section is MaxVendorId (16 bits) and IsRangeEncoding (1 bit), then either a bit
// field of MaxVendorId bits (bit i is vendor i+1) or NumEntries (12 bits) range entries. A
// range entry is IsARange (1 bit), StartOrOnlyVendorId (16 bits) and, if IsARange,
// EndVendorId (16 bits).
//
// Every later segment starts with a 3-bit SegmentType: 1 DisclosedVendors (a vendor section),
// 2 AllowedVendors (a vendor section; deprecated with out-of-band consent in 2021, still
// decoded), 3 PublisherTC:
//
//	PubPurposesConsent            24
//	PubPurposesLITransparency     24
//	NumCustomPurposes              6
//	CustomPurposesConsent          NumCustomPurposes bits
//	CustomPurposesLITransparency   NumCustomPurposes bits
//
// # What Is Rejected
//
// Decode rejects, with these reasons: an empty string or one longer than [MaxLength] bytes
// ("empty", "too_long"); a character outside the alphabet or misplaced padding ("base64"); a
// version other than 2 ("version"); a segment that ends before its fields do ("truncated"); a
// segment type other than 1–3 after the core, or one given twice ("segment_type"); a range
// entry whose end is before its start, whose ids are 0 or above the section's MaxVendorId, or,
// in the vendor sections, that does not start after the previous entry's end ("range"); a
// letter code above 25 or a restriction type of 3 ("field").
//
// Range entries of publisher restrictions need not be in order across entries: real strings
// encode one vendor under one restriction more than once (iabtcf-es issue 201), and decoders
// accept them.
package tcf

import (
	"fmt"
	"strings"
	"time"
)

// MaxLength is the longest TC string Decode accepts, in bytes. The longest strings seen in
// practice, with every vendor's consent and many publisher restrictions, are a few kilobytes.
const MaxLength = 64 << 10

// MinPolicyVersion is the lowest TcfPolicyVersion of a string that may be acted on: TCF v2.2's.
// Strings of older policies were deemed invalid after 30 September 2023.
const MinPolicyVersion = 4

// TCString is a decoded TC string: every field of every segment present.
type TCString struct {
	Version int // always 2

	// Created and LastUpdated are when the string was created and last changed. Since December
	// 2021 CMPs set both to the day of the user's last change, at 00:00 UTC.
	Created, LastUpdated time.Time

	CmpID         int // the CMP that last updated the string, from the Global CMP List
	CmpVersion    int
	ConsentScreen int    // the CMP's own number for the screen where the user decided
	Language      string // ConsentLanguage: two upper-case ISO 639-1 letters, e.g. "EN"

	VendorListVersion int // the Global Vendor List version the disclosures came from
	PolicyVersion     int // TcfPolicyVersion

	IsServiceSpecific   bool
	UseNonStandardTexts bool // UseNonStandardStacks before TCF v2.2

	SpecialFeatureOptIns   IDSet // special features 1–12
	PurposesConsent        IDSet // purposes 1–24
	PurposesLITransparency IDSet // purposes 1–24
	PurposeOneTreatment    bool
	PublisherCC            string // two upper-case ISO 3166-1 letters, e.g. "DE"

	VendorConsents            VendorSet
	VendorLegitimateInterests VendorSet
	PublisherRestrictions     []PublisherRestriction

	// The optional segments: nil when absent.
	DisclosedVendors *VendorSet
	AllowedVendors   *VendorSet // deprecated since 2021
	Publisher        *PublisherTC
}

// IDSet is a set of small ids (purposes 1–24, special features 1–12, custom purposes 1–63):
// bit id-1 is set when id is in the set.
type IDSet uint64

// Has reports whether id is in the set.
func (s IDSet) Has(id int) bool { return id >= 1 && id <= 64 && s&(1<<(id-1)) != 0 }

// IDs returns the ids in the set, ascending.
func (s IDSet) IDs() []int {
	var out []int
	for id := 1; id <= 64; id++ {
		if s.Has(id) {
			out = append(out, id)
		}
	}
	return out
}

// Range is an inclusive range of vendor ids.
type Range struct{ Start, End int }

// VendorSet is a set of vendor ids, as one of the vendor sections encodes it.
type VendorSet struct {
	MaxID int // MaxVendorId as encoded: no id in the set is larger
	// RangeEncoded reports which encoding the section used (the set is the same either way).
	RangeEncoded bool
	// Ranges are the ids in the set: ascending, disjoint. A bit field's consecutive ids become
	// one range; range entries are kept as encoded.
	Ranges []Range
}

// Has reports whether vendor id is in the set.
func (v *VendorSet) Has(id int) bool {
	lo, hi := 0, len(v.Ranges)
	for lo < hi { // the first range ending at or after id
		m := int(uint(lo+hi) >> 1)
		if v.Ranges[m].End < id {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo < len(v.Ranges) && v.Ranges[lo].Start <= id
}

// Len returns the number of vendors in the set.
func (v *VendorSet) Len() int {
	n := 0
	for _, r := range v.Ranges {
		n += r.End - r.Start + 1
	}
	return n
}

// IDs returns the vendor ids in the set, ascending.
func (v *VendorSet) IDs() []int {
	out := make([]int, 0, v.Len())
	for _, r := range v.Ranges {
		for id := r.Start; id <= r.End; id++ {
			out = append(out, id)
		}
	}
	return out
}

// RestrictionType is how a publisher restricts vendors' processing for a purpose.
type RestrictionType int

// Restriction types.
const (
	NotAllowed                RestrictionType = 0 // the purpose is flatly not allowed
	RequireConsent            RestrictionType = 1 // only with consent, even if a vendor claims legitimate interest
	RequireLegitimateInterest RestrictionType = 2 // only on legitimate interest
)

// PublisherRestriction is one entry of the core string's publisher restrictions.
type PublisherRestriction struct {
	PurposeID int
	Type      RestrictionType
	// Vendors are the restricted vendors' ids, as encoded (each range ascending; the ranges in
	// the order given, possibly overlapping).
	Vendors []Range
}

// Restricts reports whether the restriction applies to vendor id.
func (p *PublisherRestriction) Restricts(id int) bool {
	for _, r := range p.Vendors {
		if r.Start <= id && id <= r.End {
			return true
		}
	}
	return false
}

// PublisherTC is the publisher's own purposes segment.
type PublisherTC struct {
	PurposesConsent        IDSet // purposes 1–24
	PurposesLITransparency IDSet
	NumCustomPurposes      int   // 0–63
	CustomPurposesConsent  IDSet // custom purposes 1–NumCustomPurposes
	CustomPurposesLITransp IDSet
}

// DecodeError says why a TC string was rejected.
type DecodeError struct {
	// Reason is a short, stable code: empty, too_long, base64, version, truncated,
	// segment_type, range, field, policy_version or global_scope (the last two from
	// CheckPolicy).
	Reason string
	// Segment is the 0-based index of the segment at fault (0 is the core string).
	Segment int
	Detail  string // for humans
}

func (e *DecodeError) Error() string {
	if e.Segment > 0 {
		return fmt.Sprintf("tcf: %s: segment %d: %s", e.Reason, e.Segment+1, e.Detail)
	}
	return "tcf: " + e.Reason + ": " + e.Detail
}

// Segment types after the core string.
const (
	segDisclosed = 1
	segAllowed   = 2
	segPublisher = 3
)

// Decode decodes a TC string.
func Decode(s string) (*TCString, error) {
	switch {
	case s == "":
		return nil, &DecodeError{Reason: "empty", Detail: "the TC string is empty"}
	case len(s) > MaxLength:
		return nil, &DecodeError{Reason: "too_long", Detail: fmt.Sprintf("the TC string is %d bytes, over the %d-byte limit", len(s), MaxLength)}
	}
	t := &TCString{}
	for i, more := 0, true; more; i++ {
		var seg string
		seg, s, more = strings.Cut(s, ".")
		if seg == "" {
			return nil, &DecodeError{Reason: "base64", Segment: i, Detail: "empty segment"}
		}
		if i == 4 {
			return nil, &DecodeError{Reason: "segment_type", Segment: i, Detail: "a TC string has at most 4 segments"}
		}
		r, err := newReader(seg, i)
		if err != nil {
			return nil, err
		}
		if i == 0 {
			err = r.core(t)
		} else {
			err = r.optional(t)
		}
		if err != nil {
			return nil, err
		}
	}
	return t, nil
}

// CheckPolicy reports whether t may be acted on under the current policies: its policy version
// is at least MinPolicyVersion (TCF v2.2), and it is service-specific (TCF v2.2 made every
// string service-specific; one with IsServiceSpecific 0 is invalid). The error is a
// *DecodeError with reason policy_version or global_scope.
func (t *TCString) CheckPolicy() error {
	if t.PolicyVersion < MinPolicyVersion {
		return &DecodeError{Reason: "policy_version", Detail: fmt.Sprintf("TCF policy version %d predates TCF v2.2 (policy version %d); strings of older policies are invalid since 30 September 2023", t.PolicyVersion, MinPolicyVersion)}
	}
	if !t.IsServiceSpecific {
		return &DecodeError{Reason: "global_scope", Detail: "IsServiceSpecific is 0: global-scope TC strings were retired in 2021 and are invalid"}
	}
	return nil
}

// reader reads big-endian bit fields straight from one segment's base64url text.
type reader struct {
	s   string // without padding
	pos int    // bit position
	seg int
}

// b64 maps a base64url character to its value plus one (0: not in the alphabet).
var b64 = func() (t [256]byte) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for i := range len(alphabet) {
		t[alphabet[i]] = byte(i + 1)
	}
	return t
}()

func newReader(seg string, i int) (*reader, error) {
	data := strings.TrimRight(seg, "=")
	if pad := len(seg) - len(data); pad > 0 && (pad > 2 || len(seg)%4 != 0 || len(data)%4 == 1) {
		return nil, &DecodeError{Reason: "base64", Segment: i, Detail: "misplaced '=' padding"}
	}
	for j := range len(data) {
		if b64[data[j]] == 0 {
			return nil, &DecodeError{Reason: "base64", Segment: i, Detail: fmt.Sprintf("character %q at offset %d is not base64url", data[j], j)}
		}
	}
	return &reader{s: data, seg: i}, nil
}

func (r *reader) errorf(reason, format string, args ...any) error {
	return &DecodeError{Reason: reason, Segment: r.seg, Detail: fmt.Sprintf(format, args...)}
}

// truncated is the error of a read past the end; what names the field.
func (r *reader) truncated(what string) error {
	return r.errorf("truncated", "the segment ends inside %s (bit %d of %d)", what, r.pos, 6*len(r.s))
}

// read returns the next n ≤ 64 bits as an unsigned integer; ok is false past the end.
func (r *reader) read(n int) (v uint64, ok bool) {
	if r.pos+n > 6*len(r.s) {
		return 0, false
	}
	for n > 0 {
		c := uint64(b64[r.s[r.pos/6]] - 1)
		off := r.pos % 6
		take := min(6-off, n)
		v = v<<take | (c>>(6-off-take))&(1<<take-1)
		r.pos += take
		n -= take
	}
	return v, true
}

// field reads an n-bit field named what.
func (r *reader) field(n int, what string) (int, error) {
	v, ok := r.read(n)
	if !ok {
		return 0, r.truncated(what)
	}
	return int(v), nil
}

func (r *reader) flag(what string) (bool, error) {
	v, err := r.field(1, what)
	return v == 1, err
}

// ids reads an n-bit field of flags, the leftmost for id 1.
func (r *reader) ids(n int, what string) (IDSet, error) {
	v, ok := r.read(n)
	if !ok {
		return 0, r.truncated(what)
	}
	var s IDSet
	for i := range n {
		if v&(1<<(n-1-i)) != 0 {
			s |= 1 << i
		}
	}
	return s, nil
}

// letters reads two 6-bit letters (a=0 … z=25), returned upper case as the IAB's libraries do.
func (r *reader) letters(what string) (string, error) {
	v, ok := r.read(12)
	if !ok {
		return "", r.truncated(what)
	}
	a, b := v>>6, v&63
	if a > 25 || b > 25 {
		return "", r.errorf("field", "%s has a letter code above 25 (%d, %d)", what, a, b)
	}
	return string([]byte{byte('A' + a), byte('A' + b)}), nil
}

// deciseconds converts a 36-bit decisecond timestamp.
func deciseconds(ds int) time.Time {
	return time.Unix(int64(ds/10), int64(ds%10)*int64(100*time.Millisecond)).UTC()
}

func (r *reader) core(t *TCString) (err error) {
	if t.Version, err = r.field(6, "Version"); err != nil {
		return err
	}
	if t.Version != 2 {
		return r.errorf("version", "version %d: only TC strings of version 2 are accepted", t.Version)
	}
	var created, updated int
	for _, f := range []struct {
		dst  *int
		bits int
		name string
	}{
		{&created, 36, "Created"}, {&updated, 36, "LastUpdated"}, {&t.CmpID, 12, "CmpId"},
		{&t.CmpVersion, 12, "CmpVersion"}, {&t.ConsentScreen, 6, "ConsentScreen"},
	} {
		if *f.dst, err = r.field(f.bits, f.name); err != nil {
			return err
		}
	}
	t.Created, t.LastUpdated = deciseconds(created), deciseconds(updated)
	if t.Language, err = r.letters("ConsentLanguage"); err != nil {
		return err
	}
	if t.VendorListVersion, err = r.field(12, "VendorListVersion"); err != nil {
		return err
	}
	if t.PolicyVersion, err = r.field(6, "TcfPolicyVersion"); err != nil {
		return err
	}
	if t.IsServiceSpecific, err = r.flag("IsServiceSpecific"); err != nil {
		return err
	}
	if t.UseNonStandardTexts, err = r.flag("UseNonStandardTexts"); err != nil {
		return err
	}
	if t.SpecialFeatureOptIns, err = r.ids(12, "SpecialFeatureOptIns"); err != nil {
		return err
	}
	if t.PurposesConsent, err = r.ids(24, "PurposesConsent"); err != nil {
		return err
	}
	if t.PurposesLITransparency, err = r.ids(24, "PurposesLITransparency"); err != nil {
		return err
	}
	if t.PurposeOneTreatment, err = r.flag("PurposeOneTreatment"); err != nil {
		return err
	}
	if t.PublisherCC, err = r.letters("PublisherCC"); err != nil {
		return err
	}
	if err = r.vendors(&t.VendorConsents, "vendor consents"); err != nil {
		return err
	}
	if err = r.vendors(&t.VendorLegitimateInterests, "vendor legitimate interests"); err != nil {
		return err
	}
	n, err := r.field(12, "NumPubRestrictions")
	if err != nil {
		return err
	}
	for i := range n {
		var p PublisherRestriction
		if p.PurposeID, err = r.field(6, "PurposeId"); err != nil {
			return err
		}
		typ, err := r.field(2, "RestrictionType")
		if err != nil {
			return err
		}
		if typ == 3 {
			return r.errorf("field", "publisher restriction %d has restriction type 3, which is undefined", i+1)
		}
		p.Type = RestrictionType(typ)
		if p.Vendors, err = r.ranges(-1, fmt.Sprintf("publisher restriction %d", i+1)); err != nil {
			return err
		}
		t.PublisherRestrictions = append(t.PublisherRestrictions, p)
	}
	return nil
}

// optional decodes a segment after the core string.
func (r *reader) optional(t *TCString) error {
	typ, err := r.field(3, "SegmentType")
	if err != nil {
		return err
	}
	twice := func() error { return r.errorf("segment_type", "segment type %d appears twice", typ) }
	switch typ {
	case segDisclosed, segAllowed:
		dst, name := &t.DisclosedVendors, "disclosed vendors"
		if typ == segAllowed {
			dst, name = &t.AllowedVendors, "allowed vendors"
		}
		if *dst != nil {
			return twice()
		}
		v := &VendorSet{}
		if err := r.vendors(v, name); err != nil {
			return err
		}
		*dst = v
	case segPublisher:
		if t.Publisher != nil {
			return twice()
		}
		p := &PublisherTC{}
		if p.PurposesConsent, err = r.ids(24, "PubPurposesConsent"); err != nil {
			return err
		}
		if p.PurposesLITransparency, err = r.ids(24, "PubPurposesLITransparency"); err != nil {
			return err
		}
		if p.NumCustomPurposes, err = r.field(6, "NumCustomPurposes"); err != nil {
			return err
		}
		if p.CustomPurposesConsent, err = r.ids(p.NumCustomPurposes, "CustomPurposesConsent"); err != nil {
			return err
		}
		if p.CustomPurposesLITransp, err = r.ids(p.NumCustomPurposes, "CustomPurposesLITransparency"); err != nil {
			return err
		}
		t.Publisher = p
	default:
		return r.errorf("segment_type", "segment type %d is not one of 1 (disclosed vendors), 2 (allowed vendors), 3 (publisher TC)", typ)
	}
	return nil
}

// vendors decodes a vendor section.
func (r *reader) vendors(v *VendorSet, what string) (err error) {
	if v.MaxID, err = r.field(16, "MaxVendorId of "+what); err != nil {
		return err
	}
	if v.RangeEncoded, err = r.flag("IsRangeEncoding of " + what); err != nil {
		return err
	}
	if v.RangeEncoded {
		v.Ranges, err = r.ranges(v.MaxID, what)
		return err
	}
	if r.pos+v.MaxID > 6*len(r.s) {
		return r.truncated("the bit field of " + what)
	}
	start := 0 // of the run of set bits being read, 0 when none
	for id := 1; id <= v.MaxID; id++ {
		bit, _ := r.read(1)
		switch {
		case bit == 1 && start == 0:
			start = id
		case bit == 0 && start != 0:
			v.Ranges = append(v.Ranges, Range{start, id - 1})
			start = 0
		}
	}
	if start != 0 {
		v.Ranges = append(v.Ranges, Range{start, v.MaxID})
	}
	return nil
}

// ranges decodes NumEntries and the range entries after it. In a vendor section (max ≥ 0, its
// MaxVendorId) ids are at most max and each entry starts after the previous one's end; in a
// publisher restriction (max < 0) only each entry itself must be in order.
func (r *reader) ranges(max int, what string) ([]Range, error) {
	ordered := max >= 0
	n, err := r.field(12, "NumEntries of "+what)
	if err != nil {
		return nil, err
	}
	out := make([]Range, 0, n)
	for i := range n {
		isRange, err := r.flag("IsARange of " + what)
		if err != nil {
			return nil, err
		}
		var e Range
		if e.Start, err = r.field(16, "StartOrOnlyVendorId of "+what); err != nil {
			return nil, err
		}
		e.End = e.Start
		if isRange {
			if e.End, err = r.field(16, "EndVendorId of "+what); err != nil {
				return nil, err
			}
		}
		switch {
		case e.Start == 0:
			return nil, r.errorf("range", "%s: entry %d names vendor id 0", what, i+1)
		case e.End < e.Start:
			return nil, r.errorf("range", "%s: entry %d ends (%d) before it starts (%d)", what, i+1, e.End, e.Start)
		case ordered && e.End > max:
			return nil, r.errorf("range", "%s: entry %d reaches vendor %d, beyond MaxVendorId %d", what, i+1, e.End, max)
		case ordered && i > 0 && e.Start <= out[i-1].End:
			return nil, r.errorf("range", "%s: entry %d (%d-%d) does not come after entry %d (%d-%d)", what, i+1, e.Start, e.End, i, out[i-1].Start, out[i-1].End)
		}
		out = append(out, e)
	}
	return out, nil
}
