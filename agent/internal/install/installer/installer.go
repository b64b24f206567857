package installer

import (
	"context"
	"log/slog"

	"github.com/redflag-io/redflag/internal/protocol"
)

// Installer installs the pending updates of one package manager.
type Installer interface {
	// Manager names the package manager.
	Manager() protocol.PackageManager
	// Pending lists the updates the manager offers now. It returns an
	// error wrapping scan.ErrNotInstalled when the manager is absent from
	// this host, and may return updates together with an error wrapping
	// scan.ErrMalformed when part of the listing could not be read. It
	// may first refresh the manager's metadata (apt-get update), logging
	// a refresh that failed rather than failing: the install then works
	// from what the host already knows, as the scan did.
	Pending(ctx context.Context, log *slog.Logger) ([]protocol.PendingUpdate, error)
	// Selects reports whether name, as a rollout writes it in
	// spec.packages.names, picks u.
	Selects(name string, u protocol.PendingUpdate) bool
	// Keys are the names of u that spec.packages.exclude globs are
	// matched against.
	Keys(u protocol.PendingUpdate) []string
	// Plan resolves what installing req.Updates would change, changing
	// nothing. The plan lists every package the manager would touch,
	// including ones the rollout did not select.
	Plan(ctx context.Context, req Request) (Plan, error)
	// Install installs req.Updates as plan describes and returns what
	// changed, with the versions read back from the system. On an error
	// the Result still holds what was changed before it.
	Install(ctx context.Context, req Request, plan Plan) (Result, error)
}

// Refresher is implemented by an Installer whose Pending refreshes the
// manager's package lists first (apt-get update): the lists a scan reads
// may then hold more than the last scan saw, so the agent scans again.
type Refresher interface {
	// Refreshes reports whether Pending refreshes the package lists.
	Refreshes() bool
}

// Request is what the orchestrator asks of one Installer.
type Request struct {
	// Updates are the selected pending updates; never empty.
	Updates []protocol.PendingUpdate
	// AllowNewDependencies is the rollout's permission to pull in
	// packages it did not select. The orchestrator has already refused a
	// plan that needs it; an installer that cannot plan dependencies in
	// advance (winget) uses it to tell the manager to skip them.
	AllowNewDependencies bool
	// Log receives progress; never nil.
	Log *slog.Logger
}

// Names returns the names of r.Updates, in order.
func (r Request) Names() []string {
	out := make([]string, len(r.Updates))
	for i, u := range r.Updates {
		out[i] = u.Name
	}
	return out
}

// Kind says what a Change does to a package.
type Kind string

// Kinds of change.
const (
	// Upgrade replaces an installed version with a newer one.
	Upgrade Kind = "upgrade"
	// Install adds a package that was not installed.
	Install Kind = "install"
	// Remove takes a package away.
	Remove Kind = "remove"
	// Downgrade replaces an installed version with an older one.
	Downgrade Kind = "downgrade"
	// Reinstall installs the same version again.
	Reinstall Kind = "reinstall"
)

// Change is one package (or image) an install changes or would change.
type Change struct {
	// Name is what a reader sees: "libc6:i386", "openssl-libs",
	// "nginx:1.27".
	Name string
	// Key is the name a rollout selects it by, the Name of the
	// PendingUpdate it fulfils; empty means Name. apt's "libc6:i386"
	// has Key "libc6".
	Key string
	// From is the version before; empty for a new package.
	From string
	// To is the version after; empty for a removal.
	To   string
	Kind Kind
}

// SelectKey is Key, or Name when Key is empty.
func (c Change) SelectKey() string {
	if c.Key != "" {
		return c.Key
	}
	return c.Name
}

// Plan is what installing a selection would do.
type Plan struct {
	// Changes are every package the manager would change.
	Changes []Change
	// Notes describe effects that are not package changes, one short
	// phrase each: "recreate container web".
	Notes []string
}

// Result is what an install did.
type Result struct {
	// Changes are the packages changed, versions read back after.
	Changes []Change
	// Notes are phrases worth reporting: "recreated container web",
	// "openssl still at 3.0.7 after winget reported success".
	Notes []string
	// RebootRequired is the manager's own word that a reboot must follow
	// (Windows Update, winget exit codes). The host's reboot-required
	// signals are read separately by the agent's facts.
	RebootRequired bool
}
