package controller

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/wpauthz/wpauthz/api/v1alpha1"
)

// TestPoliciesSurviveRestart: the last good version of a refused resource
// is served by a replica restarted after the refusal and by one started
// fresh, and the refused policy keeps its host against a newer policy.
// Refusals come from a spec change (a missing Secret), from a referenced
// Secret changing to bad data, and from an ApiKey's Secret breaking.
func TestPoliciesSurviveRestart(t *testing.T) {
	needEnv(t)
	t.Parallel()
	ns := newNamespace(t)
	sys := newNamespace(t) // the manager's own namespace: Lease and last good copies
	shopHost, blogHost := ns+".example.com", "blog-"+ns+".example.com"
	opts := managerOptions{name: "wpauthz-a", leaseNamespace: sys}
	a := startManager(t, []string{ns}, opts)

	// Generation 1 of shop: posts public; an API key. blog: JWT with key A.
	shop := testPolicy(ns, "shop", shopHost, "")
	blog := testPolicy(ns, "blog", blogHost, "blog-jwt")
	key := newKey(t)
	create(t, shop, secret(ns, "blog-jwt", map[string]string{"a": hs256KeyA}),
		// "note" is not read by the ApiKey: it is not kept.
		secret(ns, "erp-key", map[string]string{"key": key, "note": "unrelated-" + ns}),
		testAPIKey(ns, "erp", "shop", "erp-key", "shop_manager"))
	create(t, blog)
	posts := get(shopHost, "/wp-json/wp/v2/posts")
	withKey := req("POST", shopHost, "/wp-json/wc/v3/orders", "X-API-Key", key)
	bearer := req("POST", blogHost, "/wp-json/wp/v2/pages", "Authorization", "Bearer "+mint(t, blogHost, "a", hs256KeyA))
	wantStatus(t, a.engine, posts, 200)
	wantStatus(t, a.engine, withKey, 200)
	wantStatus(t, a.engine, bearer, 200)
	ak := testAPIKey(ns, "erp", "", "")
	wantCondition(t, shop, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonEnforced)
	wantCondition(t, blog, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonEnforced)
	wantCondition(t, ak, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonEnforced)

	// Refusals: shop generation 2 disables posts and names a Secret that
	// does not exist; blog's Secret gets a key too short; the ApiKey's
	// Secret a broken key.
	update(t, shop, func(p *v1alpha1.WPApiPolicy) {
		p.Spec.Rules[0].Action, p.Spec.Rules[0].Methods = v1alpha1.ActionDeny, nil
		p.Spec.Authentication.JWT = &v1alpha1.JWTAuthentication{Issuer: "https://" + shopHost + "/wp-json", Algorithm: "HS256",
			KeysSecretRef: v1alpha1.SecretReference{Name: "missing"}}
	})
	update(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "blog-jwt"}}, func(s *corev1.Secret) {
		s.Data = map[string][]byte{"a": []byte("short")}
	})
	update(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "erp-key"}}, func(s *corev1.Secret) {
		s.Data["key"] = []byte("wpk_tooshort")
	})
	wantCondition(t, shop, v1alpha1.ConditionAccepted, metav1.ConditionFalse, v1alpha1.ReasonSecretNotFound)
	wantCondition(t, blog, v1alpha1.ConditionAccepted, metav1.ConditionFalse, v1alpha1.ReasonInvalidKey)
	wantCondition(t, ak, v1alpha1.ConditionAccepted, metav1.ConditionFalse, v1alpha1.ReasonInvalidKey)

	// A newer policy claims shop's host: HostConflict while shop's last
	// good version holds it.
	eventually(t, 3*time.Second, func() error { // creation timestamps have a resolution of one second
		if time.Since(shop.CreationTimestamp.Time) <= time.Second {
			return errNotYet
		}
		return nil
	})
	newer := testPolicy(ns, "newer", shopHost, "")
	newer.Spec.Rules[0].Action, newer.Spec.Rules[0].Methods = v1alpha1.ActionDeny, nil
	create(t, newer)
	wantCondition(t, newer, v1alpha1.ConditionAccepted, metav1.ConditionFalse, v1alpha1.ReasonHostConflict)

	lastGood := func(name string, tm *testManager) {
		t.Helper()
		mustStatus(t, tm.engine, posts, 200)   // shop generation 1, not 2 and not newer
		mustStatus(t, tm.engine, withKey, 200) // the key as it was
		mustStatus(t, tm.engine, bearer, 200)  // blog's key as it was
		for _, k := range []objKey{{kindPolicy, ns, "shop"}, {kindPolicy, ns, "blog"}, {kindAPIKey, ns, "erp"}} {
			r, ok := tm.ctl.compiler.result(k)
			if !ok || !r.LastGood || r.InForceGeneration != 1 {
				t.Errorf("%s: %s: %+v, want its last good generation 1 in force", name, k, r)
			}
		}
		if r, _ := tm.ctl.compiler.result(objKey{kindPolicy, ns, "newer"}); r.Problem == nil || r.Problem.Reason != v1alpha1.ReasonHostConflict {
			t.Errorf("%s: newer: %+v, want HostConflict", name, r)
		}
	}
	lastGood("before the restart", a)
	wantCopies(t, sys, 3) // the leader has written them

	// Restart: a stops; a' starts with nothing in memory; b starts fresh
	// beside it.
	a.stop()
	a2 := startManager(t, []string{ns}, opts)
	lastGood("restarted", a2)
	b := startManager(t, []string{ns}, managerOptions{name: "wpauthz-b", leaseNamespace: sys})
	lastGood("started fresh", b)
	eventually(t, waitFor, func() error {
		if !a2.isLeader() && !b.isLeader() {
			return fmt.Errorf("no leader yet")
		}
		return nil
	})
	// The leader's status still says why.
	wantCondition(t, newer, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonHostConflict)
	c := wantCondition(t, shop, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonSecretNotFound)
	if !strings.Contains(c.Message, "generation 1") {
		t.Errorf("shop's Ready message does not name the generation in force: %s", c.Message)
	}

	// The copies in the manager's namespace: one per resource, labelled,
	// holding only what the compile read.
	var copies corev1.SecretList
	if err := k8s.List(context.Background(), &copies, client.InNamespace(sys), client.HasLabels{LabelLastGoodKind}); err != nil {
		t.Fatal(err)
	}
	if len(copies.Items) != 3 {
		t.Fatalf("%d last good copies in %s, want 3", len(copies.Items), sys)
	}
	for _, s := range copies.Items {
		if s.Labels[LabelLastGoodNamespace] != ns || s.Labels[LabelLastGoodGeneration] != "1" || s.Labels[LabelLastGoodUID] == "" {
			t.Errorf("copy %s: labels %v", s.Name, s.Labels)
		}
		for k, v := range s.Data {
			if strings.Contains(string(v), "unrelated-"+ns) {
				t.Errorf("copy %s key %s keeps Secret data the compile did not read", s.Name, k)
			}
		}
	}

	// Repairing shop brings in generation 3 everywhere; the copies follow.
	update(t, shop, func(p *v1alpha1.WPApiPolicy) { p.Spec.Authentication.JWT = nil })
	for _, tm := range []*testManager{a2, b} {
		wantStatus(t, tm.engine, posts, 404)
	}

	// Deleting a resource deletes its copy: blog while the managers run,
	// the ApiKey while none runs (a starting leader sweeps). A copy deleted
	// by hand is written again by the next leader.
	del(t, blog)
	wantCopies(t, sys, 2)
	shopCopy := lastGoodSecretName(objKey{kindPolicy, ns, "shop"})
	eventually(t, waitFor, func() error {
		var s corev1.Secret
		if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: sys, Name: shopCopy}, &s); err != nil {
			return err
		}
		if g := s.Labels[LabelLastGoodGeneration]; g != "3" {
			return fmt.Errorf("shop's copy is of generation %s, want 3", g)
		}
		return nil
	})
	a2.stop()
	b.stop()
	del(t, ak, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: sys, Name: shopCopy}})
	startManager(t, []string{ns}, opts)
	eventually(t, waitFor, func() error {
		return k8s.Get(context.Background(), client.ObjectKey{Namespace: sys, Name: shopCopy}, &corev1.Secret{})
	})
	wantCopies(t, sys, 1) // shop's, written again; the ApiKey's, swept
}

func wantCopies(t *testing.T, ns string, want int) {
	t.Helper()
	eventually(t, waitFor, func() error {
		var copies corev1.SecretList
		if err := k8s.List(context.Background(), &copies, client.InNamespace(ns), client.HasLabels{LabelLastGoodKind}); err != nil {
			return err
		}
		if len(copies.Items) != want {
			return fmt.Errorf("%d last good copies, want %d", len(copies.Items), want)
		}
		return nil
	})
}

// TestReplicasFollowTheLeadersCopy: a running replica that holds an older
// last good version than the leader's copy (it missed a version the
// leader accepted) serves the copy's, as does every other replica.
func TestReplicasFollowTheLeadersCopy(t *testing.T) {
	needEnv(t)
	t.Parallel()
	ns, sys := newNamespace(t), newNamespace(t)
	host := ns + ".example.com"
	a := startManager(t, []string{ns}, managerOptions{name: "wpauthz-a", leaseNamespace: sys})
	b := startManager(t, []string{ns}, managerOptions{name: "wpauthz-b", leaseNamespace: sys})
	shop := testPolicy(ns, "shop", host, "")
	create(t, shop)
	posts := get(host, "/wp-json/wp/v2/posts")
	for _, tm := range []*testManager{a, b} {
		wantStatus(t, tm.engine, posts, 200)
	}
	wantCopies(t, sys, 1)
	update(t, shop, func(p *v1alpha1.WPApiPolicy) {
		p.Spec.Authentication.JWT = &v1alpha1.JWTAuthentication{Issuer: "https://" + host + "/wp-json", Algorithm: "HS256",
			KeysSecretRef: v1alpha1.SecretReference{Name: "missing"}}
	})
	wantCondition(t, shop, v1alpha1.ConditionAccepted, metav1.ConditionFalse, v1alpha1.ReasonSecretNotFound)

	// The copy as a leader would have written it after accepting generation
	// 1 with other Secrets than these replicas saw: posts disabled.
	seen := shop.DeepCopy()
	seen.Generation, seen.Spec.Authentication.JWT = 1, nil
	seen.Spec.Rules[0].Action, seen.Spec.Rules[0].Methods = v1alpha1.ActionDeny, nil
	k := objKey{kindPolicy, ns, "shop"}
	want, err := encodeLastGood(k, newGood(k, shop.UID, 1, "seen-by-the-leader", policyKind, seen, nil), sys)
	if err != nil {
		t.Fatal(err)
	}
	update(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: sys, Name: want.Name}}, func(s *corev1.Secret) {
		s.Labels, s.Annotations, s.Data = want.Labels, want.Annotations, want.Data
	})
	for _, tm := range []*testManager{a, b} {
		wantStatus(t, tm.engine, posts, 404)
	}
}
