package controllers

import (
	"context"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
	"github.com/redflag-io/redflag/internal/conditions"
	"github.com/redflag-io/redflag/internal/rollout"
)

// reasonWaitingForNextRun is the Ready reason of a recurring rollout
// between runs.
const reasonWaitingForNextRun = "WaitingForNextRun"

// betweenRuns handles a recurring rollout with no run going on. When no
// run is due it settles the status (phase, conditions, next run) and
// returns handled with when to look again; the caller writes it. When one is due it looks at the targets' stored
// inventories: with nothing pending anywhere it records a NothingToDo run
// and touches nothing else (no slot, no Agent, no Event); otherwise it
// opens run n+1, freezing spec.packages for it, and the caller goes on
// with the pass under the new run's key.
func (r *AgentUpdateReconciler) betweenRuns(ctx context.Context, au *redflagv1.AgentUpdate, now time.Time, open bool, window *rollout.Window) (bool, time.Duration, error) {
	st := &au.Status
	if rollout.RunActive(st) {
		return false, 0, nil
	}
	_, closes, opens := window.Open(now)
	if !rollout.RunDue(st, now, open, au.Spec.Paused) {
		r.markIdle(au, open)
		wait := nextLook(open, closes, opens, now)
		if st.NextRun != nil {
			wait = min(wait, max(st.NextRun.Sub(now), time.Second))
		}
		return true, wait, nil
	}
	in, _, agents, err := r.gather(ctx, au, "", "")
	if err != nil {
		return true, 0, err
	}
	hosts := int32(0)
	for _, t := range in.Targets {
		a := agents[t.Name]
		switch rollout.PendingOn(au.Spec.Packages, rollout.InventoryAfterWork(&a.Status), a.Spec.Holds) {
		case rollout.PendingSome, rollout.PendingUnknown:
			if t.Eligible {
				hosts++
			}
		}
	}
	stamp := metav1.NewTime(now.UTC().Truncate(time.Second))
	next := metav1.NewTime(rollout.NextRun(stamp.Time, au.Spec.Recurrence.Every.Duration, stamp.Time))
	st.Run++
	st.LastRun, st.NextRun = &stamp, &next
	if hosts == 0 {
		st.Runs = rollout.AppendRun(st.Runs, redflagv1.RunRecord{Run: st.Run, Started: stamp, Finished: &stamp, Result: redflagv1.RunFoundNothing})
		r.markIdle(au, open)
		return true, max(next.Sub(now), time.Second), nil
	}
	st.Runs = rollout.AppendRun(st.Runs, redflagv1.RunRecord{Run: st.Run, Started: stamp, Result: redflagv1.RunInProgress, Hosts: hosts})
	st.RunPackages = au.Spec.Packages.DeepCopy()
	st.Failures, st.SkippedHosts = nil, nil
	return false, 0, nil
}

// endRun brings the current run's record up to date with the plan: its
// counts, and its end when the plan is done or halted (a retry of a
// halted run reopens it).
func endRun(st *redflagv1.AgentUpdateStatus, p rollout.Plan, now time.Time) {
	if len(st.Runs) == 0 || st.Runs[len(st.Runs)-1].Run != st.Run {
		return
	}
	run := &st.Runs[len(st.Runs)-1]
	if run.Result == redflagv1.RunFoundNothing {
		return
	}
	run.Succeeded, run.Failed, run.Skipped = p.Counts.Succeeded, p.Counts.Failed, p.Counts.Skipped
	stamp := metav1.NewTime(now.UTC().Truncate(time.Second))
	switch {
	case p.Done:
		if run.Result != redflagv1.RunCompleted {
			run.Result, run.Finished = redflagv1.RunCompleted, &stamp
		}
	case p.Halted:
		if run.Result != redflagv1.RunStopped {
			run.Result, run.Finished = redflagv1.RunStopped, &stamp
		}
	default:
		run.Result, run.Finished = redflagv1.RunInProgress, nil
	}
}

// markIdle sets the phase and conditions of a recurring rollout between
// runs: Ready once a run has ended (kstatus reads it Current), waiting or
// paused before the first.
func (r *AgentUpdateReconciler) markIdle(au *redflagv1.AgentUpdate, open bool) {
	st := &au.Status
	gen := au.Generation
	r.reboots.forget(au.Namespace, au.Name)
	st.Slots, st.WaitingOn = nil, ""
	next := "when the window opens"
	if st.NextRun != nil {
		next = "at " + st.NextRun.UTC().Format(time.RFC3339)
		if !open {
			next += ", once the window is open"
		}
	}
	switch {
	case au.Spec.Paused:
		st.Phase = redflagv1.RolloutPaused
		conditions.MarkNotReady(&st.Conditions, gen, reasonRolloutPaused, "paused: no new run starts")
		conditions.Remove(&st.Conditions, redflagv1.ConditionReconciling)
	case len(st.Runs) == 0:
		st.Phase = redflagv1.RolloutWaiting
		conditions.MarkNotReady(&st.Conditions, gen, reasonOutsideWindow, "the first run starts "+next)
		conditions.MarkReconciling(&st.Conditions, gen, reasonOutsideWindow, "waiting for the maintenance window")
	default:
		last := st.Runs[len(st.Runs)-1]
		st.Phase = redflagv1.RolloutSucceeded
		msg := fmt.Sprintf("run %d: %s", last.Run, last.Result)
		if last.Result != redflagv1.RunFoundNothing {
			msg += fmt.Sprintf(" (%d of %d hosts succeeded, %d skipped, %d failed)", last.Succeeded, last.Hosts, last.Skipped, last.Failed)
		}
		conditions.MarkReady(&st.Conditions, gen, reasonWaitingForNextRun, msg+"; next run "+next)
	}
}
