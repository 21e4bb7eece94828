package jwtauth

import (
	"crypto/rsa"
	"math/big"
	"testing"
)

// TestRSAKeySizeBounds: RS256 public keys of 2048 to 8192 bits are
// accepted, one bit fewer or more is refused. The moduli are odd numbers of
// the exact length, not real keys: only the size is under test.
func TestRSAKeySizeBounds(t *testing.T) {
	for _, tc := range []struct {
		bits int
		ok   bool
	}{{2047, false}, {2048, true}, {8192, true}, {8193, false}} {
		n := new(big.Int).Lsh(big.NewInt(1), uint(tc.bits-1))
		n.SetBit(n, 0, 1)
		material := pkixPEM(&rsa.PublicKey{N: n, E: 65537})
		_, err := New(Config{Issuer: testIssuer, Algorithm: RS256, Keys: []Key{{ID: "k", Material: material}}})
		if (err == nil) != tc.ok {
			t.Errorf("%d-bit RSA key: err %v, want accepted %v", tc.bits, err, tc.ok)
		}
	}
}
