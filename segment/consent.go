package segment

import (
	"bytes"
	"encoding/json"
)

// Consent is what a message carries of a consent manager's decision, as sent. Each field is the
// member's raw JSON value, of whatever kind the client sent (a sub-slice of Raw), or nil when
// absent. The parser only finds them; what they mean, and whether they are well formed, is the
// caller's business.
type Consent struct {
	// Object is context.consent (Segment's consent object). CategoryPreferences and TCF are its
	// members "categoryPreferences" and "tcf", when it is an object.
	Object, CategoryPreferences, TCF json.RawMessage
	// Management is context.consentManagement (RudderStack's).
	Management json.RawMessage
	// GDPRConsent is "gdpr_consent" where integrations put an IAB TC string: at the top level
	// of the message, in its context and in its properties (indexed by GDPRTop, GDPRContext,
	// GDPRProperties).
	GDPRConsent [3]json.RawMessage
}

// Indexes of Consent.GDPRConsent.
const (
	GDPRTop = iota
	GDPRContext
	GDPRProperties
)

// GDPRConsentPaths name the places of Consent.GDPRConsent, for messages.
var GDPRConsentPaths = [3]string{"gdpr_consent", "context.gdpr_consent", "properties.gdpr_consent"}

// span is where a value lies, relative to the start of the object holding it; e == 0: absent.
type span struct{ s, e int32 }

// consentSpans are the consent members of one context object and of one properties object.
type consentSpans struct {
	object, prefs, tcf, mgmt, gdprCtx, gdprProps span
}

func (c *consentSpans) any() bool { return *c != consentSpans{} }

// Cheap tests for whether an object may hold a consent member: every name we look for contains
// "consent", unless a key spells its letters as \u escapes.
var (
	keyConsent = []byte(`consent`)
	keyGDPR    = []byte(`gdpr_consent`)
	escapeU    = []byte(`\u`)
)

func mayHold(b, name []byte) bool { return bytes.Contains(b, name) || bytes.Contains(b, escapeU) }

// members calls fn with the index in names and the value span of each member of the object b
// (which the scanner has validated) whose key, decoded, is one of names.
// stack is scratch space for the scanner's container stack, kept for the next call.
func members(b []byte, names []string, stack *[]byte, fn func(name, s, e int)) {
	var kbuf [128]byte
	s := scanner{b: b, i: 1, stack: *stack}
	defer func() { *stack = s.stack }()
	s.ws()
	if s.i >= len(b) || b[s.i] == '}' {
		return
	}
	for {
		k, err := s.key(&kbuf)
		if err != nil {
			return
		}
		vs := s.i
		if _, _, err := s.scanValue(); err != nil {
			return
		}
		for i, n := range names {
			if string(k) == n {
				fn(i, vs, s.i)
			}
		}
		if more, err := s.next('}'); err != nil || !more {
			return
		}
	}
}

var (
	contextNames = []string{"consent", "consentManagement", "gdpr_consent"}
	consentNames = []string{"categoryPreferences", "tcf"}
	gdprNames    = []string{"gdpr_consent"}
)

// findContextConsent finds the consent members of a context object. dup names a member found
// twice ("" when none was): which of the two a later reader would see is not ours to guess.
func findContextConsent(ctx []byte, c *consentSpans, stack *[]byte) (dup string) {
	if !mayHold(ctx, keyConsent) {
		return ""
	}
	set := func(dst *span, name string, s, e int) {
		if dst.e != 0 && dup == "" {
			dup = name
		}
		*dst = span{int32(s), int32(e)}
	}
	members(ctx, contextNames, stack, func(i, s, e int) {
		switch i {
		case 0:
			set(&c.object, "context.consent", s, e)
			if ctx[s] != '{' {
				return
			}
			members(ctx[s:e], consentNames, stack, func(j, s2, e2 int) {
				if j == 0 {
					set(&c.prefs, "context.consent.categoryPreferences", s+s2, s+e2)
				} else {
					set(&c.tcf, "context.consent.tcf", s+s2, s+e2)
				}
			})
		case 1:
			set(&c.mgmt, "context.consentManagement", s, e)
		case 2:
			set(&c.gdprCtx, "context.gdpr_consent", s, e)
		}
	})
	return dup
}

// findPropertiesConsent finds properties.gdpr_consent.
func findPropertiesConsent(props []byte, c *consentSpans, stack *[]byte) (dup string) {
	if !mayHold(props, keyGDPR) {
		return ""
	}
	members(props, gdprNames, stack, func(_, s, e int) {
		if c.gdprProps.e != 0 && dup == "" {
			dup = "properties.gdpr_consent"
		}
		c.gdprProps = span{int32(s), int32(e)}
	})
	return dup
}

// consentOf fills a message's Consent from the spans, given its context and properties and the
// top-level gdpr_consent value.
func consentOf(out *Consent, c *consentSpans, ctx, props, top []byte) {
	at := func(b []byte, sp span) json.RawMessage {
		if sp.e == 0 {
			return nil
		}
		return json.RawMessage(b[sp.s:sp.e:sp.e])
	}
	*out = Consent{Object: at(ctx, c.object), CategoryPreferences: at(ctx, c.prefs), TCF: at(ctx, c.tcf), Management: at(ctx, c.mgmt)}
	out.GDPRConsent[GDPRTop] = top
	out.GDPRConsent[GDPRContext] = at(ctx, c.gdprCtx)
	out.GDPRConsent[GDPRProperties] = at(props, c.gdprProps)
}
