package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// GrantType is an OAuth 2.0 grant (RFC 6749).
// +kubebuilder:validation:Enum=password;client_credentials;refresh_token
type GrantType string

// OAuthClientSpec defines an OAuth 2.0 client of one WPApiPolicy.
// +kubebuilder:validation:XValidation:rule="!self.grants.exists(g, g == 'client_credentials') || has(self.user) || (has(self.roles) && size(self.roles) > 0)",message="client_credentials needs an acting user or roles"
type OAuthClientSpec struct {
	// PolicyRef is the WPApiPolicy whose token endpoint serves the client.
	PolicyRef PolicyReference `json:"policyRef"`

	// ClientID is the public client identifier.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9._~-]+$`
	ClientID string `json:"clientID"`

	// SecretRef points at the client secret; wpauthz keeps only a hash.
	SecretRef SecretKeySelector `json:"secretRef"`

	// Grants the client may use.
	// +kubebuilder:validation:MinItems=1
	// +listType=set
	Grants []GrantType `json:"grants"`

	// Scopes the client may request.
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:Pattern=`^[\x21\x23-\x5b\x5d-\x7e]+$`
	// +listType=set
	// +optional
	Scopes []string `json:"scopes,omitempty"`

	// User the client acts as with client_credentials.
	// +optional
	User *UserReference `json:"user,omitempty"`

	// Roles the client carries with client_credentials when it has no user.
	// +kubebuilder:validation:MaxItems=32
	// +listType=set
	// +optional
	Roles []Role `json:"roles,omitempty"`

	// TokenTTL is the lifetime of access tokens issued to the client.
	// +kubebuilder:default="15m0s"
	// +kubebuilder:validation:XValidation:rule="duration(self) > duration('0s')",message="must be a positive duration such as 30s or 15m"
	// +optional
	TokenTTL *metav1.Duration `json:"tokenTTL,omitempty"`

	// Disabled turns the client off without deleting it.
	// +optional
	Disabled bool `json:"disabled,omitempty"`
}

// OAuthClientStatus is the observed state of an OAuthClient.
type OAuthClientStatus struct {
	// ObservedGeneration is the generation the conditions describe.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions: Accepted and Ready.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// OAuthClient is an OAuth 2.0 client of a WordPress site.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=wpclient,categories=wpauthz
// +kubebuilder:printcolumn:name="Policy",type=string,JSONPath=`.spec.policyRef.name`
// +kubebuilder:printcolumn:name="Client ID",type=string,JSONPath=`.spec.clientID`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type OAuthClient struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   OAuthClientSpec   `json:"spec"`
	Status OAuthClientStatus `json:"status,omitempty"`
}

// OAuthClientList is a list of OAuthClient.
// +kubebuilder:object:root=true
type OAuthClientList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []OAuthClient `json:"items"`
}

func init() {
	SchemeBuilder.Register(&OAuthClient{}, &OAuthClientList{})
}
