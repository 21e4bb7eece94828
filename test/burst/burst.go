// Package burst sends a burst of simultaneous login attempts and checks
// the throttles' answer to it, for the suites that try the login
// throttles through different front doors (the token endpoint and Basic
// in process, two replicas on one Redis, nginx in front of wpauthz).
package burst

import (
	"fmt"
	"sync"
	"testing"
)

// Send runs send for i in [0, n) at once (released together) and tallies
// the statuses it returns; the attempt at index n-1 is the one with the
// correct password.
func Send(n int, send func(i int, correct bool) int) map[int]int {
	var mu sync.Mutex
	statuses := map[int]int{}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			st := send(i, i == n-1)
			mu.Lock()
			statuses[st]++
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	return statuses
}

// Password is the secret of attempt i: correct, or a wrong one.
func Password(i int, correct bool, correctPassword string) string {
	if correct {
		return correctPassword
	}
	return fmt.Sprintf("wrong-%d", i)
}

// Check fails t unless no more than limit wrong passwords of a burst of n
// were evaluated (401) and the rest were refused with 429 before any
// check. A success gives its slot back, so when the right password is
// among the first limit it is evaluated with limit-1 wrong ones, or limit
// if its slot came back before the burst was over; without it, exactly
// limit wrong ones.
func Check(t *testing.T, what string, statuses map[int]int, limit, n int) {
	t.Helper()
	wrong, right := statuses[401], statuses[200]
	if right > 1 || wrong > limit || wrong+right < limit || statuses[429] != n-wrong-right {
		t.Fatalf("%s: %d of %d parallel attempts were evaluated (statuses %v), want %d (the right password may take one of them) and the rest refused with 429",
			what, wrong+right, n, statuses, limit)
	}
}

// SpendRest sends the wrong passwords the burst left unspent: when the
// right password was evaluated, it gave its slot back, so one failure is
// still allowed after the burst. Each must be evaluated (401); after
// them the user's budget is spent and even the right password gets 429.
func SpendRest(t *testing.T, statuses map[int]int, limit int, sendWrong func() int) {
	t.Helper()
	for spent := statuses[401]; spent < limit; spent++ {
		if st := sendWrong(); st != 401 {
			t.Fatalf("a wrong password after the burst (%d of %d failures spent): %d, want 401", spent, limit, st)
		}
	}
}
