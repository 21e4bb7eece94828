package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"sync"
	"time"
)

// churn logs in, refreshes and revokes, one cycle at a time: a login on
// a random replica, a refresh of it on the other, and the retirement of
// the user's oldest login — its first access token revoked on A (single
// token), then the whole family revoked on A by its refresh token — each
// revocation verified refused on B (and on A) before the token joins the
// revoked set the checks present.
type churn struct {
	a, b     *replica
	pool     *tokenPool
	throttle map[user]chan struct{}
	fail     *failures

	mu                         sync.Mutex
	logins, refreshes, revokes int
	propagationB, propagationA []time.Duration
}

// keepFamilies is how many logins of each user the pool keeps live,
// well under the policy's maxLoginsPerUser (50): no login is revoked by
// the cap behind the churn's back.
var keepFamilies = map[user]int{jane: 6, sam: 2}

var passwords = map[user]string{jane: janePassword, sam: samPassword}

// propagationDeadline bounds how long a revocation on A may take to be
// refused on B (the README promises well under a second).
const propagationDeadline = 5 * time.Second

func (c *churn) run(ctx context.Context, every time.Duration) {
	r := rand.New(rand.NewPCG(1, uint64(time.Now().UnixNano())))
	for i := 0; ctx.Err() == nil; i++ {
		u := jane
		if i%10 == 9 {
			u = sam // bcrypt: a slower login, less often
		}
		if err := c.cycle(ctx, r, u); err != nil && ctx.Err() == nil {
			c.fail.add("churn: %v", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(every):
		}
	}
}

func (c *churn) cycle(ctx context.Context, r *rand.Rand, u user) error {
	if r == nil {
		r = rand.New(rand.NewPCG(2, uint64(time.Now().UnixNano())))
	}
	x, y := c.a, c.b
	if r.IntN(2) == 0 {
		x, y = y, x
	}
	// The login takes a slot of u's login throttle: under the same
	// semaphore as the Basic checks, so none of them is refused with 429.
	select {
	case c.throttle[u] <- struct{}{}:
	case <-ctx.Done():
		return nil
	}
	st, out, err := x.post(ctx, "/wp-json/api/v1/token", url.Values{"username": {string(u)}, "password": {passwords[u]}}, "")
	<-c.throttle[u]
	if err != nil || st != 200 {
		return fmt.Errorf("login %s on %s: %d %v %v", u, x.name, st, out, err)
	}
	access1, _ := out["access_token"].(string)
	refresh1, _ := out["refresh_token"].(string)
	c.count(&c.logins)

	st, out, err = y.post(ctx, "/wp-json/api/v1/token/refresh", url.Values{"refresh_token": {refresh1}}, "")
	if err != nil || st != 200 {
		return fmt.Errorf("refresh %s on %s: %d %v %v", u, y.name, st, out, err)
	}
	access2, _ := out["access_token"].(string)
	refresh2, _ := out["refresh_token"].(string)
	c.count(&c.refreshes)
	if access1 == "" || access2 == "" || refresh2 == "" {
		return fmt.Errorf("token answer without tokens: %v", out)
	}
	c.pool.add(&family{user: u, access: []*poolToken{{value: access1, user: u}, {value: access2, user: u}}, refresh: refresh2})

	old := c.pool.retireOldest(u, keepFamilies[u])
	if old == nil {
		return nil
	}
	// One access token alone, by bearer...
	if err := c.revoke(ctx, url.Values{}, old.access[0]); err != nil {
		return err
	}
	// ...then the family (the other access token with it) by its
	// refresh token.
	return c.revoke(ctx, url.Values{"token": {old.refresh}}, old.access[1])
}

// revoke sends a revocation to A (by bearer when form has no token) and
// waits until both replicas refuse dead.
func (c *churn) revoke(ctx context.Context, form url.Values, dead *poolToken) error {
	bearer := ""
	if form.Get("token") == "" {
		bearer = dead.value
	}
	sent := time.Now()
	st, out, err := c.a.post(ctx, "/wp-json/api/v1/token/revoke", form, bearer)
	if err != nil || st != 200 {
		return fmt.Errorf("revoke on A: %d %v %v", st, out, err)
	}
	c.count(&c.revokes)
	for _, rep := range []*replica{c.b, c.a} {
		d, err := c.refusedWithin(ctx, rep, dead.value, sent)
		if err != nil {
			return err
		}
		c.mu.Lock()
		if rep == c.b {
			c.propagationB = append(c.propagationB, d)
		} else {
			c.propagationA = append(c.propagationA, d)
		}
		c.mu.Unlock()
	}
	c.pool.markRevoked(dead)
	return nil
}

// refusedWithin polls rep until it refuses tok with 401, and returns how
// long after sent that was.
func (c *churn) refusedWithin(ctx context.Context, rep *replica, tok string, sent time.Time) (time.Duration, error) {
	for {
		got, err := rep.checkHTTP(ctx, "POST", "/wp-json/wp/v2/posts", map[string]string{"Authorization": "Bearer " + tok})
		if err != nil {
			return 0, fmt.Errorf("check of a revoked token on %s: %v", rep.name, err)
		}
		if got.status == 401 {
			return time.Since(sent), nil
		}
		if time.Since(sent) > propagationDeadline {
			return 0, fmt.Errorf("revoked on A, still answered %d on %s after %v", got.status, rep.name, propagationDeadline)
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
}

func (c *churn) count(n *int) {
	c.mu.Lock()
	*n++
	c.mu.Unlock()
}
