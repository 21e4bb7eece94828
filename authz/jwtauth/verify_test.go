package jwtauth

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/cert"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwe"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"
)

// TestMintVerifyRoundTrip: what Mint issues, Verify accepts with the same
// claims, and an independent verifier (jwx's jwt package, given only the
// public key) accepts too.
func TestMintVerifyRoundTrip(t *testing.T) {
	for _, f := range fixtures(t) {
		t.Run(f.alg, func(t *testing.T) {
			v := mustNew(t, baseConfig(f))
			tok, issued, err := v.Issue(Claims{UserID: 42, Login: "jane", Email: "jane@example.com", Roles: []string{"customer", "subscriber"}}, 15*time.Minute, testNow)
			if err != nil {
				t.Fatal(err)
			}
			got, err := v.Verify(tok, testNow.Add(time.Minute))
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			want := &Claims{
				Subject: "42", UserID: 42, Login: "jane", Email: "jane@example.com",
				Roles: []string{"customer", "subscriber"}, TokenID: issued.TokenID,
				IssuedAt: testNow, ExpiresAt: testNow.Add(15 * time.Minute), Audience: []string{"shop.example.com"},
			}
			if !claimsEqual(got, want) || !claimsEqual(issued, want) {
				t.Fatalf("claims:\n got    %+v\n issued %+v\n want   %+v", got, issued, want)
			}
			if raw, _ := base64.RawURLEncoding.DecodeString(got.TokenID); len(raw) != 16 {
				t.Fatalf("jti %q is not 128 bits of base64url", got.TokenID)
			}

			msg, err := jws.Parse([]byte(tok))
			if err != nil {
				t.Fatal(err)
			}
			h := msg.Signatures()[0].ProtectedHeaders()
			if h.KeyID() != "k1" || h.Type() != "JWT" || h.Algorithm().String() != f.alg {
				t.Fatalf("header kid=%q typ=%q alg=%q", h.KeyID(), h.Type(), h.Algorithm())
			}

			var verifyKey any = f.signer
			if f.alg != HS256 {
				verifyKey, err = jwk.ParseKey(f.pubPEM, jwk.WithPEM(true))
				if err != nil {
					t.Fatal(err)
				}
			}
			jt, err := jwt.Parse([]byte(tok), jwt.WithKey(jwa.SignatureAlgorithm(f.alg), verifyKey),
				jwt.WithClock(jwt.ClockFunc(func() time.Time { return testNow })),
				jwt.WithIssuer(testIssuer), jwt.WithAudience("shop.example.com"))
			if err != nil {
				t.Fatalf("jwx rejects a minted token: %v", err)
			}
			if jt.Subject() != "42" || jt.JwtID() != issued.TokenID {
				t.Fatalf("jwx sees sub=%q jti=%q", jt.Subject(), jt.JwtID())
			}
		})
	}
}

func claimsEqual(a, b *Claims) bool {
	return a.Subject == b.Subject && a.UserID == b.UserID && a.Login == b.Login && a.Email == b.Email &&
		slices.Equal(a.Roles, b.Roles) && a.TokenID == b.TokenID && a.IssuedAt.Equal(b.IssuedAt) &&
		a.ExpiresAt.Equal(b.ExpiresAt) && slices.Equal(a.Audience, b.Audience)
}

// TestVerifyWithPublicKeyOnly: a verifier holding only the public PEM
// accepts tokens from the private key and cannot mint.
func TestVerifyWithPublicKeyOnly(t *testing.T) {
	for _, f := range fixtures(t) {
		if f.alg == HS256 {
			continue
		}
		t.Run(f.alg, func(t *testing.T) {
			minter := mustNew(t, baseConfig(f))
			tok, err := minter.Mint(Claims{Subject: "7"}, time.Hour, testNow)
			if err != nil {
				t.Fatal(err)
			}
			cfg := baseConfig(f)
			cfg.Keys = []Key{f.publicKey("k1")}
			v := mustNew(t, cfg)
			if v.CanSign() {
				t.Fatal("public-key verifier claims it can sign")
			}
			if _, err := v.Verify(tok, testNow); err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if _, err := v.Mint(Claims{Subject: "7"}, time.Hour, testNow); err == nil {
				t.Fatal("Mint with a public key succeeded")
			}
		})
	}
}

// TestAlgNone: unsigned tokens are refused in every spelling, with and
// without a signature segment.
func TestAlgNone(t *testing.T) {
	for _, f := range fixtures(t) {
		t.Run(f.alg, func(t *testing.T) {
			v := mustNew(t, baseConfig(f))
			payload := b64url([]byte(claimsJSON(t, nil)))
			for _, alg := range []string{"none", "None", "NONE", "nOnE"} {
				hdr := b64url([]byte(`{"alg":"` + alg + `","kid":"k1"}`))
				tok := hdr + "." + payload + "."
				_, err := v.Verify(tok, testNow)
				assertReason(t, tok, err, errMalformed) // empty signature segment
				tok = hdr + "." + payload + "." + b64url(make([]byte, 32))
				_, err = v.Verify(tok, testNow)
				assertReason(t, tok, err, errAlgNone)
			}
			// jwx's own "none" output, for good measure.
			signed, err := jws.Sign([]byte(claimsJSON(t, nil)), jws.WithInsecureNoSignature())
			if err != nil {
				t.Fatal(err)
			}
			_, err = v.Verify(string(signed), testNow)
			assertErr(t, string(signed), err, ErrInvalid)
		})
	}
}

// TestAlgorithmConfusion: only Config.Algorithm is accepted. The classic
// attack — an HS256 token whose HMAC secret is the server's public key PEM —
// fails against an RS256/ES256/EdDSA verifier, as does a token properly
// signed with another algorithm.
func TestAlgorithmConfusion(t *testing.T) {
	payload := claimsJSON(t, nil)
	for _, f := range fixtures(t) {
		t.Run(f.alg, func(t *testing.T) {
			v := mustNew(t, baseConfig(f))
			if f.alg != HS256 {
				// Public key PEM as HMAC secret, header says HS256.
				tok := craft(t, HS256, f.pubPEM, header(HS256, "k1"), payload)
				_, err := v.Verify(tok, testNow)
				assertReason(t, tok, err, errAlgMismatch)
				// The same with jwx doing the signing.
				hdr := jws.NewHeaders()
				_ = hdr.Set(jws.KeyIDKey, "k1")
				signed, err := jws.Sign([]byte(payload), jws.WithKey(jwa.HS256, f.pubPEM, jws.WithProtectedHeaders(hdr)))
				if err != nil {
					t.Fatal(err)
				}
				_, err = v.Verify(string(signed), testNow)
				assertReason(t, string(signed), err, errAlgMismatch)
				// Header claims the right algorithm but the signature is
				// an HMAC keyed with the public PEM: the signature must fail.
				input := b64url([]byte(header(f.alg, "k1"))) + "." + b64url([]byte(payload))
				mac := rawSign(t, HS256, f.pubPEM, []byte(input))
				sig := make([]byte, fixtureSigLen(t, v))
				copy(sig, mac)
				tok = input + "." + b64url(sig)
				_, err = v.Verify(tok, testNow)
				assertReason(t, tok, err, errSignature)
			}
			for _, other := range fixtures(t) {
				if other.alg == f.alg {
					continue
				}
				tok := craft(t, other.alg, other.signer, header(other.alg, "k1"), payload)
				_, err := v.Verify(tok, testNow)
				assertReason(t, tok, err, errAlgMismatch)
			}
			for _, alg := range []string{"HS384", "HS512", "RS384", "PS256", "ES384", "ES256K", "Ed25519", strings.ToLower(f.alg), ""} {
				tok := craft(t, f.alg, f.signer, header(alg, "k1"), payload)
				_, err := v.Verify(tok, testNow)
				assertReason(t, tok, err, errAlgMismatch)
			}
			// alg missing or not a string.
			for _, h := range []string{`{"kid":"k1"}`, `{"alg":null}`, `{"alg":["` + f.alg + `"]}`} {
				tok := craft(t, f.alg, f.signer, h, payload)
				_, err := v.Verify(tok, testNow)
				assertReason(t, tok, err, errAlgMismatch)
			}
		})
	}
}

func fixtureSigLen(t *testing.T, v *Verifier) int {
	t.Helper()
	return v.only.sigLen
}

// TestKeyID covers kid handling with one and with several keys.
func TestKeyID(t *testing.T) {
	payload := claimsJSON(t, nil)
	for _, f := range fixtures(t) {
		t.Run(f.alg, func(t *testing.T) {
			single := mustNew(t, baseConfig(f))
			// Single key: no kid is fine, the right kid is fine.
			for _, kid := range []string{"", "k1"} {
				tok := craft(t, f.alg, f.signer, header(f.alg, kid), payload)
				if _, err := single.Verify(tok, testNow); err != nil {
					t.Fatalf("kid %q: %v", kid, err)
				}
			}
			// A wrong kid is refused even though the signature is good.
			tok := craft(t, f.alg, f.signer, header(f.alg, "k2"), payload)
			_, err := single.Verify(tok, testNow)
			assertReason(t, tok, err, errKidUnknown)
			for _, h := range []string{`{"alg":"` + f.alg + `","kid":1}`, `{"alg":"` + f.alg + `","kid":null}`, `{"alg":"` + f.alg + `","kid":["k1"]}`} {
				tok := craft(t, f.alg, f.signer, h, payload)
				_, err := single.Verify(tok, testNow)
				assertReason(t, tok, err, errKidType)
			}

			g := newFixture(f.alg)
			cfg := baseConfig(f)
			cfg.Keys = []Key{f.key("k1"), g.key("k2")}
			multi := mustNew(t, cfg)
			tok = craft(t, f.alg, f.signer, header(f.alg, ""), payload)
			_, err = multi.Verify(tok, testNow)
			assertReason(t, tok, err, errKidRequired)
			tok = craft(t, f.alg, f.signer, header(f.alg, "k3"), payload)
			_, err = multi.Verify(tok, testNow)
			assertReason(t, tok, err, errKidUnknown)
			// kid names one key, the signature is by the other.
			tok = craft(t, f.alg, f.signer, header(f.alg, "k2"), payload)
			_, err = multi.Verify(tok, testNow)
			assertReason(t, tok, err, errSignature)
			for kid, signer := range map[string]any{"k1": f.signer, "k2": g.signer} {
				tok := craft(t, f.alg, signer, header(f.alg, kid), payload)
				if _, err := multi.Verify(tok, testNow); err != nil {
					t.Fatalf("kid %s: %v", kid, err)
				}
			}
		})
	}
}

// TestRotation: with two keys both kids verify; a verifier built after the
// old key is removed refuses the old key's tokens.
func TestRotation(t *testing.T) {
	for _, f := range fixtures(t) {
		t.Run(f.alg, func(t *testing.T) {
			g := newFixture(f.alg)
			old, next := f.key("2025-01"), g.key("2025-02")
			cfg := baseConfig(f)
			cfg.CacheSize = 0 // the cache must not keep a removed key alive
			cfg.Keys = []Key{old, next}
			cfg.SigningKeyID = "2025-01"
			before := mustNew(t, cfg)
			cfg.SigningKeyID = "2025-02"
			during := mustNew(t, cfg)

			oldTok, err := before.Mint(Claims{Subject: "1"}, time.Hour, testNow)
			if err != nil {
				t.Fatal(err)
			}
			newTok, err := during.Mint(Claims{Subject: "2"}, time.Hour, testNow)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range []*Verifier{before, during} {
				for _, tok := range []string{oldTok, newTok} {
					if _, err := v.Verify(tok, testNow); err != nil {
						t.Fatalf("during rotation: %v", err)
					}
				}
			}

			cfg.Keys = []Key{next}
			cfg.SigningKeyID = ""
			after := mustNew(t, cfg)
			if _, err := after.Verify(newTok, testNow); err != nil {
				t.Fatalf("new key after rotation: %v", err)
			}
			_, err = after.Verify(oldTok, testNow)
			assertReason(t, oldTok, err, errKidUnknown)
		})
	}
}

// TestEmbeddedKeysIgnored: jwk, jku, x5u and x5c headers never supply a
// key, and URLs in them are never fetched — whether the token is signed by
// an attacker (refused) or by the real key (accepted, headers ignored).
func TestEmbeddedKeysIgnored(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Error(w, "should never be fetched", http.StatusTeapot)
	}))
	defer srv.Close()
	payload := []byte(claimsJSON(t, nil))

	for _, f := range fixtures(t) {
		t.Run(f.alg, func(t *testing.T) {
			v := mustNew(t, baseConfig(f))
			attacker := newFixture(f.alg)
			var attackerPub any
			switch k := attacker.signer.(type) {
			case []byte:
				attackerPub = k
			default:
				attackerPub = k.(crypto.Signer).Public()
			}
			jwkKey, err := jwk.FromRaw(attackerPub)
			if err != nil {
				t.Fatal(err)
			}
			_ = jwkKey.Set(jwk.KeyIDKey, "k1")

			headers := map[string]func(jws.Headers){
				"jwk": func(h jws.Headers) { _ = h.Set(jws.JWKKey, jwkKey) },
				"jku": func(h jws.Headers) { _ = h.Set(jws.JWKSetURLKey, srv.URL+"/jwks.json") },
				"x5u": func(h jws.Headers) { _ = h.Set(jws.X509URLKey, srv.URL+"/cert.pem") },
			}
			if f.alg != HS256 {
				var chain cert.Chain
				_ = chain.AddString(base64.StdEncoding.EncodeToString(selfSigned(t, attacker.signer)))
				headers["x5c"] = func(h jws.Headers) { _ = h.Set(jws.X509CertChainKey, &chain) }
			}
			for name, set := range headers {
				for _, who := range []struct {
					name   string
					signer any
					ok     bool
				}{{"attacker", attacker.signer, false}, {"legit", f.signer, true}} {
					hdr := jws.NewHeaders()
					_ = hdr.Set(jws.KeyIDKey, "k1")
					set(hdr)
					signed, err := jws.Sign(payload, jws.WithKey(jwa.SignatureAlgorithm(f.alg), who.signer, jws.WithProtectedHeaders(hdr)))
					if err != nil {
						t.Fatalf("%s: %v", name, err)
					}
					_, err = v.Verify(string(signed), testNow)
					if who.ok {
						if err != nil {
							t.Fatalf("%s header on a legit token: %v", name, err)
						}
						continue
					}
					assertReason(t, string(signed), err, errSignature)
				}
			}
		})
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("verifier fetched a key URL %d times", n)
	}
}

func selfSigned(t *testing.T, signer any) []byte {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "attacker"},
		NotBefore: testNow.Add(-time.Hour), NotAfter: testNow.Add(time.Hour)}
	pub := signer.(crypto.Signer).Public()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, signer)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// TestForbiddenHeaders: crit, b64, cty/enc/zip and a foreign typ are
// refused even on a correctly signed token.
func TestForbiddenHeaders(t *testing.T) {
	payload := claimsJSON(t, nil)
	for _, f := range fixtures(t) {
		t.Run(f.alg, func(t *testing.T) {
			v := mustNew(t, baseConfig(f))
			a := `"alg":"` + f.alg + `","kid":"k1"`
			cases := []struct {
				header string
				want   error
			}{
				{`{` + a + `,"crit":["exp"],"exp":1}`, errCrit},
				{`{` + a + `,"crit":[]}`, errCrit},
				{`{` + a + `,"b64":false,"crit":["b64"]}`, errCrit},
				{`{` + a + `,"b64":false}`, errB64},
				{`{` + a + `,"b64":true}`, errB64},
				{`{` + a + `,"cty":"JWT"}`, errCty},
				{`{` + a + `,"enc":"A128GCM"}`, errCty},
				{`{` + a + `,"zip":"DEF"}`, errCty},
				{`{` + a + `,"typ":"wpauthz-id+jwt"}`, errTyp},
				{`{` + a + `,"typ":1}`, errTyp},
				{`[` + a + `]`, errHeader},
				{`null`, errHeader},
				{`{` + a + `,}`, errHeader},
			}
			for _, c := range cases {
				tok := craft(t, f.alg, f.signer, c.header, payload)
				_, err := v.Verify(tok, testNow)
				assertReason(t, tok, err, c.want)
			}
			// crit through jwx's own signer too.
			hdr := jws.NewHeaders()
			_ = hdr.Set(jws.KeyIDKey, "k1")
			_ = hdr.Set(jws.CriticalKey, []string{"x-custom"})
			_ = hdr.Set("x-custom", true)
			signed, err := jws.Sign([]byte(payload), jws.WithKey(jwa.SignatureAlgorithm(f.alg), f.signer, jws.WithProtectedHeaders(hdr)))
			if err != nil {
				t.Fatal(err)
			}
			_, err = v.Verify(string(signed), testNow)
			assertReason(t, string(signed), err, errCrit)
			// Lower-case typ and unknown non-critical parameters are fine.
			tok := craft(t, f.alg, f.signer, `{`+a+`,"typ":"jwt","x-note":"hi","x5t":"abc"}`, payload)
			if _, err := v.Verify(tok, testNow); err != nil {
				t.Fatalf("benign header: %v", err)
			}
		})
	}
}

// TestClaims: each claim rule, including JSON type confusion, for every
// algorithm.
func TestClaims(t *testing.T) {
	hour := testNow.Add(time.Hour).Unix()
	cases := []struct {
		name  string
		extra map[string]any
		at    time.Duration // offset of now from testNow
		want  error         // nil: must verify
	}{
		{"valid", nil, 0, nil},
		{"iss missing", map[string]any{"iss": nil}, 0, errIssMissing},
		{"iss other", map[string]any{"iss": "https://evil.example"}, 0, errIssMismatch},
		{"iss prefix", map[string]any{"iss": testIssuer + "/"}, 0, errIssMismatch},
		{"iss number", map[string]any{"iss": 1}, 0, errIssMissing},
		{"iss array", map[string]any{"iss": []string{testIssuer}}, 0, errIssMissing},
		{"sub missing", map[string]any{"sub": nil}, 0, errSubMissing},
		{"sub empty", map[string]any{"sub": ""}, 0, errSubMissing},
		{"sub number", map[string]any{"sub": 42}, 0, errSubMissing},
		{"sub null", map[string]any{"sub": rawJSON("null")}, 0, errSubMissing},
		{"sub array", map[string]any{"sub": []string{"42"}}, 0, errSubMissing},
		{"aud missing", map[string]any{"aud": nil}, 0, errAudMismatch},
		{"aud other", map[string]any{"aud": "evil.example.com"}, 0, errAudMismatch},
		{"aud array with ours", map[string]any{"aud": []string{"x", "shop.example.com"}}, 0, nil},
		{"aud array without ours", map[string]any{"aud": []string{"x", "y"}}, 0, errAudMismatch},
		{"aud empty array", map[string]any{"aud": []string{}}, 0, errAudMismatch},
		{"aud number", map[string]any{"aud": 1}, 0, errAudType},
		{"aud array with number", map[string]any{"aud": rawJSON(`["shop.example.com",1]`)}, 0, errAudType},
		{"aud array with null", map[string]any{"aud": rawJSON(`["shop.example.com",null]`)}, 0, errAudType},
		{"exp missing", map[string]any{"exp": nil}, 0, errExpMissing},
		{"exp string", map[string]any{"exp": rawJSON(`"9999999999"`)}, 0, errExpMissing},
		{"exp null", map[string]any{"exp": rawJSON("null")}, 0, errExpMissing},
		{"exp bool", map[string]any{"exp": true}, 0, errExpMissing},
		{"exp negative", map[string]any{"exp": -1}, 0, errExpMissing},
		{"exp absurd", map[string]any{"exp": rawJSON("1e300")}, 0, errExpMissing},
		{"exp beyond 9999", map[string]any{"exp": 253402300800}, 0, errExpMissing},
		{"exp fractional", map[string]any{"exp": rawJSON("1750003600.5")}, 0, nil},
		{"exp exponent", map[string]any{"exp": rawJSON("1.7500036e9")}, 0, nil},
		{"exp passed", map[string]any{"exp": testNow.Add(-time.Minute).Unix(), "iat": nil}, 0, errExpired},
		{"exp plus leeway is now", map[string]any{"exp": testNow.Add(-25 * time.Second).Unix(), "iat": nil}, 0, errExpired},
		{"exp plus leeway is a second away", map[string]any{"exp": testNow.Add(-24 * time.Second).Unix(), "iat": nil}, 0, nil},
		{"exp passed within leeway", map[string]any{"exp": testNow.Add(-20 * time.Second).Unix(), "iat": testNow.Add(-time.Hour).Unix()}, 0, nil},
		{"exp passed beyond leeway", map[string]any{"exp": testNow.Add(-30 * time.Second).Unix(), "iat": testNow.Add(-time.Hour).Unix()}, 0, errExpired},
		{"later clock expires", nil, time.Hour + 30*time.Second, errExpired},
		{"nbf future", map[string]any{"nbf": testNow.Add(time.Minute).Unix()}, 0, errNotYetValidNbf},
		{"nbf future within leeway", map[string]any{"nbf": testNow.Add(20 * time.Second).Unix()}, 0, nil},
		{"nbf past", map[string]any{"nbf": testNow.Add(-time.Minute).Unix()}, 0, nil},
		{"nbf string", map[string]any{"nbf": rawJSON(`"1"`)}, 0, errNbfType},
		{"iat future", map[string]any{"iat": testNow.Add(time.Minute).Unix()}, 0, errNotYetValidIat},
		{"iat future within leeway", map[string]any{"iat": testNow.Add(25 * time.Second).Unix()}, 0, nil},
		{"iat future just beyond leeway", map[string]any{"iat": testNow.Add(26 * time.Second).Unix()}, 0, errNotYetValidIat},
		{"nbf future just beyond leeway", map[string]any{"nbf": testNow.Add(26 * time.Second).Unix()}, 0, errNotYetValidNbf},
		{"iat missing", map[string]any{"iat": nil}, 0, nil},
		{"iat string", map[string]any{"iat": rawJSON(`"1750000000"`)}, 0, errIatType},
		{"iat after exp", map[string]any{"iat": hour + 1}, 0, errExpBeforeIat},
		{"jti number", map[string]any{"jti": 5}, 0, errJtiType},
		{"login number", map[string]any{"login": 5}, 0, errLoginType},
		{"preferred_username object", map[string]any{"login": nil, "preferred_username": map[string]string{"a": "b"}}, 0, errLoginType},
		{"email array", map[string]any{"email": []string{"a@b"}}, 0, errEmailType},
		{"roles string", map[string]any{"roles": "administrator"}, 0, errRolesType},
		{"roles number element", map[string]any{"roles": rawJSON(`["customer",1]`)}, 0, errRolesType},
		{"roles null element", map[string]any{"roles": rawJSON(`["customer",null]`)}, 0, errRolesType},
		{"roles nested array", map[string]any{"roles": rawJSON(`[["administrator"]]`)}, 0, errRolesType},
		{"roles object", map[string]any{"roles": map[string]bool{"administrator": true}}, 0, errRolesType},
		{"roles null", map[string]any{"roles": rawJSON("null")}, 0, errRolesType},
		{"roles empty", map[string]any{"roles": []string{}}, 0, nil},
	}
	for _, f := range fixtures(t) {
		t.Run(f.alg, func(t *testing.T) {
			cfg := baseConfig(f)
			cfg.Leeway = 25 * time.Second
			v := mustNew(t, cfg)
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					tok := craft(t, f.alg, f.signer, header(f.alg, "k1"), claimsJSON(t, c.extra))
					got, err := v.Verify(tok, testNow.Add(c.at))
					if c.want == nil {
						if err != nil {
							t.Fatal(err)
						}
						if got.Subject != "42" {
							t.Fatalf("subject %q", got.Subject)
						}
						return
					}
					assertReason(t, tok, err, c.want)
				})
			}
		})
	}
}

// TestClaimsNotAnObject: payloads that are not a JSON object.
func TestClaimsNotAnObject(t *testing.T) {
	f := fixtureFor(t, ES256)
	v := mustNew(t, baseConfig(f))
	for _, p := range []string{`null`, `[]`, `"x"`, `42`, `{"iss":`, claimsJSON(t, nil) + "x"} {
		tok := craft(t, f.alg, f.signer, header(f.alg, "k1"), p)
		_, err := v.Verify(tok, testNow)
		assertReason(t, tok, err, errClaimsJSON)
	}
}

// TestClaimMapping: UserID, Login fallback, aud without configured
// audiences, fractional dates.
func TestClaimMapping(t *testing.T) {
	f := fixtureFor(t, EdDSA)
	cfg := baseConfig(f)
	cfg.Audiences = nil
	v := mustNew(t, cfg)
	cases := []struct {
		extra map[string]any
		check func(*Claims) bool
	}{
		{map[string]any{"aud": nil}, func(c *Claims) bool { return c.Audience == nil }},
		{map[string]any{"aud": "anything"}, func(c *Claims) bool { return slices.Equal(c.Audience, []string{"anything"}) }},
		{map[string]any{"sub": "apikey:shop/ci"}, func(c *Claims) bool { return c.UserID == 0 && c.Subject == "apikey:shop/ci" }},
		{map[string]any{"sub": "042"}, func(c *Claims) bool { return c.UserID == 0 }},
		{map[string]any{"sub": "+42"}, func(c *Claims) bool { return c.UserID == 0 }},
		{map[string]any{"sub": "-42"}, func(c *Claims) bool { return c.UserID == 0 }},
		{map[string]any{"sub": "9223372036854775807"}, func(c *Claims) bool { return c.UserID == 9223372036854775807 }},
		{map[string]any{"sub": "9223372036854775808"}, func(c *Claims) bool { return c.UserID == 0 }},
		{map[string]any{"login": nil, "preferred_username": "pj"}, func(c *Claims) bool { return c.Login == "pj" }},
		{map[string]any{"login": "jane", "preferred_username": "pj"}, func(c *Claims) bool { return c.Login == "jane" }},
		{map[string]any{"roles": nil}, func(c *Claims) bool { return c.Roles == nil }},
		{map[string]any{"iat": rawJSON("1750000000.25")}, func(c *Claims) bool {
			return c.IssuedAt.Equal(testNow.Add(250 * time.Millisecond))
		}},
	}
	for i, c := range cases {
		tok := craft(t, f.alg, f.signer, header(f.alg, "k1"), claimsJSON(t, c.extra))
		got, err := v.Verify(tok, testNow.Add(time.Second))
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if !c.check(got) {
			t.Fatalf("case %d: unexpected claims %+v", i, got)
		}
	}
}

// TestFraming: anything but exactly three canonical base64url segments.
func TestFraming(t *testing.T) {
	for _, f := range fixtures(t) {
		t.Run(f.alg, func(t *testing.T) {
			v := mustNew(t, baseConfig(f))
			good, err := v.Mint(Claims{Subject: "42"}, time.Hour, testNow)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := v.Verify(good, testNow); err != nil {
				t.Fatal(err)
			}
			h, p, s := split3(t, good)
			malformed := []string{
				"", ".", "..", "...", good + ".", "." + good, good + ".x", good + "..",
				good + " ", " " + good, good + "\n", good + "=", good + "==", good + "\x00",
				h + "." + p, h + ".." + s, "." + p + "." + s,
				h + "." + p + "." + s + "." + s,
				h + "." + p + ".AAAA.BBBB.CCCC",
				h + "." + p + ".+" + s[1:], h + "." + p + "./" + s[1:],
				h + "=." + p + "." + s,
				`{"payload":"` + p + `","protected":"` + h + `","signature":"` + s + `"}`,
			}
			for _, tok := range malformed {
				if tok == good {
					continue
				}
				_, err := v.Verify(tok, testNow)
				assertErr(t, tok, err, ErrInvalid)
			}

			big := good + strings.Repeat("A", MaxTokenSize-len(good)+1)
			_, err = v.Verify(big, testNow)
			assertReason(t, big, err, errTooLarge)

			// Non-canonical base64: same bytes, different spelling.
			tok := h + "." + p + "." + flipTrailingBits(t, s)
			_, err = v.Verify(tok, testNow)
			assertReason(t, tok, err, errSigEncoding)
			// Canonically encoded, but one byte short or long.
			sig, _ := base64.RawURLEncoding.DecodeString(s)
			for _, wrong := range [][]byte{sig[:len(sig)-1], append(sig[:len(sig):len(sig)], 0), nil} {
				tok = h + "." + p + "." + b64url(wrong)
				_, err = v.Verify(tok, testNow)
				if len(wrong) == 0 {
					assertReason(t, tok, err, errMalformed)
					continue
				}
				assertReason(t, tok, err, errSigEncoding)
			}

			// Tampering with any segment breaks the signature.
			tok = b64url([]byte(`{"alg":"`+f.alg+`","kid":"k1","typ":"JWT","x":1}`)) + "." + p + "." + s
			_, err = v.Verify(tok, testNow)
			assertReason(t, tok, err, errSignature)
			tok = h + "." + b64url([]byte(claimsJSON(t, map[string]any{"roles": []string{"administrator"}}))) + "." + s
			_, err = v.Verify(tok, testNow)
			assertReason(t, tok, err, errSignature)

			// A real JWE (five segments).
			enc := newFixture(RS256).signer.(crypto.Signer).Public()
			jweTok, err := jwe.Encrypt([]byte(claimsJSON(t, nil)), jwe.WithKey(jwa.RSA_OAEP_256, enc))
			if err != nil {
				t.Fatal(err)
			}
			_, err = v.Verify(string(jweTok), testNow)
			assertReason(t, string(jweTok), err, errMalformed)

			// The JWS JSON serializations, signed with the right key.
			hdr := jws.NewHeaders()
			_ = hdr.Set(jws.KeyIDKey, "k1")
			for _, opt := range []jws.SignOption{jws.WithJSON(), jws.WithJSON(jws.WithPretty(true))} {
				js, err := jws.Sign([]byte(claimsJSON(t, nil)), opt, jws.WithKey(jwa.SignatureAlgorithm(f.alg), f.signer, jws.WithProtectedHeaders(hdr)))
				if err != nil {
					t.Fatal(err)
				}
				_, err = v.Verify(string(js), testNow)
				assertReason(t, string(js), err, errMalformed)
			}
		})
	}
}

func split3(t *testing.T, tok string) (string, string, string) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts", len(parts))
	}
	return parts[0], parts[1], parts[2]
}

// flipTrailingBits changes the unused low bits of the last base64url
// character, so the segment decodes (leniently) to the same bytes.
func flipTrailingBits(t *testing.T, seg string) string {
	t.Helper()
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	if len(seg)%4 == 0 {
		t.Fatal("signature has no unused bits")
	}
	last := strings.IndexByte(alphabet, seg[len(seg)-1])
	out := seg[:len(seg)-1] + string(alphabet[last^1])
	a, errA := base64.RawURLEncoding.DecodeString(seg)
	b, errB := base64.RawURLEncoding.DecodeString(out)
	if errA != nil || errB != nil || string(a) != string(b) {
		t.Fatalf("flipTrailingBits did not produce an alias")
	}
	return out
}

// TestMint covers Mint's input checks and jti uniqueness.
func TestMint(t *testing.T) {
	f := fixtureFor(t, HS256)
	v := mustNew(t, baseConfig(f))
	bad := []struct {
		name string
		c    Claims
		ttl  time.Duration
	}{
		{"no subject", Claims{}, time.Hour},
		{"subject and user ID disagree", Claims{Subject: "41", UserID: 42}, time.Hour},
		{"non-numeric subject with user ID", Claims{Subject: "jane", UserID: 42}, time.Hour},
		{"negative user ID", Claims{UserID: -1}, time.Hour},
		{"ttl zero", Claims{UserID: 1}, 0},
		{"ttl sub-second", Claims{UserID: 1}, 999 * time.Millisecond},
		{"invalid UTF-8 login", Claims{UserID: 1, Login: "ja\xffne"}, time.Hour},
		{"empty role", Claims{UserID: 1, Roles: []string{""}}, time.Hour},
		{"invalid UTF-8 role", Claims{UserID: 1, Roles: []string{"\xfe"}}, time.Hour},
	}
	for _, b := range bad {
		if _, err := v.Mint(b.c, b.ttl, testNow); err == nil {
			t.Errorf("%s: Mint succeeded", b.name)
		}
	}

	seen := map[string]bool{}
	for range 1000 {
		tok, c, err := v.Issue(Claims{Subject: "42", UserID: 42}, time.Minute, testNow)
		if err != nil {
			t.Fatal(err)
		}
		if seen[c.TokenID] {
			t.Fatalf("duplicate jti %q", c.TokenID)
		}
		seen[c.TokenID] = true
		if _, err := v.Verify(tok, testNow); err != nil {
			t.Fatal(err)
		}
	}

	// Hostile strings are JSON-escaped, never interpreted as claims.
	login := `jane","roles":["administrator"],"x":"` + "\u2028\x00\\"
	tok, err := v.Mint(Claims{UserID: 9, Login: login, Roles: []string{`a"b`}}, time.Minute, testNow)
	if err != nil {
		t.Fatal(err)
	}
	c, err := v.Verify(tok, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if c.Login != login || !slices.Equal(c.Roles, []string{`a"b`}) {
		t.Fatalf("claims changed in transit: %+v", c)
	}

	// No audience configured: no aud claim.
	cfg := baseConfig(f)
	cfg.Audiences = nil
	na := mustNew(t, cfg)
	tok, err = na.Mint(Claims{UserID: 1}, time.Minute, testNow)
	if err != nil {
		t.Fatal(err)
	}
	_, p, _ := split3(t, tok)
	raw, _ := base64.RawURLEncoding.DecodeString(p)
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if _, ok := m["aud"]; ok {
		t.Fatalf("aud present without configured audiences: %s", raw)
	}
	if _, ok := m["nbf"]; ok {
		t.Fatalf("unexpected nbf: %s", raw)
	}
}

// TestErrorsAreStable: callers and logs rely on errors.Is and on messages
// that carry a reason but no token data.
func TestErrorsAreStable(t *testing.T) {
	f := fixtureFor(t, ES256)
	v := mustNew(t, baseConfig(f))
	tok := craft(t, f.alg, f.signer, header(f.alg, "k1"), claimsJSON(t, map[string]any{"exp": testNow.Add(-time.Hour).Unix(), "iat": nil}))
	_, err := v.Verify(tok, testNow)
	if !errors.Is(err, ErrExpired) || err.Error() != "jwtauth: token expired: exp has passed" {
		t.Fatalf("got %v", err)
	}
}
