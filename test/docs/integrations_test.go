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
	"os"
	"os/exec"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/wpauthz/wpauthz/test/crdtest"
)

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

	srv := crdtest.Start(t, "docs-test")
	kubeconfig, kubectl := srv.Kubeconfig, srv.Kubectl
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
