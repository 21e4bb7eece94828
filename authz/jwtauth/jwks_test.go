package jwtauth

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	spareOnce sync.Once
	spare     map[string][]fixture
)

// spareFixtures returns two more keys for alg, distinct from fixtureFor's,
// generated once per test binary (RSA generation is slow).
func spareFixtures(t testing.TB, alg string) []fixture {
	t.Helper()
	spareOnce.Do(func() {
		spare = map[string][]fixture{}
		for _, a := range []string{RS256, ES256, EdDSA} {
			spare[a] = []fixture{newFixture(a), newFixture(a)}
		}
	})
	return spare[alg]
}

// TestJWKSPublishesPublicKeysOnly: every asymmetric key appears once,
// ordered by kid, with its kid, alg and use "sig" and without any private
// member; an HS256 secret is never published.
func TestJWKSPublishesPublicKeysOnly(t *testing.T) {
	private := map[string]bool{"d": true, "p": true, "q": true, "dp": true, "dq": true, "qi": true, "k": true}
	for _, alg := range []string{RS256, ES256, EdDSA} {
		t.Run(alg, func(t *testing.T) {
			f := fixtureFor(t, alg)
			other := spareFixtures(t, alg)[0]
			cfg := baseConfig(f)
			// A private key, then a public one: both are published.
			cfg.Keys = []Key{f.key("kb"), other.publicKey("ka")}
			raw, err := mustNew(t, cfg).JWKS()
			if err != nil {
				t.Fatal(err)
			}
			var set struct {
				Keys []map[string]any `json:"keys"`
			}
			if err := json.Unmarshal(raw, &set); err != nil {
				t.Fatalf("JWKS is not JSON: %v", err)
			}
			if len(set.Keys) != 2 || set.Keys[0]["kid"] != "ka" || set.Keys[1]["kid"] != "kb" {
				t.Fatalf("JWKS keys %v, want ka then kb", set.Keys)
			}
			for _, k := range set.Keys {
				if k["alg"] != alg || k["use"] != "sig" {
					t.Errorf("key %v: alg %v use %v, want %s sig", k["kid"], k["alg"], k["use"], alg)
				}
				for name := range k {
					if private[name] {
						t.Errorf("key %v publishes private member %q", k["kid"], name)
					}
				}
			}
		})
	}
	t.Run(HS256, func(t *testing.T) {
		f := fixtureFor(t, HS256)
		raw, err := mustNew(t, baseConfig(f)).JWKS()
		if err != nil {
			t.Fatal(err)
		}
		if string(raw) != `{"keys":[]}` {
			t.Fatalf("HS256 JWKS = %s, want an empty set", raw)
		}
	})
}

// TestMintSignsWithTheFirstKeyThatCanSign: without SigningKeyID, the first
// private key in the list signs (a public key before it is skipped), and
// the token names it.
func TestMintSignsWithTheFirstKeyThatCanSign(t *testing.T) {
	for _, alg := range []string{RS256, ES256, EdDSA} {
		t.Run(alg, func(t *testing.T) {
			f := fixtureFor(t, alg)
			spare := spareFixtures(t, alg)
			second, third := spare[0], spare[1]
			cfg := baseConfig(f)
			cfg.Keys = []Key{f.publicKey("public"), second.key("first-private"), third.key("second-private")}
			v := mustNew(t, cfg)
			tok, err := v.Mint(Claims{UserID: 1}, time.Hour, testNow)
			if err != nil {
				t.Fatal(err)
			}
			hdr, _, _ := strings.Cut(tok, ".")
			raw, err := b64.DecodeString(hdr)
			if err != nil {
				t.Fatal(err)
			}
			var h struct {
				Kid string `json:"kid"`
			}
			if err := json.Unmarshal(raw, &h); err != nil || h.Kid != "first-private" {
				t.Fatalf("minted with kid %q (%v), want first-private", h.Kid, err)
			}
			if _, err := v.Verify(tok, testNow); err != nil {
				t.Fatalf("own token refused: %v", err)
			}
		})
	}
}
