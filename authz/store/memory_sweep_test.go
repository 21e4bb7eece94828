package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// The conformance suite runs on a frozen clock, so it cannot see what the
// memory store's sweep forgets. These tests move the clock.

var t0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

// movingClock is a clock the test moves; the store reads it on every write.
type movingClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *movingClock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *movingClock) Set(t time.Time) { c.mu.Lock(); c.now = t; c.mu.Unlock() }
func (c *movingClock) Add(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	return c.now
}

func newSwept(t *testing.T) (*Memory, *movingClock) {
	t.Helper()
	c := &movingClock{now: t0}
	return NewMemory(c.Now), c
}

// sweepNow makes the store sweep: any write does, at most once a minute.
func sweepNow(t *testing.T, m *Memory) {
	t.Helper()
	if err := m.RevokeToken(context.Background(), fmt.Sprint("sweep-", m.now().UnixNano()), m.now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
}

// TestSweepKeepsRevokeAllWatermarkUntilForgetAt: "every token of user 7
// issued before T is dead" is kept until its forget time (T + keep, the
// longest life of a token issued before T), not dropped once T has
// passed — else the user's revoked tokens work again after a sweep.
func TestSweepKeepsRevokeAllWatermarkUntilForgetAt(t *testing.T) {
	ctx := context.Background()
	m, clock := newSwept(t)
	if err := m.RevokeSubject(ctx, "7", t0, 2*time.Hour); err != nil {
		t.Fatal(err)
	}
	for _, d := range []time.Duration{time.Minute, time.Hour, 2*time.Hour - time.Second} {
		clock.Set(t0.Add(d))
		sweepNow(t, m)
		if got := m.RevokedBefore("7"); !got.Equal(t0) {
			t.Fatalf("+%v after revoke-all with keep 2h, after a sweep: watermark %v, want %v", d, got, t0)
		}
	}
	clock.Set(t0.Add(2*time.Hour + 2*time.Minute))
	sweepNow(t, m)
	if got := m.RevokedBefore("7"); !got.IsZero() {
		t.Fatalf("watermark %v kept past its forget time", got)
	}
}

// TestSweepRunsOnceAMinute: a write exactly one minute after the last
// sweep sweeps again; one a moment earlier does not.
func TestSweepRunsOnceAMinute(t *testing.T) {
	ctx := context.Background()
	m, clock := newSwept(t)
	if err := m.RevokeToken(ctx, "short", t0.Add(time.Second)); err != nil { // sweeps at t0
		t.Fatal(err)
	}
	clock.Set(t0.Add(time.Minute - time.Nanosecond))
	if err := m.RevokeToken(ctx, "other", t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if !m.TokenRevoked("short") {
		t.Fatal("swept again within the minute")
	}
	clock.Set(t0.Add(time.Minute))
	if err := m.RevokeToken(ctx, "third", t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if m.TokenRevoked("short") {
		t.Fatal("an expired revocation survived a write one minute after the last sweep")
	}
}

// TestRevokeTokenKeepsLatestExpiry: revoking a jti again with a later
// expiry extends what is remembered; an earlier one does not shorten it.
func TestRevokeTokenKeepsLatestExpiry(t *testing.T) {
	ctx := context.Background()
	m, clock := newSwept(t)
	for _, exp := range []time.Duration{time.Hour, 3 * time.Hour, 30 * time.Minute} {
		if err := m.RevokeToken(ctx, "j", t0.Add(exp)); err != nil {
			t.Fatal(err)
		}
	}
	clock.Set(t0.Add(2 * time.Hour))
	sweepNow(t, m)
	if !m.TokenRevoked("j") {
		t.Fatal("revocation forgotten at its first expiry, before the later one")
	}
	clock.Set(t0.Add(4 * time.Hour))
	sweepNow(t, m)
	if m.TokenRevoked("j") {
		t.Fatal("revocation kept past its latest expiry")
	}
}

// TestSweepKeepsSpentRefreshUntilFamilyExpires: a spent refresh token
// past its own expiry is still known while its family lives, so that its
// reuse (a stolen copy) still kills the family after a sweep.
func TestSweepKeepsSpentRefreshUntilFamilyExpires(t *testing.T) {
	ctx := context.Background()
	m, clock := newSwept(t)
	first := RefreshRecord{ID: "r1", Family: "f", Policy: "p", Subject: "2", IssuedAt: t0,
		ExpiresAt: t0.Add(time.Hour), FamilyExpiresAt: t0.Add(24 * time.Hour)}
	if err := m.CreateRefresh(ctx, first, 0); err != nil {
		t.Fatal(err)
	}
	at := t0.Add(30 * time.Minute)
	clock.Set(at)
	next := RefreshRecord{ID: "r2", IssuedAt: at, ExpiresAt: at.Add(time.Hour)}
	if _, err := m.RotateRefresh(ctx, "r1", next, at); err != nil {
		t.Fatal(err)
	}
	clock.Set(t0.Add(2 * time.Hour)) // r1 and r2 expired, the family has 22h left
	sweepNow(t, m)
	if st := m.Stats(); st.RefreshRecords != 2 || st.Families != 1 {
		t.Fatalf("after a sweep: %+v, want the family's 2 records kept", st)
	}
	if _, err := m.RotateRefresh(ctx, "r1", RefreshRecord{ID: "r3"}, m.now()); !errors.Is(err, ErrReused) {
		t.Fatalf("reuse of a spent token after a sweep: %v, want ErrReused", err)
	}
}

// TestCapForgetsOldestRevokedFamilyFirst: at the per-user cap, of two
// revoked families the older one makes room; the newer one is still
// reported revoked.
func TestCapForgetsOldestRevokedFamilyFirst(t *testing.T) {
	ctx := context.Background()
	m, _ := newSwept(t)
	for i := range 3 {
		if err := m.CreateRefresh(ctx, userRecord(i, t0.Add(time.Duration(i)*time.Minute)), 3); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"f0", "f1"} {
		if err := m.RevokeFamily(ctx, f, t0.Add(5*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.CreateRefresh(ctx, userRecord(3, t0.Add(6*time.Minute)), 3); err != nil {
		t.Fatal(err)
	}
	if _, err := m.GetRefresh(ctx, "r0", t0.Add(7*time.Minute)); !errors.Is(err, ErrNotFound) {
		t.Fatalf("oldest revoked family: %v, want forgotten (ErrNotFound)", err)
	}
	if _, err := m.GetRefresh(ctx, "r1", t0.Add(7*time.Minute)); !errors.Is(err, ErrFamilyRevoked) {
		t.Fatalf("newer revoked family: %v, want still known as revoked", err)
	}
	if st := m.Stats(); st.CapRevoked != 0 {
		t.Fatalf("CapRevoked %d: no live family was revoked by the cap", st.CapRevoked)
	}
}

// TestCapRevokedCountsLiveFamilies: Stats counts each live family the
// per-user cap revoked.
func TestCapRevokedCountsLiveFamilies(t *testing.T) {
	ctx := context.Background()
	m, _ := newSwept(t)
	for i := range 5 {
		if err := m.CreateRefresh(ctx, userRecord(i, t0.Add(time.Duration(i)*time.Minute)), 2); err != nil {
			t.Fatal(err)
		}
	}
	if st := m.Stats(); st.CapRevoked != 3 || st.Families != 2 {
		t.Fatalf("stats %+v, want 3 revoked by the cap and 2 families", st)
	}
}

// TestStoreFullWarnsOncePerMinute: the store-wide bound is logged again
// one minute after the last warning, not before.
func TestStoreFullWarnsOncePerMinute(t *testing.T) {
	ctx := context.Background()
	clock := &movingClock{now: t0}
	var logs bytes.Buffer
	m := NewMemoryWith(MemoryOptions{Now: clock.Now, MaxFamilies: 1, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	login := func(i int) {
		t.Helper()
		r := userRecord(i, clock.Now())
		r.Subject = fmt.Sprint(100 + i) // other users: the store-wide bound, not the cap
		if err := m.CreateRefresh(ctx, r, 0); err != nil {
			t.Fatal(err)
		}
	}
	login(0)
	login(1) // full: warns
	clock.Add(time.Minute - time.Nanosecond)
	login(2)
	clock.Set(t0.Add(time.Minute))
	login(3) // one minute after the warning: warns again
	if n := strings.Count(logs.String(), "refresh-token store full"); n != 2 {
		t.Fatalf("%d warnings, want 2 (at +0 and at +1m):\n%s", n, logs.String())
	}
}

// TestRotationBoundRevokesOnlyLiveAccessTokens: a member forgotten past
// MaxSpentPerFamily has its access token revoked only while that token
// lives, and only when it has one.
func TestRotationBoundRevokesOnlyLiveAccessTokens(t *testing.T) {
	ctx := context.Background()
	m, clock := newSwept(t)
	var events []Event
	m.Subscribe(func(e Event) { events = append(events, e) })
	first := RefreshRecord{ID: "z0", Family: "f", Policy: "p", Subject: "2", IssuedAt: t0,
		ExpiresAt: t0.Add(48 * time.Hour), FamilyExpiresAt: t0.Add(48 * time.Hour),
		AccessExpiresAt: t0.Add(48 * time.Hour)} // no access token (an expiry without a jti)
	if err := m.CreateRefresh(ctx, first, 0); err != nil {
		t.Fatal(err)
	}
	at := t0
	for i := 1; i <= MaxSpentPerFamily+2; i++ { // z0 and z1 are forgotten
		at = clock.Add(time.Hour) // each access token (15m) has expired at the next rotation
		next := RefreshRecord{ID: fmt.Sprint("z", i), IssuedAt: at, ExpiresAt: at.Add(48 * time.Hour),
			AccessJTI: fmt.Sprint("a", i), AccessExpiresAt: at.Add(15 * time.Minute)}
		if _, err := m.RotateRefresh(ctx, fmt.Sprint("z", i-1), next, at); err != nil {
			t.Fatal(err)
		}
	}
	for _, e := range events {
		if e.Kind == TokenRevoked {
			t.Errorf("revoked %q: the member forgotten had no live access token", e.JTI)
		}
	}
	if st := m.Stats(); st.RevokedTokens != 0 {
		t.Fatalf("%d revocations remembered, want 0", st.RevokedTokens)
	}
}

// TestRevokeFamilyRevokesOnlyLiveAccessTokens: revoking a family revokes
// the live access tokens of its members, not expired ones nor members
// that have none.
func TestRevokeFamilyRevokesOnlyLiveAccessTokens(t *testing.T) {
	ctx := context.Background()
	m, _ := newSwept(t)
	var events []Event
	m.Subscribe(func(e Event) { events = append(events, e) })
	mk := func(id, family, jti string, accessExp time.Time) {
		t.Helper()
		r := RefreshRecord{ID: id, Family: family, Policy: "p", Subject: id, IssuedAt: t0, ExpiresAt: t0.Add(24 * time.Hour),
			FamilyExpiresAt: t0.Add(24 * time.Hour), AccessJTI: jti, AccessExpiresAt: accessExp}
		if err := m.CreateRefresh(ctx, r, 0); err != nil {
			t.Fatal(err)
		}
	}
	mk("none", "fn", "", t0.Add(time.Hour))
	mk("expired", "fe", "a-expired", t0.Add(time.Minute))
	mk("live", "fl", "a-live", t0.Add(time.Hour))
	for _, f := range []string{"fn", "fe", "fl"} {
		if err := m.RevokeFamily(ctx, f, t0.Add(10*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	var jtis []string
	for _, e := range events {
		if e.Kind == TokenRevoked {
			jtis = append(jtis, e.JTI)
		}
	}
	if len(jtis) != 1 || jtis[0] != "a-live" || m.Stats().RevokedTokens != 1 {
		t.Fatalf("revoked %q (%d remembered), want only a-live", jtis, m.Stats().RevokedTokens)
	}
}

// TestZeroLimitNeverThrottles: a limit with no attempts or no window
// (throttle off) never blocks nor keeps state, and giving back under it
// leaves a key's state alone.
func TestZeroLimitNeverThrottles(t *testing.T) {
	ctx := context.Background()
	m, _ := newSwept(t)
	lim := Limit{Max: 1, Window: time.Minute}
	if _, err := m.Attempt(ctx, "k", lim, t0); err != nil {
		t.Fatal(err)
	}
	for _, off := range []Limit{{Max: 0, Window: time.Minute}, {Max: 3, Window: 0}, {Max: -1, Window: time.Minute}, {Max: 3, Window: -time.Second}} {
		for i := range 5 {
			w, err := m.Attempt(ctx, fmt.Sprintf("off-%v", off), off, t0)
			if err != nil || w != 0 {
				t.Fatalf("limit %+v, attempt %d: wait %v, err %v", off, i, w, err)
			}
		}
		if err := m.Release(ctx, "k", off, t0); err != nil {
			t.Fatal(err)
		}
	}
	if w, _ := m.Throttled(ctx, "k", t0); w != time.Minute {
		t.Fatalf("a release under a limit that is off changed the key: wait %v, want 1m", w)
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if len(m.throttles) != 1 {
		t.Fatalf("%d throttle entries, want only k's", len(m.throttles))
	}
}

// TestShrunkCopiesOnlyAfterALargePeak: a map is copied (to give its
// memory back) when a sweep took it from a peak of at least 1024 entries
// to less than a quarter of that, and kept otherwise.
func TestShrunkCopiesOnlyAfterALargePeak(t *testing.T) {
	mapOf := func(n int) map[int]bool {
		m := make(map[int]bool, n)
		for i := range n {
			m[i] = true
		}
		return m
	}
	for _, c := range []struct {
		len, peak int
		copied    bool
	}{
		{10, 1023, false}, {10, 1024, true}, {255, 1024, true}, {256, 1024, false},
		{300, 1024, false}, {1000, 4000, false}, {999, 4000, true}, {0, 100000, true},
	} {
		m := mapOf(c.len)
		got := shrunk(m, c.peak)
		same := reflect.ValueOf(got).UnsafePointer() == reflect.ValueOf(m).UnsafePointer()
		if same == c.copied || len(got) != c.len {
			t.Errorf("shrunk(%d entries, peak %d): copied %v (len %d), want copied %v", c.len, c.peak, !same, len(got), c.copied)
		}
	}
}

// userRecord is login i of user 2: family "f<i>", refresh "r<i>".
func userRecord(i int, now time.Time) RefreshRecord {
	return RefreshRecord{
		ID: fmt.Sprint("r", i), Family: fmt.Sprint("f", i), Policy: "default/local", Subject: "2",
		IssuedAt: now, ExpiresAt: now.Add(2 * time.Hour), FamilyExpiresAt: now.Add(2 * time.Hour),
		AccessJTI: fmt.Sprint("a", i), AccessExpiresAt: now.Add(15 * time.Minute),
	}
}

// TestRevokeFamilyRevokesEveryLiveMember: a member whose access token has
// expired is skipped, and the members after it still have theirs revoked.
func TestRevokeFamilyRevokesEveryLiveMember(t *testing.T) {
	ctx := context.Background()
	m, clock := newSwept(t)
	first := RefreshRecord{ID: "m1", Family: "f", Policy: "p", Subject: "2", IssuedAt: t0, ExpiresAt: t0.Add(24 * time.Hour),
		FamilyExpiresAt: t0.Add(24 * time.Hour), AccessJTI: "a1", AccessExpiresAt: t0.Add(15 * time.Minute)}
	if err := m.CreateRefresh(ctx, first, 0); err != nil {
		t.Fatal(err)
	}
	at := clock.Add(time.Hour)
	next := RefreshRecord{ID: "m2", IssuedAt: at, ExpiresAt: at.Add(time.Hour), AccessJTI: "a2", AccessExpiresAt: at.Add(15 * time.Minute)}
	if _, err := m.RotateRefresh(ctx, "m1", next, at); err != nil {
		t.Fatal(err)
	}
	if err := m.RevokeFamily(ctx, "f", at.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if !m.TokenRevoked("a2") || m.TokenRevoked("a1") {
		t.Fatalf("a2 revoked %v (want true), expired a1 revoked %v (want false)", m.TokenRevoked("a2"), m.TokenRevoked("a1"))
	}
}
