// Package tokenservice serves wpauthz's token endpoints on the HTTP
// listener, for every host that has a policy:
//
//	POST     {restPrefix}/api/v1/token            log in: username (login or email) + password
//	POST     {restPrefix}/api/v1/token/refresh    rotate a refresh token
//	POST     {restPrefix}/api/v1/token/revoke     revoke a token, or all=true: every token of the caller
//	GET|POST {restPrefix}/api/v1/token/validate   check a bearer token
//	GET      /.well-known/jwks.json               the policy's public keys
//	GET      /.well-known/oauth-authorization-server[/issuer path]   RFC 8414 metadata
//
// and, per policy, the shapes of the plugins it replaces
// ("JWT Authentication for WP REST API": /jwt-auth/v1/token and
// /jwt-auth/v1/token/validate; miniOrange: a jwt_token field and
// /api/v1/token-validate). docs/token-endpoints.md is the reference.
//
// Refresh tokens are opaque ("wpr_" + 256 random bits); the store keeps a
// hash of them, bound to the policy. Every rotation spends the presented
// token; presenting a spent one revokes its whole family (every refresh
// token of that login and the access tokens issued with them).
package tokenservice

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/wpauthz/wpauthz/authz"
	"github.com/wpauthz/wpauthz/authz/credential"
	"github.com/wpauthz/wpauthz/authz/jwtauth"
	"github.com/wpauthz/wpauthz/authz/loginthrottle"
	"github.com/wpauthz/wpauthz/authz/policy"
	"github.com/wpauthz/wpauthz/authz/store"
	"github.com/wpauthz/wpauthz/authz/wperror"
	"github.com/wpauthz/wpauthz/authz/wpusers"
)

// Options configure a Service.
type Options struct {
	// Snapshot returns the policies in force (the engine's).
	Snapshot func() *policy.Snapshot
	// Store keeps refresh tokens, revocations and throttles (the same
	// store the engine reads revocations from).
	Store store.Store
	Log   *slog.Logger
	// ClientIP is the caller's address for throttling; the connection's
	// peer address when nil.
	ClientIP func(*http.Request) string
	// Now is the clock (tests).
	Now func() time.Time
}

// Service is the token endpoints' handler. Safe for concurrent use.
type Service struct {
	snapshot func() *policy.Snapshot
	store    store.Store
	log      *slog.Logger
	clientIP func(*http.Request) string
	now      func() time.Time
	// stale reports a revocation view that can no longer be trusted
	// (authz.Staler); nil for stores that cannot go stale.
	stale func() bool
}

// New returns a Service.
func New(o Options) *Service {
	s := &Service{snapshot: o.Snapshot, store: o.Store, log: o.Log, clientIP: o.ClientIP, now: o.Now}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.clientIP == nil {
		s.clientIP = PeerIP
	}
	if s.now == nil {
		s.now = time.Now
	}
	if st, ok := o.Store.(authz.Staler); ok {
		s.stale = st.Stale
	}
	return s
}

// PeerIP is the connection's peer address without port.
func PeerIP(r *http.Request) string {
	h, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return h
}

// ForwardedIP returns a ClientIP that trusts hops proxies in front of
// wpauthz: the address hops entries from the right of X-Forwarded-For
// (the one the outermost trusted proxy saw), else the peer address.
func ForwardedIP(hops int) func(*http.Request) string {
	return func(r *http.Request) string {
		if hops <= 0 {
			return PeerIP(r)
		}
		var parts []string
		for _, v := range r.Header.Values("X-Forwarded-For") {
			for _, p := range strings.Split(v, ",") {
				if p = strings.TrimSpace(p); p != "" {
					parts = append(parts, p)
				}
			}
		}
		if len(parts) < hops {
			return PeerIP(r)
		}
		return parts[len(parts)-hops]
	}
}

type endpoint int

const (
	epNone endpoint = iota
	epLogin
	epRefresh
	epRevoke
	epValidate
	epJWTAuthLogin
	epJWTAuthValidate
	epMiniOrangeValidate
	epJWKS
	epMetadata
	// epBadHost: a Host that ParseHost refuses; no policy can be chosen.
	epBadHost
)

// route finds the policy and endpoint of a request; epNone when the
// request is not for the token service.
func (s *Service) route(r *http.Request) (*policy.Policy, endpoint) {
	snap := s.snapshot()
	if snap == nil {
		return nil, epNone
	}
	p, err := snap.LookupHost(r.Host)
	if err != nil {
		if r.Host == "" {
			// HTTP/1.0 probes (load balancers) carry no Host: leave
			// them to /healthz and /readyz.
			return nil, epNone
		}
		return nil, epBadHost
	}
	if p == nil || p.JWT == nil {
		return nil, epNone
	}
	path := r.RequestURI
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	// Undecoded and uncleaned: an encoded or dotted spelling is not ours
	// (the check path judges such requests).
	if strings.ContainsAny(path, "%\\") || strings.Contains(path, "//") || strings.Contains(path, "/.") && !strings.HasPrefix(path, "/.well-known/") {
		return nil, epNone
	}
	switch {
	case path == "/.well-known/jwks.json":
		return p, epJWKS
	case path == "/.well-known/oauth-authorization-server" || path == "/.well-known/oauth-authorization-server"+issuerPath(p):
		return p, epMetadata
	}
	if len(path) <= len(p.RestPrefix) || !strings.EqualFold(path[:len(p.RestPrefix)], p.RestPrefix) {
		return nil, epNone
	}
	route := strings.ToLower(strings.TrimSuffix(path[len(p.RestPrefix):], "/"))
	switch route {
	case "/api/v1/token":
		return p, epLogin
	case "/api/v1/token/refresh":
		return p, epRefresh
	case "/api/v1/token/revoke":
		return p, epRevoke
	case "/api/v1/token/validate":
		return p, epValidate
	case "/jwt-auth/v1/token":
		if p.CompatJWTAuth {
			return p, epJWTAuthLogin
		}
	case "/jwt-auth/v1/token/validate":
		if p.CompatJWTAuth {
			return p, epJWTAuthValidate
		}
	case "/api/v1/token-validate":
		if p.CompatMiniOrange {
			return p, epMiniOrangeValidate
		}
	}
	return nil, epNone
}

// Handles reports whether r is for the token service.
func (s *Service) Handles(r *http.Request) bool {
	_, ep := s.route(r)
	return ep != epNone
}

// Route sends token service requests to s and everything else to next.
// Put it after the check handlers (httpauth.Route) and before any
// http.ServeMux, which would clean and redirect paths.
func Route(s *Service, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p, ep := s.route(r); ep != epNone {
			s.serve(w, r, p, ep)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p, ep := s.route(r)
	if ep == epNone {
		writeError(w, wperror.NoRoute)
		return
	}
	s.serve(w, r, p, ep)
}

func (s *Service) serve(w http.ResponseWriter, r *http.Request, p *policy.Policy, ep endpoint) {
	if ep == epBadHost {
		writeError(w, wperror.InvalidHost)
		return
	}
	post := r.Method == http.MethodPost
	get := r.Method == http.MethodGet || r.Method == http.MethodHead
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	switch ep {
	case epLogin, epJWTAuthLogin:
		if !post || !p.CanIssue() {
			break
		}
		s.login(w, r, p, ep == epJWTAuthLogin)
		return
	case epRefresh:
		if !post || !p.CanIssue() {
			break
		}
		s.refresh(w, r, p)
		return
	case epRevoke:
		if post {
			s.revoke(w, r, p)
			return
		}
	case epValidate, epMiniOrangeValidate:
		if post || get {
			s.validate(w, r, p, false)
			return
		}
	case epJWTAuthValidate:
		if post {
			s.validate(w, r, p, true)
			return
		}
	case epJWKS:
		if get {
			s.jwks(w, p)
			return
		}
	case epMetadata:
		if get {
			s.metadata(w, r, p)
			return
		}
	}
	// WordPress answers a route it has with the wrong method, and a route
	// it has not, with 404 rest_no_route.
	writeError(w, wperror.NoRoute)
}

// ---- login ----

type userJSON struct {
	ID          int64    `json:"id"`
	Login       string   `json:"login"`
	Email       string   `json:"email"`
	DisplayName string   `json:"display_name"`
	Roles       []string `json:"roles"`
}

type tokenJSON struct {
	TokenType        string    `json:"token_type"`
	AccessToken      string    `json:"access_token"`
	ExpiresIn        int64     `json:"expires_in"`
	RefreshToken     string    `json:"refresh_token"`
	RefreshExpiresIn int64     `json:"refresh_expires_in"`
	User             *userJSON `json:"user"`
	// JWTToken is miniOrange's name for the access token.
	JWTToken string `json:"jwt_token,omitempty"`
}

func (s *Service) login(w http.ResponseWriter, r *http.Request, p *policy.Policy, jwtAuth bool) {
	ctx := r.Context()
	ps, err := params(r, "username", "password")
	if err != nil || ps["username"] == "" || ps["password"] == "" {
		writeError(w, wperror.InvalidRequest)
		return
	}
	name, password := ps["username"], ps["password"]
	now := s.now()
	// The login endpoint takes what WordPress's wp_authenticate takes in
	// a REST request: the password, or an application password once the
	// site uses them.
	guard := loginthrottle.Guard{Store: s.store}
	u, _, err := guard.Login(ctx, p, s.clientIP(r), name, password, wpusers.Accept{Passwords: true, AppPasswords: true}, now)
	var blocked *loginthrottle.Blocked
	switch {
	case errors.Is(err, wpusers.ErrInvalidCredentials):
		if jwtAuth {
			writeError(w, wperror.JWTAuthInvalidCredentials)
		} else {
			writeError(w, wperror.InvalidCredentials)
		}
		return
	case errors.As(err, &blocked):
		writeThrottled(w, blocked.Wait)
		return
	case errors.Is(err, loginthrottle.ErrUnavailable):
		s.log.WarnContext(ctx, "login: throttle unavailable", "policy", p.Key(), "err", err)
		writeError(w, wperror.Unavailable)
		return
	case err != nil:
		s.log.WarnContext(ctx, "login: user directory unavailable", "policy", p.Key(), "err", err)
		writeError(w, wperror.Unavailable)
		return
	}

	access, claims, refresh, rec, err := s.issue(ctx, p, u, "")
	if err != nil {
		s.log.ErrorContext(ctx, "login: issuing tokens", "policy", p.Key(), "err", err)
		writeError(w, wperror.Unavailable)
		return
	}
	if err := s.store.CreateRefresh(ctx, rec, p.MaxLoginsPerUser); err != nil {
		s.log.ErrorContext(ctx, "login: storing the refresh token", "policy", p.Key(), "err", err)
		writeError(w, wperror.Unavailable)
		return
	}
	s.log.InfoContext(ctx, "login", "policy", p.Key(), "user", u.ID)
	if jwtAuth {
		writeJSON(w, http.StatusOK, map[string]string{
			"token": access, "user_email": u.Email, "user_nicename": u.Nicename, "user_display_name": u.DisplayName,
		})
		return
	}
	writeJSON(w, http.StatusOK, s.tokenResponse(p, u, access, claims, refresh, rec))
}

func (s *Service) tokenResponse(p *policy.Policy, u *wpusers.User, access string, claims *jwtauth.Claims, refresh string, rec store.RefreshRecord) *tokenJSON {
	now := s.now()
	roles := u.Roles
	if roles == nil {
		roles = []string{}
	}
	t := &tokenJSON{
		TokenType: "Bearer", AccessToken: access, ExpiresIn: ceilSeconds(claims.ExpiresAt.Sub(now)),
		RefreshToken: refresh, RefreshExpiresIn: ceilSeconds(rec.ExpiresAt.Sub(now)),
		User: &userJSON{ID: u.ID, Login: u.Login, Email: u.Email, DisplayName: u.DisplayName, Roles: roles},
	}
	if p.CompatMiniOrange {
		t.JWTToken = access
	}
	return t
}

func ceilSeconds(d time.Duration) int64 { return int64((d + time.Second - 1) / time.Second) }

// issue mints an access token and a refresh token (family: "" starts a new
// one). Tokens are never issued in a second that a revoke-all of the user
// covers: the issue time waits past the watermark.
func (s *Service) issue(ctx context.Context, p *policy.Policy, u *wpusers.User, family string) (string, *jwtauth.Claims, string, store.RefreshRecord, error) {
	sub := strconv.FormatInt(u.ID, 10)
	now := s.now()
	if wm := s.store.RevokedBefore(p.SubjectKey(sub)); !wm.IsZero() && !time.Unix(now.Unix(), 0).After(wm) {
		// iat has one-second resolution: wait for the next second.
		wait := time.Unix(wm.Unix()+1, 0).Sub(now)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return "", nil, "", store.RefreshRecord{}, ctx.Err()
		}
		now = s.now()
		if now.Before(time.Unix(wm.Unix()+1, 0)) { // a test clock
			now = time.Unix(wm.Unix()+1, 0)
		}
	}
	access, claims, err := p.JWT.Issue(jwtauth.Claims{UserID: u.ID, Login: u.Login, Email: u.Email, Roles: u.Roles}, p.JWTAccessTTL, now)
	if err != nil {
		return "", nil, "", store.RefreshRecord{}, err
	}
	refresh, err := randomToken("wpr_")
	if err != nil {
		return "", nil, "", store.RefreshRecord{}, err
	}
	if family == "" {
		if family, err = randomToken(""); err != nil {
			return "", nil, "", store.RefreshRecord{}, err
		}
	}
	rec := store.RefreshRecord{
		ID: refreshID(p, refresh), Family: family, Policy: p.Key(), Subject: sub,
		IssuedAt: claims.IssuedAt, ExpiresAt: claims.IssuedAt.Add(p.RefreshTTL), FamilyExpiresAt: claims.IssuedAt.Add(p.RefreshTTL),
		AccessJTI: claims.TokenID, AccessExpiresAt: claims.ExpiresAt,
	}
	return access, claims, refresh, rec, nil
}

func randomToken(prefix string) (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return prefix + base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// refreshID is what the store knows a refresh token by: a hash bound to
// the policy, so a token is worthless at another policy's hosts.
func refreshID(p *policy.Policy, token string) string {
	sum := sha256.Sum256([]byte(p.Key() + "\x00" + token))
	return hex.EncodeToString(sum[:])
}

func validRefreshSyntax(t string) bool {
	rest, ok := strings.CutPrefix(t, "wpr_")
	if !ok || len(rest) != 43 {
		return false
	}
	_, err := base64.RawURLEncoding.Strict().DecodeString(rest)
	return err == nil
}

// ---- refresh ----

func (s *Service) refresh(w http.ResponseWriter, r *http.Request, p *policy.Policy) {
	ctx := r.Context()
	ps, err := params(r, "refresh_token")
	if err != nil || ps["refresh_token"] == "" {
		writeError(w, wperror.InvalidRequest)
		return
	}
	tok := ps["refresh_token"]
	if !validRefreshSyntax(tok) {
		writeError(w, wperror.InvalidRefreshToken)
		return
	}
	id := refreshID(p, tok)
	now := s.now()
	rec, err := s.store.GetRefresh(ctx, id, now)
	switch {
	case store.NotLive(err):
		// Spent, revoked, expired or unknown. Rotating it anyway lets the
		// store tell a reuse (and kill the family) from the rest.
		_, rerr := s.store.RotateRefresh(ctx, id, store.RefreshRecord{ID: "unused-" + id, ExpiresAt: now}, now)
		if errors.Is(rerr, store.ErrReused) {
			s.log.WarnContext(ctx, "refresh token reused: family revoked", "policy", p.Key())
		}
		writeError(w, wperror.InvalidRefreshToken)
		return
	case err != nil:
		// The store did not answer: the token may well be live.
		s.log.WarnContext(ctx, "refresh: token store unavailable", "policy", p.Key(), "err", err)
		writeError(w, wperror.Unavailable)
		return
	}
	if wm := s.store.RevokedBefore(p.SubjectKey(rec.Subject)); !wm.IsZero() && !rec.IssuedAt.After(wm) {
		_ = s.store.RevokeFamily(ctx, rec.Family, now)
		writeError(w, wperror.InvalidRefreshToken)
		return
	}
	uid, _ := strconv.ParseInt(rec.Subject, 10, 64)
	u, err := p.Users.User(ctx, uid)
	switch {
	case errors.Is(err, wpusers.ErrNotFound):
		_ = s.store.RevokeFamily(ctx, rec.Family, now)
		writeError(w, wperror.InvalidRefreshToken)
		return
	case err != nil:
		s.log.WarnContext(ctx, "refresh: user directory unavailable", "policy", p.Key(), "err", err)
		writeError(w, wperror.Unavailable)
		return
	}
	access, claims, refresh, next, err := s.issue(ctx, p, u, rec.Family)
	if err != nil {
		writeError(w, wperror.Unavailable)
		return
	}
	if _, err := s.store.RotateRefresh(ctx, id, next, now); err != nil {
		if !store.NotLive(err) && !errors.Is(err, store.ErrExists) {
			// No answer: the new tokens are never handed out.
			s.log.WarnContext(ctx, "refresh: token store unavailable", "policy", p.Key(), "err", err)
			writeError(w, wperror.Unavailable)
			return
		}
		// Lost a race with another use of the same token: it is a reuse.
		_ = s.store.RevokeToken(ctx, claims.TokenID, claims.ExpiresAt)
		writeError(w, wperror.InvalidRefreshToken)
		return
	}
	if next.ExpiresAt.After(rec.FamilyExpiresAt) {
		next.ExpiresAt = rec.FamilyExpiresAt // rotation never extends a login
	}
	writeJSON(w, http.StatusOK, s.tokenResponse(p, u, access, claims, refresh, next))
}

// ---- revoke ----

func (s *Service) revoke(w http.ResponseWriter, r *http.Request, p *policy.Policy) {
	ctx := r.Context()
	ps, err := params(r, "token", "all")
	if err != nil {
		writeError(w, wperror.InvalidRequest)
		return
	}
	all := ps["all"] == "true" || ps["all"] == "1"
	now := s.now()
	bearer, hasBearer := s.bearer(r, p)

	if t := ps["token"]; strings.HasPrefix(t, "wpr_") {
		if !validRefreshSyntax(t) {
			writeError(w, wperror.InvalidRefreshToken)
			return
		}
		rec, err := s.store.GetRefresh(ctx, refreshID(p, t), now)
		switch {
		case store.NotLive(err):
			writeError(w, wperror.InvalidRefreshToken)
			return
		case err != nil:
			s.log.WarnContext(ctx, "revoke: token store unavailable", "policy", p.Key(), "err", err)
			writeError(w, wperror.Unavailable)
			return
		}
		if err := s.store.RevokeFamily(ctx, rec.Family, now); err != nil && !errors.Is(err, store.ErrNotFound) {
			writeError(w, wperror.Unavailable)
			return
		}
		if !all {
			writeJSON(w, http.StatusOK, map[string]any{"revoked": true, "all": false})
			return
		}
		if !hasBearer {
			// all=true needs the caller's access token.
			writeError(w, wperror.NotLoggedIn)
			return
		}
	}
	tok := bearer
	if !hasBearer {
		tok = ps["token"]
	}
	if tok == "" {
		writeError(w, wperror.NotLoggedIn)
		return
	}
	c, derr := s.verify(p, tok, now)
	if derr != nil {
		writeError(w, derr)
		return
	}
	if err := s.store.RevokeToken(ctx, c.TokenID, c.ExpiresAt); err != nil {
		writeError(w, wperror.Unavailable)
		return
	}
	if all {
		keep := max(p.JWTAccessTTL, p.RefreshTTL) + time.Minute
		if err := s.store.RevokeSubject(ctx, p.SubjectKey(c.Subject), now, keep); err != nil {
			writeError(w, wperror.Unavailable)
			return
		}
	}
	s.log.InfoContext(ctx, "token revoked", "policy", p.Key(), "sub", c.Subject, "all", all)
	writeJSON(w, http.StatusOK, map[string]any{"revoked": true, "all": all})
}

// bearer is the bearer token in the policy's credential header.
func (s *Service) bearer(r *http.Request, p *policy.Policy) (string, bool) {
	hdr := map[string]string{}
	if v := r.Header.Values(p.CredentialHeader); len(v) > 0 {
		hdr[p.CredentialHeader] = strings.Join(v, ",")
	}
	c, err := credential.Extract(hdr, credential.Source{Header: p.CredentialHeader})
	if err != nil || c.Kind != credential.Bearer {
		return "", false
	}
	return c.Value, true
}

// verify checks an access token, revocation included: with a stale
// revocation view it cannot say, as the check path cannot (503).
func (s *Service) verify(p *policy.Policy, tok string, now time.Time) (*jwtauth.Claims, *wperror.Error) {
	c, err := p.JWT.Verify(tok, now)
	switch {
	case err == nil:
		if s.stale != nil && s.stale() {
			return nil, wperror.Unavailable
		}
		if authz.Revoked(s.store, p, c) {
			return nil, wperror.InvalidToken
		}
		return c, nil
	case errors.Is(err, jwtauth.ErrExpired):
		return nil, wperror.TokenExpired
	case errors.Is(err, jwtauth.ErrNotYetValid):
		return nil, wperror.TokenNotYetValid
	}
	return nil, wperror.InvalidToken
}

// ---- validate ----

func (s *Service) validate(w http.ResponseWriter, r *http.Request, p *policy.Policy, jwtAuth bool) {
	tok, ok := s.bearer(r, p)
	if !ok {
		if jwtAuth {
			writeError(w, wperror.JWTAuthNoAuthHeader)
		} else {
			writeError(w, wperror.NotLoggedIn)
		}
		return
	}
	now := s.now()
	c, e := s.verify(p, tok, now)
	if e != nil {
		if jwtAuth && e != wperror.Unavailable {
			writeError(w, wperror.JWTAuthInvalidToken)
		} else {
			writeError(w, e)
		}
		return
	}
	if jwtAuth {
		writeJSON(w, http.StatusOK, map[string]any{"code": "jwt_auth_valid_token", "data": map[string]int{"status": 200}})
		return
	}
	roles := c.Roles
	if roles == nil {
		roles = []string{}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"code": "wpauthz_valid_token", "data": map[string]int{"status": 200},
		"sub": c.Subject, "user_id": c.UserID, "login": c.Login, "roles": roles,
		"expires_at": c.ExpiresAt.Unix(), "expires_in": ceilSeconds(c.ExpiresAt.Sub(now)),
	})
}

// ---- discovery ----

func (s *Service) jwks(w http.ResponseWriter, p *policy.Policy) {
	b, err := p.JWT.JWKS()
	if err != nil {
		writeError(w, wperror.Unavailable)
		return
	}
	h := w.Header()
	h.Set("Cache-Control", "public, max-age=300")
	h.Del("Pragma")
	h.Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}

// issuerPath is the path component of the issuer URL ("" when none).
func issuerPath(p *policy.Policy) string {
	u, err := url.Parse(p.JWT.Issuer())
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(u.EscapedPath(), "/")
}

func (s *Service) metadata(w http.ResponseWriter, r *http.Request, p *policy.Policy) {
	iss := p.JWT.Issuer()
	origin := "https://" + r.Host
	if u, err := url.Parse(iss); err == nil && u.Scheme != "" && u.Host != "" {
		origin = u.Scheme + "://" + u.Host
	}
	base := origin + p.RestPrefix + "/api/v1/token"
	md := map[string]any{
		"issuer":                                     iss,
		"jwks_uri":                                   origin + "/.well-known/jwks.json",
		"response_types_supported":                   []string{},
		"token_endpoint_auth_methods_supported":      []string{"none"},
		"revocation_endpoint":                        base + "/revoke",
		"revocation_endpoint_auth_methods_supported": []string{"none"},
		"wpauthz_validation_endpoint":                base + "/validate",
	}
	if p.CanIssue() {
		md["token_endpoint"] = base
		md["grant_types_supported"] = []string{"password", "refresh_token"}
		md["wpauthz_refresh_endpoint"] = base + "/refresh"
	}
	h := w.Header()
	h.Set("Cache-Control", "public, max-age=300")
	h.Del("Pragma")
	writeJSON(w, http.StatusOK, md)
}

// ---- responses ----

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, wperror.Unavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	w.Write(b)
}

func writeError(w http.ResponseWriter, e *wperror.Error) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=UTF-8")
	switch e {
	case wperror.NotLoggedIn, wperror.InvalidToken, wperror.TokenExpired, wperror.TokenNotYetValid:
		h.Set("WWW-Authenticate", `Bearer realm="wpauthz"`)
	case wperror.Unavailable:
		h.Set("Retry-After", authz.UnavailableRetryAfter)
	}
	w.WriteHeader(e.Status)
	w.Write(e.Body())
}

func writeThrottled(w http.ResponseWriter, wait time.Duration) {
	d := authz.TooManyAttempts(wait)
	for _, h := range d.ResponseHeaders {
		w.Header().Set(h.Name, h.Value)
	}
	w.WriteHeader(d.Status)
	w.Write(d.Body)
}
