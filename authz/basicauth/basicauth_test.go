package basicauth

import (
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"
)

// decodeCase is one row of decodeCases.
type decodeCase = struct {
	in           string
	name, secret string
	ok           bool
}

// decodeCases are Decode's table (also the seeds of FuzzDecode).
func decodeCases() []decodeCase {
	enc := base64.StdEncoding.EncodeToString
	return []struct {
		in           string
		name, secret string
		ok           bool
	}{
		{enc([]byte("jane:secret")), "jane", "secret", true},
		{enc([]byte("jane:se:cr:et")), "jane", "se:cr:et", true},
		{enc([]byte("jane@example.com: spaced ")), "jane@example.com", " spaced ", true},
		{base64.RawStdEncoding.EncodeToString([]byte("jane:x")), "jane", "x", true},
		{enc([]byte("jane:")), "jane", "", true},
		{enc([]byte("jane")), "", "", false},
		{enc([]byte(":secret")), "", "", false},
		{enc([]byte("ja\xffne:x")), "", "", false},
		{"not base64!", "", "", false},
		{base64.URLEncoding.EncodeToString([]byte("j?>:~~~")), "", "", false},
		{enc([]byte(strings.Repeat("a", MaxNameLength+1) + ":x")), "", "", false},
		{enc([]byte("a:" + strings.Repeat("x", MaxSecretLength+1))), "", "", false},
		// encoding/base64 skips CR and LF even when strict (found by
		// FuzzDecode): they are not base64, and no header carries them.
		{"A\rzp0", "", "", false},
		{"amFuZTpzZWNyZXQ=\n", "", "", false},
		{"amFu\r\nZTpzZWNyZXQ=", "", "", false},
	}
}

func TestDecode(t *testing.T) {
	for _, c := range decodeCases() {
		n, s, err := Decode(c.in)
		if (err == nil) != c.ok || n != c.name || s != c.secret {
			t.Errorf("Decode(%q) = %q %q %v", c.in, n, s, err)
		}
	}
}

func TestClients(t *testing.T) {
	ix := NewClients([]*Client{
		{ClientID: "app", SecretHash: sha256.Sum256([]byte("s3cret")), Roles: []string{"editor"}},
		{ClientID: "off", SecretHash: sha256.Sum256([]byte("s3cret")), Disabled: true},
	})
	if c, ok := ix.Verify("app", "s3cret"); !ok || c.ClientID != "app" {
		t.Fatal("valid client refused")
	}
	for _, c := range [][2]string{{"app", "wrong"}, {"off", "s3cret"}, {"nope", "s3cret"}, {"app", ""}} {
		if _, ok := ix.Verify(c[0], c[1]); ok {
			t.Errorf("accepted %v", c)
		}
	}
}
