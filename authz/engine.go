// Package authz is the decision engine: a normalized request, its
// credential, the caller's identity, and the policy's rules give one
// Decision. It does no I/O on the hot path; policy arrives as an immutable
// snapshot swapped in atomically by the controller or the config folder
// watcher.
package authz

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wpauthz/wpauthz/api/v1alpha1"
	"github.com/wpauthz/wpauthz/authz/credential"
	"github.com/wpauthz/wpauthz/authz/identity"
	"github.com/wpauthz/wpauthz/authz/jwtauth"
	"github.com/wpauthz/wpauthz/authz/policy"
	"github.com/wpauthz/wpauthz/authz/store"
	"github.com/wpauthz/wpauthz/authz/wperror"
	"github.com/wpauthz/wpauthz/authz/wproute"
)

// identityHeader is the lower-case name of the assertion header; a copy
// sent by the client is always overwritten or removed.
var identityHeader = strings.ToLower(identity.Header)

// Options configure an Engine.
type Options struct {
	Logger *slog.Logger
	// Now is the clock (tests); time.Now when nil.
	Now func() time.Time
	// AllowUnknownHosts forwards requests for hosts no policy covers
	// (without an identity) instead of refusing them.
	AllowUnknownHosts bool
	// Store holds revocations (read locally on every bearer check) and
	// login throttles (Basic). Nil: a private in-memory store.
	Store store.Store
}

// Engine decides requests against the current snapshot. It is safe for
// concurrent use.
type Engine struct {
	snap              atomic.Pointer[policy.Snapshot]
	log               *slog.Logger
	now               func() time.Time
	allowUnknownHosts bool
	store             store.Store
	// stale reports a store whose local revocation view can no longer be
	// trusted (redisstore after its staleness bound): bearer checks then
	// fail closed. Nil for stores that cannot go stale.
	stale func() bool
	// anonymous holds, per policy of the snapshot in force, the decision
	// for anonymous requests that carry no odd spelling of a credential
	// header (nearly all of them): shared, so that they allocate nothing.
	anonymous atomic.Pointer[anonymousCache]
}

// anonymousCache belongs to one snapshot; Swap replaces it.
type anonymousCache struct {
	snap      *policy.Snapshot
	decisions sync.Map // *policy.Policy (nil: no policy) -> *Decision
}

// Staler is implemented by stores whose local revocation view can go
// stale (redisstore.Store).
type Staler interface{ Stale() bool }

// New returns an engine with no snapshot: it refuses everything with 503
// until Swap is called.
func New(opts Options) *Engine {
	e := &Engine{log: opts.Logger, now: opts.Now, allowUnknownHosts: opts.AllowUnknownHosts, store: opts.Store}
	if e.store == nil {
		e.store = store.NewMemory(opts.Now)
	}
	if st, ok := e.store.(Staler); ok {
		e.stale = st.Stale
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if e.now == nil {
		e.now = time.Now
	}
	return e
}

// Swap installs a new snapshot; checks in flight finish on the old one.
func (e *Engine) Swap(s *policy.Snapshot) {
	e.anonymous.Store(&anonymousCache{snap: s})
	e.snap.Store(s)
}

// Snapshot returns the snapshot in force (nil before the first Swap).
func (e *Engine) Snapshot() *policy.Snapshot { return e.snap.Load() }

// Store is the revocation and throttle store the engine reads.
func (e *Engine) Store() store.Store { return e.store }

// Ready reports whether a snapshot is installed.
func (e *Engine) Ready() bool { return e.snap.Load() != nil }

// Check decides one request. The returned Decision must not be modified:
// denials are shared values.
func (e *Engine) Check(ctx context.Context, req *Request) *Decision {
	v := e.decide(ctx, req)
	if v.denial != nil {
		return v.denial
	}
	if v.id == nil {
		return e.allowAnonymous(v, req)
	}
	return e.allow(v.policy, req, v.cred, v.id, v.now)
}

// verdict is the outcome of decide: a denial, or leave to forward the
// request with an identity (nil: anonymous) under policy (nil: no policy
// covers the host) of snap.
type verdict struct {
	denial *Decision
	snap   *policy.Snapshot
	policy *policy.Policy
	cred   credential.Credential
	id     *identity.Identity
	now    time.Time
}

// decide is everything Check does except signing the identity assertion:
// host, route, rule, credential, identity, authorization.
func (e *Engine) decide(ctx context.Context, req *Request) verdict {
	if ctx.Err() != nil {
		return verdict{denial: denyUnavailable}
	}
	snap := e.snap.Load()
	if snap == nil {
		return verdict{denial: denyUnavailable}
	}
	// Before anything else, and whether or not unknown hosts are let
	// through: a host the proxy may route elsewhere than wpauthz would
	// look it up must not pick a policy, nor be waved through.
	p, err := snap.LookupHost(req.Host)
	if err != nil {
		e.log.DebugContext(ctx, "host refused", "err", err)
		return verdict{denial: denyInvalidHost}
	}
	if p == nil {
		if e.allowUnknownHosts {
			return verdict{snap: snap} // forwarded anonymously, credentials removed
		}
		return verdict{denial: denyUnknownHost}
	}
	wreq := wproute.Request{
		Method: req.Method, Target: req.Target, Headers: req.Headers,
		Body: req.Body, BodyComplete: req.BodyComplete,
	}
	route, err := wproute.Resolve(wreq, p.RestPrefix)
	if err != nil {
		e.log.DebugContext(ctx, "ambiguous request", "host", req.Host, "err", err)
		return verdict{denial: denyAmbiguous}
	}
	if !route.REST {
		// Not an API request: wpauthz does not guard it, but WordPress must
		// never see a forged assertion nor a credential wpauthz did not
		// check (allowAnonymous removes them).
		return verdict{snap: snap, policy: p}
	}

	action, rule := decideAction(p, route.Path, route.Method)
	if route.Batch && !p.BatchAllowed {
		return verdict{denial: denyBatch}
	}
	if action == v1alpha1.ActionDeny {
		return verdict{denial: deniedRoute(p)}
	}

	now := e.now()
	cred, err := credential.Extract(req.Headers, credential.Source{Header: p.CredentialHeader, APIKeyHeader: p.APIKeyHeader})
	if err != nil {
		return verdict{denial: credentialError(err)}
	}
	id, denial := e.authenticate(ctx, p, req, cred, now)
	if denial != nil {
		return verdict{denial: denial}
	}
	if d := authorize(action, rule, id); d != nil {
		return verdict{denial: d}
	}
	if route.Batch {
		if d := e.authorizeBatch(ctx, p, wreq, route, id); d != nil {
			return verdict{denial: d}
		}
	}
	return verdict{snap: snap, policy: p, cred: cred, id: id, now: now}
}

// decideAction returns the action of the first rule that matches, or the
// policy's default (rule nil).
func decideAction(p *policy.Policy, route, method string) (v1alpha1.Action, *policy.Rule) {
	for i := range p.Rules {
		if p.Rules[i].Matches(route, method) {
			return p.Rules[i].Action, &p.Rules[i]
		}
	}
	return p.DefaultAction, nil
}

// authorize applies an Allow or Authenticate action to an identity (nil:
// anonymous). It returns nil when the request may proceed.
func authorize(action v1alpha1.Action, rule *policy.Rule, id *identity.Identity) *Decision {
	switch action {
	case v1alpha1.ActionAllow:
		return nil
	case v1alpha1.ActionAuthenticate:
		if id == nil {
			return denyNotLoggedIn
		}
		if rule != nil && !rule.AllowsMethod(id.Method) {
			return denyMethodNotAllowed
		}
		if rule != nil && !rule.HasAnyRole(id.Roles) {
			return denyForbidden
		}
		return nil
	}
	return denyForbidden
}

// authenticate turns a credential into an identity. A credential that is
// presented but not valid is refused even where anonymous callers are
// welcome: a caller is never silently downgraded to anonymous.
func (e *Engine) authenticate(ctx context.Context, p *policy.Policy, req *Request, cred credential.Credential, now time.Time) (*identity.Identity, *Decision) {
	switch cred.Kind {
	case credential.None:
		return nil, nil
	case credential.Bearer:
		if p.JWT == nil {
			return nil, denyUnsupported
		}
		c, err := p.JWT.Verify(cred.Value, now)
		switch {
		case err == nil:
			if e.stale != nil && e.stale() {
				return nil, denyStoreDown
			}
			if Revoked(e.store, p, c) {
				return nil, denyRevoked
			}
			return &identity.Identity{UserID: c.UserID, Login: c.Login, Subject: c.Subject, Roles: c.Roles, Method: identity.MethodJWT}, nil
		case errors.Is(err, jwtauth.ErrExpired):
			return nil, denyTokenExpired
		case errors.Is(err, jwtauth.ErrNotYetValid):
			return nil, denyTokenNotYetValid
		default:
			return nil, denyInvalidToken
		}
	case credential.APIKey:
		if p.APIKeys == nil {
			return nil, denyUnsupported
		}
		k, err := p.APIKeys.Lookup(cred.Value, now)
		if err != nil {
			return nil, denyInvalidAPIKey
		}
		if p.Users != nil && (k.Identity.UserID != 0 || k.Identity.Login != "") {
			// A user key acts as the user as WordPress knows them now:
			// their roles, not the ones the key was created with.
			return e.directoryIdentity(ctx, p, k.Identity.UserID, k.Identity.Login, identity.MethodAPIKey, denyInvalidAPIKey)
		}
		return &k.Identity, nil
	case credential.Basic:
		if p.Basic == nil {
			return nil, denyUnsupported
		}
		return e.basic(ctx, p, req, cred.Value, now)
	}
	// Anything else: not accepted by this policy. Letting it through
	// would let WordPress authenticate what wpauthz did not check.
	return nil, denyUnsupported
}

// Revoked reports whether verified claims are revoked: their jti, or every
// token of their subject issued at or before a watermark ("iat" has
// one-second resolution, so a token of the watermark's second is dead too;
// the token service never issues one in that second). A token without iat
// is then refused too. Both reads are local. Watermarks are kept per policy
// (p.SubjectKey).
func Revoked(s store.Revocations, p *policy.Policy, c *jwtauth.Claims) bool {
	if c.TokenID != "" && s.TokenRevoked(c.TokenID) {
		return true
	}
	wm := s.RevokedBefore(p.SubjectKey(c.Subject))
	return !wm.IsZero() && (c.IssuedAt.IsZero() || !c.IssuedAt.After(wm))
}

func credentialError(err error) *Decision {
	if errors.Is(err, credential.ErrMultiple) {
		return denyMultiple
	}
	if errors.Is(err, credential.ErrUnsupported) {
		return denyUnsupported
	}
	return denyInvalidCredentials
}

func deniedRoute(p *policy.Policy) *Decision {
	if p.Denied == v1alpha1.DeniedRouteForbidden {
		return denyDisabled
	}
	return denyNoRoute
}

// allow builds the allow decision: the signed identity (if any) replaces
// whatever the client sent, and the credential is removed unless the
// policy keeps it.
func (e *Engine) allow(p *policy.Policy, req *Request, cred credential.Credential, id *identity.Identity, now time.Time) *Decision {
	path := req.Target
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	jws, err := p.Signer.Sign(*id, policy.CanonicalHost(req.Host), strings.ToUpper(req.Method), path, p.IdentityTTL, now)
	if err != nil {
		e.log.Error("signing identity assertion", "policy", p.Namespace+"/"+p.Name, "err", err)
		return denyUnavailable
	}
	kept := ""
	if p.KeepCredentials {
		kept = cred.Header
	}
	return &Decision{Allowed: true, Status: http.StatusOK,
		UpstreamHeaders: []Header{{Name: identity.Header, Value: jws}},
		UpstreamRemove:  upstreamRemove(p, req.Headers, kept, true)}
}

// allowAnonymous forwards a request without an identity: no credential
// was verified, so every credential header and every client copy of the
// identity header is removed, whatever the policy keeps.
func (e *Engine) allowAnonymous(v verdict, req *Request) *Decision {
	if hasOddSpelling(v.policy, req.Headers) {
		return &Decision{Allowed: true, Status: http.StatusOK, UpstreamRemove: upstreamRemove(v.policy, req.Headers, "", false)}
	}
	c := e.anonymous.Load()
	if c == nil || c.snap != v.snap {
		c = nil // swapped meanwhile: do not cache for an old snapshot
	} else if d, ok := c.decisions.Load(v.policy); ok {
		return d.(*Decision)
	}
	d := &Decision{Allowed: true, Status: http.StatusOK, UpstreamRemove: upstreamRemove(v.policy, nil, "", false)}
	if c != nil {
		c.decisions.Store(v.policy, d)
	}
	return d
}

// Shared decisions: built once, never modified.
var (
	bearerChallenge = `Bearer realm="wpauthz"`

	denyNotLoggedIn        = deny(wperror.NotLoggedIn, "no credentials", Header{"WWW-Authenticate", bearerChallenge})
	denyInvalidToken       = deny(wperror.InvalidToken, "invalid bearer token", Header{"WWW-Authenticate", bearerChallenge + `, error="invalid_token", error_description="The access token is invalid"`})
	denyTokenExpired       = deny(wperror.TokenExpired, "expired bearer token", Header{"WWW-Authenticate", bearerChallenge + `, error="invalid_token", error_description="The access token expired"`})
	denyTokenNotYetValid   = deny(wperror.TokenNotYetValid, "bearer token not yet valid", Header{"WWW-Authenticate", bearerChallenge + `, error="invalid_token", error_description="The access token is not valid yet"`})
	denyInvalidAPIKey      = deny(wperror.InvalidAPIKey, "invalid API key", Header{"WWW-Authenticate", `ApiKey realm="wpauthz"`})
	denyUnsupported        = deny(wperror.UnsupportedCredentials, "unsupported credentials", Header{"WWW-Authenticate", bearerChallenge})
	denyInvalidCredentials = deny(wperror.InvalidToken, "malformed credentials", Header{"WWW-Authenticate", bearerChallenge + `, error="invalid_request"`})
	denyMultiple           = deny(wperror.MultipleCredentials, "several credentials", Header{"WWW-Authenticate", bearerChallenge + `, error="invalid_request"`})
	denyMethodNotAllowed   = deny(wperror.AuthMethodNotAllowed, "authentication method not allowed by rule", Header{"WWW-Authenticate", bearerChallenge})
	denyForbidden          = deny(wperror.Forbidden, "missing role")
	denyNoRoute            = deny(wperror.NoRoute, "route disabled")
	denyDisabled           = deny(wperror.Disabled, "route disabled")
	denyBatch              = deny(wperror.BatchDenied, "batch request refused")
	denyAmbiguous          = deny(wperror.AmbiguousRequest, "ambiguous request")
	denyUnknownHost        = deny(wperror.UnknownHost, "no policy for host")
	denyInvalidHost        = deny(wperror.InvalidHost, "host not matchable exactly")
	denyUnavailable        = deny(wperror.Unavailable, "not ready or cancelled", retryUnavailable)
	denyStoreDown          = deny(wperror.Unavailable, "shared store unavailable", retryUnavailable)
	denyRevoked            = deny(wperror.InvalidToken, "revoked bearer token", Header{"WWW-Authenticate", bearerChallenge + `, error="invalid_token", error_description="The access token was revoked"`})
	denyBasicInvalid       = deny(wperror.InvalidCredentials, "invalid basic credentials", Header{"WWW-Authenticate", basicChallenge})
	denyDirectoryDown      = deny(wperror.Unavailable, "user directory unavailable", retryUnavailable)

	retryUnavailable = Header{"Retry-After", UnavailableRetryAfter}
)

// UnavailableRetryAfter is the Retry-After, in seconds, of every 503
// wpauthz_unavailable (no policy yet, the user directory or Redis not
// answering): a short wait, a little more than the heartbeat interval
// after which a replica trusts Redis again.
const UnavailableRetryAfter = "2"

const basicChallenge = `Basic realm="wpauthz", charset="UTF-8"`

func deny(e *wperror.Error, reason string, extra ...Header) *Decision {
	h := append([]Header{{Name: "Content-Type", Value: "application/json; charset=UTF-8"}}, extra...)
	return &Decision{Status: e.Status, Code: e.Code, Body: e.Body(), ResponseHeaders: h, Reason: reason}
}
