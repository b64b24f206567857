package install

import (
	"fmt"
	"strings"

	"github.com/redflag-io/redflag/agent/internal/install/installer"
	"github.com/redflag-io/redflag/internal/protocol"
)

// maxNamed bounds how many packages a refusal names.
const maxNamed = 8

// judge refuses a plan that goes beyond the rollout: it touches an
// excluded package, removes packages, or (without allowNewDependencies)
// installs or upgrades packages the rollout did not select. Exclusions
// and removals are refused whatever the flag says: the flag lets a
// rollout add what its packages need, not take away or override the
// user's explicit "never".
func judge(m protocol.PackageManager, plan installer.Plan, selected []protocol.PendingUpdate, req protocol.PackageWork) *Failure {
	chosen := map[string]bool{}
	for _, u := range selected {
		chosen[u.Name] = true
	}
	var excl, removed, extra []installer.Change
	for _, c := range plan.Changes {
		switch {
		case excluded(req.Exclude, c.SelectKey(), c.Name):
			excl = append(excl, c)
		case c.Kind == installer.Remove:
			removed = append(removed, c)
		case !chosen[c.SelectKey()]:
			extra = append(extra, c)
		}
	}
	switch {
	case len(excl) > 0:
		return &Failure{Reason: ReasonExcludedPackage, Manager: m, Err: fmt.Errorf(
			"the dry run would also change %s, which spec.packages.exclude forbids; nothing was installed", list(excl))}
	case len(removed) > 0:
		return &Failure{Reason: ReasonPackageRemovals, Manager: m, Err: fmt.Errorf(
			"the dry run would remove %s; a rollout never removes packages, nothing was installed", list(removed))}
	case len(extra) > 0 && !req.AllowNewDependencies:
		return &Failure{Reason: ReasonNewDependencies, Manager: m, Err: fmt.Errorf(
			"the dry run would also change packages the rollout did not select: %s; set spec.packages.allowNewDependencies to allow them, nothing was installed", list(extra))}
	}
	return nil
}

// list names changes for a message: "libfoo (new, 1.2-1), bar (1.0 -> 2.0)".
func list(cs []installer.Change) string {
	parts := make([]string, 0, min(len(cs), maxNamed)+1)
	for i, c := range cs {
		if i == maxNamed {
			parts = append(parts, fmt.Sprintf("and %d more", len(cs)-maxNamed))
			break
		}
		parts = append(parts, describeChange(c))
	}
	return strings.Join(parts, ", ")
}

func describeChange(c installer.Change) string {
	switch {
	case c.Kind == installer.Install:
		return fmt.Sprintf("%s (new, %s)", c.Name, c.To)
	case c.Kind == installer.Remove && c.From != "":
		return fmt.Sprintf("%s (%s)", c.Name, c.From)
	case c.Kind == installer.Remove:
		return c.Name
	case c.From != "" && c.To != "":
		return fmt.Sprintf("%s (%s -> %s)", c.Name, c.From, c.To)
	default:
		return c.Name
	}
}
