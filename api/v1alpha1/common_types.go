package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Bounds on every list and free-text field that the controllers or the
// gateway fill. They keep the largest object of each kind far below etcd's
// 1.5 MiB request limit (a unit test builds that largest object).
const (
	// MaxHistoryEntries bounds status.history on every kind.
	MaxHistoryEntries = 30
	// MaxConditions bounds status.conditions on every kind.
	MaxConditions = 10
	// MaxConditionMessage is the longest condition message RedFlag writes.
	// metav1.Condition itself allows 32 KiB; internal/conditions truncates.
	MaxConditionMessage = 512
	// MaxMessageLength bounds free-text messages in history and results.
	MaxMessageLength = 512
	// MaxMetadataEntries bounds the metadata map of a history entry.
	MaxMetadataEntries = 6
)

// Condition types shared by all kinds. Ready, Reconciling and Stalled follow
// kstatus conventions so kubectl wait, Flux and Argo CD read health without
// custom scripts.
const (
	ConditionReady       = "Ready"
	ConditionReconciling = "Reconciling"
	ConditionStalled     = "Stalled"
)

// RetryAnnotation asks a controller to retry whatever failed terminally. Its
// value is an opaque timestamp (for example `date -u +%FT%TZ`); the controller
// echoes the last value it handled in status.lastHandledRetry, so setting a
// new value is a one-command retry:
//
//	kubectl annotate agentupdate NAME redflag.io/retry-at="$(date -u +%FT%TZ)" --overwrite
const RetryAnnotation = "redflag.io/retry-at"

// Severity grades a history entry or Event.
// +kubebuilder:validation:Enum=info;warning;error;critical
type Severity string

// Severities, from least to most urgent.
const (
	SeverityInfo     Severity = "info"
	SeverityWarning  Severity = "warning"
	SeverityError    Severity = "error"
	SeverityCritical Severity = "critical"
)

// Component names the part of RedFlag an entry comes from.
// +kubebuilder:validation:Enum=agent;gateway;controller;download;config;migration;security
type Component string

// Components of RedFlag that record history.
const (
	ComponentAgent      Component = "agent"
	ComponentGateway    Component = "gateway"
	ComponentController Component = "controller"
	ComponentDownload   Component = "download"
	ComponentConfig     Component = "config"
	ComponentMigration  Component = "migration"
	ComponentSecurity   Component = "security"
)

// HistoryEntry is one remembered event. Kubernetes drops Events after about an
// hour; the bounded history on each object keeps the last few dozen for good.
type HistoryEntry struct {
	// Time the event happened.
	Time metav1.Time `json:"time"`
	// Type is Normal or Warning, as for a Kubernetes Event.
	// +kubebuilder:validation:Enum=Normal;Warning
	Type string `json:"type"`
	// Reason is one of the documented event reasons (docs/events.md).
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[A-Z][A-Za-z0-9]*$`
	Reason string `json:"reason"`
	// Severity grades the entry.
	Severity Severity `json:"severity"`
	// Component is the part of RedFlag that recorded the entry.
	Component Component `json:"component"`
	// Message says what happened, for a person.
	// +kubebuilder:validation:MaxLength=512
	// +optional
	Message string `json:"message,omitempty"`
	// Metadata holds a few facts, such as oldVersion, newVersion, platform
	// and source.
	// +kubebuilder:validation:MaxProperties=6
	// +kubebuilder:validation:XValidation:rule="self.all(k, size(k) <= 63 && size(self[k]) <= 128)",message="metadata keys are at most 63 and values at most 128 characters"
	// +optional
	Metadata map[string]string `json:"metadata,omitempty"`
}

// CommonStatus is embedded in every kind's status.
type CommonStatus struct {
	// ObservedGeneration is the spec generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Conditions follow Kubernetes conventions; Ready, Reconciling and
	// Stalled are set the way kstatus reads them.
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=10
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// History holds the last events, oldest dropped first, the last success
	// always kept.
	// +kubebuilder:validation:MaxItems=30
	// +optional
	History []HistoryEntry `json:"history,omitempty"`
	// LastHandledRetry echoes the value of the redflag.io/retry-at
	// annotation that the controller acted on last.
	// +kubebuilder:validation:MaxLength=64
	// +optional
	LastHandledRetry string `json:"lastHandledRetry,omitempty"`
}
