package controller

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/wpauthz/wpauthz/api/v1alpha1"
)

// These tests need no API server.

func TestSecretRefNames(t *testing.T) {
	p := testPolicy("ns", "p", "example.com", "jwt")
	p.Spec.Identity.SigningKeySecretRef = &v1alpha1.SecretKeySelector{Name: "id", Key: "ed25519.pem"}
	if got, want := policyKind.secretNames(p), []string{"id", "jwt"}; !slices.Equal(got, want) {
		t.Fatalf("policy Secrets %v, want %v", got, want)
	}
	renamed := policyKind.renameSecrets(p, func(s string) string { return "~" + s }).(*v1alpha1.WPApiPolicy)
	if got, want := policyKind.secretNames(renamed), []string{"~id", "~jwt"}; !slices.Equal(got, want) {
		t.Fatalf("renamed policy Secrets %v, want %v", got, want)
	}
	if got := policyKind.secretNames(p); !slices.Equal(got, []string{"id", "jwt"}) {
		t.Fatalf("renaming changed the original: %v", got)
	}
	if got := apiKeyKind.secretNames(testAPIKey("ns", "robot", "p", "")); !slices.Equal(got, []string{"robot-apikey"}) {
		t.Fatalf("generated key Secret %v", got)
	}
	if got := apiKeyKind.secretNames(testAPIKey("ns", "k", "p", "mine")); !slices.Equal(got, []string{"mine"}) {
		t.Fatalf("key Secret %v", got)
	}
}

// TestEverySecretRefIsSeen guards the Secret index and the last good
// copies: every API field whose name says it references a Secret must be
// one of the two types the walker follows.
func TestEverySecretRefIsSeen(t *testing.T) {
	seen := map[reflect.Type]bool{}
	var check func(path string, typ reflect.Type)
	check = func(path string, typ reflect.Type) {
		for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice || typ.Kind() == reflect.Map {
			typ = typ.Elem()
		}
		if typ.Kind() != reflect.Struct || seen[typ] || typ.PkgPath() != reflect.TypeFor[v1alpha1.WPApiPolicySpec]().PkgPath() {
			return
		}
		seen[typ] = true
		for i := range typ.NumField() {
			f := typ.Field(i)
			ft := f.Type
			for ft.Kind() == reflect.Pointer || ft.Kind() == reflect.Slice {
				ft = ft.Elem()
			}
			if strings.Contains(strings.ToLower(f.Name), "secret") && ft != secretKeySelectorType && ft != secretReferenceType {
				t.Errorf("%s.%s names a Secret with type %s, which the Secret index does not follow", path, f.Name, ft)
			}
			check(path+"."+f.Name, f.Type)
		}
	}
	check("WPApiPolicySpec", reflect.TypeFor[v1alpha1.WPApiPolicySpec]())
	check("ApiKeySpec", reflect.TypeFor[v1alpha1.ApiKeySpec]())
	check("OAuthClientSpec", reflect.TypeFor[v1alpha1.OAuthClientSpec]())
}

func TestGeneratedSecretName(t *testing.T) {
	if got := GeneratedSecretName("robot"); got != "robot-apikey" {
		t.Fatal(got)
	}
	long := strings.Repeat("a.", 126) + "b" // 253 characters
	got := GeneratedSecretName(long)
	if len(got) > 253 || !strings.HasSuffix(got, "-apikey") || strings.Contains(got, ".-") {
		t.Fatalf("%d characters: %s", len(got), got)
	}
	if got == GeneratedSecretName(long[:251]+"c") {
		t.Fatal("two long names share a Secret")
	}
}
