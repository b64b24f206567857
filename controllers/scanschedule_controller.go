package controllers

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
	"github.com/redflag-io/redflag/internal/conditions"
	"github.com/redflag-io/redflag/internal/events"
	"github.com/redflag-io/redflag/internal/reconcile"
)

// Ready reasons of a ScanSchedule.
const (
	reasonEvaluated = "Evaluated"
	reasonPaused    = "Paused"
)

// Bounds on the wait before a ScanSchedule is counted again.
const (
	// scheduleMinRequeue keeps an agent that falls due this very instant
	// from spinning the queue.
	scheduleMinRequeue = time.Second
	// scheduleMaxRequeue re-counts at least this often while a count is
	// still to change, so a wall-clock step (the queue waits on the
	// monotonic clock) cannot leave counts stale for hours. Such a
	// re-count writes nothing when nothing changed.
	scheduleMaxRequeue = 5 * time.Minute
)

// ScanScheduleReconciler counts the agents each ScanSchedule covers:
// matched, due and overdue, following the same merged plan the gateway
// hands scans out by (internal/schedule). It writes status only when a
// count or condition changes, and requeues itself for the next instant a
// count changes by time alone, so counts follow the clock without a write
// per tick. Handing scans to agents is the gateway's job, not this one's.
type ScanScheduleReconciler struct {
	client.Client
	// Recorder sends each transition to an Event and the status history.
	Recorder *events.Recorder
	// Clock decides what is due; tests replace it.
	Clock clock.PassiveClock
}

// +kubebuilder:rbac:groups=redflag.io,resources=scanschedules,verbs=get;list;watch
// +kubebuilder:rbac:groups=redflag.io,resources=scanschedules/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=redflag.io,resources=agents,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile counts one ScanSchedule's agents and requeues for the next
// instant a count changes.
func (r *ScanScheduleReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var s redflagv1.ScanSchedule
	if err := r.Get(ctx, req.NamespacedName, &s); err != nil {
		if apierrors.IsNotFound(err) {
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, fmt.Errorf("reading ScanSchedule %s: %w", req.NamespacedName, err)
	}
	if !s.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}
	now := r.Clock.Now()
	pass := reconcile.Begin(r.Client, r.Recorder, &s, reconcile.Options{
		// Update, not a merge patch: it carries counts that are zero (a
		// patch would leave them out, and kubectl would show blank cells).
		Write: reconcile.Update,
		// lastEvaluated moves only with a real change: were it a change by
		// itself, every requeue would write.
		Stamp: func() { s.Status.LastEvaluated = &metav1.Time{Time: now} },
	})
	next, err := r.evaluate(ctx, &s, now)
	return pass.Finish(ctx, requeueAfter(next, now), err)
}

// evaluate sets counts and Ready in s's status and returns the next
// instant a count changes by time alone (zero for none). An invalid
// selector is a reconcile.Stalling.
func (r *ScanScheduleReconciler) evaluate(ctx context.Context, s *redflagv1.ScanSchedule, now time.Time) (time.Time, error) {
	st := &s.Status
	gen := s.Generation
	sel, err := selectorOf(s.Spec.Selector)
	if err != nil {
		// The gateway's plan (schedule.For) selects nothing with it
		// either, so zero counts are the truth, not a placeholder.
		st.MatchedAgents, st.DueAgents, st.OverdueAgents = 0, 0, 0
		return time.Time{}, reconcile.NewStalling(events.InvalidSpec.Name, fmt.Errorf("spec.selector is invalid: %w", err))
	}

	// Read-only use of the cache's objects: copying up to thousands of
	// Agents on every count would cost more than the count.
	var agents redflagv1.AgentList
	if err := r.List(ctx, &agents, client.InNamespace(s.Namespace), client.MatchingLabelsSelector{Selector: sel}, client.UnsafeDisableDeepCopy); err != nil {
		return time.Time{}, fmt.Errorf("listing Agents in %s: %w", s.Namespace, err)
	}
	var all redflagv1.ScanScheduleList
	if err := r.List(ctx, &all, client.InNamespace(s.Namespace), client.UnsafeDisableDeepCopy); err != nil {
		return time.Time{}, fmt.Errorf("listing ScanSchedules in %s: %w", s.Namespace, err)
	}
	t := countAgents(s, agents.Items, all.Items, now)
	st.MatchedAgents, st.DueAgents, st.OverdueAgents = t.matched, t.due, t.overdue
	if s.Spec.Paused {
		conditions.MarkReady(&st.Conditions, gen, reasonPaused,
			fmt.Sprintf("paused: no scans are due by this schedule; %d agents matched", t.matched))
		return time.Time{}, nil
	}
	conditions.MarkReady(&st.Conditions, gen, reasonEvaluated,
		fmt.Sprintf("%d agents matched, %d due, %d overdue", t.matched, t.due, t.overdue))
	return t.next, nil
}

// selectorOf parses a schedule's selector the way schedule.For reads it:
// unset or empty selects every Agent.
func selectorOf(sel *metav1.LabelSelector) (labels.Selector, error) {
	if sel == nil {
		return labels.Everything(), nil
	}
	parsed, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return nil, fmt.Errorf("parsing the label selector: %w", err)
	}
	return parsed, nil
}

// requeueAfter is the wait until next, kept within the bounds above; zero
// (no requeue) when no count changes by time alone: Agent and ScanSchedule
// watches cover every other change.
func requeueAfter(next, now time.Time) time.Duration {
	if next.IsZero() {
		return 0
	}
	return min(max(next.Sub(now), scheduleMinRequeue), scheduleMaxRequeue)
}
