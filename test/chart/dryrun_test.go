package chart

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/wpauthz/wpauthz/test/crdtest"
)

// startAPIServer starts envtest's kube-apiserver and etcd with the foreign
// CRDs installed (the chart's own CRDs are not: the default rendering
// creates them) and returns a kubeconfig file for an administrator.
func startAPIServer(t *testing.T) (kubeconfig string, c client.Client) {
	t.Helper()
	srv := crdtest.Start(t, "chart-test")
	c, err := client.New(srv.Config, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return srv.Kubeconfig, c
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

// envtestAssets is the folder of kube-apiserver, etcd and kubectl.
func envtestAssets() string { return crdtest.Assets() }
