package metrics

import (
	"cmp"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
	"github.com/redflag-io/redflag/internal/events"
)

// maxLabelValues is how many distinct OS families and agent versions get a
// label value of their own; the rest count as "other". Both are what hosts
// report, so a host must not be able to add series at will.
const maxLabelValues = 16

var (
	descAgents = prometheus.NewDesc("redflag_agents",
		"Agents by namespace, readiness (true, false, unknown), OS family and agent version.",
		[]string{"namespace", "ready", "os_family", "agent_version"}, nil)
	descPending = prometheus.NewDesc("redflag_pending_updates",
		"Pending updates the Agents of a namespace reported, summed (status.updates.total).",
		[]string{"namespace"}, nil)
	descPendingSecurity = prometheus.NewDesc("redflag_pending_security_updates",
		"Pending security updates the Agents of a namespace reported, summed (status.updates.security).",
		[]string{"namespace"}, nil)
	descLastSeen = prometheus.NewDesc("redflag_agent_last_seen_timestamp_seconds",
		"When the Agent last checked in, as stored (status.lastSeen; the gateway writes it every 1.75 check-in intervals).",
		[]string{"namespace", "agent"}, nil)
	descSilent = prometheus.NewDesc("redflag_agent_silent",
		"1 when the Agent is silent (Ready=Unknown, reason AgentSilent: no check-in for 3 intervals), else 0.",
		[]string{"namespace", "agent"}, nil)
	descOldestSecurity = prometheus.NewDesc("redflag_agent_oldest_security_update_age_seconds",
		"Age of the Agent's oldest pending security update (since its firstSeen); absent when none is pending.",
		[]string{"namespace", "agent"}, nil)
)

type agentGroup struct{ ns, ready, family, version string }

// collectAgents sends the fleet's counts and the per-agent series.
func collectAgents(ch chan<- prometheus.Metric, agents []redflagv1.Agent, now time.Time) {
	families := boundedValues(agents, func(a *redflagv1.Agent) string { return a.Status.OS.Family })
	versions := boundedValues(agents, func(a *redflagv1.Agent) string { return a.Status.AgentVersion })
	groups := map[agentGroup]int{}
	pending, security := map[string]int64{}, map[string]int64{}
	for i := range agents {
		a := &agents[i]
		groups[agentGroup{a.Namespace, readiness(a), families(a.Status.OS.Family), versions(a.Status.AgentVersion)}]++
		pending[a.Namespace] += int64(a.Status.Updates.Total)
		security[a.Namespace] += int64(a.Status.Updates.Security)
		if a.Status.LastSeen != nil {
			gauge(ch, descLastSeen, float64(a.Status.LastSeen.Unix()), a.Namespace, a.Name)
		}
		silent := 0.0
		if c := meta.FindStatusCondition(a.Status.Conditions, redflagv1.ConditionReady); c != nil && c.Reason == events.AgentSilent.Name {
			silent = 1
		}
		gauge(ch, descSilent, silent, a.Namespace, a.Name)
		if oldest := oldestSecurity(a.Status.Updates.Items); oldest != nil {
			gauge(ch, descOldestSecurity, max(now.Sub(oldest.Time).Seconds(), 0), a.Namespace, a.Name)
		}
	}
	for g, n := range groups {
		gauge(ch, descAgents, float64(n), g.ns, g.ready, g.family, g.version)
	}
	for ns, n := range pending {
		gauge(ch, descPending, float64(n), ns)
		gauge(ch, descPendingSecurity, float64(security[ns]), ns)
	}
}

// readiness is the Ready condition's status in lower case, "unknown" when
// it is missing (an Agent that never checked in).
func readiness(a *redflagv1.Agent) string {
	c := meta.FindStatusCondition(a.Status.Conditions, redflagv1.ConditionReady)
	switch {
	case c == nil:
		return "unknown"
	case c.Status == metav1.ConditionTrue:
		return "true"
	case c.Status == metav1.ConditionFalse:
		return "false"
	}
	return "unknown"
}

// oldestSecurity is the earliest firstSeen of the pending security updates.
func oldestSecurity(items []redflagv1.PendingUpdate) *metav1.Time {
	var oldest *metav1.Time
	for i := range items {
		if it := &items[i]; it.Security && it.FirstSeen != nil && (oldest == nil || it.FirstSeen.Before(oldest)) {
			oldest = it.FirstSeen
		}
	}
	return oldest
}

// boundedValues returns a mapping from a host-reported value to its label
// value: the maxLabelValues most common values keep theirs, the rest become
// "other", and an empty one "unknown".
func boundedValues(agents []redflagv1.Agent, of func(*redflagv1.Agent) string) func(string) string {
	count := map[string]int{}
	for i := range agents {
		count[of(&agents[i])]++
	}
	kept := map[string]bool{}
	if len(count) <= maxLabelValues {
		for v := range count {
			kept[v] = true
		}
	} else {
		type vc struct {
			v string
			n int
		}
		all := make([]vc, 0, len(count))
		for v, n := range count {
			all = append(all, vc{v, n})
		}
		slices.SortFunc(all, func(a, b vc) int { return cmp.Or(cmp.Compare(b.n, a.n), cmp.Compare(a.v, b.v)) })
		for _, x := range all[:maxLabelValues] {
			kept[x.v] = true
		}
	}
	return func(v string) string {
		switch {
		case !kept[v]:
			return "other"
		case v == "":
			return "unknown"
		}
		return v
	}
}
