package controllers

import (
	"time"

	"k8s.io/apimachinery/pkg/api/meta"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
	"github.com/redflag-io/redflag/internal/schedule"
	"github.com/redflag-io/redflag/internal/timing"
)

// scheduleTally is what one ScanSchedule covers at one instant.
type scheduleTally struct {
	// matched counts every agent the selector chooses: paused, revoked,
	// silent or not, so the number answers "which hosts does this cover".
	matched int32
	// due counts agents that would be handed a scan at their next
	// check-in: Ready, neither paused nor revoked, with at least one
	// subsystem due whose interval this schedule sets.
	due int32
	// overdue counts agents, Ready or silent (but neither paused nor
	// revoked), whose due scan is late by more than one interval. A
	// silent agent is never counted as due, since nothing is handed to
	// it, but a scan it misses is late all the same.
	overdue int32
	// next is the earliest instant after now at which a count changes by
	// the passing of time alone; zero when none will.
	next time.Time
}

// countAgents tallies s over agents, the Agents its selector chose. Which
// subsystems s is answerable for comes from the merged plan of all
// schedules in the namespace (schedule.For, as the gateway dispatches):
// where another schedule sets a shorter interval, that subsystem is the
// other schedule's, so an agent is counted as due by exactly the schedules
// whose intervals the gateway follows.
func countAgents(s *redflagv1.ScanSchedule, agents []redflagv1.Agent, all []redflagv1.ScanSchedule, now time.Time) scheduleTally {
	t := scheduleTally{matched: int32(len(agents))}
	if s.Spec.Paused {
		// A paused schedule contributes nothing to any plan (schedule.For
		// skips it), so nothing is due by it.
		return t
	}
	for i := range agents {
		a := &agents[i]
		if a.Spec.Paused || a.Spec.Revoked || !a.DeletionTimestamp.IsZero() {
			// No work is handed to them: being behind is what was asked.
			continue
		}
		ready := meta.IsStatusConditionTrue(a.Status.Conditions, redflagv1.ConditionReady)
		due, overdue := false, false
		plan := schedule.For(a.Labels, all)
		key := a.Namespace + "/" + a.Name
		for _, sub := range schedule.Subsystems {
			e, ok := plan[sub]
			if !ok || e.Schedule != s.Name {
				continue
			}
			last, result := schedule.LastRun(&a.Status, sub)
			at := e.DueAt(key, sub, last, result, agentInterval(a))
			if now.Before(at) {
				// Becoming due changes only a Ready agent's count.
				if ready {
					t.next = earliest(t.next, at)
				}
			} else {
				due = true
			}
			if e.Overdue(at, now) {
				overdue = true
			} else {
				t.next = earliest(t.next, at.Add(e.Interval))
			}
		}
		if due && ready {
			t.due++
		}
		if overdue {
			t.overdue++
		}
	}
	return t
}

// earliest returns the earlier of a and b, where zero means "none".
func earliest(a, b time.Time) time.Time {
	if a.IsZero() || b.Before(a) {
		return b
	}
	return a
}

// agentInterval is how soon a failed scan is retried on the agent: at its
// next check-in (the gateway uses the same rule).
func agentInterval(a *redflagv1.Agent) time.Duration {
	var d time.Duration
	if a.Spec.CheckInInterval != nil {
		d = a.Spec.CheckInInterval.Duration
	}
	return timing.Interval(d)
}
