/*
Copyright 2026 The wpauthz authors.

Licensed under the Apache License, Version 2.0.
*/

package wproute

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

const (
	form      = "application/x-www-form-urlencoded"
	multipart = "multipart/form-data; boundary=XyZ"
)

func rest(path, method string) Route {
	return Route{REST: true, Path: path, Method: method, Batch: path == "/batch/v1"}
}

func notREST(method string) Route { return Route{Method: method} }

var amb = Route{Method: "AMBIGUOUS"} // marker: want an ErrAmbiguous error

type resolveCase struct {
	name     string
	method   string
	target   string
	headers  map[string]string
	body     string
	complete bool
	prefix   string // default "/wp-json"
	want     Route
}

func multipartBody(fields ...string) string {
	var b strings.Builder
	for i := 0; i+1 < len(fields); i += 2 {
		fmt.Fprintf(&b, "--XyZ\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n%s\r\n", fields[i], fields[i+1])
	}
	b.WriteString("--XyZ--\r\n")
	return b.String()
}

var resolveCases = []resolveCase{
	// Plain spellings.
	{name: "pretty", method: "GET", target: "/wp-json/wp/v2/users", want: rest("/wp/v2/users", "GET")},
	{name: "pretty query", method: "GET", target: "/wp-json/wp/v2/posts?per_page=5&context=view", want: rest("/wp/v2/posts", "GET")},
	{name: "rest_route on root", method: "GET", target: "/?rest_route=/wp/v2/users", want: rest("/wp/v2/users", "GET")},
	{name: "rest_route on index.php", method: "GET", target: "/index.php?rest_route=/wp/v2/users", want: rest("/wp/v2/users", "GET")},
	{name: "rest_route on any path", method: "GET", target: "/wp-admin/edit.php?rest_route=/wp/v2/users", want: rest("/wp/v2/users", "GET")},
	{name: "rest_route beats path", method: "GET", target: "/wp-json/wp/v2/posts?rest_route=/wp/v2/users", want: rest("/wp/v2/users", "GET")},
	{name: "rest_route encoded", method: "GET", target: "/?rest_route=%2Fwp%2Fv2%2Fusers", want: rest("/wp/v2/users", "GET")},
	{name: "rest_route last wins", method: "GET", target: "/?rest_route=/wp/v2/users&rest_route=/wp/v2/posts", want: rest("/wp/v2/posts", "GET")},
	{name: "rest_route scalar after array wins", method: "GET", target: "/?rest_route[]=/a&rest_route=/wp/v2/posts", want: rest("/wp/v2/posts", "GET")},
	{name: "rest_route no leading slash", method: "GET", target: "/?rest_route=wp/v2/users", want: rest("/wp/v2/users", "GET")},
	{name: "rest_route trailing slash", method: "GET", target: "/?rest_route=/wp/v2/users/", want: rest("/wp/v2/users", "GET")},
	{name: "rest_route final newline", method: "GET", target: "/?rest_route=/wp/v2/users%0a", want: rest("/wp/v2/users", "GET")},
	{name: "rest_route plus is space", method: "GET", target: "/?rest_route=/wp/v2/a+b", want: rest("/wp/v2/a b", "GET")},

	// Case, slashes, prefix spellings.
	{name: "upper case", method: "GET", target: "/WP-JSON/WP/V2/USERS", want: rest("/wp/v2/users", "GET")},
	{name: "mixed case route", method: "GET", target: "/wp-json/wp/v2/Users", want: rest("/wp/v2/users", "GET")},
	{name: "double slash inside", method: "GET", target: "/wp-json/wp/v2//users", want: rest("/wp/v2/users", "GET")},
	{name: "double slash after prefix", method: "GET", target: "/wp-json//wp/v2/users", want: rest("/wp/v2/users", "GET")},
	{name: "leading double slash", method: "GET", target: "//wp-json/wp/v2/users", want: rest("/wp/v2/users", "GET")},
	{name: "trailing slash", method: "GET", target: "/wp-json/wp/v2/users/", want: rest("/wp/v2/users", "GET")},
	{name: "trailing slashes", method: "GET", target: "/wp-json/wp/v2/users///", want: rest("/wp/v2/users", "GET")},
	{name: "index", method: "GET", target: "/wp-json", want: rest("/", "GET")},
	{name: "index slash", method: "GET", target: "/wp-json/", want: rest("/", "GET")},
	{name: "index query", method: "GET", target: "/wp-json?context=help", want: rest("/", "GET")},
	{name: "encoded prefix", method: "GET", target: "/%77p-json/wp/v2/users", want: rest("/wp/v2/users", "GET")},
	{name: "encoded prefix slash", method: "GET", target: "/wp-json%2Fwp/v2/users", want: rest("/wp/v2/users", "GET")},
	{name: "encoded prefix newline index", method: "GET", target: "/wp-json%0a", want: rest("/", "GET")},
	{name: "percent kept literally", method: "GET", target: "/wp-json/wp/v2/%2575sers", want: rest("/wp/v2/%2575sers", "GET")},
	{name: "plus kept literally", method: "GET", target: "/wp-json/wp/v2/users+", want: rest("/wp/v2/users+", "GET")},
	{name: "encoded letter: nginx vs PATH_INFO", method: "GET", target: "/wp-json/wp/v2/%75sers", want: amb},
	{name: "encoded trailing slash", method: "GET", target: "/wp-json/wp/v2/users%2F", want: amb},
	{name: "encoded inner slash", method: "GET", target: "/wp-json/wp%2fv2/users", want: amb},
	{name: "encoded newline in path", method: "GET", target: "/wp-json/wp/v2/users%0a", want: amb},
	{name: "ampersand does not inject", method: "GET", target: "/wp-json/wp/v2/posts&rest_route=/wp/v2/users", want: rest("/wp/v2/posts&rest_route=/wp/v2/users", "GET")},
	{name: "encoded ampersand: PATH_INFO reading differs", method: "GET", target: "/wp-json/wp/v2/posts%26rest_route=/wp/v2/users", want: amb},
	{name: "index.php PATH_INFO", method: "GET", target: "/index.php/wp-json/wp/v2/users", want: rest("/wp/v2/users", "GET")},
	{name: "index.php regex dot", method: "GET", target: "/indexXphp/wp-json/wp/v2/users", want: rest("/wp/v2/users", "GET")},
	{name: "trackback PATH_INFO", method: "GET", target: "/wp-trackback.php/wp-json/wp/v2/users", want: rest("/wp/v2/users", "GET")},
	{name: "index.php PATH_INFO decoded", method: "GET", target: "/index.php/wp-json/wp/v2/%75sers", want: amb},
	{name: "subdirectory", method: "GET", target: "/blog/wp-json/wp/v2/users", prefix: "/blog/wp-json", want: rest("/wp/v2/users", "GET")},
	{name: "subdirectory case", method: "GET", target: "/BLOG/wp-json/wp/v2/users", prefix: "/blog/wp-json", want: rest("/wp/v2/users", "GET")},
	{name: "subdirectory no boundary", method: "GET", target: "/blogwp-json/wp/v2/users", prefix: "/blog/wp-json", want: rest("/wp/v2/users", "GET")},
	{name: "subdirectory home missing", method: "GET", target: "/wp-json/wp/v2/users", prefix: "/blog/wp-json", want: rest("/wp/v2/users", "GET")},
	{name: "subdirectory query", method: "GET", target: "/blog/?rest_route=/wp/v2/users", prefix: "/blog/wp-json", want: rest("/wp/v2/users", "GET")},
	{name: "custom prefix", method: "GET", target: "/api/wp/v2/users", prefix: "/api", want: rest("/wp/v2/users", "GET")},
	{name: "custom prefix leaves wp-json", method: "GET", target: "/wp-json/wp/v2/users", prefix: "/api", want: notREST("GET")},

	// Not REST.
	{name: "home", method: "GET", target: "/", want: notREST("GET")},
	{name: "admin", method: "GET", target: "/wp-admin/", want: notREST("GET")},
	{name: "prefix lookalike", method: "GET", target: "/wp-json-foo", want: notREST("GET")},
	{name: "prefix lookalike deeper", method: "GET", target: "/wp-jsonx/wp/v2/users", want: notREST("GET")},
	{name: "page with quote", method: "GET", target: "/2024/01/it's-a-post/?s=it%27s", want: notREST("GET")},
	{name: "empty rest_route", method: "GET", target: "/?rest_route=", want: notREST("GET")},
	{name: "zero rest_route", method: "GET", target: "/?rest_route=0", want: notREST("GET")},
	{name: "HEAD page", method: "HEAD", target: "/about/", want: notREST("GET")},
	{name: "empty rest_route on REST path", method: "GET", target: "/wp-json/wp/v2/users?rest_route=", want: amb},
	{name: "REST segment elsewhere", method: "GET", target: "/foo/wp-json/wp/v2/users", want: amb},

	// PHP name mangling.
	{name: "dot in name", method: "GET", target: "/?rest.route=/wp/v2/users", want: rest("/wp/v2/users", "GET")},
	{name: "plus in name", method: "GET", target: "/?rest+route=/wp/v2/users", want: rest("/wp/v2/users", "GET")},
	{name: "space in name", method: "GET", target: "/?rest%20route=/wp/v2/users", want: rest("/wp/v2/users", "GET")},
	{name: "bracket in name", method: "GET", target: "/?rest[route=/wp/v2/users", want: rest("/wp/v2/users", "GET")},
	{name: "encoded underscore", method: "GET", target: "/?rest%5Froute=/wp/v2/users", want: rest("/wp/v2/users", "GET")},
	{name: "leading spaces", method: "GET", target: "/?++rest_route=/wp/v2/users", want: rest("/wp/v2/users", "GET")},
	{name: "NUL ends name", method: "GET", target: "/?rest_route%00x=/wp/v2/users", want: rest("/wp/v2/users", "GET")},
	{name: "array", method: "GET", target: "/?rest_route[]=/wp/v2/users", want: amb},
	{name: "array index", method: "GET", target: "/?rest_route[x]=/wp/v2/users", want: amb},
	{name: "array after scalar", method: "GET", target: "/?rest_route=/wp/v2/posts&rest_route[]=/wp/v2/users", want: amb},
	{name: "sub-array is another var", method: "GET", target: "/wp-json/wp/v2/posts?rest[route]=/wp/v2/users", want: rest("/wp/v2/posts", "GET")},
	{name: "unmatched bracket suffix", method: "GET", target: "/wp-json/wp/v2/posts?rest_route[=/wp/v2/users", want: rest("/wp/v2/posts", "GET")},
	{name: "semicolon separator", method: "GET", target: "/wp-json/wp/v2/posts?a=1;rest_route=/wp/v2/users", want: amb},
	{name: "semicolon harmless", method: "GET", target: "/wp-json/wp/v2/posts?a=1;b=2", want: rest("/wp/v2/posts", "GET")},
	{name: "encoded separator is data", method: "GET", target: "/wp-json/wp/v2/posts?a=1%26rest_route=/wp/v2/users", want: rest("/wp/v2/posts", "GET")},

	// Route values we refuse.
	{name: "dot dot", method: "GET", target: "/wp-json/wp/v2/posts/../users", want: amb},
	{name: "encoded dot dot", method: "GET", target: "/wp-json/wp/v2/posts/%2e%2e/users", want: amb},
	{name: "dot", method: "GET", target: "/wp-json/./wp/v2/users", want: amb},
	{name: "dot dot before prefix", method: "GET", target: "/foo/../wp-json/wp/v2/users", want: amb},
	{name: "dot dot in rest_route", method: "GET", target: "/?rest_route=/wp/v2/posts/../users", want: amb},
	{name: "encoded dot dot slash", method: "GET", target: "/wp-json/wp/v2/posts/..%2fusers", want: amb},
	{name: "backslash in path", method: "GET", target: "/wp-json\\wp/v2/users", want: amb},
	{name: "encoded backslash in path", method: "GET", target: "/wp-json/wp/v2/users%5c", want: amb},
	{name: "backslash in rest_route", method: "GET", target: "/?rest_route=/wp/v2/users%5C", want: amb},
	{name: "quote in rest_route", method: "GET", target: "/?rest_route=/wp/v2/users%27", want: amb},
	{name: "NUL in rest_route", method: "GET", target: "/?rest_route=/wp/v2/users%00", want: amb},
	{name: "CR in rest_route", method: "GET", target: "/?rest_route=/wp/v2/users%0d", want: amb},
	{name: "inner newline in rest_route", method: "GET", target: "/?rest_route=/wp/v2/users%0a/x", want: amb},
	{name: "malformed percent in rest_route", method: "GET", target: "/?rest_route=/wp/v2/users%zz", want: amb},
	{name: "fragment", method: "GET", target: "/wp-json/wp/v2/users#x", want: amb},
	{name: "raw space", method: "GET", target: "/wp-json/wp/v2/users x", want: amb},
	{name: "not origin-form", method: "OPTIONS", target: "*", want: amb},
	{name: "empty target", method: "GET", target: "", want: amb},
	{name: "long target", method: "GET", target: "/wp-json/wp/v2/posts?x=" + strings.Repeat("a", 8200), want: amb},
	{name: "1000 vars", method: "GET", target: "/wp-json/wp/v2/posts?" + strings.Repeat("a=1&", 999) + "a=1", want: rest("/wp/v2/posts", "GET")},
	{name: "1001 vars", method: "GET", target: "/wp-json/wp/v2/posts?" + strings.Repeat("a=1&", 1000) + "a=1", want: amb},

	// Methods and overrides.
	{name: "lower-case method", method: "get", target: "/wp-json/wp/v2/users", want: rest("/wp/v2/users", "GET")},
	{name: "HEAD is GET", method: "HEAD", target: "/wp-json/wp/v2/users", want: rest("/wp/v2/users", "GET")},
	{name: "_method on GET", method: "GET", target: "/wp-json/wp/v2/posts/1?_method=DELETE", want: rest("/wp/v2/posts/1", "DELETE")},
	{name: "_method on POST", method: "POST", target: "/wp-json/wp/v2/posts/1?_method=delete", want: rest("/wp/v2/posts/1", "DELETE")},
	{name: "_method mangled", method: "GET", target: "/wp-json/wp/v2/posts/1?.method=DELETE", want: rest("/wp/v2/posts/1", "DELETE")},
	{name: "_method HEAD", method: "POST", target: "/wp-json/wp/v2/users?_method=HEAD", want: rest("/wp/v2/users", "GET")},
	{name: "_method array", method: "GET", target: "/wp-json/wp/v2/posts/1?_method[]=DELETE", want: amb},
	{name: "_method quote", method: "GET", target: "/wp-json/wp/v2/posts/1?_method=DELETE%27", want: amb},
	{name: "_method empty", method: "GET", target: "/wp-json/wp/v2/posts/1?_method=", want: amb},
	{name: "_method ignored off REST", method: "GET", target: "/about/?_method=DELETE", want: notREST("GET")},
	{name: "_method beats header", method: "POST", target: "/wp-json/wp/v2/posts/1?_method=DELETE", headers: map[string]string{"x-http-method-override": "PUT"}, want: rest("/wp/v2/posts/1", "DELETE")},
	{name: "override header", method: "POST", target: "/wp-json/wp/v2/posts/1", headers: map[string]string{"x-http-method-override": "DELETE"}, want: rest("/wp/v2/posts/1", "DELETE")},
	{name: "override header on GET", method: "GET", target: "/wp-json/wp/v2/posts/1", headers: map[string]string{"x-http-method-override": "delete"}, want: rest("/wp/v2/posts/1", "DELETE")},
	{name: "override underscore spelling", method: "GET", target: "/wp-json/wp/v2/posts/1", headers: map[string]string{"x_http_method_override": "DELETE"}, want: rest("/wp/v2/posts/1", "DELETE")},
	{name: "override spellings agree", method: "GET", target: "/wp-json/wp/v2/posts/1", headers: map[string]string{"x_http_method_override": "DELETE", "x-http-method-override": "DELETE"}, want: rest("/wp/v2/posts/1", "DELETE")},
	{name: "override spellings differ", method: "GET", target: "/wp-json/wp/v2/posts/1", headers: map[string]string{"x_http_method_override": "DELETE", "x-http-method-override": "GET"}, want: amb},
	{name: "override duplicates joined", method: "GET", target: "/wp-json/wp/v2/posts/1", headers: map[string]string{"x-http-method-override": "GET,DELETE"}, want: amb},
	{name: "override empty", method: "GET", target: "/wp-json/wp/v2/posts/1", headers: map[string]string{"x-http-method-override": ""}, want: amb},
	{name: "bad method", method: "GE T", target: "/wp-json/wp/v2/users", want: amb},
	{name: "empty method", method: "", target: "/wp-json/wp/v2/users", want: amb},

	// Form bodies.
	{name: "form body route", method: "POST", target: "/wp-json/wp/v2/posts", headers: map[string]string{"content-type": form}, body: "rest_route=/wp/v2/users", complete: true, want: rest("/wp/v2/users", "POST")},
	{name: "form body mangled route", method: "POST", target: "/", headers: map[string]string{"content-type": form + "; charset=UTF-8"}, body: "title=x&rest.route=%2Fwp%2Fv2%2Fusers", complete: true, want: rest("/wp/v2/users", "POST")},
	{name: "form body truncated", method: "POST", target: "/wp-json/wp/v2/posts", headers: map[string]string{"content-type": form}, body: "title=x&rest_ro", want: amb},
	{name: "form body absent", method: "POST", target: "/wp-json/wp/v2/posts", headers: map[string]string{"content-type": form}, want: amb},
	{name: "form body empty by length", method: "POST", target: "/wp-json/wp/v2/posts", headers: map[string]string{"content-type": form, "content-length": "0"}, want: rest("/wp/v2/posts", "POST")},
	{name: "form body without route", method: "POST", target: "/wp-json/wp/v2/posts", headers: map[string]string{"content-type": form}, body: "title=hello&status=draft", complete: true, want: rest("/wp/v2/posts", "POST")},
	{name: "form body agrees with query", method: "POST", target: "/?rest_route=/wp/v2/users", headers: map[string]string{"content-type": form}, body: "rest_route=/wp/v2/users", complete: true, want: rest("/wp/v2/users", "POST")},
	{name: "form body differs from query", method: "POST", target: "/?rest_route=/wp/v2/posts", headers: map[string]string{"content-type": form}, body: "rest_route=/wp/v2/users", complete: true, want: amb},
	{name: "query route makes truncated body harmless", method: "POST", target: "/?rest_route=/wp/v2/posts", headers: map[string]string{"content-type": form}, body: "rest_rou", want: rest("/wp/v2/posts", "POST")},
	{name: "form body array route", method: "POST", target: "/wp-json/wp/v2/posts", headers: map[string]string{"content-type": form}, body: "rest_route[]=/wp/v2/users", complete: true, want: amb},
	{name: "form body _method ignored", method: "POST", target: "/wp-json/wp/v2/posts/1", headers: map[string]string{"content-type": form}, body: "_method=DELETE", complete: true, want: rest("/wp/v2/posts/1", "POST")},
	{name: "form body too many vars", method: "POST", target: "/wp-json/wp/v2/posts", headers: map[string]string{"content-type": form}, body: strings.Repeat("a=1&", 1001), complete: true, want: amb},
	{name: "form body on PUT is not read", method: "PUT", target: "/wp-json/wp/v2/posts/1", headers: map[string]string{"content-type": form}, body: "rest_route=/wp/v2/users", complete: true, want: rest("/wp/v2/posts/1", "PUT")},
	{name: "form body on lower-case post", method: "post", target: "/wp-json/wp/v2/posts", headers: map[string]string{"content-type": form}, body: "rest_route=/wp/v2/users", complete: true, want: amb},
	{name: "upper-case content type", method: "POST", target: "/wp-json/wp/v2/posts", headers: map[string]string{"content-type": "APPLICATION/X-WWW-FORM-URLENCODED"}, body: "rest_route=/wp/v2/users", complete: true, want: rest("/wp/v2/users", "POST")},
	{name: "joined content types", method: "POST", target: "/wp-json/wp/v2/posts", headers: map[string]string{"content-type": "application/json, " + form}, body: "rest_route=/wp/v2/users", complete: true, want: amb},
	{name: "joined content types, no route", method: "POST", target: "/wp-json/wp/v2/posts", headers: map[string]string{"content-type": "application/json, " + form}, body: "title=x", complete: true, want: rest("/wp/v2/posts", "POST")},
	{name: "tab before parameters", method: "POST", target: "/wp-json/wp/v2/posts", headers: map[string]string{"content-type": form + "\t; charset=UTF-8"}, body: "rest_route=/wp/v2/users", complete: true, want: amb},
	{name: "JSON body not read", method: "POST", target: "/wp-json/wp/v2/posts", headers: map[string]string{"content-type": "application/json"}, body: `{"rest_route":"/wp/v2/users"}`, complete: true, want: rest("/wp/v2/posts", "POST")},
	{name: "JSON body absent", method: "POST", target: "/wp-json/wp/v2/posts", headers: map[string]string{"content-type": "application/json"}, want: rest("/wp/v2/posts", "POST")},
	{name: "no content type, no body", method: "POST", target: "/wp-json/wp/v2/posts", want: rest("/wp/v2/posts", "POST")},
	{name: "multipart route", method: "POST", target: "/wp-json/wp/v2/media", headers: map[string]string{"content-type": multipart}, body: multipartBody("rest_route", "/wp/v2/users"), complete: true, want: amb},
	{name: "multipart mangled route", method: "POST", target: "/wp-json/wp/v2/media", headers: map[string]string{"content-type": multipart}, body: multipartBody(" rest.route", "/wp/v2/users"), complete: true, want: amb},
	{name: "multipart without route", method: "POST", target: "/wp-json/wp/v2/media", headers: map[string]string{"content-type": multipart}, body: multipartBody("title", "x", "caption", "y"), complete: true, want: rest("/wp/v2/media", "POST")},
	{name: "multipart truncated", method: "POST", target: "/wp-json/wp/v2/media", headers: map[string]string{"content-type": multipart}, body: multipartBody("title", "x")[:20], want: amb},

	// Batch.
	{name: "batch", method: "POST", target: "/wp-json/batch/v1", want: rest("/batch/v1", "POST")},
	{name: "batch via query", method: "POST", target: "/?rest_route=/BATCH/v1/", want: rest("/batch/v1", "POST")},
}

func TestResolve(t *testing.T) {
	for _, tc := range resolveCases {
		t.Run(tc.name, func(t *testing.T) {
			prefix := tc.prefix
			if prefix == "" {
				prefix = "/wp-json"
			}
			req := Request{Method: tc.method, Target: tc.target, Headers: tc.headers, BodyComplete: tc.complete}
			if tc.body != "" {
				req.Body = []byte(tc.body)
			}
			got, err := Resolve(req, prefix)
			if tc.want == amb {
				if !errors.Is(err, ErrAmbiguous) {
					t.Fatalf("Resolve(%q %q) = %+v, %v; want ErrAmbiguous", tc.method, tc.target, got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Resolve(%q %q): %v; want %+v", tc.method, tc.target, err, tc.want)
			}
			if got != tc.want {
				t.Fatalf("Resolve(%q %q) = %+v; want %+v", tc.method, tc.target, got, tc.want)
			}
		})
	}
}

func TestResolveCaseCount(t *testing.T) {
	if len(resolveCases) < 60 {
		t.Fatalf("only %d request spellings", len(resolveCases))
	}
}

func TestAmbiguityErrors(t *testing.T) {
	_, err := Resolve(Request{Method: "GET", Target: "/wp-json/../x"}, "/wp-json")
	if !errors.Is(err, ErrAmbiguous) || !strings.Contains(err.Error(), "dot segment") {
		t.Fatalf("err = %v", err)
	}
	if _, err := Resolve(Request{Method: "GET", Target: "/"}, "/wp-json/"); !errors.Is(err, ErrAmbiguous) {
		t.Fatalf("bad prefix accepted: %v", err)
	}
	if _, err := Resolve(Request{Method: "GET", Target: "/"}, "/wp(json)"); !errors.Is(err, ErrAmbiguous) {
		t.Fatalf("regex prefix accepted: %v", err)
	}
}

func TestResolveDoesNotAllocateOnPlainRequests(t *testing.T) {
	req := Request{Method: "GET", Target: "/wp-json/wp/v2/posts?per_page=10", Headers: map[string]string{
		"host": "example.com", "user-agent": "x", "accept": "application/json", "authorization": "Bearer x",
	}}
	n := testing.AllocsPerRun(100, func() {
		if _, err := Resolve(req, "/wp-json"); err != nil {
			t.Fatal(err)
		}
	})
	if n != 0 {
		t.Fatalf("Resolve allocates %v times per plain request", n)
	}
}

func BenchmarkResolve(b *testing.B) {
	headers := map[string]string{
		"host": "example.com", "user-agent": "bench", "accept": "application/json",
		"authorization": "Bearer x", "x-request-id": "abc", "content-length": "0",
	}
	for _, bc := range []struct{ name, method, target string }{
		{"plain", "GET", "/wp-json/wp/v2/posts"},
		{"query", "GET", "/wp-json/wp/v2/posts?per_page=10&context=edit&_embed=1"},
		{"rest_route", "GET", "/?rest_route=/wp/v2/posts&per_page=10"},
		{"upper", "GET", "/WP-JSON/WP/V2/POSTS/"},
		{"encoded", "GET", "/%77p-json/wp/v2/posts"},
		{"page", "GET", "/2024/01/hello-world/"},
	} {
		req := Request{Method: bc.method, Target: bc.target, Headers: headers}
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Resolve(req, "/wp-json"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestTargetLengthLimit checks both sides of the 8 KiB request-target bound:
// a target of exactly maxTarget bytes is resolved, one byte more is refused.
func TestTargetLengthLimit(t *testing.T) {
	base := "/wp-json/wp/v2/posts?search="
	atLimit := base + strings.Repeat("a", maxTarget-len(base))
	got, err := Resolve(Request{Method: "GET", Target: atLimit}, "/wp-json")
	if err != nil || got != rest("/wp/v2/posts", "GET") {
		t.Fatalf("Resolve(%d-byte target) = %+v, %v; want %+v", len(atLimit), got, err, rest("/wp/v2/posts", "GET"))
	}
	over := atLimit + "a"
	if _, err := Resolve(Request{Method: "GET", Target: over}, "/wp-json"); !errors.Is(err, errTargetLong) {
		t.Fatalf("Resolve(%d-byte target) = %v, want errTargetLong", len(over), err)
	}
}

// TestRESTPrefixShape: the shortest valid prefix is "/" plus one character;
// an empty, bare or relative prefix is refused, not guessed at.
func TestRESTPrefixShape(t *testing.T) {
	got, err := Resolve(Request{Method: "GET", Target: "/a/wp/v2/posts"}, "/a")
	if err != nil || got != rest("/wp/v2/posts", "GET") {
		t.Fatalf("prefix \"/a\": %+v, %v", got, err)
	}
	for _, prefix := range []string{"", "/", "a", "ab", "/a/", "//a", "/a//b"} {
		if _, err := Resolve(Request{Method: "GET", Target: "/wp-json/wp/v2/posts"}, prefix); !errors.Is(err, errPrefix) {
			t.Errorf("prefix %q: %v, want errPrefix", prefix, err)
		}
	}
}

// TestMethodUpperCasing: PHP's strtoupper changes a-z only, including both
// ends of the range, and leaves digits and symbols alone.
func TestMethodUpperCasing(t *testing.T) {
	for method, want := range map[string]string{"patch": "PATCH", "Delete": "DELETE", "m-search1z": "M-SEARCH1Z", "get": "GET", "PoSt": "POST"} {
		got, err := Resolve(Request{Method: method, Target: "/wp-json/wp/v2/posts"}, "/wp-json")
		if err != nil || got.Method != want {
			t.Errorf("method %q: %+v, %v; want %s", method, got, err, want)
		}
	}
}

// TestSemicolonFirstInTheQuery: a ";" that opens the query still decides
// rest_route when the host splits on it (arg_separator.input), so it is
// refused like one in the middle.
func TestSemicolonFirstInTheQuery(t *testing.T) {
	for _, target := range []string{"/wp-json/wp/v2/posts?;rest_route=/wp/v2/users", "/wp-json/wp/v2/posts?;_method=DELETE"} {
		if got, err := Resolve(Request{Method: "GET", Target: target}, "/wp-json"); !errors.Is(err, errSeparator) {
			t.Errorf("%s: %+v, %v; want errSeparator", target, got, err)
		}
	}
}

// TestSeparatorOnlyMattersWhenItChangesAVariable: with ";" in the query,
// rest_route and _method must read the same whether or not ";" separates;
// counting the ";"-split pieces against max_input_vars too.
func TestSeparatorOnlyMattersWhenItChangesAVariable(t *testing.T) {
	posts := rest("/wp/v2/posts", "GET")
	for _, tc := range []struct {
		name, query string
		want        Route
		err         error
	}{
		{"same route either way", "x=1;y=2&rest_route=/wp/v2/posts", posts, nil},
		{"route swallows the rest", "rest_route=/wp/v2/posts;rest_route=/wp/v2/users", Route{}, errSeparator},
		{"route only after a semicolon", "x=1;rest_route=/wp/v2/users", Route{}, errSeparator},
		{"method differs", "_method=GET;_method=DELETE", Route{}, errSeparator},
		{"same method either way", "x=1;y=2&_method=GET", posts, nil},
		{"route array either way", "rest_route[]=/a;x=1&rest_route[]=/b", Route{}, errRouteArray},
		{"max_input_vars pieces split on semicolons", strings.Repeat("a=1;", maxInputVars-1) + "a=1", posts, nil},
		{"one piece more split on semicolons", strings.Repeat("a=1;", maxInputVars) + "a=1", Route{}, errTooManyVars},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Resolve(Request{Method: "GET", Target: "/wp-json/wp/v2/posts?" + tc.query}, "/wp-json")
			if !errors.Is(err, tc.err) || (tc.err == nil && got != tc.want) {
				t.Fatalf("got %+v, %v; want %+v, %v", got, err, tc.want, tc.err)
			}
		})
	}
}

// TestUncertainFormBody: a Content-Type that PHP does not read as a form
// but a lenient reader would (a second value after a comma) makes the body
// a possible $_POST: it must not carry rest_route in any spelling, nor more
// than max_input_vars variables.
func TestUncertainFormBody(t *testing.T) {
	const ctype = "text/plain, application/x-www-form-urlencoded"
	for _, tc := range []struct {
		name, ctype, body string
		err               error
	}{
		{"plain fields", ctype, "title=x&status=publish", nil},
		{"rest_route in a value", ctype, "title=rest_route", errFormUncertain},
		{"encoded rest_route name", ctype, "rest%5Froute=/wp/v2/users", errFormUncertain},
		{"max_input_vars fields", ctype, strings.Repeat("a=1&", maxInputVars-1) + "a=1", nil},
		{"one field more", ctype, strings.Repeat("a=1&", maxInputVars) + "a=1", errFormUncertain},
		{"form type after a leading comma", ",application/x-www-form-urlencoded", "rest_route=/wp/v2/users", errFormUncertain},
		{"rest?route at the start of the body", ctype, "rest-route=/wp/v2/users", errFormUncertain},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := Request{Method: "POST", Target: "/wp-json/wp/v2/posts", Headers: map[string]string{"content-type": tc.ctype}, Body: []byte(tc.body), BodyComplete: true}
			got, err := Resolve(req, "/wp-json")
			if !errors.Is(err, tc.err) || (tc.err == nil && got != rest("/wp/v2/posts", "POST")) {
				t.Fatalf("got %+v, %v; want %v", got, err, tc.err)
			}
		})
	}
}

// TestFormBodyLimits: a urlencoded POST body is $_POST up to max_input_vars
// fields, and its rest_route is trusted up to maxFormRouteBody bytes (PHP
// may drop a larger body, post_max_size being unknown).
func TestFormBodyLimits(t *testing.T) {
	const form = "application/x-www-form-urlencoded"
	route := "rest_route=/wp/v2/users&pad="
	atLimit := route + strings.Repeat("p", maxFormRouteBody-len(route))
	for _, tc := range []struct {
		name, body string
		want       Route
		err        error
	}{
		{"max_input_vars fields", strings.Repeat("a=1&", maxInputVars-1) + "a=1", rest("/wp/v2/posts", "POST"), nil},
		{"one field more", strings.Repeat("a=1&", maxInputVars) + "a=1", Route{}, errTooManyVars},
		{"rest_route in a body of maxFormRouteBody bytes", atLimit, rest("/wp/v2/users", "POST"), nil},
		{"rest_route in a body one byte longer", atLimit + "p", Route{}, errBodyTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := Request{Method: "POST", Target: "/wp-json/wp/v2/posts", Headers: map[string]string{"content-type": form}, Body: []byte(tc.body), BodyComplete: true}
			got, err := Resolve(req, "/wp-json")
			if !errors.Is(err, tc.err) || (tc.err == nil && got != tc.want) {
				t.Fatalf("got %+v, %v; want %+v, %v", got, err, tc.want, tc.err)
			}
		})
	}
}

// TestBodyWordsNearRestRoute: only "rest", one byte, "route" counts as a
// possible rest_route in a body; a word starting with "rest", or "rest" as
// the body's last bytes, does not.
func TestBodyWordsNearRestRoute(t *testing.T) {
	for _, body := range []string{multipartBody("restaurant", "x"), multipartBody("title", "rest")} {
		req := Request{Method: "POST", Target: "/wp-json/wp/v2/media", Headers: map[string]string{"content-type": multipart}, Body: []byte(body), BodyComplete: true}
		if got, err := Resolve(req, "/wp-json"); err != nil || got != rest("/wp/v2/media", "POST") {
			t.Errorf("multipart %q: %+v, %v", body, got, err)
		}
	}
	req := Request{Method: "POST", Target: "/wp-json/wp/v2/posts", Headers: map[string]string{"content-type": "application/x-www-form-urlencoded"}, Body: []byte("title=interest"), BodyComplete: true}
	if got, err := Resolve(req, "/wp-json"); err != nil || got != rest("/wp/v2/posts", "POST") {
		t.Errorf("form ending in \"rest\": %+v, %v", got, err)
	}
}

// TestOverrideHeaderAmongOthers: X-HTTP-Method-Override is found in any
// spelling PHP maps to HTTP_X_HTTP_METHOD_OVERRIDE, wherever map iteration
// puts it among the other headers (repeated to visit several orders), and
// no other header of the same length is taken for it.
func TestOverrideHeaderAmongOthers(t *testing.T) {
	for _, name := range []string{"x-http-method-override", "X_HTTP_METHOD_OVERRIDE", "X-Http-Method_Override"} {
		h := map[string]string{
			"host": "example.com", "accept": "application/json", "user-agent": "ua", "content-length": "0",
			"authorization": "Bearer x", "x-forwarded-for": "192.0.2.1", "cookie": "a=b", "x-request-id": "1",
			"x-forwarded-client-crt": "By=spiffe://x", // as long as the override header's name
			name:                     " DELETE\t",
		}
		for range 20 {
			got, err := Resolve(Request{Method: "POST", Target: "/wp-json/wp/v2/posts/1", Headers: h}, "/wp-json")
			if err != nil || got != rest("/wp/v2/posts/1", "DELETE") {
				t.Fatalf("%s: %+v, %v; want DELETE", name, got, err)
			}
		}
	}
}

// TestRouteNewlineBeforeTrailingSlash: untrailingslashit() strips the final
// "/" first, then "$" absorbs the "\n" now last: rest_route
// "/wp/v2/users\n/" is /wp/v2/users.
func TestRouteNewlineBeforeTrailingSlash(t *testing.T) {
	got, err := Resolve(Request{Method: "GET", Target: "/?rest_route=/wp/v2/users%0A/"}, "/wp-json")
	if err != nil || got != rest("/wp/v2/users", "GET") {
		t.Fatalf("got %+v, %v; want /wp/v2/users", got, err)
	}
}

// TestLooksRESTIgnoresTrailingSpace: a segment that is the REST prefix
// followed by an encoded space (or tab) is not a route WordPress resolves,
// but a server trimming it would make it one: refused, not served as a page.
func TestLooksRESTIgnoresTrailingSpace(t *testing.T) {
	for _, target := range []string{"/wp-json%20/wp/v2/users", "/wp-json%09/wp/v2/users", "/blog/WP-JSON%20"} {
		if got, err := Resolve(Request{Method: "GET", Target: target}, "/wp-json"); !errors.Is(err, errLooksREST) {
			t.Errorf("%s: %+v, %v; want errLooksREST", target, got, err)
		}
	}
}

// TestLooksRESTDecodesThreeTimes: the REST prefix hidden under three layers
// of percent-encoding is still seen (and refused); under four, the path is
// left to WordPress, which serves no REST route there either.
func TestLooksRESTDecodesThreeTimes(t *testing.T) {
	three := "/wp%25252Djson/wp/v2/users" // "-" encoded three times
	if got, err := Resolve(Request{Method: "GET", Target: three}, "/wp-json"); !errors.Is(err, errLooksREST) {
		t.Errorf("%s: %+v, %v; want errLooksREST", three, got, err)
	}
	four := "/wp%2525252Djson/wp/v2/users"
	if got, err := Resolve(Request{Method: "GET", Target: four}, "/wp-json"); err != nil || got != notREST("GET") {
		t.Errorf("%s: %+v, %v; want a page (not REST)", four, got, err)
	}
}
