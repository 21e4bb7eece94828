package replicas

import (
	"fmt"
	"net/url"
	"sync"
	"testing"

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
	var mu sync.Mutex
	statuses := map[int]int{}
	var wg sync.WaitGroup
	release := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pass := fmt.Sprintf("wrong-%d", i)
			if i == n-1 {
				pass = "sam-demo-password"
			}
			<-release
			st, _ := replicas[i%2].post(t, "/wp-json/api/v1/token", url.Values{"username": {"sam"}, "password": {pass}}, "")
			mu.Lock()
			statuses[st]++
			mu.Unlock()
		}()
	}
	close(release)
	wg.Wait()
	// At most limit wrong passwords; the right one, when it came early,
	// takes one of the slots (and gives it back).
	wrong, right := statuses[401], statuses[200]
	if right > 1 || wrong > limit || wrong+right < limit || statuses[429] != n-wrong-right {
		t.Fatalf("%d of %d parallel logins on two replicas were evaluated (statuses %v), want %d (the right password may take one of them) and the rest refused with 429",
			wrong+right, n, statuses, limit)
	}
	for _, r := range replicas {
		if st, out := r.post(t, "/wp-json/api/v1/token", url.Values{"username": {"sam"}, "password": {"sam-demo-password"}}, ""); st != 429 {
			t.Fatalf("%s: sam's password after the burst: %d %v, want 429", r.name, st, out)
		}
	}
}
