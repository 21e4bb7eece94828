package policy

import (
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"testing"
)

// FuzzParseHost: a host ParseHost accepts designates a lower-case name that
// is the start of the input (case aside), followed by nothing or a valid
// port; that name is a plain DNS name or a canonical bracketed IPv6
// address, parses to itself, and is what CanonicalHost returns. A refusal
// wraps ErrInvalidHost and CanonicalHost is "" for it.
func FuzzParseHost(f *testing.F) {
	for _, c := range hostSpellings() {
		f.Add(c.in)
	}
	f.Fuzz(func(t *testing.T, h string) {
		name, err := ParseHost(h)
		if err != nil {
			if !errors.Is(err, ErrInvalidHost) || name != "" || CanonicalHost(h) != "" {
				t.Fatalf("ParseHost(%q): refusal %v with name %q, CanonicalHost %q", h, err, name, CanonicalHost(h))
			}
			return
		}
		if CanonicalHost(h) != name {
			t.Fatalf("CanonicalHost(%q) = %q, ParseHost says %q", h, CanonicalHost(h), name)
		}
		if name != strings.ToLower(name) || len(name) > len(h) || !strings.EqualFold(h[:len(name)], name) {
			t.Fatalf("ParseHost(%q) = %q: not the lower-cased start of the host", h, name)
		}
		if rest := h[len(name):]; rest != "" {
			p, err := strconv.Atoi(strings.TrimPrefix(rest, ":"))
			if rest[0] != ':' || err != nil || p < 0 || p > 65535 || strings.ContainsAny(rest[1:], "+-") {
				t.Fatalf("ParseHost(%q) = %q: %q after the name is not a port", h, name, rest)
			}
		}
		if again, err := ParseHost(name); err != nil || again != name {
			t.Fatalf("ParseHost(%q) = %q, %v: the name does not parse to itself", name, again, err)
		}
		if again, err := ParseHost(name + ":443"); err != nil || again != name {
			t.Fatalf("ParseHost(%q) = %q, %v: a port changes the name", name+":443", again, err)
		}
		if strings.HasPrefix(name, "[") {
			a, err := netip.ParseAddr(strings.TrimSuffix(name[1:], "]"))
			if err != nil || !a.Is6() || a.Zone() != "" || "["+a.String()+"]" != name {
				t.Fatalf("ParseHost(%q) = %q: not a canonical IPv6 literal", h, name)
			}
			return
		}
		if len(name) > 253 || strings.Trim(name, "abcdefghijklmnopqrstuvwxyz0123456789.-") != "" {
			t.Fatalf("ParseHost(%q) = %q: not a host name", h, name)
		}
		for _, label := range strings.Split(name, ".") {
			if label == "" || len(label) > 63 {
				t.Fatalf("ParseHost(%q) = %q: label %q", h, name, label)
			}
		}
	})
}
