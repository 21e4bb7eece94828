package basicauth

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzDecode: a value Decode accepts is base64 (padded or not) of exactly
// "name:secret" within the limits, and encoding the parts again decodes to
// the same parts; anything else is ErrMalformed and yields no parts.
func FuzzDecode(f *testing.F) {
	for _, c := range decodeCases() {
		f.Add(c.in)
	}
	f.Fuzz(func(t *testing.T, value string) {
		name, secret, err := Decode(value)
		if err != nil {
			if !errors.Is(err, ErrMalformed) || name != "" || secret != "" {
				t.Fatalf("refusal %v with parts %q %q", err, name, secret)
			}
			return
		}
		if name == "" || strings.Contains(name, ":") || len(name) > MaxNameLength || len(secret) > MaxSecretLength || !utf8.ValidString(name) {
			t.Fatalf("accepted parts %q %q outside the rules", name, secret)
		}
		raw := []byte(name + ":" + secret)
		if value != base64.StdEncoding.EncodeToString(raw) && value != base64.RawStdEncoding.EncodeToString(raw) {
			t.Fatalf("%q accepted but is not the base64 of %q", value, raw)
		}
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding} {
			n, s, err := Decode(enc.EncodeToString(raw))
			if err != nil || n != name || s != secret {
				t.Fatalf("round trip of %q %q: %q %q %v", name, secret, n, s, err)
			}
		}
	})
}
