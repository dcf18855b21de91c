package identity

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"sync"
	"testing"
)

// The pooled hashers must give exactly the hashes stored identifiers were written with: a
// fresh HMAC-SHA-256 of kind, NUL, value under the brand's key, from any number of goroutines.
func TestHashIsHMAC(t *testing.T) {
	derive := func(label string) []byte { return []byte("key for " + label) }
	g := NewGraph(derive)
	want := func(brand int64, kind, value string) []byte {
		m := hmac.New(sha256.New, derive(fmt.Sprintf("identity/%d", brand)))
		m.Write([]byte(kind))
		m.Write([]byte{0})
		m.Write([]byte(value))
		return m.Sum(nil)
	}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 200 {
				brand, value := int64(1+i%3), fmt.Sprintf("user-%d-%d", w, i)
				if got := g.Hash(brand, KindUserID, value); !bytes.Equal(got, want(brand, KindUserID, value)) {
					t.Errorf("Hash(%d, %q) = %x, want %x", brand, value, got, want(brand, KindUserID, value))
					return
				}
			}
		})
	}
	wg.Wait()
	m := hmac.New(sha256.New, derive("identity/log-pseudonyms"))
	m.Write([]byte("alice"))
	if got, want := g.Pseudonym("alice"), "h_"+base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:12]); got != want {
		t.Errorf("Pseudonym = %q, want %q", got, want)
	}
}

func BenchmarkHash(b *testing.B) {
	g := NewGraph(func(label string) []byte { return []byte("key for " + label) })
	for b.Loop() {
		g.Hash(1, KindUserID, "user-0001234")
	}
}
