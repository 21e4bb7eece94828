package authz_test

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"testing"
	"time"
)

// TestHardening10_TokenCodes: through the engine, a genuine signature over
// claims or a header that repeat a member is wpauthz_invalid_token (not the
// last value's meaning), and a token whose nbf or iat lies ahead is
// wpauthz_token_not_yet_valid, not wpauthz_token_expired.
func TestHardening10_TokenCodes(t *testing.T) {
	f := newFixture(t)
	raw := func(s string) json.RawMessage { return json.RawMessage(s) }
	sign := func(header, claims string) string {
		input := segment(t, raw(header)) + "." + segment(t, raw(claims))
		return signInput(t, f.es256, input)
	}
	exp := now.Add(10 * time.Minute).Unix()
	body := func(extra string) string {
		c, _ := json.Marshal(claims(map[string]any{"exp": exp}))
		return string(c[:len(c)-1]) + extra + "}"
	}
	hdr := func(map[string]any) map[string]any { return map[string]any{"alg": "ES256", "typ": "JWT", "kid": "k1"} }
	h, _ := json.Marshal(hdr(nil))
	cases := []struct {
		name, token, code string
	}{
		{"sub twice", sign(string(h), body(`,"sub":"2"`)), "wpauthz_invalid_token"},
		{"exp past then year 9999", sign(string(h), `{"iss":"https://localhost/wp-json","aud":"localhost","sub":"1","exp":1,"exp":253402300799}`), "wpauthz_invalid_token"},
		{"roles twice", sign(string(h), body(`,"roles":["editor"]`)), "wpauthz_invalid_token"},
		{"alg twice", sign(string(h[:len(h)-1])+`,"alg":"ES256"}`, body("")), "wpauthz_invalid_token"},
		{"nbf ahead", signES256(t, f.es256, hdr(nil), claims(map[string]any{"nbf": now.Add(time.Hour).Unix()})), "wpauthz_token_not_yet_valid"},
		{"iat ahead", signES256(t, f.es256, hdr(nil), claims(map[string]any{"iat": now.Add(5 * time.Minute).Unix()})), "wpauthz_token_not_yet_valid"},
	}
	if d := f.check(req{method: "GET", target: "/wp-json/wp/v2/comments", headers: bearer(sign(string(h), body("")))}); !d.Allowed {
		t.Fatalf("control token refused: %d %s", d.Status, d.Code)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := f.check(req{method: "GET", target: "/wp-json/wp/v2/posts", headers: bearer(c.token)})
			if d.Allowed || d.Status != 401 || d.Code != c.code {
				t.Fatalf("got allowed=%v %d %q, want 401 %q", d.Allowed, d.Status, d.Code, c.code)
			}
			if !hasHeader(d.ResponseHeaders, "WWW-Authenticate", `error="invalid_token"`) {
				t.Fatalf("no RFC 6750 challenge: %v", d.ResponseHeaders)
			}
		})
	}
}

// signInput signs a signing input made by hand (signES256 marshals maps,
// which cannot repeat a name).
func signInput(t *testing.T, key *ecdsa.PrivateKey, input string) string {
	sum := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, key, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return input + "." + b64(sig)
}
