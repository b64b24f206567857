package controllers

import (
	"fmt"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
	"github.com/redflag-io/redflag/internal/conditions"
	"github.com/redflag-io/redflag/internal/events"
	"github.com/redflag-io/redflag/internal/rollout"
)

// Ready, Reconciling and Stalled reasons of an AgentUpdate.
const (
	reasonComplete        = "Complete"
	reasonProgressing     = "RolloutProgressing"
	reasonRolloutPaused   = "Paused"
	reasonOutsideWindow   = "OutsideWindow"
	reasonWaitingOnOther  = "WaitingOnAgentUpdate"
	reasonRolloutHalted   = "RolloutHalted"
	reasonCanaryFailed    = "CanaryFailed"
	reasonNoTargetsActive = "NoTargets"
	reasonRebootBudget    = "RebootBudgetFull"
)

// setPhase turns a plan into the phase and the conditions kstatus, Flux
// and Argo CD read (Succeeded: Ready=True, Current; Halted: Stalled=True,
// Failed; everything else InProgress), and records each transition.
func (r *AgentUpdateReconciler) setPhase(au *redflagv1.AgentUpdate, p rollout.Plan, windowOpen bool, gate string, retried bool, record recordFunc) {
	st := &au.Status
	gen := au.Generation
	prev := st.Phase
	c := p.Counts
	progress := fmt.Sprintf("%d of %d hosts done (%d succeeded, %d skipped, %d failed), %d working", c.Succeeded+c.Skipped+c.Failed, c.Total, c.Succeeded, c.Skipped, c.Failed, c.InProgress)
	switch {
	case p.Halted:
		st.Phase = redflagv1.RolloutHalted
		reason, msg := reasonRolloutHalted, fmt.Sprintf("%d hosts failed, more than maxFailures allows; no new host starts (retry: kubectl annotate agentupdate %s %s=\"$(date -u +%%FT%%TZ)\" --overwrite)", c.Failed, au.Name, redflagv1.RetryAnnotation)
		if p.CanaryFailed {
			reason, msg = reasonCanaryFailed, "a canary host failed; no other host starts ("+progress+")"
		}
		conditions.MarkStalled(&st.Conditions, gen, reason, msg)
	case p.Done && c.Total == 0:
		st.Phase = redflagv1.RolloutSucceeded
		conditions.MarkReady(&st.Conditions, gen, reasonNoTargetsActive, "no Agent matches the rollout's targets")
	case p.Done:
		st.Phase = redflagv1.RolloutSucceeded
		conditions.MarkReady(&st.Conditions, gen, reasonComplete, progress)
	case au.Spec.Paused:
		st.Phase = redflagv1.RolloutPaused
		conditions.MarkNotReady(&st.Conditions, gen, reasonRolloutPaused, "paused: "+progress)
		conditions.Remove(&st.Conditions, redflagv1.ConditionReconciling)
	case gate != "" && c.InProgress == 0:
		st.Phase = redflagv1.RolloutWaiting
		msg := conditions.Truncate(gate+": "+progress, redflagv1.MaxConditionMessage)
		conditions.MarkNotReady(&st.Conditions, gen, reasonGateClosed, msg)
		conditions.MarkReconciling(&st.Conditions, gen, reasonGateClosed, msg)
	case !windowOpen && c.InProgress == 0:
		st.Phase = redflagv1.RolloutWaiting
		conditions.MarkNotReady(&st.Conditions, gen, reasonOutsideWindow, "outside the maintenance window: "+progress)
		conditions.MarkReconciling(&st.Conditions, gen, reasonOutsideWindow, "waiting for the maintenance window")
	case p.WaitingOn != "" && c.InProgress == 0:
		st.Phase = redflagv1.RolloutWaiting
		msg := fmt.Sprintf("waiting on AgentUpdate %s, which holds the next hosts: %s", p.WaitingOn, progress)
		conditions.MarkNotReady(&st.Conditions, gen, reasonWaitingOnOther, msg)
		conditions.MarkReconciling(&st.Conditions, gen, reasonWaitingOnOther, msg)
	case p.RebootBudgetFull && c.InProgress == 0:
		st.Phase = redflagv1.RolloutWaiting
		msg := "waiting for the namespace's reboot budget: other rollouts' hosts may be rebooting: " + progress
		conditions.MarkNotReady(&st.Conditions, gen, reasonRebootBudget, msg)
		conditions.MarkReconciling(&st.Conditions, gen, reasonRebootBudget, msg)
	default:
		st.Phase = redflagv1.RolloutProgressing
		conditions.MarkNotReady(&st.Conditions, gen, reasonProgressing, progress)
		conditions.MarkReconciling(&st.Conditions, gen, reasonProgressing, progress)
	}

	add := func(reason events.Reason, msg string) {
		record(reason, msg, map[string]string{"workID": st.WorkID})
	}
	if retried {
		add(events.RolloutStarted, "retrying the failed hosts (attempt "+st.WorkID+")")
	}
	switch {
	case st.Phase == redflagv1.RolloutHalted && prev != redflagv1.RolloutHalted:
		add(events.RolloutHalted, conditions.Truncate(readyMessage(st), redflagv1.MaxMessageLength))
	case st.Phase == redflagv1.RolloutSucceeded && prev != redflagv1.RolloutSucceeded && c.Total > 0:
		add(events.RolloutSucceeded, progress)
	case len(p.Started) > 0 && (prev == "" || prev == redflagv1.RolloutPending || prev == redflagv1.RolloutSucceeded) && !retried:
		add(events.RolloutStarted, fmt.Sprintf("rollout started on %d target hosts", c.Total))
	}
}

func readyMessage(st *redflagv1.AgentUpdateStatus) string {
	for _, c := range st.Conditions {
		if c.Type == redflagv1.ConditionReady {
			return c.Message
		}
	}
	return ""
}

// stall sets what is particular to a rollout whose spec cannot be acted
// on: phase Failed and no slots. The Stalled condition and the InvalidSpec
// Event come from the reconcile.Stalling it ends the pass with.
func (r *AgentUpdateReconciler) stall(au *redflagv1.AgentUpdate) {
	r.reboots.forget(au.Namespace, au.Name)
	au.Status.Phase = redflagv1.RolloutFailed
	au.Status.Slots = nil
}
