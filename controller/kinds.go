package controller

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/wpauthz/wpauthz/api/v1alpha1"
)

// Kind names as policy.Problem reports them.
const (
	kindPolicy = "WPApiPolicy"
	kindAPIKey = "ApiKey"
	kindClient = "OAuthClient"
)

// objKey identifies one resource.
type objKey struct {
	Kind      string
	Namespace string
	Name      string
}

func (k objKey) String() string { return k.Kind + " " + k.Namespace + "/" + k.Name }

func (k objKey) nn() types.NamespacedName {
	return types.NamespacedName{Namespace: k.Namespace, Name: k.Name}
}

// kind describes one of the three resource kinds to the generic code.
type kind struct {
	name      string
	newObject func() client.Object
	newList   func() client.ObjectList
	listItems func(client.ObjectList) []client.Object
	// secretNames lists the Secrets an object reads, in its namespace;
	// for an ApiKey with a generated key, the Secret the controller owns.
	secretNames func(client.Object) []string
	// renameSecrets returns a deep copy of o whose Secret references are
	// renamed by f (to compile a last good version with its own Secrets).
	renameSecrets func(o client.Object, f func(string) string) client.Object
}

var (
	policyKind = &kind{
		name:      kindPolicy,
		newObject: func() client.Object { return &v1alpha1.WPApiPolicy{} },
		newList:   func() client.ObjectList { return &v1alpha1.WPApiPolicyList{} },
		listItems: func(l client.ObjectList) []client.Object {
			items := l.(*v1alpha1.WPApiPolicyList).Items
			out := make([]client.Object, len(items))
			for i := range items {
				out[i] = &items[i]
			}
			return out
		},
		// Every SecretKeySelector and SecretReference in the spec: the JWT
		// keys, the identity key, the WordPress database, and whatever
		// later fields name a Secret.
		secretNames: func(o client.Object) []string {
			return secretRefNames(&o.(*v1alpha1.WPApiPolicy).Spec)
		},
		renameSecrets: func(o client.Object, f func(string) string) client.Object {
			p := o.(*v1alpha1.WPApiPolicy).DeepCopy()
			renameSecretRefs(&p.Spec, f)
			return p
		},
	}
	apiKeyKind = &kind{
		name:      kindAPIKey,
		newObject: func() client.Object { return &v1alpha1.ApiKey{} },
		newList:   func() client.ObjectList { return &v1alpha1.ApiKeyList{} },
		listItems: func(l client.ObjectList) []client.Object {
			items := l.(*v1alpha1.ApiKeyList).Items
			out := make([]client.Object, len(items))
			for i := range items {
				out[i] = &items[i]
			}
			return out
		},
		secretNames: func(o client.Object) []string {
			k := o.(*v1alpha1.ApiKey)
			if k.Spec.SecretRef == nil {
				return append(secretRefNames(&k.Spec), GeneratedSecretName(k.Name))
			}
			return secretRefNames(&k.Spec)
		},
		renameSecrets: func(o client.Object, f func(string) string) client.Object {
			k := o.(*v1alpha1.ApiKey).DeepCopy()
			renameSecretRefs(&k.Spec, f)
			return k
		},
	}
	clientKind = &kind{
		name:      kindClient,
		newObject: func() client.Object { return &v1alpha1.OAuthClient{} },
		newList:   func() client.ObjectList { return &v1alpha1.OAuthClientList{} },
		listItems: func(l client.ObjectList) []client.Object {
			items := l.(*v1alpha1.OAuthClientList).Items
			out := make([]client.Object, len(items))
			for i := range items {
				out[i] = &items[i]
			}
			return out
		},
		secretNames: func(o client.Object) []string {
			return secretRefNames(&o.(*v1alpha1.OAuthClient).Spec)
		},
		renameSecrets: func(o client.Object, f func(string) string) client.Object {
			c := o.(*v1alpha1.OAuthClient).DeepCopy()
			renameSecretRefs(&c.Spec, f)
			return c
		},
	}
	kinds = []*kind{policyKind, apiKeyKind, clientKind}
)

// Generated API keys.
const (
	// GeneratedSecretKey is the data key of a generated API key.
	GeneratedSecretKey = "key"
	// LabelAPIKey labels the Secret of a generated key with its ApiKey's name.
	LabelAPIKey = "policy.wpauthz.io/apikey"
)

// GeneratedSecretName is the name of the Secret holding the generated key
// of the ApiKey named apiKey: "<apiKey>-apikey", shortened with a hash
// when that would exceed the 253 characters a Secret name may have.
func GeneratedSecretName(apiKey string) string {
	const suffix = "-apikey"
	if len(apiKey)+len(suffix) <= 253 {
		return apiKey + suffix
	}
	sum := sha256.Sum256([]byte(apiKey))
	h := hex.EncodeToString(sum[:5])
	return strings.TrimRight(apiKey[:253-len(suffix)-len(h)-1], ".-") + "-" + h + suffix
}
