package authz

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/wpauthz/wpauthz/authz/basicauth"
	"github.com/wpauthz/wpauthz/authz/identity"
	"github.com/wpauthz/wpauthz/authz/policy"
	"github.com/wpauthz/wpauthz/authz/store"
	"github.com/wpauthz/wpauthz/authz/wperror"
	"github.com/wpauthz/wpauthz/authz/wpusers"
)

// basic checks "Authorization: Basic" credentials: an OAuthClient's
// client_id:client_secret when the name is a client ID of the policy (and
// client secrets are accepted), otherwise a WordPress login or email with
// the user's password or an application password, as the policy allows.
//
// A warm call (the same credentials verified within the credential cache's
// lifetime, the user's record cached) does no I/O and no hashing. A cold
// one reads the user from the WordPress database (bounded by the policy's
// query timeout) and runs one hash check per candidate secret; a database
// that does not answer refuses the request with 503 (fail closed).
//
// Failures count towards the policy's login throttles, per user name and
// per client address; a throttled caller gets 429 before any check runs.
func (e *Engine) basic(ctx context.Context, p *policy.Policy, req *Request, value string, now time.Time) (*identity.Identity, *Decision) {
	name, secret, err := basicauth.Decode(value)
	if err != nil {
		return nil, denyBasicInvalid
	}
	keys := ThrottleKeys(p, name, req.RemoteAddr)
	if d := e.throttled(ctx, keys, now); d != nil {
		return nil, d
	}

	if p.Basic.ClientSecrets && p.Basic.Clients.Has(name) {
		c, ok := p.Basic.Clients.Verify(name, secret)
		if !ok {
			return nil, e.basicFailed(ctx, p, keys, now)
		}
		return e.clientIdentity(ctx, p, c)
	}
	if p.Users == nil || (!p.Basic.Users.Passwords && !p.Basic.Users.AppPasswords) {
		return nil, e.basicFailed(ctx, p, keys, now)
	}
	u, _, err := p.Users.Authenticate(ctx, name, secret, p.Basic.Users)
	switch {
	case err == nil:
		return &identity.Identity{UserID: u.ID, Login: u.Login, Roles: u.Roles, Method: identity.MethodBasic}, nil
	case errors.Is(err, wpusers.ErrInvalidCredentials):
		return nil, e.basicFailed(ctx, p, keys, now)
	default:
		e.log.WarnContext(ctx, "basic authentication: user directory unavailable", "policy", p.Key(), "err", err)
		return nil, denyDirectoryDown
	}
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

// ThrottleKeys are the store keys of a login attempt: the user name
// (lower-cased, as WordPress's collation compares it) and the client
// address, both scoped to the policy. The client key is "" when the
// address is unknown.
func ThrottleKeys(p *policy.Policy, name, remote string) [2]string {
	k := [2]string{"login:user:" + p.Key() + ":" + strings.ToLower(name)}
	if remote != "" {
		k[1] = "login:client:" + p.Key() + ":" + remote
	}
	return k
}

// throttled refuses a caller whose user name or address is blocked.
func (e *Engine) throttled(ctx context.Context, keys [2]string, now time.Time) *Decision {
	var wait time.Duration
	for _, k := range keys {
		if k == "" {
			continue
		}
		w, err := e.store.Throttled(ctx, k, now)
		if err != nil {
			e.log.WarnContext(ctx, "login throttle unavailable", "err", err)
			return denyUnavailable
		}
		wait = max(wait, w)
	}
	if wait > 0 {
		return TooManyAttempts(wait)
	}
	return nil
}

// basicFailed records a failure and refuses.
func (e *Engine) basicFailed(ctx context.Context, p *policy.Policy, keys [2]string, now time.Time) *Decision {
	RecordFailure(ctx, e.store, e.log, p, keys, now)
	return denyBasicInvalid
}

// RecordFailure counts a failed login against both throttle keys.
func RecordFailure(ctx context.Context, s store.Throttles, log *slog.Logger, p *policy.Policy, keys [2]string, now time.Time) time.Duration {
	var wait time.Duration
	limits := [2]store.Limit{p.LoginUser, p.LoginClient}
	for i, k := range keys {
		if k == "" || limits[i].Max <= 0 {
			continue
		}
		w, err := s.Fail(ctx, k, limits[i], now)
		if err != nil {
			log.WarnContext(ctx, "recording a failed login", "err", err)
			continue
		}
		wait = max(wait, w)
	}
	return wait
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
