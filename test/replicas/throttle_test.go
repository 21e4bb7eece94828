package replicas

import (
	"net/url"
	"testing"

	"github.com/wpauthz/wpauthz/test/burst"
	"github.com/wpauthz/wpauthz/test/redistest"
	"github.com/wpauthz/wpauthz/test/testbin"
)

// TestHardening2_ConcurrentLoginsAcrossReplicas: 60 simultaneous logins
// for sam, half to each of two replicas sharing one Redis, one with his
// password. The sample policy allows 5 failures per user: exactly 5 wrong
// passwords are evaluated in all, the rest are refused with 429, and once
// the burst is over his password is refused on both replicas.
func TestHardening2_ConcurrentLoginsAcrossReplicas(t *testing.T) {
	srv := redistest.Start(t)
	dir := testbin.Samples(t)
	replicas := []*replica{start(t, "A", dir, srv.URL), start(t, "B", dir, srv.URL)}
	const n, limit = 60, 5
	statuses := burst.Send(n, func(i int, correct bool) int {
		pass := burst.Password(i, correct, "sam-demo-password")
		st, _ := replicas[i%2].post(t, "/wp-json/api/v1/token", url.Values{"username": {"sam"}, "password": {pass}}, "")
		return st
	})
	burst.Check(t, "two replicas on one Redis", statuses, limit, n)
	burst.SpendRest(t, statuses, limit, func() int {
		st, _ := replicas[0].post(t, "/wp-json/api/v1/token", url.Values{"username": {"sam"}, "password": {"wrong-after"}}, "")
		return st
	})
	for _, r := range replicas {
		if st, out := r.post(t, "/wp-json/api/v1/token", url.Values{"username": {"sam"}, "password": {"sam-demo-password"}}, ""); st != 429 {
			t.Fatalf("%s: sam's password after the burst: %d %v, want 429", r.name, st, out)
		}
	}
}
