package reconcile

import (
	"errors"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
)

// Result is what Reconcile returns for a pass that asked to look again
// after wait (0: only on a watch event) and ended with err; see the
// package comment for each kind of error.
func Result(wait time.Duration, err error) (ctrl.Result, error) {
	var stall *Stalling
	var waiting *Waiting
	switch {
	case err == nil:
		return ctrl.Result{RequeueAfter: wait}, nil
	case errors.As(err, &waiting):
		return ctrl.Result{RequeueAfter: waiting.After}, nil
	case errors.As(err, &stall):
		return ctrl.Result{}, nil
	case apierrors.IsConflict(err):
		// Nothing is wrong: the decision is made again from the newer
		// object, without an error log or the failure backoff.
		return ctrl.Result{RequeueAfter: ConflictRetry}, nil
	}
	return ctrl.Result{}, err
}
