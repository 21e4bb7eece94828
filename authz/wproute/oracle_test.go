/*
Copyright 2026 The wpauthz authors.

Licensed under the Apache License, Version 2.0.
*/

package wproute

import (
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The oracle corpus: request spellings answered by real PHP running
// WordPress's own routing code (hack/wproute-oracle). To refresh it:
//
//	go test ./authz/wproute -run TestOracle -wproute.write-cases
//	php hack/wproute-oracle/gen.php /usr/share/wordpress
//	go test ./authz/wproute
var writeCases = flag.Bool("wproute.write-cases", false, "rewrite testdata/oracle_cases.json from the Go tables")

type oracleCase struct {
	Name     string            `json:"name"`
	Method   string            `json:"method"`
	Target   string            `json:"target"`
	Headers  map[string]string `json:"headers,omitempty"`
	Body     string            `json:"body,omitempty"`
	Home     string            `json:"home,omitempty"`
	Prefix   string            `json:"prefix,omitempty"` // rest_get_url_prefix(), default "wp-json"
	PathInfo bool              `json:"pathinfo,omitempty"`
	WP       *struct {
		REST    bool   `json:"rest"`
		Route   string `json:"route"`
		Method  string `json:"method"`
		Matched string `json:"matched"`
		Outcome string `json:"outcome"`
	} `json:"wp,omitempty"`
}

// matchedGlob maps the routes oracle.php registers to the glob a policy
// would write for them.
var matchedGlob = map[string]string{
	"/":                          "/",
	"/batch/v1":                  "/batch/v1",
	"/wp/v2":                     "/wp/v2",
	"/wp/v2/users":               "/wp/v2/users",
	"/wp/v2/users/me":            "/wp/v2/users/me",
	`/wp/v2/users/(?P<id>[\d]+)`: "/wp/v2/users/*",
	"/wp/v2/posts":               "/wp/v2/posts",
	`/wp/v2/posts/(?P<id>[\d]+)`: "/wp/v2/posts/*",
	"/wp/v2/settings":            "/wp/v2/settings",
}

// oracleSpellings are extra spellings for the corpus, built from pieces.
func oracleSpellings() []oracleCase {
	var out []oracleCase
	add := func(name, method, target string) {
		out = append(out, oracleCase{Name: name, Method: method, Target: target})
	}
	prefixes := []string{"/wp-json", "/WP-JSON", "/%77p-json", "/wp%2Djson", "/wp-json%2F", "//wp-json", "/index.php/wp-json", "/indexXphp/wp-json", "/index%2Ephp/wp-json", "/wp-json%0a", "/wp-json%252F", "/%2577p-json"}
	routes := []string{"", "/", "/wp/v2/users", "/wp/v2/users/", "/wp/v2/users%2F", "/wp/v2/%75sers", "/wp/v2/%2575sers", "/wp%2Fv2/users", "/wp/v2//users", "/wp/v2/users%0a", "/wp/v2/users%0aX", "/wp/v2/users%5C", "/wp/v2/users\\", "/wp/v2/users+", "/wp/v2/users%2B", "/wp/v2/users%20", "/wp/v2/users&rest_route=/wp/v2/posts", "/wp/v2/users%26rest_route=/wp/v2/posts", "/wp/v2/users/1", "/wp/v2/users/me", "/Wp/V2/Users", "/batch/v1", "/wp/v2/users%00", "/wp/v2/users%27", "/wp/v2/users%zz"}
	for _, p := range prefixes {
		for _, r := range routes {
			add("path "+p+r, "GET", p+r)
		}
	}
	queries := []string{
		"rest_route=/wp/v2/users", "rest.route=/wp/v2/users", "rest+route=/wp/v2/users", "rest[route=/wp/v2/users",
		"rest_route[]=/wp/v2/users", "rest_route[a]=/wp/v2/users", "rest_route%00x=/wp/v2/users", "%20rest_route=/wp/v2/users",
		"rest%5Froute=/wp/v2/users", "rest_route=/wp/v2/users&rest_route=/wp/v2/posts", "rest_route=%2Fwp%2Fv2%2Fusers",
		"rest_route=/wp/v2/users%0a", "rest_route=/wp/v2/users%0d", "rest_route=/wp/v2/users%5c", "rest_route=/wp/v2/users/",
		"rest_route=/wp/v2/users%2F", "rest_route=", "rest_route=0", "rest_route=%30", "rest_route=00", "rest_route", "REST_ROUTE=/wp/v2/users",
		"a=1;rest_route=/wp/v2/users", "rest_route=/wp/v2/users;rest_route=/wp/v2/posts", "rest_route[=/wp/v2/users",
		"rest[route]=/wp/v2/users", "rest_route=/wp/v2/users&_method=DELETE", "_method=delete", ".method=PUT", "_method[]=DELETE",
		"_method=", "_method=DEL%27", "rest_route=/WP/V2/USERS", "rest_route=//wp/v2/users", "rest_route=wp/v2/users",
		"rest_route[]=/a&rest_route=/wp/v2/users", "rest_route=/wp/v2/users&rest_route[]=/a", "rest_route=/batch/v1",
	}
	for _, base := range []string{"/", "/wp-json/wp/v2/posts", "/index.php", "/wp-admin/edit.php"} {
		for _, q := range queries {
			add("query "+base+"?"+q, "GET", base+"?"+q)
		}
	}
	for _, m := range []string{"GET", "POST", "PUT", "HEAD", "get", "post", "OPTIONS", "DELETE"} {
		add("method "+m, m, "/wp-json/wp/v2/users")
		out = append(out, oracleCase{Name: "override " + m, Method: m, Target: "/wp-json/wp/v2/users", Headers: map[string]string{"x-http-method-override": "delete"}})
		out = append(out, oracleCase{Name: "form " + m, Method: m, Target: "/wp-json/wp/v2/posts", Headers: map[string]string{"content-type": form}, Body: "rest_route=/wp/v2/users"})
		out = append(out, oracleCase{Name: "multipart " + m, Method: m, Target: "/wp-json/wp/v2/posts", Headers: map[string]string{"content-type": multipart}, Body: multipartBody("rest_route", "/wp/v2/users")})
	}
	for _, b := range []string{"rest.route=/wp/v2/users", "rest_route[]=/wp/v2/users", "a=1&&&rest_route=%2Fwp%2Fv2%2Fusers", "rest_route=/wp/v2/users&rest_route=/wp/v2/posts", "rest_route%00=/wp/v2/users", "rest_route=/wp/v2/users;x", "x=1;rest_route=/wp/v2/users", "_method=DELETE"} {
		out = append(out, oracleCase{Name: "form body " + b, Method: "POST", Target: "/wp-json/wp/v2/posts", Headers: map[string]string{"content-type": form}, Body: b})
		out = append(out, oracleCase{Name: "form body+query " + b, Method: "POST", Target: "/?rest_route=/wp/v2/users", Headers: map[string]string{"content-type": form}, Body: b})
	}
	for _, name := range []string{" rest.route", "rest[route", "rest_route[]", "rest_route\x00x", "REST_ROUTE", "restroute"} {
		out = append(out, oracleCase{Name: "multipart name " + name, Method: "POST", Target: "/wp-json/wp/v2/posts", Headers: map[string]string{"content-type": multipart}, Body: multipartBody(name, "/wp/v2/users")})
	}
	for _, t := range []string{"/blog/wp-json/wp/v2/users", "/BLOG/wp-json/wp/v2/users", "/blogwp-json/wp/v2/users", "/wp-json/wp/v2/users", "/blog//wp-json/wp/v2/users", "/blog/index.php/wp-json/wp/v2/users", "/blog/?rest_route=/wp/v2/users", "/other/wp-json/wp/v2/users"} {
		out = append(out, oracleCase{Name: "home " + t, Method: "GET", Target: t, Home: "/blog"})
	}
	return out
}

func TestOracle(t *testing.T) {
	if *writeCases {
		var cases []oracleCase
		for _, tc := range resolveCases {
			if tc.body != "" && !tc.complete {
				continue // PHP would see a different body than we do
			}
			c := oracleCase{Name: "table " + tc.name, Method: tc.method, Target: tc.target, Headers: tc.headers, Body: tc.body}
			if tc.prefix != "" {
				i := strings.LastIndexByte(tc.prefix, '/')
				c.Home, c.Prefix = tc.prefix[:i], tc.prefix[i+1:]
			}
			cases = append(cases, c)
		}
		cases = append(cases, oracleSpellings()...)
		// Every spelling with a "<script>.php/" segment is also asked with
		// PATH_INFO set, as Apache would.
		for _, c := range cases {
			p, _, _ := strings.Cut(c.Target, "?")
			if strings.Contains(strings.ToLower(p), ".php/") {
				c.PathInfo = true
				c.Name += " (PATH_INFO)"
				cases = append(cases, c)
			}
		}
		b, err := json.MarshalIndent(cases, "", " ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join("testdata", "oracle_cases.json"), append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %d cases; now run hack/wproute-oracle/gen.php", len(cases))
		return
	}

	b, err := os.ReadFile(filepath.Join("testdata", "wp_oracle.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cases []oracleCase
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	// The corpus must hold every spelling of the Go table (regenerate it
	// when the table changes).
	inCorpus := map[string]bool{}
	for _, c := range cases {
		inCorpus[c.Method+" "+c.Target+" "+c.Body] = true
	}
	for _, tc := range resolveCases {
		if (tc.body == "" || tc.complete) && !inCorpus[tc.method+" "+tc.target+" "+tc.body] {
			t.Errorf("table case %q is not in testdata/wp_oracle.json; regenerate the corpus (see the comment above TestOracle)", tc.name)
		}
	}

	var restCases, exact int
	for _, c := range cases {
		if c.WP == nil {
			t.Fatalf("%s: no WordPress answer; regenerate with hack/wproute-oracle/gen.php", c.Name)
		}
		prefix := c.Prefix
		if prefix == "" {
			prefix = "wp-json"
		}
		req := Request{Method: c.Method, Target: c.Target, Headers: c.Headers, BodyComplete: true}
		if c.Body != "" {
			req.Body = []byte(c.Body)
		}
		got, err := Resolve(req, c.Home+"/"+prefix)
		if err != nil && !errors.Is(err, ErrAmbiguous) {
			t.Errorf("%s: error %v does not wrap ErrAmbiguous", c.Name, err)
			continue
		}
		wp := c.WP
		if !wp.REST || wp.Outcome != "ok" {
			// WordPress serves no REST route (a page, a 400, a 500): any
			// answer is safe.
			continue
		}
		restCases++
		if err != nil {
			if wp.Matched != "" && testing.Verbose() {
				t.Logf("conservative: %s: WordPress serves %q, Resolve: %v", c.Name, wp.Route, err)
			}
			continue // denied: safe
		}
		if !got.REST {
			t.Errorf("BYPASS %s: WordPress serves REST route %q, Resolve says not REST", c.Name, wp.Route)
			continue
		}
		wantMethod := wp.Method
		if wantMethod == "HEAD" {
			wantMethod = "GET"
		}
		if got.Method != wantMethod {
			t.Errorf("%s: method %q, WordPress uses %q", c.Name, got.Method, wp.Method)
		}
		if wp.Matched != "" {
			g, err := CompileGlob(matchedGlob[wp.Matched])
			if err != nil {
				t.Fatalf("%s: %v", wp.Matched, err)
			}
			if !g.Match(got.Path) {
				t.Errorf("BYPASS %s: WordPress dispatches to %q (route %q), Resolve says %q", c.Name, wp.Matched, wp.Route, got.Path)
			}
			exact++
			continue
		}
		// WordPress answers rest_no_route; we should still name the same
		// route, so that a policy's default applies as intended.
		if want := oracleCanonical(wp.Route); got.Path != want {
			t.Errorf("%s: path %q, WordPress route %q (canonical %q)", c.Name, got.Path, wp.Route, want)
		}
	}
	if restCases < 100 || exact < 50 {
		t.Errorf("oracle corpus too thin: %d REST cases, %d matched a route", restCases, exact)
	}
	t.Logf("%d spellings, %d served as REST by WordPress, %d dispatched to a known route", len(cases), restCases, exact)
}

// oracleCanonical restates Route.Path's canonical form independently of
// canonicalRoute: a final "\n" is absorbed by PCRE "$", case is ignored,
// "//" never matches a route, trailing "/" is stripped by
// untrailingslashit.
func oracleCanonical(r string) string {
	r = strings.TrimSuffix(r, "\n")
	r = strings.ToLower(r)
	for strings.Contains(r, "//") {
		r = strings.ReplaceAll(r, "//", "/")
	}
	r = strings.TrimRight(r, "/")
	if !strings.HasPrefix(r, "/") {
		r = "/" + r
	}
	return r
}
