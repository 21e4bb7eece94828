package authz_test

import (
	"context"
	"testing"

	"github.com/wpauthz/wpauthz/authz"
)

// TestAnonymousDecisionsAreShared: anonymous requests of one policy that
// carry no odd spelling of a credential header get one shared decision
// (no allocation per request); one with an odd spelling gets its own,
// which removes that spelling too.
func TestAnonymousDecisionsAreShared(t *testing.T) {
	f := newFixture(t)
	anon := func(h map[string]string) *authz.Decision {
		return f.engine.Check(context.Background(), &authz.Request{Method: "GET", Host: "localhost", Target: "/wp-json/wp/v2/posts", Headers: h})
	}
	plain := map[string]string{"accept": "application/json", "user-agent": "test"}
	first, second := anon(plain), anon(map[string]string{"accept": "*/*"})
	if !first.Allowed || first != second {
		t.Fatalf("anonymous decisions not shared: %p %p (allowed %v)", first, second, first.Allowed)
	}
	odd := anon(map[string]string{"accept": "*/*", "x_api_key": "stolen"})
	if odd == first || !contains(odd.UpstreamRemove, "x_api_key") {
		t.Fatalf("odd spelling: shared %v, removes %v", odd == first, odd.UpstreamRemove)
	}
	if again := anon(plain); again != first {
		t.Fatal("an odd spelling replaced the shared decision")
	}
}

// TestReadyOnlyAfterSwap: an engine is ready once it has a snapshot.
func TestReadyOnlyAfterSwap(t *testing.T) {
	f := newFixture(t)
	e := authz.New(authz.Options{})
	if e.Ready() {
		t.Fatal("ready without a snapshot")
	}
	e.Swap(f.engine.Snapshot())
	if !e.Ready() {
		t.Fatal("not ready after Swap")
	}
}
