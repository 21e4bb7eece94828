package store

import (
	"context"
	"testing"
	"time"
)

// TestMemoryForgetsThrottlesAtRest: the sweep drops a key once its bucket
// is empty (TAT passed), and only then.
func TestMemoryForgetsThrottlesAtRest(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	now := t0
	m := NewMemory(func() time.Time { return now })
	lim := Limit{Max: 3, Window: time.Minute}
	if _, err := m.Attempt(ctx, "rested", lim, t0); err != nil { // TAT t0+20s
		t.Fatal(err)
	}
	slow := Limit{Max: 10, Window: 10 * time.Minute}
	for range 10 { // TAT t0+10m
		if _, err := m.Attempt(ctx, "busy", slow, t0); err != nil {
			t.Fatal(err)
		}
	}
	now = t0.Add(2 * time.Minute) // the next write sweeps
	if _, err := m.Attempt(ctx, "new", lim, now); err != nil {
		t.Fatal(err)
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if _, ok := m.throttles["rested"]; ok {
		t.Error("a key at rest was kept")
	}
	if _, ok := m.throttles["busy"]; !ok {
		t.Error("a key still blocked was forgotten")
	}
	if len(m.throttles) != 2 {
		t.Errorf("%d throttle entries, want 2", len(m.throttles))
	}
}
