package controller

import (
	"fmt"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wpauthz/wpauthz/api/v1alpha1"
	"github.com/wpauthz/wpauthz/authz/policy"
)

// TestLastGoodCopyRoundTrip: a copy decodes to the version it was made
// from, compiles to the same snapshot, keeps only the Secret keys the
// compile reads, and a copy whose object is not the one its labels name is
// refused.
func TestLastGoodCopyRoundTrip(t *testing.T) {
	created := metav1.Date(2026, 1, 2, 3, 4, 5, 0, metav1.Now().Location())
	pol := testPolicy("shop", "site", "shop.example.com", "jwt")
	pol.UID, pol.Generation, pol.CreationTimestamp = "u-1", 4, created
	pol.Labels = map[string]string{"team": "web"}
	pol.Spec.Identity.SigningKeySecretRef = &v1alpha1.SecretKeySelector{Name: "id", Key: "seed"}
	secrets := []*corev1.Secret{
		secret("shop", "jwt", map[string]string{"a": hs256KeyA, "b": hs256KeyB}),
		secret("shop", "id", map[string]string{"seed": string(processIdentityKey.Seed()), "other": "not read"}),
		secret("shop", "unrelated", map[string]string{"x": "y"}),
	}
	k := objKey{Kind: kindPolicy, Namespace: "shop", Name: "site"}
	g := newGood(k, pol.UID, pol.Generation, "sig", policyKind, pol, minimalSecrets(pol, secrets))
	if len(g.srcSecrets) != 2 {
		t.Fatalf("%d Secrets kept, want jwt and id", len(g.srcSecrets))
	}
	for _, s := range g.srcSecrets {
		if _, ok := s.Data["other"]; ok {
			t.Fatalf("Secret %s keeps a key no selector reads", s.Name)
		}
		if s.Name == "jwt" && len(s.Data) != 2 {
			t.Fatalf("the JWT keys Secret is named whole, but %d keys are kept", len(s.Data))
		}
	}

	cp, err := encodeLastGood(k, g, "wpauthz")
	if err != nil {
		t.Fatal(err)
	}
	k2, g2, err := decodeLastGood(cp)
	if err != nil {
		t.Fatal(err)
	}
	back := g2.srcObj.(*v1alpha1.WPApiPolicy)
	if k2 != k || g2.uid != "u-1" || g2.generation != 4 || g2.sig != "sig" || !back.CreationTimestamp.Equal(&created) || back.Labels != nil {
		t.Fatalf("decoded %s uid %s generation %d sig %q created %s labels %v", k2, g2.uid, g2.generation, g2.sig, back.CreationTimestamp, back.Labels)
	}
	if !equality.Semantic.DeepEqual(back.Spec, pol.Spec) || !equality.Semantic.DeepEqual(g2.secrets, g.secrets) {
		t.Fatal("the decoded version differs from the one encoded")
	}
	compile := func(g *good) []string {
		b := policy.Bundle{Policies: []v1alpha1.WPApiPolicy{*g.obj.(*v1alpha1.WPApiPolicy)}}
		for _, s := range g.secrets {
			b.Secrets = append(b.Secrets, *s)
		}
		snap, problems := policy.Compile(b, policy.Options{})
		if len(problems) != 0 {
			t.Fatalf("problems: %v", problems)
		}
		var out []string
		for _, p := range snap.Policies() {
			out = append(out, fmt.Sprintf("%s/%s generation %d hosts %v", p.Namespace, p.Name, p.Generation, p.Hosts))
		}
		return out
	}
	if a, b := compile(g), compile(g2); len(a) != 1 || !slices.Equal(a, b) {
		t.Fatalf("compiled %v from the version, %v from its copy", a, b)
	}

	// Edited by hand: another UID in the object than in the labels.
	forged := cp.DeepCopy()
	forged.Labels[LabelLastGoodUID] = "u-2"
	if _, _, err := decodeLastGood(forged); err == nil {
		t.Fatal("a copy whose labels name another UID was accepted")
	}
	forged = cp.DeepCopy()
	forged.Name = lastGoodSecretName(objKey{Kind: kindPolicy, Namespace: "shop", Name: "other"})
	if _, _, err := decodeLastGood(forged); err == nil {
		t.Fatal("a copy under another resource's name was accepted")
	}
}
