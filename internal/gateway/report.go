package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
	"github.com/redflag-io/redflag/internal/events"
	"github.com/redflag-io/redflag/internal/protocol"
)

// agentEventReasons are the reasons an agent may report about itself; any
// other reason is refused, so a host cannot forge controller or security
// events.
var agentEventReasons = map[string]events.Reason{
	events.AgentStarted.Name:   events.AgentStarted,
	events.ConfigMigrated.Name: events.ConfigMigrated,
	events.WorkAbandoned.Name:  events.WorkAbandoned,
}

// handleReport applies a report from a host once per idempotency key.
func (g *Gateway) handleReport(w http.ResponseWriter, r *http.Request) {
	now := g.clock.Now()
	body, ok := readBody(w, r, protocol.MaxReportBody, g.log)
	if !ok {
		return
	}
	rec := g.authenticate(w, r, body, now)
	if rec == nil {
		return
	}
	rec.st.reported(now)
	var rep protocol.Report
	if !decode(w, body, &rep) {
		return
	}
	if rep.IdempotencyKey == "" || len(rep.IdempotencyKey) > 128 {
		fail(w, http.StatusBadRequest, protocol.CodeBadRequest, "idempotencyKey must be 1-128 characters")
		return
	}
	if rec.st.appliedBefore(rep.IdempotencyKey) {
		reply(w, protocol.ReportResponse{Duplicate: true})
		return
	}
	var err error
	switch {
	case rep.Kind == protocol.ReportFacts && rep.Facts != nil:
		err = g.applyFacts(r.Context(), rec, factsFromWire(rep.Facts))
	case rep.Kind == protocol.ReportEvent && rep.Event != nil:
		reason, known := agentEventReasons[rep.Event.Reason]
		if !known {
			fail(w, http.StatusBadRequest, protocol.CodeBadRequest, "event reason %q is not one an agent may report", truncate(rep.Event.Reason, 64))
			return
		}
		err = g.agentEvent(r.Context(), rec, reason, rep.Event)
	case rep.Kind == protocol.ReportScan && rep.Scan != nil:
		err = g.applyScan(r.Context(), rec, scanFromWire(rep.Scan))
	case rep.Kind == protocol.ReportWork && rep.Work != nil:
		err = g.applyWork(r.Context(), rec, workFromWire(rep.Work))
	default:
		fail(w, http.StatusBadRequest, protocol.CodeBadRequest, "report kind %q with no matching payload", truncate(string(rep.Kind), 32))
		return
	}
	var bad errBadReport
	if errors.As(err, &bad) {
		fail(w, http.StatusBadRequest, protocol.CodeBadRequest, "%s", bad.Error())
		return
	}
	if err != nil {
		if isUnavailable(err) {
			failRetry(w, http.StatusServiceUnavailable, protocol.CodeUnavailable, 10, "the cluster cannot be reached; keep the report and retry")
			return
		}
		g.log.Error(err, "applying report", "agent", rec.key, "kind", rep.Kind)
		fail(w, http.StatusInternalServerError, protocol.CodeInternal, "could not apply the report")
		return
	}
	rec.st.noteApplied(rep.IdempotencyKey)
	reply(w, protocol.ReportResponse{})
}

// applyFacts stores the facts the gateway owns, and only when their hash
// changed, so an unchanged report writes nothing. A change of what
// FactsChanged is about (OS, kernel, architecture) is recorded in the same
// write, judged on the copy the facts are laid over.
func (g *Gateway) applyFacts(ctx context.Context, rec *agentRecord, f *factsReport) error {
	if f.Hash == "" || len(f.Hash) > 64 {
		return nil
	}
	if f.Hash == rec.factsHash {
		return nil
	}
	storage := f.Storage
	if len(storage) > redflagv1.MaxMounts {
		storage = storage[:redflagv1.MaxMounts]
	}
	clamped := make([]redflagv1.MountStatus, 0, len(storage))
	for _, m := range storage {
		clamped = append(clamped, redflagv1.MountStatus{
			MountPoint: truncate(m.MountPoint, 256), Device: truncate(m.Device, 256), FSType: truncate(m.FSType, 32),
			SizeBytes: max(m.SizeBytes, 0), UsedBytes: max(m.UsedBytes, 0),
		})
	}
	sys := f.System
	sys.CPUModel, sys.RebootReason = truncate(sys.CPUModel, 128), truncate(sys.RebootReason, 256)
	sys.BootTime = g.hostTime(sys.BootTime)
	osInfo := clampOS(f.OS)
	err := g.patchStatus(ctx, statusOf(rec), func(a *redflagv1.Agent) (*redflagv1.HistoryEntry, error) {
		before := a.Status.OS
		a.Status.Hostname, a.Status.OS, a.Status.System, a.Status.Storage, a.Status.FactsHash = truncate(f.Hostname, 253), osInfo, sys, clamped, f.Hash
		if f.AgentVersion != "" {
			a.Status.AgentVersion = truncate(f.AgentVersion, 64)
		}
		return g.factsChanged(before, osInfo), nil
	})
	if err != nil {
		return fmt.Errorf("storing facts of %s: %w", rec.key, err)
	}
	return nil
}

// agentEvent appends the event to the Agent's history (optimistic
// concurrency: the controller writes history too) and, once stored, emits
// the same entry as a Kubernetes Event.
func (g *Gateway) agentEvent(ctx context.Context, rec *agentRecord, reason events.Reason, e *protocol.AgentEvent) error {
	entry := g.recorder.Entry(reason, e.Message, e.Metadata)
	err := g.patchStatus(ctx, statusOf(rec), func(*redflagv1.Agent) (*redflagv1.HistoryEntry, error) { return &entry, nil })
	if err != nil {
		return fmt.Errorf("recording %s on %s: %w", reason.Name, rec.key, err)
	}
	return nil
}

// The last idempotency keys applied are remembered per agent
// (agentState.applied). They live in memory: a report retried across a
// gateway restart is applied again, which is harmless for facts (same
// content) and shows as a repeated Event.
const appliedPerAgent = 64

func (s *agentState) appliedBefore(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Contains(s.applied, key)
}

func (s *agentState) noteApplied(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gone {
		return
	}
	s.applied = append(s.applied, key)
	if len(s.applied) > appliedPerAgent {
		s.applied = slices.Delete(s.applied, 0, len(s.applied)-appliedPerAgent)
	}
}
