// Package jwtauth verifies and mints the JSON Web Tokens that wpauthz itself
// issues (the "JWT" authentication method).
//
// The package is deliberately narrow: a token is accepted only when it is a
// compact JWS signed with the one algorithm the policy configures, by one of
// the keys the policy lists, and carries the policy's issuer (and audience).
// Everything a JWT library could do "helpfully" — pick the algorithm from the
// header, fetch keys from jku/x5u, trust an embedded jwk or x5c chain, honour
// crit/b64 extensions, decrypt JWE — is refused or ignored, because each of
// those is a way for the token to choose the key that verifies it.
//
// Signature checks use github.com/lestrrat-go/jwx/v2 with the key and the
// algorithm passed explicitly (jws.WithKey); the framing (segment count,
// base64url alphabet, header parameters) and the claims are checked here,
// strictly, before and after it.
//
// Verifying a token costs a signature check (tens of microseconds for ES256,
// EdDSA and RS256), so verified tokens are cached by their exact string until
// they expire. The cache never changes an answer: the time checks run against
// the caller's clock on every hit, exactly as they would on a miss.
//
// Revocation is not this package's job: Verify answers "was this token
// issued by us and is it within its lifetime"; the caller checks the token ID
// and issue time against the revocation store on every request, cached or
// not.
package jwtauth

import (
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/lestrrat-go/jwx/v2/jwa"
)

// MaxTokenSize bounds the tokens Verify looks at. Real wpauthz tokens are a
// few hundred bytes; anything near this size is an attack on the parser or
// the cache, and is refused before any decoding.
const MaxTokenSize = 8192

// DefaultCacheSize is the number of verified tokens kept when
// Config.CacheSize is 0.
const DefaultCacheSize = 10000

// Algorithm names accepted in Config.Algorithm. They are the JWS "alg"
// values, compared exactly (case-sensitive) with the token header.
const (
	HS256 = "HS256"
	RS256 = "RS256"
	ES256 = "ES256"
	EdDSA = "EdDSA"
)

// Verify errors. Every error returned by Verify wraps exactly one of these,
// so callers can map them onto responses with errors.Is; the message adds a
// fixed reason that is safe to log (it never contains the token or any part
// of it).
var (
	// ErrExpired: the token is authentic but its exp (plus leeway) has passed.
	ErrExpired = errors.New("token expired")
	// ErrNotYetValid: the token is authentic but its nbf or iat lies in the
	// future beyond the leeway.
	ErrNotYetValid = errors.New("token not yet valid")
	// ErrInvalid: anything else — malformed, wrong algorithm, unknown key,
	// bad signature, wrong issuer or audience, ill-typed claims.
	ErrInvalid = errors.New("invalid token")
)

// tokenError carries one sentinel and a fixed reason. All instances are
// package-level values, so a rejected token costs no allocation and the
// reason can never echo attacker-controlled bytes into a log line.
type tokenError struct {
	kind   error
	reason string
}

func (e *tokenError) Error() string { return "jwtauth: " + e.kind.Error() + ": " + e.reason }
func (e *tokenError) Unwrap() error { return e.kind }

func invalid(reason string) error { return &tokenError{kind: ErrInvalid, reason: reason} }

var (
	errTooLarge       = invalid("token exceeds maximum size")
	errMalformed      = invalid("not a compact JWS (three non-empty base64url segments)")
	errHeader         = invalid("protected header is not a valid JSON object")
	errHeaderDup      = invalid("protected header names a member twice")
	errAlgNone        = invalid(`unsigned token (alg "none") refused`)
	errAlgMismatch    = invalid("algorithm does not match the configured algorithm")
	errCrit           = invalid(`"crit" header parameter not supported`)
	errB64            = invalid(`"b64" header parameter not supported`)
	errCty            = invalid(`nested or encrypted token ("cty"/"enc"/"zip" header) not supported`)
	errTyp            = invalid(`"typ" header is not "JWT"`)
	errKidType        = invalid(`"kid" header is not a string`)
	errKidRequired    = invalid(`"kid" header required when several keys are configured`)
	errKidUnknown     = invalid("unknown key ID")
	errSigEncoding    = invalid("signature segment has the wrong length or encoding")
	errSignature      = invalid("signature verification failed")
	errClaimsJSON     = invalid("claims are not a valid JSON object")
	errClaimsDup      = invalid("claims name a member twice (at some depth)")
	errIssMissing     = invalid(`"iss" claim missing or not a string`)
	errIssMismatch    = invalid("issuer not accepted")
	errSubMissing     = invalid(`"sub" claim missing, empty or not a string`)
	errAudType        = invalid(`"aud" claim is not a string or an array of strings`)
	errAudMismatch    = invalid("audience not accepted")
	errExpMissing     = invalid(`"exp" claim missing or not a NumericDate`)
	errNbfType        = invalid(`"nbf" claim is not a NumericDate`)
	errIatType        = invalid(`"iat" claim is not a NumericDate`)
	errExpBeforeIat   = invalid(`"exp" is before "iat"`)
	errJtiType        = invalid(`"jti" claim is not a string`)
	errLoginType      = invalid(`"login" or "preferred_username" claim is not a string`)
	errEmailType      = invalid(`"email" claim is not a string`)
	errRolesType      = invalid(`"roles" claim is not an array of strings`)
	errExpired        = &tokenError{kind: ErrExpired, reason: "exp has passed"}
	errNotYetValidNbf = &tokenError{kind: ErrNotYetValid, reason: "nbf is in the future"}
	errNotYetValidIat = &tokenError{kind: ErrNotYetValid, reason: "iat is in the future"}
)

// Key is one entry of the keys Secret.
type Key struct {
	// ID is the key ID ("kid"); by convention the data key name in the
	// Kubernetes Secret, so rotating is "add a data key, later remove one".
	ID string
	// Material is, for HS256, the raw shared secret (at least 32 bytes, used
	// byte for byte, not trimmed). For RS256, ES256 and EdDSA it is a PEM
	// block: a private key (PKCS#8 "PRIVATE KEY", PKCS#1 "RSA PRIVATE KEY",
	// SEC1 "EC PRIVATE KEY"), which can verify and sign, or a public key
	// ("PUBLIC KEY", "RSA PUBLIC KEY"), which can only verify.
	Material []byte
}

// Config describes one issuer's tokens. A Verifier is immutable: rotating
// keys or changing the issuer means building a new Verifier (its cache starts
// empty, so a removed key stops verifying at once).
type Config struct {
	// Issuer is required; tokens must carry exactly this "iss".
	Issuer string
	// Audiences, when non-empty, are the accepted "aud" values: the token's
	// aud must contain at least one of them. Mint uses Audiences[0].
	Audiences []string
	// Algorithm is one of HS256, RS256, ES256, EdDSA. Tokens whose header
	// names another algorithm are refused, whatever the key could do.
	Algorithm string
	// Keys holds at least one key, all fitting Algorithm (RS256: RSA of at
	// least 2048 bits; ES256: P-256; EdDSA: Ed25519). With several keys,
	// tokens must name theirs with "kid".
	Keys []Key
	// SigningKeyID selects the key Mint signs with; "" means the first key
	// that can sign. A verify-only Verifier (public keys only) is fine as
	// long as SigningKeyID is "".
	SigningKeyID string
	// Leeway is the clock skew tolerated on exp, nbf and iat.
	Leeway time.Duration
	// CacheSize bounds the verified-token cache: 0 means DefaultCacheSize,
	// a negative value disables the cache.
	CacheSize int
}

// Claims is what a verified token says about its bearer.
type Claims struct {
	// Subject is "sub" verbatim.
	Subject string
	// UserID is the WordPress user ID when Subject is a canonical positive
	// decimal integer, else 0.
	UserID int64
	// Login is the "login" claim, else "preferred_username".
	Login string
	// Email is the "email" claim.
	Email string
	// Roles is the "roles" claim (WordPress role slugs).
	Roles []string
	// TokenID is "jti", the handle for revocation.
	TokenID string
	// IssuedAt is "iat" (zero when absent); ExpiresAt is "exp".
	IssuedAt, ExpiresAt time.Time
	// Audience is "aud", normalised to a list.
	Audience []string
}

// Verifier verifies (and, given a private or shared key, mints) tokens for
// one Config. It is safe for concurrent use.
type Verifier struct {
	issuer    string
	audiences []string
	alg       jwa.SignatureAlgorithm
	algName   string
	keys      map[string]*parsedKey
	only      *parsedKey // the key when exactly one is configured
	signer    *parsedKey // nil when no key can sign
	leeway    time.Duration
	cache     *cache // nil when disabled
}

// New validates cfg and parses its keys. Errors name the offending key ID
// and never include key material.
func New(cfg Config) (*Verifier, error) {
	if cfg.Issuer == "" {
		return nil, errors.New("jwtauth: issuer is required")
	}
	if !utf8.ValidString(cfg.Issuer) {
		return nil, errors.New("jwtauth: issuer is not valid UTF-8")
	}
	for i, a := range cfg.Audiences {
		if a == "" || !utf8.ValidString(a) {
			return nil, fmt.Errorf("jwtauth: audience #%d is empty or not valid UTF-8", i)
		}
	}
	var alg jwa.SignatureAlgorithm
	switch cfg.Algorithm {
	case HS256:
		alg = jwa.HS256
	case RS256:
		alg = jwa.RS256
	case ES256:
		alg = jwa.ES256
	case EdDSA:
		alg = jwa.EdDSA
	default:
		return nil, fmt.Errorf("jwtauth: unsupported algorithm %q (want HS256, RS256, ES256 or EdDSA)", cfg.Algorithm)
	}
	if cfg.Leeway < 0 {
		return nil, errors.New("jwtauth: leeway must not be negative")
	}
	if len(cfg.Keys) == 0 {
		return nil, errors.New("jwtauth: at least one key is required")
	}

	v := &Verifier{
		issuer:    cfg.Issuer,
		audiences: append([]string(nil), cfg.Audiences...),
		alg:       alg,
		algName:   cfg.Algorithm,
		keys:      make(map[string]*parsedKey, len(cfg.Keys)),
		leeway:    cfg.Leeway,
	}
	for _, k := range cfg.Keys {
		if k.ID == "" {
			return nil, errors.New("jwtauth: a key has an empty ID")
		}
		if _, dup := v.keys[k.ID]; dup {
			return nil, fmt.Errorf("jwtauth: key %q: duplicate key ID", k.ID)
		}
		pk, err := parseKey(cfg.Algorithm, k)
		if err != nil {
			return nil, err
		}
		v.keys[k.ID] = pk
		if v.signer == nil && cfg.SigningKeyID == "" && pk.sign != nil {
			v.signer = pk
		}
	}
	if len(cfg.Keys) == 1 {
		v.only = v.keys[cfg.Keys[0].ID]
	}
	if cfg.SigningKeyID != "" {
		pk, ok := v.keys[cfg.SigningKeyID]
		if !ok {
			return nil, fmt.Errorf("jwtauth: signing key %q is not among the keys", cfg.SigningKeyID)
		}
		if pk.sign == nil {
			return nil, fmt.Errorf("jwtauth: signing key %q is a public key and cannot sign", cfg.SigningKeyID)
		}
		v.signer = pk
	}

	size := cfg.CacheSize
	if size == 0 {
		size = DefaultCacheSize
	}
	if size > 0 {
		v.cache = newCache(size)
	}
	return v, nil
}

// Algorithm reports the configured JWS algorithm.
func (v *Verifier) Algorithm() string { return v.algName }

// Issuer reports the configured issuer.
func (v *Verifier) Issuer() string { return v.issuer }

// CanSign reports whether Mint can be used (some key is private or shared).
func (v *Verifier) CanSign() bool { return v.signer != nil }
