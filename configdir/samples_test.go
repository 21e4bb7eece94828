package configdir

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/wpauthz/wpauthz/authz/policy"
)

// TestShippedSamplesValidate: every sample we ship passes the same schema
// and CEL rules the API server applies, and compiles with the Secrets
// shipped next to it: nothing it references is missing or malformed.
func TestShippedSamplesValidate(t *testing.T) {
	for _, dir := range []string{"../config/samples", "../config/samples/local"} {
		l, err := NewLoader(dir, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		b, err := l.Load()
		if err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		if len(b.Policies) == 0 || len(b.APIKeys) == 0 {
			t.Fatalf("%s: loaded %d policies, %d keys", dir, len(b.Policies), len(b.APIKeys))
		}
		if _, problems := policy.Compile(b, policy.Options{}); len(problems) != 0 {
			t.Fatalf("%s: does not compile as shipped: %v", dir, problems)
		}
	}
}

// TestDefaultsWithOmittedParents: a minimal policy gets the nested
// defaults (credential header, identity TTL) even without the parent
// objects, as the API server defaults them.
func TestDefaultsWithOmittedParents(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "p.yaml"), []byte(validPolicy), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := NewLoader(dir, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	b, err := l.Load()
	if err != nil {
		t.Fatal(err)
	}
	s := b.Policies[0].Spec
	if s.Authentication.CredentialHeader != "Authorization" || s.Identity.TTL == nil || s.Identity.TTL.Duration.String() != "30s" {
		t.Fatalf("defaults not applied: header %q ttl %v", s.Authentication.CredentialHeader, s.Identity.TTL)
	}
}
