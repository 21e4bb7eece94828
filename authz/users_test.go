package authz_test

import (
	"context"
	"crypto/ed25519"
	"crypto/md5"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wpauthz/wpauthz/api/v1alpha1"
	"github.com/wpauthz/wpauthz/authz"
	"github.com/wpauthz/wpauthz/authz/apikey"
	"github.com/wpauthz/wpauthz/authz/policy"
)

// usersWorld is a site with WordPress users (a static users file): Basic
// (passwords and OAuthClient secrets, unless accept says otherwise) under
// a login throttle of 3 failures per user, API keys bound to users and
// one that is not.
type usersWorld struct {
	engine  *authz.Engine
	janeKey string // user 2; the key says editor, WordPress says author
	bobKey  string // user 3; the key says subscriber, WordPress says editor
	shopKey string // no user; editor
}

// OAuthClients of usersWorld: their client IDs and secrets.
const (
	svcClient   = "svc"      // no user; editor
	bobClient   = "as-bob"   // user 3 (editor in WordPress); the client says subscriber
	ghostClient = "as-ghost" // user 99, whom WordPress does not know
)

func clientSecret(id string) string { return "secret-of-" + id + "-0123456789" }

// md5Hex is a legacy WordPress user_pass (the quickest format to check).
func md5Hex(password string) string {
	sum := md5.Sum([]byte(password))
	return hex.EncodeToString(sum[:])
}

func newUsersWorld(t testing.TB, accept ...v1alpha1.BasicCredential) *usersWorld {
	t.Helper()
	if len(accept) == 0 {
		accept = []v1alpha1.BasicCredential{v1alpha1.BasicPassword, v1alpha1.BasicClientSecret}
	}
	_, idKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	w := &usersWorld{}
	for _, k := range []*string{&w.janeKey, &w.bobKey, &w.shopKey} {
		if *k, err = apikey.Generate(); err != nil {
			t.Fatal(err)
		}
	}
	users := fmt.Sprintf(`users:
  - {id: 2, login: jane, email: jane@example.com, pass: %q, roles: [author]}
  - {id: 3, login: bob, email: bob@example.com, pass: %q, roles: [editor]}
`, md5Hex("jane-password"), md5Hex("bob-password"))
	perUser, perClient := int32(3), int32(1000)
	secret := func(name string, data map[string]string) corev1.Secret {
		return corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}, StringData: data}
	}
	key := func(name string, user int64, role v1alpha1.Role) v1alpha1.ApiKey {
		k := v1alpha1.ApiKey{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}, Spec: v1alpha1.ApiKeySpec{
			PolicyRef: v1alpha1.PolicyReference{Name: "users"}, SecretRef: &v1alpha1.SecretKeySelector{Name: name, Key: "key"},
			Roles: []v1alpha1.Role{role},
		}}
		if user != 0 {
			k.Spec.User = &v1alpha1.UserReference{ID: user}
		}
		return k
	}
	client := func(id string, user int64, role v1alpha1.Role) v1alpha1.OAuthClient {
		c := v1alpha1.OAuthClient{ObjectMeta: metav1.ObjectMeta{Name: id, Namespace: "default"}, Spec: v1alpha1.OAuthClientSpec{
			PolicyRef: v1alpha1.PolicyReference{Name: "users"}, ClientID: id, SecretRef: v1alpha1.SecretKeySelector{Name: "client-" + id, Key: "secret"},
			Grants: []v1alpha1.GrantType{"client_credentials"}, Roles: []v1alpha1.Role{role},
		}}
		if user != 0 {
			c.Spec.User = &v1alpha1.UserReference{ID: user}
		}
		return c
	}
	b := policyBundle(
		v1alpha1.WPApiPolicy{
			ObjectMeta: metav1.ObjectMeta{Name: "users", Namespace: "default"},
			Spec: v1alpha1.WPApiPolicySpec{
				Hosts:         []v1alpha1.Host{"localhost"},
				DefaultAction: v1alpha1.ActionAuthenticate,
				Rules: []v1alpha1.Rule{{Name: "write", Routes: []string{"/wp/v2/posts", "/wp/v2/posts/**"}, Methods: []v1alpha1.HTTPMethod{"POST"},
					Action: v1alpha1.ActionAuthenticate, Roles: []v1alpha1.Role{"editor"}}},
				WordPress: &v1alpha1.WordPressSource{UsersSecretRef: &v1alpha1.SecretKeySelector{Name: "users", Key: "users.yaml"}},
				Authentication: v1alpha1.Authentication{
					Basic:   &v1alpha1.BasicAuthentication{Accept: accept},
					APIKeys: &v1alpha1.APIKeyAuthentication{},
				},
				Throttle: v1alpha1.Throttle{Login: v1alpha1.LoginThrottle{MaxFailuresPerUser: &perUser, MaxFailuresPerClient: &perClient,
					Window: &metav1.Duration{Duration: 15 * time.Minute}}},
				Identity: v1alpha1.IdentityForwarding{SigningKeySecretRef: &v1alpha1.SecretKeySelector{Name: "identity", Key: "key"}},
			},
		},
		[]v1alpha1.ApiKey{key("jane", 2, "editor"), key("bob", 3, "subscriber"), key("shop", 0, "editor")},
		secret("users", map[string]string{"users.yaml": users}),
		secret("identity", map[string]string{"key": pemOf(t, idKey)}),
		secret("jane", map[string]string{"key": w.janeKey}),
		secret("bob", map[string]string{"key": w.bobKey}),
		secret("shop", map[string]string{"key": w.shopKey}),
	)
	b.OAuthClients = []v1alpha1.OAuthClient{client(svcClient, 0, "editor"), client(bobClient, 3, "subscriber"), client(ghostClient, 99, "editor")}
	for _, c := range b.OAuthClients {
		b.Secrets = append(b.Secrets, secret(c.Spec.SecretRef.Name, map[string]string{"secret": clientSecret(c.Spec.ClientID)}))
	}
	w.engine = compiledEngine(t, b)
	return w
}

// basicFrom checks Basic name:secret sent from remote.
func (w *usersWorld) basicFrom(name, secret, remote string) *authz.Decision {
	v := "Basic " + base64.StdEncoding.EncodeToString([]byte(name+":"+secret))
	return w.engine.Check(context.Background(), &authz.Request{Method: "GET", Host: "localhost", Target: "/wp-json/wp/v2/comments",
		Headers: map[string]string{"authorization": v}, RemoteAddr: remote})
}

// address is the i-th of many client addresses, as a botnet has.
func address(i int) string { return fmt.Sprintf("198.51.100.%d", i+1) }

// TestPerUserThrottleHoldsAcrossRotatingAddresses: three wrong passwords
// for jane, each from a new address, block jane (429 with Retry-After)
// for a fourth new address, even with her right password: the per-user
// limit does not depend on the per-address one. Bob is not affected.
func TestPerUserThrottleHoldsAcrossRotatingAddresses(t *testing.T) {
	w := newUsersWorld(t)
	if d := w.basicFrom("jane", "jane-password", address(0)); !d.Allowed {
		t.Fatalf("control login refused: %d %s", d.Status, d.Code)
	}
	for i := range 3 {
		if d := w.basicFrom("jane", "guess", address(i+1)); d.Status != 401 {
			t.Fatalf("guess %d: %d %s, want 401", i, d.Status, d.Code)
		}
	}
	d := w.basicFrom("jane", "jane-password", address(10))
	if d.Allowed || d.Status != 429 || d.Code != "wpauthz_too_many_attempts" || !hasHeader(d.ResponseHeaders, "Retry-After", "") {
		t.Fatalf("jane from a fifth address after 3 failures: allowed=%v %d %q, want 429 with Retry-After", d.Allowed, d.Status, d.Code)
	}
	if d := w.basicFrom("bob", "bob-password", address(10)); !d.Allowed {
		t.Fatalf("another user from that address: %d %s", d.Status, d.Code)
	}
}

// TestPerUserThrottleFoldsNameCase: failures count against one user
// whatever the case of the name: jane's login and email spelled
// differently, and a name nobody has, in three cases, share one bucket.
func TestPerUserThrottleFoldsNameCase(t *testing.T) {
	for _, names := range [][]string{
		{"jane", "JANE", "Jane@Example.com", "jAnE"},
		{"ghost", "GHOST", "Ghost", "gHoSt"},
	} {
		t.Run(names[0], func(t *testing.T) {
			w := newUsersWorld(t)
			for i, n := range names[:3] {
				if d := w.basicFrom(n, "guess", address(i)); d.Status != 401 {
					t.Fatalf("guess %d as %q: %d %s, want 401", i, n, d.Status, d.Code)
				}
			}
			if d := w.basicFrom(names[3], "guess", address(9)); d.Status != 429 {
				t.Fatalf("fourth guess as %q after %q: %d %s, want 429", names[3], names[:3], d.Status, d.Code)
			}
		})
	}
}

// TestUserKeyUsesLiveWordPressRoles: an API key bound to a user acts
// with the roles WordPress gives that user now, not the ones written in
// the key: jane (author in WordPress) cannot publish with her "editor"
// key, bob (editor in WordPress) can with his "subscriber" key.
func TestUserKeyUsesLiveWordPressRoles(t *testing.T) {
	w := newUsersWorld(t)
	post := func(key string) *authz.Decision {
		return w.engine.Check(context.Background(), &authz.Request{Method: "POST", Host: "localhost", Target: "/wp-json/wp/v2/posts",
			Headers: map[string]string{"x-api-key": key}})
	}
	if d := post(w.janeKey); d.Allowed || d.Status != 403 {
		t.Fatalf("jane's key (editor in the key, author in WordPress): allowed=%v %d %s, want 403", d.Allowed, d.Status, d.Code)
	}
	if d := post(w.bobKey); !d.Allowed {
		t.Fatalf("bob's key (subscriber in the key, editor in WordPress): %d %s, want allowed", d.Status, d.Code)
	}
}

// policyBundle is one policy with its API keys and Secrets.
func policyBundle(p v1alpha1.WPApiPolicy, keys []v1alpha1.ApiKey, secrets ...corev1.Secret) policy.Bundle {
	return policy.Bundle{Policies: []v1alpha1.WPApiPolicy{p}, APIKeys: keys, Secrets: secrets}
}

// compiledEngine compiles b (it must compile cleanly) into an engine on
// the test clock.
func compiledEngine(t testing.TB, b policy.Bundle) *authz.Engine {
	t.Helper()
	snap, problems := policy.Compile(b, policy.Options{})
	if len(problems) > 0 {
		t.Fatalf("compile: %v", problems)
	}
	e := authz.New(authz.Options{Now: func() time.Time { return now }})
	e.Swap(snap)
	return e
}

// basicPost sends POST /wp/v2/posts (editors only) with Basic name:secret.
func (w *usersWorld) basicPost(name, secret string) *authz.Decision {
	v := "Basic " + base64.StdEncoding.EncodeToString([]byte(name+":"+secret))
	return w.engine.Check(context.Background(), &authz.Request{Method: "POST", Host: "localhost", Target: "/wp-json/wp/v2/posts",
		Headers: map[string]string{"authorization": v}, RemoteAddr: address(0)})
}

// TestClientSecretActsAsItsUserOrItself: an OAuthClient's Basic secret
// acts as the WordPress user the client is bound to, with that user's
// live roles, or as the client itself with its own roles; a wrong
// secret, or a client whose user is gone, is refused with 401.
func TestClientSecretActsAsItsUserOrItself(t *testing.T) {
	w := newUsersWorld(t)
	for _, c := range []struct {
		name, id, secret string
		status           int
	}{
		{"client without a user, its roles (editor)", svcClient, clientSecret(svcClient), 200},
		{"client as bob, bob's roles (editor)", bobClient, clientSecret(bobClient), 200},
		{"client as a user WordPress does not know", ghostClient, clientSecret(ghostClient), 401},
		{"wrong client secret", svcClient, clientSecret(bobClient), 401},
	} {
		d := w.basicPost(c.id, c.secret)
		if d.Status != c.status || d.Allowed != (c.status == 200) {
			t.Errorf("%s: %d %q, want %d", c.name, d.Status, d.Code, c.status)
		}
		if c.status == 401 && d.Code != "wpauthz_invalid_credentials" {
			t.Errorf("%s: code %q, want wpauthz_invalid_credentials", c.name, d.Code)
		}
	}
}

// TestBasicOnlyAcceptsWhatThePolicyAccepts: with Basic limited to client
// secrets, a user's right password is refused (401) without counting
// towards her throttle, and a value that is not base64 name:secret is
// refused the same way.
func TestBasicOnlyAcceptsWhatThePolicyAccepts(t *testing.T) {
	w := newUsersWorld(t, v1alpha1.BasicClientSecret)
	if d := w.basicPost(svcClient, clientSecret(svcClient)); !d.Allowed {
		t.Fatalf("client secret refused: %d %q", d.Status, d.Code)
	}
	// Refused before any check, so never counted: the fifth is 401 too,
	// not 429.
	for i := range 5 {
		if d := w.basicPost("bob", "bob-password"); d.Allowed || d.Status != 401 || d.Code != "wpauthz_invalid_credentials" {
			t.Fatalf("password %d where only client secrets are accepted: allowed=%v %d %q, want 401", i, d.Allowed, d.Status, d.Code)
		}
	}
	all := newUsersWorld(t)
	if d := all.basicPost("bob", "bob-password"); !d.Allowed {
		t.Fatalf("bob's password where passwords are accepted: %d %q", d.Status, d.Code)
	}
	d := all.engine.Check(context.Background(), &authz.Request{Method: "GET", Host: "localhost", Target: "/wp-json/wp/v2/comments",
		Headers: map[string]string{"authorization": "Basic !!!not-base64"}})
	if d.Allowed || d.Status != 401 || d.Code != "wpauthz_invalid_credentials" {
		t.Fatalf("malformed Basic: allowed=%v %d %q, want 401 wpauthz_invalid_credentials", d.Allowed, d.Status, d.Code)
	}
}

// TestUniversalKeyKeepsItsRoles: a key bound to no user acts with its own
// roles also where the policy has WordPress users.
func TestUniversalKeyKeepsItsRoles(t *testing.T) {
	w := newUsersWorld(t)
	d := w.engine.Check(context.Background(), &authz.Request{Method: "POST", Host: "localhost", Target: "/wp-json/wp/v2/posts",
		Headers: map[string]string{"x-api-key": w.shopKey}})
	if !d.Allowed {
		t.Fatalf("universal editor key: %d %q, want allowed", d.Status, d.Code)
	}
}

// TestTooManyAttemptsRetryAfterRoundsUp: Retry-After is the wait in whole
// seconds rounded up, and at least 1.
func TestTooManyAttemptsRetryAfterRoundsUp(t *testing.T) {
	for wait, want := range map[time.Duration]string{
		0: "1", time.Nanosecond: "1", time.Second: "1", time.Second + time.Nanosecond: "2",
		1500 * time.Millisecond: "2", 90 * time.Second: "90", -time.Second: "1",
	} {
		d := authz.TooManyAttempts(wait)
		if d.Status != 429 || d.Code != "wpauthz_too_many_attempts" || !hasHeader(d.ResponseHeaders, "Retry-After", "") {
			t.Fatalf("TooManyAttempts(%v): %d %q %v", wait, d.Status, d.Code, d.ResponseHeaders)
		}
		for _, h := range d.ResponseHeaders {
			if h.Name == "Retry-After" && h.Value != want {
				t.Errorf("TooManyAttempts(%v): Retry-After %s, want %s", wait, h.Value, want)
			}
		}
	}
}
