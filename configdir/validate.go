package configdir

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	structurallisttype "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/listtype"
	schemaobjectmeta "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/objectmeta"
	structuralpruning "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	kjson "sigs.k8s.io/json"

	"github.com/wpauthz/wpauthz/api/v1alpha1"
	"github.com/wpauthz/wpauthz/authz/policy"
)

// bundleKinds are the policy.wpauthz.io kinds a policy.Bundle holds.
var bundleKinds = []string{"WPApiPolicy", "ApiKey", "OAuthClient"}

var (
	secretGVK    = corev1.SchemeGroupVersion.WithKind("Secret")
	namespaceGVK = corev1.SchemeGroupVersion.WithKind("Namespace")
)

// decodeCustomResource does to obj what the API server does to a custom
// resource on create, in the same order:
//
//   - decoding (unstructuredSchemaCoercer): object metadata is decoded
//     strictly (schemaobjectmeta.GetObjectMetaWithOptions), fields the
//     structural schema does not know are pruned and recorded
//     (structuralpruning.PruneWithOptions), nulls without defaults are
//     dropped (structuraldefaulting.PruneNonNullableNullsWithoutDefaults)
//     and embedded metadata coerced (schemaobjectmeta.CoerceWithOptions);
//     the recorded unknown fields are errors, as with fieldValidation=Strict;
//   - defaulting (structuraldefaulting.Default);
//   - the create strategy: .status dropped, generation 1; then validation:
//     metadata (apivalidation.ValidateObjectMeta, DNS-subdomain names),
//     the OpenAPI schema (apiservervalidation.ValidateCustomResource),
//     embedded resources (schemaobjectmeta.Validate), list-type set/map
//     uniqueness (structurallisttype.ValidateListSetsAndMaps) and, unless
//     an earlier error blocks it, the CEL rules (cel.Validator.Validate with
//     the API server's per-object budget celconfig.RuntimeCELCostBudget).
//
// Finally the object is converted, strictly, to its Go type. pos gets the
// object's decoded name and namespace.
func (l *Loader) decodeCustomResource(ks *kindSchema, obj map[string]any, pos *Error) (func(*policy.Bundle), []*Error) {
	ctx := context.Background()

	if ks.statusSubresource {
		delete(obj, "status")
	}
	meta, found, unknown, err := schemaobjectmeta.GetObjectMetaWithOptions(obj, schemaobjectmeta.ObjectMetaOptions{ReturnUnknownFieldPaths: true})
	if err != nil {
		return nil, []*Error{{Field: "metadata", Message: err.Error()}}
	}
	if !found {
		meta = &metav1.ObjectMeta{}
	}
	if ks.namespaced && meta.Namespace == "" {
		meta.Namespace = DefaultNamespace
	}
	meta.Generation = 1
	pos.Name, pos.Namespace = meta.Name, meta.Namespace

	unknown = append(unknown, structuralpruning.PruneWithOptions(obj, ks.structural, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true})...)
	structuraldefaulting.PruneNonNullableNullsWithoutDefaults(obj, ks.structural)
	ferr, paths := schemaobjectmeta.CoerceWithOptions(nil, obj, ks.structural, false, schemaobjectmeta.CoerceOptions{ReturnUnknownFieldPaths: true})
	if ferr != nil {
		return nil, fromFieldErrors(field.ErrorList{ferr})
	}
	unknown = append(unknown, paths...)
	if err := schemaobjectmeta.SetObjectMeta(obj, meta); err != nil {
		return nil, []*Error{{Field: "metadata", Message: err.Error()}}
	}
	structuraldefaulting.Default(obj, ks.structural)

	var errs []*Error
	sort.Strings(unknown)
	for _, p := range unknown {
		errs = append(errs, &Error{Field: p, Message: fmt.Sprintf("unknown field: the %s schema has no such field (misspelled?)", ks.gvk.Kind)})
	}
	var ferrs field.ErrorList
	ferrs = append(ferrs, apivalidation.ValidateObjectMeta(meta, ks.namespaced, apivalidation.NameIsDNSSubdomain, field.NewPath("metadata"))...)
	ferrs = append(ferrs, apiservervalidation.ValidateCustomResource(nil, obj, ks.validator)...)
	ferrs = append(ferrs, schemaobjectmeta.Validate(ctx, nil, obj, ks.structural, false)...)
	ferrs = append(ferrs, structurallisttype.ValidateListSetsAndMaps(nil, ks.structural, obj)...)
	errs = append(errs, fromFieldErrors(ferrs)...)
	if ks.cel != nil {
		if blocksCEL(ferrs) {
			errs = append(errs, &Error{Message: "some validation rules were not checked because the object was invalid; correct the existing errors to complete validation"})
		} else {
			celErrs, _ := ks.cel.Validate(ctx, nil, ks.structural, obj, nil, celconfig.RuntimeCELCostBudget)
			errs = append(errs, fromFieldErrors(celErrs)...)
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	// The schemas type durations as plain strings; the Go type parses
	// them. Report a bad one on its field rather than as a decode error.
	if t := goType(ks.gvk); t != nil {
		if derrs := checkDurations(obj, t, nil); len(derrs) > 0 {
			return nil, fromFieldErrors(derrs)
		}
	}
	add, err := typed(ks.gvk, obj)
	if err != nil {
		return nil, []*Error{{Message: err.Error()}}
	}
	return add, nil
}

// blocksCEL reports errors after which the API server does not run the
// CEL rules (customResourceStrategy.Validate: hasBlockingErr).
func blocksCEL(errs field.ErrorList) bool {
	for _, e := range errs {
		switch e.Type {
		case field.ErrorTypeNotSupported, field.ErrorTypeRequired, field.ErrorTypeTooLong, field.ErrorTypeTooMany, field.ErrorTypeTypeInvalid:
			return true
		}
	}
	return false
}

// typed converts a validated object to its Go type. Strict: a field the
// Go type lacks (the CRD and api/v1alpha1 out of step) is an error.
func typed(gvk schema.GroupVersionKind, obj map[string]any) (func(*policy.Bundle), error) {
	if gvk.GroupVersion() != v1alpha1.GroupVersion {
		return nil, fmt.Errorf("%s is not supported in standalone mode", gvk)
	}
	switch gvk.Kind {
	case "WPApiPolicy":
		var o v1alpha1.WPApiPolicy
		if err := fromUnstructured(obj, &o); err != nil {
			return nil, err
		}
		return func(b *policy.Bundle) { b.Policies = append(b.Policies, o) }, nil
	case "ApiKey":
		var o v1alpha1.ApiKey
		if err := fromUnstructured(obj, &o); err != nil {
			return nil, err
		}
		return func(b *policy.Bundle) { b.APIKeys = append(b.APIKeys, o) }, nil
	case "OAuthClient":
		var o v1alpha1.OAuthClient
		if err := fromUnstructured(obj, &o); err != nil {
			return nil, err
		}
		return func(b *policy.Bundle) { b.OAuthClients = append(b.OAuthClients, o) }, nil
	}
	return nil, fmt.Errorf("%s is not supported in standalone mode", gvk)
}

// goType is the Go type of a kind in api/v1alpha1, or nil.
func goType(gvk schema.GroupVersionKind) reflect.Type {
	if gvk.GroupVersion() != v1alpha1.GroupVersion {
		return nil
	}
	switch gvk.Kind {
	case "WPApiPolicy":
		return reflect.TypeFor[v1alpha1.WPApiPolicy]()
	case "ApiKey":
		return reflect.TypeFor[v1alpha1.ApiKey]()
	case "OAuthClient":
		return reflect.TypeFor[v1alpha1.OAuthClient]()
	}
	return nil
}

var durationType = reflect.TypeFor[metav1.Duration]()

// checkDurations walks v (unstructured) along the Go type t and checks
// every metav1.Duration parses as one.
func checkDurations(v any, t reflect.Type, pth *field.Path) field.ErrorList {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == durationType {
		if s, ok := v.(string); ok {
			if _, err := time.ParseDuration(s); err != nil {
				return field.ErrorList{field.Invalid(pth, s, "must be a duration such as 30s, 15m or 1h30m (units ns, us, ms, s, m, h)")}
			}
		}
		return nil
	}
	var errs field.ErrorList
	switch t.Kind() {
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
			switch {
			case name == "" && strings.Contains(opts, "inline"):
				errs = append(errs, checkDurations(v, f.Type, pth)...)
			case name != "" && name != "-":
				if fv, ok := m[name]; ok {
					errs = append(errs, checkDurations(fv, f.Type, pth.Child(name))...)
				}
			}
		}
	case reflect.Slice:
		if l, ok := v.([]any); ok {
			for i, item := range l {
				errs = append(errs, checkDurations(item, t.Elem(), pth.Index(i))...)
			}
		}
	case reflect.Map:
		if m, ok := v.(map[string]any); ok {
			for _, k := range sortedKeys(m) {
				errs = append(errs, checkDurations(m[k], t.Elem(), pth.Key(k))...)
			}
		}
	}
	return errs
}

func fromUnstructured(obj map[string]any, into any) error {
	if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(obj, into, true); err != nil {
		return fmt.Errorf("cannot decode into the Go type: %w", err)
	}
	return nil
}

func fromFieldErrors(errs field.ErrorList) []*Error {
	out := make([]*Error, 0, len(errs))
	for _, e := range errs {
		out = append(out, &Error{Field: e.Field, Message: e.ErrorBody()})
	}
	return out
}

// decodeSecret does to a v1 Secret what the API server does on create:
// strict decoding, conversion (stringData merged over data), defaulting
// (type Opaque) and the core validation of Secrets (metadata, key names,
// total size, the keys each well-known type requires). No message quotes
// a value: data and stringData are read by hand, never by a decoder that
// might echo them.
func decodeSecret(obj map[string]any, pos *Error) (func(*policy.Bundle), []*Error) {
	var errs []*Error
	bad := func(pth *field.Path, msg string) {
		errs = append(errs, &Error{Field: pth.String(), Message: msg})
	}
	dataPath, stringDataPath := field.NewPath("data"), field.NewPath("stringData")
	badKey := func(pth *field.Path, k string) {
		for _, msg := range utilvalidation.IsConfigMapKey(k) {
			bad(pth.Key(k), "invalid key: "+msg)
		}
	}

	data := map[string][]byte{}
	stringData := map[string]string{}
	if raw := obj["data"]; raw != nil {
		m, ok := raw.(map[string]any)
		if !ok {
			bad(dataPath, "must be a map of keys to base64-encoded values")
		}
		for _, k := range sortedKeys(m) {
			badKey(dataPath, k)
			switch v := m[k].(type) {
			case nil:
				data[k] = nil
			case string:
				b, err := base64.StdEncoding.DecodeString(v)
				if err != nil {
					bad(dataPath.Key(k), "value is not valid base64 (the value is not shown); use stringData for plain text")
					continue
				}
				data[k] = b
			default:
				bad(dataPath.Key(k), "value must be a base64-encoded string")
			}
		}
	}
	if raw := obj["stringData"]; raw != nil {
		m, ok := raw.(map[string]any)
		if !ok {
			bad(stringDataPath, "must be a map of keys to strings")
		}
		for _, k := range sortedKeys(m) {
			badKey(stringDataPath, k)
			switch v := m[k].(type) {
			case nil:
				stringData[k] = ""
			case string:
				stringData[k] = v
			default:
				bad(stringDataPath.Key(k), "value must be a string (quote it in YAML)")
			}
		}
	}
	delete(obj, "data")
	delete(obj, "stringData")

	var sec corev1.Secret
	rest, err := json.Marshal(obj)
	if err != nil {
		return nil, append(errs, &Error{Message: err.Error()})
	}
	strictErrs, err := kjson.UnmarshalStrict(rest, &sec)
	if err != nil {
		return nil, append(errs, &Error{Message: "invalid Secret: " + err.Error()})
	}
	for _, e := range strictErrs {
		errs = append(errs, &Error{Message: e.Error()})
	}

	if sec.Namespace == "" {
		sec.Namespace = DefaultNamespace
	}
	pos.Name, pos.Namespace = sec.Name, sec.Namespace
	if sec.Type == "" {
		sec.Type = corev1.SecretTypeOpaque
	}

	// Conversion from v1: stringData entries overwrite data entries.
	sec.Data = data
	for k, v := range stringData {
		sec.Data[k] = []byte(v)
	}
	sec.StringData = nil

	errs = append(errs, fromFieldErrors(apivalidation.ValidateObjectMeta(&sec.ObjectMeta, true, apivalidation.NameIsDNSSubdomain, field.NewPath("metadata")))...)
	size := 0
	for _, v := range sec.Data {
		size += len(v)
	}
	if size > corev1.MaxSecretSize {
		bad(dataPath, fmt.Sprintf("Too long: the values may total at most %d bytes", corev1.MaxSecretSize))
	}
	errs = append(errs, validateSecretType(&sec, dataPath)...)

	if len(errs) > 0 {
		return nil, errs
	}
	return func(b *policy.Bundle) { b.Secrets = append(b.Secrets, sec) }, nil
}

// validateSecretType checks the keys the well-known Secret types require,
// as the API server does.
func validateSecretType(sec *corev1.Secret, dataPath *field.Path) []*Error {
	var errs []*Error
	required := func(pth *field.Path) {
		errs = append(errs, &Error{Field: pth.String(), Message: fmt.Sprintf("Required value: a Secret of type %s needs it", sec.Type)})
	}
	has := func(k string) bool { _, ok := sec.Data[k]; return ok }
	switch sec.Type {
	case corev1.SecretTypeServiceAccountToken:
		if sec.Annotations[corev1.ServiceAccountNameKey] == "" {
			required(field.NewPath("metadata", "annotations").Key(corev1.ServiceAccountNameKey))
		}
	case corev1.SecretTypeDockercfg, corev1.SecretTypeDockerConfigJson:
		key := corev1.DockerConfigKey
		if sec.Type == corev1.SecretTypeDockerConfigJson {
			key = corev1.DockerConfigJsonKey
		}
		if !has(key) {
			required(dataPath.Key(key))
		} else if !json.Valid(sec.Data[key]) {
			errs = append(errs, &Error{Field: dataPath.Key(key).String(), Message: "Invalid value: must be valid JSON (the value is not shown)"})
		}
	case corev1.SecretTypeBasicAuth:
		if !has(corev1.BasicAuthUsernameKey) && !has(corev1.BasicAuthPasswordKey) {
			required(dataPath.Key(corev1.BasicAuthUsernameKey))
			required(dataPath.Key(corev1.BasicAuthPasswordKey))
		}
	case corev1.SecretTypeSSHAuth:
		if len(sec.Data[corev1.SSHAuthPrivateKey]) == 0 {
			required(dataPath.Key(corev1.SSHAuthPrivateKey))
		}
	case corev1.SecretTypeTLS:
		if !has(corev1.TLSCertKey) {
			required(dataPath.Key(corev1.TLSCertKey))
		}
		if !has(corev1.TLSPrivateKeyKey) {
			required(dataPath.Key(corev1.TLSPrivateKeyKey))
		}
	}
	return errs
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
