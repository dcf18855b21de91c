package consent_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/symbiont/symbiont/consent"
)

// Two brands' receipt keys, fixed so that the seed corpus is reproducible.
var (
	keyA = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{0xA1}, ed25519.SeedSize))
	keyB = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{0xB2}, ed25519.SeedSize))
	pubA = keyA.Public().(ed25519.PublicKey)
	pubB = keyB.Public().(ed25519.PublicKey)
	// jwksA is brand A's published key set; jwksB brand B's.
	jwksA = []consent.JWK{consent.PublicJWK(pubA, consent.KeyID(pubA))}
	jwksB = []consent.JWK{consent.PublicJWK(pubB, consent.KeyID(pubB))}
)

// sampleClaims are realistic receipts: a grant, a withdrawal that follows it, an expiry.
var sampleClaims = []*consent.ReceiptClaims{
	{ReceiptID: "rcpt_AAAAAAAAAAAAAAAAAAAA", Issuer: "br_abcdefghijklmnop", Subject: "sub_0123456789abcdefghij", IssuedAt: 1793523600,
		Category: "purchases", Purpose: "personalization", State: consent.StateGiven, DPVState: "dpv:ConsentGiven",
		ExpiresAt: "2027-11-01T09:00:00Z", Notice: &consent.Notice{ID: "privacy", Version: "3", Language: "en", URL: "https://example.com/privacy"},
		LegalBasis: consent.BasisConsent, Method: consent.MethodBrand, Actor: "brand:key_x", Jurisdiction: "EU",
		EvidenceHash: "sha256:47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU"},
	{ReceiptID: "rcpt_BBBBBBBBBBBBBBBBBBBB", Issuer: "br_abcdefghijklmnop", Subject: "sub_0123456789abcdefghij", IssuedAt: 1793610000,
		Category: "purchases", Purpose: "personalization", State: consent.StateWithdrawn, DPVState: "dpv:ConsentWithdrawn",
		LegalBasis: consent.BasisConsent, Method: consent.MethodWallet, Actor: "consumer", Previous: "rcpt_AAAAAAAAAAAAAAAAAAAA"},
	{ReceiptID: "rcpt_CCCCCCCCCCCCCCCCCCCC", Issuer: "br_abcdefghijklmnop", Subject: "sub_zz", IssuedAt: 0,
		Category: "health", Purpose: "service", State: consent.StateExpired, DPVState: "dpv:ConsentExpired",
		LegalBasis: consent.BasisExplicitConsent, Method: consent.MethodExpiry, Actor: "system", Explicit: true},
}

func sign(t testing.TB, c *consent.ReceiptClaims, key ed25519.PrivateKey) string {
	t.Helper()
	r, err := consent.SignReceipt(c, key)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// FuzzVerifyReceipt feeds arbitrary strings, seeded with real receipts and near misses, to
// VerifyReceipt. It never panics; it fails only with ErrBadReceipt; and it can succeed only for
// a receipt brand A really signed, with exactly the claims signed (nobody can forge one, so
// anything else the fuzzer makes must fail).
func FuzzVerifyReceipt(f *testing.F) {
	signed := map[string]*consent.ReceiptClaims{} // signing input -> claims
	for _, c := range sampleClaims {
		r := sign(f, c, keyA)
		signed[r[:strings.LastIndexByte(r, '.')]] = c
		p := strings.Split(r, ".")
		f.Add(r)
		f.Add(p[1] + "." + p[0] + "." + p[2])
		f.Add(p[0] + "." + p[1] + ".")
		f.Add(p[0] + "." + p[1] + "." + p[2] + "." + p[2])
		f.Add(sign(f, c, keyB))
		f.Add(strings.ToUpper(r))
	}
	enc := base64.RawURLEncoding
	hdr := func(h string) string { return enc.EncodeToString([]byte(h)) }
	for _, s := range []string{
		"", ".", "..", "...", "a.b.c", "e30.e30.", "e30.e30.e30",
		hdr(`{"alg":"none","typ":"consent-receipt+jwt"}`) + "." + hdr(`{"jti":"x"}`) + ".",
		hdr(`{"alg":"EdDSA","kid":"`+consent.KeyID(pubA)+`"}`) + "." + hdr(`{"jti":"forged"}`) + "." + enc.EncodeToString(make([]byte, 64)),
		hdr(`{"alg":"EdDSA","kid":"`+consent.KeyID(pubA)+`"}`) + "." + hdr(`[]`) + "." + enc.EncodeToString(make([]byte, 3)),
		hdr(`{"alg":"HS256","kid":"`+consent.KeyID(pubA)+`"}`) + "." + hdr(`{}`) + "." + enc.EncodeToString(make([]byte, 32)),
		hdr(`null`) + "." + hdr(`null`) + ".",
		"eyJ=.eyJ=.AA==", "\x00.\xff.\n",
	} {
		f.Add(s)
	}

	f.Fuzz(func(t *testing.T, receipt string) {
		c, err := consent.VerifyReceipt(receipt, jwksA)
		if err != nil {
			if c != nil || !errors.Is(err, consent.ErrBadReceipt) {
				t.Fatalf("failed with claims %+v and error %v", c, err)
			}
			return
		}
		if c == nil {
			t.Fatalf("verified without claims")
		}
		input := receipt[:strings.LastIndexByte(receipt, '.')]
		want, ok := signed[input]
		if !ok {
			t.Fatalf("verified a receipt brand A never signed: %q -> %+v", receipt, c)
		}
		if !reflect.DeepEqual(c, want) {
			t.Fatalf("verified with claims %+v, signed %+v", c, want)
		}
		// The same receipt does not verify against another brand's keys.
		if c, err := consent.VerifyReceipt(receipt, jwksB); err == nil {
			t.Fatalf("brand A's receipt verified against brand B's keys: %+v", c)
		}
	})
}

// FuzzReceiptMutation signs claims built from the fuzzer's strings with brand A's key, checks
// the receipt round-trips exactly, then damages it (a byte changed, inserted or deleted, parts
// swapped or taken from another receipt) and checks that the damaged receipt never verifies
// with claims other than those signed.
func FuzzReceiptMutation(f *testing.F) {
	for i, c := range sampleClaims {
		for op := range uint8(numOps) {
			f.Add(c.ReceiptID, c.Category, c.Purpose, c.State, c.Jurisdiction, c.IssuedAt, c.Explicit, op, uint16(i*37+int(op)*11), byte('A'+op))
		}
	}
	f.Add("", "", "", "", "", int64(-1), false, uint8(0), uint16(0), byte('.'))
	f.Add("\xff\xfe", "\u2028", "<script>", "\"}", "\x00", int64(1)<<62, true, uint8(opChange), uint16(65535), byte(0))
	// The last character of the signature carries 4 unused bits: changing them is the
	// encoding malleability reported as a known issue.
	f.Add("rcpt_x", "purchases", "analytics", "given", "EU", int64(1), false, uint8(opChangeFromEnd), uint16(0), byte('B'))
	f.Add("rcpt_x", "purchases", "analytics", "given", "EU", int64(1), false, uint8(opInsert), uint16(300), byte('\n'))

	f.Fuzz(func(t *testing.T, jti, category, purpose, state, jurisdiction string, iat int64, explicit bool, op uint8, pos uint16, b byte) {
		// JSON carries strings as UTF-8; the receipt's claims come from JSON requests.
		v := func(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }
		claims := &consent.ReceiptClaims{ReceiptID: v(jti), Issuer: "br_abcdefghijklmnop", Subject: "sub_" + v(jti), IssuedAt: iat,
			Category: v(category), Purpose: v(purpose), State: v(state), DPVState: consent.DPVState[state], LegalBasis: consent.BasisConsent,
			Method: consent.MethodBrand, Actor: "brand:key_x", Jurisdiction: v(jurisdiction), Explicit: explicit}
		if explicit {
			claims.Notice = &consent.Notice{ID: v(category), Hash: "sha256:" + v(purpose)}
		}
		orig := sign(t, claims, keyA)

		// A valid receipt round-trips exactly, and only under the signing brand's key.
		got, err := consent.VerifyReceipt(orig, jwksA)
		if err != nil {
			t.Fatalf("a fresh receipt does not verify: %v: %s", err, orig)
		}
		if !reflect.DeepEqual(got, claims) {
			t.Fatalf("round trip changed the claims:\nsigned %+v\ngot    %+v", claims, got)
		}
		checkHeader(t, orig)
		if _, err := consent.VerifyReceipt(orig, jwksB); err == nil {
			t.Fatalf("verified against another brand's key")
		}
		if _, err := consent.VerifyReceipt(orig, nil); err == nil {
			t.Fatalf("verified against no keys")
		}
		// The right public key under another kid is not the brand's key.
		wrongKid := []consent.JWK{consent.PublicJWK(pubA, consent.KeyID(pubB))}
		if _, err := consent.VerifyReceipt(orig, wrongKid); err == nil {
			t.Fatalf("verified against a key published under another kid")
		}

		// Another receipt of the same brand with different claims, to splice from.
		other := *claims
		other.State, other.DPVState = flip(claims.State)
		otherR := sign(t, &other, keyA)

		mut := mutate(orig, otherR, op, int(pos), b)
		if mut == orig {
			return
		}
		mc, err := consent.VerifyReceipt(mut, append(append([]consent.JWK(nil), jwksB...), jwksA...))
		if err != nil {
			if mc != nil || !errors.Is(err, consent.ErrBadReceipt) {
				t.Fatalf("failed with claims %+v and error %v", mc, err)
			}
			return
		}
		if !reflect.DeepEqual(mc, claims) {
			t.Fatalf("damaged receipt verified with other claims:\nreceipt %q\nsigned  %+v\ngot     %+v", mut, claims, mc)
		}
		if knownSignatureMalleability(mut, orig) {
			return // KNOWN ISSUE, see knownSignatureMalleability
		}
		t.Fatalf("damaged receipt verified:\norig %q\nmut  %q", orig, mut)
	})
}

const (
	opChange = iota
	opChangeFromEnd
	opInsert
	opDelete
	opSwapParts
	opSpliceHeader
	opSplicePayload
	opSpliceSignature
	opTruncate
	numOps
)

// mutate damages receipt r; other is another receipt to splice parts from.
func mutate(r, other string, op uint8, pos int, b byte) string {
	p, o := strings.Split(r, "."), strings.Split(other, ".")
	switch op % numOps {
	case opChange:
		i := pos % len(r)
		return r[:i] + string([]byte{b}) + r[i+1:]
	case opChangeFromEnd:
		i := len(r) - 1 - pos%len(r)
		return r[:i] + string([]byte{b}) + r[i+1:]
	case opInsert:
		i := pos % (len(r) + 1)
		return r[:i] + string([]byte{b}) + r[i:]
	case opDelete:
		i := pos % len(r)
		return r[:i] + r[i+1:]
	case opSwapParts:
		perms := [][3]int{{0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}}
		q := perms[pos%len(perms)]
		return p[q[0]] + "." + p[q[1]] + "." + p[q[2]]
	case opSpliceHeader:
		return o[0] + "." + p[1] + "." + p[2]
	case opSplicePayload:
		return p[0] + "." + o[1] + "." + p[2]
	case opSpliceSignature:
		return p[0] + "." + p[1] + "." + o[2]
	default: // opTruncate
		return r[:pos%len(r)]
	}
}

func flip(state string) (string, string) {
	if state == consent.StateWithdrawn {
		return consent.StateGiven, consent.DPVState[consent.StateGiven]
	}
	return consent.StateWithdrawn, consent.DPVState[consent.StateWithdrawn]
}

// checkHeader checks the JOSE header any JWS library reads.
func checkHeader(t *testing.T, r string) {
	t.Helper()
	hb, err := base64.RawURLEncoding.Strict().DecodeString(r[:strings.IndexByte(r, '.')])
	if err != nil {
		t.Fatal(err)
	}
	var h map[string]string
	if err := json.Unmarshal(hb, &h); err != nil {
		t.Fatal(err)
	}
	if h["alg"] != "EdDSA" || h["typ"] != consent.ReceiptType || h["kid"] != consent.KeyID(pubA) || len(h) != 3 {
		t.Fatalf("header %s", hb)
	}
}

// knownSignatureMalleability reports a receipt that differs from orig only in the encoding of
// its signature: the same signature bytes written with other values in the last character's
// unused bits, or with CR/LF inside (base64 decoders skip them).
//
// KNOWN ISSUE (reported): consent/receipt.go VerifyReceipt decodes with the lenient
// base64.RawURLEncoding, so one signed receipt has many string forms that all verify. The
// claims cannot change (the fuzzer checks that), but a receipt string is not a unique
// identifier of a receipt. Decoding with RawURLEncoding.Strict() and rejecting '\r' and '\n'
// (or comparing against the re-encoding) makes the form unique; then remove this exception.
func knownSignatureMalleability(mut, orig string) bool {
	m, o := strings.Split(mut, "."), strings.Split(orig, ".")
	if len(m) != 3 || m[0] != o[0] || m[1] != o[1] {
		return false
	}
	ms, err1 := base64.RawURLEncoding.DecodeString(m[2])
	os, err2 := base64.RawURLEncoding.DecodeString(o[2])
	return err1 == nil && err2 == nil && bytes.Equal(ms, os)
}
