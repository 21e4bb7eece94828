package authz_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wpauthz/wpauthz/api/v1alpha1"
	"github.com/wpauthz/wpauthz/authz"
	"github.com/wpauthz/wpauthz/authz/jwtauth"
	"github.com/wpauthz/wpauthz/authz/policy"
)

// batchWorld is a site whose policy reserves some routes for editors and
// lets any identity send a /batch/v1 request; every sub-request must then
// be authorized on its own.
type batchWorld struct {
	engine *authz.Engine
	policy *policy.Policy
}

// newBatchWorld compiles one policy for localhost: the rules given, a
// rule allowing POST /batch/v1 to any identity, and "Authenticate" as the
// default (any identity).
func newBatchWorld(t testing.TB, rules ...v1alpha1.Rule) *batchWorld {
	t.Helper()
	rules = append(rules, v1alpha1.Rule{Name: "batch", Routes: []string{"/batch/v1"}, Methods: []v1alpha1.HTTPMethod{"POST"}, Action: v1alpha1.ActionAuthenticate})
	return newRulesWorld(t, rules...)
}

// newRulesWorld is newBatchWorld without the rule naming /batch/v1.
func newRulesWorld(t testing.TB, rules ...v1alpha1.Rule) *batchWorld {
	t.Helper()
	jwtKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, idKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	secret := func(name string, data map[string]string) corev1.Secret {
		return corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}, StringData: data}
	}
	b := policy.Bundle{
		Policies: []v1alpha1.WPApiPolicy{{
			ObjectMeta: metav1.ObjectMeta{Name: "batch", Namespace: "default"},
			Spec: v1alpha1.WPApiPolicySpec{
				Hosts:         []v1alpha1.Host{"localhost"},
				DefaultAction: v1alpha1.ActionAuthenticate,
				Rules:         rules,
				Authentication: v1alpha1.Authentication{
					JWT: &v1alpha1.JWTAuthentication{Issuer: "https://localhost/wp-json", Audiences: []string{"localhost"},
						Algorithm: "ES256", KeysSecretRef: v1alpha1.SecretReference{Name: "jwt"}},
				},
				Identity: v1alpha1.IdentityForwarding{SigningKeySecretRef: &v1alpha1.SecretKeySelector{Name: "identity", Key: "key"}},
			},
		}},
		Secrets: []corev1.Secret{
			secret("jwt", map[string]string{"k1": pemOf(t, jwtKey)}),
			secret("identity", map[string]string{"key": pemOf(t, idKey)}),
		},
	}
	snap, problems := policy.Compile(b, policy.Options{})
	if len(problems) > 0 {
		t.Fatalf("compile: %v", problems)
	}
	w := &batchWorld{engine: authz.New(authz.Options{Now: func() time.Time { return now }})}
	w.engine.Swap(snap)
	w.policy = snap.Policies()[0]
	return w
}

// bearer returns the Authorization header of a token for a user with roles.
func (w *batchWorld) bearer(t testing.TB, userID int64, roles ...string) map[string]string {
	t.Helper()
	tok, err := w.policy.JWT.Mint(jwtauth.Claims{Subject: fmt.Sprint(userID), UserID: userID, Login: fmt.Sprintf("user%d", userID), Roles: roles}, 15*time.Minute, now)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]string{"authorization": "Bearer " + tok}
}

func (w *batchWorld) check(method, target string, headers map[string]string, body string) *authz.Decision {
	h := map[string]string{}
	for k, v := range headers {
		h[strings.ToLower(k)] = v
	}
	return w.engine.Check(context.Background(), &authz.Request{
		Method: method, Host: "localhost", Target: target, Headers: h,
		Body: []byte(body), BodyComplete: true,
	})
}

// editorsOnly reserves writing posts and the shop's orders for editors;
// pages are open to any identity (the default).
var editorsOnly = []v1alpha1.Rule{
	{Name: "posts", Routes: []string{"/wp/v2/posts", "/wp/v2/posts/**"}, Methods: []v1alpha1.HTTPMethod{"POST", "PUT", "PATCH", "DELETE"},
		Action: v1alpha1.ActionAuthenticate, Roles: []v1alpha1.Role{"editor"}},
	{Name: "orders", Routes: []string{"/shop/v1/orders", "/shop/v1/orders/**"}, Action: v1alpha1.ActionAuthenticate, Roles: []v1alpha1.Role{"editor"}},
}

// TestHardening1_BatchReadAsWordPressReadsIt reproduces issue 11 item 1:
// each body below makes WordPress run a sub-request the policy reserves for
// editors, while a reader with other rules (case-insensitive keys, JSON
// whatever the Content-Type, the query ignored) saw only pages. An author
// must not get it.
func TestHardening1_BatchReadAsWordPressReadsIt(t *testing.T) {
	w := newBatchWorld(t, editorsOnly...)
	author := w.bearer(t, 5, "author")
	editor := w.bearer(t, 2, "editor")
	withType := func(h map[string]string, ct string) map[string]string {
		out := map[string]string{"content-type": ct}
		for k, v := range h {
			out[k] = v
		}
		return out
	}
	const json = "application/json"
	cases := []struct {
		name       string
		target, ct string
		body       string
		wantAuthor int // the author's status: WordPress would run a reserved route
		wantEditor int // an editor may run it all
	}{
		{
			name:   `"Path" decoy after "path"`,
			target: "/wp-json/batch/v1", ct: json,
			body:       `{"requests":[{"method":"POST","path":"/wp/v2/posts","Path":"/wp/v2/pages"}]}`,
			wantAuthor: 403, wantEditor: 200,
		},
		{
			name:   `top-level "Requests" decoy after "requests"`,
			target: "/wp-json/batch/v1", ct: json,
			body:       `{"requests":[{"method":"POST","path":"/wp/v2/posts"}],"Requests":[{"method":"POST","path":"/wp/v2/pages"}]}`,
			wantAuthor: 403, wantEditor: 200,
		},
		{
			name:   `"Method" decoy after "method"`,
			target: "/wp-json/batch/v1", ct: json,
			body:       `{"requests":[{"method":"DELETE","path":"/wp/v2/posts/1","Method":"GET"}]}`,
			wantAuthor: 403, wantEditor: 200,
		},
		{
			name:   "text/plain JSON body, sub-request in the query",
			target: "/?rest_route=/batch/v1&requests[0][method]=POST&requests[0][path]=/shop/v1/orders", ct: "text/plain",
			body:       `{"requests":[{"method":"POST","path":"/wp/v2/pages"}]}`,
			wantAuthor: 403, wantEditor: 200,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := w.check("POST", tc.target, withType(author, tc.ct), tc.body)
			if d.Status != tc.wantAuthor || d.Allowed {
				t.Errorf("author: got %d %s (allowed %v), want %d: WordPress would run a route reserved for editors", d.Status, d.Code, d.Allowed, tc.wantAuthor)
			}
			if d := w.check("POST", tc.target, withType(editor, tc.ct), tc.body); d.Status != tc.wantEditor {
				t.Errorf("editor: got %d %s, want %d", d.Status, d.Code, tc.wantEditor)
			}
		})
	}
}
