package tokenflow

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wpauthz/wpauthz/authz/store"
	"github.com/wpauthz/wpauthz/authz/store/redisstore"
)

// downStore is a Memory whose calls fail with err while down is set, and
// whose revocation view is stale while stale is set (as redisstore's is
// past --redis-max-staleness).
type downStore struct {
	store.Store
	err         error
	down, stale atomic.Bool
}

func (d *downStore) fail() error {
	if d.down.Load() {
		return d.err
	}
	return nil
}

func (d *downStore) Stale() bool { return d.stale.Load() }

func (d *downStore) RevokeToken(ctx context.Context, jti string, exp time.Time) error {
	if err := d.fail(); err != nil {
		return err
	}
	return d.Store.RevokeToken(ctx, jti, exp)
}

func (d *downStore) RevokeSubject(ctx context.Context, subject string, before time.Time, keep time.Duration) error {
	if err := d.fail(); err != nil {
		return err
	}
	return d.Store.RevokeSubject(ctx, subject, before, keep)
}

func (d *downStore) CreateRefresh(ctx context.Context, rec store.RefreshRecord, maxPerUser int) error {
	if err := d.fail(); err != nil {
		return err
	}
	return d.Store.CreateRefresh(ctx, rec, maxPerUser)
}

func (d *downStore) RotateRefresh(ctx context.Context, id string, next store.RefreshRecord, now time.Time) (store.RefreshRecord, error) {
	if err := d.fail(); err != nil {
		return store.RefreshRecord{}, err
	}
	return d.Store.RotateRefresh(ctx, id, next, now)
}

func (d *downStore) GetRefresh(ctx context.Context, id string, now time.Time) (store.RefreshRecord, error) {
	if err := d.fail(); err != nil {
		return store.RefreshRecord{}, err
	}
	return d.Store.GetRefresh(ctx, id, now)
}

func (d *downStore) RevokeFamily(ctx context.Context, family string, now time.Time) error {
	if err := d.fail(); err != nil {
		return err
	}
	return d.Store.RevokeFamily(ctx, family, now)
}

func (d *downStore) Attempt(ctx context.Context, key string, limit store.Limit, now time.Time) (time.Duration, error) {
	if err := d.fail(); err != nil {
		return 0, err
	}
	return d.Store.Attempt(ctx, key, limit, now)
}

func (d *downStore) Release(ctx context.Context, key string, limit store.Limit, now time.Time) error {
	if err := d.fail(); err != nil {
		return err
	}
	return d.Store.Release(ctx, key, limit, now)
}

func (d *downStore) Throttled(ctx context.Context, key string, now time.Time) (time.Duration, error) {
	if err := d.fail(); err != nil {
		return 0, err
	}
	return d.Store.Throttled(ctx, key, now)
}

// TestStoreDownIsNeverInvalid: while the token store fails (with the
// Redis store's ErrUnavailable, or any error that is not one of the
// store's "not live" answers), login, refresh, revoke and Basic answer
// 503 wpauthz_unavailable with Retry-After, never "invalid"; validate and
// bearer checks answer from the local view while it is fresh, and 503
// once it is stale; the session refused meanwhile still refreshes after.
func TestStoreDownIsNeverInvalid(t *testing.T) {
	for _, storeErr := range []error{
		fmt.Errorf("%w: read tcp 127.0.0.1:6379: i/o timeout", redisstore.ErrUnavailable),
		errors.New("some failure the store did not classify"),
	} {
		t.Run(storeErr.Error(), func(t *testing.T) {
			ds := &downStore{err: storeErr}
			e := newEnvOn(t, nil, func(now func() time.Time) store.Store { ds.Store = store.NewMemory(now); return ds })
			access, refresh := e.mustLogin("jane", janePassword)
			apiKey := map[string]string{"X-API-Key": "wpk_Q811t7tzsgHtvGO40sKeR67JUcNioR7Z_0ZD4R5"}
			ds.down.Store(true)

			unavailable := func(what string, r resp) {
				t.Helper()
				if r.status != 503 || r.code() != "wpauthz_unavailable" {
					t.Errorf("%s: %d %s, want 503 wpauthz_unavailable", what, r.status, r.body)
				}
				if n, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || n < 1 {
					t.Errorf("%s: Retry-After %q", what, r.header.Get("Retry-After"))
				}
			}
			unavailable("login", e.login("jane", janePassword))
			unavailable("login (jwt-auth)", e.do("POST", "/wp-json/jwt-auth/v1/token", formType, form("username", "jane", "password", janePassword), nil))
			unavailable("refresh", e.do("POST", "/wp-json/api/v1/token/refresh", formType, form("refresh_token", refresh), nil))
			unavailable("revoke access token", e.do("POST", "/wp-json/api/v1/token/revoke", formType, form("token", access), nil))
			unavailable("revoke refresh token", e.do("POST", "/wp-json/api/v1/token/revoke", formType, form("token", refresh), nil))
			unavailable("revoke all", e.do("POST", "/wp-json/api/v1/token/revoke", formType, form("all", "true"), bearer(access)))
			unavailable("Basic", e.check("POST", "/wp-json/wp/v2/posts", basic("jane", janePassword)))
			expect(t, "validate, fresh view", e.do("GET", "/wp-json/api/v1/token/validate", "", "", bearer(access)), 200, "")
			expect(t, "bearer check, fresh view", e.check("POST", "/wp-json/wp/v2/posts", bearer(access)), 200, "")
			expect(t, "API key check", e.check("GET", "/wp-json/wc/v3/orders", apiKey), 200, "")

			ds.stale.Store(true)
			unavailable("validate, stale view", e.do("GET", "/wp-json/api/v1/token/validate", "", "", bearer(access)))
			unavailable("validate (jwt-auth), stale view", e.do("POST", "/wp-json/jwt-auth/v1/token/validate", "", "", bearer(access)))
			unavailable("bearer check, stale view", e.check("POST", "/wp-json/wp/v2/posts", bearer(access)))
			expect(t, "API key check, stale view", e.check("GET", "/wp-json/wc/v3/orders", apiKey), 200, "")

			ds.down.Store(false)
			ds.stale.Store(false)
			expect(t, "the same refresh token, store back", e.do("POST", "/wp-json/api/v1/token/refresh", formType, form("refresh_token", refresh), nil), 200, "")
			expect(t, "the access token, store back", e.check("POST", "/wp-json/wp/v2/posts", bearer(access)), 200, "")
		})
	}
}
