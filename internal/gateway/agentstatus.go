package gateway

import (
	"context"
	"errors"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
	"github.com/redflag-io/redflag/internal/history"
)

// The gateway writes an Agent's status one way: patchStatus. A change
// edits a typed Agent, and the JSON merge patch between that Agent before
// and after the change is sent, so only the fields the change touched are
// written, and a field set to its zero value is removed rather than
// silently kept (an omitempty false cannot be told from "not sent" in a
// hand-built patch). TestOneStatusWritePath checks that nothing else in
// the package writes Agent status.
//
// Server-side apply was the alternative. It was not taken: the gateway
// writes a different handful of fields per report (facts, one subsystem's
// run, a work record, lastSeen), and an apply must send every field its
// manager owns each time or give them up; the history and completedWork
// lists, which the controllers append to as well, are read-modify-write
// under an optimistic lock either way.

// errNoChange, returned by a change func, says there is nothing to write.
var errNoChange = errors.New("no change")

// statusWrite says what a change is laid over.
type statusWrite struct {
	key types.NamespacedName
	// blind skips the read: the change edits an Agent holding only its
	// name (and lockTo), so the patch carries exactly the non-zero fields
	// it set and no others. For fields the gateway alone writes whose new
	// value is never empty (lastSeen, agentVersion; a new Agent's first
	// status). Without blind, the change edits a copy read from the API
	// server, the patch is locked to that copy's resourceVersion and a
	// conflict reads again: for lists, history and anything that may be
	// cleared.
	blind bool
	// lockTo, on a blind write, is the resourceVersion the patch must land
	// on (it fails with a conflict otherwise).
	lockTo string
}

// patchStatus writes the status change makes. A non-nil entry from change
// goes into the history in the same write (only on a read copy) and out as
// an Event once the write succeeded, so an Event never announces what was
// not stored. The stored Agent the API server answers with is what the
// agent's next request is judged against (agentTable.wrote).
func (g *Gateway) patchStatus(ctx context.Context, w statusWrite, change func(a *redflagv1.Agent) (*redflagv1.HistoryEntry, error)) error {
	var announce *redflagv1.HistoryEntry
	var stored *redflagv1.Agent
	attempt := func() error {
		announce = nil
		a := &redflagv1.Agent{}
		if w.blind {
			a.Namespace, a.Name, a.ResourceVersion = w.key.Namespace, w.key.Name, w.lockTo
		} else if err := g.reader.Get(ctx, w.key, a); err != nil {
			return err
		}
		before := a.DeepCopy()
		entry, err := change(a)
		if err != nil {
			return err
		}
		if entry != nil {
			if w.blind {
				return errors.New("a history entry needs the stored history: not on a blind write")
			}
			a.Status.History = history.Append(a.Status.History, *entry)
			announce = entry
		}
		var opts []client.MergeFromOption
		if !w.blind || w.lockTo != "" {
			opts = append(opts, client.MergeFromWithOptimisticLock{})
		}
		if err := g.client.Status().Patch(ctx, a, client.MergeFromWithOptions(before, opts...)); err != nil {
			return err
		}
		stored = a
		return nil
	}
	var err error
	if w.blind {
		err = attempt()
	} else {
		err = retry.RetryOnConflict(retry.DefaultRetry, attempt)
	}
	if errors.Is(err, errNoChange) {
		return nil
	}
	if err != nil {
		return err
	}
	g.agents.wrote(stored)
	if announce != nil {
		g.recorder.Emit(agentRef(stored.Namespace, stored.Name, stored.UID), *announce)
	}
	return nil
}

// statusOf is the write target of rec's Agent.
func statusOf(rec *agentRecord) statusWrite {
	return statusWrite{key: types.NamespacedName{Namespace: rec.namespace, Name: rec.name}}
}

// agentRef is a reference to an Agent, enough to address Events to it.
func agentRef(namespace, name string, uid types.UID) *redflagv1.Agent {
	a := &redflagv1.Agent{}
	a.Namespace, a.Name, a.UID = namespace, name, uid
	a.APIVersion, a.Kind = redflagv1.GroupVersion.String(), "Agent"
	return a
}
