package authz

import (
	"cmp"

	"github.com/wpauthz/wpauthz/authz/policy"
)

// Credentials that WordPress or a common plugin honours: core's application
// passwords and every JWT/Basic plugin read Authorization, API-key plugins
// read X-API-Key. They are removed from every forwarded request unless
// wpauthz verified them and the policy keeps them.
const (
	authorizationHeader = "authorization"
	defaultAPIKeyHeader = policy.DefaultAPIKeyHeader
)

// upstreamRemove lists the request headers WordPress must not see: every
// spelling of a credential header (Authorization, the policy's credential
// and API-key headers, X-API-Key when API keys are off) and of the identity
// header that PHP reads under the same $_SERVER key, plus their canonical
// names so that a proxy that does not show wpauthz every header still
// removes them. Two exceptions: kept (the header wpauthz verified, in the
// exact spelling it read, when the policy keeps credentials) and, when
// identity is true, the identity header itself, which the decision sets.
// p is nil for a host no policy covers.
func upstreamRemove(p *policy.Policy, headers map[string]string, kept string, identity bool) []string {
	names := credentialNames(p)
	out := make([]string, 0, 4)
	add := func(name string) {
		if name == kept || (identity && name == identityHeader) {
			return
		}
		for _, n := range out {
			if n == name {
				return
			}
		}
		out = append(out, name)
	}
	for _, n := range names {
		if n != "" {
			add(n)
		}
	}
	for h := range headers {
		for _, n := range names {
			if n != "" && sameCGIName(h, n) {
				add(h)
				break
			}
		}
	}
	return out
}

// credentialNames are the lower-case canonical names of the headers no
// unverified value may reach WordPress in ("" when unused).
func credentialNames(p *policy.Policy) [4]string {
	names := [4]string{authorizationHeader, defaultAPIKeyHeader, identityHeader, ""}
	if p != nil {
		names[1] = cmp.Or(p.APIKeyHeader, defaultAPIKeyHeader)
		names[3] = p.CredentialHeader
	}
	return names
}

// hasOddSpelling reports whether a header is a credential header under
// another spelling than its canonical name (X_API_KEY for x-api-key).
func hasOddSpelling(p *policy.Policy, headers map[string]string) bool {
	names := credentialNames(p)
	for h := range headers {
		for _, n := range names {
			if n != "" && h != n && sameCGIName(h, n) {
				return true
			}
		}
	}
	return false
}

// sameCGIName reports whether two header names reach PHP as the same
// $_SERVER key. Web servers upper-case a name and turn '-' into '_' (nginx
// with underscores_in_headers on, Caddy's php_fastcgi, Envoy and Go
// proxies in front of them pass '_' unchanged), and PHP turns ' ', '.' and
// an unclosed '[' into '_' when it registers the variable. What real PHP
// sees behind nginx is checked by test/e2e
// (TestHardening5_WhatPHPSeesForHeaderSpellings); that Caddy passes such
// names on, by the Caddy test in authz/httpauth.
func sameCGIName(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if cgiFold(a[i]) != cgiFold(b[i]) {
			return false
		}
	}
	return true
}

func cgiFold(c byte) byte {
	switch {
	case 'a' <= c && c <= 'z':
		return c - ('a' - 'A')
	case c == '-' || c == '_' || c == '.' || c == ' ' || c == '[':
		return '_'
	}
	return c
}
