package controller

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/wpauthz/wpauthz/api/v1alpha1"
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

// TestSamplesApplyOnEmptyCluster: config/samples applies as the README
// says (and server-side), with the CRDs installed and nothing else: it creates its namespace
// and every Secret it names, each object is stored, a replica compiles all
// of them (every resource turns Ready, so the sample Secrets hold valid
// keys), and "kubectl get apikeys" shows the expiry as a time. Not
// parallel: the namespace must not exist before (the parallel tests that
// dry-run into it start after this one).
func TestSamplesApplyOnEmptyCluster(t *testing.T) {
	needEnv(t)
	ctx := context.Background()
	if err := k8s.Get(ctx, client.ObjectKey{Name: "wordpress"}, &corev1.Namespace{}); !apierrors.IsNotFound(err) {
		t.Fatalf("namespace wordpress exists before the samples are applied (err %v)", err)
	}
	samples := filepath.Join("..", "config", "samples")
	want := []string{
		"namespace/wordpress",
		"secret/shop-jwt-keys", "secret/shop-identity-key", "secret/erp-api-key", "secret/jane-laptop-api-key", "secret/mobile-app-oauth",
		"wpapipolicy.policy.wpauthz.io/shop", "apikey.policy.wpauthz.io/erp", "apikey.policy.wpauthz.io/jane-laptop",
		"oauthclient.policy.wpauthz.io/mobile-app",
	}
	// The README's command first (client-side apply: creates), then
	// server-side apply over it (every field validated and owned by the
	// API server's merge, no conflict).
	for _, step := range []struct {
		args   []string
		result string
	}{
		{[]string{"apply", "-f", samples}, " created"},
		{[]string{"apply", "--server-side", "-f", samples}, " serverside-applied"},
	} {
		cmd := "kubectl " + strings.Join(step.args, " ")
		out, errOut, err := kubectl(t, nil, step.args...)
		if err != nil {
			t.Fatalf("%s: %v\n%s%s", cmd, err, out, errOut)
		}
		if errOut != "" {
			t.Errorf("%s wrote to stderr:\n%s", cmd, errOut)
		}
		applied := strings.Split(strings.TrimSpace(out), "\n")
		for _, w := range want {
			if !slices.Contains(applied, w+step.result) {
				t.Errorf("%s: no %q:\n%s", cmd, w+step.result, out)
			}
		}
		if len(applied) != len(want) {
			t.Errorf("%s applied %d objects, want %d (a new sample object? add it here):\n%s", cmd, len(applied), len(want), out)
		}
	}
	// Stored, as written: kubectl reads every object of the folder back.
	got, errOut, err := kubectl(t, nil, "get", "-f", samples, "-o", "name")
	if err != nil {
		t.Fatalf("kubectl get -f config/samples: %v\n%s", err, errOut)
	}
	if gotNames := strings.Fields(got); len(gotNames) != len(want) {
		t.Errorf("kubectl get -f config/samples found %d objects, want %d:\n%s", len(gotNames), len(want), got)
	}

	// A replica watching the namespace accepts and enforces every resource.
	startManager(t, []string{"wordpress"}, managerOptions{})
	for _, obj := range []client.Object{
		&v1alpha1.WPApiPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: "wordpress", Name: "shop"}},
		&v1alpha1.ApiKey{ObjectMeta: metav1.ObjectMeta{Namespace: "wordpress", Name: "erp"}},
		&v1alpha1.ApiKey{ObjectMeta: metav1.ObjectMeta{Namespace: "wordpress", Name: "jane-laptop"}},
		&v1alpha1.OAuthClient{ObjectMeta: metav1.ObjectMeta{Namespace: "wordpress", Name: "mobile-app"}},
	} {
		wantCondition(t, obj, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonEnforced)
	}

	// The EXPIRES column is the time the key expires (a "date" column
	// would print its age: "<invalid>" for a time in the future).
	table, errOut, err := kubectl(t, nil, "get", "apikeys", "-n", "wordpress")
	if err != nil {
		t.Fatalf("kubectl get apikeys: %v\n%s", err, errOut)
	}
	expires := tableColumn(t, table, "EXPIRES")
	if expires["erp"] != "2027-12-31T23:59:59Z" {
		t.Errorf("EXPIRES of erp = %q, want the time 2027-12-31T23:59:59Z:\n%s", expires["erp"], table)
	}
	if strings.Contains(table, "<invalid>") {
		t.Errorf("kubectl get apikeys prints <invalid>:\n%s", table)
	}
}

// tableColumn returns one column of kubectl's table output by row name.
// kubectl aligns the columns, so a cell starts where its header does (an
// empty cell is blanks).
func tableColumn(t *testing.T, table, name string) map[string]string {
	t.Helper()
	rows := strings.Split(strings.TrimRight(table, "\n"), "\n")
	header := rows[0]
	start := strings.Index(header, name)
	if start < 0 || (start > 0 && header[start-1] != ' ') {
		t.Fatalf("kubectl's table has no %s column:\n%s", name, table)
	}
	// The cell ends where the next header starts; the last runs to the
	// end of the row.
	end := -1
	if next := strings.IndexFunc(header[start+len(name):], func(r rune) bool { return r != ' ' }); next >= 0 {
		end = start + len(name) + next
	}
	cells := map[string]string{}
	for _, row := range rows[1:] {
		rowName, _, _ := strings.Cut(row, " ")
		cell := ""
		if start < len(row) {
			stop := len(row)
			if end >= 0 {
				stop = min(end, stop)
			}
			cell = strings.TrimSpace(row[start:stop])
		}
		cells[rowName] = cell
	}
	return cells
}

// TestInvalidSamplesRefused: each deliberately invalid sample in
// testdata/invalid is refused by the API server with the message its
// "# want:" line names.
func TestInvalidSamplesRefused(t *testing.T) {
	needEnv(t)
	t.Parallel()
	ensureNamespace(t, "wordpress")
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

// TestDefaultKustomizationServerDryRun: "kubectl apply -k config/default"
// passes the API server (server-side apply, server dry run) and deploys
// the objects under the names the Helm chart and the docs use: namespace
// wpauthz, Services wpauthz and wpauthz-internal, ServiceAccount wpauthz.
func TestDefaultKustomizationServerDryRun(t *testing.T) {
	needEnv(t)
	t.Parallel()
	// Namespaced objects cannot be dry-run into a namespace that is only
	// dry-run created.
	ensureNamespace(t, "wpauthz")
	def := filepath.Join("..", "config", "default")
	out, errOut, err := kubectl(t, nil, "apply", "--server-side", "--dry-run=server", "-k", def)
	if err != nil {
		t.Fatalf("kubectl apply --server-side --dry-run=server -k config/default: %v\n%s%s", err, out, errOut)
	}
	applied := strings.Split(strings.TrimSpace(out), "\n")
	want := []string{
		"namespace/wpauthz",
		"customresourcedefinition.apiextensions.k8s.io/wpapipolicies.policy.wpauthz.io",
		"customresourcedefinition.apiextensions.k8s.io/apikeys.policy.wpauthz.io",
		"customresourcedefinition.apiextensions.k8s.io/oauthclients.policy.wpauthz.io",
		"serviceaccount/wpauthz",
		"role.rbac.authorization.k8s.io/wpauthz",
		"clusterrole.rbac.authorization.k8s.io/wpauthz",
		"rolebinding.rbac.authorization.k8s.io/wpauthz",
		"clusterrolebinding.rbac.authorization.k8s.io/wpauthz",
		"service/wpauthz",
		"service/wpauthz-internal",
		"deployment.apps/wpauthz",
	}
	for _, w := range want {
		if !slices.Contains(applied, w+" serverside-applied (server dry run)") {
			t.Errorf("config/default does not apply %s:\n%s", w, out)
		}
	}
	if len(applied) != len(want) {
		t.Errorf("config/default applies %d objects, want %d:\n%s", len(applied), len(want), out)
	}
	// Everything in the namespace the docs name.
	built, errOut, err := kubectl(t, nil, "kustomize", def)
	if err != nil {
		t.Fatalf("kubectl kustomize config/default: %v\n%s", err, errOut)
	}
	for _, line := range strings.Split(built, "\n") {
		if ns, ok := strings.CutPrefix(line, "  namespace: "); ok && ns != "wpauthz" {
			t.Errorf("config/default puts an object in namespace %q", ns)
		}
	}
	for _, w := range []string{"image: ghcr.io/wpauthz/wpauthz:", "serviceAccountName: wpauthz\n", "- serve\n"} {
		if !strings.Contains(built, w) {
			t.Errorf("config/default has no %q", w)
		}
	}
}
