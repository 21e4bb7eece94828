package policy

import (
	"bytes"
	"cmp"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wpauthz/wpauthz/api/v1alpha1"
	"github.com/wpauthz/wpauthz/authz/apikey"
	"github.com/wpauthz/wpauthz/authz/basicauth"
	"github.com/wpauthz/wpauthz/authz/identity"
	"github.com/wpauthz/wpauthz/authz/jwtauth"
	"github.com/wpauthz/wpauthz/authz/store"
	"github.com/wpauthz/wpauthz/authz/wproute"
	"github.com/wpauthz/wpauthz/authz/wpusers"
)

// Defaults, applied when a field is empty (the API server applies the same
// defaults from the CRD schema; Compile repeats them so a typed object
// built in Go behaves identically).
const (
	DefaultRestPrefix       = "/wp-json"
	DefaultCredentialHeader = "authorization"
	DefaultAPIKeyHeader     = "x-api-key"
	DefaultLeeway           = 30 * time.Second
	DefaultAccessTokenTTL   = 15 * time.Minute
	DefaultIdentityTTL      = 30 * time.Second
	MaxIdentityTTL          = 60 * time.Second
	DefaultRefreshTokenTTL  = 30 * 24 * time.Hour
	DefaultMaxLoginsPerUser = 50
	DefaultTablePrefix      = "wp_"
	DefaultUserCacheTTL     = 30 * time.Second
	DefaultQueryTimeout     = 2 * time.Second
	DefaultLoginWindow      = 15 * time.Minute
	DefaultMaxFailuresUser  = 5
	DefaultMaxFailuresIP    = 20
	// MinNotificationKeyBytes is the shortest accepted notification key:
	// HMAC-SHA256 keys shorter than the hash add no strength.
	MinNotificationKeyBytes = 32
)

// Options are process-wide compile settings.
type Options struct {
	// IdentityKey signs identity assertions for policies that name no key
	// of their own. Nil: such policies are refused.
	IdentityKey ed25519.PrivateKey
	// Users keeps user directories (database pools, caches) across
	// compiles. Nil: each compile opens its own.
	Users *wpusers.Pool
}

// Compile builds a snapshot from every valid resource in b. Resources that
// cannot be compiled are left out and reported; nothing is half-applied:
// a policy with a problem is absent, not partly present.
func Compile(b Bundle, opts Options) (*Snapshot, []Problem) {
	if opts.Users == nil {
		// Policies reading the same users share one Directory (and cache).
		opts.Users = wpusers.NewPool()
	}
	c := compiler{opts: opts, secrets: map[string]*corev1.Secret{}}
	for i := range b.Secrets {
		s := &b.Secrets[i]
		c.secrets[nsOrDefault(s.Namespace)+"/"+s.Name] = s
	}
	snap := &Snapshot{exact: map[string]*Policy{}, wildcard: map[string]*Policy{}}

	// The oldest policy keeps a contested host; ties by namespace/name so
	// the outcome never depends on list order.
	pols := slices.Clone(b.Policies)
	slices.SortStableFunc(pols, func(a, b v1alpha1.WPApiPolicy) int {
		if d := a.CreationTimestamp.Time.Compare(b.CreationTimestamp.Time); d != 0 {
			return d
		}
		return cmp.Compare(nsOrDefault(a.Namespace)+"/"+a.Name, nsOrDefault(b.Namespace)+"/"+b.Name)
	})
	byName := map[string]*Policy{}
	for i := range pols {
		p, err := c.policy(&pols[i])
		if err != nil {
			c.problem(err)
			continue
		}
		if owner := snap.claimant(p.Hosts); owner != nil {
			c.problems = append(c.problems, Problem{Kind: "WPApiPolicy", Namespace: p.Namespace, Name: p.Name,
				Reason: v1alpha1.ReasonHostConflict, Message: fmt.Sprintf("a host is already served by WPApiPolicy %s/%s", owner.Namespace, owner.Name)})
			continue
		}
		snap.add(p)
		byName[p.Namespace+"/"+p.Name] = p
	}

	keysByPolicy := map[*Policy][]*apikey.Key{}
	keys := slices.Clone(b.APIKeys)
	slices.SortStableFunc(keys, func(a, b v1alpha1.ApiKey) int {
		return cmp.Compare(nsOrDefault(a.Namespace)+"/"+a.Name, nsOrDefault(b.Namespace)+"/"+b.Name)
	})
	seen := map[apikey.Hash]string{}
	for i := range keys {
		k := &keys[i]
		p, key, err := c.apiKey(k, byName)
		if err != nil {
			c.problem(err)
			continue
		}
		if other, dup := seen[key.Hash]; dup {
			c.problems = append(c.problems, Problem{Kind: "ApiKey", Namespace: key.Namespace, Name: key.Name,
				Reason: v1alpha1.ReasonInvalidKey, Message: "holds the same key as ApiKey " + other})
			continue
		}
		seen[key.Hash] = key.Namespace + "/" + key.Name
		keysByPolicy[p] = append(keysByPolicy[p], key)
	}
	for _, p := range snap.policies {
		if p.APIKeys == nil {
			continue
		}
		ix, err := apikey.NewIndex(keysByPolicy[p])
		if err != nil { // duplicates were filtered above
			panic(err)
		}
		p.APIKeys = ix
	}

	for i := range b.OAuthClients {
		if err := c.oauthClient(&b.OAuthClients[i], byName); err != nil {
			c.problem(err)
		}
	}
	slices.SortFunc(snap.policies, func(a, b *Policy) int {
		return cmp.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name)
	})
	return snap, c.problems
}

type compiler struct {
	opts     Options
	secrets  map[string]*corev1.Secret
	problems []Problem
}

func (c *compiler) problem(err error) {
	if p, ok := err.(Problem); ok {
		c.problems = append(c.problems, p)
		return
	}
	panic(fmt.Sprintf("compile: untyped error %v", err))
}

func nsOrDefault(ns string) string {
	if ns == "" {
		return "default"
	}
	return ns
}

// secretData returns a Secret's data with stringData merged over it, as
// the API server stores it.
func (c *compiler) secretData(ns, name string) (map[string][]byte, bool) {
	s, ok := c.secrets[ns+"/"+name]
	if !ok {
		return nil, false
	}
	if len(s.StringData) == 0 {
		return s.Data, true
	}
	d := make(map[string][]byte, len(s.Data)+len(s.StringData))
	for k, v := range s.Data {
		d[k] = v
	}
	for k, v := range s.StringData {
		d[k] = []byte(v)
	}
	return d, true
}

func (c *compiler) policy(in *v1alpha1.WPApiPolicy) (*Policy, error) {
	ns := nsOrDefault(in.Namespace)
	bad := func(reason, format string, args ...any) error {
		return Problem{Kind: "WPApiPolicy", Namespace: ns, Name: in.Name, Reason: reason, Message: fmt.Sprintf(format, args...)}
	}
	s := &in.Spec
	p := &Policy{
		Namespace: ns, Name: in.Name, Generation: in.Generation, created: in.CreationTimestamp.Time,
		RestPrefix:       strings.TrimSuffix(cmp.Or(s.RestPrefix, DefaultRestPrefix), "/"),
		DefaultAction:    cmp.Or(s.DefaultAction, v1alpha1.ActionAuthenticate),
		Denied:           cmp.Or(s.DeniedRouteResponse, v1alpha1.DeniedRouteNotFound),
		CredentialHeader: strings.ToLower(cmp.Or(s.Authentication.CredentialHeader, DefaultCredentialHeader)),
		KeepCredentials:  s.Authentication.KeepCredentials,
	}
	if len(s.Hosts) == 0 {
		return nil, bad(v1alpha1.ReasonInvalidRule, "spec.hosts is empty")
	}
	for _, h := range s.Hosts {
		host := strings.ToLower(string(h))
		if strings.Contains(strings.TrimPrefix(host, "*."), "*") || host == "" {
			return nil, bad(v1alpha1.ReasonInvalidRule, "spec.hosts: %q is not a host name or a \"*.\" wildcard", h)
		}
		if slices.Contains(p.Hosts, host) {
			return nil, bad(v1alpha1.ReasonInvalidRule, "spec.hosts: %q is listed twice", h)
		}
		p.Hosts = append(p.Hosts, host)
	}
	if !strings.HasPrefix(p.RestPrefix, "/") || p.RestPrefix == "" {
		return nil, bad(v1alpha1.ReasonInvalidRule, "spec.restPrefix must start with \"/\"")
	}
	switch p.DefaultAction {
	case v1alpha1.ActionAllow, v1alpha1.ActionAuthenticate, v1alpha1.ActionDeny:
	default:
		return nil, bad(v1alpha1.ReasonInvalidRule, "spec.defaultAction: unknown action %q", p.DefaultAction)
	}
	for i, r := range s.Rules {
		cr, err := compileRule(r)
		if err != nil {
			return nil, bad(v1alpha1.ReasonInvalidRule, "spec.rules[%d]: %v", i, err)
		}
		for _, g := range r.Routes {
			if strings.EqualFold(strings.TrimSuffix(g, "/"), "/batch/v1") && r.Action != v1alpha1.ActionDeny {
				p.BatchAllowed = true
			}
		}
		p.Rules = append(p.Rules, cr)
	}

	if j := s.Authentication.JWT; j != nil {
		data, ok := c.secretData(ns, j.KeysSecretRef.Name)
		if !ok {
			return nil, bad(v1alpha1.ReasonSecretNotFound, "spec.authentication.jwt.keysSecretRef: Secret %q not found", j.KeysSecretRef.Name)
		}
		keys := make([]jwtauth.Key, 0, len(data))
		for _, kid := range slices.Sorted(maps.Keys(data)) {
			keys = append(keys, jwtauth.Key{ID: kid, Material: data[kid]})
		}
		v, err := jwtauth.New(jwtauth.Config{
			Issuer: j.Issuer, Audiences: j.Audiences, Algorithm: string(j.Algorithm), Keys: keys,
			SigningKeyID: j.SigningKeyID, Leeway: durationOr(j.Leeway, DefaultLeeway),
		})
		if err != nil {
			return nil, bad(v1alpha1.ReasonInvalidKey, "spec.authentication.jwt: Secret %q: %v", j.KeysSecretRef.Name, err)
		}
		p.JWT = v
		p.JWTAccessTTL = durationOr(j.AccessTokenTTL, DefaultAccessTokenTTL)
	}
	if a := s.Authentication.APIKeys; a != nil {
		p.APIKeyHeader = strings.ToLower(cmp.Or(a.Header, DefaultAPIKeyHeader))
		if p.APIKeyHeader == p.CredentialHeader {
			return nil, bad(v1alpha1.ReasonInvalidRule, "spec.authentication.apiKeys.header must differ from credentialHeader")
		}
		p.APIKeys, _ = apikey.NewIndex(nil) // filled once the ApiKeys are compiled
	}

	if j := s.Authentication.JWT; j != nil {
		p.RefreshTTL = durationOr(j.RefreshTokenTTL, DefaultRefreshTokenTTL)
		p.MaxLoginsPerUser = int(int32Or(j.MaxLoginsPerUser, DefaultMaxLoginsPerUser))
		if p.MaxLoginsPerUser < 1 {
			return nil, bad(v1alpha1.ReasonInvalidRule, "spec.authentication.jwt.maxLoginsPerUser must be at least 1")
		}
		for _, m := range j.Compatibility {
			switch m {
			case v1alpha1.CompatJWTAuth:
				p.CompatJWTAuth = true
			case v1alpha1.CompatMiniOrange:
				p.CompatMiniOrange = true
			default:
				return nil, bad(v1alpha1.ReasonInvalidRule, "spec.authentication.jwt.compatibility: unknown value %q", m)
			}
		}
	}
	if w := s.WordPress; w != nil {
		d, err := c.directory(ns, w)
		if err != nil {
			return nil, err.(Problem).withName(in.Name)
		}
		p.Users = d
		if ref := w.NotificationKeySecretRef; ref != nil {
			data, ok := c.secretData(ns, ref.Name)
			if !ok {
				return nil, bad(v1alpha1.ReasonSecretNotFound, "spec.wordpress.notificationKeySecretRef: Secret %q not found", ref.Name)
			}
			key := data[ref.Key]
			if len(key) < MinNotificationKeyBytes {
				return nil, bad(v1alpha1.ReasonInvalidKey, "spec.wordpress.notificationKeySecretRef: Secret %q key %q must hold at least %d bytes", ref.Name, ref.Key, MinNotificationKeyBytes)
			}
			p.NotificationKey = bytes.Clone(key)
		}
	}
	if b := s.Authentication.Basic; b != nil {
		p.Basic = &Basic{}
		accept := b.Accept
		if len(accept) == 0 {
			accept = []v1alpha1.BasicCredential{v1alpha1.BasicPassword, v1alpha1.BasicApplicationPassword, v1alpha1.BasicClientSecret}
		}
		for _, a := range accept {
			switch a {
			case v1alpha1.BasicPassword:
				p.Basic.Users.Passwords = true
			case v1alpha1.BasicApplicationPassword:
				p.Basic.Users.AppPasswords = true
			case v1alpha1.BasicClientSecret:
				p.Basic.ClientSecrets = true
			default:
				return nil, bad(v1alpha1.ReasonInvalidRule, "spec.authentication.basic.accept: unknown value %q", a)
			}
		}
		if (p.Basic.Users.Passwords || p.Basic.Users.AppPasswords) && p.Users == nil {
			return nil, bad(v1alpha1.ReasonInvalidRule, "spec.authentication.basic accepts WordPress passwords but spec.wordpress is not set")
		}
		if p.Basic.ClientSecrets {
			p.Basic.Clients = basicauth.NewClients(nil) // filled once the OAuthClients are compiled
		}
	}
	lt := s.Throttle.Login
	window := durationOr(lt.Window, DefaultLoginWindow)
	p.LoginUser = store.Limit{Max: int(int32Or(lt.MaxFailuresPerUser, DefaultMaxFailuresUser)), Window: window}
	p.LoginClient = store.Limit{Max: int(int32Or(lt.MaxFailuresPerClient, DefaultMaxFailuresIP)), Window: window}

	p.IdentityTTL = durationOr(s.Identity.TTL, DefaultIdentityTTL)
	if p.IdentityTTL <= 0 || p.IdentityTTL > MaxIdentityTTL {
		return nil, bad(v1alpha1.ReasonInvalidRule, "spec.identity.ttl must be between 1s and %s", MaxIdentityTTL)
	}
	key := c.opts.IdentityKey
	if ref := s.Identity.SigningKeySecretRef; ref != nil {
		data, ok := c.secretData(ns, ref.Name)
		if !ok {
			return nil, bad(v1alpha1.ReasonSecretNotFound, "spec.identity.signingKeySecretRef: Secret %q not found", ref.Name)
		}
		raw, ok := data[ref.Key]
		if !ok {
			return nil, bad(v1alpha1.ReasonSecretNotFound, "spec.identity.signingKeySecretRef: Secret %q has no key %q", ref.Name, ref.Key)
		}
		k, err := identity.ParseSigningKey(raw)
		if err != nil {
			return nil, bad(v1alpha1.ReasonInvalidKey, "spec.identity.signingKeySecretRef: %v", err)
		}
		key = k
	}
	if key == nil {
		return nil, bad(v1alpha1.ReasonSecretNotFound, "no identity signing key: set spec.identity.signingKeySecretRef or start wpauthz with --identity-key")
	}
	p.Signer = identity.NewSigner(key, KeyID(key.Public().(ed25519.PublicKey)))
	return p, nil
}

// KeyID names an identity key by its public key, so WordPress can tell
// rotated keys apart.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return base64.RawURLEncoding.EncodeToString(sum[:12])
}

func compileRule(r v1alpha1.Rule) (Rule, error) {
	out := Rule{Name: r.Name, Action: r.Action}
	switch r.Action {
	case v1alpha1.ActionAllow, v1alpha1.ActionAuthenticate, v1alpha1.ActionDeny:
	default:
		return out, fmt.Errorf("unknown action %q", r.Action)
	}
	if len(r.Routes) == 0 {
		return out, fmt.Errorf("routes is empty")
	}
	for _, pat := range r.Routes {
		g, err := wproute.CompileGlob(pat)
		if err != nil {
			return out, fmt.Errorf("route %q: %w", pat, err)
		}
		out.Routes = append(out.Routes, g)
	}
	for _, m := range r.Methods {
		b, ok := methodBits[string(m)]
		if !ok {
			return out, fmt.Errorf("unknown method %q", m)
		}
		out.Methods |= b
	}
	if len(r.Roles) > 0 && r.Action != v1alpha1.ActionAuthenticate {
		return out, fmt.Errorf("roles require action Authenticate")
	}
	for _, role := range r.Roles {
		out.Roles = append(out.Roles, string(role))
	}
	if len(r.AuthMethods) > 0 && r.Action != v1alpha1.ActionAuthenticate {
		return out, fmt.Errorf("authMethods require action Authenticate")
	}
	for _, m := range r.AuthMethods {
		name, ok := crdAuthMethods[m]
		if !ok {
			return out, fmt.Errorf("unknown auth method %q", m)
		}
		out.AuthMethods |= AuthMethodBit(name)
	}
	return out, nil
}

func (c *compiler) apiKey(in *v1alpha1.ApiKey, policies map[string]*Policy) (*Policy, *apikey.Key, error) {
	ns := nsOrDefault(in.Namespace)
	bad := func(reason, format string, args ...any) error {
		return Problem{Kind: "ApiKey", Namespace: ns, Name: in.Name, Reason: reason, Message: fmt.Sprintf(format, args...)}
	}
	s := &in.Spec
	p, ok := policies[ns+"/"+s.PolicyRef.Name]
	if !ok {
		return nil, nil, bad(v1alpha1.ReasonPolicyNotFound, "spec.policyRef: WPApiPolicy %q is not served", s.PolicyRef.Name)
	}
	if p.APIKeys == nil {
		return nil, nil, bad(v1alpha1.ReasonInvalidKey, "WPApiPolicy %q does not enable spec.authentication.apiKeys", s.PolicyRef.Name)
	}
	if s.SecretRef == nil {
		return nil, nil, bad(v1alpha1.ReasonSecretNotFound, "spec.secretRef is unset (only the in-cluster controller generates keys)")
	}
	data, ok := c.secretData(ns, s.SecretRef.Name)
	if !ok {
		return nil, nil, bad(v1alpha1.ReasonSecretNotFound, "spec.secretRef: Secret %q not found", s.SecretRef.Name)
	}
	raw, ok := data[s.SecretRef.Key]
	if !ok {
		return nil, nil, bad(v1alpha1.ReasonSecretNotFound, "spec.secretRef: Secret %q has no key %q", s.SecretRef.Name, s.SecretRef.Key)
	}
	material := strings.TrimSpace(string(raw))
	if err := apikey.CheckMaterial(material); err != nil {
		return nil, nil, bad(v1alpha1.ReasonInvalidKey, "Secret %q key %q: %v", s.SecretRef.Name, s.SecretRef.Key, err)
	}
	if s.User == nil && len(s.Roles) == 0 {
		return nil, nil, bad(v1alpha1.ReasonInvalidKey, "a universal key (no spec.user) needs spec.roles")
	}
	id := identity.Identity{Method: identity.MethodAPIKey}
	for _, r := range s.Roles {
		id.Roles = append(id.Roles, string(r))
	}
	switch {
	case s.User == nil:
		id.Subject = "apikey:" + ns + "/" + in.Name
	case s.User.ID > 0:
		id.UserID = s.User.ID
		id.Subject = strconv.FormatInt(s.User.ID, 10)
	case s.User.Login != "":
		id.Login = s.User.Login
		id.Subject = "login:" + s.User.Login
	default:
		return nil, nil, bad(v1alpha1.ReasonInvalidKey, "spec.user needs login or id")
	}
	k := &apikey.Key{Namespace: ns, Name: in.Name, Hash: apikey.Sum(material), Identity: id, Disabled: s.Disabled}
	if s.ExpiresAt != nil {
		k.ExpiresAt = s.ExpiresAt.Time
	}
	return p, k, nil
}

func int32Or(v *int32, def int32) int32 {
	if v == nil {
		return def
	}
	return *v
}

// withName fills the resource name of a Problem built before it was known.
func (p Problem) withName(name string) Problem {
	if p.Name == "" {
		p.Name = name
	}
	return p
}

// directory opens (or reuses, through the pool) the user directory of
// spec.wordpress.
func (c *compiler) directory(ns string, w *v1alpha1.WordPressSource) (*wpusers.Directory, error) {
	bad := func(reason, format string, args ...any) error {
		return Problem{Kind: "WPApiPolicy", Namespace: ns, Reason: reason, Message: fmt.Sprintf(format, args...)}
	}
	spec := wpusers.Spec{
		TablePrefix: cmp.Or(w.TablePrefix, DefaultTablePrefix), Multisite: w.Multisite, BlogID: max(w.BlogID, 1),
		TTL: durationOr(w.CacheTTL, DefaultUserCacheTTL), QueryTimeout: durationOr(w.QueryTimeout, DefaultQueryTimeout),
	}
	var ref *v1alpha1.SecretKeySelector
	field := "databaseSecretRef"
	switch {
	case w.DatabaseSecretRef != nil && w.UsersSecretRef == nil:
		ref = w.DatabaseSecretRef
	case w.UsersSecretRef != nil && w.DatabaseSecretRef == nil:
		ref, field = w.UsersSecretRef, "usersSecretRef"
	default:
		return nil, bad(v1alpha1.ReasonInvalidRule, "spec.wordpress: set exactly one of databaseSecretRef or usersSecretRef")
	}
	data, ok := c.secretData(ns, ref.Name)
	if !ok {
		return nil, bad(v1alpha1.ReasonSecretNotFound, "spec.wordpress.%s: Secret %q not found", field, ref.Name)
	}
	raw, ok := data[ref.Key]
	if !ok || len(raw) == 0 {
		return nil, bad(v1alpha1.ReasonSecretNotFound, "spec.wordpress.%s: Secret %q has no key %q", field, ref.Name, ref.Key)
	}
	if field == "databaseSecretRef" {
		spec.DSN = strings.TrimSpace(string(raw))
	} else {
		spec.Users = raw
	}
	d, err := c.opts.Users.Directory(spec)
	if err != nil {
		// The error never quotes the DSN or the file's hashes.
		return nil, bad(v1alpha1.ReasonInvalidRule, "spec.wordpress.%s: Secret %q key %q: %v", field, ref.Name, ref.Key, err)
	}
	return d, nil
}

func (c *compiler) oauthClient(in *v1alpha1.OAuthClient, policies map[string]*Policy) error {
	ns := nsOrDefault(in.Namespace)
	bad := func(reason, format string, args ...any) error {
		return Problem{Kind: "OAuthClient", Namespace: ns, Name: in.Name, Reason: reason, Message: fmt.Sprintf(format, args...)}
	}
	if _, ok := policies[ns+"/"+in.Spec.PolicyRef.Name]; !ok {
		return bad(v1alpha1.ReasonPolicyNotFound, "spec.policyRef: WPApiPolicy %q is not served", in.Spec.PolicyRef.Name)
	}
	data, ok := c.secretData(ns, in.Spec.SecretRef.Name)
	if !ok {
		return bad(v1alpha1.ReasonSecretNotFound, "spec.secretRef: Secret %q not found", in.Spec.SecretRef.Name)
	}
	secret := data[in.Spec.SecretRef.Key]
	if len(secret) == 0 {
		return bad(v1alpha1.ReasonSecretNotFound, "spec.secretRef: Secret %q has no key %q", in.Spec.SecretRef.Name, in.Spec.SecretRef.Key)
	}
	p := policies[ns+"/"+in.Spec.PolicyRef.Name]
	if p.Basic == nil || !p.Basic.ClientSecrets || !slices.Contains(in.Spec.Grants, v1alpha1.GrantType("client_credentials")) {
		return nil
	}
	if p.Basic.Clients.Has(in.Spec.ClientID) {
		return bad(v1alpha1.ReasonInvalidKey, "spec.clientID %q is used by another OAuthClient of the policy", in.Spec.ClientID)
	}
	cl := &basicauth.Client{
		Namespace: ns, Name: in.Name, ClientID: in.Spec.ClientID,
		SecretHash: sha256.Sum256([]byte(strings.TrimSpace(string(secret)))), Disabled: in.Spec.Disabled,
	}
	for _, r := range in.Spec.Roles {
		cl.Roles = append(cl.Roles, string(r))
	}
	if u := in.Spec.User; u != nil {
		cl.UserID, cl.UserLogin = u.ID, u.Login
	}
	p.Basic.Clients = p.Basic.Clients.With(cl)
	return nil
}

// claimant returns the policy already serving one of hosts.
func (s *Snapshot) claimant(hosts []string) *Policy {
	for _, h := range hosts {
		if suffix, ok := strings.CutPrefix(h, "*."); ok {
			if p := s.wildcard[suffix]; p != nil {
				return p
			}
		} else if p := s.exact[h]; p != nil {
			return p
		}
	}
	return nil
}

func (s *Snapshot) add(p *Policy) {
	for _, h := range p.Hosts {
		if suffix, ok := strings.CutPrefix(h, "*."); ok {
			s.wildcard[suffix] = p
		} else {
			s.exact[h] = p
		}
	}
	s.policies = append(s.policies, p)
}

func durationOr(d *metav1.Duration, def time.Duration) time.Duration {
	if d == nil || d.Duration == 0 {
		return def
	}
	return d.Duration
}
