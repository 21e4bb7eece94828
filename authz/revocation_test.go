package authz_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wpauthz/wpauthz/authz"
	"github.com/wpauthz/wpauthz/authz/jwtauth"
	"github.com/wpauthz/wpauthz/authz/store"
)

// staleStore is a memory store whose local revocation view can be made
// stale, as redisstore's is once it has lost Redis for too long.
type staleStore struct {
	*store.Memory
	stale atomic.Bool
}

func (s *staleStore) Stale() bool { return s.stale.Load() }

// engineOn is the fixture's snapshot served by an engine on st.
func (f *fixture) engineOn(st store.Store) *authz.Engine {
	e := authz.New(authz.Options{Now: func() time.Time { return now }, Store: st})
	e.Swap(f.engine.Snapshot())
	return e
}

func checkWith(e *authz.Engine, r req) *authz.Decision {
	h := map[string]string{}
	for k, v := range r.headers {
		h[strings.ToLower(k)] = v
	}
	return e.Check(context.Background(), &authz.Request{Method: r.method, Host: "localhost", Target: r.target, Headers: h})
}

// TestStaleRevocationViewFailsClosed: while the store says its local
// revocation view is stale, a valid bearer token is refused with 503
// (a revocation may have been missed), and accepted again once it is not.
func TestStaleRevocationViewFailsClosed(t *testing.T) {
	f := newFixture(t)
	st := &staleStore{Memory: store.NewMemory(func() time.Time { return now })}
	e := f.engineOn(st)
	r := req{method: "POST", target: "/wp-json/wp/v2/posts", headers: map[string]string{"authorization": "Bearer " + f.token(t, 2, "editor")}}
	if d := checkWith(e, r); !d.Allowed {
		t.Fatalf("fresh view: %d %s", d.Status, d.Code)
	}
	st.stale.Store(true)
	if d := checkWith(e, r); d.Allowed || d.Status != 503 || d.Code != "wpauthz_unavailable" {
		t.Fatalf("stale view: allowed=%v %d %q, want 503 wpauthz_unavailable", d.Allowed, d.Status, d.Code)
	}
	st.stale.Store(false)
	if d := checkWith(e, r); !d.Allowed {
		t.Fatalf("fresh again: %d %s", d.Status, d.Code)
	}
}

// TestRevokeAllKillsTokenIssuedSameSecond: "iat" has one-second
// resolution, so revoking every token of a user at T kills a token
// issued in T's second too (and earlier ones), not one issued a second
// later. A token without iat is refused once a watermark exists (and
// only then).
func TestRevokeAllKillsTokenIssuedSameSecond(t *testing.T) {
	f := newFixture(t)
	mint := func(iat time.Time) string {
		t.Helper()
		tok, err := f.local.JWT.Mint(jwtauth.Claims{Subject: "2", UserID: 2, Login: "jane", Roles: []string{"editor"}}, time.Hour, iat)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	wm := now.Add(-10 * time.Minute).Truncate(time.Second)
	sameSecond, before, after := mint(wm), mint(wm.Add(-time.Second)), mint(wm.Add(time.Second))
	noIat := signES256(t, f.es256, map[string]any{"alg": "ES256", "typ": "JWT", "kid": "k1"}, claims(map[string]any{"sub": "2", "roles": []string{"editor"}, "iat": nil}))
	if d := checkWith(f.engineOn(store.NewMemory(func() time.Time { return now })), req{method: "POST", target: "/wp-json/wp/v2/posts", headers: bearer(noIat)}); !d.Allowed {
		t.Fatalf("token without iat and no revoke-all refused: %d %q", d.Status, d.Reason)
	}
	// The revoke-all at the very start of the token's second, and within it.
	for _, at := range []time.Time{wm, wm.Add(500 * time.Millisecond)} {
		st := store.NewMemory(func() time.Time { return now })
		e := f.engineOn(st)
		if err := st.RevokeSubject(context.Background(), f.local.SubjectKey("2"), at, time.Hour); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			name    string
			tok     string
			revoked bool
		}{{"in the same second as", sameSecond, true}, {"a second before", before, true}, {"a second after", after, false}, {"without iat after", noIat, true}} {
			d := checkWith(e, req{method: "POST", target: "/wp-json/wp/v2/posts", headers: bearer(c.tok)})
			if c.revoked && (d.Allowed || d.Status != 401 || d.Reason != "revoked bearer token") {
				t.Errorf("revoke-all at %s, token issued %s it: allowed=%v %d %q, want 401 revoked", at.Format(time.StampMilli), c.name, d.Allowed, d.Status, d.Reason)
			}
			if !c.revoked && !d.Allowed {
				t.Errorf("revoke-all at %s, token issued %s it refused: %d %q", at.Format(time.StampMilli), c.name, d.Status, d.Reason)
			}
		}
	}
}

// TestRevokedJTIRefusedByEngine: a token whose jti is revoked is refused
// with 401 and the revocation challenge; the same user's other tokens
// still work.
func TestRevokedJTIRefusedByEngine(t *testing.T) {
	f := newFixture(t)
	st := store.NewMemory(func() time.Time { return now })
	e := f.engineOn(st)
	issue := func() (string, *jwtauth.Claims) {
		t.Helper()
		tok, c, err := f.local.JWT.Issue(jwtauth.Claims{Subject: "2", UserID: 2, Login: "jane", Roles: []string{"editor"}}, 15*time.Minute, now)
		if err != nil {
			t.Fatal(err)
		}
		return tok, c
	}
	revoked, c := issue()
	other, _ := issue()
	if err := st.RevokeToken(context.Background(), c.TokenID, c.ExpiresAt); err != nil {
		t.Fatal(err)
	}
	d := checkWith(e, req{method: "GET", target: "/wp-json/wp/v2/posts", headers: bearer(revoked)})
	if d.Allowed || d.Status != 401 || d.Code != "wpauthz_invalid_token" || !hasHeader(d.ResponseHeaders, "WWW-Authenticate", "revoked") {
		t.Fatalf("revoked jti: allowed=%v %d %q %v, want 401 wpauthz_invalid_token with the revocation challenge", d.Allowed, d.Status, d.Code, d.ResponseHeaders)
	}
	if d := checkWith(e, req{method: "GET", target: "/wp-json/wp/v2/posts", headers: bearer(other)}); !d.Allowed {
		t.Fatalf("another token of the same user refused: %d %q", d.Status, d.Reason)
	}
}
