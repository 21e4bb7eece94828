package controller

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wpauthz/wpauthz/test/freeport"
	"github.com/wpauthz/wpauthz/test/testbin"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	"github.com/wpauthz/wpauthz/api/v1alpha1"
)

func freeAddr(t *testing.T) string { return freeport.Addr(t) }

// TestServeInCluster runs the real binary without --config-dir against the
// envtest API server: it becomes ready once its first snapshot is in,
// answers HTTP checks from a policy applied afterwards, writes status as
// the Lease holder, and stops cleanly on SIGTERM.
//
// Not parallel: the binary watches every namespace, and its status writes
// would disturb the other tests' counts.
func TestServeInCluster(t *testing.T) {
	needEnv(t)
	ns := newNamespace(t)
	kc, err := addAdmin(t, "wpauthz").KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	srv := startServe(t, kc, "--leader-election-namespace", ns)
	host := ns + ".example.com"
	srv.wantHTTP(t, host, "/readyz", 200)
	srv.wantHTTP(t, host, "/check/wp-json/wp/v2/posts", 403) // no policy for the host yet

	pol := testPolicy(ns, "site", host, "")
	create(t, pol)
	srv.wantHTTP(t, host, "/check/wp-json/wp/v2/posts", 200)
	srv.wantHTTP(t, host, "/check/wp-json/wp/v2/users/1", 404)
	wantCondition(t, pol, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonEnforced)
	if owners := statusOwners(t, pol); len(owners) != 1 || owners[0] != DefaultName {
		t.Errorf("status written by %v, want %s", owners, DefaultName)
	}
	srv.Stop(t)
}

// TestServeWatchNamespace runs the real binary with --watch-namespace (both
// spellings) as a user whose only permissions are the generated rules of
// config/rbac bound by a Role in each watched namespace and in its own:
// it becomes ready, serves and writes status for the policies there,
// keeps its last good copies in its own namespace, and ignores a policy
// elsewhere, whose Secrets that user cannot read.
func TestServeWatchNamespace(t *testing.T) {
	needEnv(t)
	t.Parallel()
	a, c, other, own := newNamespace(t), newNamespace(t), newNamespace(t), newNamespace(t)
	name := "wpauthz-" + own
	user := addUser(t, name)
	clusterRules, ownRules := generatedRBAC(t)
	for _, ns := range []string{a, c} {
		bindRole(t, ns, name, clusterRules)
	}
	bindRole(t, own, name, ownRules)
	kc, err := user.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}

	srv := startServe(t, kc, "--leader-election-namespace", own, "--watch-namespace", a, "--watch-namespace", c+","+a)
	pa, pc, po := testPolicy(a, "site", a+".example.com", ""), testPolicy(c, "site", c+".example.com", ""), testPolicy(other, "site", other+".example.com", "")
	create(t, secret(other, "db", map[string]string{"dsn": "not for wpauthz"}), po, pa, pc)
	srv.wantHTTP(t, a+".example.com", "/readyz", 200)
	srv.wantHTTP(t, a+".example.com", "/check/wp-json/wp/v2/posts", 200)
	srv.wantHTTP(t, c+".example.com", "/check/wp-json/wp/v2/posts", 200)
	wantCondition(t, pa, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonEnforced)
	wantCondition(t, pc, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonEnforced)
	wantCopies(t, own, 2)
	// Both watched policies are in force, so the one elsewhere was never
	// seen: no answer from it, no status on it.
	srv.wantHTTP(t, other+".example.com", "/check/wp-json/wp/v2/posts", 403)
	if _, _, conds, err := conditionsOf(t, po); err != nil || len(conds) != 0 {
		t.Errorf("the policy outside the watched namespaces has status %v (%v)", conds, err)
	}

	// The same credentials cannot read Secrets elsewhere.
	as, err := client.New(user.Config(), client.Options{Scheme: testScheme})
	if err != nil {
		t.Fatal(err)
	}
	if err := as.Get(context.Background(), client.ObjectKey{Namespace: other, Name: "db"}, &corev1.Secret{}); err == nil || !apierrors.IsForbidden(err) {
		t.Errorf("reading a Secret in %s: %v, want Forbidden", other, err)
	}
	if err := as.List(context.Background(), &corev1.SecretList{}); err == nil || !apierrors.IsForbidden(err) {
		t.Errorf("listing Secrets cluster-wide: %v, want Forbidden", err)
	}
	srv.Stop(t)
}

// servedBinary is the real wpauthz binary serving in-cluster mode.
type servedBinary struct {
	*testbin.Process
	httpAddr string
}

// startServe runs `wpauthz serve` in in-cluster mode with kubeconfig and
// extra flags. It is killed when the test ends unless stopped.
func startServe(t *testing.T, kubeconfig []byte, args ...string) *servedBinary {
	t.Helper()
	dir := t.TempDir()
	bin := testbin.Wpauthz(t)
	kcPath, idKey := filepath.Join(dir, "kubeconfig"), filepath.Join(dir, "identity.seed")
	if err := os.WriteFile(kcPath, kubeconfig, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(idKey, processIdentityKey.Seed(), 0o600); err != nil {
		t.Fatal(err)
	}
	s := &servedBinary{httpAddr: freeAddr(t)}
	cmd := exec.Command(bin, append([]string{"serve", "--grpc-addr", freeAddr(t), "--http-addr", s.httpAddr, "--identity-key", idKey, "--log-format", "text"}, args...)...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kcPath)
	s.Process = testbin.Start(t, cmd)
	return s
}

// wantHTTP waits until GET path with Host host answers want.
func (s *servedBinary) wantHTTP(t *testing.T, host, path string, want int) {
	t.Helper()
	eventually(t, 30*time.Second, func() error {
		req, err := http.NewRequest("GET", "http://"+s.httpAddr+path, nil)
		if err != nil {
			return err
		}
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			return fmt.Errorf("GET %s%s: %d, want %d", host, path, resp.StatusCode, want)
		}
		return nil
	})
}

// addUser adds an envtest user with no permissions of its own.
func addUser(t *testing.T, name string) *envtest.AuthenticatedUser {
	t.Helper()
	addUserMu.Lock()
	defer addUserMu.Unlock()
	user, err := testEnv.AddUser(envtest.User{Name: name}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return user
}

// generatedRBAC returns the rules of config/rbac/role.yaml (generated from
// the controller's markers): the ClusterRole's, and the Role's for the
// manager's own namespace.
func generatedRBAC(t *testing.T) (cluster, own []rbacv1.PolicyRule) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(testbin.Root(), "config", "rbac", "role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range strings.Split(string(raw), "\n---\n") {
		var r rbacv1.ClusterRole // a Role has the same fields
		if err := yaml.UnmarshalStrict([]byte(doc), &r); err != nil {
			t.Fatalf("config/rbac/role.yaml: %v", err)
		}
		switch r.Kind {
		case "ClusterRole":
			cluster = r.Rules
		case "Role":
			own = r.Rules
		}
	}
	if cluster == nil || own == nil {
		t.Fatal("config/rbac/role.yaml: no ClusterRole or no Role")
	}
	return cluster, own
}

// bindRole gives user the rules in namespace ns, through a Role and a
// RoleBinding.
func bindRole(t *testing.T, ns, user string, rules []rbacv1.PolicyRule) {
	t.Helper()
	create(t,
		&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "wpauthz"}, Rules: rules},
		&rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "wpauthz"},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "wpauthz"},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, Name: user}},
		})
}
