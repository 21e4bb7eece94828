package apikey

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/wpauthz/wpauthz/authz/identity"
)

func TestGenerateHasValidChecksum(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		k, err := Generate()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(k, Prefix) || len(k) != len(Prefix)+randomLen+1+checksumLen {
			t.Fatalf("bad shape %q", k)
		}
		if !ValidChecksum(k) {
			t.Fatalf("generated key fails its checksum: %q", k)
		}
		if err := CheckMaterial(k); err != nil {
			t.Fatalf("CheckMaterial(generated) = %v", err)
		}
		if seen[k] {
			t.Fatal("duplicate key generated")
		}
		seen[k] = true
	}
}

func TestChecksumCatchesTypos(t *testing.T) {
	k, _ := Generate()
	// Change one character of the random part.
	b := []byte(k)
	if b[10] == 'a' {
		b[10] = 'b'
	} else {
		b[10] = 'a'
	}
	if ValidChecksum(string(b)) {
		t.Fatal("typo not detected")
	}
	if ValidChecksum(k[:len(k)-1]) {
		t.Fatal("truncated key accepted")
	}
	if ValidChecksum("wpk__abcdef") {
		t.Fatal("empty body accepted")
	}
}

func TestLookup(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	good, _ := Generate()
	expired, _ := Generate()
	disabled, _ := Generate()
	unknown, _ := Generate()
	byo := "operator-chosen-key-0123456789"
	ix, err := NewIndex([]*Key{
		{Name: "good", Hash: Sum(good), Identity: identity.Identity{Subject: "apikey:default/good", Roles: []string{"editor"}, Method: "apikey"}},
		{Name: "expired", Hash: Sum(expired), ExpiresAt: now},
		{Name: "disabled", Hash: Sum(disabled), Disabled: true},
		{Name: "byo", Hash: Sum(byo)},
	})
	if err != nil {
		t.Fatal(err)
	}
	tamper := []byte(good)
	tamper[len(tamper)-1] ^= 1
	cases := []struct {
		key  string
		want error
		name string
	}{
		{good, nil, "good"},
		{byo, nil, "byo"},
		{expired, ErrExpired, ""},
		{disabled, ErrDisabled, ""},
		{unknown, ErrUnknown, ""},
		{string(tamper), ErrMalformed, ""},
		{"short", ErrMalformed, ""},
		{strings.Repeat("x", MaxLength+1), ErrMalformed, ""},
		{strings.ToUpper(good), ErrUnknown, ""}, // keys are case-sensitive
		{"", ErrMalformed, ""},
	}
	for _, c := range cases {
		k, err := ix.Lookup(c.key, now)
		if !errors.Is(err, c.want) {
			t.Errorf("Lookup(%.12q…) err = %v, want %v", c.key, err, c.want)
			continue
		}
		if err == nil && k.Name != c.name {
			t.Errorf("Lookup found %q, want %q", k.Name, c.name)
		}
	}
	// Expiry is exclusive of the instant before it.
	if _, err := ix.Lookup(expired, now.Add(-time.Second)); err != nil {
		t.Errorf("key before expiry: %v", err)
	}
}

func TestDuplicateKeyRejected(t *testing.T) {
	k, _ := Generate()
	if _, err := NewIndex([]*Key{{Name: "a", Hash: Sum(k)}, {Name: "b", Hash: Sum(k)}}); err == nil {
		t.Fatal("two resources with one key accepted")
	}
}

func TestCheckMaterial(t *testing.T) {
	for _, bad := range []string{"tooshort", "wpk_0123456789012345678901234567_ZZZZZZ", "has space in the key material 123", strings.Repeat("a", 300)} {
		if CheckMaterial(bad) == nil {
			t.Errorf("CheckMaterial(%q) accepted", bad)
		}
	}
}

func TestFingerprintIsStableAndShort(t *testing.T) {
	h := Sum("operator-chosen-key-0123456789")
	fp := h.Fingerprint()
	if !strings.HasPrefix(fp, "sha256:") || len(fp) != len("sha256:")+12 || fp != h.Fingerprint() {
		t.Fatalf("fingerprint %q", fp)
	}
}

func BenchmarkLookup(b *testing.B) {
	keys := make([]*Key, 1000)
	plain := make([]string, 1000)
	for i := range keys {
		plain[i], _ = Generate()
		keys[i] = &Key{Name: "k", Hash: Sum(plain[i])}
	}
	ix, _ := NewIndex(keys)
	now := time.Now()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := ix.Lookup(plain[i%len(plain)], now); err != nil {
			b.Fatal(err)
		}
	}
}

// A key issued by an earlier release must keep validating: the checksum is
// CRC-32 (IEEE) of everything before the last "_", as six base62 digits.
// The expected digits were computed outside Go (Python's zlib.crc32).
func TestChecksumOfAKnownKeyIsStable(t *testing.T) {
	const issued = "wpk_0123456789ABCDEFGHIJKLMNOPQRSTUV_0ivI3o"
	if !ValidChecksum(issued) {
		t.Fatalf("ValidChecksum(%q) = false: the checksum changed", issued)
	}
	if got := checksum("wpk_0123456789ABCDEFGHIJKLMNOPQRSTUV"); got != "0ivI3o" {
		t.Fatalf("checksum = %q, want 0ivI3o", got)
	}
	// The body may itself contain "_"; the checksum follows the last one.
	if !ValidChecksum("wpk_abc_def_3mKmDd") {
		t.Fatal("a body with an underscore lost its checksum")
	}
}

// Only a "wpk_" key with a non-empty body before its checksum is valid,
// even when the six characters after the separator are the right CRC.
func TestValidChecksumRefusesAKeyWithoutABody(t *testing.T) {
	for _, c := range []struct{ why, key string }{
		{"empty body (checksum of \"wpk_\")", "wpk__4exsMC"},
		{"no separator after the prefix (checksum of \"wpk\")", "wpk_1g261R"},
		{"no underscore at all", "0ivI3o"},
		{"checksum one character short", "wpk_0123456789ABCDEFGHIJKLMNOPQRSTUV_0ivI3"},
	} {
		if ValidChecksum(c.key) {
			t.Errorf("%s: ValidChecksum(%q) = true", c.why, c.key)
		}
	}
}

// Operators may bring their own keys of MinLength..MaxLength bytes; both
// ends are inclusive for lookups and for the Secret's material.
func TestKeysAtTheLengthLimits(t *testing.T) {
	shortest := strings.Repeat("s", MinLength)
	longest := strings.Repeat("l", MaxLength)
	ix, err := NewIndex([]*Key{{Name: "shortest", Hash: Sum(shortest)}, {Name: "longest", Hash: Sum(longest)}})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct{ name, key string }{{"shortest", shortest}, {"longest", longest}} {
		if k, err := ix.Lookup(c.key, now); err != nil || k.Name != c.name {
			t.Errorf("Lookup(%d-byte key) = %v, %v; want %s", len(c.key), k, err, c.name)
		}
		if err := CheckMaterial(c.key); err != nil {
			t.Errorf("CheckMaterial(%d-byte key) = %v", len(c.key), err)
		}
	}
	for _, key := range []string{shortest[1:], longest + "l"} {
		if _, err := ix.Lookup(key, now); !errors.Is(err, ErrMalformed) {
			t.Errorf("Lookup(%d-byte key) = %v, want ErrMalformed", len(key), err)
		}
		if CheckMaterial(key) == nil {
			t.Errorf("CheckMaterial(%d-byte key) accepted", len(key))
		}
	}
}

// Only keys that claim to be generated ("wpk_") carry a checksum; an
// operator's own key is accepted without one.
func TestCheckMaterialAcceptsAnOperatorKeyWithoutChecksum(t *testing.T) {
	if err := CheckMaterial("operator-chosen-key-0123456789"); err != nil {
		t.Fatalf("CheckMaterial(operator key) = %v", err)
	}
	if err := CheckMaterial("wpk_0123456789ABCDEFGHIJKLMNOPQRSTUV_0ivI3o"); err != nil {
		t.Fatalf("CheckMaterial(generated key) = %v", err)
	}
}
