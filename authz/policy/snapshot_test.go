package policy

import (
	"crypto/ed25519"
	"crypto/rand"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wpauthz/wpauthz/api/v1alpha1"
)

func compileHosts(t *testing.T, hosts ...[]v1alpha1.Host) (*Snapshot, []Problem) {
	t.Helper()
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	var b Bundle
	for i, h := range hosts {
		b.Policies = append(b.Policies, v1alpha1.WPApiPolicy{
			ObjectMeta: metav1.ObjectMeta{Name: string(rune('a' + i)), Namespace: "ns",
				CreationTimestamp: metav1.NewTime(time.Unix(int64(i), 0))},
			Spec: v1alpha1.WPApiPolicySpec{Hosts: h},
		})
	}
	return Compile(b, Options{IdentityKey: key})
}

func TestLookup(t *testing.T) {
	snap, problems := compileHosts(t,
		[]v1alpha1.Host{"shop.example.com", "*.example.com"}, // a
		[]v1alpha1.Host{"*.eu.example.com"},                  // b: more specific wildcard
		[]v1alpha1.Host{"127.0.0.1", "localhost"},            // c
	)
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	cases := map[string]string{
		"shop.example.com":         "a",
		"SHOP.Example.COM:8443":    "a",
		"shop.example.com.":        "", // refused: proxies disagree on a trailing dot
		"blog.example.com":         "a",
		"a.b.example.com":          "a",
		"x.eu.example.com":         "b",
		"y.x.eu.example.com":       "b",
		"eu.example.com":           "a", // "*.example.com" covers it; "*.eu" does not cover its apex
		"example.com":              "",
		"evilexample.com":          "",
		"shop.example.com.evil.io": "",
		"127.0.0.1:9001":           "c",
		"localhost":                "c",
		"[::1]:8080":               "",
		"":                         "",
		":80":                      "",
	}
	for host, want := range cases {
		got := ""
		if p := snap.Lookup(host); p != nil {
			got = p.Name
		}
		if got != want {
			t.Errorf("Lookup(%q) = %q, want %q", host, got, want)
		}
	}
}

func TestCompileDefaults(t *testing.T) {
	snap, problems := compileHosts(t, []v1alpha1.Host{"shop.test"})
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	p := snap.Lookup("shop.test")
	if p.RestPrefix != DefaultRestPrefix || p.DefaultAction != v1alpha1.ActionAuthenticate || p.Denied != v1alpha1.DeniedRouteNotFound ||
		p.CredentialHeader != "authorization" || p.APIKeyHeader != "" || p.JWT != nil || p.APIKeys != nil || p.IdentityTTL != DefaultIdentityTTL {
		t.Fatalf("defaults: %+v", p)
	}
}

func TestDuplicateHostInOnePolicy(t *testing.T) {
	_, problems := compileHosts(t, []v1alpha1.Host{"shop.test", "SHOP.test"})
	if len(problems) != 1 || problems[0].Reason != v1alpha1.ReasonInvalidRule {
		t.Fatalf("problems %v", problems)
	}
}

func TestWildcardConflict(t *testing.T) {
	snap, problems := compileHosts(t, []v1alpha1.Host{"*.shop.test"}, []v1alpha1.Host{"a.test", "*.shop.test"})
	if len(problems) != 1 || problems[0].Name != "b" || problems[0].Reason != v1alpha1.ReasonHostConflict {
		t.Fatalf("problems %v", problems)
	}
	// The loser is absent entirely, not half-applied on its other host.
	if snap.Lookup("a.test") != nil {
		t.Fatal("conflicting policy partly installed")
	}
}

func TestMethodBits(t *testing.T) {
	r := Rule{Methods: MethodBit("GET") | MethodBit("POST")}
	if r.Methods&MethodBit("PURGE") != 0 || MethodBit("PURGE") == 0 {
		t.Fatal("unknown methods must never match a rule that lists methods")
	}
}
