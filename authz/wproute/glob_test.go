/*
Copyright 2026 The wpauthz authors.

Licensed under the Apache License, Version 2.0.
*/

package wproute

import "testing"

func TestGlob(t *testing.T) {
	cases := []struct {
		pattern string
		match   []string
		noMatch []string
	}{
		{"/", []string{"/"}, []string{"/wp", "/wp/v2"}},
		{"/wp/v2/users", []string{"/wp/v2/users"}, []string{"/wp/v2", "/wp/v2/users/1", "/wp/v2/user", "/wp/v2/usersx", "/"}},
		{"/WP/V2/Users", []string{"/wp/v2/users"}, []string{"/wp/v2/posts"}},
		// The first and last upper-case letters fold too, also as the only one.
		{"/wp/v2/A", []string{"/wp/v2/a"}, []string{"/wp/v2/b"}},
		{"/wp/v2/Z", []string{"/wp/v2/z"}, []string{"/wp/v2/y"}},
		{"/wp/v2/users/", []string{"/wp/v2/users"}, []string{"/wp/v2/users/1"}},
		{"/wp/v2/users/*", []string{"/wp/v2/users/1", "/wp/v2/users/me"}, []string{"/wp/v2/users", "/wp/v2/users/1/x"}},
		{"/wp/*/users", []string{"/wp/v2/users", "/wp/v3/users"}, []string{"/wp/users", "/wp/v2/x/users"}},
		{"/*", []string{"/wp", "/batch"}, []string{"/", "/wp/v2"}},
		{"/**", []string{"/", "/wp", "/wp/v2/users/1"}, nil},
		{"/wp/v2/**", []string{"/wp/v2", "/wp/v2/users", "/wp/v2/users/1/x"}, []string{"/wp", "/wp/v3", "/wp/v2x", "/"}},
		{"/**/users", []string{"/users", "/wp/v2/users"}, []string{"/wp/v2/users/1", "/wp/v2"}},
		{"/**/users/**", []string{"/users", "/wp/v2/users", "/wp/v2/users/1", "/users/users"}, []string{"/wp/v2/posts"}},
		{"/wp/**/revisions/*", []string{"/wp/revisions/1", "/wp/v2/posts/1/revisions/2"}, []string{"/wp/v2/posts/1/revisions", "/wc/v3/revisions/1"}},
		{"/**/**/x", []string{"/x", "/a/x", "/a/b/c/x"}, []string{"/a/x/b"}},
		{"/*/**", []string{"/wp", "/wp/v2/users"}, []string{"/"}},
		{"/wc/store/v1/cart/*", []string{"/wc/store/v1/cart/add-item"}, []string{"/wc/store/v1/cart"}},
		{"/wp/v2/posts&x", []string{"/wp/v2/posts&x"}, []string{"/wp/v2/posts"}},
	}
	for _, tc := range cases {
		g, err := CompileGlob(tc.pattern)
		if err != nil {
			t.Fatalf("CompileGlob(%q): %v", tc.pattern, err)
		}
		if g.String() != tc.pattern {
			t.Errorf("String() = %q, want %q", g.String(), tc.pattern)
		}
		for _, p := range tc.match {
			if !g.Match(p) {
				t.Errorf("%q should match %q", tc.pattern, p)
			}
		}
		for _, p := range tc.noMatch {
			if g.Match(p) {
				t.Errorf("%q should not match %q", tc.pattern, p)
			}
		}
	}
}

func TestGlobInvalid(t *testing.T) {
	for _, p := range []string{
		"", "wp/v2", "*", "/wp//v2", "//", "/wp/v2/us*", "/wp/***", "/wp/*x/y", "/wp/v2/./users", "/wp/../x",
		"/wp/v2?x=1", "/wp/v2#x", "/wp v2", "/wp/\x00", "/wp/\\v2", "/wp/'", "/wp/\"", "/wp/\n",
	} {
		if g, err := CompileGlob(p); err == nil {
			t.Errorf("CompileGlob(%q) = %v, want error", p, g)
		}
	}
	var zero Glob
	if zero.Match("/") || zero.Match("/wp/v2") {
		t.Error("zero Glob matches")
	}
}

func TestGlobMatchesResolvedPaths(t *testing.T) {
	g, err := CompileGlob("/wp/v2/users/**")
	if err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{
		"/wp-json/wp/v2/users", "/WP-JSON/WP/V2/USERS/", "/?rest_route=/Wp/V2/Users/1", "/wp-json/wp/v2//users/me",
		"/?rest.route=/wp/v2/users%0a", "//wp-json/wp/v2/users",
	} {
		r, err := Resolve(Request{Method: "GET", Target: target}, "/wp-json")
		if err != nil || !r.REST || !g.Match(r.Path) {
			t.Errorf("%q: %+v, %v: not matched by %s", target, r, err, g)
		}
	}
}

func BenchmarkGlobMatch(b *testing.B) {
	g, err := CompileGlob("/wp/**/revisions/*")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		g.Match("/wp/v2/posts/123/revisions/4")
	}
}
