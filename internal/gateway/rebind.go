package gateway

import (
	"context"
	"fmt"
	"sync"
	"time"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
	"github.com/redflag-io/redflag/internal/events"
)

// A changed machine ID. An Agent is bound to the machine ID it enrolled
// with (spec.machineID, immutable), and a request carrying another one is
// refused with MachineIDMismatch. When the change is legitimate, a user
// rebinds the Agent with the redflag.io/rebind-machine-id annotation: while
// it is set, requests must carry its value instead (registry.go), so the old
// machine ID is refused from then on. The annotation is the binding, kept in
// the object a user or GitOps tool owns; status.reboundMachineID only echoes
// that the host came back with it, and the first such request records a
// MachineIDRebound Event and history entry, once (this file).

// rebindTimeout bounds the status write made for a rebind; the request
// that triggered it does not wait for it.
const rebindTimeout = 30 * time.Second

// rebindSet holds the rebinds being recorded now, so a burst of requests
// from a rebound host writes once.
type rebindSet struct {
	mu       sync.Mutex
	inflight map[string]bool
}

func (s *rebindSet) start(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inflight[key] {
		return false
	}
	if s.inflight == nil {
		s.inflight = map[string]bool{}
	}
	s.inflight[key] = true
	return true
}

func (s *rebindSet) done(key string) {
	s.mu.Lock()
	delete(s.inflight, key)
	s.mu.Unlock()
}

// recordRebind stores, in the background, that rec's host presented the
// machine ID it was rebound to. Until the informer shows the echo, later
// requests may call it again; storeRebind then finds the echo and writes
// nothing.
func (g *Gateway) recordRebind(rec *agentRecord) {
	key := rec.key + "\x00" + rec.machineID
	if !g.rebinds.start(key) {
		return
	}
	go func() {
		defer g.rebinds.done(key)
		ctx, cancel := context.WithTimeout(context.Background(), rebindTimeout)
		defer cancel()
		if err := g.storeRebind(ctx, rec); err != nil {
			g.log.Error(err, "recording a machine ID rebind; the next request retries", "agent", rec.key)
		}
	}()
}

// storeRebind echoes the rebound machine ID in status and records
// MachineIDRebound, unless the Agent changed meanwhile (another Agent of the
// same name, or the annotation moved on) or the echo is already there.
func (g *Gateway) storeRebind(ctx context.Context, rec *agentRecord) error {
	err := g.updateAgentStatus(ctx, rec, func(a *redflagv1.Agent) (*redflagv1.HistoryEntry, error) {
		if a.UID != rec.uid || a.Annotations[redflagv1.RebindMachineIDAnnotation] != rec.machineID || a.Status.ReboundMachineID == rec.machineID {
			return nil, errNoChange
		}
		e := g.recorder.Entry(events.MachineIDRebound,
			fmt.Sprintf("the host now presents machine ID %s and is accepted (it enrolled as %s), as %s asks",
				rec.machineID, a.Spec.MachineID, redflagv1.RebindMachineIDAnnotation),
			map[string]string{"machineID": rec.machineID, "enrolledMachineID": a.Spec.MachineID})
		a.Status.ReboundMachineID = rec.machineID
		return &e, nil
	})
	if err != nil {
		return fmt.Errorf("recording the rebind of %s to machine ID %s: %w", rec.key, rec.machineID, err)
	}
	return nil
}
