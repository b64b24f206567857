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

// AgentUpdateReconciler reconciles AgentUpdate objects.
//
// It only observes for now: its behaviour arrives with its issue, and until
// then it writes nothing to status rather than pretend to have acted.
type AgentUpdateReconciler struct {
	client.Client
}

// +kubebuilder:rbac:groups=redflag.io,resources=agentupdates,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=redflag.io,resources=agentupdates/status,verbs=get;update;patch

// Reconcile observes one AgentUpdate.
func (r *AgentUpdateReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var obj redflagv1.AgentUpdate
	if err := r.Get(ctx, req.NamespacedName, &obj); err != nil {
		if apierrors.IsNotFound(err) {
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, fmt.Errorf("reading AgentUpdate %s: %w", req.NamespacedName, err)
	}
	log.FromContext(ctx).V(1).Info("observed", "generation", obj.Generation)
	return ctrl.Result{}, nil
}

// SetupWithManager registers the reconciler with the manager.
func (r *AgentUpdateReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&redflagv1.AgentUpdate{}).
		Named("agentupdate").
		Complete(r)
}
