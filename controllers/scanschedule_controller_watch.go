package controllers

import (
	"context"
	"maps"

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

// SetupWithManager registers the reconciler with the manager. Besides its
// own kind it watches Agents (their labels and last runs make the counts)
// and the other ScanSchedules of the namespace (a shorter interval
// elsewhere takes a subsystem away from this one).
func (r *ScanScheduleReconciler) SetupWithManager(mgr ctrl.Manager) error {
	enqueue := handler.EnqueueRequestsFromMapFunc(r.schedulesInNamespace)
	return ctrl.NewControllerManagedBy(mgr).
		For(&redflagv1.ScanSchedule{}).
		Watches(&redflagv1.Agent{}, enqueue, builder.WithPredicates(agentCountInputsChanged)).
		Watches(&redflagv1.ScanSchedule{}, enqueue, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Named("scanschedule").
		Complete(r)
}

// schedulesInNamespace asks for every ScanSchedule in obj's namespace to be
// counted again, from the cache.
func (r *ScanScheduleReconciler) schedulesInNamespace(ctx context.Context, obj client.Object) []reconcile.Request {
	var list redflagv1.ScanScheduleList
	if err := r.List(ctx, &list, client.InNamespace(obj.GetNamespace()), client.UnsafeDisableDeepCopy); err != nil {
		// A map function cannot return an error; the schedules' own
		// requeues count them again later.
		log.FromContext(ctx).Error(err, "listing ScanSchedules to recount", "namespace", obj.GetNamespace())
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(list.Items))
	for i := range list.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
	}
	return reqs
}

// agentCountInputsChanged passes an Agent update only when something a count
// reads changed. Most Agent writes are the gateway persisting lastSeen;
// without this filter each would recount every schedule in the namespace.
var agentCountInputsChanged = predicate.Funcs{
	UpdateFunc: func(e event.UpdateEvent) bool {
		before, ok1 := e.ObjectOld.(*redflagv1.Agent)
		after, ok2 := e.ObjectNew.(*redflagv1.Agent)
		if !ok1 || !ok2 {
			return true
		}
		return !maps.Equal(before.Labels, after.Labels) ||
			before.Spec.Paused != after.Spec.Paused ||
			before.Spec.Revoked != after.Spec.Revoked ||
			before.DeletionTimestamp.IsZero() != after.DeletionTimestamp.IsZero() ||
			meta.IsStatusConditionTrue(before.Status.Conditions, redflagv1.ConditionReady) !=
				meta.IsStatusConditionTrue(after.Status.Conditions, redflagv1.ConditionReady) ||
			!equality.Semantic.DeepEqual(before.Status.Subsystems, after.Status.Subsystems)
	},
}
