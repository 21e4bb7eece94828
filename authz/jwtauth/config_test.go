package jwtauth

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
	"time"
)

// TestKeyFormats: every PEM form the Secret may hold parses, and the
// private forms can sign what the public forms verify.
func TestKeyFormats(t *testing.T) {
	rsaKey := fixtureFor(t, RS256).signer.(*rsa.PrivateKey)
	ecKey := fixtureFor(t, ES256).signer.(*ecdsa.PrivateKey)
	sec1, err := x509.MarshalECPrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		alg      string
		material []byte
		canSign  bool
	}{
		{RS256, fixtureFor(t, RS256).privPEM, true},
		{RS256, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey)}), true},
		{RS256, fixtureFor(t, RS256).pubPEM, false},
		{RS256, pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&rsaKey.PublicKey)}), false},
		{ES256, fixtureFor(t, ES256).privPEM, true},
		{ES256, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1}), true},
		{ES256, fixtureFor(t, ES256).pubPEM, false},
		{EdDSA, fixtureFor(t, EdDSA).privPEM, true},
		{EdDSA, fixtureFor(t, EdDSA).pubPEM, false},
		{EdDSA, append([]byte("\n\n"), append(fixtureFor(t, EdDSA).privPEM, "\n\n"...)...), true},
	}
	for i, c := range cases {
		cfg := baseConfig(fixtureFor(t, c.alg))
		cfg.Keys = []Key{{ID: "k", Material: c.material}}
		v, err := New(cfg)
		if err != nil {
			t.Fatalf("case %d (%s): %v", i, c.alg, err)
		}
		if v.CanSign() != c.canSign {
			t.Fatalf("case %d (%s): CanSign = %v", i, c.alg, v.CanSign())
		}
		// Whatever the form, it verifies tokens from the fixture's key.
		f := fixtureFor(t, c.alg)
		tok := craft(t, f.alg, f.signer, header(f.alg, "k"), claimsJSON(t, nil))
		if _, err := v.Verify(tok, testNow); err != nil {
			t.Fatalf("case %d (%s): %v", i, c.alg, err)
		}
	}
}

// TestNewErrors: bad configurations fail with errors that name the key and
// never contain its material.
func TestNewErrors(t *testing.T) {
	hs, rs, es, ed := fixtureFor(t, HS256), fixtureFor(t, RS256), fixtureFor(t, ES256), fixtureFor(t, EdDSA)
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	shortSecret := []byte("0123456789abcdef0123456789abcde") // 31 bytes
	encrypted := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-128-CBC,00"}, Bytes: []byte("xxxxxxxx")})
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: selfSigned(t, es.signer)})
	garbagePEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("not DER at all, secret-ish bytes")})

	withKeys := func(alg string, keys ...Key) Config {
		return Config{Issuer: testIssuer, Algorithm: alg, Keys: keys}
	}
	cases := []struct {
		name    string
		cfg     Config
		mention string // the error must contain this
	}{
		{"no issuer", Config{Algorithm: HS256, Keys: []Key{hs.key("k")}}, "issuer"},
		{"no algorithm", withKeys("", hs.key("k")), "algorithm"},
		{"alg none", withKeys("none", hs.key("k")), `"none"`},
		{"alg lower case", withKeys("hs256", hs.key("k")), `"hs256"`},
		{"alg HS512", withKeys("HS512", hs.key("k")), `"HS512"`},
		{"no keys", withKeys(HS256), "key"},
		{"empty key ID", withKeys(HS256, Key{Material: hs.privPEM}), "empty ID"},
		{"duplicate key ID", withKeys(HS256, hs.key("k"), hs.key("k")), `"k"`},
		{"short HMAC secret", withKeys(HS256, Key{ID: "short", Material: shortSecret}), `"short"`},
		{"PEM as HMAC secret", withKeys(HS256, Key{ID: "pem", Material: rs.pubPEM}), `"pem"`},
		{"RSA 1024", withKeys(RS256, Key{ID: "weak", Material: pkcs8PEM(small)}), `"weak"`},
		{"EC key for RS256", withKeys(RS256, Key{ID: "ec", Material: es.privPEM}), `"ec"`},
		{"P-384 for ES256", withKeys(ES256, Key{ID: "p384", Material: pkcs8PEM(p384)}), "P-384"},
		{"RSA key for ES256", withKeys(ES256, Key{ID: "rsa", Material: rs.pubPEM}), `"rsa"`},
		{"RSA key for EdDSA", withKeys(EdDSA, Key{ID: "rsa", Material: rs.privPEM}), "Ed25519"},
		{"Ed25519 key for ES256", withKeys(ES256, Key{ID: "ed", Material: ed.pubPEM}), `"ed"`},
		{"raw bytes for ES256", withKeys(ES256, Key{ID: "raw", Material: hs.privPEM}), "not a PEM"},
		{"garbage DER", withKeys(ES256, Key{ID: "junk", Material: garbagePEM}), `"junk"`},
		{"two PEM blocks", withKeys(ES256, Key{ID: "two", Material: append(bytes.Clone(es.privPEM), es.pubPEM...)}), "after the first"},
		{"encrypted PEM", withKeys(RS256, Key{ID: "enc", Material: encrypted}), "encrypted"},
		{"certificate", withKeys(ES256, Key{ID: "cert", Material: certPEM}), "CERTIFICATE"},
		{"unknown signing key", Config{Issuer: testIssuer, Algorithm: ES256, Keys: []Key{es.key("a")}, SigningKeyID: "b"}, `"b"`},
		{"public signing key", Config{Issuer: testIssuer, Algorithm: ES256, Keys: []Key{es.publicKey("pub")}, SigningKeyID: "pub"}, "cannot sign"},
		{"negative leeway", Config{Issuer: testIssuer, Algorithm: HS256, Keys: []Key{hs.key("k")}, Leeway: -time.Second}, "leeway"},
		{"empty audience", Config{Issuer: testIssuer, Algorithm: HS256, Keys: []Key{hs.key("k")}, Audiences: []string{""}}, "audience"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v, err := New(c.cfg)
			if err == nil {
				t.Fatalf("New succeeded: %+v", v)
			}
			msg := err.Error()
			if !strings.Contains(msg, c.mention) {
				t.Fatalf("error %q does not mention %q", msg, c.mention)
			}
			for _, k := range c.cfg.Keys {
				if leaks(msg, k.Material) {
					t.Fatalf("error %q leaks key material", msg)
				}
			}
		})
	}
}

// leaks reports whether msg contains any 12-byte run of material (or of
// the base64 body of a PEM block).
func leaks(msg string, material []byte) bool {
	const n = 12
	check := func(b []byte) bool {
		for i := 0; i+n <= len(b); i++ {
			if strings.Contains(msg, string(b[i:i+n])) {
				return true
			}
		}
		return false
	}
	body := material
	if blk, _ := pem.Decode(material); blk != nil {
		lines := bytes.Split(material, []byte("\n"))
		body = bytes.Join(lines[1:len(lines)-2], nil) // drop BEGIN/END lines
	}
	return check(body)
}

// TestVerifierIsACopy: mutating the Config after New changes nothing.
func TestVerifierIsACopy(t *testing.T) {
	f := fixtureFor(t, HS256)
	secret := bytes.Clone(f.privPEM)
	cfg := baseConfig(f)
	cfg.Keys = []Key{{ID: "k1", Material: secret}}
	v := mustNew(t, cfg)
	tok, err := v.Mint(Claims{Subject: "1"}, time.Hour, testNow)
	if err != nil {
		t.Fatal(err)
	}
	for i := range secret {
		secret[i] = 0
	}
	cfg.Audiences[0] = "evil.example.com"
	if _, err := v.Verify(tok, testNow); err != nil {
		t.Fatalf("verifier changed with its config: %v", err)
	}
}
