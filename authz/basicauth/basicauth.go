// Package basicauth reads HTTP Basic credentials (RFC 7617) and checks the
// client_id:client_secret pairs of OAuthClient resources. User names and
// passwords are checked by the WordPress user directory (authz/wpusers);
// this package only decodes them and holds the clients.
package basicauth

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"strings"
	"unicode/utf8"

	"github.com/wpauthz/wpauthz/authz/identity"
)

// Limits on the decoded parts. WordPress logins are at most 60 characters
// and emails 100; passwords longer than 4,096 bytes never match (the
// WordPress rule), but are accepted here so that they fail the same way a
// wrong password does.
const (
	MaxNameLength   = 256
	MaxSecretLength = 8192
)

// ErrMalformed is any Basic value that is not base64("name:secret") within
// the limits.
var ErrMalformed = errors.New("basicauth: malformed credentials")

// Decode splits the base64 value of "Authorization: Basic <value>" into the
// user-id and password at the first colon (a user-id cannot contain one,
// RFC 7617 §2). Padded and unpadded standard base64 are accepted, as PHP's
// base64_decode does when WordPress reads PHP_AUTH_USER/PHP_AUTH_PW;
// anything else is ErrMalformed.
func Decode(value string) (name, secret string, err error) {
	// encoding/base64 skips CR and LF even in strict mode; they are not
	// part of any base64 value a client sends.
	if len(value) > base64.StdEncoding.EncodedLen(MaxNameLength+1+MaxSecretLength) || strings.ContainsAny(value, "\r\n") {
		return "", "", ErrMalformed
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(value)
	if err != nil {
		raw, err = base64.RawStdEncoding.Strict().DecodeString(value)
		if err != nil {
			return "", "", ErrMalformed
		}
	}
	s := string(raw)
	name, secret, ok := strings.Cut(s, ":")
	if !ok || name == "" || len(name) > MaxNameLength || len(secret) > MaxSecretLength || !utf8.ValidString(name) {
		return "", "", ErrMalformed
	}
	return name, secret, nil
}

// Client is an OAuthClient as Basic sees it.
type Client struct {
	Namespace, Name string
	ClientID        string
	// SecretHash is SHA-256 of the secret: the secret itself is not kept.
	SecretHash [32]byte
	// UserID or UserLogin name the WordPress user the client acts as;
	// both empty for a client that carries Roles itself.
	UserID    int64
	UserLogin string
	Roles     []string
	Disabled  bool
}

// Subject is the identity subject of a client without a user.
func (c *Client) Subject() string { return "oauthclient:" + c.Namespace + "/" + c.Name }

// Identity is the client's own identity (no user).
func (c *Client) Identity() identity.Identity {
	return identity.Identity{Subject: c.Subject(), Roles: c.Roles, Method: identity.MethodBasic}
}

// Clients indexes clients by client ID. Immutable once built.
type Clients struct {
	byID map[string]*Client
}

// NewClients indexes cs; a client ID listed twice keeps the first.
func NewClients(cs []*Client) *Clients {
	ix := &Clients{byID: make(map[string]*Client, len(cs))}
	for _, c := range cs {
		if _, dup := ix.byID[c.ClientID]; !dup {
			ix.byID[c.ClientID] = c
		}
	}
	return ix
}

// Len is the number of clients.
func (ix *Clients) Len() int {
	if ix == nil {
		return 0
	}
	return len(ix.byID)
}

// Has reports whether id is a client ID (of an enabled client or not).
func (ix *Clients) Has(id string) bool {
	if ix == nil {
		return false
	}
	_, ok := ix.byID[id]
	return ok
}

var dummyHash = sha256.Sum256([]byte("wpauthz-no-such-client"))

// Verify returns the enabled client whose ID and secret match. The secret
// is compared as a SHA-256 hash in constant time, also for an unknown ID.
func (ix *Clients) Verify(id, secret string) (*Client, bool) {
	sum := sha256.Sum256([]byte(secret))
	var c *Client
	if ix != nil {
		c = ix.byID[id]
	}
	want := dummyHash
	if c != nil {
		want = c.SecretHash
	}
	match := subtle.ConstantTimeCompare(sum[:], want[:]) == 1
	if c == nil || !match || c.Disabled {
		return nil, false
	}
	return c, true
}

// With returns a copy of ix with c added (used while compiling).
func (ix *Clients) With(c *Client) *Clients {
	out := &Clients{byID: make(map[string]*Client, ix.Len()+1)}
	if ix != nil {
		for k, v := range ix.byID {
			out.byID[k] = v
		}
	}
	if _, dup := out.byID[c.ClientID]; !dup {
		out.byID[c.ClientID] = c
	}
	return out
}
