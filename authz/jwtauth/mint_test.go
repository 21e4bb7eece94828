package jwtauth

import (
	"testing"
	"time"
)

// TestMintShortestTTL: one second is the shortest lifetime Mint accepts.
func TestMintShortestTTL(t *testing.T) {
	v := mustNew(t, baseConfig(fixtureFor(t, HS256)))
	tok, err := v.Mint(Claims{UserID: 1}, time.Second, testNow)
	if err != nil {
		t.Fatalf("ttl 1s: %v", err)
	}
	if _, err := v.Verify(tok, testNow); err != nil {
		t.Fatalf("1s token refused at once: %v", err)
	}
	if _, err := v.Mint(Claims{UserID: 1}, time.Second-time.Millisecond, testNow); err == nil {
		t.Fatal("ttl 999ms accepted")
	}
}
