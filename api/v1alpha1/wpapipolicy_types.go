package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Action is what a rule does with a matching request.
// +kubebuilder:validation:Enum=Allow;Authenticate;Deny
type Action string

// Rule actions.
const (
	// ActionAllow lets anyone through (a presented credential must still be valid).
	ActionAllow Action = "Allow"
	// ActionAuthenticate requires a valid identity, optionally with a role.
	ActionAuthenticate Action = "Authenticate"
	// ActionDeny disables the endpoint.
	ActionDeny Action = "Deny"
)

// HTTPMethod is a method a rule matches. HEAD is matched as GET, as
// WordPress serves it.
// +kubebuilder:validation:Enum=GET;POST;PUT;PATCH;DELETE;OPTIONS
type HTTPMethod string

// DeniedRouteResponse is how a Deny rule answers.
// +kubebuilder:validation:Enum=NotFound;Forbidden
type DeniedRouteResponse string

// Denied route responses.
const (
	// DeniedRouteNotFound answers 404 rest_no_route, as WordPress answers an unknown route.
	DeniedRouteNotFound DeniedRouteResponse = "NotFound"
	// DeniedRouteForbidden answers 403 rest_forbidden.
	DeniedRouteForbidden DeniedRouteResponse = "Forbidden"
)

// WPApiPolicySpec protects the REST API of the WordPress sites at Hosts.
type WPApiPolicySpec struct {
	// Hosts this policy protects: exact names or "*.example.com"
	// wildcards (one or more labels). Ports are ignored.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=64
	// +listType=set
	Hosts []Host `json:"hosts"`

	// RestPrefix is the path of the REST API, including WordPress's home
	// path when installed in a subdirectory (e.g. "/blog/wp-json").
	// +kubebuilder:default="/wp-json"
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:Pattern=`^(/[A-Za-z0-9._~-]+)+$`
	// +optional
	RestPrefix string `json:"restPrefix,omitempty"`

	// DefaultAction applies to REST requests that no rule matches.
	// +kubebuilder:default=Authenticate
	// +optional
	DefaultAction Action `json:"defaultAction,omitempty"`

	// DeniedRouteResponse chooses the answer to a Deny: 404 rest_no_route
	// (the endpoint looks absent) or 403.
	// +kubebuilder:default=NotFound
	// +optional
	DeniedRouteResponse DeniedRouteResponse `json:"deniedRouteResponse,omitempty"`

	// Rules are evaluated in order; the first match decides.
	// +kubebuilder:validation:MaxItems=256
	// +optional
	Rules []Rule `json:"rules,omitempty"`

	// Authentication configures how callers prove who they are.
	// +kubebuilder:default={}
	// +optional
	Authentication Authentication `json:"authentication,omitempty"`

	// Identity configures the signed identity header sent to WordPress.
	// +kubebuilder:default={}
	// +optional
	Identity IdentityForwarding `json:"identity,omitempty"`

	// WordPress is where the site's users live: its database (read-only),
	// or a static users file for demos and tests. Basic authentication
	// and the token endpoints need it.
	// +optional
	WordPress *WordPressSource `json:"wordpress,omitempty"`

	// Throttle limits failed logins (token endpoints and Basic).
	// +kubebuilder:default={}
	// +optional
	Throttle Throttle `json:"throttle,omitempty"`
}

// WordPressSource locates a WordPress site's users.
// +kubebuilder:validation:XValidation:rule="has(self.databaseSecretRef) != has(self.usersSecretRef)",message="exactly one of databaseSecretRef or usersSecretRef must be set"
// +kubebuilder:validation:XValidation:rule="!has(self.blogID) || self.blogID == 1 || (has(self.multisite) && self.multisite)",message="blogID other than 1 needs multisite"
type WordPressSource struct {
	// DatabaseSecretRef names the Secret entry holding the database DSN in
	// go-sql-driver/mysql form ("user:password@tcp(db:3306)/wordpress").
	// Give wpauthz a user that can only SELECT.
	// +optional
	DatabaseSecretRef *SecretKeySelector `json:"databaseSecretRef,omitempty"`

	// UsersSecretRef names a Secret entry holding a static users file
	// (YAML: users with WordPress-format password hashes, roles and
	// application passwords), for demos and tests without a database.
	// +optional
	UsersSecretRef *SecretKeySelector `json:"usersSecretRef,omitempty"`

	// TablePrefix is $table_prefix from wp-config.php.
	// +kubebuilder:default="wp_"
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9_]+$`
	// +optional
	TablePrefix string `json:"tablePrefix,omitempty"`

	// Multisite is true for a WordPress network.
	// +optional
	Multisite bool `json:"multisite,omitempty"`

	// BlogID is the network site whose roles apply (1: the main site).
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=1
	// +optional
	BlogID int64 `json:"blogID,omitempty"`

	// CacheTTL is how long a user record (roles, hashes) is used before
	// the database is asked again. Stale records are served for up to 5
	// minutes more while a background query refreshes them.
	// +kubebuilder:default="30s"
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1s') && duration(self) <= duration('1h')",message="must be between 1s and 1h"
	// +optional
	CacheTTL *metav1.Duration `json:"cacheTTL,omitempty"`

	// NotificationKeySecretRef names the Secret entry holding the key
	// (at least 32 bytes) the bridge plugin signs user-change
	// notifications with (WPAUTHZ_NOTIFY_KEY in wp-config.php). When a
	// user's password, roles or application passwords change, or the user
	// is deleted, WordPress calls wpauthz's internal listener and every
	// token of that user issued before the change stops working. Without
	// it, notifications for this site are refused.
	// +optional
	NotificationKeySecretRef *SecretKeySelector `json:"notificationKeySecretRef,omitempty"`

	// QueryTimeout bounds one database look-up; on timeout the request
	// is refused with 503 (fail closed).
	// +kubebuilder:default="2s"
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('100ms') && duration(self) <= duration('30s')",message="must be between 100ms and 30s"
	// +optional
	QueryTimeout *metav1.Duration `json:"queryTimeout,omitempty"`
}

// Throttle limits failed logins.
type Throttle struct {
	// Login counts failed logins (token endpoints and Basic) per
	// WordPress user and per client address.
	// +kubebuilder:default={}
	// +optional
	Login LoginThrottle `json:"login,omitempty"`
}

// LoginThrottle allows at most N failures per window, per user and per
// client, as a rate (GCRA): an attempt is counted before its secret is
// checked (a success gives its count back), and once N are counted in a
// burst the next is refused with 429 until one more fits the rate
// (Window/N after the oldest counted one); failures spread at or under N
// per Window are never refused.
type LoginThrottle struct {
	// MaxFailuresPerUser within Window before that WordPress user (under
	// any spelling of her login or email) is refused with 429; her
	// application passwords still work. 0 disables the per-user limit.
	// +kubebuilder:default=5
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=10000
	// +optional
	MaxFailuresPerUser *int32 `json:"maxFailuresPerUser,omitempty"`

	// MaxFailuresPerClient within Window before that client address is
	// refused with 429. 0 disables it.
	// +kubebuilder:default=20
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100000
	// +optional
	MaxFailuresPerClient *int32 `json:"maxFailuresPerClient,omitempty"`

	// Window is the period the maxima apply to.
	// +kubebuilder:default="15m0s"
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1s') && duration(self) <= duration('24h')",message="must be between 1s and 24h"
	// +optional
	Window *metav1.Duration `json:"window,omitempty"`
}

// Host is an exact host name or a "*." wildcard.
// +kubebuilder:validation:MaxLength=253
// +kubebuilder:validation:Pattern=`^(\*\.)?[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$`
type Host string

// Rule matches REST routes and methods and says what to do.
// +kubebuilder:validation:XValidation:rule="self.action == 'Authenticate' || !has(self.roles) || size(self.roles) == 0",message="roles require action Authenticate"
// +kubebuilder:validation:XValidation:rule="self.action == 'Authenticate' || !has(self.authMethods) || size(self.authMethods) == 0",message="authMethods require action Authenticate"
type Rule struct {
	// Name identifies the rule in audit logs.
	// +kubebuilder:validation:MaxLength=63
	// +optional
	Name string `json:"name,omitempty"`

	// Routes are REST route globs relative to the REST prefix
	// ("/wp/v2/users", "/wc/v3/**", "/wp/v2/posts/*"). "*" matches one
	// path segment, "**" any number. Matching is case-insensitive, as in
	// WordPress.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=512
	// +kubebuilder:validation:items:Pattern=`^/[^\s?#]*$`
	Routes []string `json:"routes"`

	// Methods the rule matches; empty matches every method.
	// +kubebuilder:validation:MaxItems=6
	// +listType=set
	// +optional
	Methods []HTTPMethod `json:"methods,omitempty"`

	// Action for matching requests.
	Action Action `json:"action"`

	// Roles, any of which the caller must have (Authenticate only).
	// +kubebuilder:validation:MaxItems=32
	// +listType=set
	// +optional
	Roles []Role `json:"roles,omitempty"`

	// AuthMethods limits which methods may authenticate for this rule;
	// empty allows every method the policy enables.
	// +kubebuilder:validation:MaxItems=5
	// +listType=set
	// +optional
	AuthMethods []AuthMethod `json:"authMethods,omitempty"`
}

// Authentication configures credentials.
type Authentication struct {
	// CredentialHeader is the request header that carries "Bearer <jwt>"
	// or "ApiKey <key>", e.g. "X-WP-Auth" where a proxy already uses
	// Authorization.
	// +kubebuilder:default=Authorization
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9-]+$`
	// +optional
	CredentialHeader string `json:"credentialHeader,omitempty"`

	// KeepCredentials forwards the credential header that wpauthz verified
	// to WordPress instead of removing it. Credentials wpauthz did not
	// verify are removed regardless.
	// +optional
	KeepCredentials bool `json:"keepCredentials,omitempty"`

	// JWT enables wpauthz-issued JSON Web Tokens.
	// +optional
	JWT *JWTAuthentication `json:"jwt,omitempty"`

	// APIKeys enables ApiKey resources that reference this policy.
	// +optional
	APIKeys *APIKeyAuthentication `json:"apiKeys,omitempty"`

	// Basic enables HTTP Basic authentication ("Authorization: Basic"
	// in the credential header). It needs spec.wordpress for user
	// credentials.
	// +optional
	Basic *BasicAuthentication `json:"basic,omitempty"`
}

// BasicCredential is one kind of secret Basic authentication accepts.
// +kubebuilder:validation:Enum=Password;ApplicationPassword;ClientSecret
type BasicCredential string

// Basic credentials.
const (
	// BasicPassword: a WordPress login or email and the user's password.
	BasicPassword BasicCredential = "Password"
	// BasicApplicationPassword: a login or email and one of the user's
	// WordPress application passwords.
	BasicApplicationPassword BasicCredential = "ApplicationPassword"
	// BasicClientSecret: an OAuthClient's clientID and secret (clients
	// with the client_credentials grant).
	BasicClientSecret BasicCredential = "ClientSecret"
)

// BasicAuthentication configures Basic authentication.
type BasicAuthentication struct {
	// Accept lists the credentials Basic accepts, e.g. only
	// [ApplicationPassword] to keep real passwords off the wire.
	// +kubebuilder:default={Password,ApplicationPassword,ClientSecret}
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=3
	// +listType=set
	// +optional
	Accept []BasicCredential `json:"accept,omitempty"`
}

// SigningAlgorithm is a JWS algorithm wpauthz signs and verifies.
// +kubebuilder:validation:Enum=HS256;RS256;ES256;EdDSA
type SigningAlgorithm string

// JWTAuthentication configures wpauthz-issued tokens.
type JWTAuthentication struct {
	// Issuer is the "iss" of issued tokens; verified tokens must carry it.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	Issuer string `json:"issuer"`

	// Audiences accepted in "aud"; the first is put in issued tokens.
	// Empty: "aud" is not checked.
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MaxLength=512
	// +optional
	Audiences []string `json:"audiences,omitempty"`

	// Algorithm of every key in KeysSecretRef.
	Algorithm SigningAlgorithm `json:"algorithm"`

	// KeysSecretRef names a Secret whose every data entry is a key: the
	// entry name is the "kid", the value a PEM key (private to sign, or
	// public to verify only) or, for HS256, a secret of at least 32 bytes.
	// Several entries allow rotation.
	KeysSecretRef SecretReference `json:"keysSecretRef"`

	// SigningKeyID chooses the key that signs new tokens.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	SigningKeyID string `json:"signingKeyID,omitempty"`

	// Leeway tolerated on exp, nbf and iat for clock skew.
	// +kubebuilder:default="30s"
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('0s') && duration(self) <= duration('10m')",message="must be a duration such as 30s (0 to 10m)"
	// +optional
	Leeway *metav1.Duration `json:"leeway,omitempty"`

	// AccessTokenTTL is the lifetime of issued access tokens.
	// +kubebuilder:default="15m0s"
	// +kubebuilder:validation:XValidation:rule="duration(self) > duration('0s')",message="must be a positive duration such as 30s or 15m"
	// +optional
	AccessTokenTTL *metav1.Duration `json:"accessTokenTTL,omitempty"`

	// RefreshTokenTTL is how long a refresh token may be used; rotation
	// issues a new one each time but never extends a login past this
	// lifetime counted from the login.
	// +kubebuilder:default="720h0m0s"
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1m')",message="must be at least 1m"
	// +optional
	RefreshTokenTTL *metav1.Duration `json:"refreshTokenTTL,omitempty"`

	// MaxLoginsPerUser is how many logins (refresh-token families) one
	// user may keep at once. A login beyond it revokes that user's oldest
	// one, with its access tokens, so that no caller can make wpauthz's
	// state grow by logging in again and again.
	// +kubebuilder:default=50
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10000
	// +optional
	MaxLoginsPerUser *int32 `json:"maxLoginsPerUser,omitempty"`

	// Compatibility adds the token endpoint shapes of the plugins wpauthz
	// replaces, for clients that cannot change yet (docs/token-endpoints.md).
	// +kubebuilder:validation:MaxItems=2
	// +listType=set
	// +optional
	Compatibility []TokenCompatibility `json:"compatibility,omitempty"`
}

// TokenCompatibility names a plugin whose token endpoints wpauthz mimics.
// +kubebuilder:validation:Enum=JWTAuthForWPRESTAPI;MiniOrange
type TokenCompatibility string

// Compatibility shapes.
const (
	// CompatJWTAuth: "JWT Authentication for WP REST API"
	// (/jwt-auth/v1/token and /jwt-auth/v1/token/validate).
	CompatJWTAuth TokenCompatibility = "JWTAuthForWPRESTAPI"
	// CompatMiniOrange: miniOrange's "jwt_token" field in the
	// /api/v1/token answer and /api/v1/token-validate.
	CompatMiniOrange TokenCompatibility = "MiniOrange"
)

// APIKeyAuthentication configures API keys.
type APIKeyAuthentication struct {
	// Header that carries a bare key, in addition to "ApiKey <key>" in
	// the credential header.
	// +kubebuilder:default=X-API-Key
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9-]+$`
	// +optional
	Header string `json:"header,omitempty"`
}

// IdentityForwarding configures the X-WPAuthz-Identity assertion.
type IdentityForwarding struct {
	// SigningKeySecretRef names the Ed25519 private key (PKCS#8 PEM or a
	// 32-byte seed) that signs the assertion. Unset: the server's
	// --identity-key is used.
	// +optional
	SigningKeySecretRef *SecretKeySelector `json:"signingKeySecretRef,omitempty"`

	// TTL of an assertion; WordPress refuses it afterwards. At most 60s.
	// +kubebuilder:default="30s"
	// +kubebuilder:validation:XValidation:rule="duration(self) > duration('0s') && duration(self) <= duration('60s')",message="must be between 1s and 60s"
	// +optional
	TTL *metav1.Duration `json:"ttl,omitempty"`
}

// WPApiPolicyStatus is the observed state of a WPApiPolicy.
type WPApiPolicyStatus struct {
	// ObservedGeneration is the generation the conditions describe.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions: Accepted and Ready.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// WPApiPolicy protects the WordPress REST API of one or more hosts.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=wpp;wppolicy,categories=wpauthz
// +kubebuilder:printcolumn:name="Hosts",type=string,JSONPath=`.spec.hosts`
// +kubebuilder:printcolumn:name="Default",type=string,JSONPath=`.spec.defaultAction`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type WPApiPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   WPApiPolicySpec   `json:"spec"`
	Status WPApiPolicyStatus `json:"status,omitempty"`
}

// WPApiPolicyList is a list of WPApiPolicy.
// +kubebuilder:object:root=true
type WPApiPolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []WPApiPolicy `json:"items"`
}

func init() {
	SchemeBuilder.Register(&WPApiPolicy{}, &WPApiPolicyList{})
}
