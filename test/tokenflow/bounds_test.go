package tokenflow

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wpauthz/wpauthz/authz/policy"
	"github.com/wpauthz/wpauthz/authz/store"
	"github.com/wpauthz/wpauthz/authz/store/redisstore"
	"github.com/wpauthz/wpauthz/test/redistest"
)

// TestHardening6_RefreshStateBoundedPerUser: one valid user logs in 20,000
// times through the token endpoint. Before the fix every login kept its
// refresh family for refreshTokenTTL (720h): 20,000 families, +10 MB of
// heap. Now the user keeps at most the policy's cap of families (the
// oldest are revoked, with their access tokens), in memory and in Redis.
func TestHardening6_RefreshStateBoundedPerUser(t *testing.T) {
	const logins = 20000
	limit := policy.DefaultMaxLoginsPerUser
	// loginMany logs in logins times and returns the first access token
	// and the last refresh token.
	loginMany := func(e *env) (string, string) {
		first, _ := e.mustLogin("jane", janePassword) // also warms the credential cache
		var last string
		for range logins - 1 {
			_, last = e.mustLogin("jane", janePassword)
		}
		return first, last
	}
	// works checks the newest login refreshes and the first one's access
	// token was revoked with its family.
	works := func(e *env, first, last string) {
		t.Helper()
		expect(t, "refresh the newest login", e.do("POST", "/wp-json/api/v1/token/refresh", formType, form("refresh_token", last), nil), 200, "")
		expect(t, "the first login's access token", e.check("GET", "/wp-json/wp/v2/users/me", bearer(first)), 401, "")
	}

	t.Run("Memory", func(t *testing.T) {
		e := newEnv(t, nil)
		mem := e.store.(*store.Memory)
		heap := func() uint64 {
			runtime.GC()
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			return ms.HeapAlloc
		}
		before := heap()
		first, last := loginMany(e)
		after := heap()
		st := mem.Stats()
		t.Logf("after %d logins: %+v, heap +%d bytes", logins, st, int64(after)-int64(before))
		if st.Families > limit || st.RefreshRecords > limit {
			t.Errorf("retained %d families and %d refresh records, want at most %d each", st.Families, st.RefreshRecords, limit)
		}
		// Beyond the cap only the revocations of the capped logins'
		// access tokens remain, until those expire (accessTokenTTL):
		// about 100 bytes each. 8 MB is a generous bound; the unbounded
		// store grew by 10 MB.
		if grown := int64(after) - int64(before); grown > 8<<20 {
			t.Errorf("heap grew by %d bytes over %d logins", grown, logins)
		}
		works(e, first, last)
		// Once those access tokens have expired, a sweep forgets them.
		e.clock.add(16 * time.Minute)
		e.mustLogin("jane", janePassword)
		settled := heap()
		st = mem.Stats()
		t.Logf("16 minutes later: %+v, heap +%d bytes", st, int64(settled)-int64(before))
		if st.RevokedTokens > limit || st.Families > limit {
			t.Errorf("after the access tokens expired: %+v", st)
		}
		if grown := int64(settled) - int64(before); grown > 1<<20 {
			t.Errorf("heap still %d bytes above the start once the revocations expired", grown)
		}
	})

	t.Run("Redis", func(t *testing.T) {
		srv := redistest.Start(t)
		var rs *redisstore.Store
		e := newEnvOn(t, nil, func(now func() time.Time) store.Store {
			rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
			// 20,000 logins at the per-user cap (five round trips
			// each): on a loaded test machine one may take longer than
			// the 200 ms request bound, which this test is not about.
			rs = redisstore.New(rdb, redisstore.Options{Now: now, CallTimeout: 5 * time.Second})
			t.Cleanup(func() { rs.Close(); rdb.Close() })
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := rs.WaitSynced(ctx); err != nil {
				t.Fatal(err)
			}
			return rs
		})
		first, last := loginMany(e)
		keys, err := rs.RefreshKeys(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("after %d logins: Redis holds %v", logins, keys)
		if keys["families"] > limit || keys["members"] > limit || keys["records"] > limit || keys["indexes"] > 2*limit || keys["users"] != 1 {
			t.Errorf("retained %v, want at most %d families, %d records and their indexes", keys, limit, limit)
		}
		works(e, first, last)
	})
}
