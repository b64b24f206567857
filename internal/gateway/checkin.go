package gateway

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

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
	body, ok := readBody(w, r, protocol.MaxCheckInBody)
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
	heartbeat := rec.heartbeatUntil.After(now)
	scans := g.dueScans(rec, now)
	key := scansKey(scans)
	answer, cached := g.docs.get(rec, sendFacts, heartbeat, key, now)
	if !cached {
		var err error
		if answer, err = g.answer(rec, interval, sendFacts, heartbeat, scans, now); err != nil {
			g.log.Error(err, "signing work document", "agent", rec.key)
			fail(w, http.StatusInternalServerError, protocol.CodeInternal, "could not sign the work document")
			return
		}
		g.docs.put(rec, sendFacts, heartbeat, key, now, interval, answer)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(answer)
}

// answer builds, signs and encodes the check-in answer.
func (g *Gateway) answer(rec *agentRecord, interval time.Duration, sendFacts, heartbeat bool, scans []protocol.ScanRequest, now time.Time) ([]byte, error) {
	next := interval
	doc := protocol.WorkDocument{
		Agent: rec.key, MachineID: rec.machineID,
		IssuedAt:          now.UTC(),
		CheckInInterval:   protocol.Duration{Duration: interval},
		HeartbeatInterval: protocol.Duration{Duration: g.opts.HeartbeatInterval},
		SendFacts:         sendFacts,
		Paused:            rec.paused,
		Scans:             scans,
	}
	if heartbeat {
		until := rec.heartbeatUntil.UTC()
		doc.HeartbeatUntil = &until
		next = g.opts.HeartbeatInterval
	}
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

// intervalOf is the agent's normal check-in interval.
func (g *Gateway) intervalOf(rec *agentRecord) time.Duration {
	if rec.interval > 0 {
		return rec.interval
	}
	return g.opts.DefaultCheckInInterval
}
