package protocol

import (
	"path"
	"time"
)

// WorkRequest is the install or self-update a rollout asks of this host.
// The agent runs each ID once and reports its progress as work reports;
// seeing the same ID again in a later answer is not a reason to redo it.
type WorkRequest struct {
	// ID names this piece of work: the AgentUpdate's name, a hash of what
	// it asks for, and a retry attempt. Redoing an ID is harmless.
	ID string `json:"id"`
	// AgentUpdate is the rollout that asked for it.
	AgentUpdate string `json:"agentUpdate"`
	// Exactly one of Packages and AgentVersion is set.
	Packages     *PackageWork `json:"packages,omitempty"`
	AgentVersion *ReleaseRef  `json:"agentVersion,omitempty"`
	// DryRun resolves and reports what would be installed, installing nothing.
	DryRun bool `json:"dryRun,omitempty"`
	// Reboot is the rollout's reboot policy.
	Reboot RebootPolicy `json:"reboot,omitempty"`
	// RebootBefore, when set, is the end of the maintenance window: the
	// host reboots only before it.
	RebootBefore *time.Time `json:"rebootBefore,omitempty"`
}

// PackageWork chooses the packages to install, as the rollout's spec does.
type PackageWork struct {
	Scope                PackageScope     `json:"scope"`
	Names                []string         `json:"names,omitempty"`
	Exclude              []string         `json:"exclude,omitempty"`
	Managers             []PackageManager `json:"managers,omitempty"`
	AllowNewDependencies bool             `json:"allowNewDependencies,omitempty"`
}

// ReleaseRef points at a signed agent release for this host's platform.
type ReleaseRef struct {
	Version string `json:"version"`
	// ManifestPath and BinaryPath are paths on the gateway (see ReleasePath).
	ManifestPath string `json:"manifestPath"`
	BinaryPath   string `json:"binaryPath"`
}

// ReleasesPrefix is where the gateway serves signed agent releases:
// <prefix><version>/<os>-<arch>/<file>, with "latest" for the newest.
const ReleasesPrefix = "/api/v1/releases/"

// Files of a release directory.
const (
	ReleaseManifestFile = "manifest.json"
	ReleaseBinaryFile   = "redflag-agent"
)

// ReleasePath is the gateway path of one file of a release.
func ReleasePath(version, goos, arch, file string) string {
	return ReleasesPrefix + path.Join(version, goos+"-"+arch, file)
}

// ReasonHostTimedOut is the WorkResult.Reason of work a rollout abandoned
// (see WorkDocument.Abandoned) and the host dropped: the reason the rollout
// itself records (internal/rollout.HostTimedOut).
const ReasonHostTimedOut = "HostTimedOut"

// WorkResult is a host's word on a piece of work: sent once when it starts
// (Running) and once when it ends.
type WorkResult struct {
	ID          string    `json:"id"`
	AgentUpdate string    `json:"agentUpdate"`
	Phase       WorkPhase `json:"phase"`
	// Reason is a short CamelCase cause for a failure (NewDependencies,
	// InstallFailed, SignatureInvalid, Downgrade, ...).
	Reason   string     `json:"reason,omitempty"`
	Message  string     `json:"message,omitempty"`
	Started  time.Time  `json:"started"`
	Finished *time.Time `json:"finished,omitempty"`
	// DryRun marks Changes as planned, not made.
	DryRun bool `json:"dryRun,omitempty"`
	// Changes lists what was (or would be) installed, versions before and after.
	Changes []PackageChange `json:"changes,omitempty"`
	// RebootRequired says the host needs a reboot; Rebooting that it is
	// rebooting now, per the rollout's policy.
	RebootRequired bool `json:"rebootRequired,omitempty"`
	Rebooting      bool `json:"rebooting,omitempty"`
	// FromVersion and ToVersion describe a self-update.
	FromVersion string `json:"fromVersion,omitempty"`
	ToVersion   string `json:"toVersion,omitempty"`
}

// RebootPolicy says whether the host reboots after installing.
type RebootPolicy string

// Reboot policies, as an AgentUpdate's spec.reboot.
const (
	RebootNever      RebootPolicy = "Never"
	RebootIfRequired RebootPolicy = "IfRequired"
	RebootAlways     RebootPolicy = "Always"
)

// PackageScope says which pending updates a PackageWork installs.
type PackageScope string

// Package scopes, as an AgentUpdate's spec.packages.scope.
const (
	ScopeNamed    PackageScope = "Named"
	ScopeAll      PackageScope = "All"
	ScopeSecurity PackageScope = "Security"
)

// WorkPhase is where a piece of work stands on the host.
type WorkPhase string

// Work phases a host may report (the Agent's status has Assigned besides,
// which only the manager sets).
const (
	WorkRunning    WorkPhase = "Running"
	WorkSucceeded  WorkPhase = "Succeeded"
	WorkFailed     WorkPhase = "Failed"
	WorkRolledBack WorkPhase = "RolledBack"
	WorkSkipped    WorkPhase = "Skipped"
)

// Finished reports whether the phase ends the work.
func (p WorkPhase) Finished() bool {
	return p == WorkSucceeded || p == WorkFailed || p == WorkRolledBack || p == WorkSkipped
}

// PackageChange is one package (or image) an install changed, or would
// change in a dry run.
type PackageChange struct {
	Manager PackageManager `json:"manager"`
	Name    string         `json:"name"`
	// From is the version before, empty for a newly installed package; To
	// the version after.
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
}
