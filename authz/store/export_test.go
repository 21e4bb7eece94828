package store

import (
	"context"
	"time"
)

// ThrottleKept implements storetest.ThrottleKeeper for the conformance
// suite: how long key's throttle entry has until it is at rest.
func (m *Memory) ThrottleKept(_ context.Context, key string, now time.Time) (time.Duration, bool, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	t := m.throttles[key]
	if t == nil {
		return 0, false, nil
	}
	return t.tat.Sub(now), true, nil
}

// RefreshState implements storetest.RefreshCounter.
func (m *Memory) RefreshState(context.Context) (families, records int, err error) {
	st := m.Stats()
	return st.Families, st.RefreshRecords, nil
}
