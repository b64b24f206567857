package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
)

// rolloutPhases are every phase an AgentUpdate can be in: each rollout has
// one series per phase, 1 for the one it is in, so an alert is a plain
// comparison and a phase change never leaves a stale series.
var rolloutPhases = []redflagv1.RolloutPhase{
	redflagv1.RolloutPending, redflagv1.RolloutWaiting, redflagv1.RolloutProgressing, redflagv1.RolloutPaused,
	redflagv1.RolloutHalted, redflagv1.RolloutSucceeded, redflagv1.RolloutFailed,
}

var (
	descRolloutPhase = prometheus.NewDesc("redflag_agentupdate_phase",
		"1 for the phase the AgentUpdate is in, 0 for the others.",
		[]string{"namespace", "agentupdate", "phase"}, nil)
	descRolloutHosts = prometheus.NewDesc("redflag_agentupdate_hosts",
		"The AgentUpdate's target hosts by state (pending, in_progress, succeeded, failed, skipped; status.counts).",
		[]string{"namespace", "agentupdate", "state"}, nil)
	descRolloutSlots = prometheus.NewDesc("redflag_agentupdate_slots",
		"Slots the AgentUpdate holds: hosts started and not finished (status.slots).",
		[]string{"namespace", "agentupdate"}, nil)
	descRolloutIdle = prometheus.NewDesc("redflag_agentupdate_seconds_since_progress",
		"Seconds since the AgentUpdate last moved: a host started or finished its work, or the rollout was created.",
		[]string{"namespace", "agentupdate"}, nil)
)

// collectRollouts sends each AgentUpdate's series. Progress is read from
// the Agents, where per-host results live (never on the AgentUpdate).
func collectRollouts(ch chan<- prometheus.Metric, rollouts []redflagv1.AgentUpdate, agents []redflagv1.Agent, now time.Time) {
	if len(rollouts) == 0 {
		return
	}
	last := map[[2]string]time.Time{}
	moved := func(ns, name string, t time.Time) {
		k := [2]string{ns, name}
		if t.After(last[k]) {
			last[k] = t
		}
	}
	for i := range agents {
		a := &agents[i]
		if w := a.Status.CurrentWork; w != nil && w.AgentUpdate != "" {
			if w.StartedAt != nil {
				moved(a.Namespace, w.AgentUpdate, w.StartedAt.Time)
			}
			if w.FinishedAt != nil {
				moved(a.Namespace, w.AgentUpdate, w.FinishedAt.Time)
			}
		}
		for _, w := range a.Status.CompletedWork {
			moved(a.Namespace, w.AgentUpdate, w.FinishedAt.Time)
		}
	}
	for i := range rollouts {
		au := &rollouts[i]
		ns, name := au.Namespace, au.Name
		for _, p := range rolloutPhases {
			v := 0.0
			if au.Status.Phase == p {
				v = 1
			}
			gauge(ch, descRolloutPhase, v, ns, name, string(p))
		}
		c := au.Status.Counts
		for _, s := range []struct {
			state string
			n     int32
		}{{"pending", c.Pending}, {"in_progress", c.InProgress}, {"succeeded", c.Succeeded}, {"failed", c.Failed}, {"skipped", c.Skipped}} {
			gauge(ch, descRolloutHosts, float64(s.n), ns, name, s.state)
		}
		gauge(ch, descRolloutSlots, float64(len(au.Status.Slots)), ns, name)
		moved(ns, name, au.CreationTimestamp.Time)
		for _, s := range au.Status.Slots {
			moved(ns, name, s.Since.Time)
		}
		gauge(ch, descRolloutIdle, max(now.Sub(last[[2]string{ns, name}]).Seconds(), 0), ns, name)
	}
}
