// Package credential finds the one credential a request presents: a bearer
// token or an API key in the policy's credential header ("Authorization" or
// a custom one such as "X-WP-Auth"), a bare key in the API-key header, or
// Basic credentials.
package credential

import (
	"errors"
	"strings"
)

// Kind is the credential's scheme.
type Kind uint8

// Credential kinds.
const (
	None Kind = iota
	Bearer
	APIKey
	Basic
)

func (k Kind) String() string {
	switch k {
	case Bearer:
		return "bearer"
	case APIKey:
		return "apikey"
	case Basic:
		return "basic"
	}
	return "none"
}

// Credential is what the request presented. Value is secret: never log it.
type Credential struct {
	Kind  Kind
	Value string
	// Header is the lower-case header it came from, so it can be removed
	// before the request reaches WordPress.
	Header string
}

// Source says where a policy looks for credentials. Header names are
// lower-case.
type Source struct {
	// Header carries "Bearer <token>", "ApiKey <key>" or "Basic <b64>".
	Header string
	// APIKeyHeader carries a bare API key; empty when API keys are off.
	APIKeyHeader string
}

// Extraction errors; each maps to a 401.
var (
	ErrMultiple    = errors.New("more than one credential presented")
	ErrUnsupported = errors.New("unsupported authorization scheme")
	ErrMalformed   = errors.New("malformed credentials")
)

// MaxLength bounds a credential; anything longer is refused unparsed.
const MaxLength = 16 << 10

// Extract returns the request's credential, None when there is none.
// headers have lower-case names.
func Extract(headers map[string]string, src Source) (Credential, error) {
	var found Credential
	if v, ok := headers[src.Header]; ok && strings.TrimSpace(v) != "" {
		c, err := parseAuthorization(v)
		if err != nil {
			return Credential{}, err
		}
		c.Header = src.Header
		found = c
	}
	if src.APIKeyHeader != "" {
		if v, ok := headers[src.APIKeyHeader]; ok && strings.TrimSpace(v) != "" {
			if found.Kind != None {
				return Credential{}, ErrMultiple
			}
			v = strings.TrimSpace(v)
			if len(v) > MaxLength || strings.ContainsAny(v, " \t,") {
				// A comma means the header was sent twice.
				return Credential{}, ErrMalformed
			}
			found = Credential{Kind: APIKey, Value: v, Header: src.APIKeyHeader}
		}
	}
	return found, nil
}

// parseAuthorization splits "<scheme> <value>" (RFC 9110 §11.6.2). The
// scheme is case-insensitive; the value must be a single token, so a header
// sent twice (joined with ",") or with stray parameters is refused.
func parseAuthorization(v string) (Credential, error) {
	if len(v) > MaxLength {
		return Credential{}, ErrMalformed
	}
	v = strings.TrimSpace(v)
	scheme, rest, ok := strings.Cut(v, " ")
	if !ok {
		return Credential{}, ErrMalformed
	}
	rest = strings.TrimLeft(rest, " ")
	if rest == "" || strings.ContainsAny(rest, " \t,") {
		return Credential{}, ErrMalformed
	}
	var k Kind
	switch {
	case strings.EqualFold(scheme, "Bearer"):
		k = Bearer
	case strings.EqualFold(scheme, "ApiKey"):
		k = APIKey
	case strings.EqualFold(scheme, "Basic"):
		k = Basic
	default:
		return Credential{}, ErrUnsupported
	}
	return Credential{Kind: k, Value: rest}, nil
}
