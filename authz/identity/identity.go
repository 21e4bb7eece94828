// Package identity defines who a request is from, once an authentication
// method has accepted its credentials, and the signed assertion that carries
// that identity to WordPress.
//
// WordPress cannot see the caller's credentials (wpauthz removes them), so
// the bridge plugin learns the user from the X-WPAuthz-Identity header: a
// compact JWS (EdDSA) that binds the identity to one host, method and path
// for under a minute. The binding matters because the header travels
// through the mesh in clear; a copy lifted from one request must be useless
// for another request, and useless soon.
//
// Sign runs on every allowed request, so it builds the token by hand:
// the header segment is precomputed, the claims are appended straight into
// one buffer (no reflection, no maps), and the only real work is the
// Ed25519 signature.
//
// That signature is the largest cost of an identified check, so it is
// computed with curve25519-voi (a Go port of curve25519-dalek), whose
// base-point multiplication takes about half the time of crypto/ed25519's
// (~12 µs against ~26 µs on the benchmark machine; see BENCHMARKS.md).
// Ed25519 signing is deterministic (RFC 8032 §5.1.6), so the signature is
// byte for byte the one crypto/ed25519 would make: the assertion, and what
// the bridge plugin verifies, are unchanged. TestSignatureMatchesStdlib
// holds the two implementations to that.
package identity

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	voied25519 "github.com/oasisprotocol/curve25519-voi/primitives/ed25519"
)

// Header is the request header that carries the signed identity to
// WordPress. wpauthz always overwrites a client-sent copy.
const Header = "X-WPAuthz-Identity"

// TokenType is the JWS "typ" of an identity assertion. It differs from
// "JWT" so that an assertion can never be replayed as an access token (the
// jwtauth verifier refuses any other typ) and vice versa.
const TokenType = "wpauthz-id+jwt"

// MaxTTL is the longest an assertion may live: long enough for the request
// to reach PHP, short enough that a leaked header is worthless.
const MaxTTL = 60 * time.Second

// Authentication methods (the "amr" claim).
const (
	MethodJWT      = "jwt"
	MethodAPIKey   = "apikey"
	MethodBasic    = "basic"
	MethodOAuth2   = "oauth2"
	MethodProvider = "provider"
)

// Identity is the authenticated caller of one request.
type Identity struct {
	// UserID is the WordPress user ID; 0 when the caller is not a
	// WordPress user (for example a universal API key).
	UserID int64
	// Login is the WordPress login, when known.
	Login string
	// Subject is the stable subject: the user ID in decimal for a
	// WordPress user, or a namespaced name such as "apikey:<ns>/<name>".
	Subject string
	// Roles are WordPress role slugs.
	Roles []string
	// Method is how the caller authenticated: one of the Method constants.
	Method string
}

// Signer signs identity assertions with one Ed25519 key. It is immutable
// and safe for concurrent use.
type Signer struct {
	key    ed25519.PrivateKey
	pub    ed25519.PublicKey
	keyID  string
	header []byte // base64url(protected header) + "."
}

// NewSigner returns a Signer for key, announcing keyID as "kid" so that the
// plugin can hold two public keys across a rotation.
//
// It panics if key is not a well-formed Ed25519 private key (64 bytes whose
// second half is the public key of the first): that is a programming error,
// since keys come from ParseSigningKey or ed25519.GenerateKey. The check
// matters because signing with a mismatched public half leaks the private
// key to anyone who sees two signatures of the same message.
func NewSigner(key ed25519.PrivateKey, keyID string) *Signer {
	if len(key) != ed25519.PrivateKeySize {
		panic("identity: Ed25519 private key must be " + strconv.Itoa(ed25519.PrivateKeySize) + " bytes")
	}
	// Re-derive from the seed: a private copy the caller cannot mutate,
	// with a public half that certainly matches. Keeping one backing array
	// for the Signer's life also lets crypto/ed25519 reuse its expanded-key
	// cache on every Sign.
	derived := ed25519.NewKeyFromSeed(key.Seed())
	if !derived.Public().(ed25519.PublicKey).Equal(ed25519.PublicKey(key[32:])) {
		panic("identity: Ed25519 private key's public half does not match its seed")
	}
	hdr, err := json.Marshal(struct {
		Alg string `json:"alg"`
		Typ string `json:"typ"`
		Kid string `json:"kid,omitempty"`
	}{"EdDSA", TokenType, keyID})
	if err != nil {
		panic("identity: encoding header: " + err.Error())
	}
	seg := make([]byte, 0, base64.RawURLEncoding.EncodedLen(len(hdr))+1)
	seg = base64.RawURLEncoding.AppendEncode(seg, hdr)
	seg = append(seg, '.')
	return &Signer{
		key:    derived,
		pub:    derived.Public().(ed25519.PublicKey),
		keyID:  keyID,
		header: seg,
	}
}

// PublicKey returns the key the bridge plugin verifies with.
func (s *Signer) PublicKey() ed25519.PublicKey {
	return append(ed25519.PublicKey(nil), s.pub...)
}

// KeyID returns the "kid" the Signer puts in its header.
func (s *Signer) KeyID() string { return s.keyID }

// jtiBytes is the size of the random token ID: 96 bits, base64url-encoded
// to exactly 16 characters with no padding.
const jtiBytes = 12

// Sign returns the X-WPAuthz-Identity value for id on a request to host
// with the given method and path: a compact JWS (alg EdDSA, typ
// "wpauthz-id+jwt", kid) whose claims are sub, login (when known), roles,
// amr ([Method]), aud (host), htm (method), htu (path), jti (96 random
// bits, base64url), iat and exp = iat + ttl, with 1s <= ttl <= MaxTTL.
//
// Sign refuses rather than guesses: an unknown method, a subject that
// disagrees with UserID (or a numeric subject with no UserID, which the
// plugin would take for a user ID), empty request fields, and strings that
// are not valid UTF-8 are errors.
func (s *Signer) Sign(id Identity, host, method, path string, ttl time.Duration, now time.Time) (string, error) {
	if ttl < time.Second || ttl > MaxTTL {
		return "", fmt.Errorf("identity: ttl %v outside [1s, %v]", ttl, MaxTTL)
	}
	sub, err := subject(id)
	if err != nil {
		return "", err
	}
	switch id.Method {
	case MethodJWT, MethodAPIKey, MethodBasic, MethodOAuth2, MethodProvider:
	default:
		return "", fmt.Errorf("identity: unknown authentication method %q", id.Method)
	}
	if host == "" || method == "" || path == "" {
		return "", errors.New("identity: host, method and path are required")
	}
	if !utf8.ValidString(sub) || !utf8.ValidString(id.Login) || !utf8.ValidString(host) ||
		!utf8.ValidString(method) || !utf8.ValidString(path) {
		return "", errors.New("identity: fields must be valid UTF-8")
	}
	for _, r := range id.Roles {
		if r == "" || !utf8.ValidString(r) {
			return "", errors.New("identity: roles must be non-empty valid UTF-8 strings")
		}
	}

	var jti [jtiBytes]byte
	if _, err := rand.Read(jti[:]); err != nil {
		return "", fmt.Errorf("identity: generating jti: %w", err)
	}
	iat := now.Unix()
	exp := iat + int64(ttl/time.Second)

	// Claims are built on the stack when they fit (they nearly always do)
	// and then base64url-encoded into the one output buffer.
	var scratch [512]byte
	claims := scratch[:0]
	claims = append(claims, `{"sub":`...)
	claims = appendString(claims, sub)
	if id.Login != "" {
		claims = append(claims, `,"login":`...)
		claims = appendString(claims, id.Login)
	}
	claims = append(claims, `,"roles":[`...)
	for i, r := range id.Roles {
		if i > 0 {
			claims = append(claims, ',')
		}
		claims = appendString(claims, r)
	}
	claims = append(claims, `],"amr":["`...)
	claims = append(claims, id.Method...) // one of the constants: no escaping needed
	claims = append(claims, `"],"aud":`...)
	claims = appendString(claims, host)
	claims = append(claims, `,"htm":`...)
	claims = appendString(claims, method)
	claims = append(claims, `,"htu":`...)
	claims = appendString(claims, path)
	claims = append(claims, `,"jti":"`...)
	claims = base64.RawURLEncoding.AppendEncode(claims, jti[:])
	claims = append(claims, `","iat":`...)
	claims = strconv.AppendInt(claims, iat, 10)
	claims = append(claims, `,"exp":`...)
	claims = strconv.AppendInt(claims, exp, 10)
	claims = append(claims, '}')

	n := len(s.header) + base64.RawURLEncoding.EncodedLen(len(claims)) + 1 +
		base64.RawURLEncoding.EncodedLen(ed25519.SignatureSize)
	out := make([]byte, 0, n)
	out = append(out, s.header...)
	out = base64.RawURLEncoding.AppendEncode(out, claims)
	sig := sign(s.key, out)
	out = append(out, '.')
	out = base64.RawURLEncoding.AppendEncode(out, sig)
	return string(out), nil
}

// sign is Ed25519 (pure, RFC 8032) over msg; see the package comment.
func sign(key ed25519.PrivateKey, msg []byte) []byte {
	return voied25519.Sign(voied25519.PrivateKey(key), msg)
}

// subject reconciles Subject and UserID. The plugin sets the WordPress user
// from a numeric sub, so a numeric sub must be exactly the UserID, and a
// non-user identity must not have one.
func subject(id Identity) (string, error) {
	if id.UserID < 0 {
		return "", errors.New("identity: negative user ID")
	}
	if id.UserID > 0 {
		want := strconv.FormatInt(id.UserID, 10)
		if id.Subject != "" && id.Subject != want {
			return "", errors.New("identity: subject does not match user ID")
		}
		return want, nil
	}
	if id.Subject == "" {
		return "", errors.New("identity: subject or user ID is required")
	}
	if isDigits(id.Subject) {
		return "", errors.New("identity: numeric subject without a user ID")
	}
	return id.Subject, nil
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string literal. s must be valid UTF-8
// (Sign checks). Quotes, backslashes and every control character are
// escaped, as are U+2028/U+2029, so no input can end the string early or
// smuggle a claim; everything else is copied through unchanged.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			start = i + size
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// ParseSigningKey reads an Ed25519 private key in the forms a Kubernetes
// Secret holds: PKCS#8 PEM ("PRIVATE KEY"), a raw 32-byte seed, or the seed
// in base64 (standard or URL alphabet, padded or not). The 64-byte
// seed||public form (raw or base64) is accepted too when its halves agree.
// Errors never include key material.
func ParseSigningKey(b []byte) (ed25519.PrivateKey, error) {
	if len(b) == ed25519.SeedSize {
		return ed25519.NewKeyFromSeed(b), nil
	}
	if len(b) == ed25519.PrivateKeySize {
		if k, err := fromFull(b); err == nil {
			return k, nil
		}
	}
	trimmed := bytes.TrimSpace(b)
	if block, rest := pem.Decode(trimmed); block != nil {
		if len(bytes.TrimSpace(rest)) != 0 {
			return nil, errors.New("identity: signing key has data after the PEM block")
		}
		if block.Type != "PRIVATE KEY" {
			return nil, fmt.Errorf("identity: signing key PEM block is %q, want \"PRIVATE KEY\" (PKCS#8)", block.Type)
		}
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("identity: parsing PKCS#8 signing key: %w", err)
		}
		ek, ok := k.(ed25519.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("identity: signing key is %T, want Ed25519", k)
		}
		return ek, nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		raw, err := enc.DecodeString(string(trimmed))
		if err != nil {
			continue
		}
		switch len(raw) {
		case ed25519.SeedSize:
			return ed25519.NewKeyFromSeed(raw), nil
		case ed25519.PrivateKeySize:
			return fromFull(raw)
		}
	}
	return nil, fmt.Errorf("identity: signing key is neither PKCS#8 PEM nor a 32-byte Ed25519 seed (raw or base64); got %d bytes", len(b))
}

// fromFull accepts seed||public only when the public half matches.
func fromFull(b []byte) (ed25519.PrivateKey, error) {
	k := ed25519.NewKeyFromSeed(b[:ed25519.SeedSize])
	if !k.Public().(ed25519.PublicKey).Equal(ed25519.PublicKey(b[ed25519.SeedSize:])) {
		return nil, errors.New("identity: 64-byte signing key's public half does not match its seed")
	}
	return k, nil
}
