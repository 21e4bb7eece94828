package v1alpha1

// SecretKeySelector names one entry of a Secret in the resource's namespace.
type SecretKeySelector struct {
	// Name of the Secret.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
	// Key within the Secret's data.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	// +kubebuilder:validation:XValidation:rule="self != '.' && self != '..'",message="must be a valid Secret data key"
	Key string `json:"key"`
}

// SecretReference names a whole Secret in the resource's namespace.
type SecretReference struct {
	// Name of the Secret.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// PolicyReference names a WPApiPolicy in the same namespace.
type PolicyReference struct {
	// Name of the WPApiPolicy.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// UserReference identifies a WordPress user by login or by ID.
// +kubebuilder:validation:XValidation:rule="has(self.login) != has(self.id)",message="exactly one of login or id must be set"
type UserReference struct {
	// Login is the WordPress user_login.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=60
	// +optional
	Login string `json:"login,omitempty"`
	// ID is the WordPress user ID.
	// +kubebuilder:validation:Minimum=1
	// +optional
	ID int64 `json:"id,omitempty"`
}

// Role is a WordPress role slug such as "administrator" or "shop_manager".
// +kubebuilder:validation:MinLength=1
// +kubebuilder:validation:MaxLength=64
// +kubebuilder:validation:Pattern=`^[a-z0-9_-]+$`
type Role string

// AuthMethod is one way a caller can authenticate.
// +kubebuilder:validation:Enum=JWT;APIKey;Basic;OAuth2;Provider
type AuthMethod string

// Authentication methods.
const (
	AuthMethodJWT      AuthMethod = "JWT"
	AuthMethodAPIKey   AuthMethod = "APIKey"
	AuthMethodBasic    AuthMethod = "Basic"
	AuthMethodOAuth2   AuthMethod = "OAuth2"
	AuthMethodProvider AuthMethod = "Provider"
)

// Condition types and reasons shared by all kinds.
const (
	// ConditionAccepted is True when the resource is valid and compiled.
	ConditionAccepted = "Accepted"
	// ConditionReady is True when the resource is enforced by the engine.
	ConditionReady = "Ready"

	ReasonCompiled            = "Compiled"
	ReasonEnforced            = "Enforced"
	ReasonSecretNotFound      = "SecretNotFound"
	ReasonInvalidKey          = "InvalidKey"
	ReasonInvalidRule         = "InvalidRule"
	ReasonHostConflict        = "HostConflict"
	ReasonPolicyNotFound      = "PolicyNotFound"
	ReasonDatabaseUnreachable = "DatabaseUnreachable"
	ReasonExpired             = "Expired"
	ReasonDisabled            = "Disabled"
)
