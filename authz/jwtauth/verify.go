package jwtauth

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v2/jws"
)

// b64 is strict unpadded base64url: it refuses padding, the standard
// alphabet and non-zero trailing bits, so each token has exactly one
// spelling. (jwx re-encodes what it decodes when it rebuilds the signing
// input; a lenient decoder here would only make the two disagree.)
var b64 = base64.RawURLEncoding.Strict()

// maxNumericDate is 9999-12-31T23:59:59Z; later dates are nonsense and
// would overflow time arithmetic.
const maxNumericDate = 253402300799

// verified is a token that passed every check except the time window, in the
// form the cache stores. The time checks live in check so that a cache hit
// and a miss give the same answer for the same now.
type verified struct {
	claims    Claims
	expiresAt time.Time // exp + leeway: refused at or after this instant
	nbfFrom   time.Time // nbf - leeway, when hasNbf
	iatFrom   time.Time // iat - leeway, when hasIat
	hasNbf    bool
	hasIat    bool
}

func (e *verified) check(now time.Time) error {
	if !now.Before(e.expiresAt) {
		return errExpired
	}
	if e.hasNbf && now.Before(e.nbfFrom) {
		return errNotYetValidNbf
	}
	if e.hasIat && now.Before(e.iatFrom) {
		return errNotYetValidIat
	}
	return nil
}

// Verify checks token against the configuration at time now and returns its
// claims. Errors wrap exactly one of ErrExpired, ErrNotYetValid, ErrInvalid.
//
// The returned Claims is the caller's to keep, but its slices (Roles,
// Audience) are shared with the cache and must not be modified in place.
func (v *Verifier) Verify(token string, now time.Time) (*Claims, error) {
	if len(token) > MaxTokenSize {
		return nil, errTooLarge
	}
	if v.cache != nil {
		if e := v.cache.get(token); e != nil {
			if err := e.check(now); err != nil {
				if err == errExpired {
					v.cache.remove(token, e)
				}
				return nil, err
			}
			c := e.claims
			return &c, nil
		}
	}
	e, err := v.verify(token)
	if err != nil {
		return nil, err
	}
	if err := e.check(now); err != nil {
		return nil, err
	}
	if v.cache != nil {
		// Clone: token may be a slice of a larger request buffer, which
		// the cache would otherwise keep alive until eviction.
		v.cache.put(strings.Clone(token), e, now)
	}
	c := e.claims
	return &c, nil
}

// verify does everything but the time window.
func (v *Verifier) verify(token string) (*verified, error) {
	hdrSeg, rest, ok := strings.Cut(token, ".")
	if !ok {
		return nil, errMalformed
	}
	payloadSeg, sigSeg, ok := strings.Cut(rest, ".")
	// One more dot means JWE (five segments) or trailing garbage; the
	// alphabet check also refuses the JSON serialization, padding and
	// whitespace.
	if !ok || hdrSeg == "" || payloadSeg == "" || sigSeg == "" ||
		!isB64URL(hdrSeg) || !isB64URL(payloadSeg) || !isB64URL(sigSeg) {
		return nil, errMalformed
	}

	key, err := v.checkHeader(hdrSeg)
	if err != nil {
		return nil, err
	}
	if b64.DecodedLen(len(sigSeg)) != key.sigLen {
		return nil, errSigEncoding
	}
	if _, err := b64.DecodeString(sigSeg); err != nil {
		return nil, errSigEncoding
	}
	if _, err := b64.DecodeString(payloadSeg); err != nil {
		return nil, errMalformed
	}

	// The key and the algorithm are both ours: jws.WithKey uses exactly
	// this pair, so nothing in the token (alg, jwk, jku, x5u, x5c) can pick
	// another one, and no key is ever fetched. (jws.WithKeySet, whose
	// InferAlgorithmFromKey/UseDefault options guess, and WithVerifyAuto,
	// which follows jku, are deliberately not used.)
	payload, err := jws.Verify([]byte(token), jws.WithKey(v.alg, key.verify))
	if err != nil {
		return nil, errSignature
	}
	return v.parseClaims(payload)
}

// checkHeader validates the protected header and selects the key.
func (v *Verifier) checkHeader(seg string) (*parsedKey, error) {
	raw, err := b64.DecodeString(seg)
	if err != nil {
		return nil, errMalformed
	}
	// jwx verifies the signature over the header object as encoding/json
	// hands it over, without the whitespace around it: bytes there would
	// make a token that was never signed verify. Nothing wpauthz or any
	// common library mints puts whitespace there.
	if len(raw) == 0 || raw[0] != '{' || raw[len(raw)-1] != '}' {
		return nil, errHeader
	}
	// A map (not a struct) because encoding/json matches struct fields
	// case-insensitively; header parameter names are case-sensitive.
	var hdr map[string]json.RawMessage
	if err := json.Unmarshal(raw, &hdr); err != nil || hdr == nil {
		return nil, errHeader
	}
	// The map keeps the last of two equal names; jwx and other readers
	// need not agree on which "alg" or "kid" counts.
	if hasDuplicateNames(raw) {
		return nil, errHeaderDup
	}

	alg, ok := jsonString(hdr["alg"])
	switch {
	case !ok:
		return nil, errAlgMismatch
	case strings.EqualFold(alg, "none"):
		return nil, errAlgNone
	case alg != v.algName:
		return nil, errAlgMismatch
	}
	// RFC 7515 §4.1.11: a recipient must refuse a token whose crit lists
	// an extension it does not understand; we understand none.
	if _, ok := hdr["crit"]; ok {
		return nil, errCrit
	}
	// RFC 7797 unencoded payloads change what is signed; jwx honours b64
	// even without crit, so refuse it outright.
	if _, ok := hdr["b64"]; ok {
		return nil, errB64
	}
	for _, p := range [...]string{"cty", "enc", "zip"} {
		if _, ok := hdr[p]; ok {
			return nil, errCty
		}
	}
	// typ is optional; when present it must say JWT, so that other JWS
	// wpauthz signs (for example the identity assertion) are never taken
	// for access tokens.
	if rawTyp, ok := hdr["typ"]; ok {
		typ, ok := jsonString(rawTyp)
		if !ok || !strings.EqualFold(typ, "JWT") {
			return nil, errTyp
		}
	}

	rawKid, hasKid := hdr["kid"]
	if !hasKid {
		if v.only == nil {
			return nil, errKidRequired
		}
		return v.only, nil
	}
	kid, ok := jsonString(rawKid)
	if !ok {
		return nil, errKidType
	}
	key, ok := v.keys[kid]
	if !ok {
		return nil, errKidUnknown
	}
	return key, nil
}

// parseClaims decodes and type-checks the claims. Every claim wpauthz reads
// must have exactly the JSON type the spec gives it: a number where a string
// is expected (or the reverse) is an attack or a bug, never "close enough".
func (v *Verifier) parseClaims(payload []byte) (*verified, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(payload, &m); err != nil || m == nil {
		return nil, errClaimsJSON
	}
	// "sub" or "exp" given twice must not mean the last one.
	if hasDuplicateNames(payload) {
		return nil, errClaimsDup
	}
	e := &verified{}
	c := &e.claims

	iss, ok := jsonString(m["iss"])
	if !ok {
		return nil, errIssMissing
	}
	if iss != v.issuer {
		return nil, errIssMismatch
	}

	if c.Subject, ok = jsonString(m["sub"]); !ok || c.Subject == "" {
		return nil, errSubMissing
	}
	c.UserID = parseUserID(c.Subject)

	if raw, present := m["aud"]; present {
		if c.Audience, ok = jsonStringOrArray(raw); !ok {
			return nil, errAudType
		}
	}
	if len(v.audiences) > 0 && !intersects(c.Audience, v.audiences) {
		return nil, errAudMismatch
	}

	if c.ExpiresAt, ok = numericDate(m["exp"]); !ok {
		return nil, errExpMissing
	}
	e.expiresAt = c.ExpiresAt.Add(v.leeway)
	if raw, present := m["nbf"]; present {
		nbf, ok := numericDate(raw)
		if !ok {
			return nil, errNbfType
		}
		e.nbfFrom, e.hasNbf = nbf.Add(-v.leeway), true
	}
	if raw, present := m["iat"]; present {
		if c.IssuedAt, ok = numericDate(raw); !ok {
			return nil, errIatType
		}
		if c.ExpiresAt.Before(c.IssuedAt) {
			return nil, errExpBeforeIat
		}
		e.iatFrom, e.hasIat = c.IssuedAt.Add(-v.leeway), true
	}

	if raw, present := m["jti"]; present {
		if c.TokenID, ok = jsonString(raw); !ok {
			return nil, errJtiType
		}
	}
	if raw, present := m["login"]; present {
		if c.Login, ok = jsonString(raw); !ok {
			return nil, errLoginType
		}
	}
	if raw, present := m["preferred_username"]; present {
		pu, ok := jsonString(raw)
		if !ok {
			return nil, errLoginType
		}
		if c.Login == "" {
			c.Login = pu
		}
	}
	if raw, present := m["email"]; present {
		if c.Email, ok = jsonString(raw); !ok {
			return nil, errEmailType
		}
	}
	if raw, present := m["roles"]; present {
		if c.Roles, ok = jsonStringArray(raw); !ok {
			return nil, errRolesType
		}
	}
	// Cap the slices so a caller's append never writes into the cached
	// backing array.
	c.Roles = c.Roles[:len(c.Roles):len(c.Roles)]
	c.Audience = c.Audience[:len(c.Audience):len(c.Audience)]
	return e, nil
}

// isB64URL reports whether s uses only the unpadded base64url alphabet.
func isB64URL(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// jsonString decodes raw when it is a JSON string (not null, not a number).
func jsonString(raw json.RawMessage) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' {
		return "", false
	}
	// Fast path for the common case, printable ASCII without escapes. raw
	// is a complete string literal (it came out of a valid document), so
	// the quotes are its first and last bytes.
	inner := raw[1 : len(raw)-1]
	plain := true
	for _, c := range inner {
		if c == '\\' || c < 0x20 || c >= 0x80 {
			plain = false
			break
		}
	}
	if plain {
		return string(inner), true
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return s, true
}

// jsonStringArray decodes raw when it is an array whose every element is a
// JSON string. ([]string would silently turn null elements into "".)
func jsonStringArray(raw json.RawMessage) ([]string, bool) {
	if len(raw) == 0 || raw[0] != '[' {
		return nil, false
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(raw, &elems); err != nil {
		return nil, false
	}
	if len(elems) == 0 {
		return nil, true
	}
	out := make([]string, len(elems))
	for i, el := range elems {
		s, ok := jsonString(el)
		if !ok {
			return nil, false
		}
		out[i] = s
	}
	return out, true
}

// jsonStringOrArray decodes "aud", which RFC 7519 §4.1.3 allows to be a
// single string or an array of strings.
func jsonStringOrArray(raw json.RawMessage) ([]string, bool) {
	if s, ok := jsonString(raw); ok {
		return []string{s}, true
	}
	return jsonStringArray(raw)
}

// numericDate decodes a JSON number of seconds since the epoch (RFC 7519
// NumericDate, fractions allowed). Strings, null, negative and absurdly
// large values are refused. Fractions are kept to the microsecond.
func numericDate(raw json.RawMessage) (time.Time, bool) {
	if len(raw) == 0 || !('0' <= raw[0] && raw[0] <= '9') {
		return time.Time{}, false // missing, string, null, negative, object…
	}
	s := string(raw)
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n > maxNumericDate {
			return time.Time{}, false
		}
		return time.Unix(n, 0), true
	}
	// raw passed json.Unmarshal, so it is valid JSON number syntax: no hex,
	// no underscores, no Inf/NaN.
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f > maxNumericDate || math.IsNaN(f) {
		return time.Time{}, false
	}
	sec := math.Floor(f)
	nsec := math.Round((f-sec)*1e6) * 1e3
	return time.Unix(int64(sec), int64(nsec)), true
}

// parseUserID returns the WordPress user ID a subject names: a canonical
// positive decimal (no sign, no leading zero) that fits in int64, else 0.
func parseUserID(sub string) int64 {
	if sub == "" || len(sub) > 19 || sub[0] == '0' {
		return 0
	}
	for i := 0; i < len(sub); i++ {
		if sub[i] < '0' || sub[i] > '9' {
			return 0
		}
	}
	n, err := strconv.ParseInt(sub, 10, 64)
	if err != nil {
		return 0
	}
	return n
}

func intersects(have, want []string) bool {
	for _, h := range have {
		for _, w := range want {
			if h == w {
				return true
			}
		}
	}
	return false
}
