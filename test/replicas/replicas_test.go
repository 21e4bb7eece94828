// Package replicas runs several wpauthz binaries (standalone mode, the same
// config folder) sharing one real redis-server through --redis-url:
// revocations propagate, refresh rotation is raced across replicas, and
// Redis is killed and restarted under them.
package replicas

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wpauthz/wpauthz/test/freeport"
	"github.com/wpauthz/wpauthz/test/testbin"

	"github.com/wpauthz/wpauthz/test/redistest"
)

func freeAddr(t *testing.T) string { return freeport.Addr(t) }

type replica struct {
	name string
	base string
	logs *testbin.Log
}

func start(t *testing.T, name, dir, redisURL string, extra ...string) *replica {
	t.Helper()
	r := &replica{name: name, base: "http://" + freeAddr(t), logs: &testbin.Log{}}
	args := append([]string{"serve", "--config-dir", dir, "--grpc-addr", freeAddr(t), "--http-addr", strings.TrimPrefix(r.base, "http://"),
		"--redis-url", redisURL, "--log-level", "debug"}, extra...)
	cmd := exec.Command(testbin.Wpauthz(t), args...)
	cmd.Stdout, cmd.Stderr = r.logs, r.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
		if t.Failed() {
			t.Logf("%s log:\n%s", name, r.logs.String())
		}
	})
	if !eventually(20*time.Second, func() bool { return r.ready() == 200 }) {
		t.Fatalf("%s not ready:\n%s", name, r.logs.String())
	}
	return r
}

func eventually(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(time.Millisecond)
	}
	return true
}

func (r *replica) ready() int {
	resp, err := http.Get(r.base + "/readyz")
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

func (r *replica) post(t *testing.T, path string, form url.Values, bearer string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("POST", r.base+path, strings.NewReader(form.Encode()))
	req.Host = "localhost"
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return resp.StatusCode, out
}

// check is an HTTP forward-auth check of POST /wp-json/wp/v2/posts.
func (r *replica) check(t *testing.T, bearer string) int {
	t.Helper()
	req, _ := http.NewRequest("POST", r.base+"/check/wp-json/wp/v2/posts", nil)
	req.Host = "localhost"
	req.Header.Set("Authorization", "Bearer "+bearer)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func (r *replica) login(t *testing.T) (access, refresh string) {
	t.Helper()
	st, out := r.post(t, "/wp-json/api/v1/token", url.Values{"username": {"jane"}, "password": {"jane-demo-password"}}, "")
	if st != 200 {
		t.Fatalf("%s login: %d %v", r.name, st, out)
	}
	return out["access_token"].(string), out["refresh_token"].(string)
}

func TestReplicasShareRedis(t *testing.T) {
	srv := redistest.Start(t)
	dir := testbin.Samples(t)
	const bound = 3 * time.Second
	a := start(t, "A", dir, srv.URL, "--redis-max-staleness", bound.String())
	b := start(t, "B", dir, srv.URL, "--redis-max-staleness", bound.String())

	t.Run("RevokeOnADeniedOnB", func(t *testing.T) {
		const n = 200
		delays := make([]time.Duration, 0, n)
		for range n {
			// One login at a time: jane keeps at most maxLoginsPerUser
			// (50 in the samples) live, the older ones are revoked.
			tok, _ := a.login(t)
			if st := b.check(t, tok); st != 200 {
				t.Fatalf("live token on B: %d", st)
			}
			sent := time.Now()
			if st, out := a.post(t, "/wp-json/api/v1/token/revoke", nil, tok); st != 200 {
				t.Fatalf("revoke on A: %d %v", st, out)
			}
			if !eventually(5*time.Second, func() bool { return b.check(t, tok) == 401 }) {
				t.Fatal("revoked on A, still allowed on B after 5s")
			}
			delays = append(delays, time.Since(sent))
		}
		sort.Slice(delays, func(i, j int) bool { return delays[i] < delays[j] })
		t.Logf("binary to binary over HTTP, %d revocations (revoke request on A until B's check answers 401): p50 %v, p99 %v, max %v",
			n, delays[n/2], delays[n*99/100], delays[n-1])
	})

	t.Run("RefreshRaceAcrossReplicas", func(t *testing.T) {
		for round := range 10 {
			_, refresh := a.login(t)
			var wg sync.WaitGroup
			codes := make([]int, 2)
			access := make([]string, 2)
			gate := make(chan struct{})
			for i, r := range []*replica{a, b} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-gate
					st, out := r.post(t, "/wp-json/api/v1/token/refresh", url.Values{"refresh_token": {refresh}}, "")
					codes[i] = st
					access[i], _ = out["access_token"].(string)
				}()
			}
			close(gate)
			wg.Wait()
			win := -1
			for i, c := range codes {
				if c == 200 {
					if win >= 0 {
						t.Fatalf("round %d: both replicas rotated the same refresh token", round)
					}
					win = i
				} else if c != 401 {
					t.Fatalf("round %d: refresh answered %d", round, c)
				}
			}
			if win < 0 {
				t.Fatalf("round %d: nobody won: %v", round, codes)
			}
			// The loser was reuse: the family, and the winner's new access
			// token, are dead on both replicas.
			for _, r := range []*replica{a, b} {
				if !eventually(5*time.Second, func() bool { return r.check(t, access[win]) == 401 }) {
					t.Fatalf("round %d: the winner's token still works on %s after reuse", round, r.name)
				}
			}
		}
	})

	t.Run("Outage", func(t *testing.T) {
		revoked, _ := a.login(t)
		live, _ := a.login(t)
		laterRevoked, _ := a.login(t)
		if st, _ := a.post(t, "/wp-json/api/v1/token/revoke", nil, revoked); st != 200 {
			t.Fatal("revoke")
		}
		if !eventually(5*time.Second, func() bool { return b.check(t, revoked) == 401 }) {
			t.Fatal("not propagated")
		}
		srv.Kill()
		killed := time.Now()
		if !eventually(5*time.Second, func() bool { return b.ready() == 503 }) {
			t.Fatal("readiness did not flip")
		}
		t.Logf("readiness 503 after %v", time.Since(killed))
		// Within the bound: from the local view.
		if st := b.check(t, live); st != 200 && time.Since(killed) < bound-2*time.Second { // the view was last confirmed up to a ping (1s) before the kill
			t.Fatalf("live token during the outage, within the bound: %d", st)
		}
		if st := b.check(t, revoked); st != 401 {
			t.Fatalf("revoked token during the outage: %d", st)
		}
		asked := time.Now()
		if st, _ := a.post(t, "/wp-json/api/v1/token", url.Values{"username": {"jane"}, "password": {"jane-demo-password"}}, ""); st != 503 {
			t.Fatalf("login during the outage: %d", st)
		}
		t.Logf("login refused with 503 in %v", time.Since(asked))
		// Past the bound: fail closed.
		if !eventually(bound+5*time.Second, func() bool { return b.check(t, live) == 503 }) {
			t.Fatal("checks never failed closed")
		}
		t.Logf("checks fail closed after %v (bound %v)", time.Since(killed), bound)

		// Redis back, empty. A third replica revokes a token; A and B
		// pick it up, and the revocation Redis lost stays in force.
		srv.Restart(t)
		c := start(t, "C", dir, srv.URL)
		if st, _ := c.post(t, "/wp-json/api/v1/token/revoke", nil, laterRevoked); st != 200 {
			t.Fatal("revoke on C")
		}
		for _, r := range []*replica{a, b} {
			if !eventually(10*time.Second, func() bool { return r.ready() == 200 }) {
				t.Fatalf("%s not ready after Redis came back", r.name)
			}
			if !eventually(5*time.Second, func() bool { return r.check(t, laterRevoked) == 401 }) {
				t.Fatalf("%s missed the revocation made on C", r.name)
			}
			if st := r.check(t, revoked); st != 401 {
				t.Fatalf("%s: revoked token came back: %d", r.name, st)
			}
			if st := r.check(t, live); st != 200 {
				t.Fatalf("%s: live token after recovery: %d", r.name, st)
			}
		}
		if !eventually(5*time.Second, func() bool { return c.check(t, revoked) == 401 }) {
			t.Fatal("C never learned the revocation Redis lost (write-back)")
		}
	})
}

// TestReplicasSentinel: two binaries on a Sentinel topology (1 master, 1
// replica, 3 sentinels) through --redis-mode sentinel. Revocations
// propagate before and after a SENTINEL FAILOVER, and after the master is
// killed; nothing revoked comes back.
func TestReplicasSentinel(t *testing.T) {
	top := redistest.StartSentinel(t)
	dir := testbin.Samples(t)
	a := start(t, "A", dir, top.URL, "--redis-mode", "sentinel")
	b := start(t, "B", dir, top.URL, "--redis-mode", "sentinel")

	var revoked []string
	revokeOnA := func(t *testing.T, n int) {
		t.Helper()
		for range n {
			var tok string
			// Login and revoke need Redis: right after a promotion they
			// may answer 503 until the replica has reconnected.
			if !eventually(20*time.Second, func() bool {
				st, out := a.post(t, "/wp-json/api/v1/token", url.Values{"username": {"jane"}, "password": {"jane-demo-password"}}, "")
				tok, _ = out["access_token"].(string)
				return st == 200
			}) {
				t.Fatal("login on A never succeeded")
			}
			if st := b.check(t, tok); st != 200 {
				t.Fatalf("live token on B: %d", st)
			}
			if !eventually(20*time.Second, func() bool {
				st, _ := a.post(t, "/wp-json/api/v1/token/revoke", nil, tok)
				return st == 200
			}) {
				t.Fatal("revoke on A never succeeded")
			}
			revoked = append(revoked, tok)
			if !eventually(5*time.Second, func() bool { return b.check(t, tok) == 401 }) {
				t.Fatal("revoked on A, still allowed on B after 5s")
			}
		}
	}
	stillRevoked := func(t *testing.T) {
		t.Helper()
		for _, r := range []*replica{a, b} {
			if !eventually(20*time.Second, func() bool { return r.ready() == 200 }) {
				t.Fatalf("%s not ready after the failover", r.name)
			}
			for _, tok := range revoked {
				if st := r.check(t, tok); st != 401 {
					t.Fatalf("%s: a revoked token came back: %d", r.name, st)
				}
			}
		}
	}

	revokeOnA(t, 20)
	was := top.Master(t)
	now := top.Failover(t)
	t.Logf("SENTINEL FAILOVER: %s -> %s", was.Addr, now.Addr)
	revokeOnA(t, 20)
	stillRevoked(t)
	top.WaitReplica(t, was)

	killed, promoted := top.KillMaster(t)
	t.Logf("killed master %s; promoted %s", killed.Addr, promoted.Addr)
	revokeOnA(t, 20)
	stillRevoked(t)
	// A replica started now learns everything from the new master.
	c := start(t, "C", dir, top.URL, "--redis-mode", "sentinel")
	for _, tok := range revoked {
		if !eventually(5*time.Second, func() bool { return c.check(t, tok) == 401 }) {
			t.Fatal("a replica started after the failovers misses a revocation")
		}
	}
}
