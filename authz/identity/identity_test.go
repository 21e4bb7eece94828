package identity

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/wpauthz/wpauthz/authz/jwtauth"
)

var testNow = time.Unix(1_750_000_000, 0)

func newTestSigner(t testing.TB) *Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return NewSigner(priv, "id-2025-01")
}

var jane = Identity{UserID: 42, Login: "jane", Subject: "42", Roles: []string{"customer", "subscriber"}, Method: MethodJWT}

// verifyJWX checks tok with jwx (an implementation independent of Sign)
// and returns the protected header and the claims as generic JSON.
func verifyJWX(t *testing.T, s *Signer, tok string) (jws.Headers, map[string]any) {
	t.Helper()
	payload, err := jws.Verify([]byte(tok), jws.WithKey(jwa.EdDSA, s.PublicKey()))
	if err != nil {
		t.Fatalf("jwx rejects the assertion: %v", err)
	}
	msg, err := jws.Parse([]byte(tok))
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(payload) {
		t.Fatalf("payload is not valid JSON: %q", payload)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	return msg.Signatures()[0].ProtectedHeaders(), claims
}

// TestSign: the assertion is a valid EdDSA compact JWS with the right
// header and exactly the documented claims.
func TestSign(t *testing.T) {
	s := newTestSigner(t)
	tok, err := s.Sign(jane, "shop.example.com", "POST", "/wp-json/wc/v3/orders", 30*time.Second, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(tok, ".") != 2 {
		t.Fatalf("not compact: %q", tok)
	}
	h, claims := verifyJWX(t, s, tok)
	if h.Algorithm() != jwa.EdDSA || h.Type() != TokenType || h.KeyID() != "id-2025-01" {
		t.Fatalf("header alg=%q typ=%q kid=%q", h.Algorithm(), h.Type(), h.KeyID())
	}
	jti, _ := claims["jti"].(string)
	raw, err := base64.RawURLEncoding.DecodeString(jti)
	if err != nil || len(raw) != 12 {
		t.Fatalf("jti %q is not 96 bits of base64url", jti)
	}
	want := map[string]any{
		"sub": "42", "login": "jane", "roles": []any{"customer", "subscriber"}, "amr": []any{"jwt"},
		"aud": "shop.example.com", "htm": "POST", "htu": "/wp-json/wc/v3/orders",
		"jti": jti, "iat": float64(testNow.Unix()), "exp": float64(testNow.Unix() + 30),
	}
	if !maps.EqualFunc(claims, want, func(a, b any) bool { return jsonEqual(t, a, b) }) {
		t.Fatalf("claims\n got  %v\n want %v", claims, want)
	}

	// jwx's JWT validation agrees on aud and lifetime.
	parse := func(at time.Time) error {
		_, err := jwt.Parse([]byte(tok), jwt.WithKey(jwa.EdDSA, s.PublicKey()),
			jwt.WithAudience("shop.example.com"), jwt.WithClock(jwt.ClockFunc(func() time.Time { return at })))
		return err
	}
	if err := parse(testNow.Add(29 * time.Second)); err != nil {
		t.Fatalf("jwx: %v", err)
	}
	if err := parse(testNow.Add(31 * time.Second)); err == nil {
		t.Fatal("jwx accepts the assertion after exp")
	}

	// A tampered payload or header does not verify.
	parts := strings.Split(tok, ".")
	other, _ := s.Sign(jane, "shop.example.com", "GET", "/wp-json/wc/v3/orders", 30*time.Second, testNow)
	forged := parts[0] + "." + strings.Split(other, ".")[1] + "." + parts[2]
	if _, err := jws.Verify([]byte(forged), jws.WithKey(jwa.EdDSA, s.PublicKey())); err == nil {
		t.Fatal("payload swap verified")
	}
}

func jsonEqual(t *testing.T, a, b any) bool {
	t.Helper()
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(ja, jb)
}

// TestSignShapes: optional claims and subject forms.
func TestSignShapes(t *testing.T) {
	s := newTestSigner(t)
	cases := []struct {
		name    string
		id      Identity
		sub     string
		hasLgn  bool
		roles   []any
		amr     string
		ttl     time.Duration
		expDiff float64
	}{
		{"user ID only", Identity{UserID: 7, Method: MethodBasic}, "7", false, []any{}, "basic", time.Minute, 60},
		{"universal key", Identity{Subject: "apikey:shop/ci", Roles: []string{"shop_manager"}, Method: MethodAPIKey}, "apikey:shop/ci", false, []any{"shop_manager"}, "apikey", time.Second, 1},
		{"provider", Identity{UserID: 3, Subject: "3", Login: "ann", Method: MethodProvider}, "3", true, []any{}, "provider", 1500 * time.Millisecond, 1},
		{"oauth2", Identity{UserID: 3, Method: MethodOAuth2}, "3", false, []any{}, "oauth2", 59*time.Second + 999*time.Millisecond, 59},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tok, err := s.Sign(c.id, "h", "GET", "/wp-json/", c.ttl, testNow.Add(900*time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			_, claims := verifyJWX(t, s, tok)
			_, hasLogin := claims["login"]
			if claims["sub"] != c.sub || hasLogin != c.hasLgn || !slices.Equal(claims["roles"].([]any), c.roles) ||
				!slices.Equal(claims["amr"].([]any), []any{c.amr}) {
				t.Fatalf("claims %v", claims)
			}
			if d := claims["exp"].(float64) - claims["iat"].(float64); d != c.expDiff {
				t.Fatalf("exp - iat = %v, want %v", d, c.expDiff)
			}
		})
	}
}

// TestSignEscaping: hostile strings in every free-text field come back
// byte for byte and never add, remove or alter another claim.
func TestSignEscaping(t *testing.T) {
	s := newTestSigner(t)
	var ctl strings.Builder
	for c := 0; c < 0x20; c++ {
		ctl.WriteByte(byte(c))
	}
	ctl.WriteString("\x7f")
	hostile := []string{
		`jane","roles":["administrator"],"sub":"1`,
		`\",\"sub\":\"1`,
		`a\`,
		`\`,
		`"`,
		`</script><script>`,
		ctl.String(),
		"é中文😀\u00a0\ufeff",
		"\u2028\u2029",
		"\U0010ffff",
		`{"}`,
		`\u0022`,
	}
	for _, h := range hostile {
		id := Identity{UserID: 5, Login: h, Roles: []string{h, "editor"}, Method: MethodJWT}
		tok, err := s.Sign(id, h, h, h, time.Minute, testNow)
		if err != nil {
			t.Fatalf("%q: %v", h, err)
		}
		_, claims := verifyJWX(t, s, tok)
		keys := slices.Sorted(maps.Keys(claims))
		if !slices.Equal(keys, []string{"amr", "aud", "exp", "htm", "htu", "iat", "jti", "login", "roles", "sub"}) {
			t.Fatalf("%q: claim set changed: %v", h, keys)
		}
		if claims["sub"] != "5" || claims["login"] != h || claims["aud"] != h || claims["htm"] != h || claims["htu"] != h ||
			!slices.Equal(claims["roles"].([]any), []any{h, "editor"}) {
			t.Fatalf("%q: claims altered: %v", h, claims)
		}
	}
}

// TestAppendStringMatchesJSON: appendString produces valid JSON that
// decodes to its input, for every single rune class and for random text.
func TestAppendStringMatchesJSON(t *testing.T) {
	var inputs []string
	for r := rune(0); r < 0x3000; r++ {
		inputs = append(inputs, "a"+string(r)+"b")
	}
	for range 1000 {
		b := make([]byte, 24)
		_, _ = rand.Read(b)
		inputs = append(inputs, strings.ToValidUTF8(string(b), "?"))
	}
	for _, in := range inputs {
		checkAppendString(t, in)
	}
}

func checkAppendString(t *testing.T, in string) {
	t.Helper()
	out := appendString(nil, in)
	var got string
	if err := json.Unmarshal(out, &got); err != nil || got != in {
		t.Fatalf("appendString(%q) = %s: decodes to %q, %v", in, out, got, err)
	}
	for _, c := range out {
		if c < 0x20 {
			t.Fatalf("appendString(%q) = %q: raw control character", in, out)
		}
	}
	if bytes.Contains(out, []byte("\u2028")) || bytes.Contains(out, []byte("\u2029")) {
		t.Fatalf("appendString(%q): raw line separator", in)
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", `"`, `\`, "\x00", "\u2028", "é", `","x":"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		if !strings.ContainsRune(in, 0xfffd) && strings.ToValidUTF8(in, "") == in {
			checkAppendString(t, in)
		}
	})
}

// TestSignRejects: inputs Sign must refuse rather than guess at.
func TestSignRejects(t *testing.T) {
	s := newTestSigner(t)
	ok := Identity{UserID: 1, Method: MethodJWT}
	cases := []struct {
		name               string
		id                 Identity
		host, method, path string
		ttl                time.Duration
	}{
		{"ttl zero", ok, "h", "GET", "/", 0},
		{"ttl sub-second", ok, "h", "GET", "/", 999 * time.Millisecond},
		{"ttl over a minute", ok, "h", "GET", "/", MaxTTL + time.Nanosecond},
		{"ttl negative", ok, "h", "GET", "/", -time.Second},
		{"unknown method", Identity{UserID: 1, Method: "password"}, "h", "GET", "/", time.Second},
		{"empty method", Identity{UserID: 1}, "h", "GET", "/", time.Second},
		{"no subject", Identity{Method: MethodAPIKey}, "h", "GET", "/", time.Second},
		{"subject disagrees with user ID", Identity{UserID: 2, Subject: "1", Method: MethodJWT}, "h", "GET", "/", time.Second},
		{"numeric subject without user ID", Identity{Subject: "1", Method: MethodAPIKey}, "h", "GET", "/", time.Second},
		{"negative user ID", Identity{UserID: -1, Method: MethodJWT}, "h", "GET", "/", time.Second},
		{"empty host", ok, "", "GET", "/", time.Second},
		{"empty method field", ok, "h", "", "/", time.Second},
		{"empty path", ok, "h", "GET", "", time.Second},
		{"invalid UTF-8 login", Identity{UserID: 1, Login: "\xff", Method: MethodJWT}, "h", "GET", "/", time.Second},
		{"invalid UTF-8 path", ok, "h", "GET", "/\xc3", time.Second},
		{"empty role", Identity{UserID: 1, Roles: []string{""}, Method: MethodJWT}, "h", "GET", "/", time.Second},
	}
	for _, c := range cases {
		if tok, err := s.Sign(c.id, c.host, c.method, c.path, c.ttl, testNow); err == nil {
			t.Errorf("%s: signed %q", c.name, tok)
		}
	}
	if _, err := s.Sign(ok, "h", "GET", "/", MaxTTL, testNow); err != nil {
		t.Fatalf("MaxTTL refused: %v", err)
	}
}

// TestSignJTIUnique: every assertion has a fresh jti.
func TestSignJTIUnique(t *testing.T) {
	s := newTestSigner(t)
	seen := map[string]bool{}
	for range 2000 {
		tok, err := s.Sign(jane, "h", "GET", "/", time.Minute, testNow)
		if err != nil {
			t.Fatal(err)
		}
		_, claims := verifyJWX(t, s, tok)
		jti := claims["jti"].(string)
		if seen[jti] {
			t.Fatalf("duplicate jti %q", jti)
		}
		seen[jti] = true
	}
}

// TestNotAnAccessToken: an identity assertion, even signed with a key the
// JWT verifier trusts, is never accepted as an access token (typ differs).
func TestNotAnAccessToken(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(priv)
	v, err := jwtauth.New(jwtauth.Config{
		Issuer: "x", Algorithm: jwtauth.EdDSA, CacheSize: -1,
		Keys: []jwtauth.Key{{ID: "k", Material: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})}},
	})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := NewSigner(priv, "k").Sign(jane, "h", "GET", "/", time.Minute, testNow)
	if err != nil {
		t.Fatal(err)
	}
	// Refused for its typ, before any claim is looked at.
	if _, err := v.Verify(tok, testNow); !errors.Is(err, jwtauth.ErrInvalid) || !strings.Contains(err.Error(), `"typ"`) {
		t.Fatalf("identity assertion as access token: %v", err)
	}
}

// TestNewSigner: the Signer owns a copy of the key and refuses malformed
// keys loudly.
func TestNewSigner(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	orig := bytes.Clone(priv)
	s := NewSigner(priv, "")
	for i := range priv {
		priv[i] = 0
	}
	if !s.PublicKey().Equal(pub) {
		t.Fatal("PublicKey differs from the key's public half")
	}
	s.PublicKey()[0] ^= 1 // callers get a copy
	tok, err := s.Sign(jane, "h", "GET", "/", time.Minute, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jws.Verify([]byte(tok), jws.WithKey(jwa.EdDSA, pub)); err != nil {
		t.Fatalf("signature after caller mutated its key: %v", err)
	}
	h, _ := verifyJWX(t, s, tok)
	if h.KeyID() != "" {
		t.Fatalf("empty key ID should omit kid, got %q", h.KeyID())
	}

	mismatched := bytes.Clone(orig)
	mismatched[40] ^= 1
	for name, key := range map[string]ed25519.PrivateKey{
		"short":      orig[:32],
		"long":       append(bytes.Clone(orig), 0),
		"mismatched": mismatched,
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s key: NewSigner did not panic", name)
				}
			}()
			NewSigner(key, "k")
		}()
	}
}

// TestParseSigningKey: the Secret forms, and refusals that never echo the
// key.
func TestParseSigningKey(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	seed := priv.Seed()
	der, _ := x509.MarshalPKCS8PrivateKey(priv)
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})

	good := map[string][]byte{
		"PKCS#8 PEM":             pemKey,
		"PKCS#8 PEM, whitespace": append(append([]byte("\n  "), pemKey...), "\n\n"...),
		"raw seed":               seed,
		"base64 seed":            []byte(base64.StdEncoding.EncodeToString(seed)),
		"base64 seed, newline":   []byte(base64.StdEncoding.EncodeToString(seed) + "\n"),
		"unpadded base64 seed":   []byte(base64.RawStdEncoding.EncodeToString(seed)),
		"base64url seed":         []byte(base64.URLEncoding.EncodeToString(seed)),
		"unpadded base64url":     []byte(base64.RawURLEncoding.EncodeToString(seed)),
		"raw seed||public":       []byte(priv),
		"base64 seed||public":    []byte(base64.StdEncoding.EncodeToString(priv)),
	}
	for name, in := range good {
		k, err := ParseSigningKey(in)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !k.Equal(priv) {
			t.Errorf("%s: wrong key", name)
		}
	}

	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	rsaDER, _ := x509.MarshalPKCS8PrivateKey(rsaKey)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalECPrivateKey(ecKey)
	pubDER, _ := x509.MarshalPKIXPublicKey(priv.Public())
	mismatched := bytes.Clone(priv)
	mismatched[63] ^= 1
	bad := map[string][]byte{
		"empty":               nil,
		"31 bytes":            seed[:31],
		"33 bytes":            append(bytes.Clone(seed), 1),
		"base64 of 31 bytes":  []byte(base64.StdEncoding.EncodeToString(seed[:31])),
		"RSA PKCS#8":          pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: rsaDER}),
		"EC PRIVATE KEY":      pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: ecDER}),
		"public key":          pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}),
		"garbage PKCS#8":      pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: seed}),
		"two PEM blocks":      append(bytes.Clone(pemKey), pemKey...),
		"mismatched 64 bytes": []byte(base64.StdEncoding.EncodeToString(mismatched)),
		"hex seed":            []byte(strings.Repeat("ab", 32)),
	}
	for name, in := range bad {
		_, err := ParseSigningKey(in)
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		msg := err.Error()
		for _, secret := range []string{base64.StdEncoding.EncodeToString(seed)[:12], string(seed[:8])} {
			if strings.Contains(msg, secret) {
				t.Errorf("%s: error leaks key material: %q", name, msg)
			}
		}
	}
}

// TestSignatureMatchesStdlib: Sign's Ed25519 implementation must produce
// exactly crypto/ed25519's signature (Ed25519 is deterministic), for any
// key and any message length around the sizes assertions have, and the
// result must verify with crypto/ed25519.
func TestSignatureMatchesStdlib(t *testing.T) {
	msg := make([]byte, 2048)
	for i := range 200 {
		_, key, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		m := msg[:(i*37)%len(msg)]
		if _, err := rand.Read(m); err != nil {
			t.Fatal(err)
		}
		got, want := sign(key, m), ed25519.Sign(key, m)
		if !bytes.Equal(got, want) {
			t.Fatalf("key %d, %d-byte message: signature differs from crypto/ed25519", i, len(m))
		}
		if !ed25519.Verify(key.Public().(ed25519.PublicKey), m, got) {
			t.Fatalf("key %d: signature does not verify", i)
		}
	}
	// RFC 8032 §7.1, TEST 3 (two-byte message).
	seed, _ := hex.DecodeString("c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7")
	wantSig, _ := hex.DecodeString("6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac" +
		"18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a")
	if got := sign(ed25519.NewKeyFromSeed(seed), []byte{0xaf, 0x82}); !bytes.Equal(got, wantSig) {
		t.Fatalf("RFC 8032 test 3: got %x", got)
	}
}
