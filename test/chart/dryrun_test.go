package chart

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// Versions of the envtest binaries; keep in step with the Makefile.
const (
	envtestKubeVersion = "v1.37.2"
	envtestEtcdVersion = "v3.6.16"
)

// The other projects' CRDs the integration objects are validated against,
// from their Go modules (fetched through the module proxy). Gateway API is
// the version Envoy Gateway v1.9.1 builds with.
var foreignCRDs = []struct {
	module string // path@version
	files  []string
}{
	{"istio.io/api@v1.32.0", []string{"kubernetes/customresourcedefinitions.gen.yaml"}},
	{"github.com/envoyproxy/gateway@v1.9.1", []string{"charts/gateway-helm/charts/crds/crds/generated/gateway.envoyproxy.io_securitypolicies.yaml"}},
	{"sigs.k8s.io/gateway-api@v1.6.1", []string{
		"config/crd/standard/gateway.networking.k8s.io_httproutes.yaml",
		"config/crd/standard/gateway.networking.k8s.io_referencegrants.yaml",
	}},
	{"github.com/prometheus-operator/prometheus-operator@v0.85.0", []string{"example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml"}},
}

// moduleDir downloads module (path@version) through the Go module proxy
// and returns its directory in the module cache.
func moduleDir(t *testing.T, module string) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to fetch %s: %v", module, err)
	}
	cmd := exec.Command(goBin, "mod", "download", "-json", module)
	// Outside any module, so that nothing here touches go.mod or go.sum.
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "GO111MODULE=on", "GOFLAGS=-mod=mod")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var info struct{ Dir, Error string }
	if jerr := json.Unmarshal(out, &info); jerr != nil || err != nil || info.Error != "" || info.Dir == "" {
		t.Fatalf("go mod download %s: %v %s %s", module, err, info.Error, stderr.String())
	}
	return info.Dir
}

// startAPIServer starts envtest's kube-apiserver and etcd with the foreign
// CRDs installed (the chart's own CRDs are not: the default rendering
// creates them) and returns a kubeconfig file for an administrator.
func startAPIServer(t *testing.T) (kubeconfig string, c client.Client) {
	t.Helper()
	assets := envtestAssets()
	for _, bin := range []string{"kube-apiserver", "etcd", "kubectl"} {
		if _, err := os.Stat(filepath.Join(assets, bin)); err != nil {
			msg := fmt.Sprintf("envtest binaries missing in %s (run hack/build-envtest-binaries.sh or make test)", assets)
			if os.Getenv("WPAUTHZ_REQUIRE_ENVTEST") != "" {
				t.Fatal(msg)
			}
			t.Skip(msg)
		}
	}
	var crdPaths []string
	for _, m := range foreignCRDs {
		dir := moduleDir(t, m.module)
		for _, f := range m.files {
			crdPaths = append(crdPaths, filepath.Join(dir, f))
		}
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDInstallOptions:     envtest.CRDInstallOptions{Paths: crdPaths, ErrorIfPathMissing: true},
	}
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("starting envtest: %v", err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("stopping envtest: %v", err)
		}
	})
	if c, err = client.New(cfg, client.Options{}); err != nil {
		t.Fatal(err)
	}
	user, err := env.AddUser(envtest.User{Name: "chart-test", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := user.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig = filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	return kubeconfig, c
}

// TestChartObjectsValidateOnAPIServer renders every value set and applies
// the output with server-side apply and --dry-run=server, strict field
// validation: the real API server checks every object against its schema
// (the built-in kinds, the chart's own CRDs as they are created in the
// same apply, and the Istio, Envoy Gateway, Gateway API and
// prometheus-operator kinds against those projects' CRDs), runs admission
// and stores nothing.
func TestChartObjectsValidateOnAPIServer(t *testing.T) {
	helmBinary(t) // fail or skip early, before starting anything
	kubeconfig, c := startAPIServer(t)
	ctx := context.Background()
	// The namespaces the value sets put objects in.
	for _, ns := range []string{releaseNamespace, "shop", "blog", "istio-system", "envoy-gateway-system"} {
		if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			t.Fatal(err)
		}
	}
	kubectl := filepath.Join(envtestAssets(), "kubectl")
	for _, set := range valueSets(t) {
		t.Run(set, func(t *testing.T) {
			rendered := render(t, set)
			kinds := map[string]int{}
			for _, doc := range splitDocuments(t, rendered) {
				kinds[doc["kind"].(string)]++
			}
			file := filepath.Join(t.TempDir(), set+".yaml")
			if err := os.WriteFile(file, rendered, 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(kubectl, "--kubeconfig", kubeconfig, "apply", "--server-side",
				"--dry-run=server", "--validate=strict", "--field-manager=wpauthz-chart-test", "-f", file)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("kubectl apply --server-side --dry-run=server refused the %s rendering: %v\n%s", set, err, out)
			}
			// Every object was sent: one "serverside-applied (server dry run)" line each.
			applied := strings.Count(string(out), "(server dry run)")
			total := 0
			for _, n := range kinds {
				total += n
			}
			if applied != total {
				t.Fatalf("%d of %d objects applied:\n%s", applied, total, out)
			}
			t.Logf("%s: %d objects valid (%v)", set, total, kinds)
		})
	}
	// NOTES.txt, which only an install renders: the mesh config entry for
	// Istio names the Service, and the Redis Secret the pods wait for.
	t.Run("notes", func(t *testing.T) {
		out, err := runHelm(t, "install", releaseName, chartDir, "--namespace", releaseNamespace,
			"--kubeconfig", kubeconfig, "--dry-run=client", "--values", filepath.Join(valuesDir, "default.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		_, notes, ok := strings.Cut(string(out), "NOTES:\n")
		t.Log(notes)
		if !ok {
			t.Fatalf("helm install --dry-run printed no NOTES:\n%s", out)
		}
		for _, want := range []string{
			"wpauthz.wpauthz.svc.cluster.local:9001   gRPC ext_authz",
			"wpauthz-internal.wpauthz.svc.cluster.local:8081",
			"    extensionProviders:\n    - name: wpauthz\n      envoyExtAuthzGrpc:\n        service: wpauthz.wpauthz.svc.cluster.local\n        port: 9001\n",
			"kubectl -n wpauthz create secret generic wpauthz-redis",
			"Watching: every namespace (ClusterRole).",
		} {
			if !strings.Contains(notes, want) {
				t.Errorf("NOTES lack %q:\n%s", want, notes)
			}
		}
	})
	// The same dry run refuses what those schemas forbid: it has teeth.
	invalid := map[string]string{
		"authorizationpolicy-unknown-field.yaml": ".spec.provider.nmae: field not declared in schema",
		"virtualservice-unknown-field.yaml":      "spec.http[0].route[0].destination.port",
		"securitypolicy-unknown-field.yaml":      ".spec.extAuth.grpc.backendRefs[0].prot: field not declared in schema",
		"httproute-bad-path-type.yaml":           "spec.rules[0].matches[0].path.type",
	}
	for file, want := range invalid {
		t.Run("refuses "+file, func(t *testing.T) {
			out, err := exec.Command(kubectl, "--kubeconfig", kubeconfig, "apply", "--server-side",
				"--dry-run=server", "--validate=strict", "--field-manager=wpauthz-chart-test",
				"-f", filepath.Join("testdata", "invalid", file)).CombinedOutput()
			if err == nil {
				t.Fatalf("the API server accepted testdata/invalid/%s:\n%s", file, out)
			}
			if !strings.Contains(string(out), want) {
				t.Fatalf("kubectl apply testdata/invalid/%s: %v\n%s\nwant an error naming %s", file, err, out, want)
			}
		})
	}
	// Nothing was stored: the dry run created no wpauthz object.
	var sas corev1.ServiceAccountList
	if err := c.List(ctx, &sas, client.InNamespace(releaseNamespace)); err != nil {
		t.Fatal(err)
	}
	for _, sa := range sas.Items {
		if sa.Name == releaseName {
			t.Fatalf("the dry run stored ServiceAccount %s", sa.Name)
		}
	}
}

// envtestAssets is the folder of kube-apiserver, etcd and kubectl:
// $KUBEBUILDER_ASSETS (the Makefile sets it), else where the Makefile builds them.
func envtestAssets() string {
	if a := os.Getenv("KUBEBUILDER_ASSETS"); a != "" {
		return a
	}
	return filepath.Join(repoRoot, "bin", "envtest", "k8s-"+envtestKubeVersion+"-etcd-"+envtestEtcdVersion)
}
