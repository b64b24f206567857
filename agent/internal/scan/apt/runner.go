package apt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redflag-io/redflag/agent/internal/scan"
	"github.com/redflag-io/redflag/internal/protocol"
)

// listArgs is the fixed argument list of the scan; never built from input.
var listArgs = []string{"list", "--upgradable"}

// cLocale keeps apt's output in the English the parser reads.
var cLocale = []string{"LANG=C", "LC_ALL=C"}

// Runner scans with the apt binary. The zero value runs apt, apt-get and
// apt-config from PATH.
type Runner struct {
	// Apt, AptGet and AptConfig are the programs; empty means the name on
	// PATH.
	Apt, AptGet, AptConfig, AptMark string
	// RefreshTimeout bounds the `apt-get update` before a scan; 0 means
	// DefaultRefreshTimeout.
	RefreshTimeout time.Duration
}

var _ scan.OptionScanner = Runner{}

// markHeld marks the updates of packages the host holds (`apt-mark
// showhold`, one name per line). apt itself refuses to upgrade them
// unattended; marking them lets the agent leave them out and the
// Agent's status show them as held.
func (r Runner) markHeld(ctx context.Context, updates []protocol.PendingUpdate) error {
	if len(updates) == 0 {
		return nil
	}
	res, err := scan.Command{Path: prog(r.AptMark, "apt-mark"), Args: showholdArgs, Env: cLocale}.Run(ctx)
	if err != nil {
		return fmt.Errorf("apt-mark showhold: %w", err)
	}
	held := map[string]bool{}
	for _, line := range strings.Split(string(res.Stdout), "\n") {
		if name := strings.TrimSpace(line); name != "" {
			// Multi-arch holds read "name:arch"; updates are listed by name.
			name, _, _ = strings.Cut(name, ":")
			held[name] = true
		}
	}
	for i := range updates {
		updates[i].Held = held[updates[i].Name]
	}
	return nil
}

// showholdArgs is fixed; never built from input.
var showholdArgs = []string{"showhold"}

// Manager implements scan.Scanner.
func (Runner) Manager() protocol.PackageManager { return protocol.ManagerApt }

// Scan runs `apt list --upgradable` with LANG=C and LC_ALL=C over the
// inherited environment and parses its standard output. It does not
// refresh the package lists (an install refreshes them itself as its first
// step). The deadline comes from ctx.
func (r Runner) Scan(ctx context.Context) ([]protocol.PendingUpdate, error) {
	return r.ScanWith(ctx, scan.Options{})
}

// ScanWith is Scan after refreshing the package lists with `apt-get
// update` when they are older than opts.RefreshListsAfter: apt list reads
// only the lists on disk, and on a host whose lists nobody refreshes (no
// apt timer, a container) they fall behind the archive, so the scan
// would report fewer updates than there are. A refresh that fails does
// not fail the scan: the updates read from the old lists come back with an
// error wrapping scan.ErrNotRefreshed that says why.
func (r Runner) ScanWith(ctx context.Context, opts scan.Options) ([]protocol.PendingUpdate, error) {
	refreshErr := r.refresh(ctx, opts.RefreshListsAfter)
	res, err := scan.Command{Path: prog(r.Apt, "apt"), Args: listArgs, Env: cLocale}.Run(ctx)
	if err != nil {
		if refreshErr != nil {
			// Not wrapped: a scan that listed nothing is a failure, not a
			// stale result.
			return nil, fmt.Errorf("apt scan: %w (before it: %v)", err, refreshErr)
		}
		return nil, fmt.Errorf("apt scan: %w", err)
	}
	updates, err := Parse(bytes.NewReader(res.Stdout))
	holdErr := r.markHeld(ctx, updates)
	if err := errors.Join(refreshErr, err, holdErr); err != nil {
		return updates, fmt.Errorf("apt scan: %w", err)
	}
	return updates, nil
}
