package credential

import (
	"errors"
	"strings"
	"testing"
)

// extractCase is one row of extractCases.
type extractCase = struct {
	name    string
	src     Source
	headers map[string]string
	kind    Kind
	value   string
	header  string
	err     error
}

// extractCases are Extract's table (also the seeds of FuzzExtract).
func extractCases() []extractCase {
	std := Source{Header: "authorization", APIKeyHeader: "x-api-key"}
	custom := Source{Header: "x-wp-auth", APIKeyHeader: "x-api-key"}
	noKeys := Source{Header: "authorization"}
	// long is one byte over MaxLength; slices of it sit at the limit.
	long := strings.Repeat("k", MaxLength+1)
	cases := []struct {
		name    string
		src     Source
		headers map[string]string
		kind    Kind
		value   string
		header  string
		err     error
	}{
		{"none", std, map[string]string{}, None, "", "", nil},
		{"empty header is absent", std, map[string]string{"authorization": "  "}, None, "", "", nil},
		{"bearer", std, map[string]string{"authorization": "Bearer abc.def.ghi"}, Bearer, "abc.def.ghi", "authorization", nil},
		{"bearer case-insensitive scheme", std, map[string]string{"authorization": "bEaReR abc"}, Bearer, "abc", "authorization", nil},
		{"bearer extra spaces", std, map[string]string{"authorization": "Bearer    abc "}, Bearer, "abc", "authorization", nil},
		{"apikey scheme", std, map[string]string{"authorization": "ApiKey wpk_x"}, APIKey, "wpk_x", "authorization", nil},
		{"x-api-key", std, map[string]string{"x-api-key": "wpk_x"}, APIKey, "wpk_x", "x-api-key", nil},
		{"basic", std, map[string]string{"authorization": "Basic dTpw"}, Basic, "dTpw", "authorization", nil},
		{"custom header", custom, map[string]string{"x-wp-auth": "Bearer abc"}, Bearer, "abc", "x-wp-auth", nil},
		{"custom header ignores authorization", custom, map[string]string{"authorization": "Basic c3RhZ2luZzpwdw=="}, None, "", "", nil},
		{"api key header ignored when keys off", noKeys, map[string]string{"x-api-key": "wpk_x"}, None, "", "", nil},
		{"two credentials", std, map[string]string{"authorization": "Bearer abc", "x-api-key": "wpk_x"}, None, "", "", ErrMultiple},
		{"header sent twice", std, map[string]string{"authorization": "Bearer a, Bearer b"}, None, "", "", ErrMalformed},
		{"api key sent twice", std, map[string]string{"x-api-key": "k1,k2"}, None, "", "", ErrMalformed},
		{"scheme only", std, map[string]string{"authorization": "Bearer"}, None, "", "", ErrMalformed},
		{"scheme with spaces only", std, map[string]string{"authorization": "Bearer   "}, None, "", "", ErrMalformed},
		{"params after token", std, map[string]string{"authorization": "Bearer abc def"}, None, "", "", ErrMalformed},
		{"digest", std, map[string]string{"authorization": "Digest username=x"}, None, "", "", ErrUnsupported},
		{"oversized", std, map[string]string{"authorization": "Bearer " + strings.Repeat("a", MaxLength)}, None, "", "", ErrMalformed},
		{"tab separator", std, map[string]string{"authorization": "Bearer\tabc"}, None, "", "", ErrMalformed},
		{"blank api key header is absent", std, map[string]string{"x-api-key": " \t "}, None, "", "", nil},
		{"blank api key header beside a bearer is not a second credential", std, map[string]string{"authorization": "Bearer abc", "x-api-key": "  "}, Bearer, "abc", "authorization", nil},
		{"authorization at the length limit", std, map[string]string{"authorization": "Bearer " + long[:MaxLength-len("Bearer ")]}, Bearer, long[:MaxLength-len("Bearer ")], "authorization", nil},
		{"authorization one byte over the limit", std, map[string]string{"authorization": "Bearer " + long[:MaxLength-len("Bearer ")+1]}, None, "", "", ErrMalformed},
		{"api key at the length limit", std, map[string]string{"x-api-key": long[:MaxLength]}, APIKey, long[:MaxLength], "x-api-key", nil},
		{"api key one byte over the limit", std, map[string]string{"x-api-key": long}, None, "", "", ErrMalformed},
	}
	return cases
}

func TestExtract(t *testing.T) {
	for _, c := range extractCases() {
		t.Run(c.name, func(t *testing.T) {
			got, err := Extract(c.headers, c.src)
			if !errors.Is(err, c.err) {
				t.Fatalf("err = %v, want %v", err, c.err)
			}
			if got.Kind != c.kind || got.Value != c.value || got.Header != c.header {
				t.Fatalf("got %v %q %q, want %v %q %q", got.Kind, got.Value, got.Header, c.kind, c.value, c.header)
			}
		})
	}
}
