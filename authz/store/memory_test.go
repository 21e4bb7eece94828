package store_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/wpauthz/wpauthz/authz/store"
	"github.com/wpauthz/wpauthz/authz/store/storetest"
)

func TestMemoryConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) (store.Store, func()) {
		return store.NewMemory(func() time.Time { return time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC) }), func() {}
	})
}

// TestHardening6_MemoryStoreWideBound: at MaxFamilies a new login revokes
// the oldest family of the store (whoever's), with its access token, says
// so in the log (once a minute) and in Stats.
func TestHardening6_MemoryStoreWideBound(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	var logs bytes.Buffer
	m := store.NewMemoryWith(store.MemoryOptions{
		Now: func() time.Time { return now }, MaxFamilies: 10,
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	for i := range 25 { // 25 users, one login each
		if err := m.CreateRefresh(ctx, record(i, now.Add(time.Duration(i)*time.Second)), 50); err != nil {
			t.Fatal(err)
		}
	}
	st := m.Stats()
	if st.Families != 10 || st.RefreshRecords != 10 || st.FullRevoked != 15 {
		t.Fatalf("stats %+v, want 10 families kept and 15 revoked at the bound", st)
	}
	for i := range 25 {
		_, err := m.GetRefresh(ctx, fmt.Sprint("r", i), now.Add(time.Minute))
		if live := err == nil; live != (i >= 15) {
			t.Errorf("login %d live: %v", i, live)
		}
		if revoked := m.TokenRevoked(fmt.Sprint("a", i)); revoked != (i < 15) {
			t.Errorf("access token of login %d revoked: %v", i, revoked)
		}
	}
	if n := strings.Count(logs.String(), "refresh-token store full"); n != 1 {
		t.Fatalf("%d log lines for the bound (want one a minute):\n%s", n, logs.String())
	}
}

// TestMemorySweepsExpiredState: on a moving clock the sweep forgets
// expired families (every user's, not only the one logging in), spent
// revocations and throttles at rest.
func TestMemorySweepsExpiredState(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	m := store.NewMemory(func() time.Time { return now })
	for i := range 100 {
		if err := m.CreateRefresh(ctx, record(i, now), 50); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.RevokeToken(ctx, "gone", now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if st := m.Stats(); st.Families != 100 || st.RevokedTokens != 1 {
		t.Fatalf("before expiry: %+v", st)
	}
	now = now.Add(3 * time.Hour) // the families (2h) and the revocation (1h) expired
	if err := m.CreateRefresh(ctx, record(1000, now), 50); err != nil {
		t.Fatal(err)
	}
	if st := m.Stats(); st.Families != 1 || st.RefreshRecords != 1 || st.RevokedTokens != 0 {
		t.Fatalf("after expiry and a sweep: %+v", st)
	}
}

// record is login i's first refresh record: user i, a family of 2h.
func record(i int, now time.Time) store.RefreshRecord {
	return store.RefreshRecord{
		ID: fmt.Sprint("r", i), Family: fmt.Sprint("f", i), Policy: "default/local", Subject: fmt.Sprint(i + 1),
		IssuedAt: now, ExpiresAt: now.Add(2 * time.Hour), FamilyExpiresAt: now.Add(2 * time.Hour),
		AccessJTI: fmt.Sprint("a", i), AccessExpiresAt: now.Add(15 * time.Minute),
	}
}
