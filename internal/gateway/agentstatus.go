package gateway

import (
	"context"
	"errors"

	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
	"github.com/redflag-io/redflag/internal/history"
)

// errNoChange, returned by a change func, says there is nothing to write.
var errNoChange = errors.New("no change")

// updateAgentStatus applies change to a fresh copy of rec's Agent and
// writes its status, again on a conflict (an update, not a patch: history
// and lists are read-modify-write). A non-nil entry from change goes into
// the history in the same write and out as an Event once the write
// succeeded, so an Event never announces what was not stored.
func (g *Gateway) updateAgentStatus(ctx context.Context, rec *agentRecord, change func(a *redflagv1.Agent) (*redflagv1.HistoryEntry, error)) error {
	var announce *redflagv1.HistoryEntry
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		announce = nil
		var a redflagv1.Agent
		if err := g.reader.Get(ctx, client.ObjectKey{Namespace: rec.namespace, Name: rec.name}, &a); err != nil {
			return err
		}
		entry, err := change(&a)
		if err != nil {
			return err
		}
		if entry != nil {
			a.Status.History = history.Append(a.Status.History, *entry)
			announce = entry
		}
		if err := g.client.Status().Update(ctx, &a); err != nil {
			return err
		}
		g.agents.wrote(&a)
		return nil
	})
	if errors.Is(err, errNoChange) {
		return nil
	}
	if err != nil {
		return err
	}
	if announce != nil {
		g.recorder.Emit(rec.ref(), *announce)
	}
	return nil
}
