package configdir

import (
	"fmt"
	"sort"

	apihelpers "k8s.io/apiextensions-apiserver/pkg/apihelpers"
	apiextensionsinternal "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel/model"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"k8s.io/apiserver/pkg/cel/environment"
	"sigs.k8s.io/yaml"

	crdfiles "github.com/wpauthz/wpauthz/config/crd"
)

// kindSchema is everything the API server derives from a CRD version to
// accept objects of that kind, built once.
type kindSchema struct {
	gvk        schema.GroupVersionKind
	namespaced bool
	// statusSubresource: on create the API server drops .status.
	statusSubresource bool
	// structural is the structural schema with defaults pruned, as the
	// API server keeps it for pruning, defaulting and CEL.
	structural *structuralschema.Structural
	// validator checks the OpenAPI v3 value validations (types, enums,
	// patterns, bounds, required, formats).
	validator apiservervalidation.SchemaValidator
	// cel evaluates x-kubernetes-validations; nil when the schema has none.
	cel *cel.Validator
}

// loadSchemas decodes the embedded CRDs, validates each one as the API
// server does when the CRD is created, and builds the per-kind validators
// for every served version.
func loadSchemas() (map[schema.GroupVersionKind]*kindSchema, error) {
	files, err := crdfiles.Files()
	if err != nil {
		return nil, fmt.Errorf("listing embedded CRDs: %w", err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no CRDs embedded in package crd")
	}
	out := map[schema.GroupVersionKind]*kindSchema{}
	for _, name := range files {
		data, err := crdfiles.Bases.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("reading embedded CRD %s: %w", name, err)
		}
		kinds, err := schemasFromCRD(data)
		if err != nil {
			return nil, fmt.Errorf("embedded CRD %s: %w", name, err)
		}
		for _, k := range kinds {
			if _, dup := out[k.gvk]; dup {
				return nil, fmt.Errorf("embedded CRD %s: %s is defined twice", name, k.gvk)
			}
			out[k.gvk] = k
		}
	}
	return out, nil
}

func schemasFromCRD(data []byte) ([]*kindSchema, error) {
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := yaml.UnmarshalStrict(data, crd); err != nil {
		return nil, fmt.Errorf("decoding: %w", err)
	}
	if crd.APIVersion != apiextensionsv1.SchemeGroupVersion.String() || crd.Kind != "CustomResourceDefinition" {
		return nil, fmt.Errorf("not an apiextensions.k8s.io/v1 CustomResourceDefinition (apiVersion %q, kind %q)", crd.APIVersion, crd.Kind)
	}
	apiextensionsv1.SetObjectDefaults_CustomResourceDefinition(crd)

	var out []*kindSchema
	for _, v := range crd.Spec.Versions {
		if !v.Served {
			continue
		}
		val, err := apihelpers.GetSchemaForVersion(crd, v.Name)
		if err != nil {
			return nil, fmt.Errorf("version %s: %w", v.Name, err)
		}
		if val == nil || val.OpenAPIV3Schema == nil {
			return nil, fmt.Errorf("version %s has no schema", v.Name)
		}
		internalVal := &apiextensionsinternal.CustomResourceValidation{}
		if err := apiextensionsv1.Convert_v1_CustomResourceValidation_To_apiextensions_CustomResourceValidation(val, internalVal, nil); err != nil {
			return nil, fmt.Errorf("version %s: converting the schema: %w", v.Name, err)
		}
		s, err := structuralschema.NewStructural(internalVal.OpenAPIV3Schema)
		if err != nil {
			return nil, fmt.Errorf("version %s: schema is not structural: %w", v.Name, err)
		}
		// Like the API server: keep a private copy whose defaults are
		// pruned (defaults themselves must not carry unknown fields).
		s = s.DeepCopy()
		if err := structuraldefaulting.PruneDefaults(s); err != nil {
			return nil, fmt.Errorf("version %s: pruning defaults: %w", v.Name, err)
		}
		if err := checkRulesCompile(s, nil, true); err != nil {
			return nil, fmt.Errorf("version %s: %w", v.Name, err)
		}
		validator, _, err := apiservervalidation.NewSchemaValidator(internalVal.OpenAPIV3Schema)
		if err != nil {
			return nil, fmt.Errorf("version %s: building the schema validator: %w", v.Name, err)
		}
		subresources, err := apihelpers.GetSubresourcesForVersion(crd, v.Name)
		if err != nil {
			return nil, fmt.Errorf("version %s: %w", v.Name, err)
		}
		out = append(out, &kindSchema{
			gvk:               schema.GroupVersionKind{Group: crd.Spec.Group, Version: v.Name, Kind: crd.Spec.Names.Kind},
			namespaced:        crd.Spec.Scope == apiextensionsv1.NamespaceScoped,
			statusSubresource: subresources != nil && subresources.Status != nil,
			structural:        s,
			validator:         validator,
			// Programs are compiled here, once; each object then gets
			// the API server's per-object budget at Validate time.
			cel: cel.NewValidator(s, true, celconfig.PerCallLimit),
		})
	}
	return out, nil
}

// checkRulesCompile compiles every x-kubernetes-validations rule of s, as
// the API server does when the CRD is created, and fails on the first that
// does not compile. (cel.NewValidator keeps compile errors and reports
// them on every object instead; failing at startup is clearer.) The
// estimated-cost limits are not re-checked here: they are the API
// server's concern when the CRDs are installed.
func checkRulesCompile(s *structuralschema.Structural, pth *field.Path, isResourceRoot bool) error {
	if len(s.XValidations) > 0 {
		envSet := environment.MustBaseEnvSet(environment.DefaultCompatibilityVersion())
		results, err := cel.Compile(s, model.SchemaDeclType(s, isResourceRoot), celconfig.PerCallLimit, envSet, cel.NewExpressionsEnvLoader())
		if err != nil {
			return fmt.Errorf("%s: compiling x-kubernetes-validations: %w", pathString(pth), err)
		}
		for i, r := range results {
			if r.Error != nil {
				return fmt.Errorf("%s: x-kubernetes-validations[%d] rule %q does not compile: %v", pathString(pth), i, s.XValidations[i].Rule, r.Error)
			}
			if r.MessageExpressionError != nil {
				return fmt.Errorf("%s: x-kubernetes-validations[%d] messageExpression does not compile: %v", pathString(pth), i, r.MessageExpressionError)
			}
		}
	}
	names := make([]string, 0, len(s.Properties))
	for name := range s.Properties {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if isResourceRoot && name == "metadata" {
			continue
		}
		prop := s.Properties[name]
		if err := checkRulesCompile(&prop, pth.Child(name), false); err != nil {
			return err
		}
	}
	if s.Items != nil {
		if err := checkRulesCompile(s.Items, pth.Key("*"), false); err != nil {
			return err
		}
	}
	if s.AdditionalProperties != nil && s.AdditionalProperties.Structural != nil {
		if err := checkRulesCompile(s.AdditionalProperties.Structural, pth.Key("*"), false); err != nil {
			return err
		}
	}
	return nil
}

func pathString(p *field.Path) string {
	if p == nil {
		return "<root>"
	}
	return p.String()
}
