package gateway

import (
	"strconv"
	"strings"
	"time"

	"github.com/redflag-io/redflag/internal/protocol"
	"github.com/redflag-io/redflag/internal/schedule"
)

// dueScans lists the scans due now on the agent. A scan stays due until its
// result is stored (which moves lastRun), so it is handed out at every
// check-in until then: nothing lost in transit ever skips a run. A paused
// agent gets none.
func (g *Gateway) dueScans(rec *agentRecord, now time.Time) []protocol.ScanRequest {
	if rec.paused {
		return nil
	}
	schedules := g.schedules.of(rec.namespace)
	if len(schedules) == 0 {
		return nil
	}
	plan := schedule.For(rec.labels, schedules)
	// A failed scan is retried at the next check-in.
	retry := g.intervalOf(rec)
	if rec.heartbeatUntil.After(now) {
		retry = g.opts.HeartbeatInterval
	}
	var due []protocol.ScanRequest
	for _, sub := range schedule.Subsystems {
		e, ok := plan[sub]
		if !ok {
			continue
		}
		at := e.DueAt(rec.key, sub, rec.lastRun[sub], rec.lastResult[sub], retry)
		if now.Before(at) {
			continue
		}
		due = append(due, protocol.ScanRequest{Subsystem: sub, ID: sub + "-" + strconv.FormatInt(at.Unix(), 10)})
	}
	return due
}

// scansKey identifies a set of due scans, for the answer cache.
func scansKey(scans []protocol.ScanRequest) string {
	if len(scans) == 0 {
		return ""
	}
	ids := make([]string, len(scans))
	for i, s := range scans {
		ids[i] = s.ID
	}
	return strings.Join(ids, ",")
}
