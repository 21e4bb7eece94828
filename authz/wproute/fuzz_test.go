/*
Copyright 2026 The wpauthz authors.

Licensed under the Apache License, Version 2.0.
*/

package wproute

import (
	"errors"
	"strings"
	"testing"
)

func FuzzResolve(f *testing.F) {
	for _, tc := range resolveCases {
		f.Add(tc.method, tc.target, tc.headers["content-type"], tc.headers["x-http-method-override"], tc.body, tc.complete, tc.prefix)
	}
	f.Fuzz(func(t *testing.T, method, target, ctype, override, body string, complete bool, prefix string) {
		if prefix == "" {
			prefix = "/wp-json"
		}
		h := map[string]string{}
		if ctype != "" {
			h["content-type"] = ctype
		}
		if override != "" {
			h["x-http-method-override"] = override
		}
		req := Request{Method: method, Target: target, Headers: h, Body: []byte(body), BodyComplete: complete}
		r, err := Resolve(req, prefix)
		r2, err2 := Resolve(req, prefix)
		if r != r2 || (err == nil) != (err2 == nil) {
			t.Fatalf("not deterministic: %+v %v / %+v %v", r, err, r2, err2)
		}
		if err != nil {
			if !errors.Is(err, ErrAmbiguous) {
				t.Fatalf("error %v does not wrap ErrAmbiguous", err)
			}
			if r != (Route{}) {
				t.Fatalf("error with a route: %+v", r)
			}
			return
		}
		if r.Method == "" || r.Method == "HEAD" || strings.ToUpper(r.Method) != r.Method {
			t.Fatalf("method %q", r.Method)
		}
		if !r.REST {
			if r.Path != "" || r.Batch {
				t.Fatalf("non-REST route %+v", r)
			}
			return
		}
		p := r.Path
		switch {
		case p == "" || p[0] != '/':
			t.Fatalf("path %q does not start with /", p)
		case strings.Contains(p, "//"):
			t.Fatalf("path %q has //", p)
		case len(p) > 1 && p[len(p)-1] == '/':
			t.Fatalf("path %q has a trailing /", p)
		case hasDotSegment(p):
			t.Fatalf("path %q has a dot segment", p)
		case r.Batch != (p == "/batch/v1"):
			t.Fatalf("batch flag wrong for %q", p)
		}
		for i := 0; i < len(p); i++ {
			if c := p[i]; ('A' <= c && c <= 'Z') || c < 0x20 || c == 0x7f || c == '\\' {
				t.Fatalf("path %q has byte %q", p, c)
			}
		}
		if !mustGlob("/**").Match(p) {
			t.Fatalf("/** does not match %q", p)
		}
	})
}

func FuzzGlob(f *testing.F) {
	f.Add("/wp/v2/**", "/wp/v2/users")
	f.Add("/**/x/*", "/a/b/x/c")
	f.Add("/*/*", "/a")
	f.Fuzz(func(t *testing.T, pattern, path string) {
		g, err := CompileGlob(pattern)
		if err != nil {
			return
		}
		m := g.Match(path)
		up := []byte(path)
		for i, c := range up {
			if 'a' <= c && c <= 'z' {
				up[i] = c - ('a' - 'A')
			}
		}
		if m != g.Match(string(up)) {
			t.Fatalf("%q: case changes the match of %q", pattern, path)
		}
	})
}

func mustGlob(p string) Glob {
	g, err := CompileGlob(p)
	if err != nil {
		panic(err)
	}
	return g
}
