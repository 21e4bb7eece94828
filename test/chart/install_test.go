package chart

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/wpauthz/wpauthz/test/freeport"
	"github.com/wpauthz/wpauthz/test/redistest"
	"github.com/wpauthz/wpauthz/test/testbin"
)

// serviceAccountUser is the user the chart's ServiceAccount authenticates
// as: every request of the binary below is made as it.
const serviceAccountUser = "system:serviceaccount:" + releaseNamespace + ":" + releaseName

// TestChartInstallServesAsServiceAccount installs the chart into a real
// kube-apiserver with helm, then runs the real wpauthz binary out of
// cluster, with the arguments of the installed Deployment, impersonating
// the chart's ServiceAccount, so that the chart's RBAC is all it has:
//
//   - cluster-wide (the defaults, with an external Redis the chart makes
//     the Secret for): it becomes ready, enforces policies applied with
//     kubectl in any namespace and writes their status;
//   - helm upgrade to watchNamespaces [a, b] and replicaCount 3: the
//     ClusterRole goes, a Role per namespace comes, the Deployment gains
//     --watch-namespace=a,b; the binary, restarted with the new arguments,
//     serves and writes status in a and b, does not serve the policy in c,
//     cannot read Secrets in c, and logs no RBAC error;
//   - helm uninstall: what charts/wpauthz/README.md says stays, stays (the
//     CRDs and the policies, the Lease, the last good copies), and every
//     other object of the chart is gone;
//   - helm install again, namespaced from the start, over the kept CRDs:
//     a new generation in a is enforced and gets status, a new policy in c
//     gets neither; then helm uninstall again.
//
// Pods never run on envtest, so nothing waits for the Deployment; the
// binary stands in for its pod.
func TestChartInstallServesAsServiceAccount(t *testing.T) {
	helmBinary(t)
	redis := redistest.Start(t, "--requirepass", "chart-test-redis-password")
	kubeconfig, admin := startAPIServer(t)
	ctx := context.Background()
	kubectl := kubectlAs(t, kubeconfig)
	for _, ns := range []string{releaseNamespace, "a", "b", "c"} {
		if err := admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			t.Fatal(err)
		}
	}
	asSA := impersonatingKubeconfig(t, kubeconfig)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the policies' status:\n%s", kubectlMayFail(kubeconfig, "get", "wpapipolicy", "-A", "-o", "jsonpath={range .items[*]}{.metadata.namespace}: {.status}{\"\\n\"}{end}"))
		}
	})
	helm := func(args ...string) {
		t.Helper()
		out, err := runHelm(t, append(args, "--kubeconfig", kubeconfig, "--namespace", releaseNamespace)...)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("helm %s:\n%s", args[0], firstLines(out, 4))
	}

	// The key signing X-WPAuthz-Identity, in a Secret the operator made.
	_, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := admin.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: releaseNamespace, Name: "wpauthz-identity"},
		Data:       map[string][]byte{"identity.key": pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})},
	}); err != nil {
		t.Fatal(err)
	}

	install := []string{releaseName, chartDir, "--set", "redis.url=" + redis.URL, "--set", "redis.password=chart-test-redis-password",
		"--set", "server.identityKey.existingSecret=wpauthz-identity"}

	// Cluster-wide (the defaults).
	helm(append([]string{"install"}, install...)...)
	for _, ns := range []string{"a", "c"} {
		kubectl("apply", "-f", writePolicy(t, ns, "site", "Deny"))
	}
	srv := serveDeployment(t, admin, asSA)
	for _, ns := range []string{"a", "c"} {
		srv.wantCheck(t, ns+".example.com", "/readyz", 200)
		srv.wantCheck(t, ns+".example.com", "/check/wp-json/wp/v2/posts", 200)   // rule posts: Allow
		srv.wantCheck(t, ns+".example.com", "/check/wp-json/wp/v2/users/1", 404) // rule users: Deny (disabled)
		wantReady(t, kubectl, ns, "site")
		// The same answers on the Envoy ext_authz listener.
		if got := srv.grpcCheck(t, ns+".example.com", "/wp-json/wp/v2/posts"); got != 200 {
			t.Errorf("gRPC check of GET %s.example.com/wp-json/wp/v2/posts: %d, want 200", ns, got)
		}
		if got := srv.grpcCheck(t, ns+".example.com", "/wp-json/wp/v2/users/1"); got != 404 {
			t.Errorf("gRPC check of GET %s.example.com/wp-json/wp/v2/users/1: %d, want 404", ns, got)
		}
	}
	if got := canI(kubeconfig, "get", "secrets", "c"); got != "yes" {
		t.Errorf("cluster-wide: can the ServiceAccount get secrets in c? %q, want yes", got)
	}
	srv.Stop(t)
	srv.wantNoRBACErrors(t)

	// Namespaced, by helm upgrade (and a changed replica count).
	helm("upgrade", releaseName, chartDir, "--reuse-values", "--set", "watchNamespaces={a,b}", "--set", "replicaCount=3")
	var dep appsv1.Deployment
	get(t, admin, releaseNamespace, releaseName, &dep)
	if dep.Spec.Replicas == nil || *dep.Spec.Replicas != 3 {
		t.Errorf("after the upgrade the Deployment has replicas %v, want 3", dep.Spec.Replicas)
	}
	if args := dep.Spec.Template.Spec.Containers[0].Args; !slices.Contains(args, "--watch-namespace=a,b") {
		t.Errorf("after the upgrade the Deployment's args lack --watch-namespace=a,b: %q", args)
	}
	for _, gone := range []string{"clusterrole/" + releaseName, "clusterrolebinding/" + releaseName} {
		if out := kubectlMayFail(kubeconfig, "get", gone); !strings.Contains(out, "NotFound") {
			t.Errorf("after the upgrade to watchNamespaces, %s: %s; want NotFound", gone, out)
		}
	}
	kubectl("apply", "-f", writePolicy(t, "b", "site", "Deny"))
	srv = serveDeployment(t, admin, asSA)
	for _, ns := range []string{"a", "b"} {
		srv.wantCheck(t, ns+".example.com", "/readyz", 200)
		srv.wantCheck(t, ns+".example.com", "/check/wp-json/wp/v2/posts", 200)
		srv.wantCheck(t, ns+".example.com", "/check/wp-json/wp/v2/users/1", 404)
		wantReady(t, kubectl, ns, "site")
	}
	// The policy in c, in force a moment ago, is not served now (no policy
	// for its host: 403), even from its last good copy.
	srv.wantCheck(t, "c.example.com", "/check/wp-json/wp/v2/posts", 403)
	wantNoSecretsOutside(t, kubeconfig, asSA)
	srv.Stop(t)
	srv.wantNoRBACErrors(t)

	helm("uninstall", releaseName)
	wantUninstalled(t, kubeconfig, admin, []string{"a", "b", "c"})

	// Namespaced from the start: installed again over the kept CRDs.
	helm(append([]string{"install"}, append(install, "--set", "watchNamespaces={a,b}", "--set", "replicaCount=1")...)...)
	// A new generation in a (users now allowed), a new policy in c.
	kubectl("apply", "-f", writePolicy(t, "a", "site", "Allow"))
	kubectl("apply", "-f", writePolicy(t, "c", "other", "Allow"))
	srv = serveDeployment(t, admin, asSA)
	srv.wantCheck(t, "a.example.com", "/readyz", 200)
	srv.wantCheck(t, "a.example.com", "/check/wp-json/wp/v2/users/1", 200)
	srv.wantCheck(t, "b.example.com", "/check/wp-json/wp/v2/users/1", 404)
	wantReady(t, kubectl, "a", "site")
	srv.wantCheck(t, "other.c.example.com", "/check/wp-json/wp/v2/posts", 403)
	if status := kubectl("get", "wpapipolicy", "other", "-n", "c", "-o", "jsonpath={.status}"); len(status) != 0 {
		t.Errorf("namespaced: the policy in c, outside the watched namespaces, got status %s", status)
	}
	wantNoSecretsOutside(t, kubeconfig, asSA)
	srv.Stop(t)
	srv.wantNoRBACErrors(t)
	helm("uninstall", releaseName)
	wantUninstalled(t, kubeconfig, admin, []string{"a", "b", "c"})
}

// wantNoSecretsOutside: in namespaced mode the ServiceAccount may read
// Secrets nowhere but the watched namespaces a and b (and its own
// namespace, for the last good copies), as the API server's RBAC answers
// for it and as its own requests find.
func wantNoSecretsOutside(t *testing.T, adminKubeconfig, saKubeconfig string) {
	t.Helper()
	for _, ns := range []string{"a", "b", releaseNamespace} {
		if got := canI(adminKubeconfig, "get", "secrets", ns); got != "yes" {
			t.Errorf("namespaced: can the ServiceAccount get secrets in %s? %q, want yes", ns, got)
		}
	}
	for _, ns := range []string{"c", "default", "kube-system"} {
		if got := canI(adminKubeconfig, "get", "secrets", ns); got != "no" {
			t.Errorf("namespaced: can the ServiceAccount get secrets in %s? %q, want no", ns, got)
		}
	}
	if got := canI(adminKubeconfig, "list", "secrets", "--all-namespaces"); got != "no" {
		t.Errorf("namespaced: can the ServiceAccount list secrets in every namespace? %q, want no", got)
	}
	if out := kubectlMayFail(saKubeconfig, "get", "secrets", "-n", "c"); !strings.Contains(out, "Forbidden") {
		t.Errorf("namespaced: kubectl get secrets -n c as the ServiceAccount: %s; want Forbidden", out)
	}
}

// wantUninstalled checks what helm uninstall left, against the table of
// charts/wpauthz/README.md: the CRDs and the policies in namespaces, the
// Lease, the last good copies and the operator's own Secret are kept;
// the chart's other objects and its Redis Secret are gone.
func wantUninstalled(t *testing.T, kubeconfig string, admin client.Client, namespaces []string) {
	t.Helper()
	kept := []string{
		"crd/wpapipolicies.policy.wpauthz.io", "crd/apikeys.policy.wpauthz.io", "crd/oauthclients.policy.wpauthz.io",
		"-n " + releaseNamespace + " lease/wpauthz-status",
		"-n " + releaseNamespace + " secret/wpauthz-identity",
	}
	for _, ns := range namespaces {
		kept = append(kept, "-n "+ns+" wpapipolicies")
	}
	for _, k := range kept {
		args := append([]string{"get"}, strings.Fields(k)...)
		if out := kubectlMayFail(kubeconfig, args...); strings.Contains(out, "NotFound") || strings.Contains(out, "No resources found") || strings.Contains(out, "error") {
			t.Errorf("after helm uninstall, kubectl %s: %s; the chart README keeps it", strings.Join(args, " "), out)
		}
	}
	var secrets corev1.SecretList
	if err := admin.List(context.Background(), &secrets, client.InNamespace(releaseNamespace)); err != nil {
		t.Fatal(err)
	}
	copies := 0
	for _, s := range secrets.Items {
		switch s.Name {
		case releaseName + "-redis":
			t.Errorf("after helm uninstall the chart's Secret %s is still there", s.Name)
		case "wpauthz-identity": // the operator's
		default:
			copies++ // wpauthz's own last good copies
		}
	}
	if copies == 0 {
		t.Errorf("after helm uninstall no last good copies in %s; the chart README keeps them", releaseNamespace)
	}
	gone := []string{
		"deployment/" + releaseName, "service/" + releaseName, "service/" + releaseName + "-internal",
		"serviceaccount/" + releaseName, "poddisruptionbudget/" + releaseName, "secret/" + releaseName + "-redis",
		"role/" + releaseName + "-state", "rolebinding/" + releaseName + "-state",
	}
	for i := range gone {
		gone[i] = "-n " + releaseNamespace + " " + gone[i]
	}
	gone = append(gone, "clusterrole/"+releaseName, "clusterrolebinding/"+releaseName)
	for _, ns := range namespaces {
		gone = append(gone, "-n "+ns+" role/"+releaseName, "-n "+ns+" rolebinding/"+releaseName)
	}
	for _, g := range gone {
		args := append([]string{"get"}, strings.Fields(g)...)
		if out := kubectlMayFail(kubeconfig, args...); !strings.Contains(out, "NotFound") {
			t.Errorf("after helm uninstall, kubectl %s: %s; want NotFound", strings.Join(args, " "), out)
		}
	}
}

// impersonatingKubeconfig writes a copy of the administrator's kubeconfig
// whose user impersonates the chart's ServiceAccount (with the groups a
// ServiceAccount token carries), and returns its path.
func impersonatingKubeconfig(t *testing.T, adminKubeconfig string) string {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(adminKubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	for _, auth := range cfg.AuthInfos {
		auth.Impersonate = serviceAccountUser
		auth.ImpersonateGroups = []string{"system:serviceaccounts", "system:serviceaccounts:" + releaseNamespace, "system:authenticated"}
	}
	path := filepath.Join(t.TempDir(), "kubeconfig-serviceaccount")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// writePolicy writes the WPApiPolicy name in ns, for host <ns>.example.com
// (site) or <name>.<ns>.example.com: GETs of posts allowed, users
// usersAction (Deny: disabled, 404), anything else needs an API key.
func writePolicy(t *testing.T, ns, name, usersAction string) string {
	t.Helper()
	host := ns + ".example.com"
	if name != "site" {
		host = name + "." + host
	}
	doc := fmt.Sprintf(`apiVersion: policy.wpauthz.io/v1alpha1
kind: WPApiPolicy
metadata:
  name: %s
  namespace: %s
spec:
  hosts: [%s]
  defaultAction: Authenticate
  authentication:
    apiKeys: {}
  rules:
  - name: posts
    routes: [/wp/v2/posts, /wp/v2/posts/*]
    methods: [GET]
    action: Allow
  - name: users
    routes: [/wp/v2/users/**]
    action: %s
`, name, ns, host, usersAction)
	path := filepath.Join(t.TempDir(), "policy-"+ns+"-"+name+".yaml")
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// kubectlAs returns a function running envtest's kubectl with kubeconfig,
// failing the test on an error.
func kubectlAs(t *testing.T, kubeconfig string) func(args ...string) []byte {
	return func(args ...string) []byte {
		t.Helper()
		out, err := exec.Command(filepath.Join(envtestAssets(), "kubectl"), append([]string{"--kubeconfig", kubeconfig}, args...)...).Output()
		if err != nil {
			var stderr []byte
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = ee.Stderr
			}
			t.Fatalf("kubectl %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr)
		}
		return out
	}
}

// kubectlMayFail runs kubectl and returns its combined output, errors
// included.
func kubectlMayFail(kubeconfig string, args ...string) string {
	out, _ := exec.Command(filepath.Join(envtestAssets(), "kubectl"), append([]string{"--kubeconfig", kubeconfig}, args...)...).CombinedOutput()
	return strings.TrimSpace(string(out))
}

// canI asks the API server, as an administrator, whether the chart's
// ServiceAccount may verb resource in ns ("yes" or "no").
func canI(kubeconfig, verb, resource, ns string) string {
	scope := []string{"-n", ns}
	if ns == "--all-namespaces" {
		scope = []string{ns}
	}
	args := append([]string{"auth", "can-i", verb, resource, "--as", serviceAccountUser}, scope...)
	return kubectlMayFail(kubeconfig, args...)
}

// wantReady waits until the policy name in ns has the condition Ready True
// for its current generation, as kubectl shows it.
func wantReady(t *testing.T, kubectl func(...string) []byte, ns, name string) {
	t.Helper()
	var last string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		var pol struct {
			Metadata struct{ Generation int64 }
			Status   struct {
				ObservedGeneration int64
				Conditions         []metav1.Condition
			}
		}
		if err := json.Unmarshal(kubectl("get", "wpapipolicy", name, "-n", ns, "-o", "json"), &pol); err != nil {
			t.Fatal(err)
		}
		last = fmt.Sprintf("generation %d, status %+v", pol.Metadata.Generation, pol.Status)
		for _, c := range pol.Status.Conditions {
			if c.Type == "Ready" && c.Status == metav1.ConditionTrue && c.ObservedGeneration == pol.Metadata.Generation &&
				pol.Status.ObservedGeneration == pol.Metadata.Generation {
				return
			}
		}
	}
	t.Fatalf("WPApiPolicy %s/%s never became Ready for its generation: %s", ns, name, last)
}

func get(t *testing.T, c client.Client, ns, name string, obj client.Object) {
	t.Helper()
	if err := c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, obj); err != nil {
		t.Fatal(err)
	}
}

func firstLines(b []byte, n int) string {
	lines := strings.SplitN(string(b), "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}

// deploymentServer is the real wpauthz binary standing in for a pod of the
// installed Deployment.
type deploymentServer struct {
	httpAddr string
	grpcAddr string
	*testbin.Process
}

// serveDeployment starts the wpauthz binary as the installed Deployment's
// container would run: its args, its environment from Secrets and its
// Secret volumes as files, as the kubelet would resolve them (read by the
// administrator), with the listen addresses moved to free loopback ports
// and kubeconfig (the ServiceAccount's) in place of the in-cluster config.
func serveDeployment(t *testing.T, admin client.Client, kubeconfig string) *deploymentServer {
	t.Helper()
	var dep appsv1.Deployment
	get(t, admin, releaseNamespace, releaseName, &dep)
	pod := dep.Spec.Template.Spec
	if pod.ServiceAccountName != releaseName {
		t.Fatalf("the Deployment runs as ServiceAccount %q, want %q", pod.ServiceAccountName, releaseName)
	}
	var sa corev1.ServiceAccount
	get(t, admin, releaseNamespace, pod.ServiceAccountName, &sa) // the identity impersonated exists
	var container *corev1.Container
	for i := range pod.Containers {
		if pod.Containers[i].Name == "wpauthz" {
			container = &pod.Containers[i]
		}
	}
	if container == nil {
		t.Fatal("the Deployment has no container wpauthz")
	}
	secretValue := func(name, key string) []byte {
		var s corev1.Secret
		get(t, admin, releaseNamespace, name, &s)
		v, ok := s.Data[key]
		if !ok {
			t.Fatalf("Secret %s has no key %s, which the Deployment uses", name, key)
		}
		return v
	}
	env := map[string]string{}
	for _, e := range container.Env {
		switch {
		case e.ValueFrom == nil:
			env[e.Name] = e.Value
		case e.ValueFrom.SecretKeyRef != nil:
			env[e.Name] = string(secretValue(e.ValueFrom.SecretKeyRef.Name, e.ValueFrom.SecretKeyRef.Key))
		default:
			t.Fatalf("env %s: only values and secretKeyRef are resolved here", e.Name)
		}
	}
	root := t.TempDir()
	mounts := map[string]string{} // mountPath → local folder
	for _, m := range container.VolumeMounts {
		var vol *corev1.Volume
		for i := range pod.Volumes {
			if pod.Volumes[i].Name == m.Name {
				vol = &pod.Volumes[i]
			}
		}
		if vol == nil || vol.Secret == nil {
			t.Fatalf("volume mount %s: only Secret volumes are resolved here", m.Name)
		}
		dir := filepath.Join(root, m.Name)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		for _, item := range vol.Secret.Items {
			if err := os.WriteFile(filepath.Join(dir, item.Path), secretValue(vol.Secret.SecretName, item.Key), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		mounts[m.MountPath] = dir
	}
	s := &deploymentServer{httpAddr: freeport.Addr(t), grpcAddr: freeport.Addr(t)}
	listen := map[string]string{"--grpc-addr": s.grpcAddr, "--http-addr": s.httpAddr, "--internal-addr": freeport.Addr(t)}
	envRef := regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)
	var args []string
	for _, a := range container.Args {
		a = envRef.ReplaceAllStringFunc(a, func(ref string) string {
			if v, ok := env[ref[2:len(ref)-1]]; ok {
				return v
			}
			return ref // the kubelet leaves unknown references alone
		})
		name, value, _ := strings.Cut(a, "=")
		if addr, ok := listen[name]; ok {
			a = name + "=" + addr
		}
		for mountPath, dir := range mounts {
			if strings.HasPrefix(value, mountPath+"/") {
				a = name + "=" + dir + strings.TrimPrefix(value, mountPath)
			}
		}
		args = append(args, a)
	}
	t.Logf("wpauthz %s", strings.Join(args, " "))
	cmd := exec.Command(testbin.Wpauthz(t), args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	s.Process = testbin.Start(t, cmd)
	return s
}

// wantCheck waits until GET path with Host host answers want.
func (s *deploymentServer) wantCheck(t *testing.T, host, path string, want int) {
	t.Helper()
	var last error
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if exited, err := s.Exited(); exited {
			t.Fatalf("wpauthz exited (%v) before GET %s%s answered %d", err, host, path, want)
		}
		req, err := http.NewRequest("GET", "http://"+s.httpAddr+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			last = err
			continue
		}
		resp.Body.Close()
		if resp.StatusCode == want {
			return
		}
		last = fmt.Errorf("status %d", resp.StatusCode)
	}
	t.Fatalf("GET %s%s as Host %s: %v, want %d", s.httpAddr, path, host, last, want)
}

// grpcCheck asks the Envoy ext_authz gRPC listener about GET path on host
// and returns the HTTP status Envoy would answer with (200: allowed).
func (s *deploymentServer) grpcCheck(t *testing.T, host, path string) int {
	t.Helper()
	conn, err := grpc.NewClient(s.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := authv3.NewAuthorizationClient(conn).Check(ctx, &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Method: "GET", Host: host, Path: path, Headers: map[string]string{":authority": host},
		}},
	}})
	if err != nil {
		t.Fatalf("gRPC Check GET %s%s: %v", host, path, err)
	}
	if resp.GetOkResponse() != nil {
		return 200
	}
	return int(resp.GetDeniedResponse().GetStatus().GetCode())
}

// wantNoRBACErrors: nothing the binary asked for was refused.
func (s *deploymentServer) wantNoRBACErrors(t *testing.T) {
	t.Helper()
	for _, line := range bytes.Split([]byte(s.Log.String()), []byte("\n")) {
		l := strings.ToLower(string(line))
		if strings.Contains(l, "forbidden") || strings.Contains(l, "cannot list") || strings.Contains(l, "cannot watch") ||
			strings.Contains(l, "cannot get") || strings.Contains(l, "cannot create") || strings.Contains(l, "cannot patch") ||
			strings.Contains(l, "cannot update") {
			t.Errorf("wpauthz logged an RBAC refusal: %s", line)
		}
	}
}
