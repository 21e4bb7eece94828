package tokenflow

import (
	"testing"

	"github.com/wpauthz/wpauthz/test/burst"
)

// TestHardening2_ConcurrentLoginsThrottled: 60 simultaneous logins for
// one user from one address, one of them with the right password. With
// limits of 5 per user and 20 per address, exactly 5 are evaluated; once
// they are spent, the right password is refused too.
func TestHardening2_ConcurrentLoginsThrottled(t *testing.T) {
	const n = 60
	e := newEnv(t, nil)
	statuses := burst.Send(n, func(i int, correct bool) int {
		pass := burst.Password(i, correct, janePassword)
		return request(t, e.srv.URL, "localhost", "POST", "/wp-json/api/v1/token", formType, form("username", "jane", "password", pass), nil).status
	})
	burst.Check(t, "token endpoint", statuses, 5, n)
	burst.SpendRest(t, statuses, 5, func() int { return e.login("jane", "wrong-after").status })
	expect(t, "the right password after the burst", e.login("jane", janePassword), 429, "wpauthz_too_many_attempts")
}

// TestHardening2_ConcurrentBasicThrottled: the same burst as Basic
// credentials on the check path.
func TestHardening2_ConcurrentBasicThrottled(t *testing.T) {
	const n = 60
	e := newEnv(t, nil)
	const client = "198.51.100.60"
	statuses := burst.Send(n, func(i int, correct bool) int {
		h := basic("jane", burst.Password(i, correct, janePassword))
		h["X-Forwarded-For"] = client
		return request(t, e.srv.URL, "localhost", "POST", "/check/wp-json/wp/v2/posts", "", "", h).status
	})
	burst.Check(t, "basic", statuses, 5, n)
	burst.SpendRest(t, statuses, 5, func() int {
		h := basic("jane", "wrong-after")
		h["X-Forwarded-For"] = client
		return e.check("POST", "/wp-json/wp/v2/posts", h).status
	})
	h := basic("jane", janePassword)
	h["X-Forwarded-For"] = client
	expect(t, "the right password after the burst", e.check("POST", "/wp-json/wp/v2/posts", h), 429, "wpauthz_too_many_attempts")
}
