package jwtauth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

// testNow is the clock every test uses unless it says otherwise.
var testNow = time.Unix(1_750_000_000, 0)

const testIssuer = "https://shop.example.com/wp-json/api/v1"

// fixture is one algorithm with a freshly generated key pair (or secret).
type fixture struct {
	alg     string
	signer  any    // []byte | *rsa.PrivateKey | *ecdsa.PrivateKey | ed25519.PrivateKey
	privPEM []byte // PKCS#8 (the HMAC secret for HS256)
	pubPEM  []byte // PKIX (nil for HS256)
}

func (f fixture) key(id string) Key       { return Key{ID: id, Material: f.privPEM} }
func (f fixture) publicKey(id string) Key { return Key{ID: id, Material: f.pubPEM} }

var (
	fixturesOnce sync.Once
	fixtureList  []fixture
)

// fixtures returns one fixture per algorithm. Keys are generated once per
// test binary (RSA generation is slow) with crypto/rand.
func fixtures(t testing.TB) []fixture {
	t.Helper()
	fixturesOnce.Do(func() {
		fixtureList = []fixture{
			newFixture(HS256), newFixture(RS256), newFixture(ES256), newFixture(EdDSA),
		}
	})
	return fixtureList
}

func fixtureFor(t testing.TB, alg string) fixture {
	for _, f := range fixtures(t) {
		if f.alg == alg {
			return f
		}
	}
	t.Fatalf("no fixture for %s", alg)
	return fixture{}
}

// newFixture generates a key for alg; a second call gives a different key.
func newFixture(alg string) fixture {
	var priv, pub any
	switch alg {
	case HS256:
		secret := make([]byte, 32)
		if _, err := rand.Read(secret); err != nil {
			panic(err)
		}
		return fixture{alg: alg, signer: secret, privPEM: secret}
	case RS256:
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		priv, pub = k, &k.PublicKey
	case ES256:
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			panic(err)
		}
		priv, pub = k, &k.PublicKey
	case EdDSA:
		p, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			panic(err)
		}
		priv, pub = k, p
	}
	return fixture{alg: alg, signer: priv, privPEM: pkcs8PEM(priv), pubPEM: pkixPEM(pub)}
}

func pkcs8PEM(k any) []byte {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		panic(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func pkixPEM(k any) []byte {
	der, err := x509.MarshalPKIXPublicKey(k)
	if err != nil {
		panic(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

func mustNew(t testing.TB, cfg Config) *Verifier {
	t.Helper()
	v, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return v
}

// baseConfig is a single-key config for f, caching disabled unless the test
// is about the cache, so that every Verify exercises the full path.
func baseConfig(f fixture) Config {
	return Config{
		Issuer:    testIssuer,
		Audiences: []string{"shop.example.com"},
		Algorithm: f.alg,
		Keys:      []Key{f.key("k1")},
		CacheSize: -1,
	}
}

func b64url(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// craft builds a compact JWS by hand: the header and payload JSON are used
// verbatim and the signature is computed with the standard library (an
// implementation independent of both jwx and the code under test). sigAlg
// chooses the signing primitive, independently of the "alg" in the header.
func craft(t testing.TB, sigAlg string, key any, header, payload string) string {
	t.Helper()
	input := b64url([]byte(header)) + "." + b64url([]byte(payload))
	return input + "." + b64url(rawSign(t, sigAlg, key, []byte(input)))
}

func rawSign(t testing.TB, alg string, key any, input []byte) []byte {
	t.Helper()
	sum := sha256.Sum256(input)
	switch alg {
	case HS256:
		m := hmac.New(sha256.New, key.([]byte))
		m.Write(input)
		return m.Sum(nil)
	case RS256:
		sig, err := rsa.SignPKCS1v15(rand.Reader, key.(*rsa.PrivateKey), crypto.SHA256, sum[:])
		if err != nil {
			t.Fatal(err)
		}
		return sig
	case ES256:
		r, s, err := ecdsa.Sign(rand.Reader, key.(*ecdsa.PrivateKey), sum[:])
		if err != nil {
			t.Fatal(err)
		}
		out := make([]byte, 64)
		r.FillBytes(out[:32])
		s.FillBytes(out[32:])
		return out
	case EdDSA:
		return ed25519.Sign(key.(ed25519.PrivateKey), input)
	}
	t.Fatalf("rawSign: unknown alg %q", alg)
	return nil
}

// claimsJSON returns a valid payload for testIssuer, overridden by extra
// (a nil value deletes the claim).
func claimsJSON(t testing.TB, extra map[string]any) string {
	t.Helper()
	m := map[string]any{
		"iss":   testIssuer,
		"sub":   "42",
		"aud":   "shop.example.com",
		"iat":   testNow.Unix(),
		"exp":   testNow.Add(time.Hour).Unix(),
		"jti":   "jti-1",
		"login": "jane",
		"roles": []string{"customer"},
	}
	for k, v := range extra {
		if v == nil {
			delete(m, k)
			continue
		}
		m[k] = v
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// rawJSON lets a table put literal JSON (wrong types, nulls) into claims.
type rawJSON string

func (r rawJSON) MarshalJSON() ([]byte, error) { return []byte(r), nil }

func header(alg, kid string) string {
	h := `{"alg":"` + alg + `","typ":"JWT"`
	if kid != "" {
		h += `,"kid":"` + kid + `"`
	}
	return h + "}"
}

var sentinels = []error{ErrExpired, ErrNotYetValid, ErrInvalid}

// assertErr checks that err wraps want and no other sentinel, and that its
// message contains no piece of the token.
func assertErr(t testing.TB, token string, err, want error) {
	t.Helper()
	if err == nil {
		t.Fatalf("Verify succeeded, want %v", want)
	}
	if !errors.Is(err, want) {
		t.Fatalf("error %q does not wrap %q", err, want)
	}
	for _, s := range sentinels {
		if s != want && errors.Is(err, s) {
			t.Fatalf("error %q wraps %q as well as %q", err, s, want)
		}
	}
	for _, seg := range strings.Split(token, ".") {
		if len(seg) >= 8 && strings.Contains(err.Error(), seg) {
			t.Fatalf("error message leaks a token segment: %q", err)
		}
	}
}

// assertReason checks err is exactly the given internal error, so a test
// about one rule cannot pass because another rule fired first.
func assertReason(t testing.TB, token string, err, reason error) {
	t.Helper()
	var te *tokenError
	if !errors.As(reason, &te) {
		t.Fatalf("bad reason %v", reason)
	}
	assertErr(t, token, err, te.kind)
	if err != reason {
		t.Fatalf("got %q, want %q", err, reason)
	}
}
