package gateway

import (
	"slices"
	"sync"
	"time"

	toolscache "k8s.io/client-go/tools/cache"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
	"github.com/redflag-io/redflag/internal/protocol"
	"github.com/redflag-io/redflag/internal/release"
	"github.com/redflag-io/redflag/internal/rollout"
)

// rolloutIndex holds, per namespace, the AgentUpdates that have hosts in
// their slots, fed by the informer: a check-in finds its work in memory.
// The gateway hands work only to hosts the controller has already written
// into status.slots, which is what keeps maxConcurrent true across
// restarts of either.
type rolloutIndex struct {
	mu   sync.RWMutex
	byNS map[string]map[string]*slimRollout
}

// slimRollout is the little of an AgentUpdate that dispatch reads.
type slimRollout struct {
	name    string
	created time.Time
	workID  string
	slots   map[string]bool
	spec    redflagv1.AgentUpdateSpec
	window  *rollout.Window
}

func newRolloutIndex() *rolloutIndex {
	return &rolloutIndex{byNS: map[string]map[string]*slimRollout{}}
}

// workFor returns the work the host should run now: the oldest rollout
// holding a slot for it, or nil. Outside a rollout's maintenance window no
// new work is handed out, even to a slot taken before it closed.
func (x *rolloutIndex) workFor(rec *agentRecord, now time.Time) *protocol.WorkRequest {
	x.mu.RLock()
	var pick *slimRollout
	for _, r := range x.byNS[rec.namespace] {
		if !r.slots[rec.name] {
			continue
		}
		if pick == nil || r.created.Before(pick.created) || (r.created.Equal(pick.created) && r.name < pick.name) {
			pick = r
		}
	}
	x.mu.RUnlock()
	if pick == nil || pick.workID == "" || pick.spec.Paused {
		return nil
	}
	open, closes, _ := pick.window.Open(now)
	if !open {
		return nil
	}
	w := &protocol.WorkRequest{ID: pick.workID, AgentUpdate: pick.name, DryRun: pick.spec.DryRun, Reboot: protocol.RebootPolicy(pick.spec.Reboot)}
	if !closes.IsZero() {
		c := closes.UTC()
		w.RebootBefore = &c
	}
	if p := pick.spec.Packages; p != nil {
		// The Agent's holds join the rollout's excludes (exact names are
		// globs that match only themselves), so a held package is never
		// installed, whatever the rollout or a stale inventory says.
		w.Packages = packageWorkToWire(p, withHolds(p.Exclude, rec.holds))
	} else {
		goos, arch := rec.labels[redflagv1.LabelOS], rec.labels[redflagv1.LabelArch]
		v := pick.spec.AgentVersion
		w.AgentVersion = &protocol.ReleaseRef{
			Version:      v,
			ManifestPath: protocol.ReleasePath(v, goos, arch, protocol.ReleaseManifestFile),
			BinaryPath:   protocol.ReleasePath(v, goos, arch, release.BinaryName(goos)),
		}
	}
	return w
}

func (x *rolloutIndex) handler() toolscache.ResourceEventHandler {
	return indexHandler(x.upsert, func(au *redflagv1.AgentUpdate) {
		x.mu.Lock()
		defer x.mu.Unlock()
		delete(x.byNS[au.Namespace], au.Name)
	})
}

func (x *rolloutIndex) upsert(au *redflagv1.AgentUpdate) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if len(au.Status.Slots) == 0 || !au.DeletionTimestamp.IsZero() {
		delete(x.byNS[au.Namespace], au.Name)
		return
	}
	window, err := rollout.ParseWindow(au.Spec.Window)
	if err != nil {
		// The controller stalls such a rollout and clears its slots.
		delete(x.byNS[au.Namespace], au.Name)
		return
	}
	r := &slimRollout{
		name: au.Name, created: au.CreationTimestamp.Time, workID: au.Status.WorkID,
		slots: make(map[string]bool, len(au.Status.Slots)), spec: *au.Spec.DeepCopy(), window: window,
	}
	r.spec.Selector, r.spec.Agents = nil, nil
	if au.Status.RunPackages != nil {
		// A recurring rollout's run installs what it was started with;
		// an edit applies from the next run.
		r.spec.Packages = au.Status.RunPackages.DeepCopy()
	}
	for _, s := range au.Status.Slots {
		r.slots[s.Agent] = true
	}
	if x.byNS[au.Namespace] == nil {
		x.byNS[au.Namespace] = map[string]*slimRollout{}
	}
	x.byNS[au.Namespace][au.Name] = r
}

// workDone reports whether the host already finished this work (its
// result is stored; the controller will release the slot).
func workDone(rec *agentRecord, id string) bool {
	return rec.workID == id && rec.workPhase.Finished() ||
		slices.Contains(rec.completedWork, id)
}

// withHolds is excludes plus the holds not already among them, in a new
// slice (the rollout's own is shared by every host).
func withHolds(exclude, holds []string) []string {
	if len(holds) == 0 {
		return exclude
	}
	out := slices.Clone(exclude)
	for _, h := range holds {
		if !slices.Contains(out, h) {
			out = append(out, h)
		}
	}
	return out
}
