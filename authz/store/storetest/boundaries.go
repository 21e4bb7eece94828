package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/wpauthz/wpauthz/authz/store"
)

// runRefreshBoundaries checks the edges of a refresh token's life: the
// instant it expires, and a family that is dead.
func runRefreshBoundaries(t *testing.T, newStore Factory) {
	ctx := context.Background()
	t.Run("RefreshRefusedAtExactlyItsExpiry", func(t *testing.T) {
		s, _ := newStore(t)
		r := rec("x1", "fx", base)
		r.ExpiresAt = base.Add(time.Hour)
		must(t, s.CreateRefresh(ctx, r, 0))
		last := r.ExpiresAt.Add(-time.Microsecond)
		if _, err := s.GetRefresh(ctx, "x1", last); err != nil {
			t.Fatalf("GetRefresh just before its expiry: %v", err)
		}
		if _, err := s.GetRefresh(ctx, "x1", r.ExpiresAt); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("GetRefresh at exactly its expiry: %v, want ErrNotFound", err)
		}
		if _, err := s.RotateRefresh(ctx, "x1", rec("x2", "", r.ExpiresAt), r.ExpiresAt); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("RotateRefresh at exactly its expiry: %v, want ErrNotFound", err)
		}
		// The same at the family's expiry, the token's own still ahead.
		f := rec("y1", "fy", base)
		f.FamilyExpiresAt = base.Add(time.Hour)
		must(t, s.CreateRefresh(ctx, f, 0))
		if _, err := s.GetRefresh(ctx, "y1", f.FamilyExpiresAt); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("GetRefresh at exactly its family's expiry: %v, want ErrNotFound", err)
		}
		if _, err := s.RotateRefresh(ctx, "y1", rec("y2", "", f.FamilyExpiresAt), f.FamilyExpiresAt); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("RotateRefresh at exactly its family's expiry: %v, want ErrNotFound", err)
		}
		if _, err := s.RotateRefresh(ctx, "y1", rec("y3", "", last), last); err != nil {
			t.Fatalf("RotateRefresh just before its family's expiry: %v", err)
		}
	})
	t.Run("NewTokenNeverJoinsARevokedFamily", func(t *testing.T) {
		s, _ := newStore(t)
		must(t, s.CreateRefresh(ctx, rec("v1", "fv", base), 0))
		must(t, s.RevokeFamily(ctx, "fv", base.Add(time.Minute)))
		if err := s.CreateRefresh(ctx, rec("v2", "fv", base.Add(2*time.Minute)), 0); !errors.Is(err, store.ErrFamilyRevoked) {
			t.Fatalf("a new token in a revoked family: %v, want ErrFamilyRevoked", err)
		}
		if _, err := s.GetRefresh(ctx, "v2", base.Add(3*time.Minute)); err == nil {
			t.Fatal("the token created into a revoked family is live")
		}
	})
}
