package configdir

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/wpauthz/wpauthz/api/v1alpha1"
)

func newTestLoader(t *testing.T, dir string) *Loader {
	t.Helper()
	l, err := NewLoader(dir, nil)
	if err != nil {
		t.Fatalf("NewLoader: %v", err)
	}
	return l
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// problems returns the *Error values of a failed Load, failing the test
// on anything else.
func problems(t *testing.T, err error) []*Error {
	t.Helper()
	if err == nil {
		t.Fatal("Load succeeded, want an error")
	}
	var out []*Error
	for _, e := range Errors(err) {
		var de *Error
		if !errors.As(e, &de) {
			t.Fatalf("error %v (%T) is not a *configdir.Error", e, e)
		}
		out = append(out, de)
	}
	return out
}

// findProblem returns the problem on field whose message contains
// substr, or fails listing what was found.
func findProblem(t *testing.T, err error, field, substr string) *Error {
	t.Helper()
	ps := problems(t, err)
	for _, p := range ps {
		if p.Field == field && strings.Contains(p.Message, substr) {
			return p
		}
	}
	var got []string
	for _, p := range ps {
		got = append(got, p.Error())
	}
	t.Fatalf("no problem on field %q containing %q; got:\n  %s", field, substr, strings.Join(got, "\n  "))
	return nil
}

const validPolicy = `apiVersion: policy.wpauthz.io/v1alpha1
kind: WPApiPolicy
metadata:
  name: shop
spec:
  hosts: [shop.example.com]
`

func TestLoadSampleFolder(t *testing.T) {
	l := newTestLoader(t, "testdata/sample")
	b, err := l.Load()
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if len(b.Policies) != 1 || len(b.APIKeys) != 2 || len(b.OAuthClients) != 1 || len(b.Secrets) != 3 {
		t.Fatalf("got %d policies, %d API keys, %d OAuth clients, %d secrets; want 1, 2, 1, 3",
			len(b.Policies), len(b.APIKeys), len(b.OAuthClients), len(b.Secrets))
	}

	p := b.Policies[0]
	if p.Name != "shop" || p.Namespace != "default" {
		t.Errorf("policy is %s/%s, want default/shop", p.Namespace, p.Name)
	}
	if p.Kind != "WPApiPolicy" || p.APIVersion != "policy.wpauthz.io/v1alpha1" {
		t.Errorf("policy TypeMeta = %q %q", p.APIVersion, p.Kind)
	}
	if p.Generation != 1 {
		t.Errorf("generation = %d, want 1 (as on create)", p.Generation)
	}
	// Defaults from the CRD schema.
	if p.Spec.RestPrefix != "/wp-json" {
		t.Errorf("restPrefix = %q, want the default /wp-json", p.Spec.RestPrefix)
	}
	if p.Spec.DefaultAction != v1alpha1.ActionAuthenticate {
		t.Errorf("defaultAction = %q, want the default Authenticate", p.Spec.DefaultAction)
	}
	if p.Spec.DeniedRouteResponse != v1alpha1.DeniedRouteNotFound {
		t.Errorf("deniedRouteResponse = %q, want the default NotFound", p.Spec.DeniedRouteResponse)
	}
	auth := p.Spec.Authentication
	if auth.CredentialHeader != "Authorization" {
		t.Errorf("credentialHeader = %q, want the default Authorization", auth.CredentialHeader)
	}
	if auth.JWT == nil || auth.JWT.Leeway == nil || auth.JWT.Leeway.Duration != 30*time.Second {
		t.Errorf("jwt.leeway = %v, want the default 30s", auth.JWT.Leeway)
	}
	if auth.JWT == nil || auth.JWT.AccessTokenTTL == nil || auth.JWT.AccessTokenTTL.Duration != 15*time.Minute {
		t.Errorf("jwt.accessTokenTTL = %v, want the default 15m", auth.JWT.AccessTokenTTL)
	}
	if auth.APIKeys == nil || auth.APIKeys.Header != "X-API-Key" {
		t.Errorf("apiKeys = %+v, want the default header X-API-Key", auth.APIKeys)
	}
	if got := p.Spec.Rules; len(got) != 3 || got[1].Action != v1alpha1.ActionAuthenticate || len(got[1].Roles) != 2 {
		t.Errorf("rules = %+v", got)
	}

	c := b.OAuthClients[0]
	if c.Spec.TokenTTL == nil || c.Spec.TokenTTL.Duration != 15*time.Minute {
		t.Errorf("OAuthClient tokenTTL = %v, want the default 15m", c.Spec.TokenTTL)
	}
	if b.APIKeys[1].Spec.User == nil || b.APIKeys[1].Spec.User.Login != "jane" {
		t.Errorf("ApiKey jane user = %+v", b.APIKeys[1].Spec.User)
	}

	secrets := map[string]corev1.Secret{}
	for _, s := range b.Secrets {
		secrets[s.Name] = s
	}
	keys := secrets["shop-api-keys"]
	if got := string(keys.Data["inventory-sync"]); got != "wpk_test_inventory" {
		t.Errorf("data[inventory-sync] = %q, want the base64-decoded value", got)
	}
	if got := string(keys.Data["jane"]); got != "wpk_test_jane" {
		t.Errorf("data[jane] = %q, want stringData to override data", got)
	}
	if keys.StringData != nil {
		t.Errorf("StringData = %v, want it merged into Data", keys.StringData)
	}
	if keys.Type != corev1.SecretTypeOpaque || keys.Namespace != "default" {
		t.Errorf("secret type %q namespace %q, want Opaque in default", keys.Type, keys.Namespace)
	}
	if got := string(secrets["shop-jwt-keys"].Data["k1"]); got != "test-only-hs256-secret-0123456789abcdef" {
		t.Errorf("jwt key = %q", got)
	}
}

func TestLoadSkipsWhatIsNotAResourceFile(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "policy.YAML", validPolicy)
	writeFile(t, dir, "notes.txt", "not: [yaml")
	writeFile(t, dir, ".#policy.yaml", "not: [yaml") // editor lock/swap files
	if err := os.Mkdir(filepath.Join(dir, "nested.yaml"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "nested.yaml"), "x.yaml", "not: [yaml") // not recursive
	writeFile(t, dir, "empty.yml", "---\n# nothing here\n---\n\n---\n")

	b, err := newTestLoader(t, dir).Load()
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if len(b.Policies) != 1 {
		t.Fatalf("got %d policies, want 1", len(b.Policies))
	}
}

func TestLoadEmptyFolder(t *testing.T) {
	b, err := newTestLoader(t, t.TempDir()).Load()
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if len(b.Policies)+len(b.APIKeys)+len(b.OAuthClients)+len(b.Secrets) != 0 {
		t.Fatalf("bundle of an empty folder is not empty: %+v", b)
	}
}

func TestNewLoaderRejectsMissingFolder(t *testing.T) {
	if _, err := NewLoader(filepath.Join(t.TempDir(), "absent"), nil); err == nil {
		t.Fatal("NewLoader of a missing folder succeeded")
	}
	file := writeFile(t, t.TempDir(), "f.yaml", validPolicy)
	if _, err := NewLoader(file, nil); err == nil {
		t.Fatal("NewLoader of a file succeeded")
	}
}

// TestLoadInvalid feeds one bad document per case and checks that the
// problem is reported on the right field with the API server's message.
func TestLoadInvalid(t *testing.T) {
	longName := strings.Repeat("r", 64)
	cases := []struct {
		name  string
		doc   string
		field string
		msg   string
	}{
		{
			name: "enum",
			doc: validPolicy + `  defaultAction: Sometimes
`,
			field: "spec.defaultAction",
			msg:   `Unsupported value: "Sometimes"`,
		},
		{
			name: "host pattern",
			doc: `apiVersion: policy.wpauthz.io/v1alpha1
kind: WPApiPolicy
metadata: {name: shop}
spec:
  hosts: [shop.example.com, Shop_Example.com]
`,
			field: "spec.hosts[1]",
			msg:   "should match",
		},
		{
			name: "rest prefix pattern",
			doc: validPolicy + `  restPrefix: wp-json
`,
			field: "spec.restPrefix",
			msg:   "should match",
		},
		{
			name: "max length",
			doc: validPolicy + `  rules:
  - name: ` + longName + `
    routes: [/wp/v2/users]
    action: Deny
`,
			field: "spec.rules[0].name",
			msg:   "Too long",
		},
		{
			name: "min items",
			doc: validPolicy + `  rules:
  - routes: []
    action: Deny
`,
			field: "spec.rules[0].routes",
			msg:   "should have at least 1 items",
		},
		{
			name: "minimum",
			doc: `apiVersion: policy.wpauthz.io/v1alpha1
kind: ApiKey
metadata: {name: k}
spec:
  policyRef: {name: shop}
  user: {id: 0}
`,
			field: "spec.user.id",
			msg:   "should be greater than or equal to 1",
		},
		{
			name: "missing required field",
			doc: `apiVersion: policy.wpauthz.io/v1alpha1
kind: WPApiPolicy
metadata: {name: shop}
spec:
  restPrefix: /wp-json
`,
			field: "spec.hosts",
			msg:   "Required value",
		},
		{
			name: "missing spec",
			doc: `apiVersion: policy.wpauthz.io/v1alpha1
kind: OAuthClient
metadata: {name: c}
`,
			field: "spec",
			msg:   "Required value",
		},
		{
			name: "wrong type",
			doc: validPolicy + `  rules: {routes: [/x], action: Deny}
`,
			field: "spec.rules",
			msg:   "Invalid value",
		},
		{
			name: "duplicate in a set",
			doc: `apiVersion: policy.wpauthz.io/v1alpha1
kind: WPApiPolicy
metadata: {name: shop}
spec:
  hosts: [shop.example.com, shop.example.com]
`,
			field: "spec.hosts[1]",
			msg:   "Duplicate value",
		},
		{
			name: "CEL: roles on an Allow rule",
			doc: validPolicy + `  rules:
  - routes: [/wc/v3/**]
    action: Allow
    roles: [administrator]
`,
			field: "spec.rules[0]",
			msg:   "roles require action Authenticate",
		},
		{
			name: "CEL: authMethods on a Deny rule",
			doc: validPolicy + `  rules:
  - routes: [/wc/v3/**]
    action: Deny
    authMethods: [JWT]
`,
			field: "spec.rules[0]",
			msg:   "authMethods require action Authenticate",
		},
		{
			name: "CEL: universal ApiKey without roles",
			doc: `apiVersion: policy.wpauthz.io/v1alpha1
kind: ApiKey
metadata: {name: k}
spec:
  policyRef: {name: shop}
`,
			field: "spec",
			msg:   "a universal key (no user) needs at least one role",
		},
		{
			name: "CEL: user with both login and id",
			doc: `apiVersion: policy.wpauthz.io/v1alpha1
kind: ApiKey
metadata: {name: k}
spec:
  policyRef: {name: shop}
  user: {login: jane, id: 7}
`,
			field: "spec.user",
			msg:   "exactly one of login or id must be set",
		},
		{
			name: "CEL: client_credentials without user or roles",
			doc: `apiVersion: policy.wpauthz.io/v1alpha1
kind: OAuthClient
metadata: {name: c}
spec:
  policyRef: {name: shop}
  clientID: c
  secretRef: {name: s, key: k}
  grants: [client_credentials]
`,
			field: "spec",
			msg:   "client_credentials needs an acting user or roles",
		},
		{
			name: "unknown field (typo)",
			doc: validPolicy + `  restPrefx: /blog/wp-json
`,
			field: "spec.restPrefx",
			msg:   "unknown field",
		},
		{
			name: "unknown nested field",
			doc: validPolicy + `  rules:
  - routes: [/wp/v2/users]
    action: Deny
    method: [GET]
`,
			field: "spec.rules[0].method",
			msg:   "unknown field",
		},
		{
			name: "unknown metadata field",
			doc: `apiVersion: policy.wpauthz.io/v1alpha1
kind: WPApiPolicy
metadata:
  name: shop
  lables: {team: web}
spec:
  hosts: [shop.example.com]
`,
			field: "metadata.lables",
			msg:   "unknown field",
		},
		{
			name: "name is not a DNS subdomain",
			doc: `apiVersion: policy.wpauthz.io/v1alpha1
kind: WPApiPolicy
metadata: {name: My_Shop}
spec:
  hosts: [shop.example.com]
`,
			field: "metadata.name",
			msg:   "RFC 1123 subdomain",
		},
		{
			name: "missing name",
			doc: `apiVersion: policy.wpauthz.io/v1alpha1
kind: WPApiPolicy
spec:
  hosts: [shop.example.com]
`,
			field: "metadata.name",
			msg:   "Required value",
		},
		{
			name: "bad namespace",
			doc: `apiVersion: policy.wpauthz.io/v1alpha1
kind: WPApiPolicy
metadata: {name: shop, namespace: Web.Shop}
spec:
  hosts: [shop.example.com]
`,
			field: "metadata.namespace",
			msg:   "RFC 1123 label",
		},
		{
			name: "duration that does not parse",
			doc: `apiVersion: policy.wpauthz.io/v1alpha1
kind: OAuthClient
metadata: {name: c}
spec:
  policyRef: {name: shop}
  clientID: c
  secretRef: {name: s, key: k}
  grants: [password]
  tokenTTL: fortnight
`,
			field: "spec.tokenTTL",
			msg:   "must be a positive duration",
		},
		{
			name: "CEL: negative duration",
			doc: `apiVersion: policy.wpauthz.io/v1alpha1
kind: OAuthClient
metadata: {name: c}
spec:
  policyRef: {name: shop}
  clientID: c
  secretRef: {name: s, key: k}
  grants: [password]
  tokenTTL: -5m
`,
			field: "spec.tokenTTL",
			msg:   "must be a positive duration",
		},
		{
			name: "CEL: identity assertion lifetime over a minute",
			doc: validPolicy + `  identity:
    ttl: 5m
`,
			field: "spec.identity.ttl",
			msg:   "must be between 1s and 60s",
		},
		{
			name:  "unknown kind in our group",
			doc:   "apiVersion: policy.wpauthz.io/v1alpha1\nkind: WPApiPolicies\nmetadata: {name: x}\n",
			field: "",
			msg:   "unknown apiVersion/kind",
		},
		{
			name:  "unknown version of our kind",
			doc:   "apiVersion: policy.wpauthz.io/v1\nkind: WPApiPolicy\nmetadata: {name: x}\n",
			field: "",
			msg:   "unknown apiVersion/kind",
		},
		{
			name:  "foreign kind",
			doc:   "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\n",
			field: "",
			msg:   "unknown apiVersion/kind",
		},
		{
			name:  "missing kind",
			doc:   "apiVersion: policy.wpauthz.io/v1alpha1\nmetadata: {name: x}\n",
			field: "kind",
			msg:   "Required value",
		},
		{
			name:  "not a mapping",
			doc:   "- apiVersion: v1\n- kind: Secret\n",
			field: "",
			msg:   "must be a mapping",
		},
		{
			name:  "bad YAML",
			doc:   "apiVersion: v1\nkind: Secret\nmetadata:\n  name: [unclosed\n",
			field: "",
			msg:   "invalid YAML",
		},
		{
			name:  "duplicate YAML key",
			doc:   validPolicy + "  hosts: [other.example.com]\n",
			field: "",
			msg:   `key "hosts" already set`,
		},
		{
			name: "secret key name",
			doc: `apiVersion: v1
kind: Secret
metadata: {name: s}
stringData:
  "bad key!": x
`,
			field: "stringData[bad key!]",
			msg:   "invalid key",
		},
		{
			name: "secret data not base64",
			doc: `apiVersion: v1
kind: Secret
metadata: {name: s}
data:
  token: "not base64!"
`,
			field: "data[token]",
			msg:   "not valid base64",
		},
		{
			name: "secret stringData not a string",
			doc: `apiVersion: v1
kind: Secret
metadata: {name: s}
stringData:
  pin: 1234
`,
			field: "stringData[pin]",
			msg:   "must be a string",
		},
		{
			name: "secret of type TLS without its key",
			doc: `apiVersion: v1
kind: Secret
metadata: {name: s}
type: kubernetes.io/tls
stringData:
  tls.crt: x
`,
			field: "data[tls.key]",
			msg:   "Required value",
		},
		{
			name: "secret unknown field",
			doc: `apiVersion: v1
kind: Secret
metadata: {name: s}
strinData:
  a: b
`,
			field: "",
			msg:   `unknown field "strinData"`,
		},
		{
			name: "secret with a bad name",
			doc: `apiVersion: v1
kind: Secret
metadata: {name: -s}
`,
			field: "metadata.name",
			msg:   "RFC 1123 subdomain",
		},
	}
	dir := t.TempDir()
	l := newTestLoader(t, dir) // validators are built once, as in serve
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			writeFile(t, dir, "bad.yaml", tc.doc)
			b, err := l.Load()
			p := findProblem(t, err, tc.field, tc.msg)
			if p.File != filepath.Join(dir, "bad.yaml") || p.Doc != 1 || p.Line != 1 {
				t.Errorf("position = %s line %d doc %d, want bad.yaml line 1 doc 1", p.File, p.Line, p.Doc)
			}
			if len(b.Policies)+len(b.APIKeys)+len(b.OAuthClients)+len(b.Secrets) != 0 {
				t.Errorf("a failed Load returned resources: %+v", b)
			}
		})
	}
}

func TestLoadErrorPositions(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "a.yaml", validPolicy+`---
# second document
apiVersion: policy.wpauthz.io/v1alpha1
kind: ApiKey
metadata: {name: k, namespace: team}
spec:
  policyRef: {name: shop}
  roles: [Admin]
`)
	writeFile(t, dir, "b.yaml", "---\nkind: Secret\napiVersion: v1\nmetadata: {name: s}\ndata:\n  x: [1\n")
	_, err := newTestLoader(t, dir).Load()

	p := findProblem(t, err, "spec.roles[0]", "should match")
	if p.File != filepath.Join(dir, "a.yaml") || p.Doc != 2 || p.Line != 8 || p.Kind != "ApiKey" || p.Namespace != "team" || p.Name != "k" {
		t.Errorf("problem = %+v, want a.yaml line 8, document 2, ApiKey team/k", *p)
	}
	want := filepath.Join(dir, "a.yaml") + ":8: document 2: ApiKey team/k: spec.roles[0]: Invalid value: \"Admin\""
	if !strings.HasPrefix(p.Error(), want) {
		t.Errorf("Error() = %q, want prefix %q", p.Error(), want)
	}
	// Both files' problems are reported, and YAML errors carry the line
	// of the file, not of the document.
	y := findProblem(t, err, "", "invalid YAML")
	if y.File != filepath.Join(dir, "b.yaml") || !strings.Contains(y.Message, "line 6") {
		t.Errorf("YAML problem = %+v, want b.yaml at line 6", *y)
	}
	if !strings.Contains(err.Error(), "a.yaml") || !strings.Contains(err.Error(), "b.yaml") {
		t.Errorf("joined error does not name both files: %v", err)
	}
}

func TestLoadDuplicates(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "a.yaml", validPolicy)
	writeFile(t, dir, "b.yaml", "# the same policy again\n"+strings.Replace(validPolicy, "name: shop", "name: shop\n  namespace: default", 1))
	_, err := newTestLoader(t, dir).Load()
	p := findProblem(t, err, "", "duplicate WPApiPolicy default/shop")
	if p.File != filepath.Join(dir, "b.yaml") || !strings.Contains(p.Message, filepath.Join(dir, "a.yaml")+":1") {
		t.Errorf("duplicate problem = %+v, want it on b.yaml pointing at a.yaml:1", *p)
	}

	// The same name is fine for another kind or in another namespace.
	dir = t.TempDir()
	writeFile(t, dir, "a.yaml", validPolicy+"---\n"+strings.Replace(validPolicy, "name: shop", "name: shop\n  namespace: other", 1)+`---
apiVersion: v1
kind: Secret
metadata: {name: shop}
`)
	if _, err := newTestLoader(t, dir).Load(); err != nil {
		t.Fatalf("Load: %v", err)
	}
}

func TestLoadDropsStatus(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "p.yaml", validPolicy+`status:
  observedGeneration: 7
  bogus: true
`)
	b, err := newTestLoader(t, dir).Load()
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if b.Policies[0].Status.ObservedGeneration != 0 {
		t.Errorf("status kept: %+v", b.Policies[0].Status)
	}
}

func TestLoadNeverQuotesSecretValues(t *testing.T) {
	const secret = "hunter2-SUPERSECRET"
	dir := t.TempDir()
	writeFile(t, dir, "s.yaml", `apiVersion: v1
kind: Secret
metadata: {name: s, bogus: x}
type: kubernetes.io/dockerconfigjson
data:
  a: "`+secret+`"
  "bad key!": "`+secret+`"
  num: 12345
stringData:
  .dockerconfigjson: "{`+secret+`"
  b: [`+secret+`]
`)
	_, err := newTestLoader(t, dir).Load()
	if err == nil {
		t.Fatal("Load succeeded")
	}
	if strings.Contains(err.Error(), "SUPERSECRET") || strings.Contains(err.Error(), "12345") {
		t.Fatalf("error quotes a secret value: %v", err)
	}
	for _, want := range []string{"data[a]", "data[bad key!]: invalid key", "data[num]", "stringData[b]", "data[.dockerconfigjson]", `unknown field "metadata.bogus"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %s: %v", want, err)
		}
	}
}

// TestSchemaRejectsRuleThatDoesNotCompile checks that a CRD whose CEL rule
// does not compile fails when the validators are built (at startup), not
// on every object.
func TestSchemaRejectsRuleThatDoesNotCompile(t *testing.T) {
	crd := `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: things.example.com
spec:
  group: example.com
  names: {kind: Thing, listKind: ThingList, plural: things, singular: thing}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: integer}
            x-kubernetes-validations:
            - rule: RULE
`
	good, err := schemasFromCRD([]byte(strings.Replace(crd, "RULE", "self.size > 0", 1)))
	if err != nil || len(good) != 1 || good[0].cel == nil {
		t.Fatalf("valid CRD: %v (%d kinds)", err, len(good))
	}
	_, err = schemasFromCRD([]byte(strings.Replace(crd, "RULE", "self.sise > 0", 1)))
	if err == nil || !strings.Contains(err.Error(), "spec: x-kubernetes-validations[0] rule \"self.sise > 0\" does not compile") {
		t.Fatalf("err = %v, want a compile error naming spec and the rule", err)
	}
}

// TestEmbeddedCRDsBuild checks every kind of the Bundle has an embedded
// CRD with OpenAPI and CEL validators.
func TestEmbeddedCRDsBuild(t *testing.T) {
	kinds, err := loadSchemas()
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range bundleKinds {
		ks := kinds[v1alpha1.GroupVersion.WithKind(kind)]
		if ks == nil || ks.validator == nil || ks.cel == nil || !ks.namespaced || !ks.statusSubresource {
			t.Errorf("%s: schema %+v", kind, ks)
		}
	}
}

// One file of many documents: every resource is loaded, and the
// positions of problems deep in the file (a YAML syntax error, a
// duplicate key, a schema error, a duplicate resource) are lines of the
// file, though each document is parsed on its own.
func TestLoadManyDocumentsInOneFile(t *testing.T) {
	const n = 1000
	var b strings.Builder
	b.WriteString(validPolicy)
	line := strings.Count(validPolicy, "\n") + 1
	for i := range n {
		fmt.Fprintf(&b, "---\napiVersion: v1\nkind: Secret\nmetadata: {name: key-%d}\nstringData:\n  key: wpk_%d\n", i, i)
		line += 6
	}
	dir := t.TempDir()
	writeFile(t, dir, "many.yaml", b.String())
	l := newTestLoader(t, dir)
	bundle, err := l.Load()
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if len(bundle.Secrets) != n || len(bundle.Policies) != 1 {
		t.Fatalf("loaded %d secrets and %d policies, want %d and 1", len(bundle.Secrets), len(bundle.Policies), n)
	}

	// line is now where the next "---" goes: append bad documents. The
	// line of a problem is the parser's for YAML errors, else the
	// document's first line (after its "---").
	bad := []struct {
		doc   string
		line  int // of the problem, in the file
		field string
		msg   string
	}{
		{doc: "apiVersion: v1\nkind: Secret\nmetadata: {name: syntax}\ndata:\n  x: [1\n", line: line + 5, msg: "invalid YAML"},
		{doc: "apiVersion: v1\nkind: Secret\nmetadata: {name: dupkey}\nkind: Secret\n", line: line + 6 + 4, msg: "already set"},
		{doc: "apiVersion: policy.wpauthz.io/v1alpha1\nkind: ApiKey\nmetadata: {name: k}\nspec:\n  policyRef: {name: shop}\n  roles: [Admin]\n", line: line + 6 + 5 + 1, field: "spec.roles[0]", msg: "should match"},
		{doc: "apiVersion: v1\nkind: Secret\nmetadata: {name: key-7}\n", line: line + 6 + 5 + 7 + 1, msg: "duplicate Secret default/key-7: already defined in " + filepath.Join(dir, "many.yaml") + ":" + strconv.Itoa(strings.Count(validPolicy, "\n")+2+7*6)},
	}
	for _, d := range bad {
		b.WriteString("---\n" + d.doc)
	}
	writeFile(t, dir, "many.yaml", b.String())
	_, err = l.Load()
	for i, d := range bad {
		p := findProblem(t, err, d.field, d.msg)
		switch {
		case d.field == "" && strings.Contains(d.msg, "YAML") || d.msg == "already set":
			// The parser's own line: the offending line of the file.
			if want := fmt.Sprintf("line %d", d.line); !strings.Contains(p.Message, want) {
				t.Errorf("bad document %d: %q does not say %q", i, p.Message, want)
			}
		default:
			// Other problems point at the document's first line.
			if p.Line != d.line {
				t.Errorf("bad document %d: line %d, want %d (%v)", i, p.Line, d.line, p)
			}
		}
		if p.Doc != n+2+i {
			t.Errorf("bad document %d: document %d, want %d", i, p.Doc, n+2+i)
		}
	}
}
