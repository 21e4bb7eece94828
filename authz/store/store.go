// Package store holds wpauthz's token state: revoked token IDs (until the
// token would have expired anyway), per-subject "tokens issued before T are
// dead" watermarks, refresh-token families, and login throttles.
//
// The check path reads revocations through TokenRevoked and RevokedBefore,
// which must answer from local memory and never wait on I/O: a Redis
// implementation keeps a local copy fed by pub/sub (DESIGN.md, "Shared
// state"). Everything else may do I/O and takes a context.
//
// Memory is the implementation for standalone mode and tests; storetest
// holds the conformance suite every implementation must pass.
package store

import (
	"context"
	"errors"
	"time"
)

// Store is every kind of state; one backend implements all of it.
type Store interface {
	Revocations
	RefreshTokens
	Throttles
	// Subscribe calls f after every revocation, on every replica (for
	// Memory: this process), so caches of the subject can be dropped.
	// The returned function unsubscribes.
	Subscribe(f func(Event)) (cancel func())
	// Close releases the backend.
	Close() error
}

// Revocations are revoked access tokens and subject watermarks.
type Revocations interface {
	// RevokeToken revokes one token ID until expires (its exp); later
	// the entry may be forgotten, the token being dead by expiry.
	RevokeToken(ctx context.Context, jti string, expires time.Time) error
	// TokenRevoked reports whether jti is revoked. Local and non-blocking.
	TokenRevoked(jti string) bool
	// RevokeSubject kills every token of subject issued before before
	// (a watermark only ever moves forward). keep bounds how long the
	// watermark must be remembered: the longest lifetime of any token of
	// the subject (refresh tokens included).
	RevokeSubject(ctx context.Context, subject string, before time.Time, keep time.Duration) error
	// RevokedBefore is subject's watermark, zero when none. Local and
	// non-blocking.
	RevokedBefore(subject string) time.Time
}

// RefreshTokens are rotating refresh tokens, grouped in families (one
// login's chain of rotations).
type RefreshTokens interface {
	// CreateRefresh stores the first token of a new family. The user
	// (rec.Policy, rec.Subject) keeps at most maxPerUser families (0: no
	// cap): expired ones are forgotten, then revoked ones, then the
	// oldest live ones are revoked (as RevokeFamily: with their access
	// tokens) and forgotten, in the same atomic step.
	CreateRefresh(ctx context.Context, rec RefreshRecord, maxPerUser int) error
	// RotateRefresh spends the token id and stores next (same family) in
	// one atomic step, returning the spent record. A family keeps its
	// last MaxSpentPerFamily spent tokens: an older one is forgotten (the
	// access token issued with it revoked if still live), so presenting
	// it is refused as unknown (ErrNotFound) rather than told as reuse.
	// Errors:
	//   - ErrNotFound: unknown or expired;
	//   - ErrReused: id was already spent — a stolen copy is in use, so
	//     the whole family is revoked, with the access tokens issued with
	//     its members (RevokeToken), and nothing is stored;
	//   - ErrFamilyRevoked: the family was revoked earlier;
	//   - ErrUnavailable: the backend did not answer (nothing is known
	//     about the token).
	RotateRefresh(ctx context.Context, id string, next RefreshRecord, now time.Time) (RefreshRecord, error)
	// GetRefresh returns a live record without spending it; the errors
	// are RotateRefresh's (but nothing is revoked).
	GetRefresh(ctx context.Context, id string, now time.Time) (RefreshRecord, error)
	// RevokeFamily revokes a family and the access tokens of its members.
	RevokeFamily(ctx context.Context, family string, now time.Time) error
}

// MaxSpentPerFamily is how many spent refresh tokens a family keeps for
// reuse detection: with rotations at each access token's expiry (15m by
// default), eight hours of them. It bounds what one login can make the
// store hold, however fast it rotates.
const MaxSpentPerFamily = 32

// RefreshRecord is what the store keeps about one refresh token. The
// token itself is never stored: ID is a hash of it.
type RefreshRecord struct {
	ID        string
	Family    string
	Policy    string // namespace/name of the issuing WPApiPolicy
	Subject   string // WordPress user ID
	IssuedAt  time.Time
	ExpiresAt time.Time
	// FamilyExpiresAt bounds the family: no rotation extends it.
	FamilyExpiresAt time.Time
	// AccessJTI and AccessExpiresAt name the access token issued with it,
	// revoked with the family.
	AccessJTI       string
	AccessExpiresAt time.Time
}

// Throttles count login attempts per key (a WordPress user, a client
// address) with the generic cell rate algorithm (GCRA): a key may be
// tried at limit.Max/limit.Window on average, with a burst of up to
// limit.Max attempts from a rested key. The state is one instant per key,
// the theoretical arrival time (TAT): every counted attempt moves it to
// max(TAT, now) + Window/Max, and an attempt conforms while
// TAT - now <= Window - Window/Max. Unlike a fixed window there is no
// edge where two bursts meet: of any attempts closer together than
// Window/Max, at most limit.Max are counted, wherever they fall, and
// attempts spread at or under the rate always conform. A key at rest
// (TAT <= now) is as good as a new one, and implementations forget it
// then.
//
// An attempt is counted before it is evaluated, in one atomic step per
// key (Attempt): of any number of simultaneous attempts, on any number
// of replicas, exactly as many as the limit leaves room for are let
// through. A refused attempt is not counted (nothing was evaluated), so
// a blocked key opens on time whatever is sent at it. A caller whose
// attempt succeeded gives its slot back (Release): the limits count
// failures, and a slot held while a check runs.
//
// Time is the caller's now, not the backend's clock, so that every
// implementation agrees with the in-memory one under a test clock; in
// production the replicas' clocks are NTP-synced, and a skew of d between
// two replicas shifts the waits they compute by at most d.
type Throttles interface {
	// Attempt takes a slot for one attempt on key at now under limit.
	// When the attempt conforms it is counted and Attempt returns 0;
	// when key is blocked nothing is counted and Attempt returns how
	// long until an attempt would conform. A limit with Max <= 0 counts
	// nothing and never blocks.
	Attempt(ctx context.Context, key string, limit Limit, now time.Time) (time.Duration, error)
	// Release gives back one slot that Attempt took on key under limit
	// (the attempt succeeded). It never takes key below rest.
	Release(ctx context.Context, key string, limit Limit, now time.Time) error
	// Throttled reports how long key must wait before an attempt would
	// conform; 0 when it may try now. It counts nothing: it is for a
	// caller that evaluates no guess (a credential verified earlier).
	Throttled(ctx context.Context, key string, now time.Time) (time.Duration, error)
}

// Limit is a throttle rule: at most Max attempts per Window on average,
// and Max in a burst.
type Limit struct {
	Max    int
	Window time.Duration
}

// Interval is the emission interval: the time one counted attempt takes
// to be forgiven, Window/Max in whole microseconds (at least one), so that
// every backend computes with the same value.
func (l Limit) Interval() time.Duration {
	return max((l.Window / time.Duration(l.Max)).Truncate(time.Microsecond), time.Microsecond)
}

// Tolerance is how far ahead of now the TAT may run before the key is
// blocked: room for Max - 1 attempts besides the one being counted.
func (l Limit) Tolerance() time.Duration {
	return l.Interval() * time.Duration(l.Max-1)
}

// EventKind says what was revoked.
type EventKind uint8

// Event kinds.
const (
	TokenRevoked EventKind = iota + 1
	SubjectRevoked
	FamilyRevoked
)

// Event is one revocation.
type Event struct {
	Kind    EventKind
	JTI     string
	Subject string
	Family  string
	Before  time.Time
}

// Errors. ErrNotFound, ErrReused and ErrFamilyRevoked are answers: the
// token is not live. ErrUnavailable (and any other error) is not: the
// backend did not answer, and callers must not tell a client its token
// or credential is invalid then (they answer 503).
var (
	ErrNotFound      = errors.New("store: not found")
	ErrReused        = errors.New("store: refresh token reused; family revoked")
	ErrFamilyRevoked = errors.New("store: refresh token family revoked")
	ErrExists        = errors.New("store: record exists")
	// ErrUnavailable wraps every failure of a backend to answer (Redis
	// unreachable, frozen, timed out).
	ErrUnavailable = errors.New("store: unavailable")
)

// NotLive reports whether err says a refresh token is not live (unknown,
// expired, spent or revoked), as opposed to the store failing.
func NotLive(err error) bool {
	return errors.Is(err, ErrNotFound) || errors.Is(err, ErrReused) || errors.Is(err, ErrFamilyRevoked)
}
