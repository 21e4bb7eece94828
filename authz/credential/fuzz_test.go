package credential

import (
	"errors"
	"strings"
	"testing"
)

// FuzzExtract: whatever the two credential headers hold, Extract either
// refuses with exactly one of its errors or returns one credential that is
// a single token taken verbatim from the header it names, and that reads
// back the same when presented again.
func FuzzExtract(f *testing.F) {
	for _, c := range extractCases() {
		f.Add(c.headers[c.src.Header], c.headers["x-api-key"], c.src.Header == "x-wp-auth", c.src.APIKeyHeader != "")
	}
	f.Fuzz(func(t *testing.T, auth, key string, custom, keys bool) {
		src := Source{Header: "authorization"}
		if custom {
			src.Header = "x-wp-auth"
		}
		if keys {
			src.APIKeyHeader = "x-api-key"
		}
		headers := map[string]string{src.Header: auth, "x-api-key": key}
		c, err := Extract(headers, src)
		if err != nil {
			n := 0
			for _, e := range []error{ErrMultiple, ErrUnsupported, ErrMalformed} {
				if errors.Is(err, e) {
					n++
				}
			}
			if n != 1 || c != (Credential{}) {
				t.Fatalf("error %v (wraps %d sentinels) with credential %v", err, n, c.Kind)
			}
			return
		}
		authSet := strings.TrimSpace(auth) != ""
		keySet := keys && strings.TrimSpace(key) != ""
		if authSet && keySet {
			t.Fatal("two credentials presented, one returned")
		}
		if c.Kind == None {
			if authSet || keySet || c != (Credential{}) {
				t.Fatalf("no credential from %q / %q", auth, key)
			}
			return
		}
		if c.Value == "" || len(c.Value) > MaxLength || strings.ContainsAny(c.Value, " \t,") {
			t.Fatalf("credential value %q is not a single token", c.Value)
		}
		from := headers[c.Header]
		if c.Header != src.Header && c.Header != src.APIKeyHeader {
			t.Fatalf("credential from header %q, not one of the source's", c.Header)
		}
		if !strings.HasSuffix(strings.TrimSpace(from), c.Value) {
			t.Fatalf("value %q is not the end of header %q", c.Value, from)
		}
		if c.Header == src.Header {
			scheme, _, _ := strings.Cut(strings.TrimSpace(from), " ")
			if !strings.EqualFold(scheme, c.Kind.scheme()) {
				t.Fatalf("scheme %q read as %v", scheme, c.Kind)
			}
		} else if c.Kind != APIKey {
			t.Fatalf("API-key header read as %v", c.Kind)
		}
		// Presented again in the header it came from, in its canonical
		// spelling, it reads the same (the length limit is the header's).
		presented := map[string]string{c.Header: c.Value}
		if c.Header == src.Header {
			presented[c.Header] = c.Kind.scheme() + " " + c.Value
		}
		again, err := Extract(presented, src)
		if err != nil || again.Kind != c.Kind || again.Value != c.Value {
			t.Fatalf("round trip of %v %q: %v %q %v", c.Kind, c.Value, again.Kind, again.Value, err)
		}
	})
}

// scheme is the canonical Authorization scheme of k.
func (k Kind) scheme() string {
	return map[Kind]string{Bearer: "Bearer", APIKey: "ApiKey", Basic: "Basic"}[k]
}
