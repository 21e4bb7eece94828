/*
Copyright 2026 The wpauthz authors.

Licensed under the Apache License, Version 2.0.
*/

package wproute

import "testing"

// TestRestRules checks the four REST rewrite rules on the trimmed path, in
// WordPress's order, raw before urldecode()d, and when a malformed "%"
// makes the answer uncertain (bad).
func TestRestRules(t *testing.T) {
	for _, tc := range []struct {
		name, path, prefix string
		value              string
		ok, bad            bool
	}{
		{name: "index route", path: "wp-json", prefix: "wp-json", value: "/", ok: true},
		{name: "sub-route", path: "wp-json/wp/v2/posts", prefix: "wp-json", value: "/wp/v2/posts", ok: true},
		{name: "index route behind index.php", path: "index.php/wp-json", prefix: "wp-json", value: "/", ok: true},
		{name: "sub-route behind index.php", path: "index.php/wp-json/wp/v2/posts", prefix: "wp-json", value: "/wp/v2/posts", ok: true},
		{name: "index.php with a wrong letter after the dot", path: "index.phq/wp-json/wp/v2/posts", prefix: "wp-json"},
		{name: "decoded newline ends the index route", path: "wp-json%0A", prefix: "wp-json", value: "/", ok: true},
		{name: "decoded newline ends a sub-route", path: "wp-json%2Fwp%0Ax", prefix: "wp-json", value: "/wp", ok: true},
		{name: "malformed percent the raw match did not decode", path: "wp-json/wp/v2/posts%zz", prefix: "wp-json", value: "/wp/v2/posts%zz", ok: true},
		{name: "malformed percent beside a decoded match", path: "wp-json%2Fwp%zz", prefix: "wp-json", value: "/wp%zz", ok: true, bad: true},
		// A "." in the prefix matches any byte, "%" too: the raw string
		// matched, so the malformed escape is never decoded.
		{name: "dot in the prefix matches a malformed percent", path: "wp%json", prefix: "wp.json", value: "/", ok: true},
		// With the prefix "index.php" the plain rule comes first and keeps
		// the second "index.php" in the route.
		{name: "plain rule before the index.php rule", path: "index.php/index.php/x", prefix: "index.php", value: "/index.php/x", ok: true},
		{name: "other prefix", path: "api/wp/v2", prefix: "wp-json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			value, ok, bad := restRules(tc.path, tc.prefix)
			if value != tc.value || ok != tc.ok || bad != tc.bad {
				t.Fatalf("restRules(%q, %q) = %q, %v, %v; want %q, %v, %v", tc.path, tc.prefix, value, ok, bad, tc.value, tc.ok, tc.bad)
			}
		})
	}
}

// lower folds exactly the 26 ASCII upper-case letters.
func TestLowerFoldsASCIIUpperCaseOnly(t *testing.T) {
	for c := 0; c < 256; c++ {
		want := byte(c)
		if 'A' <= c && c <= 'Z' {
			want = byte(c) + 'a' - 'A'
		}
		if got := lower(byte(c)); got != want {
			t.Errorf("lower(%q) = %q, want %q", byte(c), got, want)
		}
	}
}
