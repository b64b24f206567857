package gateway

import (
	"context"
	"fmt"
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

// startRebind notes that the rebind to machineID is being recorded now
// (agentState.rebinding), so a burst of requests from a rebound host
// writes once; it reports false when it already is.
func (s *agentState) startRebind(machineID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rebinding == machineID || s.gone {
		return false
	}
	s.rebinding = machineID
	return true
}

func (s *agentState) rebindDone(machineID string) {
	s.mu.Lock()
	if s.rebinding == machineID {
		s.rebinding = ""
	}
	s.mu.Unlock()
}

// recordRebind stores, in the background, that rec's host presented the
// machine ID it was rebound to. Until the informer shows the echo, later
// requests may call it again; storeRebind then finds the echo and writes
// nothing.
func (g *Gateway) recordRebind(rec *agentRecord) {
	if !rec.st.startRebind(rec.machineID) {
		return
	}
	g.rebindsInFlight.Add(1)
	go func() {
		defer g.rebindsInFlight.Add(-1)
		defer rec.st.rebindDone(rec.machineID)
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
	err := g.patchStatus(ctx, statusOf(rec), func(a *redflagv1.Agent) (*redflagv1.HistoryEntry, error) {
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
