package reconcile

import (
	"context"

	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
	"github.com/redflag-io/redflag/internal/events"
)

// Writer writes obj's status; base is obj as the pass read it. Both
// writers below fail with a conflict when the object changed since it was
// read, so no decision made on a stale copy is stored.
type Writer func(ctx context.Context, c client.Client, base, obj client.Object) error

// MergePatch sends only the fields the pass changed, with the
// resourceVersion read as a precondition. For kinds whose status another
// writer fills too (the gateway's seat counts on a RegistrationToken, its
// check-ins on an Agent): their fields are never sent back.
func MergePatch(ctx context.Context, c client.Client, base, obj client.Object) error {
	return c.Status().Patch(ctx, obj, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{}))
}

// Update sends the whole status with the resourceVersion read. For kinds
// whose status only their controller writes and shows counts: a merge
// patch leaves out a count that is zero both before and after, so one
// never written would show as a blank cell in kubectl.
func Update(ctx context.Context, c client.Client, _, obj client.Object) error {
	return c.Status().Update(ctx, obj)
}

// WriteThenEmit runs write and, only once it succeeded, sends entries as
// Events on obj: RedFlag's order everywhere. A write that fails (a
// conflict included) sends nothing, so its retry cannot send an Event
// twice; the error is returned as it is, for Result.
func WriteThenEmit(rec *events.Recorder, obj runtime.Object, write func() error, entries ...redflagv1.HistoryEntry) error {
	if err := write(); err != nil {
		return err
	}
	for _, e := range entries {
		rec.Emit(obj, e)
	}
	return nil
}
