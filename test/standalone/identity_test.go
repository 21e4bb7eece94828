package standalone

import (
	"bytes"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"github.com/wpauthz/wpauthz/test/testbin"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wpauthz/wpauthz/authz/identity"
)

// The identity commands give a WordPress admin the bridge plugin's
// WPAUTHZ_PUBLIC_KEY: the public half of the key that signs assertions.
func TestIdentityKeyCommands(t *testing.T) {
	bin := testbin.Wpauthz(t)
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "identity.pem")
	gen := exec.Command(bin, "identity", "generate")
	pemKey, err := gen.Output()
	if err != nil {
		t.Fatalf("identity generate: %v", err)
	}
	writeAtomic(t, keyFile, string(pemKey))
	key, err := identity.ParseSigningKey(pemKey)
	if err != nil {
		t.Fatalf("generated key does not parse as --identity-key: %v", err)
	}
	want := key.Public().(ed25519.PublicKey)

	out, err := exec.Command(bin, "identity", "public-key", "--identity-key", keyFile).Output()
	if err != nil {
		t.Fatalf("public-key: %v", err)
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(out)))
	if err != nil || !bytes.Equal(raw, want) {
		t.Fatalf("public-key (base64) = %q, want %x", out, want)
	}

	cmd := exec.Command(bin, "identity", "public-key", "--identity-key", "-", "--format", "pem")
	cmd.Stdin = bytes.NewReader(pemKey)
	out, err = cmd.Output()
	if err != nil {
		t.Fatalf("public-key --format pem: %v", err)
	}
	blk, _ := pem.Decode(out)
	if blk == nil || blk.Type != "PUBLIC KEY" {
		t.Fatalf("public-key --format pem: not a PUBLIC KEY block: %q", out)
	}
	pk, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil || !want.Equal(pk) {
		t.Fatalf("public-key --format pem: %v, key %v", err, pk)
	}

	for _, bad := range [][]string{
		{"identity", "public-key"},
		{"identity", "public-key", "--identity-key", filepath.Join(dir, "missing.pem")},
		{"identity", "public-key", "--identity-key", keyFile, "--format", "jwk"},
	} {
		if out, err := exec.Command(bin, bad...).CombinedOutput(); err == nil {
			t.Errorf("%v succeeded: %s", bad, out)
		}
	}
	writeAtomic(t, filepath.Join(dir, "garbage"), "not a key")
	if out, err := exec.Command(bin, "identity", "public-key", "--identity-key", filepath.Join(dir, "garbage")).CombinedOutput(); err == nil {
		t.Errorf("public-key of garbage succeeded: %s", out)
	}
}
