package jwtauth

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/lestrrat-go/jwx/v2/jws"
)

// mintClaims is the payload Mint writes. Field order is the JSON order;
// omitempty keeps absent optional claims absent rather than "".
type mintClaims struct {
	Iss   string   `json:"iss"`
	Sub   string   `json:"sub"`
	Aud   string   `json:"aud,omitempty"`
	Iat   int64    `json:"iat"`
	Exp   int64    `json:"exp"`
	Jti   string   `json:"jti"`
	Login string   `json:"login,omitempty"`
	Email string   `json:"email,omitempty"`
	Roles []string `json:"roles,omitempty"`
}

// Mint signs a token for the identity in c (Subject or UserID, Login,
// Email, Roles), valid from now for ttl. The registered claims come from the
// configuration and the clock, never from c: iss, aud (Audiences[0], if
// any), iat, exp and a fresh random 128-bit jti. The header carries the
// signing key's kid, so rotation works without guessing.
func (v *Verifier) Mint(c Claims, ttl time.Duration, now time.Time) (string, error) {
	tok, _, err := v.Issue(c, ttl, now)
	return tok, err
}

// Issue is Mint that also returns the claims exactly as issued (the ones
// Verify will report), so that the caller can record the jti and expiry, for
// example to bind a refresh token to it.
func (v *Verifier) Issue(c Claims, ttl time.Duration, now time.Time) (string, *Claims, error) {
	if v.signer == nil {
		return "", nil, errors.New("jwtauth: no key can sign (only public keys configured)")
	}
	if ttl < time.Second {
		return "", nil, fmt.Errorf("jwtauth: ttl %v is shorter than one second", ttl)
	}
	sub, err := mintSubject(c)
	if err != nil {
		return "", nil, err
	}
	// encoding/json would silently replace invalid UTF-8 with U+FFFD,
	// minting a token for a different name than the one asked for.
	for _, s := range []string{sub, c.Login, c.Email} {
		if !utf8.ValidString(s) {
			return "", nil, errors.New("jwtauth: claims contain invalid UTF-8")
		}
	}
	for _, r := range c.Roles {
		if r == "" || !utf8.ValidString(r) {
			return "", nil, errors.New("jwtauth: roles must be non-empty valid UTF-8 strings")
		}
	}

	var jti [16]byte
	if _, err := rand.Read(jti[:]); err != nil {
		return "", nil, fmt.Errorf("jwtauth: generating token ID: %w", err)
	}
	iat := now.Unix()
	exp := now.Add(ttl).Unix()
	mc := mintClaims{
		Iss:   v.issuer,
		Sub:   sub,
		Iat:   iat,
		Exp:   exp,
		Jti:   b64.EncodeToString(jti[:]),
		Login: c.Login,
		Email: c.Email,
		Roles: c.Roles,
	}
	if len(v.audiences) > 0 {
		mc.Aud = v.audiences[0]
	}
	payload, err := json.Marshal(&mc)
	if err != nil {
		return "", nil, fmt.Errorf("jwtauth: encoding claims: %w", err)
	}

	hdr := jws.NewHeaders()
	if err := hdr.Set(jws.KeyIDKey, v.signer.id); err != nil {
		return "", nil, fmt.Errorf("jwtauth: setting kid: %w", err)
	}
	if err := hdr.Set(jws.TypeKey, "JWT"); err != nil {
		return "", nil, fmt.Errorf("jwtauth: setting typ: %w", err)
	}
	signed, err := jws.Sign(payload, jws.WithKey(v.alg, v.signer.sign, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		return "", nil, fmt.Errorf("jwtauth: signing with key %q: %w", v.signer.id, err)
	}

	out := &Claims{
		Subject:   sub,
		UserID:    parseUserID(sub),
		Login:     c.Login,
		Email:     c.Email,
		Roles:     append([]string(nil), c.Roles...),
		TokenID:   mc.Jti,
		IssuedAt:  time.Unix(iat, 0),
		ExpiresAt: time.Unix(exp, 0),
	}
	if mc.Aud != "" {
		out.Audience = []string{mc.Aud}
	}
	return string(signed), out, nil
}

// mintSubject reconciles Subject and UserID: Verify derives UserID from a
// numeric sub, so a token whose two disagree would change identity on the
// way through.
func mintSubject(c Claims) (string, error) {
	if c.UserID < 0 {
		return "", errors.New("jwtauth: negative user ID")
	}
	switch {
	case c.Subject == "" && c.UserID == 0:
		return "", errors.New("jwtauth: subject or user ID is required")
	case c.Subject == "":
		return strconv.FormatInt(c.UserID, 10), nil
	case c.UserID != 0 && parseUserID(c.Subject) != c.UserID:
		return "", errors.New("jwtauth: subject and user ID disagree")
	default:
		return c.Subject, nil
	}
}
