package identity_test

import (
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/symbiont/symbiont/identity"
)

var (
	e164RE    = regexp.MustCompile(`^\+[1-9][0-9]{7,14}$`)
	extKindRE = regexp.MustCompile(`^ext:[a-z0-9_.-]{1,40}$`)
)

var emailSeeds = []string{
	"mei@example.com", " Mei.Chen+hotel@Example.COM\n", "MEI@EXAMPLE.COM", "a@b.c", "a@b", "@b.c", "a@", "a@.",
	"a@b@c.com", "a b@c.com", "a,b@c.com", "<a@b.c>", "a@b.c;", "\ta@b.c\r\n", "\u00a0a@b.c\u2003",
	"ÉLODIE@exämple.fr", "İ@x.com", "Ⱥ@x.com", "ẞ@x.de", "\u212a@x.com", "a@b.c\u0085", "\u0085a@b.c",
	"a\xff@b.c", "\xc3@b.c", "a@b.c\x00", "", " ", "@", ".", "a@b.c" + strings.Repeat("x", 250),
	strings.Repeat("a", 248) + "@b.com", strings.Repeat("A", 249) + "@b.com",
}

var phoneSeeds = []string{
	"+14155552671", "+1 (415) 555-2671", "0044 20 7946 0958", "+44.20.7946.0958", " +8613800138000 ",
	"+1234567", "+12345678", "+123456789012345", "+1234567890123456", "+0123456789", "0012345678",
	"00+12345678", "++12345678", "+", "00", "", "415-555-2671", "+1 415 555 2671 ext 3", "+１４１５５５５２６７１",
	"+4٤١٥٥٥٥٢٦٧١", "+1\t4155552671", "+1_4155552671", "000012345678", "\u00a0+14155552671\u00a0", "+1\xff4155552671",
}

// FuzzNormalizeEmail: the canonical form is trimmed, lower-case, valid UTF-8, at most 254 bytes,
// split at its last '@' into a non-empty local part and a domain with a dot, free of the
// rejected characters, and a fixed point; case and surrounding space never change it.
func FuzzNormalizeEmail(f *testing.F) {
	for _, s := range emailSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out, ok := identity.NormalizeEmail(s)
		if !ok {
			if out != "" {
				t.Fatalf("rejected %q but returned %q", s, out)
			}
			return
		}
		checkEmail(t, s, out)
		if again, ok2 := identity.NormalizeEmail(out); !ok2 || again != out {
			t.Fatalf("not idempotent: %q -> %q -> (%q, %v)", s, out, again, ok2)
		}
		// Case and surrounding white space never change the canonical form.
		variants := []string{" \t" + s + "\r\n"}
		if isASCII(s) { // Unicode case mapping does not round-trip (e.g. 'ı' -> 'I' -> 'i')
			variants = append(variants, strings.ToUpper(s), strings.ToLower(s))
		}
		for _, v := range variants {
			if got, ok := identity.NormalizeEmail(v); !ok || got != out {
				t.Fatalf("%q -> %q, but %q -> (%q, %v)", s, out, v, got, ok)
			}
		}
		if n, ok := identity.Normalize(identity.KindEmail, s); !ok || n != out {
			t.Fatalf("Normalize(email, %q) = (%q, %v), NormalizeEmail = %q", s, n, ok, out)
		}
	})
}

func checkEmail(t *testing.T, in, out string) {
	t.Helper()
	if !utf8.ValidString(out) || len(out) > 254 || out != strings.TrimSpace(out) || strings.ContainsAny(out, " \t\r\n<>,;") {
		t.Fatalf("%q -> bad canonical form %q", in, out)
	}
	if strings.ToLower(out) != out {
		t.Fatalf("%q -> %q is not lower-case", in, out)
	}
	at := strings.LastIndexByte(out, '@')
	local, domain := out[:max(at, 0)], out[at+1:]
	if at < 1 || local == "" || domain == "" || !strings.Contains(domain, ".") || strings.Contains(domain, "@") {
		t.Fatalf("%q -> %q does not split into local@domain.tld", in, out)
	}
	// The canonical form is the input, trimmed and lower-cased, and nothing else: every other
	// byte is the caller's. Invalid UTF-8 must be rejected, not replaced: replacing would make
	// distinct inputs one identifier.
	if !utf8.ValidString(in) {
		t.Fatalf("accepted invalid UTF-8 %q as %q", in, out)
	}
	if out != strings.ToLower(strings.TrimSpace(in)) {
		t.Fatalf("%q -> %q is more than trimmed and lower-cased", in, out)
	}
}

// FuzzNormalizePhone: the canonical form is E.164 (^\+[1-9][0-9]{7,14}$), holds exactly the
// input's digits (less a 00 international prefix) in order, and is a fixed point.
func FuzzNormalizePhone(f *testing.F) {
	for _, s := range phoneSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out, ok := identity.NormalizePhone(s)
		if !ok {
			if out != "" {
				t.Fatalf("rejected %q but returned %q", s, out)
			}
			return
		}
		if !e164RE.MatchString(out) {
			t.Fatalf("%q -> %q is not E.164", s, out)
		}
		digits := asciiDigits(s)
		if strings.HasPrefix(strings.TrimSpace(s), "00") {
			digits = digits[2:]
		}
		if out[1:] != digits {
			t.Fatalf("%q -> %q: digits %q, want %q", s, out, out[1:], digits)
		}
		if again, ok2 := identity.NormalizePhone(out); !ok2 || again != out {
			t.Fatalf("not idempotent: %q -> %q -> (%q, %v)", s, out, again, ok2)
		}
		// The 00 form of the same number means the same number.
		if alt, ok := identity.NormalizePhone("00" + out[1:]); !ok || alt != out {
			t.Fatalf("%q -> %q, but the 00 form -> (%q, %v)", s, out, alt, ok)
		}
		if n, ok := identity.Normalize(identity.KindPhone, s); !ok || n != out {
			t.Fatalf("Normalize(phone, %q) = (%q, %v), NormalizePhone = %q", s, n, ok, out)
		}
	})
}

// FuzzNormalize: for every valid kind the canonical value is non-empty, at most 255 bytes of
// valid UTF-8 and a fixed point; ValidKind agrees with its documented grammar; never panics.
func FuzzNormalize(f *testing.F) {
	kinds := []string{identity.KindUserID, identity.KindAnonymousID, identity.KindEmail, identity.KindPhone,
		"ext:stripe", "ext:a", "ext:" + strings.Repeat("x", 40), "ext:" + strings.Repeat("x", 41), "ext:", "ext:Stripe",
		"ext:a b", "ext:ü", "EMAIL", "email ", "", "ext:ext:a", "ext:a.b-c_d"}
	values := []string{"guest-1", " guest-1 ", "Mei@Example.com", "+1 415 555 2671", "", " ", "\t\n", "\xff",
		strings.Repeat("v", 255), strings.Repeat("v", 256), " " + strings.Repeat("v", 254) + " ", "cus_123", "\u00a0"}
	for i, k := range kinds {
		for j, v := range values {
			if (i+j)%3 == 0 || k == "ext:stripe" || v == " " {
				f.Add(k, v)
			}
		}
	}
	f.Fuzz(func(t *testing.T, kind, value string) {
		valid := identity.ValidKind(kind)
		builtin := kind == identity.KindUserID || kind == identity.KindAnonymousID || kind == identity.KindEmail || kind == identity.KindPhone
		if valid != (builtin || extKindRE.MatchString(kind)) {
			t.Fatalf("ValidKind(%q) = %v, grammar says %v", kind, valid, !valid)
		}
		out, ok := identity.Normalize(kind, value)
		if !ok {
			if out != "" {
				t.Fatalf("Normalize(%q, %q) rejected but returned %q", kind, value, out)
			}
			return
		}
		if !valid {
			return // Normalize is only defined for valid kinds; callers check ValidKind first
		}
		if out == "" || len(out) > 255 || !utf8.ValidString(out) {
			t.Fatalf("Normalize(%q, %q) = %q: not 1-255 bytes of UTF-8", kind, value, out)
		}
		again, ok2 := identity.Normalize(kind, out)
		if !ok2 || again != out {
			t.Fatalf("not idempotent: Normalize(%q, %q) = %q, then (%q, %v)", kind, value, out, again, ok2)
		}
		switch {
		case kind == identity.KindUserID || kind == identity.KindAnonymousID:
			if out != value {
				t.Fatalf("Normalize(%q, %q) = %q: ids are opaque and must be kept as sent", kind, value, out)
			}
		case strings.HasPrefix(kind, "ext:"):
			if out != strings.TrimSpace(value) {
				t.Fatalf("Normalize(%q, %q) = %q", kind, value, out)
			}
		}
	})
}

func asciiDigits(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
