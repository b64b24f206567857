package v1alpha1

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// SubsystemSchedule says whether and how often one subsystem is scanned.
type SubsystemSchedule struct {
	// Enabled turns the subsystem's scans on. Defaults to true.
	// +kubebuilder:default=true
	// +optional
	Enabled *bool `json:"enabled,omitempty"`
	// Interval between scans, as a Go duration between 1m and 168h.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1m') && duration(self) <= duration('168h')",message="interval must be between 1m and 168h"
	Interval metav1.Duration `json:"interval"`
}

// DefaultRefreshListsAfter is the bound of UpdatesSchedule.RefreshListsAfter
// when it is unset (the API server defaults it too).
const DefaultRefreshListsAfter = 4 * time.Hour

// UpdatesSchedule is the schedule of the updates subsystem: when and how
// often, and how old the host's package lists may be when it is scanned.
type UpdatesSchedule struct {
	SubsystemSchedule `json:",inline"`
	// RefreshListsAfter is how old a host's package lists may be when its
	// updates are scanned: apt lists older than this are refreshed (apt-get
	// update) first, and dnf is told to treat metadata older than this as
	// expired. apt reads only the lists on disk, so without a refresh a
	// host whose lists nobody updates reports fewer updates than it has.
	// 0 never refreshes (the host's own timer does). A Go duration: 0, or
	// between 1m and 168h. Defaults to 4h.
	// +kubebuilder:default="4h"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) == duration('0s') || (duration(self) >= duration('1m') && duration(self) <= duration('168h'))",message="refreshListsAfter must be 0 (never refresh) or between 1m and 168h"
	// +optional
	RefreshListsAfter *metav1.Duration `json:"refreshListsAfter,omitempty"`
}

// RefreshBound is the RefreshListsAfter in force: DefaultRefreshListsAfter
// when unset (an object the API server has not defaulted), 0 for never.
func (u *UpdatesSchedule) RefreshBound() time.Duration {
	if u == nil || u.RefreshListsAfter == nil {
		return DefaultRefreshListsAfter
	}
	return max(u.RefreshListsAfter.Duration, 0)
}

// ScanSubsystems lists the schedule of each subsystem. A subsystem left out
// is not scanned by this schedule.
// +kubebuilder:validation:XValidation:rule="(has(self.updates) && (!has(self.updates.enabled) || self.updates.enabled)) || (has(self.storage) && (!has(self.storage.enabled) || self.storage.enabled)) || (has(self.system) && (!has(self.system.enabled) || self.system.enabled)) || (has(self.docker) && (!has(self.docker.enabled) || self.docker.enabled))",message="spec.subsystems must enable at least one subsystem"
type ScanSubsystems struct {
	// Updates scans every package manager the host has (apt, dnf, Docker
	// images, Windows Update, winget).
	// +optional
	Updates *UpdatesSchedule `json:"updates,omitempty"`
	// Storage reports every real mount's size and use.
	// +optional
	Storage *SubsystemSchedule `json:"storage,omitempty"`
	// System reports OS, kernel, CPU, memory and reboot-required.
	// +optional
	System *SubsystemSchedule `json:"system,omitempty"`
	// Docker reports containers and their images.
	// +optional
	Docker *SubsystemSchedule `json:"docker,omitempty"`
}

// ScanScheduleSpec chooses agents and says what to scan how often.
// +kubebuilder:validation:XValidation:rule="!has(self.splay) || ((!has(self.subsystems.updates) || duration(self.splay) < duration(self.subsystems.updates.interval)) && (!has(self.subsystems.storage) || duration(self.splay) < duration(self.subsystems.storage.interval)) && (!has(self.subsystems.system) || duration(self.splay) < duration(self.subsystems.system.interval)) && (!has(self.subsystems.docker) || duration(self.splay) < duration(self.subsystems.docker.interval)))",message="spec.splay must be shorter than every subsystem interval"
type ScanScheduleSpec struct {
	// Selector chooses Agents in the schedule's namespace by label. Empty
	// or unset selects every Agent in the namespace.
	// +kubebuilder:validation:XValidation:rule="(!has(self.matchLabels) || size(self.matchLabels) <= 32) && (!has(self.matchExpressions) || (size(self.matchExpressions) <= 8 && self.matchExpressions.all(e, !has(e.values) || size(e.values) <= 32)))",message="selector may have at most 32 matchLabels and 8 matchExpressions of at most 32 values each"
	// +optional
	Selector *metav1.LabelSelector `json:"selector,omitempty"`
	// Subsystems says what to scan how often. Where schedules overlap, the
	// shortest interval wins.
	Subsystems ScanSubsystems `json:"subsystems"`
	// Splay spreads each agent's scans over this window by a deterministic
	// per-agent offset, so a fleet does not scan in the same second.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	// +optional
	Splay *metav1.Duration `json:"splay,omitempty"`
	// Paused stops the schedule from making scans due.
	// +optional
	Paused bool `json:"paused,omitempty"`
}

// ScanScheduleStatus counts the agents the schedule covers.
type ScanScheduleStatus struct {
	CommonStatus `json:",inline"`
	// MatchedAgents is the number of Agents the selector chooses.
	// +optional
	MatchedAgents int32 `json:"matchedAgents"`
	// DueAgents is the number with a scan due now.
	// +optional
	DueAgents int32 `json:"dueAgents"`
	// OverdueAgents is the number whose due scan is late by more than one
	// interval.
	// +optional
	OverdueAgents int32 `json:"overdueAgents"`
	// LastEvaluated is when the counts were taken.
	// +optional
	LastEvaluated *metav1.Time `json:"lastEvaluated,omitempty"`
}

// ScanSchedule says what to scan how often on which agents.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=scansched,categories=redflag
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Matched",type=integer,JSONPath=`.status.matchedAgents`
// +kubebuilder:printcolumn:name="Due",type=integer,JSONPath=`.status.dueAgents`
// +kubebuilder:printcolumn:name="Overdue",type=integer,JSONPath=`.status.overdueAgents`
// +kubebuilder:printcolumn:name="Paused",type=boolean,JSONPath=`.spec.paused`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ScanSchedule struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec ScanScheduleSpec `json:"spec"`
	// +optional
	Status ScanScheduleStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// ScanScheduleList is a list of ScanSchedules.
type ScanScheduleList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ScanSchedule `json:"items"`
}

func init() {
	SchemeBuilder.Register(&ScanSchedule{}, &ScanScheduleList{})
}
