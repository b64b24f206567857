package gateway

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
	"github.com/redflag-io/redflag/internal/timing"
)

// liveness persists each agent's last check-in (kept in its agentState)
// coarsely through a background writer, so check-ins never wait on the API
// server.
type liveness struct {
	queue chan *agentRecord
	// busy counts writes queued or being made, so a test can tell that
	// the writer is idle rather than sleep and hope.
	busy atomic.Int64
}

func newLiveness() *liveness {
	return &liveness{queue: make(chan *agentRecord, 4096)}
}

// seen records a check-in and queues a write when the stored lastSeen is too
// old (or the agent reports a new version). It never blocks: with the queue
// full the write waits for a later check-in.
func (l *liveness) seen(rec *agentRecord, version string, interval time.Duration, now time.Time) {
	s := rec.st
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gone {
		return
	}
	s.lastSeen = now
	stored := rec.persistedLastSeen
	if s.persisted.After(stored) {
		stored = s.persisted
	}
	versionChanged := version != "" && version != rec.agentVersion && version != s.version
	if versionChanged {
		s.version = version
	}
	// Due when the stored value is PersistAfter away from now on either
	// side, compared rather than subtracted. A lastSeen ahead of the clock
	// (edited by hand, written by a replica whose clock ran ahead) must be
	// rewritten too: now.Sub of it is negative (or saturated), so it never
	// aged into "due", and the Agent controller, which measures silence
	// from it, never showed a dead host silent.
	p := timing.PersistAfter(interval)
	due := stored.IsZero() || !stored.After(now.Add(-p)) || !stored.Before(now.Add(p)) || versionChanged
	if !due || s.queued {
		return
	}
	l.busy.Add(1)
	select {
	case l.queue <- rec:
		s.queued = true
	default:
		l.busy.Add(-1)
	}
}

// idle reports whether no liveness write is queued or in progress.
func (l *liveness) idle() bool { return l.busy.Load() == 0 }

// run writes queued lastSeen values until ctx ends. write stores one (see
// Gateway.persistLastSeen).
func (l *liveness) run(ctx context.Context, log logr.Logger, write func(context.Context, *agentRecord, time.Time, string) error) {
	for {
		select {
		case <-ctx.Done():
			return
		case rec := <-l.queue:
			s := rec.st
			s.mu.Lock()
			at, version, gone := s.lastSeen, s.version, s.gone
			s.mu.Unlock()
			var err error
			if !gone {
				err = write(ctx, rec, at, version)
			}
			s.mu.Lock()
			s.queued = false
			if err == nil && !s.gone {
				s.persisted = at
			}
			s.mu.Unlock()
			l.busy.Add(-1)
			if err != nil {
				log.Error(err, "persisting lastSeen; the next check-in retries", "agent", rec.key)
			}
		}
	}
}

// persistLastSeen writes status.lastSeen (and agentVersion) blind, so it
// never rewrites anything else from a stale copy. Scan runs remembered but
// not yet stored (scanledger.go) ride along; they replace the whole
// subsystems list, so that write is made only against the version they
// were laid over (a conflict waits for the next check-in).
func (g *Gateway) persistLastSeen(ctx context.Context, rec *agentRecord, at time.Time, version string) error {
	w := statusOf(rec)
	w.blind = true
	subsystems := rec.st.pendingRuns(rec)
	if len(subsystems) > 0 {
		w.lockTo = rec.resourceVersion
	}
	err := g.patchStatus(ctx, w, func(a *redflagv1.Agent) (*redflagv1.HistoryEntry, error) {
		a.Status.LastSeen = &metav1.Time{Time: at.Truncate(time.Second)}
		a.Status.AgentVersion = version
		a.Status.Subsystems = subsystems
		return nil, nil
	})
	if err != nil {
		return fmt.Errorf("patching %s status.lastSeen: %w", rec.key, err)
	}
	return nil
}
