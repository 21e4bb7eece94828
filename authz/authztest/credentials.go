// Package authztest builds real engines on small, fixed policies for the
// tests of the engine and of its adapters (Envoy gRPC, HTTP), so that each
// adapter is proven with the engine it ships with, not with a stand-in.
package authztest

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wpauthz/wpauthz/api/v1alpha1"
	"github.com/wpauthz/wpauthz/authz"
	"github.com/wpauthz/wpauthz/authz/jwtauth"
	"github.com/wpauthz/wpauthz/authz/policy"
)

// Hosts of the policies CredentialEngine serves. All three read credentials
// from X-WP-Auth except StandardHost (Authorization); none accepts API keys
// except StandardHost; only KeepHost keeps the verified credential for
// WordPress. On each, GET /wp/v2/posts is public and everything else needs
// an identity.
const (
	CustomHost   = "custom.test"
	KeepHost     = "keep.test"
	StandardHost = "standard.test"
)

// CredentialEngine is a real engine on the three policies above.
type CredentialEngine struct {
	Engine   *authz.Engine
	policies map[string]*policy.Policy
	now      time.Time
}

// NewCredentialEngine compiles the policies and returns the engine; its
// clock is fixed at now.
func NewCredentialEngine(t testing.TB, now time.Time) *CredentialEngine {
	t.Helper()
	jwtKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, idKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pol := func(name, host, header string, keep, keys bool) v1alpha1.WPApiPolicy {
		a := v1alpha1.Authentication{
			CredentialHeader: header, KeepCredentials: keep,
			JWT: &v1alpha1.JWTAuthentication{Issuer: "https://" + host + "/wp-json", Audiences: []string{host},
				Algorithm: "ES256", KeysSecretRef: v1alpha1.SecretReference{Name: "jwt"}},
		}
		if keys {
			a.APIKeys = &v1alpha1.APIKeyAuthentication{}
		}
		return v1alpha1.WPApiPolicy{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
			Spec: v1alpha1.WPApiPolicySpec{
				Hosts:         []v1alpha1.Host{v1alpha1.Host(host)},
				DefaultAction: v1alpha1.ActionAuthenticate,
				Rules: []v1alpha1.Rule{
					{Name: "read", Routes: []string{"/wp/v2/posts"}, Methods: []v1alpha1.HTTPMethod{"GET"}, Action: v1alpha1.ActionAllow},
				},
				Authentication: a,
				Identity:       v1alpha1.IdentityForwarding{SigningKeySecretRef: &v1alpha1.SecretKeySelector{Name: "identity", Key: "key"}},
			},
		}
	}
	secret := func(name string, data map[string]string) corev1.Secret {
		return corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}, StringData: data}
	}
	b := policy.Bundle{
		Policies: []v1alpha1.WPApiPolicy{
			pol("custom", CustomHost, "X-WP-Auth", false, false),
			pol("keep", KeepHost, "X-WP-Auth", true, false),
			pol("standard", StandardHost, "", false, true),
		},
		Secrets: []corev1.Secret{
			secret("jwt", map[string]string{"k1": pemOf(t, jwtKey)}),
			secret("identity", map[string]string{"key": pemOf(t, idKey)}),
		},
	}
	snap, problems := policy.Compile(b, policy.Options{})
	if len(problems) > 0 {
		t.Fatalf("compile: %v", problems)
	}
	e := authz.New(authz.Options{Now: func() time.Time { return now }})
	e.Swap(snap)
	ce := &CredentialEngine{Engine: e, policies: map[string]*policy.Policy{}, now: now}
	for _, p := range snap.Policies() {
		ce.policies[p.Hosts[0]] = p
	}
	return ce
}

// Token mints a valid bearer token of user 2 (an editor) for host's policy.
func (c *CredentialEngine) Token(t testing.TB, host string) string {
	t.Helper()
	p := c.policies[host]
	if p == nil {
		t.Fatalf("no policy for %s", host)
	}
	tok, err := p.JWT.Mint(jwtauth.Claims{Subject: strconv.Itoa(2), UserID: 2, Login: "jane", Roles: []string{"editor"}}, 15*time.Minute, c.now)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func pemOf(t testing.TB, k any) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}
