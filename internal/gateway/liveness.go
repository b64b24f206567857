package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/go-logr/logr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
	"github.com/redflag-io/redflag/internal/timing"
)

// liveness keeps each agent's last check-in in memory and persists it coarsely
// through a background writer, so check-ins never wait on the API server.
type liveness struct {
	mu        sync.Mutex
	lastSeen  map[string]time.Time
	persisted map[string]time.Time // what this replica last wrote
	queued    map[string]bool
	versions  map[string]string // agent version reported, when changed
	queue     chan *agentRecord
}

func newLiveness() *liveness {
	return &liveness{
		lastSeen: map[string]time.Time{}, persisted: map[string]time.Time{},
		queued: map[string]bool{}, versions: map[string]string{}, queue: make(chan *agentRecord, 4096),
	}
}

// seen records a check-in and queues a write when the stored lastSeen is too
// old (or the agent reports a new version). It never blocks: with the queue
// full the write waits for a later check-in.
func (l *liveness) seen(rec *agentRecord, version string, interval time.Duration, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lastSeen[rec.key] = now
	stored := rec.persistedLastSeen
	if p := l.persisted[rec.key]; p.After(stored) {
		stored = p
	}
	versionChanged := version != "" && version != rec.agentVersion && version != l.versions[rec.key]
	if versionChanged {
		l.versions[rec.key] = version
	}
	// Due when the stored value is PersistAfter away from now on either
	// side, compared rather than subtracted. A lastSeen ahead of the clock
	// (edited by hand, written by a replica whose clock ran ahead) must be
	// rewritten too: now.Sub of it is negative (or saturated), so it never
	// aged into "due", and the Agent controller, which measures silence
	// from it, never showed a dead host silent.
	p := timing.PersistAfter(interval)
	due := stored.IsZero() || !stored.After(now.Add(-p)) || !stored.Before(now.Add(p)) || versionChanged
	if !due || l.queued[rec.key] {
		return
	}
	select {
	case l.queue <- rec:
		l.queued[rec.key] = true
	default:
	}
}

// run writes queued lastSeen values until ctx ends.
// run writes queued lastSeen values until ctx ends. pending supplies scan
// runs remembered but not yet stored, which ride along in the same write.
func (l *liveness) run(ctx context.Context, c client.Client, log logr.Logger, pending func(*agentRecord) []redflagv1.SubsystemStatus) {
	for {
		select {
		case <-ctx.Done():
			return
		case rec := <-l.queue:
			l.mu.Lock()
			at, version := l.lastSeen[rec.key], l.versions[rec.key]
			l.mu.Unlock()
			err := persistLastSeen(ctx, c, rec, at, version, pending(rec))
			l.mu.Lock()
			delete(l.queued, rec.key)
			if err == nil {
				l.persisted[rec.key] = at
			}
			l.mu.Unlock()
			if err != nil {
				log.Error(err, "persisting lastSeen; the next check-in retries", "agent", rec.key)
			}
		}
	}
}

// persistLastSeen merge-patches status.lastSeen (and agentVersion) only, so it
// never rewrites anything else from a stale copy. Scan runs that ride along
// replace the whole subsystems list, so that write is made only against the
// version they were laid over (a conflict waits for the next check-in).
func persistLastSeen(ctx context.Context, c client.Client, rec *agentRecord, at time.Time, version string, subsystems []redflagv1.SubsystemStatus) error {
	status := map[string]any{"lastSeen": metav1.NewTime(at.Truncate(time.Second))}
	if version != "" {
		status["agentVersion"] = version
	}
	body := map[string]any{"status": status}
	if len(subsystems) > 0 {
		status["subsystems"] = subsystems
		body["metadata"] = map[string]any{"resourceVersion": rec.resourceVersion}
	}
	patch, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("encoding lastSeen patch: %w", err)
	}
	a := &redflagv1.Agent{}
	a.Namespace, a.Name = rec.namespace, rec.name
	if err := c.Status().Patch(ctx, a, client.RawPatch("application/merge-patch+json", patch)); err != nil {
		return fmt.Errorf("patching %s status.lastSeen: %w", rec.key, err)
	}
	return nil
}
