package authz

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/wpauthz/wpauthz/authz/basicauth"
	"github.com/wpauthz/wpauthz/authz/identity"
	"github.com/wpauthz/wpauthz/authz/loginthrottle"
	"github.com/wpauthz/wpauthz/authz/policy"
	"github.com/wpauthz/wpauthz/authz/wperror"
	"github.com/wpauthz/wpauthz/authz/wpusers"
)

// basic checks "Authorization: Basic" credentials: an OAuthClient's
// client_id:client_secret when the name is a client ID of the policy (and
// client secrets are accepted), otherwise a WordPress login or email with
// the user's password or an application password, as the policy allows.
//
// A warm call (the same credentials verified within the credential cache's
// lifetime, the user's record cached) does no hashing and no database
// query; its only I/O is reading the throttle buckets. A cold
// one reads the user from the WordPress database (bounded by the policy's
// query timeout) and runs one hash check per candidate secret; a database
// that does not answer refuses the request with 503 (fail closed).
//
// Attempts count towards the policy's login throttles (loginthrottle:
// taken before the secret is checked, per WordPress user and per client
// address; a client secret per address only); a throttled caller gets
// 429 before any check runs.
func (e *Engine) basic(ctx context.Context, p *policy.Policy, req *Request, value string, now time.Time) (*identity.Identity, *Decision) {
	name, secret, err := basicauth.Decode(value)
	if err != nil {
		return nil, denyBasicInvalid
	}
	guard := loginthrottle.Guard{Store: e.store}

	if p.Basic.ClientSecrets && p.Basic.Clients.Has(name) {
		var c *basicauth.Client
		ok, err := guard.Client(ctx, p, req.RemoteAddr, now, func() bool {
			var ok bool
			c, ok = p.Basic.Clients.Verify(name, secret)
			return ok
		})
		if d := e.throttleDecision(ctx, p, err); d != nil {
			return nil, d
		}
		if !ok {
			return nil, denyBasicInvalid
		}
		return e.clientIdentity(ctx, p, c)
	}
	if p.Users == nil || (!p.Basic.Users.Passwords && !p.Basic.Users.AppPasswords) {
		return nil, denyBasicInvalid
	}
	u, _, err := guard.Login(ctx, p, req.RemoteAddr, name, secret, p.Basic.Users, now)
	switch {
	case err == nil:
		return &identity.Identity{UserID: u.ID, Login: u.Login, Roles: u.Roles, Method: identity.MethodBasic}, nil
	case errors.Is(err, wpusers.ErrInvalidCredentials):
		return nil, denyBasicInvalid
	}
	if d := e.throttleDecision(ctx, p, err); d != nil {
		return nil, d
	}
	e.log.WarnContext(ctx, "basic authentication: user directory unavailable", "policy", p.Key(), "err", err)
	return nil, denyDirectoryDown
}

// throttleDecision is the denial for a login throttle's error: 429 when
// blocked, 503 when the throttle store does not answer, nil for any other
// error (and none).
func (e *Engine) throttleDecision(ctx context.Context, p *policy.Policy, err error) *Decision {
	var b *loginthrottle.Blocked
	switch {
	case errors.As(err, &b):
		return TooManyAttempts(b.Wait)
	case errors.Is(err, loginthrottle.ErrUnavailable):
		e.log.WarnContext(ctx, "login throttle unavailable", "policy", p.Key(), "err", err)
		return denyStoreDown
	}
	return nil
}

// clientIdentity is an OAuthClient's identity: the WordPress user it acts
// as (roles from the database when the policy has one), or the client
// itself with its roles.
func (e *Engine) clientIdentity(ctx context.Context, p *policy.Policy, c *basicauth.Client) (*identity.Identity, *Decision) {
	if c.UserID == 0 && c.UserLogin == "" {
		id := c.Identity()
		return &id, nil
	}
	if p.Users == nil {
		return &identity.Identity{UserID: c.UserID, Login: c.UserLogin, Subject: subjectOf(c), Roles: c.Roles, Method: identity.MethodBasic}, nil
	}
	return e.directoryIdentity(ctx, p, c.UserID, c.UserLogin, identity.MethodBasic, denyBasicInvalid)
}

// directoryIdentity is WordPress user id (or login, when id is 0) as the
// policy's user directory knows them now: their current login and roles.
// A user who is gone gets gone; a directory that does not answer, 503.
func (e *Engine) directoryIdentity(ctx context.Context, p *policy.Policy, id int64, login, method string, gone *Decision) (*identity.Identity, *Decision) {
	var u *wpusers.User
	var err error
	if id != 0 {
		u, err = p.Users.User(ctx, id)
	} else {
		u, err = p.Users.Lookup(ctx, login)
	}
	switch {
	case err == nil:
		return &identity.Identity{UserID: u.ID, Login: u.Login, Roles: u.Roles, Method: method}, nil
	case errors.Is(err, wpusers.ErrNotFound):
		return nil, gone
	default:
		e.log.WarnContext(ctx, "user directory unavailable", "policy", p.Key(), "method", method, "err", err)
		return nil, denyDirectoryDown
	}
}

func subjectOf(c *basicauth.Client) string {
	if c.UserID != 0 {
		return strconv.FormatInt(c.UserID, 10)
	}
	return "login:" + c.UserLogin
}

// TooManyAttempts is the 429 denial with Retry-After in whole seconds
// (rounded up, at least 1).
func TooManyAttempts(wait time.Duration) *Decision {
	secs := int64((wait + time.Second - 1) / time.Second)
	if secs < 1 {
		secs = 1
	}
	e := wperror.TooManyAttempts
	return &Decision{
		Status: http.StatusTooManyRequests, Code: e.Code, Body: e.Body(), Reason: "login throttled",
		ResponseHeaders: []Header{{Name: "Content-Type", Value: "application/json; charset=UTF-8"}, {Name: "Retry-After", Value: strconv.FormatInt(secs, 10)}},
	}
}
