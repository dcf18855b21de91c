package consent

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"time"
)

// A consent receipt is a JWS (RFC 7515) in compact serialisation, signed with the brand's
// Ed25519 key (alg "EdDSA", RFC 8037). Anyone holding it can check it against the brand's
// published JSON Web Key Set with any JOSE library; the claims follow the field groups of
// ISO/IEC TS 27560.

// ReceiptType is the JWS "typ" of a consent receipt.
const ReceiptType = "consent-receipt+jwt"

// ReceiptClaims is the signed content of a receipt.
type ReceiptClaims struct {
	ReceiptID string `json:"jti"`
	Issuer    string `json:"iss"` // the brand's public id
	// Subject is a pseudonym of the consumer (a keyed hash of their id at the brand), so that a
	// receipt shown to others does not reveal who the consumer is.
	Subject  string `json:"sub"`
	IssuedAt int64  `json:"iat"`

	Category     string          `json:"category"`
	Purpose      string          `json:"purpose"`
	State        string          `json:"state"`
	DPVState     string          `json:"dpv_state"`
	ExpiresAt    string          `json:"expires_at,omitempty"` // RFC 3339
	Notice       *Notice         `json:"notice,omitempty"`
	LegalBasis   string          `json:"legal_basis"`
	Method       string          `json:"method"`
	Actor        string          `json:"actor"`
	Jurisdiction string          `json:"jurisdiction,omitempty"`
	Explicit     bool            `json:"explicit,omitempty"`
	EvidenceHash string          `json:"evidence_hash,omitempty"` // sha256 of the evidence JSON
	Previous     string          `json:"previous,omitempty"`      // receipt id this one follows
	Extra        json.RawMessage `json:"-"`
}

// JWK is a public JSON Web Key (RFC 8037 OKP) for verifying receipts.
type JWK struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
}

// PublicJWK returns the JWK of an Ed25519 public key.
func PublicJWK(pub ed25519.PublicKey, kid string) JWK {
	return JWK{Kty: "OKP", Crv: "Ed25519", X: base64.RawURLEncoding.EncodeToString(pub), Kid: kid, Use: "sig", Alg: "EdDSA"}
}

// KeyID is the id of a receipt key: the first 16 bytes of SHA-256 of the public key, base64url.
func KeyID(pub ed25519.PublicKey) string {
	h := sha256.Sum256(pub)
	return base64.RawURLEncoding.EncodeToString(h[:16])
}

type jwsHeader struct {
	Alg string `json:"alg"`
	Typ string `json:"typ"`
	Kid string `json:"kid"`
}

// SignReceipt returns the compact JWS of claims signed with key.
func SignReceipt(claims *ReceiptClaims, key ed25519.PrivateKey) (string, error) {
	pub := key.Public().(ed25519.PublicKey)
	h, err := json.Marshal(jwsHeader{Alg: "EdDSA", Typ: ReceiptType, Kid: KeyID(pub)})
	if err != nil {
		return "", err
	}
	c, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	signing := enc.EncodeToString(h) + "." + enc.EncodeToString(c)
	sig := ed25519.Sign(key, []byte(signing))
	return signing + "." + enc.EncodeToString(sig), nil
}

// ErrBadReceipt is returned for a receipt that is malformed or whose signature does not verify.
var ErrBadReceipt = errors.New("consent receipt: malformed or signature invalid")

// VerifyReceipt checks a compact JWS receipt against the keys (a JWKS's keys) and returns its
// claims.
func VerifyReceipt(receipt string, keys []JWK) (*ReceiptClaims, error) {
	parts := strings.Split(receipt, ".")
	if len(parts) != 3 || strings.ContainsAny(receipt, "\r\n") {
		return nil, ErrBadReceipt
	}
	// Strict: one receipt has one spelling (no stray bits in the last character).
	enc := base64.RawURLEncoding.Strict()
	hb, err1 := enc.DecodeString(parts[0])
	cb, err2 := enc.DecodeString(parts[1])
	sig, err3 := enc.DecodeString(parts[2])
	if err := errors.Join(err1, err2, err3); err != nil {
		return nil, ErrBadReceipt
	}
	var h jwsHeader
	if json.Unmarshal(hb, &h) != nil || h.Alg != "EdDSA" {
		return nil, ErrBadReceipt
	}
	for _, k := range keys {
		if k.Kid != h.Kid || k.Kty != "OKP" || k.Crv != "Ed25519" {
			continue
		}
		pub, err := enc.DecodeString(k.X)
		if err != nil || len(pub) != ed25519.PublicKeySize {
			continue
		}
		if !ed25519.Verify(pub, []byte(parts[0]+"."+parts[1]), sig) {
			return nil, ErrBadReceipt
		}
		var c ReceiptClaims
		d := json.NewDecoder(bytes.NewReader(cb))
		if err := d.Decode(&c); err != nil {
			return nil, ErrBadReceipt
		}
		return &c, nil
	}
	return nil, ErrBadReceipt
}

// claimsOf builds the receipt claims of a record.
func claimsOf(r *Record, issuer, subject, previous string) *ReceiptClaims {
	c := &ReceiptClaims{
		ReceiptID: r.ReceiptID, Issuer: issuer, Subject: subject, IssuedAt: r.At.Unix(),
		Category: r.Category, Purpose: r.Purpose, State: r.State, DPVState: DPVState[r.State],
		LegalBasis: r.LegalBasis, Method: r.Method, Actor: r.Actor, Jurisdiction: r.Jurisdiction,
		Explicit: r.Explicit, Previous: previous,
	}
	if !r.ExpiresAt.IsZero() {
		c.ExpiresAt = r.ExpiresAt.UTC().Format(time.RFC3339)
	}
	if r.Notice != (Notice{}) {
		n := r.Notice
		c.Notice = &n
	}
	if len(r.Evidence) > 0 {
		h := sha256.Sum256(r.Evidence)
		c.EvidenceHash = "sha256:" + base64.RawURLEncoding.EncodeToString(h[:])
	}
	return c
}
