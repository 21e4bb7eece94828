package envoy

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	// The typed_config types the examples use: registered so that their
	// Any values resolve (an unregistered type fails the parse).
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/anypb"
	"sigs.k8s.io/yaml"
)

// Envoy does not run here (it is not packaged), so the Envoy examples of
// docs/integrations.md are checked through Envoy's own API definitions:
// each file is a whole bootstrap, parsed strictly into go-control-plane's
// Bootstrap proto, every typed_config resolved and validated with the
// protoc-gen-validate rules Envoy applies on load.

// envoyExamples are the files docs/integrations.md shows verbatim.
var envoyExamples = []string{"envoy-grpc.yaml", "envoy-http.yaml"}

const examplesDir = "../../docs/examples"

// TestEnvoyExamplesParseStrictly: each example is a Bootstrap Envoy would
// accept: no unknown or misspelt field at any depth, every "@type" known,
// every message valid, no deprecated field.
func TestEnvoyExamplesParseStrictly(t *testing.T) {
	for _, name := range envoyExamples {
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(examplesDir, name))
			if err != nil {
				t.Fatal(err)
			}
			b, err := parseBootstrap(data)
			if err != nil {
				t.Fatal(err)
			}
			if n := len(b.GetStaticResources().GetListeners()); n == 0 {
				t.Fatalf("no listeners: %d", n)
			}
			anys, err := checkEnvoyConfig(b)
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{
				"type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
				"type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz",
				"type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute",
				"type.googleapis.com/envoy.extensions.filters.http.router.v3.Router",
			} {
				if anys[want] == 0 {
					t.Errorf("no %s checked (found %v)", want, anys)
				}
			}
		})
	}
}

// TestEnvoyExampleCheckerRefuses: the checker is not vacuous. Each
// deliberate mistake in the gRPC example, at the depths a typo could hide
// (inside an Any, inside an Any inside an Any), is refused.
func TestEnvoyExampleCheckerRefuses(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(examplesDir, "envoy-grpc.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, old, new, want string }{
		{"unknown field in the bootstrap", "  clusters:\n", "  cluster:\n", `unknown field "cluster"`},
		{"misspelt field in the ext_authz Any", "pack_as_bytes: true", "pack_as_byte: true", `unknown field "pack_as_byte"`},
		{"misspelt field in the HCM Any", "strip_any_host_port: true", "strip_any_host_ports: true", `unknown field "strip_any_host_ports"`},
		{"unknown @type", "ext_authz.v3.ExtAuthzPerRoute", "ext_authz.v3.ExtAuthzPerRout", "ExtAuthzPerRout"},
		{"bad enum value", "code: ServiceUnavailable", "code: Unavailable", "Unavailable"},
		{"validation rule (connect_timeout > 0)", "connect_timeout: 1s", "connect_timeout: 0s", "ConnectTimeout"},
		{"validation rule inside an Any (stat_prefix not empty)", "stat_prefix: wordpress", `stat_prefix: ""`, "StatPrefix"},
		{"deprecated field", "use_remote_address: true", "use_remote_address: true\n          flush_access_log_on_new_request: true", "flush_access_log_on_new_request: deprecated"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			broken := strings.Replace(string(data), tc.old, tc.new, 1)
			if broken == string(data) {
				t.Fatalf("%q is not in the example", tc.old)
			}
			b, err := parseBootstrap([]byte(broken))
			if err == nil {
				_, err = checkEnvoyConfig(b)
			}
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("refused, but not for %q: %v", tc.want, err)
			}
		})
	}
}

// TestEnvoyExamplesInDocs: docs/integrations.md shows each example file
// verbatim, in the yaml block after the line that names it.
func TestEnvoyExamplesInDocs(t *testing.T) {
	doc, err := os.ReadFile("../../docs/integrations.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range envoyExamples {
		t.Run(name, func(t *testing.T) {
			file, err := os.ReadFile(filepath.Join(examplesDir, name))
			if err != nil {
				t.Fatal(err)
			}
			marker := "<!-- docs/examples/" + name + ", verbatim"
			_, after, ok := strings.Cut(string(doc), marker)
			if !ok {
				t.Fatalf("docs/integrations.md has no line %q…", marker)
			}
			_, block, ok := strings.Cut(after, "\n```yaml\n")
			if !ok {
				t.Fatalf("no yaml block after %q", marker)
			}
			block, _, ok = strings.Cut(block, "\n```\n")
			if !ok {
				t.Fatalf("unterminated yaml block after %q", marker)
			}
			if block+"\n" != string(file) {
				t.Fatalf("the block after %q differs from docs/examples/%s: copy the file into the doc", marker, name)
			}
		})
	}
}

// parseBootstrap reads a YAML bootstrap as Envoy does: YAML to JSON (a
// duplicate key is an error), then protojson with unknown fields refused
// and every Any resolved against the registered types.
func parseBootstrap(data []byte) (*bootstrapv3.Bootstrap, error) {
	js, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		return nil, fmt.Errorf("YAML: %w", err)
	}
	b := &bootstrapv3.Bootstrap{}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: false}).Unmarshal(js, b); err != nil {
		return nil, fmt.Errorf("bootstrap: %w", err)
	}
	return b, nil
}

// checkEnvoyConfig validates m and every message inside every Any below it
// (protoc-gen-validate's Validate does not look into an Any), refuses
// deprecated fields (Envoy warns, then removes them), and counts the Any
// types it checked.
func checkEnvoyConfig(m proto.Message) (map[string]int, error) {
	anys := map[string]int{}
	err := checkMessage("", m.ProtoReflect(), anys)
	return anys, err
}

type validator interface{ ValidateAll() error }

func checkMessage(path string, m protoreflect.Message, anys map[string]int) error {
	if v, ok := m.Interface().(validator); ok {
		if err := v.ValidateAll(); err != nil {
			return fmt.Errorf("%s: %w", cmpPath(path, m), err)
		}
	}
	return walk(path, m, anys)
}

// walk visits the set fields of m, unpacking Any values.
func walk(path string, m protoreflect.Message, anys map[string]int) error {
	if a, ok := m.Interface().(*anypb.Any); ok {
		inner, err := a.UnmarshalNew()
		if err != nil {
			return fmt.Errorf("%s: %s: %w", path, a.GetTypeUrl(), err)
		}
		anys[a.GetTypeUrl()]++
		// A new root: its Validate has not run yet.
		return checkMessage(path+"("+string(inner.ProtoReflect().Descriptor().FullName())+")", inner.ProtoReflect(), anys)
	}
	var errs []error
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		p := path + "." + string(fd.Name())
		if opts, ok := fd.Options().(*descriptorpb.FieldOptions); ok && opts.GetDeprecated() {
			errs = append(errs, fmt.Errorf("%s: deprecated field", p))
		}
		switch {
		case fd.IsList() && fd.Message() != nil:
			l := v.List()
			for i := range l.Len() {
				errs = append(errs, walk(fmt.Sprintf("%s[%d]", p, i), l.Get(i).Message(), anys))
			}
		case fd.IsMap() && fd.MapValue().Message() != nil:
			v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				errs = append(errs, walk(fmt.Sprintf("%s[%s]", p, k.String()), mv.Message(), anys))
				return true
			})
		case fd.Message() != nil && !fd.IsList() && !fd.IsMap():
			errs = append(errs, walk(p, v.Message(), anys))
		}
		return true
	})
	return errors.Join(errs...)
}

func cmpPath(path string, m protoreflect.Message) string {
	if path == "" {
		return string(m.Descriptor().FullName())
	}
	return path
}
