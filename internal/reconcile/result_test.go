package reconcile

import (
	"errors"
	"fmt"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	ctrl "sigs.k8s.io/controller-runtime"
)

func TestResult(t *testing.T) {
	conflict := apierrors.NewConflict(schema.GroupResource{Group: "redflag.io", Resource: "agents"}, "a", errors.New("the object has been modified"))
	other := errors.New("listing Agents: connection refused")
	for _, tc := range []struct {
		name    string
		wait    time.Duration
		err     error
		want    ctrl.Result
		wantErr error
	}{
		{"success waits as asked", 5 * time.Minute, nil, ctrl.Result{RequeueAfter: 5 * time.Minute}, nil},
		{"success without a wait", 0, nil, ctrl.Result{}, nil},
		{"waiting comes back after its wait, not the pass's", time.Hour, Wait(time.Minute, errors.New("Secret in the way")), ctrl.Result{RequeueAfter: time.Minute}, nil},
		{"stalling is terminal and no error", time.Hour, NewStalling("InvalidWindow", errors.New("unknown time zone")), ctrl.Result{}, nil},
		{"a wrapped stalling too", 0, fmt.Errorf("pass: %w", NewStalling("X", errors.New("bad"))), ctrl.Result{}, nil},
		{"a conflict is a short retry", time.Hour, conflict, ctrl.Result{RequeueAfter: ConflictRetry}, nil},
		{"a wrapped conflict too", 0, fmt.Errorf("writing the status of Agent ns/a: %w", conflict), ctrl.Result{RequeueAfter: ConflictRetry}, nil},
		{"anything else is returned for the backoff", time.Hour, other, ctrl.Result{}, other},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Result(tc.wait, tc.err)
			if got != tc.want || !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Errorf("Result(%s, %v) = %+v, %v; want %+v, %v", tc.wait, tc.err, got, err, tc.want, tc.wantErr)
			}
		})
	}
}
