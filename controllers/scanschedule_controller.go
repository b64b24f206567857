package controllers

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
)

// ScanScheduleReconciler reconciles ScanSchedule objects.
//
// It only observes for now: its behaviour arrives with its issue, and until
// then it writes nothing to status rather than pretend to have acted.
type ScanScheduleReconciler struct {
	client.Client
}

// +kubebuilder:rbac:groups=redflag.io,resources=scanschedules,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=redflag.io,resources=scanschedules/status,verbs=get;update;patch

// Reconcile observes one ScanSchedule.
func (r *ScanScheduleReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var obj redflagv1.ScanSchedule
	if err := r.Get(ctx, req.NamespacedName, &obj); err != nil {
		if apierrors.IsNotFound(err) {
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, fmt.Errorf("reading ScanSchedule %s: %w", req.NamespacedName, err)
	}
	log.FromContext(ctx).V(1).Info("observed", "generation", obj.Generation)
	return ctrl.Result{}, nil
}

// SetupWithManager registers the reconciler with the manager.
func (r *ScanScheduleReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&redflagv1.ScanSchedule{}).
		Named("scanschedule").
		Complete(r)
}
