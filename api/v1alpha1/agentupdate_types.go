package v1alpha1

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Bounds on an AgentUpdate.
const (
	// MaxTargetAgents bounds spec.agents; larger fleets use a selector.
	MaxTargetAgents = 100
	// MaxSlots bounds status.slots, and so the effective concurrency.
	MaxSlots = 250
	// MaxFailureRecords bounds status.failures (the most recent kept).
	MaxFailureRecords = 20
	// MaxRunRecords bounds status.runs of a recurring rollout (the newest kept).
	MaxRunRecords = 10
	// MaxSkipRecords bounds status.skippedHosts.
	MaxSkipRecords = 20
	// MaxSkipMessage bounds status.skippedHosts[].message.
	MaxSkipMessage = 256
)

// PackageScope says which pending updates a package rollout installs.
// +kubebuilder:validation:Enum=Named;All;Security
type PackageScope string

// Package scopes.
const (
	ScopeNamed    PackageScope = "Named"
	ScopeAll      PackageScope = "All"
	ScopeSecurity PackageScope = "Security"
)

// PackageSelection chooses the packages a rollout installs.
// +kubebuilder:validation:XValidation:rule="self.scope == 'Named' ? (has(self.names) && size(self.names) > 0) : !has(self.names) || size(self.names) == 0",message="spec.packages.names is required when scope is Named and not allowed otherwise"
type PackageSelection struct {
	// Scope is Named (only spec.packages.names), All pending updates, or
	// Security updates only.
	Scope PackageScope `json:"scope"`
	// Names of the packages (or images) to update, for scope Named.
	// +kubebuilder:validation:MaxItems=100
	// +kubebuilder:validation:items:MaxLength=128
	// +kubebuilder:validation:items:Pattern=`^[A-Za-z0-9][A-Za-z0-9+._:/@-]*$`
	// +listType=set
	// +optional
	Names []string `json:"names,omitempty"`
	// Exclude holds glob patterns (as in path.Match) of package names
	// never to install, such as "linux-image-*".
	// +kubebuilder:validation:MaxItems=50
	// +kubebuilder:validation:items:MaxLength=128
	// +listType=set
	// +optional
	Exclude []string `json:"exclude,omitempty"`
	// Managers limits the rollout to these package managers. Empty means all.
	// +kubebuilder:validation:MaxItems=5
	// +listType=set
	// +optional
	Managers []PackageManager `json:"managers,omitempty"`
	// AllowNewDependencies lets an install pull in packages the rollout
	// did not name. Without it, a dry run that resolves new packages fails
	// the host before anything is installed.
	// +optional
	AllowNewDependencies bool `json:"allowNewDependencies,omitempty"`
}

// RolloutStrategy sets the pace and the failure budget.
type RolloutStrategy struct {
	// MaxConcurrent is how many hosts work at once: a count (1 to 250) or
	// a percentage of the targets (1% to 100%). Defaults to 1.
	// +kubebuilder:validation:XIntOrString
	// +kubebuilder:validation:XValidation:rule="type(self) == int ? (self >= 1 && self <= 250) : self.matches('^([1-9][0-9]?|100)%$')",message="spec.strategy.maxConcurrent must be a count from 1 to 250 or a percentage from 1% to 100%"
	// +kubebuilder:default=1
	// +optional
	MaxConcurrent *intstr.IntOrString `json:"maxConcurrent,omitempty"`
	// MaxFailures is how many hosts may fail before the rollout halts: a
	// count (0 to 10000) or a percentage (0% to 100%). Defaults to 0: the
	// first failure halts the rollout.
	// +kubebuilder:validation:XIntOrString
	// +kubebuilder:validation:XValidation:rule="type(self) == int ? (self >= 0 && self <= 10000) : self.matches('^([0-9]|[1-9][0-9]|100)%$')",message="spec.strategy.maxFailures must be a count from 0 to 10000 or a percentage from 0% to 100%"
	// +kubebuilder:default=0
	// +optional
	MaxFailures *intstr.IntOrString `json:"maxFailures,omitempty"`
	// Canary is the number of hosts that go first, alone; all must succeed
	// before the rest start.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	// +optional
	Canary int32 `json:"canary,omitempty"`
	// HostTimeout is how long a host holding a slot may go without
	// checking in before it loses the slot and counts as failed
	// (HostTimedOut). It bounds silence, not install time: a working host
	// checks in every few seconds. Silence is measured from the host's
	// stored last check-in, or from the slot grant if that is later; a
	// bound under three of the host's check-in intervals is raised to
	// three (when its Agent shows AgentSilent), because the stored
	// check-in of a live host may lag by almost that much. A Go duration
	// between 10s and 24h. Defaults to 30m: an install plus a reboot fits.
	// +kubebuilder:default="30m"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('10s') && duration(self) <= duration('24h')",message="spec.strategy.hostTimeout must be between 10s and 24h"
	// +optional
	HostTimeout *metav1.Duration `json:"hostTimeout,omitempty"`
}

// DefaultHostTimeout is RolloutStrategy.HostTimeout when unset (the API
// server defaults it too).
const DefaultHostTimeout = 30 * time.Minute

// Timeout is the HostTimeout in force: DefaultHostTimeout when unset (an
// object the API server has not defaulted).
func (s *RolloutStrategy) Timeout() time.Duration {
	if s == nil || s.HostTimeout == nil || s.HostTimeout.Duration <= 0 {
		return DefaultHostTimeout
	}
	return s.HostTimeout.Duration
}

// Weekday is a day of the week, in English, as in Go's time package.
// +kubebuilder:validation:Enum=Monday;Tuesday;Wednesday;Thursday;Friday;Saturday;Sunday
type Weekday string

// MaintenanceWindow limits when hosts may start work and reboot.
// +kubebuilder:validation:XValidation:rule="self.start != self.end",message="spec.window.start and spec.window.end must differ"
type MaintenanceWindow struct {
	// Days the window opens on. Empty means every day.
	// +kubebuilder:validation:MaxItems=7
	// +listType=set
	// +optional
	Days []Weekday `json:"days,omitempty"`
	// Start is the local time the window opens, HH:MM (24-hour).
	// +kubebuilder:validation:Pattern=`^([01][0-9]|2[0-3]):[0-5][0-9]$`
	Start string `json:"start"`
	// End is the local time the window closes, HH:MM. An end before the
	// start means the window runs past midnight into the next day.
	// +kubebuilder:validation:Pattern=`^([01][0-9]|2[0-3]):[0-5][0-9]$`
	End string `json:"end"`
	// TimeZone is an IANA time zone name such as Europe/Berlin. Defaults
	// to UTC. Window edges follow the zone's daylight-saving changes.
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[A-Za-z][A-Za-z0-9_+/-]*$`
	// +kubebuilder:default=UTC
	// +optional
	TimeZone string `json:"timeZone,omitempty"`
}

// RebootPolicy says whether hosts reboot after installing.
// +kubebuilder:validation:Enum=Never;IfRequired;Always
type RebootPolicy string

// Reboot policies.
const (
	RebootNever      RebootPolicy = "Never"
	RebootIfRequired RebootPolicy = "IfRequired"
	RebootAlways     RebootPolicy = "Always"
)

// Recurrence makes a package rollout run again and again: each run
// installs what is pending on its hosts when it starts.
type Recurrence struct {
	// Every is the time from one run's start to the next one's, a Go
	// duration between 10s and 8760h. A run starts only inside
	// spec.window, so "every 24h" with a window on Tuesdays 22:00-04:00
	// runs on Tuesday nights; a run still going when the next is due
	// delays it, and a missed run is not made up twice.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('10s') && duration(self) <= duration('8760h')",message="spec.recurrence.every must be between 10s and 8760h"
	Every metav1.Duration `json:"every"`
}

// AgentUpdateSpec is one rollout: which hosts, what to install, how fast.
// +kubebuilder:validation:XValidation:rule="has(self.selector) || (has(self.agents) && size(self.agents) > 0)",message="set spec.selector or spec.agents to choose the target hosts"
// +kubebuilder:validation:XValidation:rule="has(self.packages) != has(self.agentVersion)",message="set exactly one of spec.packages and spec.agentVersion"
// +kubebuilder:validation:XValidation:rule="!has(self.agentVersion) || !has(self.reboot) || self.reboot == 'Never'",message="spec.reboot must be Never for an agentVersion rollout"
// +kubebuilder:validation:XValidation:rule="!has(self.agentVersion) || !has(self.dryRun) || !self.dryRun",message="spec.dryRun applies to package rollouts only: an agentVersion rollout cannot be dry-run"
// +kubebuilder:validation:XValidation:rule="!has(self.recurrence) || has(self.packages)",message="spec.recurrence applies to package rollouts only"
type AgentUpdateSpec struct {
	// Selector chooses target Agents in the rollout's namespace by label.
	// +kubebuilder:validation:XValidation:rule="(!has(self.matchLabels) || size(self.matchLabels) <= 32) && (!has(self.matchExpressions) || (size(self.matchExpressions) <= 8 && self.matchExpressions.all(e, !has(e.values) || size(e.values) <= 32)))",message="selector may have at most 32 matchLabels and 8 matchExpressions of at most 32 values each"
	// +optional
	Selector *metav1.LabelSelector `json:"selector,omitempty"`
	// Agents names up to 100 target Agents; with a selector, both are
	// targeted. Larger fleets are chosen by label.
	// +kubebuilder:validation:MaxItems=100
	// +kubebuilder:validation:items:MaxLength=253
	// +kubebuilder:validation:items:Pattern=`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`
	// +listType=set
	// +optional
	Agents []string `json:"agents,omitempty"`
	// Packages installs pending package and image updates.
	// +optional
	Packages *PackageSelection `json:"packages,omitempty"`
	// AgentVersion moves the agents to this signed release.
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^v?[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`
	// +optional
	AgentVersion string `json:"agentVersion,omitempty"`
	// Strategy sets the pace and the failure budget. Defaulted to {} so
	// its own defaults (hostTimeout above all) show in the stored spec.
	// +kubebuilder:default={}
	// +optional
	Strategy RolloutStrategy `json:"strategy,omitempty"`
	// Window limits when hosts may start work and reboot. Unset means any time.
	// +optional
	Window *MaintenanceWindow `json:"window,omitempty"`
	// Reboot says whether hosts reboot after installing. Defaults to Never.
	// +kubebuilder:default=Never
	// +optional
	Reboot RebootPolicy `json:"reboot,omitempty"`
	// DryRun resolves what each host would install and reports it,
	// installing nothing.
	// +optional
	DryRun bool `json:"dryRun,omitempty"`
	// Paused stops new hosts from starting; hosts already working finish.
	// A paused recurring rollout starts no new run.
	// +optional
	Paused bool `json:"paused,omitempty"`
	// Recurrence makes the rollout run again on a schedule, each run
	// installing what is pending then. Unset: it runs once.
	// +optional
	Recurrence *Recurrence `json:"recurrence,omitempty"`
	// PrometheusGate holds the rollout while a Prometheus query returns
	// any result (as kured's alert filter does): no new host starts and
	// no new run begins; hosts already working finish.
	// +optional
	PrometheusGate *PrometheusGate `json:"prometheusGate,omitempty"`
}

// PrometheusGate is a Prometheus instant query that must come back empty
// for a rollout to start hosts.
type PrometheusGate struct {
	// URL of the Prometheus server (its /api/v1/query is asked), http or
	// https, without credentials.
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:Pattern=`^https?://[^@/?#\s]+(/[^?#\s]*)?$`
	URL string `json:"url"`
	// Query is a PromQL expression, such as ALERTS{alertstate="firing"}.
	// While it returns any series the gate is closed; an error or an
	// unreachable server closes it too.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	Query string `json:"query"`
}

// RolloutPhase is where a rollout stands.
// +kubebuilder:validation:Enum=Pending;Waiting;Progressing;Paused;Halted;Succeeded;Failed
type RolloutPhase string

// Rollout phases.
const (
	RolloutPending     RolloutPhase = "Pending"
	RolloutWaiting     RolloutPhase = "Waiting"
	RolloutProgressing RolloutPhase = "Progressing"
	RolloutPaused      RolloutPhase = "Paused"
	RolloutHalted      RolloutPhase = "Halted"
	RolloutSucceeded   RolloutPhase = "Succeeded"
	RolloutFailed      RolloutPhase = "Failed"
)

// RolloutCounts counts target hosts by state.
type RolloutCounts struct {
	// +optional
	Total int32 `json:"total"`
	// +optional
	Pending int32 `json:"pending"`
	// +optional
	InProgress int32 `json:"inProgress"`
	// +optional
	Succeeded int32 `json:"succeeded"`
	// +optional
	Failed int32 `json:"failed"`
	// +optional
	Skipped int32 `json:"skipped"`
}

// Slot is a host allowed to work now. Slots are written to status before
// the host is told to start, so a controller restart never overshoots
// maxConcurrent.
type Slot struct {
	// Agent holding the slot.
	// +kubebuilder:validation:MaxLength=253
	Agent string `json:"agent"`
	// Since is when the slot was taken.
	Since metav1.Time `json:"since"`
}

// HostFailure records one host's failure.
type HostFailure struct {
	// Agent that failed.
	// +kubebuilder:validation:MaxLength=253
	Agent string `json:"agent"`
	// Time of the failure.
	Time metav1.Time `json:"time"`
	// Reason is a short CamelCase cause.
	// +kubebuilder:validation:MaxLength=64
	// +optional
	Reason string `json:"reason,omitempty"`
	// Message is the host's explanation.
	// +kubebuilder:validation:MaxLength=512
	// +optional
	Message string `json:"message,omitempty"`
}

// RunOutcome is the result of a recurring rollout's run.
// +kubebuilder:validation:Enum=Running;Succeeded;Halted;NothingToDo
type RunOutcome string

// Run outcomes.
const (
	RunInProgress   RunOutcome = "Running"
	RunCompleted    RunOutcome = "Succeeded"
	RunStopped      RunOutcome = "Halted"
	RunFoundNothing RunOutcome = "NothingToDo"
)

// RunRecord is one run of a recurring rollout.
type RunRecord struct {
	// Run is the run's number, from 1.
	Run int32 `json:"run"`
	// Started is when the run began.
	Started metav1.Time `json:"started"`
	// Finished is when it ended; unset while it runs.
	// +optional
	Finished *metav1.Time `json:"finished,omitempty"`
	// Result of the run. NothingToDo: no target host had anything the
	// rollout selects pending, so nobody was given work.
	Result RunOutcome `json:"result"`
	// Hosts counts the target hosts with something to install when the
	// run started.
	// +optional
	Hosts int32 `json:"hosts"`
	// +optional
	Succeeded int32 `json:"succeeded"`
	// +optional
	Failed int32 `json:"failed"`
	// +optional
	Skipped int32 `json:"skipped"`
}

// HostSkip says why a host was skipped.
type HostSkip struct {
	// Agent skipped.
	// +kubebuilder:validation:MaxLength=253
	Agent string `json:"agent"`
	// Reason is a short CamelCase cause, such as PackagesHeld.
	// +kubebuilder:validation:MaxLength=64
	Reason string `json:"reason"`
	// Message explains it (names the held packages), at most 256
	// characters: the list sits beside a copy of spec.packages in the
	// 256 KiB size budget.
	// +kubebuilder:validation:MaxLength=256
	// +optional
	Message string `json:"message,omitempty"`
}

// AgentUpdateStatus is the rollout's progress.
type AgentUpdateStatus struct {
	CommonStatus `json:",inline"`
	// Phase is where the rollout stands.
	// +optional
	Phase RolloutPhase `json:"phase,omitempty"`
	// Counts of target hosts by state.
	// +optional
	Counts RolloutCounts `json:"counts,omitempty"`
	// Slots are the hosts allowed to work now.
	// +kubebuilder:validation:MaxItems=250
	// +listType=map
	// +listMapKey=agent
	// +optional
	Slots []Slot `json:"slots,omitempty"`
	// Failures lists the most recent failed hosts.
	// +kubebuilder:validation:MaxItems=20
	// +optional
	Failures []HostFailure `json:"failures,omitempty"`
	// WorkID names the work hosts are given now: the rollout's name, a hash
	// of what it asks for, and the retry attempt. Hosts whose last work
	// carries an older attempt's ID count as succeeded or are retried.
	// +kubebuilder:validation:MaxLength=300
	// +optional
	WorkID string `json:"workID,omitempty"`
	// WaitingOn names another AgentUpdate that holds hosts this one targets.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	WaitingOn string `json:"waitingOn,omitempty"`
	// SkippedHosts lists targets skipped with a reason (packages held on
	// the host), at most 20.
	// +kubebuilder:validation:MaxItems=20
	// +optional
	SkippedHosts []HostSkip `json:"skippedHosts,omitempty"`
	// Run is the number of the current (or last) run of a recurring
	// rollout; 0 before its first.
	// +optional
	Run int32 `json:"run,omitempty"`
	// RunPackages is what the current run installs: spec.packages as it
	// was when the run started, so an edit affects only later runs.
	// +optional
	RunPackages *PackageSelection `json:"runPackages,omitempty"`
	// LastRun is when the last run started (a run that found nothing to
	// do included).
	// +optional
	LastRun *metav1.Time `json:"lastRun,omitempty"`
	// NextRun is when the next run is due (it starts once the window is
	// open and the current run is over).
	// +optional
	NextRun *metav1.Time `json:"nextRun,omitempty"`
	// Runs are the newest runs, at most 10, oldest dropped first.
	// +kubebuilder:validation:MaxItems=10
	// +optional
	Runs []RunRecord `json:"runs,omitempty"`
}

// AgentUpdate is a rollout. Applying one is the approval: it installs
// package updates on, or moves the agent binary of, a set of hosts.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=au;rollout;rollouts,categories=redflag
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Total",type=integer,JSONPath=`.status.counts.total`
// +kubebuilder:printcolumn:name="Done",type=integer,JSONPath=`.status.counts.succeeded`
// +kubebuilder:printcolumn:name="Failed",type=integer,JSONPath=`.status.counts.failed`
// +kubebuilder:printcolumn:name="Working",type=integer,JSONPath=`.status.counts.inProgress`
// +kubebuilder:printcolumn:name="Last Run",type=date,JSONPath=`.status.lastRun`
// +kubebuilder:printcolumn:name="Next Run",type=string,JSONPath=`.status.nextRun`
// +kubebuilder:printcolumn:name="Version",type=string,JSONPath=`.spec.agentVersion`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type AgentUpdate struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec AgentUpdateSpec `json:"spec"`
	// +optional
	Status AgentUpdateStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// AgentUpdateList is a list of AgentUpdates.
type AgentUpdateList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []AgentUpdate `json:"items"`
}

func init() {
	SchemeBuilder.Register(&AgentUpdate{}, &AgentUpdateList{})
}
