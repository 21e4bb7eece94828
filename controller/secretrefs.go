package controller

import (
	"reflect"
	"slices"

	"github.com/wpauthz/wpauthz/api/v1alpha1"
)

var (
	secretKeySelectorType = reflect.TypeFor[v1alpha1.SecretKeySelector]()
	secretReferenceType   = reflect.TypeFor[v1alpha1.SecretReference]()
)

// secretRefNames returns the names of the Secrets referenced anywhere in
// spec (a pointer to a struct): every v1alpha1.SecretKeySelector and
// v1alpha1.SecretReference, however deep, in lexical order without
// duplicates. Walking the types keeps the Secret index and the last good
// copies right when a new field names a Secret.
func secretRefNames(spec any) []string {
	var names []string
	walkSecretRefs(reflect.ValueOf(spec), func(ref reflect.Value) {
		if n := ref.FieldByName("Name").String(); n != "" {
			names = append(names, n)
		}
	})
	slices.Sort(names)
	return slices.Compact(names)
}

// renameSecretRefs renames, in place, every Secret referenced in spec.
func renameSecretRefs(spec any, f func(string) string) {
	walkSecretRefs(reflect.ValueOf(spec), func(ref reflect.Value) {
		if name := ref.FieldByName("Name"); name.CanSet() && name.String() != "" {
			name.SetString(f(name.String()))
		}
	})
}

// secretRefKeys returns, for every Secret referenced anywhere in v (a
// pointer), the data keys a compile reads from it: the key of each
// SecretKeySelector, or nil (every key) when a SecretReference names the
// Secret as a whole.
func secretRefKeys(v any) map[string][]string {
	whole := map[string]bool{}
	keys := map[string][]string{}
	walkSecretRefs(reflect.ValueOf(v), func(ref reflect.Value) {
		name := ref.FieldByName("Name").String()
		if name == "" {
			return
		}
		if ref.Type() == secretReferenceType {
			whole[name] = true
			return
		}
		keys[name] = append(keys[name], ref.FieldByName("Key").String())
	})
	for name := range whole {
		keys[name] = nil
	}
	for name, ks := range keys {
		if ks != nil {
			slices.Sort(ks)
			keys[name] = slices.Compact(ks)
		}
	}
	return keys
}

// walkSecretRefs calls visit with every SecretKeySelector and
// SecretReference reachable from v.
func walkSecretRefs(v reflect.Value, visit func(ref reflect.Value)) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			walkSecretRefs(v.Elem(), visit)
		}
	case reflect.Struct:
		if t := v.Type(); t == secretKeySelectorType || t == secretReferenceType {
			visit(v)
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				walkSecretRefs(v.Field(i), visit)
			}
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			walkSecretRefs(v.Index(i), visit)
		}
	case reflect.Map:
		it := v.MapRange()
		for it.Next() {
			// Map values are not addressable: references inside maps are
			// found but cannot be renamed (the API has none).
			walkSecretRefs(it.Value(), visit)
		}
	}
}
