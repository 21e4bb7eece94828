package authz_test

import (
	"context"
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
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jwt"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wpauthz/wpauthz/api/v1alpha1"
	"github.com/wpauthz/wpauthz/authz"
	"github.com/wpauthz/wpauthz/authz/apikey"
	"github.com/wpauthz/wpauthz/authz/identity"
	"github.com/wpauthz/wpauthz/authz/jwtauth"
	"github.com/wpauthz/wpauthz/authz/policy"
)

// now is the test clock.
var now = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

// fixture is a compiled test world: a policy for localhost (ES256 JWT and
// API keys), one for *.rsa.test (RS256), and the keys to attack them with.
type fixture struct {
	engine      *authz.Engine
	es256       *ecdsa.PrivateKey
	rsaKey      *rsa.PrivateKey
	identityPub ed25519.PublicKey
	local       *policy.Policy
	rsaPolicy   *policy.Policy
	shopKey     string // universal key, shop_manager
	janeKey     string // user key, editor, user 2
	oldKey      string // expired
	offKey      string // disabled
}

func pemOf(t testing.TB, k any) string {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	f := &fixture{}
	var err error
	if f.es256, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	if f.rsaKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		t.Fatal(err)
	}
	pub, idKey, _ := ed25519.GenerateKey(rand.Reader)
	f.identityPub = pub
	mustKey := func() string {
		k, err := apikey.Generate()
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	f.shopKey, f.janeKey, f.oldKey, f.offKey = mustKey(), mustKey(), mustKey(), mustKey()

	secret := func(name string, data map[string]string) corev1.Secret {
		return corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}, StringData: data}
	}
	key := func(name string, spec v1alpha1.ApiKeySpec) v1alpha1.ApiKey {
		spec.PolicyRef = v1alpha1.PolicyReference{Name: "local"}
		spec.SecretRef = &v1alpha1.SecretKeySelector{Name: name, Key: "key"}
		return v1alpha1.ApiKey{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}, Spec: spec}
	}
	expired := metav1.NewTime(now.Add(-time.Hour))
	b := policy.Bundle{
		Policies: []v1alpha1.WPApiPolicy{
			{
				ObjectMeta: metav1.ObjectMeta{Name: "local", Namespace: "default"},
				Spec: v1alpha1.WPApiPolicySpec{
					Hosts:         []v1alpha1.Host{"localhost", "*.shop.test"},
					DefaultAction: v1alpha1.ActionAuthenticate,
					Rules: []v1alpha1.Rule{
						{Name: "index", Routes: []string{"/"}, Methods: []v1alpha1.HTTPMethod{"GET"}, Action: v1alpha1.ActionAllow},
						{Name: "read", Routes: []string{"/wp/v2/posts", "/wp/v2/posts/*", "/wp/v2/pages/**"}, Methods: []v1alpha1.HTTPMethod{"GET"}, Action: v1alpha1.ActionAllow},
						{Name: "no-users", Routes: []string{"/wp/v2/users"}, Methods: []v1alpha1.HTTPMethod{"GET"}, Action: v1alpha1.ActionDeny},
						{Name: "no-settings", Routes: []string{"/wp/v2/settings"}, Action: v1alpha1.ActionDeny},
						{Name: "write", Routes: []string{"/wp/v2/posts", "/wp/v2/posts/**"}, Methods: []v1alpha1.HTTPMethod{"POST", "PUT", "PATCH", "DELETE"},
							Action: v1alpha1.ActionAuthenticate, Roles: []v1alpha1.Role{"editor", "administrator"}},
						{Name: "orders", Routes: []string{"/wc/v3/orders/**"}, Action: v1alpha1.ActionAuthenticate,
							Roles: []v1alpha1.Role{"shop_manager", "administrator"}, AuthMethods: []v1alpha1.AuthMethod{v1alpha1.AuthMethodAPIKey}},
						{Name: "batch", Routes: []string{"/batch/v1"}, Methods: []v1alpha1.HTTPMethod{"POST"}, Action: v1alpha1.ActionAuthenticate},
					},
					Authentication: v1alpha1.Authentication{
						JWT: &v1alpha1.JWTAuthentication{Issuer: "https://localhost/wp-json", Audiences: []string{"localhost"},
							Algorithm: "ES256", KeysSecretRef: v1alpha1.SecretReference{Name: "jwt"}},
						APIKeys: &v1alpha1.APIKeyAuthentication{},
					},
					Identity: v1alpha1.IdentityForwarding{SigningKeySecretRef: &v1alpha1.SecretKeySelector{Name: "identity", Key: "key"}},
				},
			},
			{
				ObjectMeta: metav1.ObjectMeta{Name: "rsa", Namespace: "default"},
				Spec: v1alpha1.WPApiPolicySpec{
					Hosts:          []v1alpha1.Host{"*.rsa.test"},
					RestPrefix:     "/blog/wp-json",
					Authentication: v1alpha1.Authentication{CredentialHeader: "X-WP-Auth", KeepCredentials: true, JWT: &v1alpha1.JWTAuthentication{Issuer: "rsa", Algorithm: "RS256", KeysSecretRef: v1alpha1.SecretReference{Name: "rsa"}}},
					Identity:       v1alpha1.IdentityForwarding{SigningKeySecretRef: &v1alpha1.SecretKeySelector{Name: "identity", Key: "key"}},
				},
			},
		},
		APIKeys: []v1alpha1.ApiKey{
			key("shop", v1alpha1.ApiKeySpec{Roles: []v1alpha1.Role{"shop_manager"}}),
			key("jane", v1alpha1.ApiKeySpec{User: &v1alpha1.UserReference{ID: 2}, Roles: []v1alpha1.Role{"editor"}}),
			key("old", v1alpha1.ApiKeySpec{Roles: []v1alpha1.Role{"administrator"}, ExpiresAt: &expired}),
			key("off", v1alpha1.ApiKeySpec{Roles: []v1alpha1.Role{"administrator"}, Disabled: true}),
		},
		Secrets: []corev1.Secret{
			secret("jwt", map[string]string{"k1": pemOf(t, f.es256)}),
			secret("rsa", map[string]string{"r1": pemOf(t, f.rsaKey)}),
			secret("identity", map[string]string{"key": pemOf(t, idKey)}),
			secret("shop", map[string]string{"key": f.shopKey}),
			secret("jane", map[string]string{"key": f.janeKey}),
			secret("old", map[string]string{"key": f.oldKey}),
			secret("off", map[string]string{"key": f.offKey}),
		},
	}
	snap, problems := policy.Compile(b, policy.Options{})
	if len(problems) > 0 {
		t.Fatalf("compile: %v", problems)
	}
	f.engine = authz.New(authz.Options{Now: func() time.Time { return now }})
	f.engine.Swap(snap)
	for _, p := range snap.Policies() {
		switch p.Name {
		case "local":
			f.local = p
		case "rsa":
			f.rsaPolicy = p
		}
	}
	return f
}

// token mints a token for the local policy.
func (f *fixture) token(t testing.TB, userID int64, roles ...string) string {
	t.Helper()
	tok, err := f.local.JWT.Mint(jwtauth.Claims{Subject: fmt.Sprint(userID), UserID: userID, Login: fmt.Sprintf("user%d", userID), Roles: roles}, 15*time.Minute, now)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

type req struct {
	method, target string
	headers        map[string]string
	body           string
	bodyComplete   bool
	host           string
}

func (f *fixture) check(r req) *authz.Decision {
	h := map[string]string{}
	for k, v := range r.headers {
		h[strings.ToLower(k)] = v
	}
	host := r.host
	if host == "" {
		host = "localhost"
	}
	return f.engine.Check(context.Background(), &authz.Request{
		Method: r.method, Host: host, Target: r.target, Headers: h,
		Body: []byte(r.body), BodyComplete: r.bodyComplete,
	})
}

func bearer(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }

// TestRequestSpellings is the bypass table: each request spelling, how
// WordPress would route it, and the decision wpauthz must reach.
func TestRequestSpellings(t *testing.T) {
	f := newFixture(t)
	editor := bearer(f.token(t, 2, "editor"))
	subscriber := bearer(f.token(t, 3, "subscriber"))
	admin := bearer(f.token(t, 1, "administrator"))
	form := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	batch := func(subs ...string) string { return `{"requests":[` + strings.Join(subs, ",") + `]}` }
	// WordPress reads a batch body as JSON only with a JSON Content-Type.
	withJSON := func(h map[string]string) map[string]string {
		out := map[string]string{"Content-Type": "application/json"}
		for k, v := range h {
			out[k] = v
		}
		return out
	}

	cases := []struct {
		name   string
		r      req
		status int
		code   string
	}{
		// Public and protected basics.
		{"public read", req{method: "GET", target: "/wp-json/wp/v2/posts"}, 200, ""},
		{"public read one", req{method: "GET", target: "/wp-json/wp/v2/posts/42"}, 200, ""},
		{"index", req{method: "GET", target: "/wp-json"}, 200, ""},
		{"index slash", req{method: "GET", target: "/wp-json/"}, 200, ""},
		{"default needs identity", req{method: "GET", target: "/wp-json/wp/v2/comments"}, 401, "rest_not_logged_in"},
		{"default with identity", req{method: "GET", target: "/wp-json/wp/v2/comments", headers: subscriber}, 200, ""},
		{"not REST passes", req{method: "GET", target: "/wp-admin/"}, 200, ""},
		{"front page passes", req{method: "GET", target: "/"}, 200, ""},
		{"lookalike prefix is not REST", req{method: "GET", target: "/wp-json-old/wp/v2/users"}, 200, ""},

		// The disabled /wp/v2/users, every way WordPress would reach it.
		{"users", req{method: "GET", target: "/wp-json/wp/v2/users"}, 404, "rest_no_route"},
		{"rest_route on root", req{method: "GET", target: "/?rest_route=/wp/v2/users"}, 404, "rest_no_route"},
		{"rest_route on index.php", req{method: "GET", target: "/index.php?rest_route=/wp/v2/users"}, 404, "rest_no_route"},
		{"rest_route on any path", req{method: "GET", target: "/some/page/?rest_route=/wp/v2/users"}, 404, "rest_no_route"},
		{"rest_route overrides public path", req{method: "GET", target: "/wp-json/wp/v2/posts?rest_route=/wp/v2/users"}, 404, "rest_no_route"},
		{"rest_route encoded", req{method: "GET", target: "/?rest_route=%2Fwp%2Fv2%2Fusers"}, 404, "rest_no_route"},
		{"rest_route PHP-mangled dot", req{method: "GET", target: "/?rest.route=/wp/v2/users"}, 404, "rest_no_route"},
		{"rest_route PHP-mangled space", req{method: "GET", target: "/?rest+route=/wp/v2/users"}, 404, "rest_no_route"},
		{"rest_route PHP-mangled bracket", req{method: "GET", target: "/?rest[route=/wp/v2/users"}, 404, "rest_no_route"},
		{"rest_route repeated: last wins", req{method: "GET", target: "/?rest_route=/wp/v2/posts&rest_route=/wp/v2/users"}, 404, "rest_no_route"},
		{"rest_route array", req{method: "GET", target: "/?rest_route[]=/wp/v2/users"}, 400, "wpauthz_ambiguous_request"},
		{"upper case", req{method: "GET", target: "/WP-JSON/WP/V2/USERS"}, 404, "rest_no_route"},
		{"mixed case route", req{method: "GET", target: "/wp-json/wp/v2/Users"}, 404, "rest_no_route"},
		{"double slash inside", req{method: "GET", target: "/wp-json/wp/v2//users"}, 404, "rest_no_route"},
		{"double slash leading", req{method: "GET", target: "//wp-json/wp/v2/users"}, 404, "rest_no_route"},
		{"trailing slash", req{method: "GET", target: "/wp-json/wp/v2/users/"}, 404, "rest_no_route"},
		{"trailing slashes", req{method: "GET", target: "/wp-json/wp/v2/users///"}, 404, "rest_no_route"},
		{"backslash (magic quotes would add more)", req{method: "GET", target: "/?rest_route=/wp/v2/users%5C"}, 400, "wpauthz_ambiguous_request"},
		{"encoded slash (PATH_INFO servers decode it)", req{method: "GET", target: "/wp-json/wp%2fv2/users"}, 400, "wpauthz_ambiguous_request"},
		{"encoded prefix", req{method: "GET", target: "/%77p-json/wp/v2/users"}, 404, "rest_no_route"},
		{"encoded letter (PATH_INFO servers decode it)", req{method: "GET", target: "/wp-json/wp/v2/%75sers"}, 400, "wpauthz_ambiguous_request"},
		{"encoded trailing slash", req{method: "GET", target: "/wp-json/wp/v2/users%2F"}, 400, "wpauthz_ambiguous_request"},
		{"final newline in rest_route", req{method: "GET", target: "/?rest_route=/wp/v2/users%0a"}, 404, "rest_no_route"},
		{"final newline in path", req{method: "GET", target: "/wp-json/wp/v2/users%0a"}, 400, "wpauthz_ambiguous_request"},
		{"ampersand in path is not a query", req{method: "GET", target: "/wp-json/wp/v2/posts&rest_route=/wp/v2/posts"}, 401, "rest_not_logged_in"},
		{"empty rest_route", req{method: "GET", target: "/wp-json/wp/v2/users?rest_route="}, 400, "wpauthz_ambiguous_request"},
		{"HEAD is GET", req{method: "HEAD", target: "/wp-json/wp/v2/users"}, 404, "rest_no_route"},
		{"lower-case method", req{method: "get", target: "/wp-json/wp/v2/users"}, 404, "rest_no_route"},
		{"override to GET", req{method: "POST", target: "/wp-json/wp/v2/users?_method=GET"}, 404, "rest_no_route"},
		{"header override to GET", req{method: "POST", target: "/wp-json/wp/v2/users", headers: map[string]string{"X-HTTP-Method-Override": "get"}}, 404, "rest_no_route"},
		{"form body rest_route", req{method: "POST", target: "/wp-json/wp/v2/posts", headers: form, body: "rest_route=/wp/v2/settings", bodyComplete: true}, 404, "rest_no_route"},

		// Ambiguous spellings are refused.
		{"dot-dot", req{method: "GET", target: "/wp-json/wp/v2/posts/../users"}, 400, "wpauthz_ambiguous_request"},
		{"encoded dot-dot", req{method: "GET", target: "/wp-json/wp/v2/posts/%2e%2e/users"}, 400, "wpauthz_ambiguous_request"},
		{"dot segment", req{method: "GET", target: "/wp-json/wp/v2/./users"}, 400, "wpauthz_ambiguous_request"},
		{"NUL", req{method: "GET", target: "/wp-json/wp/v2/users%00"}, 400, "wpauthz_ambiguous_request"},
		{"form body not inspected", req{method: "POST", target: "/wp-json/wp/v2/posts", headers: form}, 400, "wpauthz_ambiguous_request"},
		{"oversized target", req{method: "GET", target: "/wp-json/wp/v2/posts?x=" + strings.Repeat("a", 9000)}, 400, "wpauthz_ambiguous_request"},

		// Method overrides reach the write rule.
		{"override to DELETE anonymous", req{method: "GET", target: "/wp-json/wp/v2/posts/1?_method=DELETE"}, 401, "rest_not_logged_in"},
		{"override to DELETE on POST", req{method: "POST", target: "/wp-json/wp/v2/posts/1?_method=DELETE", headers: subscriber}, 403, "rest_forbidden"},
		{"header override to DELETE", req{method: "GET", target: "/wp-json/wp/v2/posts/1", headers: map[string]string{"X-HTTP-Method-Override": "DELETE"}}, 401, "rest_not_logged_in"},
		{"underscore override header", req{method: "GET", target: "/wp-json/wp/v2/posts/1", headers: map[string]string{"X_HTTP_METHOD_OVERRIDE": "DELETE"}}, 401, "rest_not_logged_in"},
		{"editor writes", req{method: "POST", target: "/wp-json/wp/v2/posts", headers: editor}, 200, ""},
		{"subscriber cannot write", req{method: "POST", target: "/wp-json/wp/v2/posts", headers: subscriber}, 403, "rest_forbidden"},
		{"subscriber cannot write via rest_route", req{method: "POST", target: "/?rest_route=/WP/V2/POSTS/", headers: subscriber}, 403, "rest_forbidden"},
		{"settings disabled for admins too", req{method: "POST", target: "/wp-json/wp/v2/settings", headers: admin}, 404, "rest_no_route"},

		// Auth method restriction.
		{"orders: JWT refused", req{method: "GET", target: "/wp-json/wc/v3/orders", headers: admin}, 401, "wpauthz_auth_method_not_allowed"},
		{"orders: shop key", req{method: "GET", target: "/wp-json/wc/v3/orders", headers: map[string]string{"X-API-Key": f.shopKey}}, 200, ""},
		{"orders: ApiKey scheme", req{method: "GET", target: "/wp-json/wc/v3/orders/7", headers: map[string]string{"Authorization": "ApiKey " + f.shopKey}}, 200, ""},
		{"orders: editor key lacks role", req{method: "GET", target: "/wp-json/wc/v3/orders", headers: map[string]string{"X-API-Key": f.janeKey}}, 403, "rest_forbidden"},

		// Batch.
		{"batch without body", req{method: "POST", target: "/wp-json/batch/v1", headers: editor}, 403, "wpauthz_batch_denied"},
		{"batch of allowed writes", req{method: "POST", target: "/wp-json/batch/v1", headers: withJSON(editor), bodyComplete: true,
			body: batch(`{"path":"/wp/v2/posts","body":{"title":"a"}}`, `{"method":"PUT","path":"/wp/v2/posts/3"}`)}, 200, ""},
		{"batch smuggling a disabled route", req{method: "POST", target: "/wp-json/batch/v1", headers: withJSON(admin), bodyComplete: true,
			body: batch(`{"path":"/wp/v2/posts"}`, `{"method":"POST","path":"/wp/v2/settings"}`)}, 403, "wpauthz_batch_denied"},
		{"batch smuggling a role", req{method: "POST", target: "/?rest_route=/batch/v1", headers: withJSON(subscriber), bodyComplete: true,
			body: batch(`{"path":"/wp/v2/comments"}`, `{"path":"/WP/V2/POSTS"}`)}, 403, "rest_forbidden"},
		{"batch with host-like path", req{method: "POST", target: "/wp-json/batch/v1", headers: withJSON(admin), bodyComplete: true,
			body: batch(`{"path":"//evil/wp/v2/posts"}`)}, 403, "wpauthz_batch_denied"},
		{"batch anonymous", req{method: "POST", target: "/wp-json/batch/v1", headers: withJSON(nil), bodyComplete: true, body: batch(`{"path":"/wp/v2/posts"}`)}, 401, "rest_not_logged_in"},
		{"batch of batch", req{method: "POST", target: "/wp-json/batch/v1", headers: withJSON(admin), bodyComplete: true, body: batch(`{"path":"/batch/v1"}`)}, 403, "wpauthz_batch_denied"},

		// Hosts.
		{"host with port and case", req{method: "GET", target: "/wp-json/wp/v2/users", host: "LocalHost:8080"}, 404, "rest_no_route"},
		{"wildcard host", req{method: "GET", target: "/wp-json/wp/v2/users", host: "a.b.shop.test"}, 404, "rest_no_route"},
		{"wildcard does not cover apex", req{method: "GET", target: "/wp-json/wp/v2/posts", host: "shop.test"}, 403, "wpauthz_unknown_host"},
		{"unknown host", req{method: "GET", target: "/wp-json/wp/v2/posts", host: "evil.test"}, 403, "wpauthz_unknown_host"},
		{"subdirectory prefix", req{method: "GET", target: "/blog/wp-json/wp/v2/posts", host: "www.rsa.test"}, 401, "rest_not_logged_in"},
		{"subdirectory prefix, other path not REST", req{method: "GET", target: "/shop/", host: "www.rsa.test"}, 200, ""},
	}
	if len(cases) < 40 {
		t.Fatalf("only %d cases", len(cases))
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := f.check(c.r)
			if d.Status != c.status || d.Code != c.code || d.Allowed != (c.status == 200) {
				t.Fatalf("%s %s: got %d %q (%s), want %d %q", c.r.method, c.r.target, d.Status, d.Code, d.Reason, c.status, c.code)
			}
			if !d.Allowed {
				var body struct {
					Code string `json:"code"`
					Data struct {
						Status int `json:"status"`
					} `json:"data"`
				}
				if err := json.Unmarshal(d.Body, &body); err != nil || body.Code != c.code || body.Data.Status != c.status {
					t.Fatalf("body %s does not match %d %s", d.Body, c.status, c.code)
				}
			}
		})
	}
}

func b64(s []byte) string { return base64.RawURLEncoding.EncodeToString(s) }

func claims(extra map[string]any) map[string]any {
	c := map[string]any{"iss": "https://localhost/wp-json", "aud": "localhost", "sub": "1", "roles": []string{"administrator"},
		"iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix(), "jti": "j1"}
	for k, v := range extra {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

func segment(t testing.TB, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b64(b)
}

// signES256 signs header.claims with key, as an attacker with that key would.
func signES256(t testing.TB, key *ecdsa.PrivateKey, header map[string]any, c map[string]any) string {
	input := segment(t, header) + "." + segment(t, c)
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

// TestJWTAttacks: every forged, stale or misdirected token is refused with
// 401 and the documented code, including on a public route.
func TestJWTAttacks(t *testing.T) {
	f := newFixture(t)
	attacker, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	hdr := func(extra map[string]any) map[string]any {
		h := map[string]any{"alg": "ES256", "typ": "JWT", "kid": "k1"}
		for k, v := range extra {
			if v == nil {
				delete(h, k)
			} else {
				h[k] = v
			}
		}
		return h
	}
	attackerJWK, _ := jwk.FromRaw(attacker.Public())
	rsaPubDER, _ := x509.MarshalPKIXPublicKey(f.rsaKey.Public())
	rsaPubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: rsaPubDER})
	hs256WithRSAPub := func() string {
		input := segment(t, map[string]any{"alg": "HS256", "typ": "JWT", "kid": "r1"}) + "." +
			segment(t, map[string]any{"iss": "rsa", "sub": "1", "exp": now.Add(time.Hour).Unix(), "iat": now.Unix()})
		m := hmac.New(sha256.New, rsaPubPEM)
		m.Write([]byte(input))
		return input + "." + b64(m.Sum(nil))
	}()
	validRSA := func() string {
		tok, err := f.rsaPolicy.JWT.Mint(jwtauth.Claims{Subject: "1", UserID: 1}, time.Hour, now)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}()
	expired, err := f.local.JWT.Mint(jwtauth.Claims{Subject: "1", UserID: 1}, time.Minute, now.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	good := signES256(t, f.es256, hdr(nil), claims(nil))
	parts := strings.Split(good, ".")

	cases := []struct {
		name  string
		host  string
		token string
		code  string
	}{
		{"alg none", "", segment(t, hdr(map[string]any{"alg": "none"})) + "." + segment(t, claims(nil)) + ".", "wpauthz_invalid_token"},
		{"alg none with signature", "", segment(t, hdr(map[string]any{"alg": "none"})) + "." + segment(t, claims(nil)) + "." + parts[2], "wpauthz_invalid_token"},
		{"alg NONE", "", segment(t, hdr(map[string]any{"alg": "NONE"})) + "." + segment(t, claims(nil)) + ".", "wpauthz_invalid_token"},
		{"HS256 signed with the RSA public key", "www.rsa.test", hs256WithRSAPub, "wpauthz_invalid_token"},
		{"attacker key, our kid", "", signES256(t, attacker, hdr(nil), claims(nil)), "wpauthz_invalid_token"},
		{"wrong kid", "", signES256(t, f.es256, hdr(map[string]any{"kid": "k2"}), claims(nil)), "wpauthz_invalid_token"},
		{"jku elsewhere", "", signES256(t, attacker, hdr(map[string]any{"jku": "https://evil.test/jwks.json", "kid": "evil"}), claims(nil)), "wpauthz_invalid_token"},
		{"jku with our kid", "", signES256(t, attacker, hdr(map[string]any{"jku": "https://evil.test/jwks.json"}), claims(nil)), "wpauthz_invalid_token"},
		{"x5u elsewhere", "", signES256(t, attacker, hdr(map[string]any{"x5u": "https://evil.test/cert.pem"}), claims(nil)), "wpauthz_invalid_token"},
		{"embedded jwk", "", signES256(t, attacker, hdr(map[string]any{"jwk": attackerJWK}), claims(nil)), "wpauthz_invalid_token"},
		{"expired", "", expired, "wpauthz_token_expired"},
		{"not yet valid", "", signES256(t, f.es256, hdr(nil), claims(map[string]any{"nbf": now.Add(time.Hour).Unix()})), "wpauthz_token_not_yet_valid"},
		{"issued in the future", "", signES256(t, f.es256, hdr(nil), claims(map[string]any{"iat": now.Add(5 * time.Minute).Unix()})), "wpauthz_token_not_yet_valid"},
		{"no exp", "", signES256(t, f.es256, hdr(nil), claims(map[string]any{"exp": nil})), "wpauthz_invalid_token"},
		{"wrong iss", "", signES256(t, f.es256, hdr(nil), claims(map[string]any{"iss": "https://evil.test"})), "wpauthz_invalid_token"},
		{"wrong aud", "", signES256(t, f.es256, hdr(nil), claims(map[string]any{"aud": "other.test"})), "wpauthz_invalid_token"},
		{"token of another policy", "", validRSA, "wpauthz_invalid_token"},
		{"tampered claims", "", parts[0] + "." + segment(t, claims(map[string]any{"roles": []string{"administrator", "editor"}})) + "." + parts[2], "wpauthz_invalid_token"},
		{"oversized", "", parts[0] + "." + b64([]byte(strings.Repeat("x", 9000))) + "." + parts[2], "wpauthz_invalid_token"},
		{"huge header", "", "Bearer" + strings.Repeat("A", 17000), "wpauthz_invalid_token"},
		{"garbage", "", "not-a-jwt", "wpauthz_invalid_token"},
		{"JWE shape", "", "a.b.c.d.e", "wpauthz_invalid_token"},
	}
	// The valid token passes, so each case fails only for its own reason.
	if d := f.check(req{method: "GET", target: "/wp-json/wp/v2/comments", headers: bearer(good)}); !d.Allowed {
		t.Fatalf("control token refused: %d %s", d.Status, d.Code)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			headers := bearer(c.token)
			target := "/wp-json/wp/v2/posts" // public route: a bad credential is still 401
			if c.host != "" {
				headers = map[string]string{"X-WP-Auth": "Bearer " + c.token}
				target = "/blog/wp-json/wp/v2/posts"
			}
			d := f.check(req{method: "GET", target: target, headers: headers, host: c.host})
			if d.Allowed || d.Status != 401 || d.Code != c.code {
				t.Fatalf("got %v %d %q, want 401 %q", d.Allowed, d.Status, d.Code, c.code)
			}
			if !hasHeader(d.ResponseHeaders, "WWW-Authenticate", `Bearer realm="wpauthz", error=`) {
				t.Fatalf("no RFC 6750 challenge: %v", d.ResponseHeaders)
			}
		})
	}
	// The RSA policy's own token works on its host (through its custom header).
	d := f.check(req{method: "GET", target: "/blog/wp-json/wp/v2/posts", headers: map[string]string{"X-WP-Auth": "Bearer " + validRSA}, host: "www.rsa.test"})
	if !d.Allowed {
		t.Fatalf("RS256 control refused: %d %s", d.Status, d.Code)
	}
}

func hasHeader(hs []authz.Header, name, contains string) bool {
	for _, h := range hs {
		if strings.EqualFold(h.Name, name) && strings.Contains(h.Value, contains) {
			return true
		}
	}
	return false
}

// TestCredentialErrors: presented-but-invalid credentials are 401 even on
// public routes; a caller is never downgraded to anonymous.
func TestCredentialErrors(t *testing.T) {
	f := newFixture(t)
	cases := []struct {
		name    string
		headers map[string]string
		code    string
	}{
		{"unknown key", map[string]string{"X-API-Key": "wpk_" + strings.Repeat("a", 32) + "_000000"}, "wpauthz_invalid_api_key"},
		{"expired key", map[string]string{"X-API-Key": f.oldKey}, "wpauthz_invalid_api_key"},
		{"disabled key", map[string]string{"X-API-Key": f.offKey}, "wpauthz_invalid_api_key"},
		{"key with a typo", map[string]string{"X-API-Key": typo(f.shopKey, 10)}, "wpauthz_invalid_api_key"},
		{"basic not enabled", map[string]string{"Authorization": "Basic YWRtaW46cGFzc3dvcmQ="}, "wpauthz_unsupported_credentials"},
		{"digest", map[string]string{"Authorization": "Digest username=admin"}, "wpauthz_unsupported_credentials"},
		{"two credentials", map[string]string{"Authorization": "Bearer " + f.token(t, 1, "administrator"), "X-API-Key": f.shopKey}, "wpauthz_multiple_credentials"},
		{"bearer sent twice", map[string]string{"Authorization": "Bearer a.b.c, Bearer d.e.f"}, "wpauthz_invalid_token"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := f.check(req{method: "GET", target: "/wp-json/wp/v2/posts", headers: c.headers})
			if d.Allowed || d.Status != 401 || d.Code != c.code {
				t.Fatalf("got %v %d %q, want 401 %q", d.Allowed, d.Status, d.Code, c.code)
			}
		})
	}
}

// typo changes the byte at i of a key to another one ('x', or 'y' where the
// random key already has an 'x' there), so the key always differs.
func typo(key string, i int) string {
	c := byte('x')
	if key[i] == c {
		c = 'y'
	}
	return key[:i] + string(c) + key[i+1:]
}

// TestIdentityAssertion: an allowed identity reaches WordPress as a signed
// assertion that overwrites any client copy, and the credential is removed.
func TestIdentityAssertion(t *testing.T) {
	f := newFixture(t)
	tok := f.token(t, 2, "editor")
	d := f.check(req{method: "POST", target: "/wp-json/wp/v2/posts?x=1", headers: map[string]string{
		"Authorization": "Bearer " + tok, identity.Header: "forged"}, host: "LOCALHOST:443"})
	if !d.Allowed {
		t.Fatalf("refused: %d %s", d.Status, d.Code)
	}
	if len(d.UpstreamHeaders) != 1 || d.UpstreamHeaders[0].Name != identity.Header {
		t.Fatalf("upstream headers %v", d.UpstreamHeaders)
	}
	if !contains(d.UpstreamRemove, "authorization") || contains(d.UpstreamRemove, "x-wpauthz-identity") {
		t.Fatalf("credential not removed (or the identity removed): %v", d.UpstreamRemove)
	}
	key, err := jwk.FromRaw(f.identityPub)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := jwt.Parse([]byte(d.UpstreamHeaders[0].Value), jwt.WithKey(jwa.EdDSA, key), jwt.WithClock(jwt.ClockFunc(func() time.Time { return now })))
	if err != nil {
		t.Fatalf("assertion does not verify with the identity public key: %v", err)
	}
	pc := parsed.PrivateClaims()
	if parsed.Subject() != "2" || fmt.Sprint(parsed.Audience()) != "[localhost]" || pc["htm"] != "POST" || pc["htu"] != "/wp-json/wp/v2/posts" || pc["login"] != "user2" {
		t.Fatalf("claims: sub=%q aud=%v %v", parsed.Subject(), parsed.Audience(), pc)
	}
	if ttl := parsed.Expiration().Sub(parsed.IssuedAt()); ttl <= 0 || ttl > time.Minute {
		t.Fatalf("assertion lifetime %v", ttl)
	}
	// The audience is the host as the policy was found by: no port, lower
	// case (the bridge plugin computes the same). A trailing dot is refused
	// before (TestHardening8_HostsThatCannotBeMatchedExactly).
	d = f.check(req{method: "POST", target: "/wp-json/wp/v2/posts", headers: map[string]string{"Authorization": "Bearer " + tok}, host: "LocalHost:8443"})
	if !d.Allowed || len(d.UpstreamHeaders) != 1 {
		t.Fatalf("host with a port: %v %d %s", d.Allowed, d.Status, d.Code)
	}
	parsed, err = jwt.Parse([]byte(d.UpstreamHeaders[0].Value), jwt.WithKey(jwa.EdDSA, key), jwt.WithClock(jwt.ClockFunc(func() time.Time { return now })))
	if err != nil || fmt.Sprint(parsed.Audience()) != "[localhost]" {
		t.Fatalf("host with a port: %v; want aud [localhost]", err)
	}

	// Anonymous on a public route: the client's copy is removed.
	d = f.check(req{method: "GET", target: "/wp-json/wp/v2/posts", headers: map[string]string{identity.Header: "forged"}})
	if !d.Allowed || len(d.UpstreamHeaders) != 0 || !contains(d.UpstreamRemove, "x-wpauthz-identity") {
		t.Fatalf("anonymous allow: %+v", d)
	}
	// Not REST: removed too.
	d = f.check(req{method: "GET", target: "/wp-login.php", headers: map[string]string{identity.Header: "forged"}})
	if !d.Allowed || !contains(d.UpstreamRemove, "x-wpauthz-identity") {
		t.Fatalf("non-REST allow: %+v", d)
	}
	// keepCredentials: the custom header stays.
	rsaTok, _ := f.rsaPolicy.JWT.Mint(jwtauth.Claims{Subject: "1", UserID: 1}, time.Hour, now)
	d = f.check(req{method: "GET", target: "/blog/wp-json/wp/v2/posts", headers: map[string]string{"X-WP-Auth": "Bearer " + rsaTok}, host: "x.rsa.test"})
	if !d.Allowed || contains(d.UpstreamRemove, "x-wp-auth") || !contains(d.UpstreamRemove, "authorization") {
		t.Fatalf("keepCredentials: %+v", d)
	}
	// Every assertion is unique (jti), so WordPress can refuse replays.
	a := f.check(req{method: "POST", target: "/wp-json/wp/v2/posts", headers: bearer(tok)})
	b := f.check(req{method: "POST", target: "/wp-json/wp/v2/posts", headers: bearer(tok)})
	if a.UpstreamHeaders[0].Value == b.UpstreamHeaders[0].Value {
		t.Fatal("two assertions are identical")
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func TestNotReadyAndCancelled(t *testing.T) {
	e := authz.New(authz.Options{})
	d := e.Check(context.Background(), &authz.Request{Method: "GET", Host: "localhost", Target: "/wp-json/"})
	if d.Allowed || d.Status != 503 {
		t.Fatalf("no snapshot: %+v", d)
	}
	f := newFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	d = f.engine.Check(ctx, &authz.Request{Method: "GET", Host: "localhost", Target: "/wp-json/wp/v2/posts"})
	if d.Allowed || d.Status != 503 {
		t.Fatalf("cancelled: %+v", d)
	}
}

func TestAllowUnknownHosts(t *testing.T) {
	f := newFixture(t)
	e := authz.New(authz.Options{AllowUnknownHosts: true})
	e.Swap(f.engine.Snapshot())
	d := e.Check(context.Background(), &authz.Request{Method: "GET", Host: "other.test", Target: "/wp-json/wp/v2/users", Headers: map[string]string{}})
	if !d.Allowed || !contains(d.UpstreamRemove, "x-wpauthz-identity") {
		t.Fatalf("%+v", d)
	}
}

// TestSwapIsAtomic runs checks while snapshots are swapped: every answer
// comes from one snapshot or the other, never a mix (run with -race).
func TestSwapIsAtomic(t *testing.T) {
	f := newFixture(t)
	open := f.engine.Snapshot()
	closed, problems := policy.Compile(policy.Bundle{}, policy.Options{})
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				d := f.check(req{method: "GET", target: "/wp-json/wp/v2/posts"})
				if !(d.Allowed || d.Code == "wpauthz_unknown_host") {
					t.Errorf("unexpected %d %s", d.Status, d.Code)
					return
				}
			}
		}()
	}
	for i := range 2000 {
		if i%2 == 0 {
			f.engine.Swap(closed)
		} else {
			f.engine.Swap(open)
		}
	}
	close(stop)
	wg.Wait()
}

// TestHostConflict: the older policy keeps a host; the newer is reported.
func TestHostConflict(t *testing.T) {
	_, idKey, _ := ed25519.GenerateKey(rand.Reader)
	pol := func(name string, age time.Duration) v1alpha1.WPApiPolicy {
		return v1alpha1.WPApiPolicy{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", CreationTimestamp: metav1.NewTime(now.Add(-age))},
			Spec: v1alpha1.WPApiPolicySpec{Hosts: []v1alpha1.Host{"shop.test"}, DefaultAction: v1alpha1.ActionAllow}}
	}
	snap, problems := policy.Compile(policy.Bundle{Policies: []v1alpha1.WPApiPolicy{pol("newer", time.Minute), pol("older", time.Hour)}}, policy.Options{IdentityKey: idKey})
	if len(problems) != 1 || problems[0].Name != "newer" || problems[0].Reason != v1alpha1.ReasonHostConflict {
		t.Fatalf("problems %v", problems)
	}
	if p := snap.Lookup("shop.test"); p == nil || p.Name != "older" {
		t.Fatalf("lookup %v", p)
	}
}

// TestCompileProblems: a broken resource is absent, never half-applied.
func TestCompileProblems(t *testing.T) {
	_, idKey, _ := ed25519.GenerateKey(rand.Reader)
	base := v1alpha1.WPApiPolicy{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "default"},
		Spec: v1alpha1.WPApiPolicySpec{Hosts: []v1alpha1.Host{"shop.test"}}}
	cases := []struct {
		name   string
		mutate func(*v1alpha1.WPApiPolicy)
		opts   policy.Options
		reason string
	}{
		{"missing JWT secret", func(p *v1alpha1.WPApiPolicy) {
			p.Spec.Authentication.JWT = &v1alpha1.JWTAuthentication{Issuer: "i", Algorithm: "ES256", KeysSecretRef: v1alpha1.SecretReference{Name: "absent"}}
		}, policy.Options{IdentityKey: idKey}, v1alpha1.ReasonSecretNotFound},
		{"no identity key", func(p *v1alpha1.WPApiPolicy) {}, policy.Options{}, v1alpha1.ReasonSecretNotFound},
		{"bad glob", func(p *v1alpha1.WPApiPolicy) {
			p.Spec.Rules = []v1alpha1.Rule{{Routes: []string{"/wp/v2/**x"}, Action: v1alpha1.ActionAllow}}
		}, policy.Options{IdentityKey: idKey}, v1alpha1.ReasonInvalidRule},
		{"roles on Allow", func(p *v1alpha1.WPApiPolicy) {
			p.Spec.Rules = []v1alpha1.Rule{{Routes: []string{"/x"}, Action: v1alpha1.ActionAllow, Roles: []v1alpha1.Role{"editor"}}}
		}, policy.Options{IdentityKey: idKey}, v1alpha1.ReasonInvalidRule},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := *base.DeepCopy()
			c.mutate(&p)
			snap, problems := policy.Compile(policy.Bundle{Policies: []v1alpha1.WPApiPolicy{p}}, c.opts)
			if len(problems) != 1 || problems[0].Reason != c.reason {
				t.Fatalf("problems %v, want reason %s", problems, c.reason)
			}
			if snap.Lookup("shop.test") != nil {
				t.Fatal("broken policy was installed")
			}
		})
	}
}

var sinkDecision *authz.Decision

// BenchmarkCheck measures a whole check per path. The JWT and API-key
// allow paths include the Ed25519 identity assertion; the "decide-only"
// runs leave it out to show the decision's own cost.
func BenchmarkCheck(b *testing.B) {
	f := newFixture(b)
	tokens := make([]map[string]string, 1000)
	for i := range tokens {
		tokens[i] = map[string]string{"authorization": "Bearer " + f.token(b, int64(i+1), "editor")}
	}
	run := func(b *testing.B, method, target string, headers func(i int) map[string]string, wantAllowed bool) {
		b.ReportAllocs()
		ctx := context.Background()
		for i := 0; b.Loop(); i++ {
			d := f.engine.Check(ctx, &authz.Request{Method: method, Host: "localhost", Target: target, Headers: headers(i)})
			if d.Allowed != wantAllowed {
				b.Fatalf("unexpected decision %d %s", d.Status, d.Code)
			}
			sinkDecision = d
		}
	}
	// Warm the token cache.
	for _, h := range tokens {
		f.engine.Check(context.Background(), &authz.Request{Method: "GET", Host: "localhost", Target: "/wp-json/wp/v2/comments", Headers: h})
	}
	decide := func(b *testing.B, method, target string, headers func(i int) map[string]string) {
		b.ReportAllocs()
		ctx := context.Background()
		for i := 0; b.Loop(); i++ {
			if !f.engine.DecideOnly(ctx, &authz.Request{Method: method, Host: "localhost", Target: target, Headers: headers(i)}) {
				b.Fatal("refused")
			}
		}
	}
	b.Run("jwt-es256-cached-decide-only", func(b *testing.B) {
		decide(b, "GET", "/wp-json/wp/v2/comments", func(i int) map[string]string { return tokens[i%len(tokens)] })
	})
	b.Run("jwt-es256-cached", func(b *testing.B) {
		run(b, "GET", "/wp-json/wp/v2/comments", func(i int) map[string]string { return tokens[i%len(tokens)] }, true)
	})
	key := map[string]string{"x-api-key": f.shopKey}
	b.Run("apikey-decide-only", func(b *testing.B) {
		decide(b, "GET", "/wp-json/wc/v3/orders", func(int) map[string]string { return key })
	})
	b.Run("apikey", func(b *testing.B) {
		run(b, "GET", "/wp-json/wc/v3/orders", func(int) map[string]string { return key }, true)
	})
	empty := map[string]string{}
	b.Run("anonymous-deny", func(b *testing.B) {
		run(b, "GET", "/wp-json/wp/v2/comments", func(int) map[string]string { return empty }, false)
	})
	b.Run("anonymous-public", func(b *testing.B) {
		run(b, "GET", "/wp-json/wp/v2/posts", func(int) map[string]string { return empty }, true)
	})
}

// BenchmarkIdentitySign isolates the Ed25519 assertion every identified
// allow carries, to show how much of the check it is.
func BenchmarkIdentitySign(b *testing.B) {
	_, k, _ := ed25519.GenerateKey(rand.Reader)
	s := identity.NewSigner(k, "k")
	id := identity.Identity{UserID: 2, Login: "jane", Subject: "2", Roles: []string{"editor"}, Method: "jwt"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Sign(id, "localhost", "GET", "/wp-json/wp/v2/comments", 30*time.Second, now); err != nil {
			b.Fatal(err)
		}
	}
}
