package controllers

import (
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
)

// conflictRetry is how soon a reconcile whose write lost a race (the
// object changed since it was read: the gateway, a user, another pass)
// looks again. The watch event of the winning write queues it too; the
// short wait covers a cache that has not caught up.
const conflictRetry = time.Second

// retryOnConflict is every controller's answer to a failed write: a
// conflict is not an error (nothing is wrong, the decision is made again
// from the newer object, without an error log or the failure backoff),
// anything else is returned as it is. nil is (Result{}, nil).
func retryOnConflict(err error) (ctrl.Result, error) {
	if apierrors.IsConflict(err) {
		return ctrl.Result{RequeueAfter: conflictRetry}, nil
	}
	return ctrl.Result{}, err
}
