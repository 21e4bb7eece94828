package authz

import "testing"

// TestSameCGIName: two header names are the same $_SERVER key when they
// agree after PHP's folding (upper case; '-', '_', '.', ' ' and '[' all
// '_'), whatever their case, and never when their lengths differ.
func TestSameCGIName(t *testing.T) {
	for _, c := range []struct {
		a, b string
		same bool
	}{
		{"x-api-key", "x-api-key", true},
		{"X-API-KEY", "x-api-key", true},
		{"x_api.key", "X-Api-Key", true},
		{"x[api key", "x-api-key", true},
		{"authorization", "AUTHORIZATION", true},
		{"Zz-Aa", "zZ_aA", true},
		{"x-api-kez", "x-api-key", false},
		{"x-api-key-", "x-api-key", false},
		{"x-api-ke", "x-api-key", false},
		{"x-apix-key", "x-api-key", false},
		{"x-api-key", "x-api-kEy ", false},
		{"`", "@", false}, // the bytes just outside a-z and A-Z are not folded
		{"{", "[", false},
	} {
		if got := sameCGIName(c.a, c.b); got != c.same {
			t.Errorf("sameCGIName(%q, %q) = %v, want %v", c.a, c.b, got, c.same)
		}
	}
}
