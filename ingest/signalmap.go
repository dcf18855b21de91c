package ingest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/symbiont/symbiont"
)

// SignalMap is a brand's mapping of the consent signals events carry to category × purpose
// pairs ("category:purpose"). A brand that never set one uses DefaultSignalMap.
type SignalMap struct {
	// Categories maps a consent manager's category id to pairs: the keys of Segment's
	// context.consent.categoryPreferences and the ids in RudderStack's
	// context.consentManagement allowedConsentIds / deniedConsentIds (both are the CMP's
	// category ids, e.g. OneTrust's "C0004").
	Categories map[string][]string `json:"categories"`
	TCF        TCFMap              `json:"tcf"`
	Version    int64               `json:"version"`
	// Default is true when the brand never set a mapping and these are the defaults.
	Default bool `json:"default,omitempty"`
}

// TCFMap maps the purposes and special features of IAB TC strings.
type TCFMap struct {
	Purposes        map[string][]string `json:"purposes"`         // "1"–"24"
	SpecialFeatures map[string][]string `json:"special_features"` // "1"–"12"
	// PurposesFrom says which purpose consents to read: "core" (PurposesConsent, what the
	// CMP's banner toggles for the TCF purposes; the default) or "publisher" (the publisher TC
	// segment's PubPurposesConsent, the brand's own purposes; a string without that segment
	// then decides no purpose).
	PurposesFrom string `json:"purposes_from"`
	// VendorID, when not 0, is the brand's own id on the Global Vendor List: a purpose then
	// counts as consented only if the string also consents to the vendor and no publisher
	// restriction of type 0 (not allowed) names the vendor for that purpose.
	VendorID int `json:"vendor_id,omitempty"`
}

// Limits of a signal map.
const (
	MaxSignalKeys  = 500 // category ids
	MaxSignalPairs = 50  // pairs per category id, purpose or special feature
	maxSignalKey   = 100 // bytes of a category id
)

// DefaultSignalMap returns the mapping of a brand that has not set one (docs/api.md, "Consent
// signals", explains each line).
func DefaultSignalMap() *SignalMap {
	marketing := []string{"browsing:marketing", "purchases:marketing", "preferences:marketing"}
	analytics := []string{"browsing:analytics", "device:analytics"}
	personal := []string{"browsing:personalization", "preferences:personalization"}
	sharing := []string{"browsing:partner_sharing", "purchases:partner_sharing"}
	return &SignalMap{
		Categories: map[string][]string{
			// Segment's documented examples.
			"Advertising": marketing, "Analytics": analytics, "Functional": personal, "DataSharing": sharing,
			// Common names of other consent managers.
			"Marketing": marketing, "Targeting": marketing, "Performance": analytics, "Personalization": personal,
			// OneTrust's standard cookie groups (Segment's OneTrust wrapper and RudderStack's
			// OneTrust integration send these ids): performance, functional, targeting.
			"C0002": analytics, "C0003": personal, "C0004": marketing,
		},
		TCF: TCFMap{
			// TCF v2.2 purposes: 3 and 4 create and use profiles for personalised advertising; 5
			// and 6 the same for content; 8 measures content performance and 9 understands
			// audiences; 10 develops and improves services. 1, 2, 7 and 11 have no counterpart.
			Purposes: map[string][]string{
				"3": marketing, "4": marketing,
				"5": {"browsing:personalization", "purchases:personalization", "preferences:personalization"},
				"6": {"browsing:personalization", "purchases:personalization", "preferences:personalization"},
				"8": analytics, "9": analytics,
				"10": {"browsing:product_research", "device:product_research"},
			},
			SpecialFeatures: map[string][]string{
				// Precise geolocation: a sensitive category, so only its refusal is applied.
				"1": {"precise_location:marketing", "precise_location:personalization", "precise_location:analytics"},
			},
			PurposesFrom: "core",
		},
		Default: true,
	}
}

// ParseSignalMap parses and validates a signal map against the brand's vocabulary. Unknown
// fields, duplicate keys and invalid UTF-8 are errors: each would make the stored mapping say
// something other than what the brand sent.
func ParseSignalMap(body []byte, v symbiont.Vocabulary) (*SignalMap, error) {
	bad := func(field, format string, args ...any) error {
		return symbiont.Errorf(symbiont.EINVALID, format, args...).With("field", field)
	}
	var m struct {
		SignalMap
		Version *int64 `json:"version"` // what GET returns: accepted and ignored
		Default *bool  `json:"default"`
	}
	if err := symbiont.DecodeJSON(body, &m); err != nil {
		return nil, err // duplicate keys, bad UTF-8 and wrong types, named by field path
	}
	out := &SignalMap{Categories: m.Categories, TCF: m.TCF}
	if out.Categories == nil {
		out.Categories = map[string][]string{}
	}
	if out.TCF.Purposes == nil {
		out.TCF.Purposes = map[string][]string{}
	}
	if out.TCF.SpecialFeatures == nil {
		out.TCF.SpecialFeatures = map[string][]string{}
	}
	switch out.TCF.PurposesFrom {
	case "":
		out.TCF.PurposesFrom = "core"
	case "core", "publisher":
	default:
		return nil, bad("tcf.purposes_from", `tcf.purposes_from must be "core" or "publisher".`)
	}
	if out.TCF.VendorID < 0 || out.TCF.VendorID > 65535 {
		return nil, bad("tcf.vendor_id", "tcf.vendor_id must be a vendor id (1-65535), or 0 for none.")
	}
	if len(out.Categories) > MaxSignalKeys {
		return nil, symbiont.Errorf(symbiont.ETOOLARGE, "A consent signal mapping has at most %d category ids.", MaxSignalKeys).With("field", "categories")
	}
	for _, sec := range []struct {
		field string
		m     map[string][]string
		max   int // largest numeric key; 0: any text
	}{{"categories", out.Categories, 0}, {"tcf.purposes", out.TCF.Purposes, 24}, {"tcf.special_features", out.TCF.SpecialFeatures, 12}} {
		keys := make([]string, 0, len(sec.m))
		for k := range sec.m {
			keys = append(keys, k)
		}
		sort.Strings(keys) // report the first bad entry deterministically
		for _, k := range keys {
			field := fmt.Sprintf("%s[%q]", sec.field, k)
			if sec.max == 0 {
				if k == "" || !symbiont.ValidText(k, maxSignalKey) {
					return nil, bad(sec.field, "%s: category ids are 1-%d bytes of text without control characters.", field, maxSignalKey)
				}
			} else if n, err := strconv.Atoi(k); err != nil || n < 1 || n > sec.max || strconv.Itoa(n) != k {
				return nil, bad(sec.field, "%s: keys are numbers from 1 to %d.", field, sec.max)
			}
			pairs := sec.m[k]
			if len(pairs) > MaxSignalPairs {
				return nil, symbiont.Errorf(symbiont.ETOOLARGE, "%s: at most %d pairs.", field, MaxSignalPairs).With("field", sec.field)
			}
			for _, p := range pairs {
				cat, purpose, ok := strings.Cut(p, ":")
				if !ok {
					return nil, bad(sec.field, "%s: %q is not of the form \"category:purpose\".", field, p)
				}
				if _, ok := v.Category(cat); !ok {
					return nil, bad(sec.field, "%s: unknown category %q; known categories are %v.", field, cat, v.CategoryNames())
				}
				if _, ok := v.Purpose(purpose); !ok {
					return nil, bad(sec.field, "%s: unknown purpose %q.", field, purpose)
				}
			}
		}
	}
	return out, nil
}

// duplicateKey returns the path of the first object key that appears twice in the JSON body
// ("" when none does), or a syntax error.
func duplicateKey(body []byte) (string, error) {
	type frame struct {
		keys          map[string]bool
		object, isKey bool // isKey: the next string is a key
		path, key     string
	}
	join := func(path, key string) string {
		if path == "" {
			return key
		}
		return path + "." + key
	}
	var stack []*frame
	afterValue := func() {
		if n := len(stack); n > 0 && stack[n-1].object {
			stack[n-1].isKey = true
		}
	}
	d := json.NewDecoder(bytes.NewReader(body))
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return "", nil
		}
		if err != nil {
			return "", err
		}
		var top *frame
		if n := len(stack); n > 0 {
			top = stack[n-1]
		}
		if s, ok := tok.(string); ok && top != nil && top.isKey {
			if top.keys[s] {
				return join(top.path, s), nil
			}
			top.keys[s], top.key, top.isKey = true, s, false
			continue
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			path := ""
			if top != nil {
				path = top.path
				if top.object {
					path = join(top.path, top.key)
				}
			}
			obj := tok == json.Delim('{')
			stack = append(stack, &frame{keys: map[string]bool{}, object: obj, isKey: obj, path: path})
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
			afterValue()
		default:
			afterValue()
		}
	}
}

// pairsOf splits "category:purpose" strings (validated) into pairs.
func pairsOf(ss []string) [][2]string {
	out := make([][2]string, 0, len(ss))
	for _, s := range ss {
		c, p, _ := strings.Cut(s, ":")
		out = append(out, [2]string{c, p})
	}
	return out
}
