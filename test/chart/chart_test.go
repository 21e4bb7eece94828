// Package chart tests the Helm chart charts/wpauthz with the real helm
// binary: lint, golden `helm template` output per value set, the CRD copies
// against config/crd/bases, the README against values.yaml, refused value
// combinations, and (dryrun_test.go) every rendered object validated by a
// real kube-apiserver, the Istio, Envoy Gateway, Gateway API and
// prometheus-operator objects against those projects' own CRDs, and
// (install_test.go) helm install, upgrade and uninstall on that server with
// the real wpauthz binary running as the chart's ServiceAccount.
package chart

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// helmVersion is the helm the Makefile installs into bin/ (HELM_VERSION).
const helmVersion = "v3.21.4"

var update = flag.Bool("update", false, "rewrite testdata/golden from the chart (make chart-golden)")

var (
	repoRoot  = filepath.Join("..", "..")
	chartDir  = filepath.Join(repoRoot, "charts", "wpauthz")
	valuesDir = filepath.Join("testdata", "values")
	goldenDir = filepath.Join("testdata", "golden")
)

// The release every rendering uses: the names the docs agree on.
const (
	releaseName      = "wpauthz"
	releaseNamespace = "wpauthz"
)

// helmBinary returns the helm to run: $WPAUTHZ_HELM (the Makefile sets it),
// else bin/helm-<version>. Without one the test fails when
// WPAUTHZ_REQUIRE_HELM is set and is skipped otherwise.
func helmBinary(t *testing.T) string {
	t.Helper()
	path := os.Getenv("WPAUTHZ_HELM")
	if path == "" {
		path = filepath.Join(repoRoot, "bin", "helm-"+helmVersion)
	}
	if _, err := os.Stat(path); err != nil {
		msg := fmt.Sprintf("helm not found at %s (make test installs it): %v", path, err)
		if os.Getenv("WPAUTHZ_REQUIRE_HELM") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

// runHelm runs helm with args and returns its standard output; an error
// carries standard error.
func runHelm(t *testing.T, args ...string) ([]byte, error) {
	t.Helper()
	cmd := exec.Command(helmBinary(t), args...)
	// No user configuration, repositories or plugins leak in.
	home := t.TempDir()
	cmd.Env = append(os.Environ(),
		"HELM_CONFIG_HOME="+filepath.Join(home, "config"),
		"HELM_CACHE_HOME="+filepath.Join(home, "cache"),
		"HELM_DATA_HOME="+filepath.Join(home, "data"),
	)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("helm %s: %w: %s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.Bytes(), nil
}

// valueSets returns the names of testdata/values/*.yaml, sorted.
func valueSets(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(valuesDir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		names = append(names, strings.TrimSuffix(filepath.Base(f), ".yaml"))
	}
	sort.Strings(names)
	for _, want := range []string{"default", "namespaced", "external-redis-tls", "istio-envoy-gateway"} {
		if !contains(names, want) {
			t.Fatalf("value set %s missing from %s", want, valuesDir)
		}
	}
	return names
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// render is `helm template` of the chart with one value set, as release
// wpauthz in namespace wpauthz.
func render(t *testing.T, valueSet string, extra ...string) []byte {
	t.Helper()
	args := append([]string{"template", releaseName, chartDir, "--namespace", releaseNamespace,
		"--values", filepath.Join(valuesDir, valueSet+".yaml")}, extra...)
	out, err := runHelm(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestChartLint(t *testing.T) {
	for _, set := range valueSets(t) {
		t.Run(set, func(t *testing.T) {
			out, err := runHelm(t, "lint", chartDir, "--strict", "--namespace", releaseNamespace,
				"--values", filepath.Join(valuesDir, set+".yaml"))
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if !bytes.Contains(out, []byte("0 chart(s) failed")) {
				t.Fatalf("helm lint did not pass:\n%s", out)
			}
		})
	}
}

// TestChartGolden compares `helm template` output with testdata/golden;
// `make chart-golden` (go test -run TestChartGolden -update) rewrites it.
func TestChartGolden(t *testing.T) {
	for _, set := range valueSets(t) {
		t.Run(set, func(t *testing.T) {
			got := render(t, set)
			path := filepath.Join(goldenDir, set+".yaml")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run make chart-golden)", err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("helm template differs from %s (run make chart-golden and review the diff): %s", path, firstDifference(want, got))
			}
		})
	}
}

// firstDifference describes the first line where want and got differ.
func firstDifference(want, got []byte) string {
	w, g := strings.Split(string(want), "\n"), strings.Split(string(got), "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl || i >= len(w) || i >= len(g) {
			return fmt.Sprintf("line %d: golden %q, rendered %q", i+1, wl, gl)
		}
	}
	return "no line differs"
}

// TestChartCRDsMatchBases: the chart's CRDs are byte-for-byte the
// generated ones (make chart-crds copies them).
func TestChartCRDsMatchBases(t *testing.T) {
	bases, err := filepath.Glob(filepath.Join(repoRoot, "config", "crd", "bases", "*.yaml"))
	if err != nil || len(bases) == 0 {
		t.Fatalf("no CRDs in config/crd/bases: %v", err)
	}
	copies, err := filepath.Glob(filepath.Join(chartDir, "files", "crds", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	names := func(paths []string) []string {
		var n []string
		for _, p := range paths {
			n = append(n, filepath.Base(p))
		}
		return n
	}
	if a, b := strings.Join(names(bases), " "), strings.Join(names(copies), " "); a != b {
		t.Fatalf("charts/wpauthz/files/crds holds %q, config/crd/bases %q: run make chart-crds", b, a)
	}
	for _, base := range bases {
		want, err := os.ReadFile(base)
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(chartDir, "files", "crds", filepath.Base(base)))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(want, got) {
			t.Errorf("charts/wpauthz/files/crds/%s differs from config/crd/bases: run make chart-crds", filepath.Base(base))
		}
	}
	// And the chart renders them unchanged but for its labels and the keep
	// annotation.
	want := map[string]map[string]any{}
	for _, base := range bases {
		raw, err := os.ReadFile(base)
		if err != nil {
			t.Fatal(err)
		}
		for _, doc := range splitDocuments(t, raw) {
			want[name(doc)] = doc
		}
	}
	rendered := 0
	for _, doc := range splitDocuments(t, render(t, "default")) {
		if doc["kind"] != "CustomResourceDefinition" {
			continue
		}
		rendered++
		meta := doc["metadata"].(map[string]any)
		annotations, _ := meta["annotations"].(map[string]any)
		if annotations["helm.sh/resource-policy"] != "keep" {
			t.Errorf("CRD %s lacks helm.sh/resource-policy: keep", name(doc))
		}
		labels, _ := meta["labels"].(map[string]any)
		if labels["app.kubernetes.io/managed-by"] != "Helm" {
			t.Errorf("CRD %s lacks the chart's labels: %v", name(doc), labels)
		}
		// What is left must be the generated CRD exactly.
		delete(annotations, "helm.sh/resource-policy")
		delete(meta, "labels")
		got, _ := json.Marshal(doc)
		exp, _ := json.Marshal(want[name(doc)])
		if !bytes.Equal(got, exp) {
			t.Errorf("the rendered CRD %s differs from config/crd/bases beyond labels and annotations", name(doc))
		}
	}
	if rendered != len(want) {
		t.Errorf("default rendering has %d CRDs, config/crd/bases %d", rendered, len(want))
	}
}

// freeFormValues are values.yaml maps passed through as Kubernetes fields
// (or example entries); the README documents them as a whole.
var freeFormValues = map[string]bool{
	"resources": true, "podSecurityContext": true, "securityContext": true, "affinity": true,
	"nodeSelector": true, "podAnnotations": true, "podLabels": true,
	"serviceAccount.annotations": true, "service.annotations": true,
	"metrics.serviceMonitor.labels": true, "redis.server.resources": true,
	"istio.authorizationPolicy.selector": true, "istio.virtualService.wordpress": true,
}

// TestChartREADMEListsEveryValue: every key of values.yaml has a row in
// the README's values table, and the table names no key that is gone.
func TestChartREADMEListsEveryValue(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var values map[string]any
	if err := yaml.Unmarshal(raw, &values); err != nil {
		t.Fatal(err)
	}
	var keys []string
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for k, v := range m {
			path := k
			if prefix != "" {
				path = prefix + "." + k
			}
			if sub, ok := v.(map[string]any); ok && len(sub) > 0 && !freeFormValues[path] {
				walk(path, sub)
				continue
			}
			keys = append(keys, path)
		}
	}
	walk("", values)
	sort.Strings(keys)

	readme, err := os.ReadFile(filepath.Join(chartDir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, line := range strings.Split(string(readme), "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		key, _, _ := strings.Cut(strings.TrimPrefix(line, "| `"), "`")
		documented[key] = true
	}
	for _, k := range keys {
		if !documented[k] {
			t.Errorf("values.yaml key %s has no row in charts/wpauthz/README.md", k)
		}
		delete(documented, k)
	}
	for k := range documented {
		t.Errorf("charts/wpauthz/README.md documents %s, which values.yaml does not have", k)
	}
	if len(keys) < 50 {
		t.Fatalf("walked only %d keys of values.yaml", len(keys))
	}
}

// TestChartRefusesBadValues: the schema and the chart's checks refuse
// values that would install a broken or unsafe wpauthz, with a message
// that says what to change.
func TestChartRefusesBadValues(t *testing.T) {
	cases := []struct {
		name string
		set  []string
		want string
	}{
		{"unknown key", []string{"replicas=2"}, "additional properties 'replicas' not allowed"},
		{"unknown nested key", []string{"redis.host=x"}, "additional properties 'host' not allowed"},
		{"redis mode", []string{"redis.mode=master"}, "value must be one of 'single', 'sentinel', 'cluster'"},
		{"redis url scheme", []string{"redis.url=http://redis:6379"}, "/redis/url"},
		{"namespace name", []string{"watchNamespaces={Shop}"}, "/watchNamespaces/0"},
		{"shutdown timeout", []string{"server.shutdownTimeoutSeconds=0"}, "/server/shutdownTimeoutSeconds"},
		{"replicas without redis", []string{"redis.enabled=false"}, "replicaCount > 1 needs redis.enabled"},
		{"deploy with url", []string{"redis.deploy=true", "redis.url=redis://x:6379"}, "redis.deploy and redis.url exclude each other"},
		{"deployed sentinel", []string{"redis.deploy=true", "redis.mode=sentinel"}, "redis.mode must be single"},
		{"tls without secret", []string{"redis.tls.enabled=true"}, "redis.tls.enabled needs redis.tls.existingSecret"},
		{"servicemonitor without metrics", []string{"metrics.serviceMonitor.enabled=true"}, "metrics.serviceMonitor.enabled needs metrics.enabled"},
		{"security policy without targets", []string{"envoyGateway.securityPolicy.enabled=true"}, "needs envoyGateway.securityPolicy.targetRefs"},
		{"route without parents", []string{"gatewayAPI.httpRoute.enabled=true"}, "needs gatewayAPI.httpRoute.parentRefs"},
		{"virtual service without hosts", []string{"istio.virtualService.enabled=true"}, "needs istio.virtualService.hosts"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := []string{"template", releaseName, chartDir, "--namespace", releaseNamespace}
			for _, s := range c.set {
				args = append(args, "--set", s)
			}
			_, err := runHelm(t, args...)
			if err == nil {
				t.Fatalf("helm template --set %v rendered; want it refused", c.set)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("helm template --set %v: %v; want a message containing %q", c.set, err, c.want)
			}
		})
	}
}

// TestChartSecretsReadOnly: without rbac.generatedKeySecrets no rendering
// grants a write on Secrets outside wpauthz's own state Role in the release
// namespace, and with watchNamespaces no ClusterRole exists at all (so no
// Secret outside the watched namespaces is readable).
func TestChartSecretsReadOnly(t *testing.T) {
	for _, set := range []string{"default", "external-redis-tls", "istio-envoy-gateway"} {
		states := 0
		for _, doc := range splitDocuments(t, render(t, set)) {
			kind, _ := doc["kind"].(string)
			if kind != "ClusterRole" && kind != "Role" {
				continue
			}
			if kind == "Role" && name(doc) == releaseName+"-state" && doc["metadata"].(map[string]any)["namespace"] == releaseNamespace {
				states++ // the last good copies: written in the release namespace only
				continue
			}
			rules, _ := doc["rules"].([]any)
			for _, r := range rules {
				rule := r.(map[string]any)
				if !listHas(rule["resources"], "secrets") {
					continue
				}
				for _, v := range rule["verbs"].([]any) {
					if v != "get" && v != "list" && v != "watch" {
						t.Errorf("%s: %s %s grants %q on secrets", set, kind, name(doc), v)
					}
				}
			}
		}
		if states != 1 {
			t.Errorf("%s: %d Roles %s-state in namespace %s, want 1", set, states, releaseName, releaseNamespace)
		}
	}
	for _, doc := range splitDocuments(t, render(t, "namespaced")) {
		switch doc["kind"] {
		case "ClusterRole", "ClusterRoleBinding":
			t.Errorf("namespaced: renders a %s %s", doc["kind"], name(doc))
		case "Role":
			ns := doc["metadata"].(map[string]any)["namespace"]
			if ns != "shop" && ns != "blog" && ns != releaseNamespace {
				t.Errorf("namespaced: a Role in namespace %v", ns)
			}
		}
	}
}

func listHas(list any, s string) bool {
	l, _ := list.([]any)
	for _, v := range l {
		if v == s {
			return true
		}
	}
	return false
}

func name(doc map[string]any) string {
	meta, _ := doc["metadata"].(map[string]any)
	n, _ := meta["name"].(string)
	return n
}

// splitDocuments parses a multi-document YAML stream, dropping empty ones.
func splitDocuments(t *testing.T, stream []byte) []map[string]any {
	t.Helper()
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(stream), 4096)
	var docs []map[string]any
	for {
		var doc map[string]any
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return docs
		}
		if err != nil {
			t.Fatalf("rendered YAML does not parse: %v", err)
		}
		if len(doc) > 0 {
			docs = append(docs, doc)
		}
	}
}
