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
		// 7 bytes: the unpadded form differs from the padded one.
		{base64.RawStdEncoding.EncodeToString([]byte("jane:xy")), "jane", "xy", true},
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

// Both parts may be exactly as long as the limits allow; one byte more is
// refused (TestDecode). The longest value is padded base64 of both at the
// limit, so the pre-decode length check must admit it too.
func TestDecodeAcceptsPartsAtTheLimits(t *testing.T) {
	name := strings.Repeat("n", MaxNameLength)
	secret := strings.Repeat("s", MaxSecretLength)
	for _, c := range []struct{ label, name, secret string }{
		{"name at the limit", name, "x"},
		{"secret at the limit", "jane", secret},
		{"both at the limit", name, secret},
	} {
		value := base64.StdEncoding.EncodeToString([]byte(c.name + ":" + c.secret))
		n, s, err := Decode(value)
		if err != nil || n != c.name || s != c.secret {
			t.Errorf("%s: Decode = %d-byte name, %d-byte secret, %v", c.label, len(n), len(s), err)
		}
	}
}

func TestClientSubjectNamesTheResource(t *testing.T) {
	c := &Client{Namespace: "blog", Name: "ci-bot", ClientID: "app", Roles: []string{"editor"}}
	if got, want := c.Subject(), "oauthclient:blog/ci-bot"; got != want {
		t.Fatalf("Subject() = %q, want %q", got, want)
	}
	id := c.Identity()
	if id.Subject != "oauthclient:blog/ci-bot" || len(id.Roles) != 1 || id.Roles[0] != "editor" {
		t.Fatalf("Identity() = %+v", id)
	}
}

// A policy without clients has a nil index; it must answer, not panic.
func TestNilClientsAreEmpty(t *testing.T) {
	var ix *Clients
	if ix.Len() != 0 || ix.Has("app") {
		t.Fatalf("nil index: Len %d, Has(app) %v", ix.Len(), ix.Has("app"))
	}
	if _, ok := ix.Verify("app", "s3cret"); ok {
		t.Fatal("nil index verified a client")
	}
	two := NewClients([]*Client{{ClientID: "a"}, {ClientID: "b"}})
	if two.Len() != 2 || !two.Has("a") || two.Has("c") {
		t.Fatalf("two clients: Len %d, Has(a) %v, Has(c) %v", two.Len(), two.Has("a"), two.Has("c"))
	}
}

// With is how the policy compiler adds clients one by one: it keeps what
// was there, leaves the original untouched, and a repeated ID keeps the
// first client, like NewClients.
func TestWithAddsAClientToACopy(t *testing.T) {
	var none *Clients
	first := none.With(&Client{ClientID: "app", Name: "first"})
	if first.Len() != 1 || !first.Has("app") {
		t.Fatalf("With on nil: Len %d", first.Len())
	}
	second := first.With(&Client{ClientID: "ci", Name: "ci"})
	if second.Len() != 2 || !second.Has("app") || !second.Has("ci") {
		t.Fatalf("second With lost a client: Len %d, app %v, ci %v", second.Len(), second.Has("app"), second.Has("ci"))
	}
	if first.Has("ci") {
		t.Fatal("With changed the index it was called on")
	}
	dup := second.With(&Client{ClientID: "app", Name: "second"})
	if dup.Len() != 2 || dup.byID["app"].Name != "first" {
		t.Fatalf("repeated ID: Len %d, app is %q, want the first", dup.Len(), dup.byID["app"].Name)
	}
	keep := NewClients([]*Client{{ClientID: "app", Name: "first"}, {ClientID: "app", Name: "second"}})
	if keep.byID["app"].Name != "first" {
		t.Fatalf("NewClients kept %q for a repeated ID, want the first", keep.byID["app"].Name)
	}
}
