package tokenflow

import (
	"fmt"
	"sync"
	"testing"
)

// parallel sends n requests at once (released together) and tallies their
// statuses; the request at index right is the one with the correct
// password.
func parallel(t *testing.T, n, right int, send func(i int, correct bool) resp) (statuses map[int]int) {
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
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	return statuses
}

// checkBurst asserts that no more than limit wrong passwords of a burst
// were evaluated (401) and the rest were refused with 429 before any
// check. A success gives its slot back, so when the right password is
// among the first limit it is evaluated with limit-1 wrong ones, or limit
// if its slot came back before the burst was over; without it, exactly
// limit wrong ones.
func checkBurst(t *testing.T, what string, statuses map[int]int, limit, n int) {
	t.Helper()
	if !burstOK(statuses, limit, n) {
		t.Fatalf("%s: %d of %d parallel attempts were evaluated (statuses %v), want %d (the right password may take one of them) and the rest refused with 429",
			what, statuses[401]+statuses[200], n, statuses, limit)
	}
}

func burstOK(statuses map[int]int, limit, n int) bool {
	wrong, right := statuses[401], statuses[200]
	return right <= 1 && wrong <= limit && wrong+right >= limit && statuses[429] == n-wrong-right
}

// TestHardening2_ConcurrentLoginsThrottled: 60 simultaneous logins for
// one user from one address, one of them with the right password. With
// limits of 5 per user and 20 per address, exactly 5 are evaluated; once
// they are spent, the right password is refused too.
func TestHardening2_ConcurrentLoginsThrottled(t *testing.T) {
	const n = 60
	e := newEnv(t, nil)
	statuses := parallel(t, n, n-1, func(i int, correct bool) resp {
		pass := fmt.Sprintf("wrong-%d", i)
		if correct {
			pass = janePassword
		}
		return request(t, e.srv.URL, "localhost", "POST", "/wp-json/api/v1/token", formType, form("username", "jane", "password", pass), nil)
	})
	checkBurst(t, "token endpoint", statuses, 5, n)
	expect(t, "the right password after the burst", e.login("jane", janePassword), 429, "wpauthz_too_many_attempts")
}

// TestHardening2_ConcurrentBasicThrottled: the same burst as Basic
// credentials on the check path.
func TestHardening2_ConcurrentBasicThrottled(t *testing.T) {
	const n = 60
	e := newEnv(t, nil)
	const client = "198.51.100.60"
	statuses := parallel(t, n, n-1, func(i int, correct bool) resp {
		pass := fmt.Sprintf("wrong-%d", i)
		if correct {
			pass = janePassword
		}
		h := basic("jane", pass)
		h["X-Forwarded-For"] = client
		return request(t, e.srv.URL, "localhost", "POST", "/check/wp-json/wp/v2/posts", "", "", h)
	})
	checkBurst(t, "basic", statuses, 5, n)
	h := basic("jane", janePassword)
	h["X-Forwarded-For"] = client
	expect(t, "the right password after the burst", e.check("POST", "/wp-json/wp/v2/posts", h), 429, "wpauthz_too_many_attempts")
}
