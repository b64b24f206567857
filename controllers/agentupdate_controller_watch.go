package controllers

import (
	"context"
	"maps"
	"slices"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
)

// SetupWithManager registers the reconciler. Besides its own kind it
// watches Agents (a host's work record moves a rollout on) and the other
// AgentUpdates of the namespace (one releasing a host lets a waiting one
// take it).
func (r *AgentUpdateReconciler) SetupWithManager(mgr ctrl.Manager) error {
	enqueue := handler.EnqueueRequestsFromMapFunc(r.rolloutsInNamespace)
	return ctrl.NewControllerManagedBy(mgr).
		For(&redflagv1.AgentUpdate{}).
		Watches(&redflagv1.Agent{}, enqueue, builder.WithPredicates(agentRolloutInputsChanged)).
		Watches(&redflagv1.AgentUpdate{}, enqueue, builder.WithPredicates(slotsChanged)).
		Named("agentupdate").
		Complete(r)
}

// rolloutsInNamespace asks every AgentUpdate of obj's namespace that is not
// finished to look again.
func (r *AgentUpdateReconciler) rolloutsInNamespace(ctx context.Context, obj client.Object) []reconcile.Request {
	var list redflagv1.AgentUpdateList
	if err := r.List(ctx, &list, client.InNamespace(obj.GetNamespace()), client.UnsafeDisableDeepCopy); err != nil {
		log.FromContext(ctx).Error(err, "listing AgentUpdates", "namespace", obj.GetNamespace())
		return nil
	}
	// The changed rollout itself is queued by For already. Its type tells
	// it apart: objects from the informer cache carry no TypeMeta, so a
	// Kind comparison never matched and every rollout queued itself twice.
	_, fromRollout := obj.(*redflagv1.AgentUpdate)
	var reqs []reconcile.Request
	for i := range list.Items {
		au := &list.Items[i]
		if fromRollout && au.Name == obj.GetName() {
			continue
		}
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(au)})
	}
	return reqs
}

// agentRolloutInputsChanged passes an Agent change only when something a
// rollout reads changed (holds and the update inventory decide skips and
// whether a recurring run has anything to do; the boot time and Ready end
// a reboot): most Agent writes are lastSeen persistence.
var agentRolloutInputsChanged = predicate.Funcs{
	UpdateFunc: func(e event.UpdateEvent) bool {
		before, ok1 := e.ObjectOld.(*redflagv1.Agent)
		after, ok2 := e.ObjectNew.(*redflagv1.Agent)
		if !ok1 || !ok2 {
			return true
		}
		return !maps.Equal(before.Labels, after.Labels) ||
			before.Spec.Paused != after.Spec.Paused ||
			before.Spec.Revoked != after.Spec.Revoked ||
			!slices.Equal(before.Spec.Holds, after.Spec.Holds) ||
			before.Status.Updates.Hash != after.Status.Updates.Hash ||
			!equality.Semantic.DeepEqual(before.Status.System.BootTime, after.Status.System.BootTime) ||
			meta.IsStatusConditionTrue(before.Status.Conditions, redflagv1.ConditionReady) != meta.IsStatusConditionTrue(after.Status.Conditions, redflagv1.ConditionReady) ||
			before.DeletionTimestamp.IsZero() != after.DeletionTimestamp.IsZero() ||
			before.Status.AgentVersion != after.Status.AgentVersion ||
			!equality.Semantic.DeepEqual(before.Status.CurrentWork, after.Status.CurrentWork) ||
			!equality.Semantic.DeepEqual(before.Status.CompletedWork, after.Status.CompletedWork)
	},
}

// slotsChanged passes another rollout's change when its slots changed.
var slotsChanged = predicate.Funcs{
	UpdateFunc: func(e event.UpdateEvent) bool {
		before, ok1 := e.ObjectOld.(*redflagv1.AgentUpdate)
		after, ok2 := e.ObjectNew.(*redflagv1.AgentUpdate)
		if !ok1 || !ok2 {
			return true
		}
		return !equality.Semantic.DeepEqual(before.Status.Slots, after.Status.Slots)
	},
}
