package policy

import (
	"crypto/ed25519"
	"crypto/rand"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wpauthz/wpauthz/api/v1alpha1"
)

const usersFile = "users: [{id: 2, login: jane, pass: '$P$BWv3GwTweNCti23DjYf335p9ztpkQj.', roles: [editor]}]"

func wpPolicy(mod func(*v1alpha1.WPApiPolicySpec)) Bundle {
	p := v1alpha1.WPApiPolicy{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"}, Spec: v1alpha1.WPApiPolicySpec{
		Hosts:          []v1alpha1.Host{"example.com"},
		WordPress:      &v1alpha1.WordPressSource{UsersSecretRef: &v1alpha1.SecretKeySelector{Name: "users", Key: "users.yaml"}},
		Authentication: v1alpha1.Authentication{Basic: &v1alpha1.BasicAuthentication{}},
	}}
	if mod != nil {
		mod(&p.Spec)
	}
	return Bundle{Policies: []v1alpha1.WPApiPolicy{p}, Secrets: []corev1.Secret{
		{ObjectMeta: metav1.ObjectMeta{Name: "users", Namespace: "ns"}, Data: map[string][]byte{"users.yaml": []byte(usersFile)}},
		{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "ns"}, Data: map[string][]byte{"dsn": []byte("wpauthz:secret-password@tcp(127.0.0.1:1)/wordpress")}},
	}}
}

func compileWP(t *testing.T, b Bundle) (*Policy, []Problem) {
	t.Helper()
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	snap, problems := Compile(b, Options{IdentityKey: key})
	if len(snap.Policies()) == 0 {
		return nil, problems
	}
	return snap.Policies()[0], problems
}

func TestWordPressAndBasicCompile(t *testing.T) {
	p, problems := compileWP(t, wpPolicy(nil))
	if len(problems) > 0 || p.Users == nil || p.Basic == nil || !p.Basic.Users.Passwords || !p.Basic.Users.AppPasswords || !p.Basic.ClientSecrets {
		t.Fatalf("defaults: %+v %v", p, problems)
	}
	if p.LoginUser.Max != DefaultMaxFailuresUser || p.LoginClient.Max != DefaultMaxFailuresIP || p.LoginUser.Window != DefaultLoginWindow {
		t.Fatalf("throttle defaults: %+v %+v", p.LoginUser, p.LoginClient)
	}
	p, _ = compileWP(t, wpPolicy(func(s *v1alpha1.WPApiPolicySpec) {
		s.Authentication.Basic.Accept = []v1alpha1.BasicCredential{v1alpha1.BasicApplicationPassword}
	}))
	if p.Basic.Users.Passwords || !p.Basic.Users.AppPasswords || p.Basic.ClientSecrets {
		t.Fatalf("application passwords only: %+v", p.Basic)
	}
	// A database DSN compiles without connecting (the database may be down).
	p, problems = compileWP(t, wpPolicy(func(s *v1alpha1.WPApiPolicySpec) {
		s.WordPress = &v1alpha1.WordPressSource{DatabaseSecretRef: &v1alpha1.SecretKeySelector{Name: "db", Key: "dsn"}}
	}))
	if len(problems) > 0 || p.Users == nil {
		t.Fatalf("database source: %v", problems)
	}
}

func TestWordPressCompileProblems(t *testing.T) {
	for name, mod := range map[string]func(*v1alpha1.WPApiPolicySpec){
		"basic passwords without wordpress": func(s *v1alpha1.WPApiPolicySpec) { s.WordPress = nil },
		"missing secret": func(s *v1alpha1.WPApiPolicySpec) {
			s.WordPress.UsersSecretRef.Name = "nope"
		},
		"missing key": func(s *v1alpha1.WPApiPolicySpec) { s.WordPress.UsersSecretRef.Key = "nope" },
		"both sources": func(s *v1alpha1.WPApiPolicySpec) {
			s.WordPress.DatabaseSecretRef = &v1alpha1.SecretKeySelector{Name: "db", Key: "dsn"}
		},
		"bad users file": func(s *v1alpha1.WPApiPolicySpec) {
			s.WordPress.UsersSecretRef.Name = "db" // a DSN is not a users file
			s.WordPress.UsersSecretRef.Key = "dsn"
		},
		"bad table prefix": func(s *v1alpha1.WPApiPolicySpec) {
			s.WordPress = &v1alpha1.WordPressSource{DatabaseSecretRef: &v1alpha1.SecretKeySelector{Name: "db", Key: "dsn"}, TablePrefix: "wp_; DROP"}
		},
		"blog without multisite": func(s *v1alpha1.WPApiPolicySpec) {
			s.WordPress = &v1alpha1.WordPressSource{DatabaseSecretRef: &v1alpha1.SecretKeySelector{Name: "db", Key: "dsn"}, BlogID: 2}
		},
	} {
		p, problems := compileWP(t, wpPolicy(mod))
		if p != nil || len(problems) != 1 {
			t.Errorf("%s: compiled (%v) or %d problems", name, p != nil, len(problems))
			continue
		}
		if msg := problems[0].Error(); strings.Contains(msg, "secret-password") || strings.Contains(msg, "$P$") || problems[0].Name != "p" {
			t.Errorf("%s: problem leaks secrets or lacks the name: %s", name, msg)
		}
	}
	// Client-secret-only Basic needs no user directory.
	p, problems := compileWP(t, wpPolicy(func(s *v1alpha1.WPApiPolicySpec) {
		s.WordPress = nil
		s.Authentication.Basic.Accept = []v1alpha1.BasicCredential{v1alpha1.BasicClientSecret}
	}))
	if p == nil || len(problems) > 0 {
		t.Fatalf("client secrets only: %v", problems)
	}
}
