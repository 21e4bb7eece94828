package jwtauth

import (
	"strings"
	"testing"
	"time"
)

// TestEmptySegmentIsMalformedFraming: for every algorithm, a token with an
// empty header, payload or signature segment is refused as malformed
// framing before anything is decoded or verified.
func TestEmptySegmentIsMalformedFraming(t *testing.T) {
	for _, f := range fixtures(t) {
		t.Run(f.alg, func(t *testing.T) {
			v := mustNew(t, baseConfig(f))
			good, err := v.Mint(Claims{Subject: "42"}, time.Hour, testNow)
			if err != nil {
				t.Fatal(err)
			}
			h, p, s := split3(t, good)
			for _, tok := range []string{"." + p + "." + s, h + ".." + s, h + "." + p + ".", h + "." + p} {
				_, err := v.Verify(tok, testNow)
				assertReason(t, tok, err, errMalformed)
			}
		})
	}
}

// TestTokenOfMaxTokenSizeIsRead: for every algorithm, a valid token of
// exactly MaxTokenSize bytes verifies; one byte more is refused unread.
func TestTokenOfMaxTokenSizeIsRead(t *testing.T) {
	for _, f := range fixtures(t) {
		t.Run(f.alg, func(t *testing.T) {
			// The payload segment cannot have every length, so the header
			// is varied too (through the length of the kid).
			var v *Verifier
			var tok string
			for _, kid := range []string{"k1", "k12", "k123"} {
				cfg := baseConfig(f)
				cfg.Keys = []Key{f.key(kid)}
				v = mustNew(t, cfg)
				if tok = tokenOfLength(t, v, MaxTokenSize); tok != "" {
					break
				}
			}
			if tok == "" {
				t.Fatalf("no token of exactly %d bytes", MaxTokenSize)
			}
			if _, err := v.Verify(tok, testNow); err != nil {
				t.Fatalf("%d-byte token: %v", len(tok), err)
			}
			_, err := v.Verify(tok+"A", testNow)
			assertReason(t, tok+"A", err, errTooLarge)
		})
	}
}

// tokenOfLength mints a token of exactly n bytes by padding the email and
// login claims, or returns "" when the header's length makes n unreachable.
func tokenOfLength(t *testing.T, v *Verifier, n int) string {
	t.Helper()
	mint := func(email, login int) string {
		tok, err := v.Mint(Claims{Subject: "42", Login: strings.Repeat("l", login), Email: strings.Repeat("e", email)}, time.Hour, testNow)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	// Each email byte adds 4/3 of a character (the first also adds the
	// claim's name); search around the estimate.
	start := max(0, (n-len(mint(0, 0)))*3/4-40)
	for email := start; email < start+80; email++ {
		for login := 0; login < 3; login++ {
			if tok := mint(email, login); len(tok) == n {
				return tok
			}
		}
	}
	return ""
}
