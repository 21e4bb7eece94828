package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/wpauthz/wpauthz/authz/store"
	"github.com/wpauthz/wpauthz/authz/store/redisstore"
	"github.com/wpauthz/wpauthz/test/redistest"
)

// hangBound detects a call that waits on a frozen Redis: 10x the default
// call timeout, well under the 5 s go-redis socket timeout (and the 10 s
// of two) that calls used to wait out.
const hangBound = 2 * time.Second

// TestFrozenRedisCallsFailAtOnce: the first calls into a Redis frozen a
// moment ago (before the heartbeat notices) fail with ErrUnavailable
// after at most the call timeout, never as "not found"; the failure marks
// Redis unreachable at once (Healthy, and every later call fails without
// trying); after SIGCONT the connections that had commands pending are
// not reused, so every reply belongs to its own call.
func TestFrozenRedisCallsFailAtOnce(t *testing.T) {
	srv := redistest.Start(t)
	s := openURL(t, srv.URL, "single", prefix(), redisstore.Options{CallTimeout: redisstore.DefaultCallTimeout})
	ctx := context.Background()
	now := time.Now()
	recs := make([]store.RefreshRecord, 8)
	for i := range recs {
		recs[i] = store.RefreshRecord{ID: fmt.Sprintf("rt-%d", i), Family: fmt.Sprintf("fam-%d", i), Policy: "ns/p", Subject: fmt.Sprint(i),
			IssuedAt: now, ExpiresAt: now.Add(time.Hour), FamilyExpiresAt: now.Add(time.Hour)}
		if err := s.CreateRefresh(ctx, recs[i], 0); err != nil {
			t.Fatal(err)
		}
	}

	srv.Pause()
	// Several calls at once, so that several pooled connections send a
	// command that stays unanswered.
	var wg sync.WaitGroup
	errs := make([]error, len(recs))
	took := make([]time.Duration, len(recs))
	for i, rec := range recs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			began := time.Now()
			_, errs[i] = s.GetRefresh(ctx, rec.ID, now)
			took[i] = time.Since(began)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if !errors.Is(err, redisstore.ErrUnavailable) || errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrFamilyRevoked) {
			t.Errorf("GetRefresh on a frozen Redis: %v, want ErrUnavailable only", err)
		}
		if took[i] >= hangBound {
			t.Errorf("GetRefresh on a frozen Redis answered after %v (hang bound %v)", took[i], hangBound)
		}
	}
	t.Logf("GetRefresh x%d on a Redis frozen a moment ago: slowest %v", len(recs), slowest(took))
	if s.Healthy() {
		t.Error("still healthy after calls went unanswered")
	}
	began := time.Now()
	if _, err := s.Attempt(ctx, "user:x", store.Limit{Max: 3, Window: time.Minute}, now); !errors.Is(err, redisstore.ErrUnavailable) {
		t.Errorf("Attempt once Redis is known unreachable: %v", err)
	}
	t.Logf("the next call failed after %v", time.Since(began))

	srv.Resume()
	if !waitFor(t, 10*time.Second, s.Healthy) {
		t.Fatal("never healthy again after SIGCONT")
	}
	// Every reply is its own call's: a connection left with a reply
	// pending would hand one call another's record.
	for round := range 5 {
		for _, rec := range recs {
			got, err := s.GetRefresh(ctx, rec.ID, now)
			if err != nil || got.ID != rec.ID || got.Family != rec.Family {
				t.Fatalf("round %d, after SIGCONT: GetRefresh(%s) = %s/%s, %v", round, rec.ID, got.ID, got.Family, err)
			}
		}
		if w, err := s.Throttled(ctx, fmt.Sprintf("rested:%d", round), now); err != nil || w != 0 {
			t.Fatalf("round %d, after SIGCONT: Throttled = %v, %v", round, w, err)
		}
	}
}

func slowest(d []time.Duration) time.Duration {
	var m time.Duration
	for _, x := range d {
		m = max(m, x)
	}
	return m
}
