package controllers

import (
	"slices"
	"strings"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
	"github.com/redflag-io/redflag/internal/conditions"
	"github.com/redflag-io/redflag/internal/rollout"
)

// reasonNothingPending is the reason a recurring run skips a host whose
// stored inventory has nothing the rollout selects.
const reasonNothingPending = "NothingPending"

// skipUnneeded turns a pending host into a skipped one when its stored
// inventory says the work would do nothing: every selected update is held
// on the Agent (any package rollout), or, in a recurring rollout's run,
// nothing selected is pending at all (a run installs what is pending; a
// host with nothing is not sent work that would change nothing). A host
// whose inventory the controller cannot judge keeps its work: the agent
// decides on the host, and the gateway passes the holds on as excludes.
func skipUnneeded(au *redflagv1.AgentUpdate, a *redflagv1.Agent, res rollout.HostResult) rollout.HostResult {
	sel := au.Spec.Packages
	if au.Spec.Recurrence != nil && au.Status.RunPackages != nil {
		sel = au.Status.RunPackages
	}
	if sel == nil {
		return res
	}
	switch rollout.PendingOn(sel, rollout.InventoryAfterWork(&a.Status), a.Spec.Holds) {
	case rollout.PendingHeldOnly:
		return rollout.HostResult{Outcome: rollout.Skipped, Reason: rollout.PackagesHeld}
	case rollout.PendingNothing:
		if au.Spec.Recurrence != nil {
			return rollout.HostResult{Outcome: rollout.Skipped, Reason: reasonNothingPending}
		}
	}
	return res
}

// skippedHosts lists the targets skipped because of their holds, with the
// held packages, sorted by name and at most MaxSkipRecords.
func skippedHosts(in rollout.Input, agents map[string]*redflagv1.Agent) []redflagv1.HostSkip {
	var out []redflagv1.HostSkip
	for _, t := range in.Targets {
		if len(out) == redflagv1.MaxSkipRecords {
			break
		}
		if t.Result.Outcome != rollout.Skipped || t.Result.Reason != rollout.PackagesHeld {
			continue
		}
		a := agents[t.Name]
		var held []string
		for _, u := range a.Status.Updates.Items {
			if slices.Contains(a.Spec.Holds, u.Name) && !slices.Contains(held, u.Name) {
				held = append(held, u.Name)
			}
		}
		out = append(out, redflagv1.HostSkip{
			Agent: t.Name, Reason: rollout.PackagesHeld,
			Message: conditions.Truncate("every update the rollout selects is held on the Agent (spec.holds): "+strings.Join(held, ", "), redflagv1.MaxSkipMessage),
		})
	}
	return out
}
