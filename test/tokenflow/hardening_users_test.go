package tokenflow

import (
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wpauthz/wpauthz/api/v1alpha1"
	"github.com/wpauthz/wpauthz/authz/policy"
	"github.com/wpauthz/wpauthz/test/mariadbtest"
)

// The demo users' hashes (config/samples/local/users.yaml), seeded into
// MariaDB for the database source.
const (
	janeHash    = "$P$BENjqcPbzYDNUxRA8OEPipqowgTNSh/"
	janeAppHash = "$generic$VbqhfQOT_VfaFmt_p27nedVhgUdnEi-dOUZamH4W"
	janeAppUUID = "6f1e2c3a-1b2c-4d5e-8f90-0a1b2c3d4e5f"
)

// newMariaDBEnv is newEnv with the sample policy's users read from a real
// MariaDB holding WordPress's schema (default collation
// utf8mb4_unicode_520_ci) instead of the static users file.
func newMariaDBEnv(t *testing.T) *env {
	t.Helper()
	db := mariadbtest.Start(t)
	db.Exec(t, "INSERT INTO wp_options (option_name, option_value, autoload) VALUES ('using_application_passwords', '1', 'no')")
	for _, u := range []struct {
		id                 int64
		login, email, hash string
	}{{2, "jane", "jane@example.com", janeHash}, {3, "sam", "sam@example.com", janeHash}} {
		db.Exec(t, "INSERT INTO wp_users (ID, user_login, user_pass, user_nicename, user_email, user_registered, display_name) VALUES (?, ?, ?, ?, ?, NOW(), ?)",
			u.id, u.login, u.hash, u.login, u.email, u.login)
		db.Exec(t, "INSERT INTO wp_usermeta (user_id, meta_key, meta_value) VALUES (?, 'wp_capabilities', 'a:1:{s:6:\"editor\";b:1;}')", u.id)
	}
	apps := fmt.Sprintf(`a:1:{i:0;a:3:{s:4:"uuid";s:%d:"%s";s:4:"name";s:6:"laptop";s:8:"password";s:%d:"%s";}}`,
		len(janeAppUUID), janeAppUUID, len(janeAppHash), janeAppHash)
	db.Exec(t, "INSERT INTO wp_usermeta (user_id, meta_key, meta_value) VALUES (2, '_application_passwords', ?)", apps)
	e := newEnv(t, func(b *policy.Bundle) {
		b.Secrets = append(b.Secrets, corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: "wordpress-db", Namespace: "default"},
			Data:       map[string][]byte{"dsn": []byte(db.DSN)},
		})
		for i := range b.Policies {
			if b.Policies[i].Spec.WordPress != nil {
				b.Policies[i].Spec.WordPress = &v1alpha1.WordPressSource{
					DatabaseSecretRef: &v1alpha1.SecretKeySelector{Name: "wordpress-db", Key: "dsn"},
				}
			}
		}
	})
	e.mariadb = true
	return e
}

// The spellings of "jane" that the site's collation finds (the issue's
// list): trailing spaces, case, accents, her email.
var janeVariants = []string{"jane ", "jane  ", "JÄNE", "jáne", "Jâne   ", "jane@example.com", "jane@example.com "}

var addrSeq atomic.Int64

// fresh is a client address never used before, so that only the per-user
// bucket decides.
func fresh() map[string]string {
	n := addrSeq.Add(1)
	return map[string]string{"X-Test-Client": "198.18." + strconv.FormatInt(n/250, 10) + "." + strconv.FormatInt(n%250+1, 10)}
}

func (e *env) loginFrom(user, pass string) resp {
	e.t.Helper()
	return e.do("POST", "/wp-json/api/v1/token", formType, form("username", user, "password", pass), fresh())
}

func (e *env) basicFrom(user, pass string) resp {
	e.t.Helper()
	h := basic(user, pass)
	h["X-Forwarded-For"] = fresh()["X-Test-Client"]
	return e.check("POST", "/wp-json/wp/v2/posts", h)
}

// variantsShareJanesBucket: once jane is blocked, no spelling of her name
// gets another guess, by login or by Basic, and the right password under
// a variant does not log in.
func variantsShareJanesBucket(t *testing.T, e *env) {
	// The collation really finds jane under the variants (before any
	// failure): each logs in with her password.
	for _, v := range janeVariants {
		if r := e.loginFrom(v, janePassword); r.status != 200 {
			t.Fatalf("login as %q with jane's password: %d %s (the directory does not resolve it)", v, r.status, r.body)
		}
	}
	// Blocked through three spellings: login, email login, Basic.
	for i, v := range []string{"jane", "jane", "jane@example.com", "JANE", "Jane"} {
		var r resp
		if i%2 == 0 {
			r = e.loginFrom(v, "wrong-"+strconv.Itoa(i))
		} else {
			r = e.basicFrom(v, "wrong-"+strconv.Itoa(i))
		}
		if r.status != 401 {
			t.Fatalf("failure %d (%q): %d %s", i, v, r.status, r.body)
		}
	}
	expect(t, "jane blocked", e.loginFrom("jane", "wrong"), 429, "wpauthz_too_many_attempts")
	for _, v := range janeVariants {
		expect(t, fmt.Sprintf("login as %q while jane is blocked", v), e.loginFrom(v, "another-guess"), 429, "wpauthz_too_many_attempts")
		expect(t, fmt.Sprintf("basic as %q while jane is blocked", v), e.basicFrom(v, "another-guess"), 429, "wpauthz_too_many_attempts")
	}
	expect(t, "the right password as \"jäne   \" while blocked", e.loginFrom("jäne   ", janePassword), 429, "wpauthz_too_many_attempts")
	// Also a spelling whose right password was verified (and cached)
	// before the block.
	expect(t, "the right password as \"Jâne   \", verified before, while blocked", e.loginFrom("Jâne   ", janePassword), 429, "wpauthz_too_many_attempts")
	expect(t, "the right password as \"jäne   \" by Basic while blocked", e.basicFrom("jäne   ", janePassword), 429, "wpauthz_too_many_attempts")
	// Another user is untouched.
	if r := e.loginFrom("sam", janeOrSam(e)); r.status != 200 {
		t.Fatalf("sam: %d %s", r.status, r.body)
	}
}

// janeOrSam is sam's password in the environment (the MariaDB seed gives
// sam jane's hash).
func janeOrSam(e *env) string {
	if e.mariadb {
		return janePassword
	}
	return samPassword
}

// unknownVariantsShareOneBucket: names that resolve to nobody are folded
// at least as coarsely as the collation, so an unknown user's variants
// share one bucket (and behave as a real user's do).
func unknownVariantsShareOneBucket(t *testing.T, e *env) {
	for i := range 5 {
		expect(t, "unknown user", e.loginFrom("nobody", "guess-"+strconv.Itoa(i)), 401, "")
	}
	for _, v := range []string{"nobody", " nobody", "NOBODY  ", "nöbody", "NÓBÔDY", "nobody\t"} {
		expect(t, fmt.Sprintf("login as %q", v), e.loginFrom(v, "another-guess"), 429, "wpauthz_too_many_attempts")
		expect(t, fmt.Sprintf("basic as %q", v), e.basicFrom(v, "another-guess"), 429, "wpauthz_too_many_attempts")
	}
}

func TestHardening3_VariantsShareTheUsersBucket_Static(t *testing.T) {
	e := newEnv(t, nil)
	variantsShareJanesBucket(t, e)
	unknownVariantsShareOneBucket(t, e)
}

func TestHardening3_VariantsShareTheUsersBucket_MariaDB(t *testing.T) {
	e := newMariaDBEnv(t)
	variantsShareJanesBucket(t, e)
	unknownVariantsShareOneBucket(t, e)
}

// appPasswordFromElsewhere: five wrong passwords for jane from address A
// block her password, but not her application password from address B,
// by login or by Basic; her password stays blocked.
func appPasswordFromElsewhere(t *testing.T, e *env) {
	a := map[string]string{"X-Test-Client": "203.0.113.50"}
	for i := range 5 {
		expect(t, "wrong password from A", e.do("POST", "/wp-json/api/v1/token", formType, form("username", "jane", "password", "wrong-"+strconv.Itoa(i)), a), 401, "")
	}
	b := map[string]string{"X-Test-Client": "203.0.113.51"}
	expect(t, "jane's password from B", e.do("POST", "/wp-json/api/v1/token", formType, form("username", "jane", "password", janePassword), b), 429, "wpauthz_too_many_attempts")
	expect(t, "jane's application password from B", e.do("POST", "/wp-json/api/v1/token", formType, form("username", "jane", "password", janeApp), b), 200, "")
	bh := basic("jane", janeApp)
	bh["X-Forwarded-For"] = "203.0.113.51"
	expect(t, "jane's application password by Basic from B", e.check("POST", "/wp-json/wp/v2/posts", bh), 200, "")
	// A password guess shaped like an application password is not
	// checked against her password while she is blocked.
	expect(t, "an app-password-shaped guess from B", e.do("POST", "/wp-json/api/v1/token", formType, form("username", "jane", "password", "abcdEFGHijklMNOPqrstUVWZ"), b), 401, "")
}

func TestHardening9_AppPasswordNotLockedOut_Static(t *testing.T) {
	appPasswordFromElsewhere(t, newEnv(t, nil))
}

func TestHardening9_AppPasswordNotLockedOut_MariaDB(t *testing.T) {
	appPasswordFromElsewhere(t, newMariaDBEnv(t))
}

// TestHardening9_ClientSecretsPerAddressOnly: an OAuthClient's secret is
// counted per client address only: wrong secrets from A block A, not the
// client from B, and no user's bucket.
func TestHardening9_ClientSecretsPerAddressOnly(t *testing.T) {
	e := newEnv(t, nil)
	from := func(addr, secret string) resp {
		h := basic("reporting-app", secret)
		h["X-Forwarded-For"] = addr
		return e.check("POST", "/wp-json/wp/v2/posts", h)
	}
	for i := range 20 { // maxFailuresPerClient
		expect(t, "wrong client secret from A", from("203.0.113.60", "wrong-"+strconv.Itoa(i)), 401, "")
	}
	expect(t, "the client from A once A is blocked", from("203.0.113.60", clientSecret), 429, "wpauthz_too_many_attempts")
	expect(t, "the client from B", from("203.0.113.61", clientSecret), 200, "")
	// A correct secret gives back nothing it did not take: B can still
	// fail 20 times before it is blocked.
	for i := range 20 {
		expect(t, "wrong client secret from B", from("203.0.113.61", "wrong-"+strconv.Itoa(i)), 401, "")
	}
	expect(t, "B blocked", from("203.0.113.61", "wrong"), 429, "wpauthz_too_many_attempts")
	if r := e.loginFrom("jane", janePassword); r.status != 200 {
		t.Fatalf("jane after the client's failures: %d %s", r.status, r.body)
	}
}
