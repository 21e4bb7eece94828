package controller

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// addUserMu serialises envtest's AddUser: its test CA is not safe for
// concurrent use, and parallel tests add users.
var addUserMu sync.Mutex

func addAdmin(t *testing.T, name string) *envtest.AuthenticatedUser {
	t.Helper()
	addUserMu.Lock()
	defer addUserMu.Unlock()
	user, err := testEnv.AddUser(envtest.User{Name: name, Groups: []string{"system:masters"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return user
}

// kubectl runs the kubectl built with the envtest binaries as a cluster
// admin of the envtest API server.
func kubectl(t *testing.T, stdin []byte, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	user := addAdmin(t, "admin")
	kc, err := user.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, kc, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(assetsDir, "kubectl"), append([]string{"--kubeconfig", path}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	err = cmd.Run()
	return out.String(), errb.String(), err
}

func ensureNamespace(t *testing.T, name string) {
	t.Helper()
	err := k8s.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

// TestSamplesServerDryRun: the shipped samples pass the API server's
// schema and CEL rules as they are, and each deliberately invalid sample
// in testdata/invalid is refused with the message its "# want:" line names.
func TestSamplesServerDryRun(t *testing.T) {
	needEnv(t)
	t.Parallel()
	ensureNamespace(t, "wordpress")

	// Exactly the documented command: the folder as shipped.
	samples := filepath.Join("..", "config", "samples")
	for _, args := range [][]string{{"apply", "--dry-run=server", "-f", samples}} {
		out, errOut, err := kubectl(t, nil, args...)
		if err != nil {
			t.Fatalf("kubectl %s: %v\n%s%s", strings.Join(args, " "), err, out, errOut)
		}
		for _, want := range []string{"wpapipolicy.policy.wpauthz.io/shop", "apikey.policy.wpauthz.io/erp", "apikey.policy.wpauthz.io/jane-laptop", "oauthclient.policy.wpauthz.io/mobile-app"} {
			if !strings.Contains(out, want+" created (server dry run)") {
				t.Errorf("kubectl %s did not create %s:\n%s", strings.Join(args, " "), want, out)
			}
		}
	}

	files, err := filepath.Glob(filepath.Join("testdata", "invalid", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no invalid samples: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			want := wantLine(t, f)
			out, errOut, err := kubectl(t, nil, "apply", "--dry-run=server", "-f", f)
			if err == nil {
				t.Fatalf("accepted:\n%s", out)
			}
			if !strings.Contains(errOut, want) {
				t.Fatalf("refused, but not with %q:\n%s", want, errOut)
			}
		})
	}
}

// wantLine returns the text after "# want: " in a file's first lines.
func wantLine(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if w, ok := strings.CutPrefix(sc.Text(), "# want: "); ok {
			return w
		}
	}
	t.Fatalf("%s has no \"# want:\" line", path)
	return ""
}

// TestDefaultKustomizationServerDryRun: config/default builds with
// kubectl's kustomize and every object it deploys (CRDs, RBAC generated
// from the markers, the Deployment) passes the API server.
func TestDefaultKustomizationServerDryRun(t *testing.T) {
	needEnv(t)
	t.Parallel()
	built, errOut, err := kubectl(t, nil, "kustomize", filepath.Join("..", "config", "default"))
	if err != nil {
		t.Fatalf("kubectl kustomize config/default: %v\n%s", err, errOut)
	}
	for _, want := range []string{"kind: Deployment", "kind: ClusterRole", "kind: CustomResourceDefinition", "kind: ServiceAccount", "- serve"} {
		if !strings.Contains(built, want) {
			t.Errorf("config/default has no %q", want)
		}
	}
	// Namespaced objects cannot be dry-run into a namespace that is only
	// dry-run created.
	ensureNamespace(t, "wpauthz-system")
	out, errOut, err := kubectl(t, []byte(built), "apply", "--dry-run=server", "-f", "-")
	if err != nil {
		t.Fatalf("kubectl apply --dry-run=server: %v\n%s%s", err, out, errOut)
	}
}
