package protocol

import "time"

// The facts and inventories a host reports. Each mirrors the API type of
// the same name in api/v1alpha1 field for field, with the same JSON names,
// order and encodings, so a report reads the same whichever side built it
// (internal/gateway's wireconv_test.go fails when the two drift apart).
// The agent builds them without linking Kubernetes; the gateway converts
// them to API types in one place (internal/gateway/wireconv.go).

// Bounds on what a host lists, the same as the Agent status fields they
// fill.
const (
	// MaxUpdateItems bounds UpdateInventory.Items; Total counts all.
	MaxUpdateItems = 200
	// MaxMounts bounds Facts.Storage.
	MaxMounts = 32
	// MaxWorkChanges bounds WorkResult.Changes.
	MaxWorkChanges = 50
)

// DefaultRefreshListsAfter is the age of package lists beyond which an
// updates scan refreshes them, when the ScanRequest does not say
// (ScanSchedule's default too).
const DefaultRefreshListsAfter = 4 * time.Hour

// PackageManager names a source of updates on a host.
type PackageManager string

// Package managers the agent scans and installs with.
const (
	ManagerApt           PackageManager = "apt"
	ManagerDnf           PackageManager = "dnf"
	ManagerDocker        PackageManager = "docker"
	ManagerWindowsUpdate PackageManager = "windows-update"
	ManagerWinget        PackageManager = "winget"
)

// OSInfo describes the host's operating system.
type OSInfo struct {
	// Family is linux, windows or darwin.
	Family string `json:"family,omitempty"`
	// Distribution is the distribution id, such as debian or rhel.
	Distribution string `json:"distribution,omitempty"`
	// Version is the distribution's version.
	Version string `json:"version,omitempty"`
	// PrettyName is the human name, such as "Debian GNU/Linux 12 (bookworm)".
	PrettyName string `json:"prettyName,omitempty"`
	// Kernel is the running kernel release.
	Kernel string `json:"kernel,omitempty"`
	// Arch is the CPU architecture, in Go's naming (amd64, arm64).
	Arch string `json:"arch,omitempty"`
}

// SystemFacts are slow-changing facts about the host.
type SystemFacts struct {
	CPUModel    string `json:"cpuModel,omitempty"`
	CPUCores    int32  `json:"cpuCores,omitempty"`
	MemoryBytes int64  `json:"memoryBytes,omitempty"`
	// BootTime is when the host last booted.
	BootTime *Time `json:"bootTime,omitempty"`
	// RebootRequired is true when the system itself says so
	// (/run/reboot-required, needs-restarting -r, Windows registry keys);
	// RebootReason is why, in the system's words.
	RebootRequired bool   `json:"rebootRequired,omitempty"`
	RebootReason   string `json:"rebootReason,omitempty"`
}

// MountStatus is one real filesystem mount on the host.
type MountStatus struct {
	MountPoint string `json:"mountPoint"`
	Device     string `json:"device,omitempty"`
	FSType     string `json:"fsType,omitempty"`
	SizeBytes  int64  `json:"sizeBytes,omitempty"`
	UsedBytes  int64  `json:"usedBytes,omitempty"`
}

// PendingUpdate is one update a package manager offers. The API type's
// firstSeen is the gateway's to set, never the host's, so it is not here.
type PendingUpdate struct {
	Manager PackageManager `json:"manager"`
	// Name of the package or image.
	Name string `json:"name"`
	// CurrentVersion is the installed version (or image digest);
	// AvailableVersion the candidate.
	CurrentVersion   string `json:"currentVersion,omitempty"`
	AvailableVersion string `json:"availableVersion,omitempty"`
	// Security is true for a security update.
	Security bool `json:"security,omitempty"`
	// Held is true when the host itself holds the package (apt-mark hold,
	// a dnf versionlock withholding AvailableVersion).
	Held bool `json:"held,omitempty"`
	// Source is where it comes from (archive, repository, registry).
	Source string `json:"source,omitempty"`
}

// UpdateInventory is the host's pending updates. The API type's
// securitySince is the gateway's to set, so it is not here.
type UpdateInventory struct {
	// Total counts every pending update, listed or not; Security the
	// security updates among them.
	Total    int32 `json:"total"`
	Security int32 `json:"security"`
	// ByManager counts pending updates per package manager.
	ByManager map[string]int32 `json:"byManager,omitempty"`
	// Items lists pending updates, security first, up to MaxUpdateItems.
	Items []PendingUpdate `json:"items,omitempty"`
	// Truncated is true when Items holds fewer entries than Total.
	Truncated bool `json:"truncated,omitempty"`
	// ScannedAt is when the inventory was taken.
	ScannedAt *Time `json:"scannedAt,omitempty"`
	// Hash identifies the content (not the time).
	Hash string `json:"hash,omitempty"`
}

// RunResult is the outcome of a scan.
type RunResult string

// Run results.
const (
	RunSucceeded RunResult = "Succeeded"
	RunFailed    RunResult = "Failed"
	RunTimedOut  RunResult = "TimedOut"
	RunSkipped   RunResult = "Skipped"
)
