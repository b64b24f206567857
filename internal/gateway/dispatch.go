package gateway

import (
	"strconv"
	"strings"
	"time"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
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
	plan := g.planOf(rec)
	if rec.scanNow != "" {
		return scanNow(rec, plan)
	}
	if len(plan) == 0 {
		return nil
	}
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
		last, result := rec.st.lastRun(rec, sub)
		at := e.DueAt(rec.key, sub, last, result, retry)
		if now.Before(at) {
			continue
		}
		due = append(due, withBound(protocol.ScanRequest{Subsystem: sub, ID: sub + "-" + strconv.FormatInt(at.Unix(), 10)}, plan))
	}
	return due
}

// withBound adds the updates scan's package-list refresh bound, from the
// plan or, for a scan no schedule asked for (scan-now), the default.
func withBound(req protocol.ScanRequest, plan schedule.Plan) protocol.ScanRequest {
	if req.Subsystem != schedule.Updates {
		return req
	}
	bound := redflagv1.DefaultRefreshListsAfter
	if e, ok := plan[schedule.Updates]; ok {
		bound = e.RefreshListsAfter
	}
	req.RefreshListsAfter = &protocol.Duration{Duration: bound}
	return req
}

// Each agent's merged plan is kept (agentState.plan) until its record or
// any schedule changes, so a check-in does not re-merge schedules and
// re-parse selectors.
type cachedPlan struct {
	rec     *agentRecord
	version uint64
	plan    schedule.Plan
}

func (g *Gateway) planOf(rec *agentRecord) schedule.Plan {
	s := rec.st
	v := g.schedules.current()
	s.mu.Lock()
	e := s.plan
	s.mu.Unlock()
	if e.rec == rec && e.version == v {
		return e.plan
	}
	schedules, v := g.schedules.of(rec.namespace)
	plan := schedule.For(rec.labels, schedules)
	s.mu.Lock()
	if !s.gone {
		s.plan = cachedPlan{rec: rec, version: v, plan: plan}
	}
	s.mu.Unlock()
	return plan
}

// scanNowPrefix marks the IDs of scans asked for with the scan-now
// annotation; the rest of the ID is the annotation's value.
const scanNowPrefix = "now:"

// scanNow asks for every scheduled subsystem (all but docker when no
// schedule selects the agent) because a user set redflag.io/scan-now.
func scanNow(rec *agentRecord, plan schedule.Plan) []protocol.ScanRequest {
	subs := make([]string, 0, len(schedule.Subsystems))
	for _, sub := range schedule.Subsystems {
		if _, ok := plan[sub]; ok || (len(plan) == 0 && sub != schedule.Docker) {
			subs = append(subs, sub)
		}
	}
	out := make([]protocol.ScanRequest, len(subs))
	for i, sub := range subs {
		out[i] = withBound(protocol.ScanRequest{Subsystem: sub, ID: sub + "-" + scanNowPrefix + rec.scanNow}, plan)
	}
	return out
}

// scansKey identifies a set of due scans, for the answer cache.
func scansKey(scans []protocol.ScanRequest) string {
	if len(scans) == 0 {
		return ""
	}
	ids := make([]string, len(scans))
	for i, s := range scans {
		ids[i] = s.ID
		if s.RefreshListsAfter != nil {
			// A schedule edited while the scan is due changes the answer.
			ids[i] += "/" + s.RefreshListsAfter.String()
		}
	}
	return strings.Join(ids, ",")
}
