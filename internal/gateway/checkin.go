package gateway

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
	"github.com/redflag-io/redflag/internal/events"
	"github.com/redflag-io/redflag/internal/protocol"
)

// documentLifetime is how many intervals a work document stays valid: long
// enough to survive a late check-in, short enough that a captured one is
// soon useless.
const documentLifetime = 3

// handleCheckIn answers with the agent's desired state. It reads only memory:
// no API request, and a write only when liveness persistence is due.
func (g *Gateway) handleCheckIn(w http.ResponseWriter, r *http.Request) {
	now := g.clock.Now()
	body, ok := readBody(w, r, protocol.MaxCheckInBody, g.log)
	if !ok {
		return
	}
	rec := g.authenticate(w, r, body, now)
	if rec == nil {
		return
	}
	var req protocol.CheckInRequest
	if !decode(w, body, &req) {
		return
	}
	interval := g.intervalOf(rec)
	g.live.seen(rec, truncate(req.AgentVersion, 64), interval, now)

	sendFacts := req.FactsHash == "" || req.FactsHash != rec.factsHash
	scans := g.dueScans(rec, now)
	work := g.workFor(rec, now)
	// A host with work checks in every few seconds, so its progress shows
	// in `kubectl get` at once; no write is needed for that.
	heartbeat := rec.heartbeatUntil.After(now) || work != nil || rec.workPhase == redflagv1.WorkRunning
	key := scansKey(scans)
	if work != nil {
		key += "|" + work.ID
	}
	if suspect, addrs := rec.st.checkIn(clientIP(r), now, g.nextCheckIn(interval, heartbeat)); suspect {
		g.warnAtMostEvery(rec, events.CloneSuspected, cloneMessage(addrs), clonePeriod)
	}
	answer, cached := rec.st.cachedDoc(rec, sendFacts, heartbeat, key, now)
	if !cached {
		var err error
		if answer, err = g.answer(rec, interval, sendFacts, heartbeat, scans, work, now); err != nil {
			g.log.Error(err, "signing work document", "agent", rec.key)
			fail(w, http.StatusInternalServerError, protocol.CodeInternal, "could not sign the work document")
			return
		}
		rec.st.cacheDoc(rec, sendFacts, heartbeat, key, now, interval, answer)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(answer)
}

// answer builds, signs and encodes the check-in answer.
func (g *Gateway) answer(rec *agentRecord, interval time.Duration, sendFacts, heartbeat bool, scans []protocol.ScanRequest, work *protocol.WorkRequest, now time.Time) ([]byte, error) {
	doc := protocol.WorkDocument{
		Agent: rec.key, MachineID: rec.machineID,
		IssuedAt:          now.UTC(),
		CheckInInterval:   protocol.Duration{Duration: interval},
		HeartbeatInterval: protocol.Duration{Duration: g.opts.HeartbeatInterval},
		SendFacts:         sendFacts,
		Paused:            rec.paused,
		Scans:             scans,
		Work:              work,
		// Every answer repeats them while the Agent keeps the records, so
		// a host that was away when the rollout gave up still learns it.
		Abandoned: rec.abandoned,
	}
	if heartbeat {
		until := rec.heartbeatUntil.UTC()
		if busy := now.Add(workHeartbeat).UTC(); (work != nil || rec.workPhase == redflagv1.WorkRunning) && busy.After(until) {
			until = busy
		}
		doc.HeartbeatUntil = &until
	}
	next := g.nextCheckIn(interval, heartbeat)
	doc.NextCheckIn = protocol.Duration{Duration: next}
	doc.ExpiresAt = now.Add(documentLifetime * max(next, interval)).UTC()
	signed, err := protocol.SignDocument(doc, g.signingKey)
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(protocol.CheckInResponse{Work: signed})
	if err != nil {
		return nil, fmt.Errorf("encoding check-in answer: %w", err)
	}
	return append(body, '\n'), nil
}

// workHeartbeat is how long a host with work is asked to keep checking in
// rapidly; every answer while it works extends it.
const workHeartbeat = time.Minute

// workFor is the rollout work to hand this host now, if any: none for a
// paused host or for work it already finished.
func (g *Gateway) workFor(rec *agentRecord, now time.Time) *protocol.WorkRequest {
	if rec.paused {
		return nil
	}
	w := g.rollouts.workFor(rec, now)
	if w == nil || workDone(rec, w.ID) {
		return nil
	}
	return w
}

// nextCheckIn is how long an answer tells the agent to wait.
func (g *Gateway) nextCheckIn(interval time.Duration, heartbeat bool) time.Duration {
	if heartbeat {
		return g.opts.HeartbeatInterval
	}
	return interval
}

// intervalOf is the agent's normal check-in interval.
func (g *Gateway) intervalOf(rec *agentRecord) time.Duration {
	if rec.interval > 0 {
		return rec.interval
	}
	return g.opts.DefaultCheckInInterval
}
