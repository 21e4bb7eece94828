// Package storetest is the conformance suite for store.Store
// implementations: the in-memory store and the Redis store (single
// redis-server, Sentinel, Cluster) run the same tests.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wpauthz/wpauthz/authz/store"
)

// Factory returns a fresh, empty store for one test. Implementations whose
// local copy is fed asynchronously (pub/sub) must make Settle wait until
// their own writes are visible to the local reads.
type Factory func(t *testing.T) (s store.Store, settle func())

var base = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

// Run runs every conformance test.
func Run(t *testing.T, newStore Factory) {
	ctx := context.Background()
	t.Run("RevokeToken", func(t *testing.T) {
		s, settle := newStore(t)
		if s.TokenRevoked("a") {
			t.Fatal("revoked before RevokeToken")
		}
		must(t, s.RevokeToken(ctx, "a", base.Add(time.Hour)))
		settle()
		if !s.TokenRevoked("a") || s.TokenRevoked("b") {
			t.Fatal("revocation not visible, or too broad")
		}
	})
	t.Run("WatermarkOnlyMovesForward", func(t *testing.T) {
		s, settle := newStore(t)
		if !s.RevokedBefore("7").IsZero() {
			t.Fatal("watermark before any revocation")
		}
		must(t, s.RevokeSubject(ctx, "7", base, time.Hour))
		must(t, s.RevokeSubject(ctx, "7", base.Add(-time.Minute), time.Hour))
		settle()
		if got := s.RevokedBefore("7"); !got.Equal(base) {
			t.Fatalf("watermark %v, want %v", got, base)
		}
		if !s.RevokedBefore("8").IsZero() {
			t.Fatal("watermark leaked to another subject")
		}
	})
	t.Run("Events", func(t *testing.T) {
		s, settle := newStore(t)
		var mu sync.Mutex
		var got []store.Event
		cancel := s.Subscribe(func(e store.Event) { mu.Lock(); got = append(got, e); mu.Unlock() })
		must(t, s.RevokeSubject(ctx, "9", base, time.Hour))
		must(t, s.RevokeToken(ctx, "j", base.Add(time.Hour)))
		settle()
		waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(got) >= 2 })
		cancel()
		mu.Lock()
		defer mu.Unlock()
		var sawSubject, sawToken bool
		for _, e := range got {
			sawSubject = sawSubject || (e.Kind == store.SubjectRevoked && e.Subject == "9")
			sawToken = sawToken || (e.Kind == store.TokenRevoked && e.JTI == "j")
		}
		if !sawSubject || !sawToken {
			t.Fatalf("events %+v", got)
		}
	})
	t.Run("RefreshRotation", func(t *testing.T) {
		s, settle := newStore(t)
		first := rec("r1", "fam", base)
		must(t, s.CreateRefresh(ctx, first, 0))
		got, err := s.GetRefresh(ctx, "r1", base.Add(time.Minute))
		if err != nil || got.Subject != "2" || got.Family != "fam" {
			t.Fatalf("GetRefresh: %+v %v", got, err)
		}
		spent, err := s.RotateRefresh(ctx, "r1", rec("r2", "", base.Add(time.Minute)), base.Add(time.Minute))
		if err != nil || spent.ID != "r1" {
			t.Fatalf("rotate: %+v %v", spent, err)
		}
		if r2, err := s.GetRefresh(ctx, "r2", base.Add(2*time.Minute)); err != nil || r2.Family != "fam" {
			t.Fatalf("rotated record: %+v %v", r2, err)
		}
		if _, err := s.GetRefresh(ctx, "r1", base.Add(2*time.Minute)); err == nil {
			t.Fatal("a spent token is still live")
		}
		// Reuse of the spent r1: the family dies, with its access tokens.
		_, err = s.RotateRefresh(ctx, "r1", rec("r3", "", base.Add(2*time.Minute)), base.Add(2*time.Minute))
		if !errors.Is(err, store.ErrReused) {
			t.Fatalf("reuse: %v", err)
		}
		settle()
		if !s.TokenRevoked("access-r1") || !s.TokenRevoked("access-r2") {
			t.Fatal("access tokens of the family not revoked")
		}
		if _, err := s.RotateRefresh(ctx, "r2", rec("r4", "", base.Add(3*time.Minute)), base.Add(3*time.Minute)); !errors.Is(err, store.ErrFamilyRevoked) {
			t.Fatalf("rotating the live member of a dead family: %v", err)
		}
		if _, err := s.GetRefresh(ctx, "r3", base.Add(3*time.Minute)); err == nil {
			t.Fatal("the reuse attempt stored its token")
		}
	})
	t.Run("RefreshExpiry", func(t *testing.T) {
		s, _ := newStore(t)
		must(t, s.CreateRefresh(ctx, rec("e1", "fe", base), 0))
		if _, err := s.RotateRefresh(ctx, "e1", rec("e2", "", base), base.Add(25*time.Hour)); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("expired token rotated: %v", err)
		}
		if _, err := s.RotateRefresh(ctx, "nope", rec("e3", "", base), base); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unknown token: %v", err)
		}
		// A rotation never extends the family.
		must(t, s.CreateRefresh(ctx, rec("f1", "ff", base), 0))
		next := rec("f2", "", base.Add(time.Hour))
		next.ExpiresAt = base.Add(100 * 24 * time.Hour)
		if _, err := s.RotateRefresh(ctx, "f1", next, base.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.GetRefresh(ctx, "f2", base.Add(8*24*time.Hour)); err == nil {
			t.Fatal("rotation outlived the family")
		}
	})
	t.Run("RevokeFamily", func(t *testing.T) {
		s, settle := newStore(t)
		must(t, s.CreateRefresh(ctx, rec("g1", "fg", base), 0))
		must(t, s.RevokeFamily(ctx, "fg", base.Add(time.Minute)))
		settle()
		if _, err := s.GetRefresh(ctx, "g1", base.Add(time.Minute)); err == nil {
			t.Fatal("revoked family still live")
		}
		if !s.TokenRevoked("access-g1") {
			t.Fatal("access token of a revoked family still live")
		}
		if err := s.RevokeFamily(ctx, "unknown", base); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unknown family: %v", err)
		}
	})
	t.Run("ConcurrentRotationHasOneWinner", func(t *testing.T) {
		s, _ := newStore(t)
		must(t, s.CreateRefresh(ctx, rec("c0", "fc", base), 0))
		var wins, reused atomic.Int32
		var wg sync.WaitGroup
		for i := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := s.RotateRefresh(ctx, "c0", rec(fmt.Sprintf("c%d", i+1), "", base), base.Add(time.Second))
				switch {
				case err == nil:
					wins.Add(1)
				case errors.Is(err, store.ErrReused), errors.Is(err, store.ErrFamilyRevoked):
					reused.Add(1)
				default:
					t.Errorf("rotate: %v", err)
				}
			}()
		}
		wg.Wait()
		if wins.Load() != 1 || reused.Load() != 15 {
			t.Fatalf("%d winners, %d refused", wins.Load(), reused.Load())
		}
	})
	runRefreshBounds(t, newStore)
	runRefreshBoundaries(t, newStore)
	runThrottles(t, newStore)
}

// RefreshCounter is implemented by a store under test (or the Factory's
// wrapper of one) that can count the refresh state it retains: families
// and refresh records, with whatever indexes hold them. The bounds cases
// need it.
type RefreshCounter interface {
	RefreshState(ctx context.Context) (families, records int, err error)
}

// runRefreshBounds checks that a user's refresh state is capped and
// pruned (store.RefreshTokens.CreateRefresh): no caller can make the
// store grow by logging in again and again. The logins' times move
// forward by hours, as a real clock does.
func runRefreshBounds(t *testing.T, newStore Factory) {
	ctx := context.Background()
	counter := func(t *testing.T, s store.Store) RefreshCounter {
		t.Helper()
		c, ok := s.(RefreshCounter)
		if !ok {
			t.Fatalf("%T does not count its refresh state (storetest.RefreshCounter)", s)
		}
		return c
	}
	state := func(t *testing.T, c RefreshCounter, families, records int) {
		t.Helper()
		f, r, err := c.RefreshState(ctx)
		must(t, err)
		if f != families || r != records {
			t.Fatalf("store holds %d families and %d records, want %d and %d", f, r, families, records)
		}
	}
	live := func(t *testing.T, s store.Store, id string, now time.Time, want bool) {
		t.Helper()
		_, err := s.GetRefresh(ctx, id, now)
		if (err == nil) != want {
			t.Fatalf("%s live: %v, want %v", id, err, want)
		}
	}
	t.Run("CapRevokesOldestFirst", func(t *testing.T) {
		s, settle := newStore(t)
		c := counter(t, s)
		now := base
		for i := range 5 {
			now = base.Add(time.Duration(i) * time.Minute)
			must(t, s.CreateRefresh(ctx, login(fmt.Sprintf("a%d", i), "2", now), 3))
		}
		// Another user, and the same user ID at another policy, are
		// counted on their own.
		must(t, s.CreateRefresh(ctx, login("b0", "3", now), 3))
		other := login("p0", "2", now)
		other.Policy = "default/other"
		must(t, s.CreateRefresh(ctx, other, 3))
		settle()
		for i, want := range []bool{false, false, true, true, true} {
			live(t, s, fmt.Sprintf("a%d", i), now, want)
			if s.TokenRevoked(fmt.Sprintf("access-a%d", i)) == want {
				t.Fatalf("access token of a%d: revoked %v, want %v", i, !want, !want)
			}
		}
		live(t, s, "b0", now, true)
		live(t, s, "p0", now, true)
		state(t, c, 5, 5)
	})
	t.Run("CapForgetsRevokedFamiliesFirst", func(t *testing.T) {
		s, _ := newStore(t)
		c := counter(t, s)
		for i := range 3 {
			must(t, s.CreateRefresh(ctx, login(fmt.Sprintf("r%d", i), "2", base.Add(time.Duration(i)*time.Minute)), 3))
		}
		must(t, s.RevokeFamily(ctx, "fam-r1", base.Add(3*time.Minute)))
		must(t, s.CreateRefresh(ctx, login("r3", "2", base.Add(4*time.Minute)), 3))
		// r1 was dead already: it makes room, r0 stays live.
		for i, want := range []bool{true, false, true, true} {
			live(t, s, fmt.Sprintf("r%d", i), base.Add(5*time.Minute), want)
		}
		state(t, c, 3, 3)
	})
	t.Run("CapCountsRotatedAndReusedFamilies", func(t *testing.T) {
		s, settle := newStore(t)
		c := counter(t, s)
		must(t, s.CreateRefresh(ctx, login("x0", "2", base), 2))
		_, err := s.RotateRefresh(ctx, "x0", login("x0b", "2", base.Add(time.Minute)), base.Add(time.Minute))
		must(t, err)
		// Reuse kills the family; it stays known (reuse is still told)
		// until the cap makes room.
		if _, err := s.RotateRefresh(ctx, "x0", login("x0c", "2", base.Add(2*time.Minute)), base.Add(2*time.Minute)); !errors.Is(err, store.ErrReused) {
			t.Fatalf("reuse: %v", err)
		}
		state(t, c, 1, 2)
		for i := range 10 {
			at := base.Add(time.Duration(3+i) * time.Minute)
			must(t, s.CreateRefresh(ctx, login(fmt.Sprintf("y%d", i), "2", at), 2))
		}
		settle()
		state(t, c, 2, 2)
		live(t, s, "y8", base.Add(time.Hour), true)
		live(t, s, "y9", base.Add(time.Hour), true)
		if !s.TokenRevoked("access-y7") {
			t.Fatal("the capped login's access token is live")
		}
	})
	t.Run("RotationsBounded", func(t *testing.T) {
		s, settle := newStore(t)
		c := counter(t, s)
		must(t, s.CreateRefresh(ctx, login("z0", "2", base), 50))
		for i := 1; i <= 100; i++ {
			at := base.Add(time.Duration(i) * time.Second)
			_, err := s.RotateRefresh(ctx, fmt.Sprintf("z%d", i-1), login(fmt.Sprintf("z%d", i), "2", at), at)
			must(t, err)
		}
		settle()
		// The live token and the last MaxSpentPerFamily spent ones.
		state(t, c, 1, store.MaxSpentPerFamily+1)
		if !s.TokenRevoked("access-z0") || s.TokenRevoked("access-z99") {
			t.Fatal("a forgotten member's live access token must be revoked, a kept one's not")
		}
		now := base.Add(200 * time.Second)
		// A forgotten spent token is unknown: refused, the family lives.
		if _, err := s.RotateRefresh(ctx, "z0", login("w1", "2", now), now); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("forgotten spent token: %v", err)
		}
		live(t, s, "z100", now, true)
		// A kept spent token is still reuse.
		if _, err := s.RotateRefresh(ctx, "z99", login("w2", "2", now), now); !errors.Is(err, store.ErrReused) {
			t.Fatalf("recent spent token: %v", err)
		}
		live(t, s, "z100", now, false)
	})
	t.Run("ExpiredFamiliesPruned", func(t *testing.T) {
		s, _ := newStore(t)
		c := counter(t, s)
		for i := range 10 {
			at := base.Add(time.Duration(i) * time.Minute)
			r := login(fmt.Sprintf("e%d", i), "2", at)
			r.FamilyExpiresAt = base.Add(time.Hour)
			r.ExpiresAt = r.FamilyExpiresAt
			must(t, s.CreateRefresh(ctx, r, 50))
		}
		state(t, c, 10, 10)
		// Two hours later the next login finds them all expired.
		later := base.Add(2 * time.Hour)
		must(t, s.CreateRefresh(ctx, login("e10", "2", later), 50))
		state(t, c, 1, 1)
		live(t, s, "e10", later, true)
		// Pruning is not revoking: nothing was revoked (the access tokens
		// had expired long before).
		for i := range 10 {
			if s.TokenRevoked(fmt.Sprintf("access-e%d", i)) {
				t.Fatalf("expired family e%d revoked instead of forgotten", i)
			}
		}
	})
}

// login is the first record of a new family "fam-"+id for subject,
// issued at now.
func login(id, subject string, now time.Time) store.RefreshRecord {
	return store.RefreshRecord{
		ID: id, Family: "fam-" + id, Policy: "default/local", Subject: subject,
		IssuedAt: now, ExpiresAt: now.Add(24 * time.Hour), FamilyExpiresAt: now.Add(7 * 24 * time.Hour),
		AccessJTI: "access-" + id, AccessExpiresAt: now.Add(time.Hour),
	}
}

// ThrottleKeeper is implemented by a store under test (or the Factory's
// wrapper of one) that can say how long it keeps a throttle key's state:
// Kept is false when nothing is kept. The suite then checks the state
// lives exactly until the key is at rest. A backend that expires in real
// time (Redis) may report less than the full span, never more.
type ThrottleKeeper interface {
	ThrottleKept(ctx context.Context, key string, now time.Time) (d time.Duration, kept bool, err error)
}

// Replicator is implemented by a store under test (or the Factory's
// wrapper of one) whose state is shared by replicas: Replica returns
// another store instance on the same backend state (Redis: its own client
// on the same server and prefix), for the cases that race two replicas.
type Replicator interface {
	Replica(t *testing.T) store.Store
}

// runThrottles checks GCRA semantics (store.Throttles). Every case is one
// a fixed window (counted from the first attempt or aligned), or a
// check-then-record pattern, gets wrong.
func runThrottles(t *testing.T, newStore Factory) {
	ctx := context.Background()
	sec := func(s float64) time.Time { return base.Add(time.Duration(math.Round(s*1e6)) * time.Microsecond) }
	// 3 per minute: one attempt is forgiven every 20s, a burst of 3 fills
	// the bucket.
	lim := store.Limit{Max: 3, Window: time.Minute}

	t.Run("ThrottleBurstAndExactWaits", func(t *testing.T) {
		s, _ := newStore(t)
		const k = "user:jane"
		attempt(t, s, k, lim, base, 0)
		attempt(t, s, k, lim, base, 0)
		throttled(t, s, k, base, 0)
		attempt(t, s, k, lim, base, 0)
		// A burst of Max is evaluated; the next waits until one attempt is
		// forgiven: 20s, not the rest of a window.
		throttled(t, s, k, base, 20*time.Second)
		attempt(t, s, k, lim, base, 20*time.Second)
		throttled(t, s, k, sec(5), 15*time.Second)
		throttled(t, s, k, sec(19.999), time.Millisecond)
		throttled(t, s, k, sec(20), 0)
		// Only one was forgiven: one more conforms, then the key is
		// blocked again for one interval.
		attempt(t, s, k, lim, sec(20), 0)
		attempt(t, s, k, lim, sec(20), 20*time.Second)
		// A refused attempt is not counted: the block does not grow,
		// however many are sent.
		for range 10 {
			attempt(t, s, k, lim, sec(25), 15*time.Second)
		}
		throttled(t, s, k, sec(39.5), 500*time.Millisecond)
		throttled(t, s, k, sec(40), 0)
		// At rest once every attempt is forgiven (TAT base+80s): a full
		// burst again.
		attempt(t, s, k, lim, sec(80), 0)
		attempt(t, s, k, lim, sec(80), 0)
		attempt(t, s, k, lim, sec(80), 0)
		attempt(t, s, k, lim, sec(80), 20*time.Second)
	})

	t.Run("ThrottleEvenlySpacedNeverBlocks", func(t *testing.T) {
		s, _ := newStore(t)
		// Exactly at the rate, for many windows: a fixed window would
		// block the fourth attempt of each.
		for i := range 30 {
			now := base.Add(time.Duration(i) * 20 * time.Second)
			throttled(t, s, "at-rate", now, 0)
			attempt(t, s, "at-rate", lim, now, 0)
		}
		// Under the rate, with jitter that never goes above it.
		now := base
		for i := range 30 {
			now = now.Add(20*time.Second + time.Duration(i%4)*time.Second)
			attempt(t, s, "under-rate", lim, now, 0)
		}
		// Max 1: every attempt blocks the next for exactly one window,
		// and attempts a window apart are never refused.
		one := store.Limit{Max: 1, Window: 10 * time.Second}
		for i := range 10 {
			now := base.Add(time.Duration(i) * 10 * time.Second)
			attempt(t, s, "one", one, now, 0)
			attempt(t, s, "one", one, now, 10*time.Second)
		}
	})

	t.Run("ThrottleNoEdgeDoubleBurst", func(t *testing.T) {
		s, _ := newStore(t)
		// 4 per minute: interval 15s, a burst of 4 fills the bucket.
		lim4 := store.Limit{Max: 4, Window: time.Minute}
		const k = "client:203.0.113.9"
		attempt(t, s, k, lim4, base, 0) // opens a fixed window [0s, 60s)
		// Two just before that window would end, two just after it: four
		// attempts within 0.2s. A fixed window lets a fifth through
		// (and with aligned windows, 2×Max around the edge).
		attempt(t, s, k, lim4, sec(59.9), 0)
		attempt(t, s, k, lim4, sec(59.9), 0)
		throttled(t, s, k, sec(60.1), 0)
		attempt(t, s, k, lim4, sec(60.1), 0)
		attempt(t, s, k, lim4, sec(60.1), 0)
		attempt(t, s, k, lim4, sec(60.1), 14800*time.Millisecond)
		throttled(t, s, k, sec(70), 4900*time.Millisecond)
		// Once allowed, one more: then blocked one interval exactly.
		throttled(t, s, k, sec(74.9), 0)
		attempt(t, s, k, lim4, sec(74.9), 0)
		attempt(t, s, k, lim4, sec(74.9), 15*time.Second)

		// Max attempts packed anywhere, closer than one interval: the
		// next is always refused, whatever happened before.
		for i, off := range []float64{0, 7.5, 14.99, 29.999, 59.999, 60, 61} {
			key := fmt.Sprintf("packed-%d", i)
			attempt(t, s, key, lim4, base, 0) // earlier history
			start := sec(off)
			for j := range 4 {
				if _, err := s.Attempt(ctx, key, lim4, start.Add(time.Duration(j)*time.Second)); err != nil {
					t.Fatal(err)
				}
			}
			w, err := s.Attempt(ctx, key, lim4, start.Add(3*time.Second))
			must(t, err)
			if w == 0 {
				t.Fatalf("a fifth attempt after 4 within 3s starting at +%vs was let through", off)
			}
		}
	})

	t.Run("ThrottleKeysAreIsolated", func(t *testing.T) {
		s, _ := newStore(t)
		for range 3 {
			attempt(t, s, "user:jane", lim, base, 0)
		}
		throttled(t, s, "user:jane", base, 20*time.Second)
		for _, other := range []string{"user:sam", "user:jan", "user:jane2", "User:jane", "{user:jane}", "client:user:jane"} {
			throttled(t, s, other, base, 0)
		}
		// Another key's budget is whole.
		attempt(t, s, "user:sam", lim, base, 0)
		attempt(t, s, "user:sam", lim, base, 0)
		throttled(t, s, "user:jane", base, 20*time.Second)
		// Each call brings its limit: a laxer one on a third key.
		lax := store.Limit{Max: 10, Window: time.Minute}
		for range 10 {
			attempt(t, s, "user:kim", lax, base, 0)
		}
		attempt(t, s, "user:kim", lax, base, 6*time.Second)
		// A limit of 0 counts nothing.
		for range 5 {
			attempt(t, s, "user:off", store.Limit{}, base, 0)
		}
		throttled(t, s, "user:off", base, 0)
	})

	t.Run("ThrottleReleaseGivesBackOneSlot", func(t *testing.T) {
		s, _ := newStore(t)
		for range 3 {
			attempt(t, s, "user:jane", lim, base, 0)
		}
		attempt(t, s, "user:jane", lim, base, 20*time.Second)
		// One success among the three: its slot comes back, the failures
		// stay counted.
		must(t, s.Release(ctx, "user:jane", lim, sec(1)))
		throttled(t, s, "user:jane", sec(1), 0)
		attempt(t, s, "user:jane", lim, sec(1), 0)
		attempt(t, s, "user:jane", lim, sec(1), 19*time.Second)
		// Release never goes below rest: a key whose only slot was given
		// back is new again, and releasing it more frees nothing extra.
		attempt(t, s, "user:sam", lim, base, 0)
		must(t, s.Release(ctx, "user:sam", lim, base))
		must(t, s.Release(ctx, "user:sam", lim, base))
		must(t, s.Release(ctx, "never-attempted", lim, base))
		for range 3 {
			attempt(t, s, "user:sam", lim, base, 0)
		}
		attempt(t, s, "user:sam", lim, base, 20*time.Second)
		// Only that key.
		throttled(t, s, "user:jane", sec(1), 19*time.Second)
	})

	// Hardening item 2: N parallel attempts on one key (for a backend
	// shared by replicas, from two store instances) must let exactly Max
	// be evaluated: the slot is taken atomically before the check.
	t.Run("ThrottleConcurrentAttemptsExactlyMax", func(t *testing.T) {
		s, _ := newStore(t)
		stores := []store.Store{s, s}
		if r, ok := s.(Replicator); ok {
			stores[1] = r.Replica(t)
		}
		const n = 60
		var evaluated atomic.Int64
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				w, err := stores[i%2].Attempt(ctx, "user:parallel", lim, base)
				if err != nil {
					t.Error(err)
					return
				}
				if w == 0 {
					evaluated.Add(1)
				}
			}()
		}
		close(start)
		wg.Wait()
		if got := evaluated.Load(); got != int64(lim.Max) {
			t.Fatalf("%d of %d parallel attempts were evaluated, want exactly %d", got, n, lim.Max)
		}
		// The refused ones counted nothing.
		throttled(t, s, "user:parallel", base, 20*time.Second)
		// Parallel releases give back exactly what was taken.
		for i := range lim.Max {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := stores[i%2].Release(ctx, "user:parallel", lim, base); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		throttled(t, s, "user:parallel", base, 0)
		for range 3 {
			attempt(t, s, "user:parallel", lim, base, 0)
		}
		attempt(t, s, "user:parallel", lim, base, 20*time.Second)
	})

	t.Run("ThrottleExpiry", func(t *testing.T) {
		s, _ := newStore(t)
		attempt(t, s, "user:jane", lim, base, 0)
		attempt(t, s, "user:jane", lim, base, 0)
		attempt(t, s, "user:jane", lim, base, 0)
		attempt(t, s, "user:sam", lim, base, 0)
		// Kept until the bucket is empty: 60s for three attempts, 20s for
		// one; nothing for a key never tried or released to rest.
		if k, ok := s.(ThrottleKeeper); ok {
			kept(t, k, "user:jane", base, time.Minute)
			kept(t, k, "user:sam", base, 20*time.Second)
			kept(t, k, "user:nobody", base, 0)
			must(t, s.Release(ctx, "user:sam", lim, base))
			kept(t, k, "user:sam", base, 0)
		} else {
			t.Log("the store does not report how long it keeps throttle state; behaviour only")
		}
		// At rest (TAT passed) the key behaves as new, and not before.
		throttled(t, s, "user:jane", sec(59.999), 0)
		attempt(t, s, "user:jane", lim, sec(59.999), 0)
		attempt(t, s, "user:jane", lim, sec(59.999), 0)
		attempt(t, s, "user:jane", lim, sec(59.999), time.Millisecond) // one slot not yet forgiven
		throttled(t, s, "user:jane", sec(100), 0)
		attempt(t, s, "user:jane", lim, sec(100), 0)
		attempt(t, s, "user:jane", lim, sec(100), 0)
		attempt(t, s, "user:jane", lim, sec(100), 0)
		attempt(t, s, "user:jane", lim, sec(100), 20*time.Second)
	})
}

func attempt(t *testing.T, s store.Store, key string, lim store.Limit, now time.Time, want time.Duration) {
	t.Helper()
	got, err := s.Attempt(context.Background(), key, lim, now)
	if err != nil {
		t.Fatalf("Attempt(%q, +%v): %v", key, now.Sub(base), err)
	}
	if got != want {
		t.Fatalf("Attempt(%q, +%v) wait %v, want %v", key, now.Sub(base), got, want)
	}
}

func throttled(t *testing.T, s store.Store, key string, now time.Time, want time.Duration) {
	t.Helper()
	got, err := s.Throttled(context.Background(), key, now)
	if err != nil {
		t.Fatalf("Throttled(%q, +%v): %v", key, now.Sub(base), err)
	}
	if got != want {
		t.Fatalf("Throttled(%q, +%v) = %v, want %v", key, now.Sub(base), got, want)
	}
}

// kept checks key's state is kept for want (0: not at all); a real-time
// backend may have counted a few seconds down since it was written.
func kept(t *testing.T, k ThrottleKeeper, key string, now time.Time, want time.Duration) {
	t.Helper()
	got, ok, err := k.ThrottleKept(context.Background(), key, now)
	must(t, err)
	switch {
	case want == 0 && ok:
		t.Fatalf("%q: state kept for %v, want none", key, got)
	case want == 0:
	case !ok:
		t.Fatalf("%q: no state kept, want %v", key, want)
	case got > want || got < want-5*time.Second:
		t.Fatalf("%q: state kept for %v, want %v (the time until the bucket is empty)", key, got, want)
	}
}

func rec(id, family string, now time.Time) store.RefreshRecord {
	return store.RefreshRecord{
		ID: id, Family: family, Policy: "default/local", Subject: "2",
		IssuedAt: now, ExpiresAt: now.Add(24 * time.Hour), FamilyExpiresAt: base.Add(7 * 24 * time.Hour),
		AccessJTI: "access-" + id, AccessExpiresAt: now.Add(time.Hour),
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
