package tokenflow

import (
	"fmt"
	"sync"
	"testing"
)

// parallel sends n requests at once (released together) and tallies their
// statuses; the request at index right is the one with the correct
// password.
func parallel(t *testing.T, n, right int, send func(i int, correct bool) resp) (statuses map[int]int, rightStatus int) {
	t.Helper()
	var mu sync.Mutex
	statuses = map[int]int{}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			r := send(i, i == right)
			mu.Lock()
			statuses[r.status]++
			if i == right {
				rightStatus = r.status
			}
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	return statuses, rightStatus
}

// checkBurst asserts that exactly limit attempts of a burst were
// evaluated (401, or 200 for the right password), the rest refused with
// 429 before any check.
func checkBurst(t *testing.T, what string, statuses map[int]int, rightStatus, limit, n int) {
	t.Helper()
	evaluated := statuses[401] + statuses[200]
	if evaluated != limit || statuses[429] != n-limit || statuses[200] > 1 || len(statuses) > 3 {
		t.Fatalf("%s: %d of %d parallel attempts were evaluated (statuses %v), want exactly %d evaluated and %d refused with 429",
			what, evaluated, n, statuses, limit, n-limit)
	}
	if rightStatus == 200 && statuses[401] != limit-1 {
		t.Fatalf("%s: the right password got in although %d wrong ones were evaluated", what, statuses[401])
	}
}

// TestHardening2_ConcurrentLoginsThrottled: 60 simultaneous logins for
// one user from one address, one of them with the right password. With
// limits of 5 per user and 20 per address, exactly 5 are evaluated; once
// they are spent, the right password is refused too.
func TestHardening2_ConcurrentLoginsThrottled(t *testing.T) {
	const n = 60
	e := newEnv(t, nil)
	statuses, right := parallel(t, n, n-1, func(i int, correct bool) resp {
		pass := fmt.Sprintf("wrong-%d", i)
		if correct {
			pass = janePassword
		}
		return request(t, e.srv.URL, "localhost", "POST", "/wp-json/api/v1/token", formType, form("username", "jane", "password", pass), nil)
	})
	checkBurst(t, "token endpoint", statuses, right, 5, n)
	expect(t, "the right password after the burst", e.login("jane", janePassword), 429, "wpauthz_too_many_attempts")
}

// TestHardening2_ConcurrentBasicThrottled: the same burst as Basic
// credentials on the check path.
func TestHardening2_ConcurrentBasicThrottled(t *testing.T) {
	const n = 60
	e := newEnv(t, nil)
	const client = "198.51.100.60"
	statuses, right := parallel(t, n, n-1, func(i int, correct bool) resp {
		pass := fmt.Sprintf("wrong-%d", i)
		if correct {
			pass = janePassword
		}
		h := basic("jane", pass)
		h["X-Forwarded-For"] = client
		return request(t, e.srv.URL, "localhost", "POST", "/check/wp-json/wp/v2/posts", "", "", h)
	})
	checkBurst(t, "basic", statuses, right, 5, n)
	h := basic("jane", janePassword)
	h["X-Forwarded-For"] = client
	expect(t, "the right password after the burst", e.check("POST", "/wp-json/wp/v2/posts", h), 429, "wpauthz_too_many_attempts")
}
