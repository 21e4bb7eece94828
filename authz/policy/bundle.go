package policy

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/wpauthz/wpauthz/api/v1alpha1"
)

// Bundle is every resource a snapshot is compiled from. Standalone mode
// reads it from a folder; in a cluster the controller lists it.
type Bundle struct {
	Policies     []v1alpha1.WPApiPolicy
	APIKeys      []v1alpha1.ApiKey
	OAuthClients []v1alpha1.OAuthClient
	Secrets      []corev1.Secret
}

// Problem is a resource that could not be compiled. Reason is a status
// condition reason (v1alpha1.Reason*); Message explains it without ever
// quoting secret material.
type Problem struct {
	Kind      string
	Namespace string
	Name      string
	Reason    string
	Message   string
}

func (p Problem) Error() string {
	return p.Kind + " " + p.Namespace + "/" + p.Name + ": " + p.Reason + ": " + p.Message
}
