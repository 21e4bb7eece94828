package store_test

import (
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
