package controllers

import (
	"context"
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
	"github.com/redflag-io/redflag/internal/conditions"
	"github.com/redflag-io/redflag/internal/events"
	"github.com/redflag-io/redflag/internal/reconcile"
	"github.com/redflag-io/redflag/internal/timing"
)

// AgentFinalizer holds a deleted Agent until its revocation is recorded; the
// gateway refuses the host from the moment deletion starts.
const AgentFinalizer = "redflag.io/agent-revocation"

// Ready reasons of an Agent.
const (
	reasonCheckingIn      = "CheckingIn"
	reasonAwaitingCheckIn = "AwaitingCheckIn"
	reasonRevoked         = "Revoked"
)

// AgentReconciler turns what the gateway stores (status.lastSeen) into the
// Agent's Ready condition, with an Event and a history entry on every
// transition and none in between.
type AgentReconciler struct {
	client.Client
	Recorder *events.Recorder
	Clock    clock.PassiveClock
}

// +kubebuilder:rbac:groups=redflag.io,resources=agents,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=redflag.io,resources=agents/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=redflag.io,resources=agents/finalizers,verbs=update
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile sets Ready from the agent's last check-in and requeues for the
// instant it would fall silent.
func (r *AgentReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var agent redflagv1.Agent
	if err := r.Get(ctx, req.NamespacedName, &agent); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !agent.DeletionTimestamp.IsZero() {
		return reconcile.Result(0, r.finalize(ctx, &agent))
	}
	if !controllerutil.ContainsFinalizer(&agent, AgentFinalizer) {
		base := agent.DeepCopy()
		controllerutil.AddFinalizer(&agent, AgentFinalizer)
		if err := r.Patch(ctx, &agent, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
			// A conflict (the gateway wrote the Agent meanwhile) is a retry.
			return reconcile.Result(0, fmt.Errorf("adding finalizer to %s: %w", req.NamespacedName, err))
		}
	}

	// A merge patch: the gateway writes the rest of this status.
	pass := reconcile.Begin(r.Client, r.Recorder, &agent, reconcile.Options{})
	next := r.evaluate(&agent, r.Clock.Now(), pass.Record)
	return pass.Finish(ctx, next, nil)
}

// evaluate sets the Ready condition in agent's status, records each
// transition, and returns when to look again.
func (r *AgentReconciler) evaluate(agent *redflagv1.Agent, now time.Time, record recordFunc) time.Duration {
	st := &agent.Status
	gen := agent.Generation
	prev := meta.FindStatusCondition(st.Conditions, redflagv1.ConditionReady)
	announce := func(reason events.Reason, msg string) { record(reason, msg, nil) }
	setDataConditions(st, gen)
	setUpToDate(st, agent.Spec.DesiredVersion, gen)
	if prev == nil {
		host := st.Hostname
		if host == "" {
			// The gateway writes the first status just after creating the
			// Agent; this reconcile may come first.
			host = agent.Name
		}
		announce(events.AgentRegistered, fmt.Sprintf("host %s enrolled (machine ID %s)", host, agent.Spec.MachineID))
	}

	interval := r.interval(agent)
	switch {
	case agent.Spec.Revoked:
		if prev == nil || prev.Reason != reasonRevoked {
			announce(events.AgentRevoked, "spec.revoked is set: the gateway refuses every request from this host")
		}
		conditions.MarkNotReady(&st.Conditions, gen, reasonRevoked, "the agent is revoked; clear spec.revoked to let it back")
		return 0
	case st.LastSeen == nil:
		conditions.MarkUnknown(&st.Conditions, gen, reasonAwaitingCheckIn, "the agent has not checked in yet")
		return 0
	}
	silentAfter := timing.SilentAfter(interval)
	age := now.Sub(st.LastSeen.Time)
	if age >= silentAfter {
		if prev == nil || prev.Reason != events.AgentSilent.Name {
			announce(events.AgentSilent, fmt.Sprintf("no check-in since %s (expected every %s)", st.LastSeen.UTC().Format(time.RFC3339), interval))
		}
		conditions.MarkUnknown(&st.Conditions, gen, events.AgentSilent.Name,
			fmt.Sprintf("no check-in since %s; expected every %s", st.LastSeen.UTC().Format(time.RFC3339), interval))
		return 0
	}
	if prev != nil && prev.Reason == events.AgentSilent.Name {
		announce(events.AgentReturned, fmt.Sprintf("checking in again after silence since %s", prev.LastTransitionTime.UTC().Format(time.RFC3339)))
	}
	conditions.MarkReady(&st.Conditions, gen, reasonCheckingIn, fmt.Sprintf("checking in every %s", interval))
	// Look again the moment it would fall silent; a new lastSeen from the
	// gateway triggers a reconcile sooner anyway.
	return silentAfter - age + time.Second
}

// setDataConditions sets UpdatesAvailable and RebootRequired from what the
// host reported; they say nothing about health, so kstatus ignores them.
func setDataConditions(st *redflagv1.AgentStatus, gen int64) {
	if st.Updates.ScannedAt != nil {
		status, reason := metav1.ConditionFalse, "UpToDate"
		if st.Updates.Total > 0 {
			status, reason = metav1.ConditionTrue, "UpdatesPending"
		}
		conditions.Set(&st.Conditions, gen, metav1.Condition{Type: redflagv1.ConditionUpdatesAvailable, Status: status, Reason: reason,
			Message: fmt.Sprintf("%d pending updates, %d security", st.Updates.Total, st.Updates.Security)})
	}
	if st.System.RebootRequired {
		conditions.Set(&st.Conditions, gen, metav1.Condition{Type: redflagv1.ConditionRebootRequired, Status: metav1.ConditionTrue,
			Reason: "SystemSaysSo", Message: st.System.RebootReason})
	} else if meta.FindStatusCondition(st.Conditions, redflagv1.ConditionRebootRequired) != nil {
		conditions.Set(&st.Conditions, gen, metav1.Condition{Type: redflagv1.ConditionRebootRequired, Status: metav1.ConditionFalse,
			Reason: "NotRequired", Message: "the system does not ask for a reboot"})
	}
}

// setUpToDate says whether the host runs the version a rollout asked for
// (spec.desiredVersion); with no desired version there is nothing to say.
func setUpToDate(st *redflagv1.AgentStatus, desired string, gen int64) {
	if desired == "" {
		conditions.Remove(&st.Conditions, redflagv1.ConditionUpToDate)
		return
	}
	c := metav1.Condition{Type: redflagv1.ConditionUpToDate, Status: metav1.ConditionTrue, Reason: "RunsDesiredVersion",
		Message: "runs " + st.AgentVersion + ", as spec.desiredVersion asks"}
	if strings.TrimPrefix(st.AgentVersion, "v") != strings.TrimPrefix(desired, "v") {
		c.Status, c.Reason = metav1.ConditionFalse, "VersionDiffers"
		c.Message = fmt.Sprintf("runs %q; spec.desiredVersion is %s", st.AgentVersion, desired)
	}
	conditions.Set(&st.Conditions, gen, c)
}

func (r *AgentReconciler) interval(agent *redflagv1.Agent) time.Duration {
	var d time.Duration
	if agent.Spec.CheckInInterval != nil {
		d = agent.Spec.CheckInInterval.Duration
	}
	return timing.Interval(d)
}

// finalize records the revocation of a deleted Agent and lets it go.
func (r *AgentReconciler) finalize(ctx context.Context, agent *redflagv1.Agent) error {
	if !controllerutil.ContainsFinalizer(agent, AgentFinalizer) {
		return nil
	}
	base := agent.DeepCopy()
	controllerutil.RemoveFinalizer(agent, AgentFinalizer)
	// The object goes with the patch, so the Event has no history to
	// join; it is still sent only after the patch took, so a conflict and
	// its retry send it once.
	e := r.Recorder.Entry(events.AgentRevoked, "the Agent was deleted: the gateway refuses every request from this host", nil)
	err := reconcile.WriteThenEmit(r.Recorder, agent, func() error {
		if err := r.Patch(ctx, agent, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
			return fmt.Errorf("removing finalizer from %s/%s: %w", agent.Namespace, agent.Name, err)
		}
		return nil
	}, e)
	return client.IgnoreNotFound(err)
}

// SetupWithManager registers the reconciler with the manager.
func (r *AgentReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&redflagv1.Agent{}).
		Named("agent").
		Complete(r)
}
