package authz

import (
	"testing"

	"github.com/wpauthz/wpauthz/authz/policy"
)

// TestAnonymousCacheIgnoresAnOldSnapshot: a check decided on a snapshot
// that was swapped out meanwhile gets a fresh decision and leaves the new
// snapshot's cache alone (its decision may be the old policy's).
func TestAnonymousCacheIgnoresAnOldSnapshot(t *testing.T) {
	compile := func() *policy.Snapshot {
		s, problems := policy.Compile(policy.Bundle{}, policy.Options{})
		if len(problems) > 0 {
			t.Fatal(problems)
		}
		return s
	}
	old, current := compile(), compile()
	e := New(Options{})
	e.Swap(current)
	d := e.allowAnonymous(verdict{snap: old}, &Request{Headers: map[string]string{}})
	if !d.Allowed {
		t.Fatalf("anonymous decision refused: %+v", d)
	}
	if _, cached := e.anonymous.Load().decisions.Load((*policy.Policy)(nil)); cached {
		t.Fatal("a decision made on the old snapshot was cached for the new one")
	}
	if d2 := e.allowAnonymous(verdict{snap: current}, &Request{Headers: map[string]string{}}); d2 == d {
		t.Fatal("the current snapshot's check got the old snapshot's decision")
	}
}
