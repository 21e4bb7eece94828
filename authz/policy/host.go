package policy

import (
	"errors"
	"net/netip"
	"strings"
)

// ErrInvalidHost is wrapped by every ParseHost error.
var ErrInvalidHost = errors.New("host cannot be matched exactly as the proxy matches it")

func invalidHost(reason string) error { return &hostError{reason} }

type hostError struct{ reason string }

func (e *hostError) Error() string { return ErrInvalidHost.Error() + ": " + e.reason }
func (e *hostError) Unwrap() error { return ErrInvalidHost }

var (
	errHostEmpty    = invalidHost("empty")
	errHostDot      = invalidHost("trailing dot (nginx strips it, Caddy and Envoy do not)")
	errHostLabel    = invalidHost("empty or over-long label")
	errHostChar     = invalidHost("character outside a host name")
	errHostLength   = invalidHost("longer than 253 characters")
	errHostPort     = invalidHost("port is not a number from 0 to 65535")
	errHostIPv6     = invalidHost("IPv6 literal without its brackets, unterminated, with a zone, or not in canonical form")
	errHostBrackets = invalidHost("brackets around something other than an IPv6 address")
)

// ParseHost returns the name a Host header, :authority or X-Forwarded-Host
// value designates — lower-cased, its port dropped — or an error when the
// value is not one that every supported proxy routes to that same name.
//
// Accepted: letters, digits and hyphens in non-empty dot-separated labels
// of at most 63 characters (253 in all), or a bracketed IPv6 address in
// its canonical form (RFC 5952, as netip prints it), each optionally
// followed by ":" and a decimal port. Refused: a trailing dot (nginx
// strips it, Caddy and Envoy route "weak.test." apart from "weak.test"),
// userinfo, a port that is not a number, several colons outside brackets,
// zones, percent-encoding, commas (a list of hosts), anything else outside
// a host name, and the empty host. A refused host never selects a policy:
// the check answers 400 wpauthz_invalid_host.
//
// It does not allocate when the host is already lower-case.
func ParseHost(h string) (string, error) {
	if h == "" {
		return "", errHostEmpty
	}
	name, port := h, ""
	if h[0] == '[' {
		end := strings.IndexByte(h, ']')
		if end < 0 {
			return "", errHostIPv6
		}
		name, port = h[:end+1], h[end+1:]
		if port != "" {
			if port[0] != ':' {
				return "", errHostIPv6
			}
			port = port[1:]
			if !validPort(port) {
				return "", errHostPort
			}
		}
		if err := checkIPv6(name[1:end]); err != nil {
			return "", err
		}
	} else {
		if i := strings.IndexByte(h, ':'); i >= 0 {
			name, port = h[:i], h[i+1:]
			if !validPort(port) {
				if strings.IndexByte(port, ':') >= 0 || strings.IndexByte(port, ']') >= 0 {
					return "", errHostIPv6
				}
				return "", errHostPort
			}
		}
		if err := checkName(name); err != nil {
			return "", err
		}
	}
	return lower(name), nil
}

// CanonicalHost is ParseHost without the reason: "" for a refused host.
// Policies are looked up, and identity assertions addressed ("aud"), by
// this form; the bridge plugin computes the same from HTTP_HOST.
func CanonicalHost(h string) string {
	name, err := ParseHost(h)
	if err != nil {
		return ""
	}
	return name
}

// checkName validates a registered name or dotted IPv4 address: labels of
// letters, digits and hyphens.
func checkName(name string) error {
	if len(name) > 253 {
		return errHostLength
	}
	label := 0
	for i := 0; i < len(name); i++ {
		switch c := name[i]; {
		case c == '.':
			if label == 0 {
				return errHostLabel // leading or doubled dot
			}
			label = 0
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-':
			if label++; label > 63 {
				return errHostLabel
			}
		default:
			return errHostChar
		}
	}
	if label == 0 {
		if name != "" {
			return errHostDot
		}
		return errHostLabel
	}
	return nil
}

// checkIPv6 accepts the inside of brackets when it is an IPv6 address
// without a zone, spelled as netip prints it (lower-case hex, zeros
// compressed): another spelling of the same address could be matched, or
// not, by a proxy comparing strings.
func checkIPv6(s string) error {
	a, err := netip.ParseAddr(s)
	switch {
	case err != nil && strings.IndexByte(s, ':') < 0:
		return errHostBrackets
	case err != nil || !a.Is6() || a.Zone() != "":
		return errHostIPv6
	}
	var buf [64]byte
	if !strings.EqualFold(string(a.AppendTo(buf[:0])), s) {
		return errHostIPv6
	}
	return nil
}

// validPort is a decimal port, 0 to 65535, without sign.
func validPort(p string) bool {
	if p == "" || len(p) > 5 {
		return false
	}
	n := 0
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c < '0' || c > '9' {
			return false
		}
		n = n*10 + int(c-'0')
	}
	return n <= 65535
}

// lower lower-cases ASCII, without allocating when there is nothing to do.
func lower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}
