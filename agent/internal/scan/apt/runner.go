package apt

import (
	"bytes"
	"context"
	"fmt"

	"github.com/redflag-io/redflag/agent/internal/scan"
	"github.com/redflag-io/redflag/api/v1alpha1"
)

// listArgs is the fixed argument list of the scan; never built from input.
var listArgs = []string{"list", "--upgradable"}

// Runner scans with the apt binary. The zero value runs "apt" from PATH.
type Runner struct {
	// Apt is the apt program; empty means "apt".
	Apt string
}

var _ scan.Scanner = Runner{}

// Manager implements scan.Scanner.
func (Runner) Manager() v1alpha1.PackageManager { return v1alpha1.ManagerApt }

// Scan runs `apt list --upgradable` with LANG=C and LC_ALL=C over the
// inherited environment and parses its standard output. It does not
// refresh the package lists (apt-get update is the host's own timer, or an
// install's first step). The deadline comes from ctx.
func (r Runner) Scan(ctx context.Context) ([]v1alpha1.PendingUpdate, error) {
	path := r.Apt
	if path == "" {
		path = "apt"
	}
	res, err := scan.Command{
		Path: path,
		Args: listArgs,
		Env:  []string{"LANG=C", "LC_ALL=C"},
	}.Run(ctx)
	if err != nil {
		return nil, fmt.Errorf("apt scan: %w", err)
	}
	updates, err := Parse(bytes.NewReader(res.Stdout))
	if err != nil {
		return updates, fmt.Errorf("apt scan: %w", err)
	}
	return updates, nil
}
