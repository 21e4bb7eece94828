package tokenflow

import (
	"runtime"
	"testing"
)

// TestHardening6_RefreshStateBoundedPerUser: one valid user logs in 20,000
// times through the token endpoint. Before the fix every login kept its
// refresh family for refreshTokenTTL (720h): 20,000 families, about 18 MB.
// Now the user keeps at most the policy's cap of live families (the
// oldest are revoked, with their access tokens), and the heap retained
// stays bounded.
func TestHardening6_RefreshStateBoundedPerUser(t *testing.T) {
	e := newEnv(t, nil)
	const logins = 20000
	heap := func() uint64 {
		runtime.GC()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	first, _ := e.mustLogin("jane", janePassword) // warms the credential cache
	before := heap()
	var last string
	for range logins - 1 {
		_, last = e.mustLogin("jane", janePassword)
	}
	after := heap()
	st := e.store.Stats()
	t.Logf("after %d logins: %+v, heap %d -> %d bytes (+%d)", logins, st, before, after, int64(after)-int64(before))
	const limit = 50 // the default cap
	if st.Families > limit || st.RefreshRecords > limit {
		t.Errorf("retained %d families and %d refresh records, want at most %d each", st.Families, st.RefreshRecords, limit)
	}
	// The revocations of the evicted logins' access tokens are kept until
	// those tokens expire (accessTokenTTL): about 100 bytes each. 8 MB is
	// a generous bound for 20,000 of them and the families; the unbounded
	// store grew by about 18 MB.
	if grown := int64(after) - int64(before); grown > 8<<20 {
		t.Errorf("heap grew by %d bytes over %d logins", grown, logins)
	}
	// The newest login works; the first one was revoked, with its access token.
	expect(t, "refresh the newest login", e.do("POST", "/wp-json/api/v1/token/refresh", formType, form("refresh_token", last), nil), 200, "")
	expect(t, "the first login's access token", e.check("GET", "/wp-json/wp/v2/users/me", bearer(first)), 401, "")
}
