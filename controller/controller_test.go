package controller

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/wpauthz/wpauthz/api/v1alpha1"
	"github.com/wpauthz/wpauthz/authz/apikey"
	"github.com/wpauthz/wpauthz/authz/jwtauth"
)

const (
	hs256KeyA = "0123456789abcdef0123456789abcdef-key-A"
	hs256KeyB = "fedcba9876543210fedcba9876543210-key-B"
)

// mint returns a token for user 2 (an editor) signed with one HS256 key.
func mint(t *testing.T, host, kid, material string) string {
	t.Helper()
	v, err := jwtauth.New(jwtauth.Config{Issuer: "https://" + host + "/wp-json", Algorithm: "HS256", Keys: []jwtauth.Key{{ID: kid, Material: []byte(material)}}})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := v.Mint(jwtauth.Claims{Subject: "2", UserID: 2, Login: "jane", Roles: []string{"editor"}}, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func newKey(t *testing.T) string {
	t.Helper()
	k, err := apikey.Generate()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestApplyPolicyChangesDecisions: a policy, a rule change, a JWT
// signing-key rotation and an ApiKey's life (disable, expire, delete), each
// seen in the engine's decisions; status and Events follow.
func TestApplyPolicyChangesDecisions(t *testing.T) {
	needEnv(t)
	t.Parallel()
	ns := newNamespace(t)
	host := ns + ".example.com"
	r := startManager(t, []string{ns}, managerOptions{})
	e := r.engine

	posts, users, write := get(host, "/wp-json/wp/v2/posts"), get(host, "/wp-json/wp/v2/users/1"), req("POST", host, "/wp-json/wp/v2/posts")
	mustStatus(t, e, posts, 403) // no policy for the host yet

	create(t, secret(ns, "jwt", map[string]string{"a": hs256KeyA}))
	pol := testPolicy(ns, "shop", host, "jwt")
	create(t, pol)
	wantStatus(t, e, posts, 200)
	mustStatus(t, e, users, 404)
	mustStatus(t, e, write, 401)
	wantCondition(t, pol, v1alpha1.ConditionAccepted, metav1.ConditionTrue, v1alpha1.ReasonCompiled)
	wantCondition(t, pol, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonEnforced)

	// Change a rule: posts are disabled now.
	update(t, pol, func(p *v1alpha1.WPApiPolicy) {
		p.Spec.Rules[0].Action = v1alpha1.ActionDeny
		p.Spec.Rules[0].Methods = nil
	})
	wantStatus(t, e, posts, 404)
	wantCondition(t, pol, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonEnforced)

	// JWT signing-key rotation through the Secret.
	tokA, tokB := mint(t, host, "a", hs256KeyA), mint(t, host, "b", hs256KeyB)
	bearer := func(tok string) request {
		return req("POST", host, "/wp-json/wp/v2/pages", "Authorization", "Bearer "+tok)
	}
	wantStatus(t, e, bearer(tokA), 200)
	mustStatus(t, e, bearer(tokB), 401)
	update(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "jwt"}}, func(s *corev1.Secret) {
		s.Data = map[string][]byte{"b": []byte(hs256KeyB)}
	})
	wantStatus(t, e, bearer(tokB), 200)
	mustStatus(t, e, bearer(tokA), 401)

	// An ApiKey: works, disabled, enabled, expired, deleted.
	key := newKey(t)
	create(t, secret(ns, "erp-key", map[string]string{"key": key}))
	ak := testAPIKey(ns, "erp", "shop", "erp-key", "shop_manager")
	create(t, ak)
	withKey := req("POST", host, "/wp-json/wc/v3/orders", "X-API-Key", key)
	wantStatus(t, e, withKey, 200)
	wantCondition(t, ak, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonEnforced)
	if ak.Status.Fingerprint != apikey.Sum(key).Fingerprint() {
		t.Fatalf("fingerprint %q, want %q", ak.Status.Fingerprint, apikey.Sum(key).Fingerprint())
	}

	update(t, ak, func(k *v1alpha1.ApiKey) { k.Spec.Disabled = true })
	wantStatus(t, e, withKey, 401)
	wantCondition(t, ak, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonDisabled)
	update(t, ak, func(k *v1alpha1.ApiKey) { k.Spec.Disabled = false })
	wantStatus(t, e, withKey, 200)
	past := metav1.NewTime(time.Now().Add(-time.Minute))
	update(t, ak, func(k *v1alpha1.ApiKey) { k.Spec.ExpiresAt = &past })
	wantStatus(t, e, withKey, 401)
	wantCondition(t, ak, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonExpired)
	update(t, ak, func(k *v1alpha1.ApiKey) { k.Spec.ExpiresAt = nil })
	wantStatus(t, e, withKey, 200)
	del(t, ak)
	wantStatus(t, e, withKey, 401)

	// Events name what happened, never the key.
	eventually(t, waitFor, func() error {
		var list eventsv1.EventList
		if err := k8s.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
			return err
		}
		var reasons []string
		for _, ev := range list.Items {
			if strings.Contains(ev.Note, key) || strings.Contains(ev.Note, hs256KeyA) || strings.Contains(ev.Note, hs256KeyB) {
				t.Fatalf("event %s/%s quotes secret material: %s", ev.Reason, ev.Regarding.Name, ev.Note)
			}
			reasons = append(reasons, ev.Regarding.Kind+"/"+ev.Regarding.Name+":"+ev.Reason)
		}
		for _, want := range []string{"WPApiPolicy/shop:Enforced", "ApiKey/erp:Disabled", "ApiKey/erp:Expired"} {
			if !slices.Contains(reasons, want) {
				return fmt.Errorf("no event %s in %v", want, reasons)
			}
		}
		return nil
	})
}

// TestApplyToEnforcedDelay measures, over 50 rule changes, the time from
// the API server accepting a change to the engine deciding by it. It
// reports the numbers; it asserts only that every change is enforced.
func TestApplyToEnforcedDelay(t *testing.T) {
	needEnv(t)
	t.Parallel()
	ns := newNamespace(t)
	host := ns + ".example.com"
	r := startManager(t, []string{ns}, managerOptions{})
	pol := testPolicy(ns, "p", host, "")
	create(t, pol)
	posts := get(host, "/wp-json/wp/v2/posts")
	wantStatus(t, r.engine, posts, 200)

	const changes = 50
	delays := make([]time.Duration, 0, changes)
	for i := range changes {
		action, want := v1alpha1.ActionDeny, 404
		if i%2 == 1 {
			action, want = v1alpha1.ActionAllow, 200
		}
		update(t, pol, func(p *v1alpha1.WPApiPolicy) { p.Spec.Rules[0].Action = action })
		applied := time.Now()
		deadline := applied.Add(waitFor)
		for {
			if got, _ := decide(r.engine, posts); got == want {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("change %d not enforced within %s", i, waitFor)
			}
			time.Sleep(200 * time.Microsecond)
		}
		delays = append(delays, time.Since(applied))
	}
	slices.Sort(delays)
	p := func(q float64) time.Duration { return delays[int(q*float64(len(delays)-1)+0.5)] }
	t.Logf("apply-to-enforced over %d changes: p50 %s, p90 %s, p99 %s, max %s",
		changes, p(0.50).Round(time.Microsecond), p(0.90).Round(time.Microsecond), p(0.99).Round(time.Microsecond), delays[len(delays)-1].Round(time.Microsecond))
}

// TestInvalidResourcesKeepLastGood: refused changes get the right
// conditions while the last good version keeps serving.
func TestInvalidResourcesKeepLastGood(t *testing.T) {
	needEnv(t)
	t.Parallel()
	ns := newNamespace(t)
	host := ns + ".example.com"
	r := startManager(t, []string{ns}, managerOptions{})
	e := r.engine
	posts := get(host, "/wp-json/wp/v2/posts")

	create(t, secret(ns, "jwt", map[string]string{"a": hs256KeyA}))
	pol := testPolicy(ns, "shop", host, "jwt")
	create(t, pol)
	wantStatus(t, e, posts, 200)
	key := newKey(t)
	create(t, secret(ns, "k", map[string]string{"key": key}), testAPIKey(ns, "k", "shop", "k", "shop_manager"))
	withKey := req("POST", host, "/wp-json/wc/v3/orders", "X-API-Key", key)
	wantStatus(t, e, withKey, 200)
	tokA := mint(t, host, "a", hs256KeyA)
	bearer := req("POST", host, "/wp-json/wp/v2/pages", "Authorization", "Bearer "+tokA)
	mustStatus(t, e, bearer, 200)

	// InvalidRule: the API key header may not be the credential header.
	// The change also disables posts, which must not take effect.
	update(t, pol, func(p *v1alpha1.WPApiPolicy) {
		p.Spec.Rules[0].Action, p.Spec.Rules[0].Methods = v1alpha1.ActionDeny, nil
		p.Spec.Authentication.APIKeys.Header = "Authorization"
	})
	wantCondition(t, pol, v1alpha1.ConditionAccepted, metav1.ConditionFalse, v1alpha1.ReasonInvalidRule)
	c := wantCondition(t, pol, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonInvalidRule)
	if !strings.Contains(c.Message, "generation 1") {
		t.Errorf("Ready message does not name the generation in force: %s", c.Message)
	}
	// The status was written after the compile that refused generation 2:
	// the engine decides by generation 1 now.
	mustStatus(t, e, posts, 200)
	mustStatus(t, e, withKey, 200)
	wantCondition(t, testAPIKey(ns, "k", "", ""), v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonEnforced)

	// SecretNotFound: generation 3 names a keys Secret that does not exist
	// yet; creating it brings generation 3 in.
	update(t, pol, func(p *v1alpha1.WPApiPolicy) {
		p.Spec.Authentication.APIKeys.Header = ""
		p.Spec.Authentication.JWT.KeysSecretRef.Name = "jwt2"
	})
	wantCondition(t, pol, v1alpha1.ConditionAccepted, metav1.ConditionFalse, v1alpha1.ReasonSecretNotFound)
	mustStatus(t, e, posts, 200)
	create(t, secret(ns, "jwt2", map[string]string{"a": hs256KeyA}))
	wantStatus(t, e, posts, 404)
	wantCondition(t, pol, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonEnforced)

	// InvalidKey through a Secret change alone: an HS256 key too short.
	// The old key keeps verifying.
	update(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "jwt2"}}, func(s *corev1.Secret) {
		s.Data = map[string][]byte{"a": []byte("short")}
	})
	wantCondition(t, pol, v1alpha1.ConditionAccepted, metav1.ConditionFalse, v1alpha1.ReasonInvalidKey)
	mustStatus(t, e, bearer, 200)

	// An ApiKey whose Secret now holds a broken key: InvalidKey, and the
	// last good key still works.
	update(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "k"}}, func(s *corev1.Secret) {
		s.Data = map[string][]byte{"key": []byte("wpk_tooshort")}
	})
	ak := testAPIKey(ns, "k", "", "")
	wantCondition(t, ak, v1alpha1.ConditionAccepted, metav1.ConditionFalse, v1alpha1.ReasonInvalidKey)
	mustStatus(t, e, withKey, 200)
	if ak.Status.Fingerprint != apikey.Sum(key).Fingerprint() {
		t.Errorf("fingerprint %q, want the key in force %q", ak.Status.Fingerprint, apikey.Sum(key).Fingerprint())
	}

	// A new ApiKey of a policy that does not exist, and a new OAuthClient
	// whose Secret is missing: nothing to fall back to.
	orphan := testAPIKey(ns, "orphan", "nope", "k", "editor")
	create(t, orphan)
	wantCondition(t, orphan, v1alpha1.ConditionAccepted, metav1.ConditionFalse, v1alpha1.ReasonPolicyNotFound)
	wantCondition(t, orphan, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonPolicyNotFound)
	oc := &v1alpha1.OAuthClient{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "app"},
		Spec: v1alpha1.OAuthClientSpec{PolicyRef: v1alpha1.PolicyReference{Name: "shop"}, ClientID: "app",
			SecretRef: v1alpha1.SecretKeySelector{Name: "app-oauth", Key: "secret"}, Grants: []v1alpha1.GrantType{"password"}},
	}
	create(t, oc)
	wantCondition(t, oc, v1alpha1.ConditionAccepted, metav1.ConditionFalse, v1alpha1.ReasonSecretNotFound)
	create(t, secret(ns, "app-oauth", map[string]string{"secret": "s3cr3t-s3cr3t"}))
	wantCondition(t, oc, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonEnforced)

	// Repairing the key Secret brings the ApiKey back to Ready.
	key2 := newKey(t)
	update(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "k"}}, func(s *corev1.Secret) {
		s.Data = map[string][]byte{"key": []byte(key2)}
	})
	wantStatus(t, e, req("POST", host, "/wp-json/wc/v3/orders", "X-API-Key", key2), 200)
	mustStatus(t, e, withKey, 401)
	wantCondition(t, ak, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonEnforced)
}

// TestHostConflict: the older policy keeps a contested host; the newer one
// is HostConflict and takes over when the older goes away.
func TestHostConflict(t *testing.T) {
	needEnv(t)
	t.Parallel()
	ns := newNamespace(t)
	host := ns + ".example.com"
	r := startManager(t, []string{ns}, managerOptions{})
	posts := get(host, "/wp-json/wp/v2/posts")

	older := testPolicy(ns, "older", host, "")
	create(t, older)
	wantStatus(t, r.engine, posts, 200)
	// Creation timestamps have a resolution of one second.
	eventually(t, 3*time.Second, func() error {
		if time.Since(older.CreationTimestamp.Time) <= time.Second {
			return errNotYet
		}
		return nil
	})
	newer := testPolicy(ns, "newer", "*."+strings.SplitN(host, ".", 2)[1], "")
	newer.Spec.Hosts = append(newer.Spec.Hosts, v1alpha1.Host(host))
	newer.Spec.Rules[0].Action, newer.Spec.Rules[0].Methods = v1alpha1.ActionDeny, nil
	create(t, newer)
	c := wantCondition(t, newer, v1alpha1.ConditionAccepted, metav1.ConditionFalse, v1alpha1.ReasonHostConflict)
	if !strings.Contains(c.Message, ns+"/older") {
		t.Errorf("HostConflict message does not name the owner: %s", c.Message)
	}
	wantCondition(t, newer, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonHostConflict)
	wantCondition(t, older, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonEnforced)
	mustStatus(t, r.engine, posts, 200)

	del(t, older)
	wantStatus(t, r.engine, posts, 404)
	wantCondition(t, newer, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonEnforced)
	// The wildcard host is newer's too.
	mustStatus(t, r.engine, get("other."+strings.SplitN(host, ".", 2)[1], "/wp-json/wp/v2/posts"), 404)
}

// TestGeneratedAPIKey: an ApiKey without secretRef gets a generated key in
// a Secret it owns; the key authenticates; deleting the Secret rotates it.
func TestGeneratedAPIKey(t *testing.T) {
	needEnv(t)
	t.Parallel()
	ns := newNamespace(t)
	host := ns + ".example.com"
	r := startManager(t, []string{ns}, managerOptions{})
	create(t, testPolicy(ns, "shop", host, ""))
	ak := testAPIKey(ns, "robot", "shop", "", "shop_manager")
	create(t, ak)

	readKey := func(notKey string) (string, *corev1.Secret) {
		var key string
		s := &corev1.Secret{}
		eventually(t, waitFor, func() error {
			if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: GeneratedSecretName("robot")}, s); err != nil {
				return err
			}
			key = string(s.Data[GeneratedSecretKey])
			if key == notKey {
				return fmt.Errorf("key not rotated yet")
			}
			return nil
		})
		if !strings.HasPrefix(key, apikey.Prefix) || !apikey.ValidChecksum(key) {
			t.Fatalf("generated key has the wrong shape (length %d)", len(key))
		}
		if !metav1.IsControlledBy(s, ak) {
			t.Fatalf("generated Secret is not controlled by the ApiKey: %+v", s.OwnerReferences)
		}
		return key, s
	}
	key1, _ := readKey("")
	orders := func(k string) request { return req("GET", host, "/wp-json/wc/v3/orders", "Authorization", "ApiKey "+k) }
	wantStatus(t, r.engine, orders(key1), 200)
	eventually(t, waitFor, func() error {
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(ak), ak); err != nil {
			return err
		}
		if ak.Status.Fingerprint != apikey.Sum(key1).Fingerprint() {
			return fmt.Errorf("fingerprint %q, want %q", ak.Status.Fingerprint, apikey.Sum(key1).Fingerprint())
		}
		return nil
	})
	wantCondition(t, ak, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonEnforced)

	// Rotate: delete the Secret.
	del(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: GeneratedSecretName("robot")}})
	key2, _ := readKey(key1)
	wantStatus(t, r.engine, orders(key2), 200)
	mustStatus(t, r.engine, orders(key1), 401)
	eventually(t, waitFor, func() error {
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(ak), ak); err != nil {
			return err
		}
		if ak.Status.Fingerprint != apikey.Sum(key2).Fingerprint() {
			return fmt.Errorf("fingerprint %q, want %q", ak.Status.Fingerprint, apikey.Sum(key2).Fingerprint())
		}
		return nil
	})

	// A Secret under the generated name that the ApiKey does not own is
	// never read.
	foreignKey := newKey(t)
	create(t, secret(ns, GeneratedSecretName("squatted"), map[string]string{GeneratedSecretKey: foreignKey}))
	sq := testAPIKey(ns, "squatted", "shop", "", "administrator")
	create(t, sq)
	// Until the Secret reaches the manager's cache the reason is the same
	// with a "not found" message; wait for the one that names ownership.
	eventually(t, waitFor, func() error {
		c := wantCondition(t, sq, v1alpha1.ConditionAccepted, metav1.ConditionFalse, v1alpha1.ReasonSecretNotFound)
		if !strings.Contains(c.Message, "not owned") {
			return fmt.Errorf("message: %s", c.Message)
		}
		return nil
	})
	mustStatus(t, r.engine, orders(foreignKey), 401)
}

// TestTwoReplicas: two managers against one API server both serve the
// same decisions; only the leader writes status; when it stops, the other
// takes over writing.
func TestTwoReplicas(t *testing.T) {
	needEnv(t)
	t.Parallel()
	ns := newNamespace(t)
	host := ns + ".example.com"
	a := startManager(t, []string{ns}, managerOptions{name: "wpauthz-a"})
	eventually(t, waitFor, func() error {
		if !a.isLeader() {
			return fmt.Errorf("a is not leader yet")
		}
		return nil
	})
	b := startManager(t, []string{ns}, managerOptions{name: "wpauthz-b"})

	pol := testPolicy(ns, "shop", host, "")
	create(t, pol)
	posts := get(host, "/wp-json/wp/v2/posts")
	for _, rep := range []*testManager{a, b} {
		wantStatus(t, rep.engine, posts, 200)
	}
	wantCondition(t, pol, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonEnforced)
	update(t, pol, func(p *v1alpha1.WPApiPolicy) {
		p.Spec.Rules[0].Action, p.Spec.Rules[0].Methods = v1alpha1.ActionDeny, nil
	})
	for _, rep := range []*testManager{a, b} {
		wantStatus(t, rep.engine, posts, 404)
	}
	for _, q := range []request{get(host, "/wp-json/wp/v2/users/1"), get(host, "/?rest_route=/wp/v2/posts"), req("POST", host, "/wp-json/x")} {
		sa, ca := decide(a.engine, q)
		sb, cb := decide(b.engine, q)
		if sa != sb || ca != cb {
			t.Errorf("%s: replica a says %d %s, b says %d %s", q, sa, ca, sb, cb)
		}
	}
	wantCondition(t, pol, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonEnforced)
	if b.isLeader() {
		t.Fatal("both replicas are leaders")
	}
	if w := b.ctl.Stats().StatusWrites; w != 0 {
		t.Fatalf("the follower wrote status %d times", w)
	}
	if a.ctl.Stats().StatusWrites == 0 {
		t.Fatal("the leader wrote no status")
	}
	if owners := statusOwners(t, pol); !slices.Equal(owners, []string{"wpauthz-a"}) {
		t.Fatalf("status written by %v, want only wpauthz-a", owners)
	}

	// The leader goes away (releasing its Lease); b takes over writing.
	a.stop()
	eventually(t, waitFor, func() error {
		if !b.isLeader() {
			return fmt.Errorf("b is not leader yet")
		}
		return nil
	})
	update(t, pol, func(p *v1alpha1.WPApiPolicy) { p.Spec.Rules[0].Action = v1alpha1.ActionAllow })
	wantStatus(t, b.engine, posts, 200)
	wantCondition(t, pol, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonEnforced)
	// The counter moves just after the write the condition shows.
	eventually(t, waitFor, func() error {
		if b.ctl.Stats().StatusWrites == 0 {
			return fmt.Errorf("the new leader wrote no status; status written by %v", statusOwners(t, pol))
		}
		return nil
	})
}

// statusOwners lists the field managers of obj's status.
func statusOwners(t *testing.T, obj client.Object) []string {
	t.Helper()
	if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
		t.Fatal(err)
	}
	var owners []string
	for _, mf := range obj.GetManagedFields() {
		if mf.Subresource == "status" && !slices.Contains(owners, mf.Manager) {
			owners = append(owners, mf.Manager)
		}
	}
	slices.Sort(owners)
	return owners
}

// TestStatusWrittenOnlyWhenChanged: a reconcile that changes nothing does
// not write, and conditions keep their transition times.
func TestStatusWrittenOnlyWhenChanged(t *testing.T) {
	needEnv(t)
	t.Parallel()
	ns := newNamespace(t)
	r := startManager(t, []string{ns}, managerOptions{})
	pol := testPolicy(ns, "p", ns+".example.com", "")
	create(t, pol)
	c1 := wantCondition(t, pol, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonEnforced)
	eventually(t, waitFor, func() error {
		if r.ctl.Stats().StatusWrites == 0 {
			return errNotYet
		}
		return nil
	})
	writes := r.ctl.Stats().StatusWrites
	// An unrelated Secret change and a label change: nothing to write.
	create(t, secret(ns, "unrelated", map[string]string{"x": "y"}))
	// (A merge patch: a typed Update would also rewrite defaulted
	// durations such as "15m" as "15m0s", a spec change.)
	gen := pol.Generation
	if err := k8s.Patch(context.Background(), pol, client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"labels":{"team":"web"}}}`))); err != nil {
		t.Fatal(err)
	}
	if pol.Generation != gen {
		t.Fatalf("a label change moved the generation from %d to %d", gen, pol.Generation)
	}
	// A change that matters, to know the reconciles above have run.
	update(t, pol, func(p *v1alpha1.WPApiPolicy) { p.Spec.DefaultAction = v1alpha1.ActionAllow })
	wantStatus(t, r.engine, req("POST", ns+".example.com", "/wp-json/x"), 200)
	c2 := wantCondition(t, pol, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonEnforced)
	// The counter moves just after the write the condition shows.
	eventually(t, waitFor, func() error {
		if got := r.ctl.Stats().StatusWrites - writes; got != 1 {
			return fmt.Errorf("%d status writes for one generation change, want 1", got)
		}
		return nil
	})
	if !c1.LastTransitionTime.Equal(&c2.LastTransitionTime) {
		t.Errorf("Ready's transition time moved without a transition: %s -> %s", c1.LastTransitionTime, c2.LastTransitionTime)
	}
}
