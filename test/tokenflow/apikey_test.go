package tokenflow

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wpauthz/wpauthz/api/v1alpha1"
	"github.com/wpauthz/wpauthz/authz/apikey"
	"github.com/wpauthz/wpauthz/authz/policy"
)

// A user-specific key acts as the user as WordPress knows them now: the
// roles come from the user directory, not from the key's spec.roles (which
// only stand in where the policy has no directory).
func TestUserKeyTakesRolesFromWordPress(t *testing.T) {
	keys := map[string]string{}
	addKey := func(b *policy.Bundle, name string, user v1alpha1.UserReference, roles ...v1alpha1.Role) {
		k, err := apikey.Generate()
		if err != nil {
			t.Fatal(err)
		}
		keys[name] = k
		b.APIKeys = append(b.APIKeys, v1alpha1.ApiKey{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
			Spec: v1alpha1.ApiKeySpec{PolicyRef: v1alpha1.PolicyReference{Name: "local"}, User: &user, Roles: roles,
				SecretRef: &v1alpha1.SecretKeySelector{Name: name + "-key", Key: "key"}},
		})
		b.Secrets = append(b.Secrets, corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: name + "-key", Namespace: "default"},
			Data:       map[string][]byte{"key": []byte(k)},
		})
	}
	e := newEnv(t, func(b *policy.Bundle) {
		// sam is a subscriber in WordPress; the key claims more.
		addKey(b, "sam-key", v1alpha1.UserReference{ID: 3}, "editor")
		// jane is an editor; the key names her by login and no roles.
		addKey(b, "jane-by-login", v1alpha1.UserReference{Login: "jane"})
		addKey(b, "ghost-key", v1alpha1.UserReference{ID: 99}, "editor")
	})
	key := func(name string) map[string]string { return map[string]string{"X-API-Key": keys[name]} }

	expect(t, "subscriber's key claiming editor, on an editors-only route", e.check("POST", "/wp-json/wp/v2/posts", key("sam-key")), 403, "rest_forbidden")
	expect(t, "subscriber's key on an authenticated route", e.check("GET", "/wp-json/wp/v2/media", key("sam-key")), 200, "")
	expect(t, "editor's key without spec.roles, on an editors-only route", e.check("POST", "/wp-json/wp/v2/posts", key("jane-by-login")), 200, "")
	expect(t, "key of a user WordPress does not have", e.check("GET", "/wp-json/wp/v2/media", key("ghost-key")), 401, "wpauthz_invalid_api_key")
}
