// Package policy compiles WPApiPolicy, ApiKey and OAuthClient resources
// (with the Secrets they name) into an immutable Snapshot that the engine
// reads without locks. A new snapshot replaces the old one atomically.
package policy

import (
	"strconv"
	"strings"
	"time"

	"github.com/wpauthz/wpauthz/api/v1alpha1"
	"github.com/wpauthz/wpauthz/authz/apikey"
	"github.com/wpauthz/wpauthz/authz/basicauth"
	"github.com/wpauthz/wpauthz/authz/identity"
	"github.com/wpauthz/wpauthz/authz/jwtauth"
	"github.com/wpauthz/wpauthz/authz/store"
	"github.com/wpauthz/wpauthz/authz/wproute"
	"github.com/wpauthz/wpauthz/authz/wpusers"
)

// Snapshot is a compiled, immutable set of policies indexed by host.
type Snapshot struct {
	exact map[string]*Policy
	// wildcard maps the suffix after "*." ("example.com") to its policy.
	wildcard map[string]*Policy
	policies []*Policy
}

// Policies returns the compiled policies, ordered by namespace/name.
func (s *Snapshot) Policies() []*Policy { return s.policies }

// Lookup finds the policy for a request's host: an exact name first, then
// the most specific "*." wildcard. The port is ignored and the match is
// case-insensitive, as DNS is; a host ParseHost refuses has no policy.
func (s *Snapshot) Lookup(host string) *Policy {
	p, _ := s.LookupHost(host)
	return p
}

// LookupHost is Lookup that also says why a host was refused: the error is
// ParseHost's (wrapping ErrInvalidHost); a valid host without a policy is
// (nil, nil).
func (s *Snapshot) LookupHost(host string) (*Policy, error) {
	host, err := ParseHost(host)
	if err != nil || s == nil {
		return nil, err
	}
	return s.lookup(host), nil
}

// lookup finds the policy of a canonical host.
func (s *Snapshot) lookup(host string) *Policy {
	if p, ok := s.exact[host]; ok {
		return p
	}
	if len(s.wildcard) == 0 {
		return nil
	}
	// "a.b.example.com" tries "b.example.com", then "example.com": a
	// wildcard covers one or more labels.
	for i := strings.IndexByte(host, '.'); i >= 0; {
		suffix := host[i+1:]
		if p, ok := s.wildcard[suffix]; ok {
			return p
		}
		j := strings.IndexByte(suffix, '.')
		if j < 0 {
			break
		}
		i += j + 1
	}
	return nil
}

// Policy is one compiled WPApiPolicy.
type Policy struct {
	Namespace, Name string
	Generation      int64
	Hosts           []string
	RestPrefix      string
	DefaultAction   v1alpha1.Action
	// Denied is the status a Deny rule answers: 404 or 403.
	Denied v1alpha1.DeniedRouteResponse
	Rules  []Rule
	// BatchAllowed is true when a rule names /batch/v1 literally; only
	// then may a batch request be considered at all.
	BatchAllowed bool

	// CredentialHeader is the lower-case header carrying credentials.
	CredentialHeader string
	// APIKeyHeader is the lower-case bare-key header; "" when API keys are off.
	APIKeyHeader    string
	KeepCredentials bool

	// JWT is nil when JWT authentication is off.
	JWT *jwtauth.Verifier
	// JWTAccessTTL is the lifetime of tokens this policy issues.
	JWTAccessTTL time.Duration
	// APIKeys is nil when API keys are off.
	APIKeys *apikey.Index

	// Signer signs the identity assertion; IdentityTTL is its lifetime.
	Signer      *identity.Signer
	IdentityTTL time.Duration

	// Users is the WordPress user directory (spec.wordpress); nil without.
	Users *wpusers.Directory
	// NotificationKey authenticates the bridge plugin's user-change
	// notifications (spec.wordpress.notificationKeySecretRef); nil: refused.
	NotificationKey []byte
	// Basic is nil when Basic authentication is off.
	Basic *Basic
	// LoginUser and LoginClient throttle logins per WordPress user and per
	// client address (Max 0: off); see loginthrottle.
	LoginUser, LoginClient store.Limit
	// RefreshTTL bounds a login's refresh-token family.
	RefreshTTL time.Duration
	// MaxLoginsPerUser caps one user's refresh-token families; a login
	// beyond it revokes the oldest.
	MaxLoginsPerUser int
	// CompatJWTAuth and CompatMiniOrange enable the plugins' token
	// endpoint shapes.
	CompatJWTAuth, CompatMiniOrange bool

	created time.Time
}

// Basic is a policy's compiled Basic authentication.
type Basic struct {
	// Users says which user secrets are accepted.
	Users wpusers.Accept
	// ClientSecrets accepts OAuthClient client_id:client_secret.
	ClientSecrets bool
	// Clients are the policy's OAuthClients with the client_credentials
	// grant (filled when ClientSecrets is on).
	Clients *basicauth.Clients
}

// Key is "namespace/name".
func (p *Policy) Key() string { return p.Namespace + "/" + p.Name }

// SubjectKey names sub in the revocation store: "<namespace>/<name>#<sub>".
// Subjects are scoped by policy because user IDs are per site: user 12 of
// one site revoking all of their tokens must not end user 12's sessions on
// every other site sharing the store.
func (p *Policy) SubjectKey(sub string) string { return p.Key() + "#" + sub }

// SubjectUserID is the WordPress user ID a SubjectKey names, if any.
func SubjectUserID(key string) (int64, bool) {
	i := strings.LastIndexByte(key, '#')
	if i < 0 {
		return 0, false
	}
	id, err := strconv.ParseInt(key[i+1:], 10, 64)
	return id, err == nil && id > 0
}

// CanIssue reports whether the policy serves the token endpoints: a JWT
// key that can sign and a user directory.
func (p *Policy) CanIssue() bool { return p.JWT != nil && p.JWT.CanSign() && p.Users != nil }

// Rule is a compiled rule.
type Rule struct {
	Name   string
	Routes []wproute.Glob
	// Methods is a bit set of methodBit values; 0 matches every method.
	Methods uint8
	Action  v1alpha1.Action
	Roles   []string
	// AuthMethods is a bit set of identity methods; 0 allows all.
	AuthMethods uint8
}

// Matches reports whether the rule applies to a canonical route and an
// effective method.
func (r *Rule) Matches(route, method string) bool {
	if r.Methods != 0 && r.Methods&MethodBit(method) == 0 {
		return false
	}
	for i := range r.Routes {
		if r.Routes[i].Match(route) {
			return true
		}
	}
	return false
}

// AllowsMethod reports whether an identity method ("jwt", "apikey", ...)
// may satisfy the rule.
func (r *Rule) AllowsMethod(m string) bool {
	return r.AuthMethods == 0 || r.AuthMethods&AuthMethodBit(m) != 0
}

// HasAnyRole reports whether roles holds one of the rule's roles; a rule
// without roles is satisfied by any identity.
func (r *Rule) HasAnyRole(roles []string) bool {
	if len(r.Roles) == 0 {
		return true
	}
	for _, want := range r.Roles {
		for _, have := range roles {
			if want == have {
				return true
			}
		}
	}
	return false
}

var methodBits = map[string]uint8{"GET": 1, "POST": 2, "PUT": 4, "PATCH": 8, "DELETE": 16, "OPTIONS": 32}

// otherMethod stands for every method not in methodBits: such a method
// never matches a rule that lists methods.
const otherMethod = 64

// MethodBit is the bit of an upper-case effective method.
func MethodBit(m string) uint8 {
	if b, ok := methodBits[m]; ok {
		return b
	}
	return otherMethod
}

var authMethodBits = map[string]uint8{identity.MethodJWT: 1, identity.MethodAPIKey: 2, identity.MethodBasic: 4, identity.MethodOAuth2: 8, identity.MethodProvider: 16}

// AuthMethodBit is the bit of an identity method.
func AuthMethodBit(m string) uint8 { return authMethodBits[m] }

var crdAuthMethods = map[v1alpha1.AuthMethod]string{
	v1alpha1.AuthMethodJWT: identity.MethodJWT, v1alpha1.AuthMethodAPIKey: identity.MethodAPIKey, v1alpha1.AuthMethodBasic: identity.MethodBasic,
	v1alpha1.AuthMethodOAuth2: identity.MethodOAuth2, v1alpha1.AuthMethodProvider: identity.MethodProvider,
}
