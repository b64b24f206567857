package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DefaultTokenTTL is how long a token lives when neither ttl nor expiresAt is set.
const DefaultTokenTTL = "24h"

// MaxEnrolledAgents bounds status.enrolledAgents (the most recent enrollments).
const MaxEnrolledAgents = 50

// TokenPhase is where a RegistrationToken is in its life.
// +kubebuilder:validation:Enum=Pending;Active;Expired;Exhausted;Revoked
type TokenPhase string

// Token phases. Only an Active token enrolls hosts.
const (
	TokenPending   TokenPhase = "Pending"
	TokenActive    TokenPhase = "Active"
	TokenExpired   TokenPhase = "Expired"
	TokenExhausted TokenPhase = "Exhausted"
	TokenRevoked   TokenPhase = "Revoked"
)

// RegistrationTokenSpec says how long a token lives, how many hosts it may
// enroll and what labels those hosts' Agents get.
// +kubebuilder:validation:XValidation:rule="!(has(self.ttl) && has(self.expiresAt))",message="set at most one of spec.ttl and spec.expiresAt"
type RegistrationTokenSpec struct {
	// TTL is how long the token lives after it is created, as a Go
	// duration between 1m and 8760h. Defaults to 24h when expiresAt is
	// not set either.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1m') && duration(self) <= duration('8760h')",message="spec.ttl must be between 1m and 8760h"
	// +optional
	TTL *metav1.Duration `json:"ttl,omitempty"`
	// ExpiresAt is the instant the token stops enrolling hosts.
	// +optional
	ExpiresAt *metav1.Time `json:"expiresAt,omitempty"`
	// MaxUses is the number of hosts the token may enroll (seats). Unset
	// means no limit. Re-enrolling the same host uses no second seat.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100000
	// +optional
	MaxUses *int32 `json:"maxUses,omitempty"`
	// AgentLabels are copied onto every Agent the token enrolls. Keys under
	// redflag.io/ are reserved for labels the gateway sets (os, arch).
	// +kubebuilder:validation:MaxProperties=32
	// +kubebuilder:validation:XValidation:rule="self.all(k, !k.startsWith('redflag.io/'))",message="spec.agentLabels keys under redflag.io/ are reserved"
	// +kubebuilder:validation:XValidation:rule="self.all(k, !format.qualifiedName().validate(k).hasValue() && !format.labelValue().validate(self[k]).hasValue())",message="spec.agentLabels must be valid Kubernetes label keys and values"
	// +optional
	AgentLabels map[string]LabelValue `json:"agentLabels,omitempty"`
	// Revoked stops the token from enrolling any more hosts. Agents it
	// enrolled already are not affected.
	// +optional
	Revoked bool `json:"revoked,omitempty"`
	// Description says what the token is for.
	// +kubebuilder:validation:MaxLength=256
	// +optional
	Description string `json:"description,omitempty"`
}

// LabelValue is a Kubernetes label value.
// +kubebuilder:validation:MaxLength=63
type LabelValue string

// EnrolledAgent records one enrollment made with a token.
type EnrolledAgent struct {
	// Name of the Agent.
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
	// Time of the enrollment.
	Time metav1.Time `json:"time"`
}

// RegistrationTokenStatus is what the controller and gateway know of a token.
// The secret half of the token is never written here.
type RegistrationTokenStatus struct {
	CommonStatus `json:",inline"`
	// Phase is Active while the token can enroll hosts.
	// +optional
	Phase TokenPhase `json:"phase,omitempty"`
	// ExpiresAt is the instant the token expires, from ttl or expiresAt.
	// +optional
	ExpiresAt *metav1.Time `json:"expiresAt,omitempty"`
	// UsedCount is the number of seats used.
	// +optional
	UsedCount int32 `json:"usedCount,omitempty"`
	// TokenID is the public half of the token (`<id>.<secret>`).
	// +kubebuilder:validation:MaxLength=16
	// +optional
	TokenID string `json:"tokenID,omitempty"`
	// TokenHash is the SHA-256 of the whole token, hex-encoded.
	// +kubebuilder:validation:MaxLength=64
	// +optional
	TokenHash string `json:"tokenHash,omitempty"`
	// SecretName is the Secret (key `token`) that holds the whole token.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	SecretName string `json:"secretName,omitempty"`
	// EnrolledAgents lists the most recent enrollments, newest last.
	// +kubebuilder:validation:MaxItems=50
	// +optional
	EnrolledAgents []EnrolledAgent `json:"enrolledAgents,omitempty"`
}

// RegistrationToken lets hosts join the fleet. The controller generates the
// token into a Secret it owns; hosts present it once, at enrollment.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=rtoken;rtokens,categories=redflag
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Used",type=integer,JSONPath=`.status.usedCount`
// +kubebuilder:printcolumn:name="Max",type=integer,JSONPath=`.spec.maxUses`
// +kubebuilder:printcolumn:name="Expires",type=string,JSONPath=`.status.expiresAt`
// +kubebuilder:printcolumn:name="Secret",type=string,JSONPath=`.status.secretName`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type RegistrationToken struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +optional
	Spec RegistrationTokenSpec `json:"spec,omitempty"`
	// +optional
	Status RegistrationTokenStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// RegistrationTokenList is a list of RegistrationTokens.
type RegistrationTokenList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []RegistrationToken `json:"items"`
}

func init() {
	SchemeBuilder.Register(&RegistrationToken{}, &RegistrationTokenList{})
}
