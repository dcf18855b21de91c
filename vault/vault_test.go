package vault_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/symbiont/symbiont"
	"github.com/symbiont/symbiont/store/sqlite"
	"github.com/symbiont/symbiont/vault"
)

func newVault(t *testing.T) *vault.Vault {
	t.Helper()
	st, err := sqlite.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	v, err := vault.New(vault.NewMasterKey(), st.Keys(), symbiont.NewFakeClock(time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestSealOpen(t *testing.T) {
	ctx := context.Background()
	v := newVault(t)
	pt := []byte(`{"email":"mei@example.com"}`)
	ct, err := v.Seal(ctx, 1, 10, pt, []byte("aad"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(ct, []byte("mei@")) {
		t.Fatal("ciphertext contains plaintext")
	}
	ct2, _ := v.Seal(ctx, 1, 10, pt, []byte("aad"))
	if bytes.Equal(ct, ct2) {
		t.Fatal("two seals of the same plaintext are equal: nonces repeat")
	}
	got, err := v.Open(ctx, 1, 10, ct, []byte("aad"))
	if err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("Open = %q, %v", got, err)
	}
	for name, c := range map[string]struct {
		brand, owner int64
		ct, aad      []byte
	}{
		"other aad":      {1, 10, ct, []byte("aaD")},
		"other consumer": {1, 11, ct, []byte("aad")},
		"truncated":      {1, 10, ct[:10], []byte("aad")},
		"flipped bit":    {1, 10, append(append([]byte(nil), ct[:20]...), append([]byte{ct[20] ^ 1}, ct[21:]...)...), []byte("aad")},
	} {
		if _, err := v.Open(ctx, c.brand, c.owner, c.ct, c.aad); err == nil {
			t.Errorf("%s: opened", name)
		}
	}
	// A consumer's key belongs to its brand.
	if _, err := v.Open(ctx, 2, 10, ct, []byte("aad")); err == nil {
		t.Error("another brand opened the consumer's data")
	}
}

func TestShred(t *testing.T) {
	ctx := context.Background()
	v := newVault(t)
	ct, err := v.Seal(ctx, 1, 10, []byte("secret"), nil)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := v.Seal(ctx, 1, 11, []byte("other"), nil)
	n, err := v.Shred(ctx, []int64{10})
	if err != nil || n != 1 {
		t.Fatalf("Shred = %d, %v", n, err)
	}
	if _, err := v.Open(ctx, 1, 10, ct, nil); !errors.Is(err, vault.ErrShredded) {
		t.Fatalf("Open after shred: %v", err)
	}
	if got, err := v.Open(ctx, 1, 11, other, nil); err != nil || string(got) != "other" {
		t.Fatalf("another consumer's data after shred: %q %v", got, err)
	}
	// A new key for the same consumer never opens the old data.
	if err := v.EnsureKey(ctx, 1, 10); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Open(ctx, 1, 10, ct, nil); err == nil {
		t.Fatal("old data opened with a new key")
	}
}

func TestSecretsAndDerivedKeys(t *testing.T) {
	v := newVault(t)
	w := v.WrapSecret([]byte("seed"), "receipt-key/br_1")
	if got, err := v.UnwrapSecret(w, "receipt-key/br_1"); err != nil || string(got) != "seed" {
		t.Fatalf("unwrap: %q %v", got, err)
	}
	if _, err := v.UnwrapSecret(w, "receipt-key/br_2"); err == nil {
		t.Fatal("a secret opened under another label")
	}
	if !bytes.Equal(v.DeriveKey("a"), v.DeriveKey("a")) || bytes.Equal(v.DeriveKey("a"), v.DeriveKey("b")) {
		t.Fatal("DeriveKey is not a function of its label")
	}
	if _, err := vault.New(make([]byte, 16), nil, nil); err == nil {
		t.Fatal("a 16-byte master key was accepted")
	}
}
