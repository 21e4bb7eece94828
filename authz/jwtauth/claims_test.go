package jwtauth

import (
	"strings"
	"testing"
	"time"
)

// TestClaimValueEdges: for every algorithm, claim values at the edges of
// their types are read exactly as encoding/json reads them: an empty
// string is a string, escapes are decoded (also a value that is nothing but
// one), invalid UTF-8 becomes U+FFFD, and NumericDates may be 0, start with
// 9, or be the last second of 9999.
func TestClaimValueEdges(t *testing.T) {
	const maxDate = 253402300799 // 9999-12-31T23:59:59Z
	for _, f := range fixtures(t) {
		t.Run(f.alg, func(t *testing.T) {
			v := mustNew(t, baseConfig(f))
			for _, tc := range []struct {
				name    string
				extra   map[string]any
				raw     string // replaces "RAW" in the payload, unescaped
				check   func(*Claims) bool
				checked string
			}{
				{name: "empty email", extra: map[string]any{"email": ""}, check: func(c *Claims) bool { return c.Email == "" }, checked: "Email"},
				{name: "login of one backslash", extra: map[string]any{"login": `\`}, check: func(c *Claims) bool { return c.Login == `\` }, checked: "Login"},
				{name: "login with an escape", extra: map[string]any{"login": "ja\tne"}, check: func(c *Claims) bool { return c.Login == "ja\tne" }, checked: "Login"},
				{name: "login with invalid UTF-8", extra: map[string]any{"login": "RAW"}, raw: "ja\x80ne", check: func(c *Claims) bool { return c.Login == "ja\uFFFDne" }, checked: "Login"},
				{name: "login of invalid UTF-8 only", extra: map[string]any{"login": "RAW"}, raw: "\x80\xff", check: func(c *Claims) bool { return c.Login == "\uFFFD\uFFFD" }, checked: "Login"},
				{name: "login with UTF-8", extra: map[string]any{"login": "RAW"}, raw: "j\u0100ne", check: func(c *Claims) bool { return c.Login == "j\u0100ne" }, checked: "Login"},
				{name: "nbf at the epoch", extra: map[string]any{"nbf": 0}, check: func(c *Claims) bool { return true }},
				{name: "exp starting with 9", extra: map[string]any{"exp": 9_000_000_000}, check: func(c *Claims) bool { return c.ExpiresAt.Equal(time.Unix(9_000_000_000, 0)) }, checked: "ExpiresAt"},
				{name: "exp the last second of 9999 as a fraction", extra: map[string]any{"exp": rawJSON("253402300799.0")}, check: func(c *Claims) bool { return c.ExpiresAt.Equal(time.Unix(maxDate, 0)) }, checked: "ExpiresAt"},
				{name: "exp the last second of 9999", extra: map[string]any{"exp": maxDate}, check: func(c *Claims) bool { return c.ExpiresAt.Equal(time.Unix(maxDate, 0)) }, checked: "ExpiresAt"},
			} {
				payload := claimsJSON(t, tc.extra)
				if tc.raw != "" {
					payload = strings.Replace(payload, "RAW", tc.raw, 1)
				}
				tok := craft(t, f.alg, f.signer, header(f.alg, "k1"), payload)
				c, err := v.Verify(tok, testNow)
				if err != nil {
					t.Errorf("%s: %v", tc.name, err)
					continue
				}
				if !tc.check(c) {
					t.Errorf("%s: wrong %s in %+v", tc.name, tc.checked, c)
				}
			}
		})
	}
}

// TestParseUserID: only a canonical positive decimal that fits in int64
// names a WordPress user ID; anything else is 0 (no user).
func TestParseUserID(t *testing.T) {
	for sub, want := range map[string]int64{
		"42": 42, "1": 1, "9223372036854775807": 9223372036854775807,
		"": 0, "0": 0, "042": 0, "-1": 0, "+1": 0, "1a": 0, " 1": 0, "1.0": 0,
		"9223372036854775808": 0, "12345678901234567890": 0,
	} {
		if got := parseUserID(sub); got != want {
			t.Errorf("parseUserID(%q) = %d, want %d", sub, got, want)
		}
	}
}
