package install

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/redflag-io/redflag/internal/protocol"
)

// DefaultTimeout bounds each manager's planning, and separately its
// install, when Options.Timeout is zero.
const DefaultTimeout = 30 * time.Minute

// Options come from the daemon; zero values mean defaults.
type Options struct {
	// Log receives progress; nil means slog.Default().
	Log *slog.Logger
	// Timeout bounds each manager's planning and, separately, its
	// install; 0 means DefaultTimeout.
	Timeout time.Duration
	// Planned, when set, is called with every change the install is about
	// to make (as planned: versions before and after), once every manager
	// has planned and before the first one installs; never on a dry run
	// or when nothing is to change.
	// It is the last moment the versions before are known for certain:
	// an install killed half-way leaves packages upgraded, and a redo
	// plans from those. The daemon records them for that redo.
	Planned func([]protocol.PackageChange)
}

func (o Options) withDefaults() Options {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	return o
}

// Outcome is what an install did (or would do, in a dry run).
type Outcome struct {
	// Changes are the versions before and after (planned ones in a dry
	// run), every manager's, in the order the managers ran. There may be
	// more than an Agent's status keeps; the caller bounds them.
	Changes []protocol.PackageChange
	// Message is one human line, at most MaxMessageLen bytes: "upgraded
	// 2 packages with apt", "no pending update matched the rollout".
	Message string
	// RebootRequired is set when a manager said a reboot must follow
	// (Windows Update, winget). Debian's and RHEL's own reboot signals are
	// read by the agent's facts, not here.
	RebootRequired bool
	// Refreshed is set when a manager present on the host refreshed its
	// package lists while listing what is pending (apt-get update, run by
	// every install and dry run with apt), whether or not the run went on
	// to succeed: what a scan would find may have changed even when
	// nothing was installed.
	Refreshed bool
}

// MaxMessageLen is the bound of Outcome.Message, the bound of an Agent's
// status.currentWork.message.
const MaxMessageLen = 512

// Reasons of a Failure: short, stable, CamelCase, as a WorkResult carries
// them.
const (
	// ReasonNewDependencies: the dry run would install or upgrade
	// packages the rollout did not select, and allowNewDependencies is
	// not set. Nothing was installed.
	ReasonNewDependencies = "NewDependencies"
	// ReasonExcludedPackage: the dry run would change a package matching
	// spec.packages.exclude (pulled in as a dependency). Nothing was
	// installed.
	ReasonExcludedPackage = "ExcludedPackage"
	// ReasonPackageRemovals: the dry run would remove packages. A rollout
	// never removes packages; nothing was installed.
	ReasonPackageRemovals = "PackageRemovals"
	// ReasonInstallFailed: the package manager failed while installing.
	ReasonInstallFailed = "InstallFailed"
	// ReasonDryRunFailed: the package manager failed to resolve the
	// selection. Nothing was installed.
	ReasonDryRunFailed = "DryRunFailed"
	// ReasonManagerUnavailable: the manager's pending updates could not
	// be listed (its daemon down, its configuration broken), or a Named
	// rollout asked only for managers absent from this host.
	ReasonManagerUnavailable = "ManagerUnavailable"
	// ReasonTimeout: a manager did not finish within Options.Timeout.
	ReasonTimeout = "Timeout"
	// ReasonInterrupted: the caller's context ended (the agent is
	// stopping) mid-way.
	ReasonInterrupted = "Interrupted"
	// ReasonUnsupported: the plan holds a change the installer cannot
	// make safely (a Docker container started with --rm). Nothing was
	// installed.
	ReasonUnsupported = "Unsupported"
	// ReasonInvalidRequest: the work itself is malformed (unknown scope or
	// manager, a bad exclude glob).
	ReasonInvalidRequest = "InvalidRequest"
)

// Failure is an install error with a stable CamelCase reason:
// NewDependencies, InstallFailed, ManagerUnavailable, Timeout, ... (the
// Reason constants). Manager is empty when the failure is not one
// manager's (InvalidRequest).
type Failure struct {
	Reason  string
	Manager protocol.PackageManager
	Err     error
}

func (f *Failure) Error() string {
	if f.Manager == "" {
		return fmt.Sprintf("%s: %v", f.Reason, f.Err)
	}
	return fmt.Sprintf("%s: %s: %v", f.Manager, f.Reason, f.Err)
}

func (f *Failure) Unwrap() error { return f.Err }
