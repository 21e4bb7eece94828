// Package storetest is the conformance suite for store.Store
// implementations: the in-memory store runs it now, the Redis store will
// run the same tests against a real redis-server.
package storetest

import (
	"context"
	"errors"
	"fmt"
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
		must(t, s.CreateRefresh(ctx, first))
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
		must(t, s.CreateRefresh(ctx, rec("e1", "fe", base)))
		if _, err := s.RotateRefresh(ctx, "e1", rec("e2", "", base), base.Add(25*time.Hour)); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("expired token rotated: %v", err)
		}
		if _, err := s.RotateRefresh(ctx, "nope", rec("e3", "", base), base); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unknown token: %v", err)
		}
		// A rotation never extends the family.
		must(t, s.CreateRefresh(ctx, rec("f1", "ff", base)))
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
		must(t, s.CreateRefresh(ctx, rec("g1", "fg", base)))
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
		must(t, s.CreateRefresh(ctx, rec("c0", "fc", base)))
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
	t.Run("Throttle", func(t *testing.T) {
		s, _ := newStore(t)
		lim := store.Limit{Max: 3, Window: time.Minute}
		for i := range 2 {
			wait, err := s.Fail(ctx, "user:jane", lim, base.Add(time.Duration(i)*time.Second))
			if err != nil || wait != 0 {
				t.Fatalf("failure %d blocked: %v %v", i+1, wait, err)
			}
		}
		wait, err := s.Fail(ctx, "user:jane", lim, base.Add(2*time.Second))
		if err != nil || wait != 58*time.Second {
			t.Fatalf("third failure: wait %v %v", wait, err)
		}
		if w, _ := s.Throttled(ctx, "user:jane", base.Add(30*time.Second)); w != 30*time.Second {
			t.Fatalf("Throttled = %v", w)
		}
		if w, _ := s.Throttled(ctx, "user:sam", base.Add(30*time.Second)); w != 0 {
			t.Fatal("throttle leaked to another key")
		}
		if w, _ := s.Throttled(ctx, "user:jane", base.Add(time.Minute)); w != 0 {
			t.Fatalf("still throttled after the window: %v", w)
		}
		// A new window starts from zero.
		if w, _ := s.Fail(ctx, "user:jane", lim, base.Add(61*time.Second)); w != 0 {
			t.Fatalf("new window blocked at once: %v", w)
		}
		must(t, s.Reset(ctx, "user:jane"))
		if w, _ := s.Throttled(ctx, "user:jane", base.Add(62*time.Second)); w != 0 {
			t.Fatal("Reset did not clear")
		}
	})
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
