package gateway

import (
	"context"
	"fmt"
	"strings"

	"sigs.k8s.io/controller-runtime/pkg/client"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
	"github.com/redflag-io/redflag/internal/events"
)

// changedFacts compares the facts FactsChanged is about (OS release,
// kernel, architecture). A value unknown before (empty: a new Agent whose
// first report fills it) or after (a host that could not read it) is not a
// change.
func changedFacts(before, after redflagv1.OSInfo) []string {
	var changed []string
	for _, f := range []struct{ name, old, new string }{
		{"OS", before.PrettyName, after.PrettyName},
		{"kernel", before.Kernel, after.Kernel},
		{"architecture", before.Arch, after.Arch},
	} {
		if f.old != "" && f.new != "" && f.old != f.new {
			changed = append(changed, fmt.Sprintf("%s %s -> %s", f.name, f.old, f.new))
		}
	}
	return changed
}

// factsChangedInCache tells from the informer's copy, without a request to
// the API server, whether a facts report changes what FactsChanged is
// about. Most facts reports (disk usage moved) do not.
func (g *Gateway) factsChangedInCache(ctx context.Context, rec *agentRecord, osInfo redflagv1.OSInfo) bool {
	var cached redflagv1.Agent
	if err := g.client.Get(ctx, client.ObjectKey{Namespace: rec.namespace, Name: rec.name}, &cached); err != nil {
		return false
	}
	return len(changedFacts(cached.Status.OS, osInfo)) > 0
}

// storeChangedFacts writes the facts with the FactsChanged entry in the
// same status update (the Event follows once it is stored), judging the
// change again on the fresh copy so a stale cache records nothing false.
func (g *Gateway) storeChangedFacts(ctx context.Context, rec *agentRecord, f *factsReport, osInfo redflagv1.OSInfo, sys redflagv1.SystemFacts, storage []redflagv1.MountStatus) error {
	err := g.updateAgentStatus(ctx, rec, func(a *redflagv1.Agent) (*redflagv1.HistoryEntry, error) {
		before := a.Status.OS
		changed := changedFacts(before, osInfo)
		a.Status.Hostname, a.Status.OS, a.Status.System, a.Status.Storage, a.Status.FactsHash = truncate(f.Hostname, 253), osInfo, sys, storage, f.Hash
		if f.AgentVersion != "" {
			a.Status.AgentVersion = truncate(f.AgentVersion, 64)
		}
		if len(changed) == 0 {
			return nil, nil
		}
		e := g.recorder.Entry(events.FactsChanged, strings.Join(changed, "; "), map[string]string{
			"oldOS": before.PrettyName, "newOS": osInfo.PrettyName,
			"oldKernel": before.Kernel, "newKernel": osInfo.Kernel,
			"oldArch": before.Arch, "newArch": osInfo.Arch,
		})
		return &e, nil
	})
	if err != nil {
		return fmt.Errorf("storing changed facts of %s: %w", rec.key, err)
	}
	return nil
}
