package authztest

import (
	"slices"
	"strings"
	"testing"

	"github.com/wpauthz/wpauthz/authz"
)

// CredentialCase is one forwarded request and what must not reach
// WordPress: each header of Removed must be named in the decision's
// UpstreamRemove, each of Kept must not.
type CredentialCase struct {
	Name, Host, Method, Target string
	// Headers as the client sends them (name spelling matters).
	Headers map[string]string
	// Identity: the request is allowed with an identity assertion (else
	// anonymously).
	Identity bool
	// Removed and Kept are lower-case header names.
	Removed, Kept []string
}

// basicAdmin is "admin:<an application password>": what WordPress core
// would authenticate itself if it saw it.
const basicAdmin = "Basic YWRtaW46YWJjZCBlZmdoIGlqa2wgbW5vcCBxcnN0IHV2d3g="

// CredentialCases are the requests of hardening item 5: credentials that
// wpauthz did not verify, in every header spelling that reaches PHP under a
// credential's $_SERVER key, on allowed and anonymous, REST and non-REST
// requests.
func (c *CredentialEngine) CredentialCases(t testing.TB) []CredentialCase {
	t.Helper()
	custom := c.Token(t, CustomHost)
	keep := c.Token(t, KeepHost)
	std := c.Token(t, StandardHost)
	anon := []string{"x-wpauthz-identity"}
	with := func(base []string, more ...string) []string { return append(slices.Clone(base), more...) }
	return []CredentialCase{
		{Name: "Basic application password to a public route (custom credential header)", Host: CustomHost, Method: "GET", Target: "/wp-json/wp/v2/posts",
			Headers: map[string]string{"Authorization": basicAdmin}, Removed: with(anon, "authorization")},
		{Name: "Bearer in Authorization (custom credential header)", Host: CustomHost, Method: "GET", Target: "/wp-json/wp/v2/posts",
			Headers: map[string]string{"Authorization": "Bearer " + custom}, Removed: with(anon, "authorization")},
		{Name: "any scheme in Authorization", Host: CustomHost, Method: "GET", Target: "/wp-json/wp/v2/posts?per_page=1",
			Headers: map[string]string{"Authorization": `Digest username="admin", realm="wp"`}, Removed: with(anon, "authorization")},
		{Name: "Authorization without a scheme", Host: CustomHost, Method: "GET", Target: "/wp-json/wp/v2/posts",
			Headers: map[string]string{"Authorization": "YWRtaW46eA=="}, Removed: with(anon, "authorization")},
		{Name: "Basic to a non-REST path", Host: CustomHost, Method: "GET", Target: "/wp-login.php",
			Headers: map[string]string{"Authorization": basicAdmin}, Removed: with(anon, "authorization")},
		{Name: "Basic to the front page", Host: CustomHost, Method: "GET", Target: "/",
			Headers: map[string]string{"Authorization": basicAdmin}, Removed: with(anon, "authorization")},
		{Name: "Basic on a standard policy's non-REST path", Host: StandardHost, Method: "POST", Target: "/xmlrpc.php",
			Headers: map[string]string{"Authorization": basicAdmin}, Removed: with(anon, "authorization")},
		{Name: "X-API-Key with API keys off", Host: CustomHost, Method: "GET", Target: "/wp-json/wp/v2/posts",
			Headers: map[string]string{"X-API-Key": "wpk_abc_123"}, Removed: with(anon, "x-api-key")},
		{Name: "underscore spellings of the credential, API-key and identity headers", Host: CustomHost, Method: "GET", Target: "/wp-json/wp/v2/posts",
			Headers: map[string]string{"X-WPAuthz_Identity": "forged", "X_API_KEY": "wpk_abc_123", "x_wp_auth": "Bearer " + custom, "X_Authorization": "not a credential name"},
			Removed: with(anon, "x-wpauthz_identity", "x_api_key", "x_wp_auth"), Kept: []string{"x_authorization"}},
		{Name: "dotted spellings (PHP turns '.' into '_')", Host: CustomHost, Method: "GET", Target: "/",
			Headers: map[string]string{"X.WPAuthz.Identity": "forged", "X-Api.Key": "wpk_abc_123"},
			Removed: with(anon, "x.wpauthz.identity", "x-api.key")},
		{Name: "verified custom header, Basic next to it", Host: CustomHost, Method: "GET", Target: "/wp-json/wp/v2/users/me", Identity: true,
			Headers: map[string]string{"X-WP-Auth": "Bearer " + custom, "Authorization": basicAdmin, "X-WPAuthz_Identity": "forged", "x_wp_auth": "Basic eDp5"},
			Removed: []string{"authorization", "x-wp-auth", "x-wpauthz_identity", "x_wp_auth", "x-api-key"}, Kept: []string{"x-wpauthz-identity"}},
		{Name: "keepCredentials keeps only the verified header", Host: KeepHost, Method: "GET", Target: "/wp-json/wp/v2/users/me", Identity: true,
			Headers: map[string]string{"X-WP-Auth": "Bearer " + keep, "Authorization": basicAdmin, "x_wp_auth": "Basic eDp5", "X-API-Key": "wpk_abc_123"},
			Removed: []string{"authorization", "x_wp_auth", "x-api-key"}, Kept: []string{"x-wp-auth", "x-wpauthz-identity"}},
		{Name: "keepCredentials, anonymous: nothing was verified", Host: KeepHost, Method: "GET", Target: "/wp-json/wp/v2/posts",
			Headers: map[string]string{"Authorization": basicAdmin}, Removed: with(anon, "authorization", "x-wp-auth")},
		{Name: "verified Authorization, API-key spellings next to it", Host: StandardHost, Method: "GET", Target: "/wp-json/wp/v2/users/me", Identity: true,
			Headers: map[string]string{"Authorization": "Bearer " + std, "X_API_KEY": "wpk_abc_123", "x_authorization": "Basic eDp5"},
			Removed: []string{"authorization", "x-api-key", "x_api_key"}, Kept: []string{"x-wpauthz-identity", "x_authorization"}},
	}
}

// RequireStripped fails unless d allows c as c says and names what c
// removes (compared case-insensitively, as proxies match header names).
func RequireStripped(t testing.TB, c CredentialCase, d *authz.Decision) {
	t.Helper()
	if d == nil || !d.Allowed {
		t.Fatalf("%s: refused: %+v", c.Name, d)
	}
	hasID := false
	for _, h := range d.UpstreamHeaders {
		if strings.EqualFold(h.Name, "x-wpauthz-identity") && h.Value != "" {
			hasID = true
		}
	}
	if hasID != c.Identity {
		t.Fatalf("%s: identity assertion %v, want %v", c.Name, hasID, c.Identity)
	}
	removed := map[string]bool{}
	for _, n := range d.UpstreamRemove {
		removed[strings.ToLower(n)] = true
	}
	for _, n := range c.Removed {
		if !removed[n] {
			t.Errorf("%s: %q reaches WordPress; removed: %q", c.Name, n, d.UpstreamRemove)
		}
	}
	for _, n := range c.Kept {
		if removed[n] {
			t.Errorf("%s: %q removed; removed: %q", c.Name, n, d.UpstreamRemove)
		}
	}
}
