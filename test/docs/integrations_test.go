// Package docs checks the Kubernetes objects of docs/integrations.md on a
// real kube-apiserver, against the CRDs of the projects they belong to
// (Istio, Envoy Gateway, Gateway API, Traefik), fetched from those
// projects' Go modules through the module proxy: the snippets apply as
// written. The Envoy bootstraps of that page are checked by
// authz/envoy/examples_test.go, the nginx and Caddy configurations by
// authz/httpauth/proxies_test.go.
package docs

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"
)

// Versions of the envtest binaries; keep in step with the Makefile.
const (
	envtestKubeVersion = "v1.37.2"
	envtestEtcdVersion = "v3.6.16"
)

// foreignCRDs: the CRDs of the kinds the page uses, from their projects'
// modules. Gateway API is the version Envoy Gateway v1.9.1 builds with.
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
	{"github.com/traefik/traefik/v3@v3.5.3", []string{"docs/content/reference/dynamic-configuration/kubernetes-crd-definition-v1.yml"}},
}

// TestIntegrationObjectsApplyAsWritten: every Kubernetes object in a yaml
// block of docs/integrations.md passes the API server (server-side apply,
// server dry run, strict field validation) in the namespaces it names.
func TestIntegrationObjectsApplyAsWritten(t *testing.T) {
	doc, err := os.ReadFile("../../docs/integrations.md")
	if err != nil {
		t.Fatal(err)
	}
	objects, namespaces, kinds := kubernetesObjects(t, string(doc))
	// The kinds the page is expected to show: a block that stops parsing
	// as an object would otherwise drop out of the check unnoticed.
	for _, want := range []string{"NetworkPolicy", "AuthorizationPolicy", "VirtualService", "SecurityPolicy", "HTTPRoute", "ReferenceGrant", "Middleware"} {
		if kinds[want] == 0 {
			t.Errorf("docs/integrations.md shows no %s (found %v)", want, kinds)
		}
	}

	kubeconfig, kubectl := startAPIServer(t)
	run := func(stdin []byte, args ...string) (string, error) {
		cmd := exec.Command(kubectl, append([]string{"--kubeconfig", kubeconfig}, args...)...)
		if stdin != nil {
			cmd.Stdin = bytes.NewReader(stdin)
		}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	// A dry run cannot create a namespace for the objects after it.
	for ns := range namespaces {
		if out, err := run(nil, "create", "namespace", ns); err != nil {
			t.Fatalf("kubectl create namespace %s: %v\n%s", ns, err, out)
		}
	}
	out, err := run(objects, "apply", "--server-side", "--dry-run=server", "--validate=strict", "--field-manager=wpauthz-docs-test", "-f", "-")
	if err != nil {
		t.Fatalf("the objects of docs/integrations.md do not apply: %v\n%s", err, out)
	}
	total := 0
	for _, n := range kinds {
		total += n
	}
	if applied := strings.Count(out, "serverside-applied (server dry run)"); applied != total {
		t.Fatalf("%d of %d objects applied:\n%s", applied, total, out)
	}
	t.Logf("%d objects valid: %v", total, kinds)
}

// kubernetesObjects returns the documents of the page's yaml blocks that
// are Kubernetes objects (apiVersion and kind; the meshConfig fragment and
// the Envoy bootstraps are not), joined as one multi-document stream, with
// their namespaces and a count per kind.
func kubernetesObjects(t *testing.T, doc string) ([]byte, map[string]bool, map[string]int) {
	t.Helper()
	var stream bytes.Buffer
	namespaces, kinds := map[string]bool{}, map[string]int{}
	rest := doc
	for {
		_, after, ok := strings.Cut(rest, "\n```yaml\n")
		if !ok {
			break
		}
		block, next, ok := strings.Cut(after, "\n```\n")
		if !ok {
			t.Fatal("docs/integrations.md: unterminated yaml block")
		}
		rest = next
		for _, part := range strings.Split(block, "\n---\n") {
			var obj struct {
				APIVersion string `json:"apiVersion"`
				Kind       string `json:"kind"`
				Metadata   struct {
					Namespace string `json:"namespace"`
				} `json:"metadata"`
			}
			if err := yaml.Unmarshal([]byte(part), &obj); err != nil {
				t.Fatalf("docs/integrations.md: a yaml block does not parse: %v\n%s", err, part)
			}
			if obj.APIVersion == "" || obj.Kind == "" {
				continue
			}
			kinds[obj.Kind]++
			if obj.Metadata.Namespace != "" {
				namespaces[obj.Metadata.Namespace] = true
			}
			stream.WriteString("---\n" + part + "\n")
		}
	}
	return stream.Bytes(), namespaces, kinds
}

// startAPIServer starts envtest's kube-apiserver and etcd with the foreign
// CRDs installed and returns an administrator's kubeconfig and kubectl.
func startAPIServer(t *testing.T) (kubeconfig, kubectl string) {
	t.Helper()
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		assets = filepath.Join("..", "..", "bin", "envtest", "k8s-"+envtestKubeVersion+"-etcd-"+envtestEtcdVersion)
	}
	for _, bin := range []string{"kube-apiserver", "etcd", "kubectl"} {
		if _, err := os.Stat(filepath.Join(assets, bin)); err != nil {
			msg := fmt.Sprintf("envtest binaries missing in %s (run hack/build-envtest-binaries.sh or make test)", assets)
			if os.Getenv("WPAUTHZ_REQUIRE_ENVTEST") != "" {
				t.Fatal(msg)
			}
			t.Skip(msg)
		}
	}
	var paths []string
	for _, m := range foreignCRDs {
		dir := moduleDir(t, m.module)
		for _, f := range m.files {
			paths = append(paths, filepath.Join(dir, f))
		}
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDInstallOptions:     envtest.CRDInstallOptions{Paths: paths, ErrorIfPathMissing: true},
	}
	if _, err := env.Start(); err != nil {
		t.Fatalf("starting envtest: %v", err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("stopping envtest: %v", err)
		}
	})
	user, err := env.AddUser(envtest.User{Name: "docs-test", Groups: []string{"system:masters"}}, nil)
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
	return kubeconfig, filepath.Join(assets, "kubectl")
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
