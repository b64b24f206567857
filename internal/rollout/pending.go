package rollout

import (
	"path"
	"slices"
	"strings"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
)

// Inventory is what a host's stored inventory holds for a rollout.
type Inventory int

// What a host has pending, as far as its last scan tells.
const (
	// PendingUnknown: never scanned, or the selected updates may hide
	// beyond the listed items; the host is given the work and decides.
	PendingUnknown Inventory = iota
	// PendingNothing: nothing the rollout selects is pending.
	PendingNothing
	// PendingHeldOnly: everything selected that is pending is held.
	PendingHeldOnly
	// PendingSome: at least one selected, unheld update is pending.
	PendingSome
)

// PackagesHeld is the reason a host whose selected updates are all held
// is skipped with.
const PackagesHeld = "PackagesHeld"

// PendingOn judges a host's inventory against a package selection and the
// holds: the Agent's (spec.holds) and the host's own (items marked held). It mirrors the agent's own selection (scope, names,
// exclude globs, managers) closely enough to say "nothing" only when
// sure: where the controller cannot match a name the way the host's
// package manager would (image references, Windows Update titles), an
// update of that manager counts as selected.
func PendingOn(sel *redflagv1.PackageSelection, inv *redflagv1.UpdateInventory, holds []string) Inventory {
	if sel == nil || inv.ScannedAt == nil {
		return PendingUnknown
	}
	held := false
	for _, u := range inv.Items {
		if !selects(sel, u) {
			continue
		}
		if u.Held || slices.Contains(holds, u.Name) {
			held = true
			continue
		}
		return PendingSome
	}
	switch {
	case inv.Truncated || int(inv.Total) > len(inv.Items):
		return PendingUnknown
	case held:
		return PendingHeldOnly
	}
	return PendingNothing
}

func selects(sel *redflagv1.PackageSelection, u redflagv1.PendingUpdate) bool {
	if len(sel.Managers) > 0 && !slices.Contains(sel.Managers, u.Manager) {
		return false
	}
	switch sel.Scope {
	case redflagv1.ScopeNamed:
		if !slices.ContainsFunc(sel.Names, func(n string) bool { return namesMatch(n, u) }) {
			return false
		}
	case redflagv1.ScopeSecurity:
		if !u.Security {
			return false
		}
	}
	for _, g := range sel.Exclude {
		if ok, _ := path.Match(g, u.Name); ok {
			return false
		}
	}
	return true
}

// namesMatch is the agent's Selects for apt, dnf (name.arch) and winget
// (any case); for images and Windows updates, whose names the agent
// matches in ways the controller does not repeat, it says yes.
func namesMatch(name string, u redflagv1.PendingUpdate) bool {
	switch u.Manager {
	case redflagv1.ManagerDocker, redflagv1.ManagerWindowsUpdate:
		return true
	}
	return strings.EqualFold(name, u.Name) || strings.HasPrefix(name, u.Name+".")
}

// InventoryAfterWork is the host's inventory with what its last finished
// install changed taken out, when the inventory is older than that
// install: the host rescans after an install, but a run that starts
// before the rescan arrives must not see the updates just installed as
// still pending (and send the host work that would change nothing).
func InventoryAfterWork(st *redflagv1.AgentStatus) *redflagv1.UpdateInventory {
	inv := &st.Updates
	w := st.CurrentWork
	if w == nil || w.DryRun || w.FinishedAt == nil || len(w.Changes) == 0 || inv.ScannedAt == nil || inv.ScannedAt.After(w.FinishedAt.Time) {
		return inv
	}
	out := *inv
	out.Items = slices.DeleteFunc(slices.Clone(inv.Items), func(u redflagv1.PendingUpdate) bool {
		return slices.ContainsFunc(w.Changes, func(c redflagv1.PackageChange) bool {
			return c.Manager == u.Manager && c.Name == u.Name && c.To == u.AvailableVersion
		})
	})
	out.Total = max(inv.Total-int32(len(inv.Items)-len(out.Items)), int32(len(out.Items)))
	return &out
}
