package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ApiKeySpec defines an API key for one WPApiPolicy.
// +kubebuilder:validation:XValidation:rule="has(self.user) || (has(self.roles) && size(self.roles) > 0)",message="a universal key (no user) needs at least one role"
type ApiKeySpec struct {
	// PolicyRef is the WPApiPolicy the key authenticates against.
	PolicyRef PolicyReference `json:"policyRef"`

	// User makes this a user-specific key that acts as that WordPress
	// user. Unset: a universal key that carries Roles.
	// +optional
	User *UserReference `json:"user,omitempty"`

	// Roles the key carries. A user key on a policy with spec.wordpress
	// takes the user's current WordPress roles instead (a role change in
	// WordPress applies at once; a user WordPress no longer has cannot use
	// the key); these roles apply only where the policy has no directory.
	// +kubebuilder:validation:MaxItems=32
	// +listType=set
	// +optional
	Roles []Role `json:"roles,omitempty"`

	// SecretRef points at the key material ("wpk_..."). wpauthz keeps
	// only its SHA-256 hash in memory.
	// +optional
	SecretRef *SecretKeySelector `json:"secretRef,omitempty"`

	// ExpiresAt ends the key's validity.
	// +optional
	ExpiresAt *metav1.Time `json:"expiresAt,omitempty"`

	// Disabled turns the key off without deleting it.
	// +optional
	Disabled bool `json:"disabled,omitempty"`
}

// ApiKeyStatus is the observed state of an ApiKey.
type ApiKeyStatus struct {
	// ObservedGeneration is the generation the conditions describe.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Fingerprint identifies the key without revealing it
	// ("sha256:" and the first 12 hex digits of its hash).
	// +optional
	Fingerprint string `json:"fingerprint,omitempty"`

	// Conditions: Accepted and Ready.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// The Expires column is a string, the RFC 3339 time itself: a "date"
// column prints a timestamp's age, which is "<invalid>" for a future one.

// ApiKey is an API key for a WordPress site protected by a WPApiPolicy.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=wpkey,categories=wpauthz
// +kubebuilder:printcolumn:name="Policy",type=string,JSONPath=`.spec.policyRef.name`
// +kubebuilder:printcolumn:name="User",type=string,JSONPath=`.spec.user.login`
// +kubebuilder:printcolumn:name="Fingerprint",type=string,JSONPath=`.status.fingerprint`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Expires",type=string,format=date-time,JSONPath=`.spec.expiresAt`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ApiKey struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   ApiKeySpec   `json:"spec"`
	Status ApiKeyStatus `json:"status,omitempty"`
}

// ApiKeyList is a list of ApiKey.
// +kubebuilder:object:root=true
type ApiKeyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ApiKey `json:"items"`
}

func init() {
	SchemeBuilder.Register(&ApiKey{}, &ApiKeyList{})
}
