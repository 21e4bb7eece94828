package policy

import (
	"strings"
	"testing"
)

// TestHardening8_HostSpellings: every Host (or :authority, or
// X-Forwarded-Host) spelling either maps to the one host name that every
// supported proxy routes it to, or is refused (""): a host whose routing
// differs between proxies (a trailing dot: nginx strips it, Caddy and
// Envoy do not) or that no proxy routes as a plain name (userinfo, a port
// that is not a number, characters outside a host name, several colons
// without brackets, an IPv6 literal spelled in a non-canonical way) never
// selects a policy.
func TestHardening8_HostSpellings(t *testing.T) {
	for _, c := range hostSpellings() {
		if got := CanonicalHost(c.in); got != c.want {
			t.Errorf("CanonicalHost(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// hostSpellings are the Host spellings of TestHardening8_HostSpellings
// (also the seeds of FuzzParseHost) and the name each designates ("":
// refused).
func hostSpellings() []struct{ in, want string } {
	return []struct{ in, want string }{
		// Accepted: lower-cased, port dropped.
		{"shop.example.com", "shop.example.com"},
		{"SHOP.Example.COM", "shop.example.com"},
		{"shop.example.com:8443", "shop.example.com"},
		{"shop.example.com:80", "shop.example.com"},
		{"localhost", "localhost"},
		{"127.0.0.1", "127.0.0.1"},
		{"127.0.0.1:9001", "127.0.0.1"},
		{"xn--bcher-kva.example", "xn--bcher-kva.example"},
		{"a-b.c-d.example", "a-b.c-d.example"},
		{"[::1]", "[::1]"},
		{"[::1]:8080", "[::1]"},
		{"[2001:DB8::1]:443", "[2001:db8::1]"},
		{"[::ffff:192.0.2.1]", "[::ffff:192.0.2.1]"},
		// Refused: proxies disagree, or would not route it as this name.
		{"shop.example.com.", ""},
		{"shop.example.com.:443", ""},
		{"shop.example.com..", ""},
		{".shop.example.com", ""},
		{"shop..example.com", ""},
		{"", ""},
		{":80", ""},
		{".", ""},
		{"shop.example.com:", ""},
		{"shop.example.com:http", ""},
		{"shop.example.com:80a", ""},
		{"shop.example.com:+80", ""},
		{"shop.example.com:-1", ""},
		{"shop.example.com:65536", ""},
		{"shop.example.com:123456", ""},
		{"shop.example.com:80:80", ""},
		{"user@shop.example.com", ""},
		{"user:pass@shop.example.com", ""},
		{"shop.example.com@evil.test", ""},
		{"shop_example.com", ""},
		{"shop.example.com/", ""},
		{"shop.example.com/x", ""},
		{"shop.example.com?x", ""},
		{"shop.example.com#x", ""},
		{"shop.example.com\\x", ""},
		{"shop%2eexample.com", ""},
		{"shop.example.com ", ""},
		{" shop.example.com", ""},
		{"shop.example.com\t", ""},
		{"shop.example.com\x00", ""},
		{"shop.exämple.com", ""},
		{"shop,example.com", ""},
		{"shop.example.com,evil.test", ""},
		{"*.example.com", ""},
		{"::1", ""},
		{"2001:db8::1", ""},
		{"fe80::1%eth0", ""},
		{"[fe80::1%25eth0]", ""},
		{"[::1", ""},
		{"::1]", ""},
		{"[::1]]", ""},
		{"[::1]x", ""},
		{"[::1]:", ""},
		{"[::1]:http", ""},
		{"[::1]:80:80", ""},
		{"[]", ""},
		{"[shop.example.com]", ""},
		{"[127.0.0.1]", ""},
		{"[0:0:0:0:0:0:0:1]", ""}, // ::1 spelled another way
		{"[::0001]", ""},
		{"[v1.x]", ""},
		{strings.Repeat("a", 64) + ".example.com", ""}, // a label over 63
		{strings.Repeat("a.", 127) + "aa", ""},         // over 253
	}
}

// TestHardening8_CanonicalHostAllocatesNothing: the usual case (already
// lower-case, maybe a port) costs no allocation on the check path.
func TestHardening8_CanonicalHostAllocatesNothing(t *testing.T) {
	for _, h := range []string{"shop.example.com", "shop.example.com:8443", "[::1]:8080"} {
		if n := testing.AllocsPerRun(100, func() { CanonicalHost(h) }); n != 0 {
			t.Errorf("CanonicalHost(%q): %v allocations", h, n)
		}
	}
}

// BenchmarkParseHost is what the host check adds to every check.
func BenchmarkParseHost(b *testing.B) {
	for _, h := range []string{"shop.example.com", "Shop.Example.com:8443", "[2001:db8::1]:443"} {
		b.Run(h, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ParseHost(h); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
