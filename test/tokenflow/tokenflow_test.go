package tokenflow

import (
	"bytes"
	"mime/multipart"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wpauthz/wpauthz/api/v1alpha1"
	"github.com/wpauthz/wpauthz/authz/policy"
)

func TestLoginShapesAndUse(t *testing.T) {
	e := newEnv(t, nil)
	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	mw.WriteField("username", "jane")
	mw.WriteField("password", janePassword)
	mw.Close()
	for name, r := range map[string]resp{
		"form":      e.login("jane", janePassword),
		"json":      e.do("POST", "/wp-json/api/v1/token", "application/json", `{"username":"jane","password":"`+janePassword+`"}`, nil),
		"query":     e.do("POST", "/wp-json/api/v1/token?username=jane&password="+janePassword, "", "", nil),
		"multipart": e.do("POST", "/wp-json/api/v1/token", mw.FormDataContentType(), mp.String(), nil),
		"email":     e.login("jane@example.com", janePassword),
		"upper":     e.do("POST", "/WP-JSON/api/v1/TOKEN/", formType, form("username", "JANE", "password", janePassword), nil),
		// get_params order: JSON over the form over the query.
		"json-wins":    e.do("POST", "/wp-json/api/v1/token?password=wrong", "application/json", `{"username":"jane","password":"`+janePassword+`"}`, nil),
		"app-password": e.login("jane", janeApp),
	} {
		if r.status != 200 {
			t.Fatalf("%s: %d %s", name, r.status, r.body)
		}
		u := r.json["user"].(map[string]any)
		if r.json["token_type"] != "Bearer" || r.json["expires_in"].(float64) != 900 || !strings.HasPrefix(r.json["refresh_token"].(string), "wpr_") ||
			u["id"].(float64) != 2 || u["login"] != "jane" || u["email"] != "jane@example.com" || u["display_name"] != "Jane Doe" ||
			u["roles"].([]any)[0] != "editor" || r.header.Get("Cache-Control") != "no-store" {
			t.Fatalf("%s: response %s", name, r.body)
		}
		// miniOrange's name for the access token (compatibility is on in the sample).
		if r.json["jwt_token"] != r.json["access_token"] {
			t.Fatalf("%s: jwt_token missing", name)
		}
	}
	access, _ := e.mustLogin("jane", janePassword)
	r := e.check("POST", "/wp-json/wp/v2/posts", bearer(access))
	if r.status != 200 || r.header.Get("X-WPAuthz-Identity") == "" {
		t.Fatalf("editor token on a write: %d %s", r.status, r.body)
	}
	sub, _ := e.mustLogin("sam", samPassword)
	expect(t, "subscriber write", e.check("POST", "/wp-json/wp/v2/posts", bearer(sub)), 403, "rest_forbidden")
	v := e.do("GET", "/wp-json/api/v1/token/validate", "", "", bearer(access))
	if v.status != 200 || v.code() != "wpauthz_valid_token" || v.json["sub"] != "2" || v.json["login"] != "jane" {
		t.Fatalf("validate: %d %s", v.status, v.body)
	}
	expect(t, "validate without token", e.do("POST", "/wp-json/api/v1/token/validate", "", "", nil), 401, "rest_not_logged_in")
}

func TestNoUserEnumeration(t *testing.T) {
	e := newEnv(t, nil)
	unknown := e.do("POST", "/wp-json/api/v1/token", formType, form("username", "nobody", "password", "x"), map[string]string{"X-Test-Client": "198.51.100.1"})
	wrong := e.do("POST", "/wp-json/api/v1/token", formType, form("username", "jane", "password", "x"), map[string]string{"X-Test-Client": "198.51.100.2"})
	unknownEmail := e.do("POST", "/wp-json/api/v1/token", formType, form("username", "nobody@example.com", "password", "x"), map[string]string{"X-Test-Client": "198.51.100.3"})
	for _, r := range []resp{unknown, wrong, unknownEmail} {
		if r.status != 401 || r.body != unknown.body || r.code() != "wpauthz_invalid_credentials" {
			t.Fatalf("responses differ: %d %s / %d %s", r.status, r.body, unknown.status, unknown.body)
		}
	}
	// Basic too: same answer, same challenge.
	a := e.check("POST", "/wp-json/wp/v2/posts", basic("nobody", "x"))
	b := e.check("POST", "/wp-json/wp/v2/posts", basic("sam", "x"))
	if a.status != 401 || a.body != b.body || a.header.Get("WWW-Authenticate") != b.header.Get("WWW-Authenticate") ||
		!strings.HasPrefix(a.header.Get("WWW-Authenticate"), "Basic ") {
		t.Fatalf("basic: %d %s %v / %d %s", a.status, a.body, a.header, b.status, b.body)
	}
}

func TestRefreshRotationAndReuse(t *testing.T) {
	e := newEnv(t, nil)
	access1, refresh1 := e.mustLogin("jane", janePassword)
	r := e.do("POST", "/wp-json/api/v1/token/refresh", formType, form("refresh_token", refresh1), nil)
	if r.status != 200 {
		t.Fatalf("refresh: %d %s", r.status, r.body)
	}
	access2, refresh2 := r.json["access_token"].(string), r.json["refresh_token"].(string)
	if refresh2 == refresh1 || access2 == access1 {
		t.Fatal("refresh did not rotate")
	}
	expect(t, "rotated access token", e.check("POST", "/wp-json/wp/v2/posts", bearer(access2)), 200, "")
	// A second login's family is independent.
	other, otherRefresh := e.mustLogin("jane", janePassword)

	// Someone replays the spent refresh token: the whole family dies.
	expect(t, "reuse", e.do("POST", "/wp-json/api/v1/token/refresh", "application/json", `{"refresh_token":"`+refresh1+`"}`, nil), 401, "wpauthz_invalid_refresh_token")
	expect(t, "live member of a dead family", e.do("POST", "/wp-json/api/v1/token/refresh", formType, form("refresh_token", refresh2), nil), 401, "wpauthz_invalid_refresh_token")
	expect(t, "access token of the dead family", e.check("POST", "/wp-json/wp/v2/posts", bearer(access2)), 401, "wpauthz_invalid_token")
	expect(t, "first access token of the dead family", e.check("GET", "/wp-json/wp/v2/posts", bearer(access1)), 401, "wpauthz_invalid_token")
	// The other login is untouched.
	expect(t, "other family's access token", e.check("POST", "/wp-json/wp/v2/posts", bearer(other)), 200, "")
	expect(t, "other family's refresh", e.do("POST", "/wp-json/api/v1/token/refresh", formType, form("refresh_token", otherRefresh), nil), 200, "")

	for name, tok := range map[string]string{
		"garbage": "nope", "wrong prefix": "wpx_" + strings.Repeat("A", 43), "unknown": "wpr_" + strings.Repeat("A", 43),
		"access token": other, "oversized": "wpr_" + strings.Repeat("A", 5000),
	} {
		expect(t, name, e.do("POST", "/wp-json/api/v1/token/refresh", formType, form("refresh_token", tok), nil), 401, "wpauthz_invalid_refresh_token")
	}
	expect(t, "missing", e.do("POST", "/wp-json/api/v1/token/refresh", formType, "", nil), 400, "wpauthz_invalid_request")
}

func TestRefreshFamilyLifetime(t *testing.T) {
	e := newEnv(t, nil)
	_, refresh := e.mustLogin("jane", janePassword)
	e.clock.add(719 * time.Hour)
	r := e.do("POST", "/wp-json/api/v1/token/refresh", formType, form("refresh_token", refresh), nil)
	if r.status != 200 || r.json["refresh_expires_in"].(float64) > 3600 {
		t.Fatalf("refresh near the end of the family: %d %s", r.status, r.body)
	}
	e.clock.add(2 * time.Hour)
	expect(t, "past the family's lifetime", e.do("POST", "/wp-json/api/v1/token/refresh", formType, form("refresh_token", r.json["refresh_token"].(string)), nil), 401, "wpauthz_invalid_refresh_token")
}

func TestRevoke(t *testing.T) {
	e := newEnv(t, nil)
	a1, _ := e.mustLogin("jane", janePassword)
	a2, r2 := e.mustLogin("jane", janePassword)
	sam, _ := e.mustLogin("sam", samPassword)

	r := e.do("POST", "/wp-json/api/v1/token/revoke", "", "", bearer(a1))
	if r.status != 200 || r.json["revoked"] != true || r.json["all"] != false {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	expect(t, "revoked token on a public route", e.check("GET", "/wp-json/wp/v2/posts", bearer(a1)), 401, "wpauthz_invalid_token")
	expect(t, "revoked token validated", e.do("GET", "/wp-json/api/v1/token/validate", "", "", bearer(a1)), 401, "wpauthz_invalid_token")
	expect(t, "the other token", e.check("POST", "/wp-json/wp/v2/posts", bearer(a2)), 200, "")
	expect(t, "revoking a revoked token", e.do("POST", "/wp-json/api/v1/token/revoke", "", "", bearer(a1)), 401, "wpauthz_invalid_token")

	// Revoke all of jane's tokens, refresh tokens included.
	r = e.do("POST", "/wp-json/api/v1/token/revoke", formType, form("all", "true"), bearer(a2))
	if r.status != 200 || r.json["all"] != true {
		t.Fatalf("revoke all: %d %s", r.status, r.body)
	}
	expect(t, "after revoke-all", e.check("POST", "/wp-json/wp/v2/posts", bearer(a2)), 401, "wpauthz_invalid_token")
	expect(t, "refresh after revoke-all", e.do("POST", "/wp-json/api/v1/token/refresh", formType, form("refresh_token", r2), nil), 401, "wpauthz_invalid_refresh_token")
	expect(t, "another user", e.check("GET", "/wp-json/wp/v2/media", bearer(sam)), 200, "")
	// Logging in again works at once, and the new token is not covered by
	// the watermark.
	a3, _ := e.mustLogin("jane", janePassword)
	expect(t, "new login after revoke-all", e.check("POST", "/wp-json/wp/v2/posts", bearer(a3)), 200, "")

	// Revoking a refresh token (body) kills its family.
	a4, r4 := e.mustLogin("jane", janePassword)
	expect(t, "revoke refresh", e.do("POST", "/wp-json/api/v1/token/revoke", formType, form("token", r4), nil), 200, "")
	expect(t, "refresh of a revoked family", e.do("POST", "/wp-json/api/v1/token/refresh", formType, form("refresh_token", r4), nil), 401, "wpauthz_invalid_refresh_token")
	expect(t, "access token of a revoked family", e.check("GET", "/wp-json/wp/v2/media", bearer(a4)), 401, "wpauthz_invalid_token")
	expect(t, "revoke without a token", e.do("POST", "/wp-json/api/v1/token/revoke", formType, form("all", "true"), nil), 401, "rest_not_logged_in")
}

func TestExpiry(t *testing.T) {
	e := newEnv(t, nil)
	a, _ := e.mustLogin("jane", janePassword)
	e.clock.add(16 * time.Minute) // accessTokenTTL 15m + leeway 30s
	expect(t, "expired on a check", e.check("POST", "/wp-json/wp/v2/posts", bearer(a)), 401, "wpauthz_token_expired")
	expect(t, "expired on a public route", e.check("GET", "/wp-json/wp/v2/posts", bearer(a)), 401, "wpauthz_token_expired")
	expect(t, "expired validated", e.do("POST", "/wp-json/api/v1/token/validate", "", "", bearer(a)), 401, "wpauthz_token_expired")
}

func TestThrottle(t *testing.T) {
	e := newEnv(t, nil)
	// Per user: 5 failures in 15 minutes, from different addresses.
	for i := range 5 {
		r := e.do("POST", "/wp-json/api/v1/token", formType, form("username", "jane", "password", "bad"), map[string]string{"X-Test-Client": "198.51.100." + strconv.Itoa(i)})
		expect(t, "failure", r, 401, "wpauthz_invalid_credentials")
	}
	r := e.login("jane", janePassword)
	expect(t, "right password while throttled", r, 429, "wpauthz_too_many_attempts")
	if ra, _ := strconv.Atoi(r.header.Get("Retry-After")); ra < 1 || ra > 900 {
		t.Fatalf("Retry-After %q", r.header.Get("Retry-After"))
	}
	// Basic counts against the same user.
	expect(t, "basic while throttled", e.check("POST", "/wp-json/wp/v2/posts", basic("jane", janePassword)), 429, "wpauthz_too_many_attempts")
	// Another user is not affected; the same name in another case is.
	e.mustLogin("sam", samPassword)
	expect(t, "JANE", e.login("JANE", janePassword), 429, "")
	e.clock.add(15 * time.Minute)
	e.mustLogin("jane", janePassword)

	// Per client: 20 failures from one address, any user names. (One
	// failure for jane first, so that unknown names are checked against a
	// phpass dummy: bcrypt dummies are slow under the race detector.)
	e.ip = "203.0.113.7"
	e.login("jane", "bad")
	for i := range 19 {
		e.login("user"+strconv.Itoa(i), "bad")
	}
	expect(t, "client throttled", e.login("sam", samPassword), 429, "wpauthz_too_many_attempts")
	e.ip = "203.0.113.8"
	e.mustLogin("sam", samPassword)
}

func TestBadInputs(t *testing.T) {
	e := newEnv(t, nil)
	big := strings.Repeat("x", 70<<10)
	for name, c := range map[string]struct{ ct, body, query string }{
		"malformed json":   {"application/json", `{"username":"jane",`, ""},
		"json array":       {"application/json", `["jane"]`, ""},
		"json array value": {"application/json", `{"username":["jane"],"password":"x"}`, ""},
		"json object":      {"application/json", `{"username":{"a":1},"password":"x"}`, ""},
		"form array":       {formType, "username[]=jane&password=" + janePassword, ""},
		"query array":      {"", "", "?username[0]=jane&password=x"},
		"bad escape":       {formType, "username=%zz&password=x", ""},
		"oversized body":   {formType, "username=jane&password=" + big, ""},
		"missing password": {formType, "username=jane", ""},
		"empty username":   {formType, "username=&password=x", ""},
		"no body":          {"", "", ""},
	} {
		r := e.do("POST", "/wp-json/api/v1/token"+c.query, c.ct, c.body, map[string]string{"X-Test-Client": "192.0.2.99"})
		expect(t, name, r, 400, "wpauthz_invalid_request")
	}
	// As WordPress treats passwords: trimmed, and never over 4,096 bytes.
	e.mustLogin("jane", "  "+janePassword+"\n")
	expect(t, "over 4096 bytes", e.login("sam", samPassword+strings.Repeat(" ", 4096)+"x"), 401, "wpauthz_invalid_credentials")
	expect(t, "password 0", e.login("sam", "0"), 401, "wpauthz_invalid_credentials")
	// Wrong methods and unknown routes answer as WordPress does.
	expect(t, "GET login", e.do("GET", "/wp-json/api/v1/token?username=jane&password="+janePassword, "", "", nil), 404, "rest_no_route")
	expect(t, "GET refresh", e.do("GET", "/wp-json/api/v1/token/refresh", "", "", nil), 404, "rest_no_route")
	if r := e.do("POST", "/wp-json/api/v1/tokens", formType, "", nil); r.status != 404 {
		t.Fatalf("unknown route reached the token service: %d %s", r.status, r.body)
	}
	// Basic: malformed values and oversized credentials.
	for name, h := range map[string]string{
		"not base64": "Basic !!!", "no colon": "Basic amFuZQ==", "empty user": "Basic OnNlY3JldA==",
	} {
		expect(t, name, e.check("POST", "/wp-json/wp/v2/posts", map[string]string{"Authorization": h}), 401, "wpauthz_invalid_credentials")
	}
	expect(t, "basic with a 5000-byte password", e.check("POST", "/wp-json/wp/v2/posts", basic("sam", strings.Repeat("p", 5000))), 401, "wpauthz_invalid_credentials")
}

func TestCompatibility(t *testing.T) {
	e := newEnv(t, nil)
	r := e.do("POST", "/wp-json/jwt-auth/v1/token", formType, form("username", "jane@example.com", "password", janePassword), nil)
	if r.status != 200 || r.json["user_email"] != "jane@example.com" || r.json["user_nicename"] != "jane" || r.json["user_display_name"] != "Jane Doe" {
		t.Fatalf("jwt-auth login: %d %s", r.status, r.body)
	}
	tok := r.json["token"].(string)
	expect(t, "jwt-auth token on a check", e.check("POST", "/wp-json/wp/v2/posts", bearer(tok)), 200, "")
	v := e.do("POST", "/wp-json/jwt-auth/v1/token/validate", "", "", bearer(tok))
	if v.status != 200 || v.code() != "jwt_auth_valid_token" || v.json["data"].(map[string]any)["status"].(float64) != 200 {
		t.Fatalf("jwt-auth validate: %d %s", v.status, v.body)
	}
	expect(t, "jwt-auth validate, bad token", e.do("POST", "/wp-json/jwt-auth/v1/token/validate", "", "", bearer(tok+"x")), 403, "jwt_auth_invalid_token")
	expect(t, "jwt-auth validate, no header", e.do("POST", "/wp-json/jwt-auth/v1/token/validate", "", "", nil), 403, "jwt_auth_no_auth_header")
	expect(t, "jwt-auth wrong password", e.do("POST", "/wp-json/jwt-auth/v1/token", formType, form("username", "jane", "password", "x"), nil), 403, "[jwt_auth] invalid_credentials")
	expect(t, "jwt-auth unknown user", e.do("POST", "/wp-json/jwt-auth/v1/token", formType, form("username", "nobody", "password", "x"), nil), 403, "[jwt_auth] invalid_credentials")
	mo := e.do("GET", "/wp-json/api/v1/token-validate", "", "", bearer(tok))
	expect(t, "miniOrange token-validate", mo, 200, "wpauthz_valid_token")

	// Switched off: the routes are not served.
	off := newEnv(t, func(b *policy.Bundle) { b.Policies[0].Spec.Authentication.JWT.Compatibility = nil })
	if r := off.do("POST", "/wp-json/jwt-auth/v1/token", formType, form("username", "jane", "password", janePassword), nil); r.status != 404 {
		t.Fatalf("jwt-auth served while off: %d %s", r.status, r.body)
	}
	if r := off.login("jane", janePassword); r.status != 200 || r.json["jwt_token"] != nil {
		t.Fatalf("jwt_token while off: %s", r.body)
	}
}

func TestDiscovery(t *testing.T) {
	e := newEnv(t, nil)
	k := e.do("GET", "/.well-known/jwks.json", "", "", nil)
	keys, _ := k.json["keys"].([]any)
	if k.status != 200 || len(keys) != 1 || keys[0].(map[string]any)["kid"] != "es256-2026-11" || keys[0].(map[string]any)["d"] != nil {
		t.Fatalf("jwks: %d %s", k.status, k.body)
	}
	for _, path := range []string{"/.well-known/oauth-authorization-server", "/.well-known/oauth-authorization-server/wp-json"} {
		m := e.do("GET", path, "", "", nil)
		if m.status != 200 || m.json["issuer"] != "http://localhost/wp-json" || m.json["token_endpoint"] != "http://localhost/wp-json/api/v1/token" ||
			m.json["jwks_uri"] != "http://localhost/.well-known/jwks.json" {
			t.Fatalf("%s: %d %s", path, m.status, m.body)
		}
	}
}

func TestBasic(t *testing.T) {
	e := newEnv(t, nil)
	for name, h := range map[string]map[string]string{
		"login:password":  basic("jane", janePassword),
		"email:password":  basic("jane@example.com", janePassword),
		"app password":    basic("jane", janeApp),
		"app no spaces":   basic("jane", strings.ReplaceAll(janeApp, " ", "")),
		"client secret":   basic("reporting-app", clientSecret),
		"padded password": basic("jane", " "+janePassword+" "),
	} {
		r := e.check("POST", "/wp-json/wp/v2/posts", h)
		if r.status != 200 || r.header.Get("X-WPAuthz-Identity") == "" || !slices.Contains(strings.Split(r.header.Get("X-Envoy-Auth-Headers-To-Remove"), ","), "authorization") {
			t.Fatalf("%s: %d %s", name, r.status, r.body)
		}
	}
	expect(t, "subscriber via basic", e.check("POST", "/wp-json/wp/v2/posts", basic("sam", samPassword)), 403, "rest_forbidden")
	expect(t, "wrong client secret", e.check("POST", "/wp-json/wp/v2/posts", basic("reporting-app", "nope")), 401, "wpauthz_invalid_credentials")
	expect(t, "basic on a public route, wrong password", e.check("GET", "/wp-json/wp/v2/posts", basic("jane", "nope")), 401, "wpauthz_invalid_credentials")
	// The orders rule accepts API keys only.
	expect(t, "basic where only API keys count", e.check("GET", "/wp-json/wc/v3/orders", basic("jane", janePassword)), 401, "wpauthz_auth_method_not_allowed")

	// Application passwords only: real passwords are refused.
	apOnly := newEnv(t, func(b *policy.Bundle) {
		b.Policies[0].Spec.Authentication.Basic.Accept = []v1alpha1.BasicCredential{v1alpha1.BasicApplicationPassword}
	})
	expect(t, "password with app-passwords-only", apOnly.check("POST", "/wp-json/wp/v2/posts", basic("jane", janePassword)), 401, "wpauthz_invalid_credentials")
	expect(t, "client with app-passwords-only", apOnly.check("POST", "/wp-json/wp/v2/posts", basic("reporting-app", clientSecret)), 401, "wpauthz_invalid_credentials")
	expect(t, "app password with app-passwords-only", apOnly.check("POST", "/wp-json/wp/v2/posts", basic("jane", janeApp)), 200, "")

	// Basic switched off: the scheme is refused.
	off := newEnv(t, func(b *policy.Bundle) { b.Policies[0].Spec.Authentication.Basic = nil })
	expect(t, "basic off", off.check("POST", "/wp-json/wp/v2/posts", basic("jane", janePassword)), 401, "wpauthz_unsupported_credentials")
}

// TestAppPasswordsNotInUse: until WordPress has created an application
// password (using_application_passwords), it checks none.
func TestAppPasswordsNotInUse(t *testing.T) {
	e := newEnv(t, func(b *policy.Bundle) {
		for i := range b.Secrets {
			if b.Secrets[i].Name == "local-wordpress-users" {
				sec := &b.Secrets[i]
				s := string(sec.Data["users.yaml"]) + sec.StringData["users.yaml"]
				sec.StringData = nil
				sec.Data = map[string][]byte{"users.yaml": []byte(strings.Replace(s, "usingApplicationPasswords: true", "usingApplicationPasswords: false", 1))}
			}
		}
	})
	expect(t, "app password while not in use", e.check("POST", "/wp-json/wp/v2/posts", basic("jane", janeApp)), 401, "wpauthz_invalid_credentials")
	expect(t, "password still works", e.check("POST", "/wp-json/wp/v2/posts", basic("jane", janePassword)), 200, "")
}
