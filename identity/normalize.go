package identity

import (
	"strings"
	"unicode/utf8"
)

// NormalizeEmail returns the canonical form used for matching: trimmed and lower-cased. It does
// not guess at provider-specific rules (dots, +tags): two addresses that may reach different
// people must never match. ok is false when s is not an email address.
func NormalizeEmail(s string) (string, bool) {
	if !utf8.ValidString(s) { // before ToLower, which would turn bad bytes into U+FFFD
		return "", false
	}
	s = strings.ToLower(strings.TrimSpace(s))
	at := strings.LastIndexByte(s, '@')
	if at < 1 || at == len(s)-1 || len(s) > 254 || strings.ContainsAny(s, " \t\r\n<>,;") || !utf8.ValidString(s) {
		return "", false
	}
	if !strings.Contains(s[at+1:], ".") {
		return "", false
	}
	return s, true
}

// NormalizePhone returns the E.164 form (+ and 8 to 15 digits) of a phone number written with
// spaces, dashes, dots or parentheses, or with a 00 international prefix. A number without a
// country code is rejected rather than guessed. ok is false when s is not such a number.
func NormalizePhone(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "00") {
		s = "+" + s[2:]
	}
	if !strings.HasPrefix(s, "+") {
		return "", false
	}
	var b strings.Builder
	b.WriteByte('+')
	for _, r := range s[1:] {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == ' ' || r == '-' || r == '.' || r == '(' || r == ')':
		default:
			return "", false
		}
	}
	out := b.String()
	if n := len(out) - 1; n < 8 || n > 15 || out[1] == '0' {
		return "", false
	}
	return out, true
}

// Normalize returns the canonical value of an identifier of the given kind.
func Normalize(kind, value string) (string, bool) {
	switch kind {
	case KindEmail:
		return NormalizeEmail(value)
	case KindPhone:
		return NormalizePhone(value)
	default:
		if strings.HasPrefix(kind, "ext:") {
			value = strings.TrimSpace(value) // trimmed first: blank ids are no ids
		}
		if value == "" || len(value) > 255 || !utf8.ValidString(value) {
			return "", false
		}
		return value, true
	}
}

// ValidKind reports whether kind names an identifier kind.
func ValidKind(kind string) bool {
	switch kind {
	case KindUserID, KindAnonymousID, KindEmail, KindPhone:
		return true
	}
	if p, ok := strings.CutPrefix(kind, "ext:"); ok && p != "" && len(p) <= 40 {
		for _, r := range p {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.') {
				return false
			}
		}
		return true
	}
	return false
}
