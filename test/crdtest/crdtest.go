// Package crdtest starts envtest's kube-apiserver and etcd with the CRDs of
// the projects wpauthz integrates with (Istio, Envoy Gateway, Gateway API,
// Traefik, prometheus-operator), taken from those projects' own Go modules
// through the module proxy, so that objects meant for them are checked by
// a real API server against their real schemas.
package crdtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// Versions of the envtest binaries; keep in step with the Makefile.
const (
	envtestKubeVersion = "v1.37.2"
	envtestEtcdVersion = "v3.6.16"
)

// foreign are the CRDs, by module (path@version) and file in it. Gateway
// API is the version Envoy Gateway v1.9.1 builds with.
var foreign = []struct {
	module string
	files  []string
}{
	{"istio.io/api@v1.32.0", []string{"kubernetes/customresourcedefinitions.gen.yaml"}},
	{"github.com/envoyproxy/gateway@v1.9.1", []string{"charts/gateway-helm/charts/crds/crds/generated/gateway.envoyproxy.io_securitypolicies.yaml"}},
	{"sigs.k8s.io/gateway-api@v1.6.1", []string{
		"config/crd/standard/gateway.networking.k8s.io_httproutes.yaml",
		"config/crd/standard/gateway.networking.k8s.io_referencegrants.yaml",
	}},
	{"github.com/traefik/traefik/v3@v3.5.3", []string{"docs/content/reference/dynamic-configuration/kubernetes-crd-definition-v1.yml"}},
	{"github.com/prometheus-operator/prometheus-operator@v0.85.0", []string{"example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml"}},
}

// Server is a running API server with the foreign CRDs installed.
type Server struct {
	Env        *envtest.Environment
	Config     *rest.Config
	Kubeconfig string // an administrator's (system:masters)
	Kubectl    string // the kubectl built with the envtest binaries
}

// Start starts the API server, stopped when t ends. user names the
// administrator of the kubeconfig. Without the envtest binaries the test
// is skipped, or fails when WPAUTHZ_REQUIRE_ENVTEST is set (make test).
func Start(t *testing.T, user string) *Server {
	t.Helper()
	assets := Assets()
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
	for _, m := range foreign {
		dir := moduleDir(t, m.module)
		for _, f := range m.files {
			paths = append(paths, filepath.Join(dir, f))
		}
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDInstallOptions:     envtest.CRDInstallOptions{Paths: paths, ErrorIfPathMissing: true},
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
	admin, err := env.AddUser(envtest.User{Name: user, Groups: []string{"system:masters"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := admin.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	return &Server{Env: env, Config: cfg, Kubeconfig: kubeconfig, Kubectl: filepath.Join(assets, "kubectl")}
}

// Assets is the folder of kube-apiserver, etcd and kubectl:
// $KUBEBUILDER_ASSETS (the Makefile sets it), else where the Makefile
// builds them.
func Assets() string {
	if a := os.Getenv("KUBEBUILDER_ASSETS"); a != "" {
		return a
	}
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	return filepath.Join(root, "bin", "envtest", "k8s-"+envtestKubeVersion+"-etcd-"+envtestEtcdVersion)
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
