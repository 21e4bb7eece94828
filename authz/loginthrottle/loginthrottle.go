// Package loginthrottle checks login secrets (the token endpoints'
// logins, Basic on the check path) under a policy's login throttles
// (spec.throttle.login), so that guessing is bounded however the guesses
// are sent:
//
//   - an attempt takes its slots (store.Throttles.Attempt) before the
//     secret is checked, so simultaneous guesses, on any number of
//     replicas, cannot all get past a check that was made before any of
//     them was counted; a success gives its slots back, so the limits
//     count failures;
//   - the per-user bucket belongs to the WordPress user the name resolves
//     to (policy and user ID), however the name was spelled (login,
//     email, case, accents, trailing spaces: whatever the directory
//     equates); a name that resolves to nobody is folded
//     (wpusers.FoldName) at least as coarsely as the site's collation;
//   - a secret that may be an application password is still checked as
//     one when the user's bucket is blocked (but not as her password):
//     nobody can lock an integration out by failing her password, and a
//     24-character random secret gives a guesser nothing to gain;
//     OAuthClient secrets are counted per client address only.
//
// docs/security.md gives the reasons; the tests named TestHardening2_*,
// TestHardening3_* and TestHardening9_* are the proof.
package loginthrottle

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/wpauthz/wpauthz/authz/policy"
	"github.com/wpauthz/wpauthz/authz/store"
	"github.com/wpauthz/wpauthz/authz/wpusers"
)

// ErrUnavailable is returned when the throttle store does not answer.
// Callers fail closed: without the store a login would be an unthrottled
// password oracle.
var ErrUnavailable = errors.New("login throttle unavailable")

// Blocked is the error of an attempt refused before any check: Wait is
// how long until one would be let through.
type Blocked struct{ Wait time.Duration }

func (b *Blocked) Error() string { return fmt.Sprintf("login throttled for %v", b.Wait) }

// Guard applies the throttles of the policy it is given to the attempts
// it checks.
type Guard struct {
	Store store.Throttles
}

// Login checks a WordPress login (name is a login or an email) from
// remote (the client address, "" when unknown) with the policy's user
// directory, under accept. It returns the user and how the secret
// matched, or *Blocked, wpusers.ErrInvalidCredentials, ErrUnavailable
// (the throttle store) or the directory's ErrUnavailable.
func (g Guard) Login(ctx context.Context, p *policy.Policy, remote, name, secret string, accept wpusers.Accept, now time.Time) (*wpusers.User, string, error) {
	dir := p.Users
	// Credentials verified before are no guess: they are let through
	// while their buckets are open, without taking a slot, so that a
	// burst of calls with a known credential cannot fill the buckets.
	if u, how, ok := dir.Verified(ctx, name, secret, accept); ok {
		if err := g.open(ctx, p, clientKey(p, remote), now); err != nil {
			return nil, "", err
		}
		if how != wpusers.ByAppPassword {
			if err := g.open(ctx, p, userKey(p, u.ID), now); err != nil {
				return nil, "", err
			}
		}
		return u, how, nil
	}

	var a attempt
	if err := a.take(ctx, g.Store, clientKey(p, remote), p.LoginClient, now); err != nil {
		return nil, "", err
	}
	key, err := nameKey(ctx, p, name)
	if err != nil {
		return nil, "", err
	}
	if err := a.take(ctx, g.Store, key, p.LoginUser, now); err != nil {
		var b *Blocked
		if !errors.As(err, &b) || !accept.AppPasswords || !wpusers.MayBeAppPassword(secret) {
			return nil, "", err
		}
		// The user's bucket is blocked, but the secret may be one of her
		// application passwords: check it as that only. Her password is
		// not tried, so the blocked bucket protects it all the same.
		accept = wpusers.Accept{AppPasswords: true}
	}
	u, how, err := dir.Authenticate(ctx, name, secret, accept)
	if err == nil {
		a.release(ctx, g.Store, now)
	}
	return u, how, err
}

// Client checks an OAuthClient's secret from remote: verify reports
// whether it matches. A client secret is counted per client address
// only: it is the client's (high-entropy) secret, not a user's password,
// and its check is one constant-time hash comparison, so a failure is
// counted after it. The error is *Blocked or ErrUnavailable; ok is false
// for a wrong secret.
func (g Guard) Client(ctx context.Context, p *policy.Policy, remote string, now time.Time, verify func() bool) (ok bool, err error) {
	key := clientKey(p, remote)
	if verify() {
		return true, g.open(ctx, p, key, now)
	}
	var a attempt
	return false, a.take(ctx, g.Store, key, p.LoginClient, now)
}

// open refuses with *Blocked when key is blocked, counting nothing.
func (g Guard) open(ctx context.Context, p *policy.Policy, key string, now time.Time) error {
	if key == "" {
		return nil
	}
	w, err := g.Store.Throttled(ctx, key, now)
	switch {
	case err != nil:
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	case w > 0:
		return &Blocked{Wait: w}
	}
	return nil
}

// attempt is the slots one login attempt holds.
type attempt struct {
	taken []slot
}

type slot struct {
	key   string
	limit store.Limit
}

// take counts the attempt on key, or refuses it with *Blocked.
func (a *attempt) take(ctx context.Context, s store.Throttles, key string, limit store.Limit, now time.Time) error {
	if key == "" || limit.Max <= 0 {
		return nil
	}
	w, err := s.Attempt(ctx, key, limit, now)
	switch {
	case err != nil:
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	case w > 0:
		return &Blocked{Wait: w}
	}
	a.taken = append(a.taken, slot{key, limit})
	return nil
}

// release gives the slots back after a success, also when the caller has
// gone meanwhile. Best effort: a slot not given back is one more failure
// counted, never one fewer.
func (a *attempt) release(ctx context.Context, s store.Throttles, now time.Time) {
	ctx = context.WithoutCancel(ctx)
	for _, t := range a.taken {
		_ = s.Release(ctx, t.key, t.limit, now)
	}
}

// nameKey is the per-user bucket of a typed name: the user it resolves
// to, looked up exactly as Authenticate looks it up (the directory's
// cache, then the source), or the folded name when it resolves to nobody.
// The fold is computed for every name, so that a known and an unknown
// name cost the same.
func nameKey(ctx context.Context, p *policy.Policy, name string) (string, error) {
	fold := wpusers.FoldName(name)
	u, err := p.Users.Lookup(ctx, name)
	switch {
	case err == nil:
		return userKey(p, u.ID), nil
	case errors.Is(err, wpusers.ErrNotFound):
		return "login:user:" + p.Key() + ":name:" + fold, nil
	default:
		return "", err
	}
}

// userKey is a WordPress user's bucket.
func userKey(p *policy.Policy, id int64) string {
	return "login:user:" + p.Key() + ":id:" + strconv.FormatInt(id, 10)
}

// clientKey is a client address's bucket, "" when the address is unknown.
func clientKey(p *policy.Policy, remote string) string {
	if remote == "" {
		return ""
	}
	return "login:client:" + p.Key() + ":" + remote
}
