package authz_test

import (
	"context"
	"testing"

	"github.com/wpauthz/wpauthz/authz"
)

// TestHardening8_HostsThatCannotBeMatchedExactly: a host the proxy may
// route differently from wpauthz (a trailing dot, userinfo, a port that is
// not a number, several colons, characters outside a host name, none at
// all) is refused with 400 wpauthz_invalid_host before any policy is
// chosen, also when unknown hosts are allowed through. The same names
// spelled plainly are judged as usual.
func TestHardening8_HostsThatCannotBeMatchedExactly(t *testing.T) {
	f := newFixture(t)
	open := authz.New(authz.Options{AllowUnknownHosts: true})
	open.Swap(f.engine.Snapshot())
	for _, host := range []string{"LocalHost:8080", "localhost", "a.b.shop.test"} {
		if d := f.check(req{method: "GET", target: "/wp-json/wp/v2/posts", host: host}); !d.Allowed {
			t.Fatalf("control host %q refused: %d %s", host, d.Status, d.Code)
		}
	}
	for _, host := range []string{
		"localhost.", "LOCALHOST.:8080", "a.b.shop.test.", "localhost..",
		"localhost:x@evil.test", "user@localhost", "localhost:8080:80", "localhost:http", "localhost:",
		"local_host", "localhost/", "localhost ", "localhost,evil.test", "[::1", "[0:0::1]", "::1",
	} {
		for name, check := range map[string]func(*authz.Request) *authz.Decision{
			"engine":                        func(r *authz.Request) *authz.Decision { return f.engine.Check(context.Background(), r) },
			"engine allowing unknown hosts": func(r *authz.Request) *authz.Decision { return open.Check(context.Background(), r) },
		} {
			d := check(&authz.Request{Method: "GET", Host: host, Target: "/wp-json/wp/v2/posts", Headers: map[string]string{}})
			if d.Allowed || d.Status != 400 || d.Code != "wpauthz_invalid_host" {
				t.Errorf("%s, host %q: allowed=%v %d %q, want 400 wpauthz_invalid_host", name, host, d.Allowed, d.Status, d.Code)
			}
		}
	}
	// No host at all is refused the same way (HTTP/1.0 without Host).
	if d := f.engine.Check(context.Background(), &authz.Request{Method: "GET", Target: "/wp-json/wp/v2/posts", Headers: map[string]string{}}); d.Status != 400 || d.Code != "wpauthz_invalid_host" {
		t.Errorf("empty host: %d %q", d.Status, d.Code)
	}
}
