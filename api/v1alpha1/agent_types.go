package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Bounds on an Agent's status lists.
const (
	// MaxUpdateItems bounds status.updates.items; the summary counts all.
	MaxUpdateItems = 200
	// MaxMounts bounds status.storage.
	MaxMounts = 32
	// MaxSubsystems bounds status.subsystems.
	MaxSubsystems = 8
)

// Agent condition types, beside Ready, Reconciling and Stalled.
const (
	ConditionUpToDate         = "UpToDate"
	ConditionRebootRequired   = "RebootRequired"
	ConditionUpdatesAvailable = "UpdatesAvailable"
)

// ScanNowAnnotation asks for every scheduled subsystem to be scanned at the
// agent's next check-in. Its value is any new string (a timestamp, say); the
// gateway echoes the value it acted on in status.scanNowHandled:
//
//	kubectl annotate agent NAME redflag.io/scan-now="$(date -u +%FT%TZ)" --overwrite
const ScanNowAnnotation = "redflag.io/scan-now"

// RebindMachineIDAnnotation moves an Agent to another machine ID, for a host
// whose machine ID changed legitimately (a reinstalled OS that kept the
// agent's key, a replaced motherboard on Windows). While it is set, requests
// must carry its value instead of spec.machineID, which stays the record of
// enrollment (it is immutable); removing it binds the Agent to
// spec.machineID again. The gateway echoes the value it has honoured in
// status.reboundMachineID:
//
//	kubectl annotate agent NAME redflag.io/rebind-machine-id=NEW-ID
const RebindMachineIDAnnotation = "redflag.io/rebind-machine-id"

// Labels the gateway sets on every Agent it creates.
const (
	LabelOS    = "redflag.io/os"
	LabelArch  = "redflag.io/arch"
	LabelToken = "redflag.io/registration-token"
)

// PackageManager names a source of updates on a host.
// +kubebuilder:validation:Enum=apt;dnf;docker;windows-update;winget
type PackageManager string

// Package managers the agent scans and installs with.
const (
	ManagerApt           PackageManager = "apt"
	ManagerDnf           PackageManager = "dnf"
	ManagerDocker        PackageManager = "docker"
	ManagerWindowsUpdate PackageManager = "windows-update"
	ManagerWinget        PackageManager = "winget"
)

// HeartbeatSpec asks for rapid check-ins.
type HeartbeatSpec struct {
	// Until is the instant the agent returns to its normal interval. Until
	// then it checks in every 5 seconds.
	Until metav1.Time `json:"until"`
}

// AgentSpec is what the cluster wants of one host.
type AgentSpec struct {
	// MachineID identifies the host (/etc/machine-id on Linux, the
	// MachineGuid on Windows). It is bound at enrollment and never changes:
	// a host presenting another machine ID is refused, unless a user rebinds
	// the Agent with the redflag.io/rebind-machine-id annotation.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9][A-Za-z0-9._:-]*$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec.machineID is immutable"
	MachineID string `json:"machineID"`
	// PublicKey is the host's Ed25519 public key, base64-encoded (32 bytes).
	// Every request from the host is signed with the matching private key.
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9+/]{43}=$`
	PublicKey string `json:"publicKey"`
	// Paused stops new work (scans and installs) from being handed out.
	// The agent keeps checking in.
	// +optional
	Paused bool `json:"paused,omitempty"`
	// Revoked refuses every request from the host.
	// +optional
	Revoked bool `json:"revoked,omitempty"`
	// CheckInInterval is how often the agent checks in outside heartbeat
	// mode, between 5s and 1h. Defaults to 60s.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('5s') && duration(self) <= duration('1h')",message="spec.checkInInterval must be between 5s and 1h"
	// +optional
	CheckInInterval *metav1.Duration `json:"checkInInterval,omitempty"`
	// Heartbeat, while its until lies ahead, makes the agent check in every
	// 5 seconds. Users set it; rollouts set it while the host has work.
	// +optional
	Heartbeat *HeartbeatSpec `json:"heartbeat,omitempty"`
	// Holds names packages (or images) that no rollout may update on this
	// host, as `apt-mark hold` does on the host itself: every rollout
	// excludes them from the host's work, and a host whose selected
	// updates are all held is shown as skipped (PackagesHeld). At most 50
	// exact names.
	// +kubebuilder:validation:MaxItems=50
	// +kubebuilder:validation:items:MaxLength=128
	// +kubebuilder:validation:items:Pattern=`^[A-Za-z0-9][A-Za-z0-9+._:/@-]*$`
	// +listType=set
	// +optional
	Holds []string `json:"holds,omitempty"`
	// DesiredVersion is the agent version a rollout wants the host to run.
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^v?[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`
	// +optional
	DesiredVersion string `json:"desiredVersion,omitempty"`
}

// OSInfo describes the host's operating system.
type OSInfo struct {
	// Family is linux, windows or darwin.
	// +kubebuilder:validation:MaxLength=32
	// +optional
	Family string `json:"family,omitempty"`
	// Distribution is the distribution id, such as debian or rhel.
	// +kubebuilder:validation:MaxLength=64
	// +optional
	Distribution string `json:"distribution,omitempty"`
	// Version is the distribution's version.
	// +kubebuilder:validation:MaxLength=64
	// +optional
	Version string `json:"version,omitempty"`
	// PrettyName is the human name, such as "Debian GNU/Linux 12 (bookworm)".
	// +kubebuilder:validation:MaxLength=128
	// +optional
	PrettyName string `json:"prettyName,omitempty"`
	// Kernel is the running kernel release.
	// +kubebuilder:validation:MaxLength=128
	// +optional
	Kernel string `json:"kernel,omitempty"`
	// Arch is the CPU architecture, in Go's naming (amd64, arm64).
	// +kubebuilder:validation:MaxLength=32
	// +optional
	Arch string `json:"arch,omitempty"`
}

// SystemFacts are slow-changing facts about the host.
type SystemFacts struct {
	// CPUModel is the processor's model name.
	// +kubebuilder:validation:MaxLength=128
	// +optional
	CPUModel string `json:"cpuModel,omitempty"`
	// CPUCores is the number of logical CPUs.
	// +optional
	CPUCores int32 `json:"cpuCores,omitempty"`
	// MemoryBytes is the total memory.
	// +optional
	MemoryBytes int64 `json:"memoryBytes,omitempty"`
	// BootTime is when the host last booted (uptime without a write per
	// check-in).
	// +optional
	BootTime *metav1.Time `json:"bootTime,omitempty"`
	// RebootRequired is true when the system itself says so
	// (/run/reboot-required, needs-restarting -r, Windows registry keys).
	// +optional
	RebootRequired bool `json:"rebootRequired,omitempty"`
	// RebootReason is why, in the system's words.
	// +kubebuilder:validation:MaxLength=256
	// +optional
	RebootReason string `json:"rebootReason,omitempty"`
}

// MountStatus is one real filesystem mount on the host.
type MountStatus struct {
	// MountPoint is where the filesystem is mounted.
	// +kubebuilder:validation:MaxLength=256
	MountPoint string `json:"mountPoint"`
	// Device is the block device or source.
	// +kubebuilder:validation:MaxLength=256
	// +optional
	Device string `json:"device,omitempty"`
	// FSType is the filesystem type.
	// +kubebuilder:validation:MaxLength=32
	// +optional
	FSType string `json:"fsType,omitempty"`
	// SizeBytes is the filesystem's size.
	// +optional
	SizeBytes int64 `json:"sizeBytes,omitempty"`
	// UsedBytes is the space in use.
	// +optional
	UsedBytes int64 `json:"usedBytes,omitempty"`
}

// PendingUpdate is one update a package manager offers.
type PendingUpdate struct {
	// Manager is the package manager offering it.
	Manager PackageManager `json:"manager"`
	// Name of the package or image.
	// +kubebuilder:validation:MaxLength=128
	Name string `json:"name"`
	// CurrentVersion is the installed version (or image digest).
	// +kubebuilder:validation:MaxLength=80
	// +optional
	CurrentVersion string `json:"currentVersion,omitempty"`
	// AvailableVersion is the candidate version (or image digest).
	// +kubebuilder:validation:MaxLength=80
	// +optional
	AvailableVersion string `json:"availableVersion,omitempty"`
	// Security is true for a security update.
	// +optional
	Security bool `json:"security,omitempty"`
	// Held is true when the host itself holds the package (`apt-mark
	// hold`, or a `dnf versionlock` lock withholding AvailableVersion):
	// the agent never installs it, and rollouts skip it.
	// +optional
	Held bool `json:"held,omitempty"`
	// Source is where it comes from (archive, repository, registry).
	// +kubebuilder:validation:MaxLength=80
	// +optional
	Source string `json:"source,omitempty"`
	// FirstSeen is when the gateway first stored a pending update of this
	// package (same manager and name), kept across scans while one stays
	// pending; a newer version of the same package keeps the time. The
	// gateway sets it, never the host. It gives the age of the oldest
	// pending security update (the metric
	// redflag_agent_oldest_security_update_age_seconds).
	// +optional
	FirstSeen *metav1.Time `json:"firstSeen,omitempty"`
}

// UpdateInventory is the host's pending updates.
type UpdateInventory struct {
	// Total counts every pending update, listed or not.
	// +optional
	Total int32 `json:"total"`
	// Security counts the security updates among them.
	// +optional
	Security int32 `json:"security"`
	// ByManager counts pending updates per package manager.
	// +kubebuilder:validation:MaxProperties=8
	// +kubebuilder:validation:XValidation:rule="self.all(k, k in ['apt', 'dnf', 'docker', 'windows-update', 'winget'])",message="status.updates.byManager keys must be package managers"
	// +optional
	ByManager map[string]int32 `json:"byManager,omitempty"`
	// Items lists pending updates, security first, up to 200.
	// +kubebuilder:validation:MaxItems=200
	// +optional
	Items []PendingUpdate `json:"items,omitempty"`
	// Truncated is true when Items holds fewer entries than Total.
	// +optional
	Truncated bool `json:"truncated,omitempty"`
	// ScannedAt is when the inventory was taken.
	// +optional
	ScannedAt *metav1.Time `json:"scannedAt,omitempty"`
	// SecuritySince is the oldest firstSeen among the listed security
	// updates: the age of the oldest pending security update, for alerts
	// and `kubectl redflag status`. Empty with none pending.
	// +optional
	SecuritySince *metav1.Time `json:"securitySince,omitempty"`
	// Hash identifies the content (not the time); an unchanged scan result
	// is not written again.
	// +kubebuilder:validation:MaxLength=64
	// +optional
	Hash string `json:"hash,omitempty"`
}

// RunResult is the outcome of a scan or install.
// +kubebuilder:validation:Enum=Succeeded;Failed;TimedOut;Skipped
type RunResult string

// Run results.
const (
	RunSucceeded RunResult = "Succeeded"
	RunFailed    RunResult = "Failed"
	RunTimedOut  RunResult = "TimedOut"
	RunSkipped   RunResult = "Skipped"
)

// SubsystemStatus is the last run of one scanner subsystem.
type SubsystemStatus struct {
	// Name of the subsystem: updates, storage, system or docker.
	// +kubebuilder:validation:Enum=updates;storage;system;docker
	Name string `json:"name"`
	// LastRun is when it last finished.
	// +optional
	LastRun *metav1.Time `json:"lastRun,omitempty"`
	// Result of that run.
	// +optional
	Result RunResult `json:"result,omitempty"`
	// Message explains a failure.
	// +kubebuilder:validation:MaxLength=512
	// +optional
	Message string `json:"message,omitempty"`
}

// WorkPhase is where a piece of rollout work stands on one host.
// +kubebuilder:validation:Enum=Assigned;Running;Succeeded;Failed;RolledBack;Skipped
type WorkPhase string

// Work phases.
const (
	WorkAssigned   WorkPhase = "Assigned"
	WorkRunning    WorkPhase = "Running"
	WorkSucceeded  WorkPhase = "Succeeded"
	WorkFailed     WorkPhase = "Failed"
	WorkRolledBack WorkPhase = "RolledBack"
	WorkSkipped    WorkPhase = "Skipped"
)

// Finished reports whether the phase is an end state.
func (p WorkPhase) Finished() bool {
	return p == WorkSucceeded || p == WorkFailed || p == WorkRolledBack || p == WorkSkipped
}

// Bounds on an Agent's work records.
const (
	// MaxWorkChanges bounds status.currentWork.changes.
	MaxWorkChanges = 50
	// MaxCompletedWork bounds status.completedWork (the newest kept): the
	// last 20 works of a host stay queryable with what each installed.
	MaxCompletedWork = 20
	// MaxRecordedChanges bounds the package changes kept per completedWork
	// record (currentWork keeps MaxWorkChanges); changesOmitted counts the
	// rest. 20 records of 15 full-length changes keep the largest Agent
	// within its size budget (api/v1alpha1/largest_test.go).
	MaxRecordedChanges = 15
)

// PackageChange is one package (or image) an install changed, or would
// change in a dry run.
type PackageChange struct {
	// Manager that made the change.
	Manager PackageManager `json:"manager"`
	// Name of the package or image.
	// +kubebuilder:validation:MaxLength=128
	Name string `json:"name"`
	// From is the version before; empty for a newly installed package.
	// +kubebuilder:validation:MaxLength=80
	// +optional
	From string `json:"from,omitempty"`
	// To is the version after.
	// +kubebuilder:validation:MaxLength=80
	// +optional
	To string `json:"to,omitempty"`
}

// WorkStatus is the install or self-update the host runs now, or ran last.
type WorkStatus struct {
	// ID of the work, made from the AgentUpdate's name, a hash of what it
	// asks for and the retry attempt.
	// +kubebuilder:validation:MaxLength=300
	ID string `json:"id"`
	// AgentUpdate that asked for it.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	AgentUpdate string `json:"agentUpdate,omitempty"`
	// Phase of the work on the host.
	Phase WorkPhase `json:"phase"`
	// StartedAt is when the host took the work.
	// +optional
	StartedAt *metav1.Time `json:"startedAt,omitempty"`
	// FinishedAt is when it ended.
	// +optional
	FinishedAt *metav1.Time `json:"finishedAt,omitempty"`
	// Reason is a short CamelCase cause of a failure.
	// +kubebuilder:validation:MaxLength=64
	// +optional
	Reason string `json:"reason,omitempty"`
	// Message is the host's last word on it.
	// +kubebuilder:validation:MaxLength=512
	// +optional
	Message string `json:"message,omitempty"`
	// DryRun marks changes as planned, not made.
	// +optional
	DryRun bool `json:"dryRun,omitempty"`
	// Rebooting says the host reboots after this work: its rollout keeps
	// its slot (and the namespace's reboot budget counts it) until the
	// host reports a boot time after FinishedAt and checks in Ready.
	// +optional
	Rebooting bool `json:"rebooting,omitempty"`
	// Changes lists what was installed, with versions before and after
	// (at most 50; Message says when more changed).
	// +kubebuilder:validation:MaxItems=50
	// +optional
	Changes []PackageChange `json:"changes,omitempty"`
	// FromVersion and ToVersion describe a self-update.
	// +kubebuilder:validation:MaxLength=64
	// +optional
	FromVersion string `json:"fromVersion,omitempty"`
	// +kubebuilder:validation:MaxLength=64
	// +optional
	ToVersion string `json:"toVersion,omitempty"`
}

// WorkRecord is the short record of a finished piece of work, kept so a
// rollout can count a host as done after later work replaced currentWork.
type WorkRecord struct {
	// ID of the work.
	// +kubebuilder:validation:MaxLength=300
	ID string `json:"id"`
	// AgentUpdate that asked for it.
	// +kubebuilder:validation:MaxLength=253
	AgentUpdate string `json:"agentUpdate"`
	// Phase it ended in.
	Phase WorkPhase `json:"phase"`
	// FinishedAt is when it ended.
	FinishedAt metav1.Time `json:"finishedAt"`
	// Reason is a short CamelCase cause of a failure.
	// +kubebuilder:validation:MaxLength=64
	// +optional
	Reason string `json:"reason,omitempty"`
	// DryRun marks changes as planned, not made.
	// +optional
	DryRun bool `json:"dryRun,omitempty"`
	// Changes lists what the work installed, with versions before and
	// after: the first 15 of currentWork's changes.
	// +kubebuilder:validation:MaxItems=15
	// +optional
	Changes []PackageChange `json:"changes,omitempty"`
	// ChangesOmitted counts the changes the host reported beyond those
	// listed.
	// +kubebuilder:validation:Minimum=0
	// +optional
	ChangesOmitted int32 `json:"changesOmitted,omitempty"`
	// FromVersion and ToVersion describe a self-update.
	// +kubebuilder:validation:MaxLength=64
	// +optional
	FromVersion string `json:"fromVersion,omitempty"`
	// +kubebuilder:validation:MaxLength=64
	// +optional
	ToVersion string `json:"toVersion,omitempty"`
}

// AgentStatus is what the host last reported and what the controllers
// concluded from it.
type AgentStatus struct {
	CommonStatus `json:",inline"`
	// AgentVersion is the version the host runs.
	// +kubebuilder:validation:MaxLength=64
	// +optional
	AgentVersion string `json:"agentVersion,omitempty"`
	// Hostname of the host.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	Hostname string `json:"hostname,omitempty"`
	// OS describes the operating system.
	// +optional
	OS OSInfo `json:"os,omitempty"`
	// LastSeen is when the host last checked in, kept coarse (persisted
	// every few minutes, not on each check-in).
	// +optional
	LastSeen *metav1.Time `json:"lastSeen,omitempty"`
	// FactsHash is the agent's hash of the facts last stored here; the
	// gateway asks for a facts report only when the agent's differs.
	// +kubebuilder:validation:MaxLength=64
	// +optional
	FactsHash string `json:"factsHash,omitempty"`
	// System holds slow-changing facts.
	// +optional
	System SystemFacts `json:"system,omitempty"`
	// Storage lists real mounts, up to 32.
	// +kubebuilder:validation:MaxItems=32
	// +optional
	Storage []MountStatus `json:"storage,omitempty"`
	// Updates is the pending-update inventory.
	// +optional
	Updates UpdateInventory `json:"updates,omitempty"`
	// Docker lists the containers and images of the host's Docker engine,
	// from subsystem docker; unset on a host without one.
	// +optional
	Docker *DockerInventory `json:"docker,omitempty"`
	// Subsystems holds the last run of each scanner subsystem.
	// +kubebuilder:validation:MaxItems=8
	// +listType=map
	// +listMapKey=name
	// +optional
	Subsystems []SubsystemStatus `json:"subsystems,omitempty"`
	// ScanNowHandled echoes the redflag.io/scan-now value last acted on.
	// +kubebuilder:validation:MaxLength=64
	// +optional
	ScanNowHandled string `json:"scanNowHandled,omitempty"`
	// ReboundMachineID echoes the redflag.io/rebind-machine-id value the
	// gateway has honoured: the host presented that machine ID, signed with
	// this Agent's key, and was accepted.
	// +kubebuilder:validation:MaxLength=128
	// +optional
	ReboundMachineID string `json:"reboundMachineID,omitempty"`
	// CurrentWork is the install or self-update in progress, or the last one.
	// +optional
	CurrentWork *WorkStatus `json:"currentWork,omitempty"`
	// CompletedWork records the newest finished pieces of work, up to 20,
	// each with what it installed.
	// +kubebuilder:validation:MaxItems=20
	// +optional
	CompletedWork []WorkRecord `json:"completedWork,omitempty"`
}

// Agent is one enrolled host. The gateway creates it when the host registers.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=ag,categories=redflag
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Version",type=string,JSONPath=`.status.agentVersion`
// +kubebuilder:printcolumn:name="OS",type=string,JSONPath=`.status.os.prettyName`
// +kubebuilder:printcolumn:name="Updates",type=integer,JSONPath=`.status.updates.total`
// +kubebuilder:printcolumn:name="Security",type=integer,JSONPath=`.status.updates.security`,priority=1
// +kubebuilder:printcolumn:name="Security Since",type=date,JSONPath=`.status.updates.securitySince`,priority=1
// +kubebuilder:printcolumn:name="Hostname",type=string,JSONPath=`.status.hostname`,priority=1
// +kubebuilder:printcolumn:name="Last Seen",type=date,JSONPath=`.status.lastSeen`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Agent struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec AgentSpec `json:"spec"`
	// +optional
	Status AgentStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// AgentList is a list of Agents.
type AgentList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Agent `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Agent{}, &AgentList{})
}
