// Package schedule decides what an agent must scan and when, from the
// ScanSchedules that select it. The gateway (to hand out due scans) and the
// ScanSchedule controller (to count due and overdue agents) both use it, so
// they cannot disagree.
package schedule

import (
	"hash/fnv"
	"slices"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
)

// Subsystem names, as in ScanSchedule.spec.subsystems and
// Agent.status.subsystems.
const (
	Updates = "updates"
	Storage = "storage"
	System  = "system"
	Docker  = "docker"
)

// Subsystems lists every subsystem in a fixed order.
var Subsystems = []string{Updates, Storage, System, Docker}

// Entry is how one subsystem is scanned on one agent.
type Entry struct {
	Interval time.Duration
	Splay    time.Duration
	// Schedule names the ScanSchedule whose interval won.
	Schedule string
	// Since is when that schedule was created: a subsystem never scanned
	// is due from then (plus the agent's offset).
	Since time.Time
	// RefreshListsAfter, for updates only, is how old the host's package
	// lists may be when scanned (0: never refreshed). It is merged on its
	// own: the shortest bound of any schedule that enables updates, so the
	// strictest freshness asked for holds whichever interval won.
	RefreshListsAfter time.Duration
}

// Plan maps subsystem to entry; a subsystem absent is not scanned.
type Plan map[string]Entry

// For merges the schedules that select an agent. Where several enable a
// subsystem, the shortest interval wins (ties go to the first by name, so
// the answer does not depend on list order). Paused schedules count for
// nothing. Schedules must be in the agent's namespace.
func For(agentLabels map[string]string, schedules []redflagv1.ScanSchedule) Plan {
	sorted := slices.Clone(schedules)
	slices.SortFunc(sorted, func(a, b redflagv1.ScanSchedule) int { return compareStrings(a.Name, b.Name) })
	plan := Plan{}
	set := labels.Set(agentLabels)
	for _, s := range sorted {
		if s.Spec.Paused || !selects(s.Spec.Selector, set) {
			continue
		}
		var splay time.Duration
		if s.Spec.Splay != nil {
			splay = s.Spec.Splay.Duration
		}
		for name, sub := range subsystemsOf(&s.Spec.Subsystems) {
			if sub == nil || (sub.Enabled != nil && !*sub.Enabled) || sub.Interval.Duration <= 0 {
				continue
			}
			cur, ok := plan[name]
			bound := cur.RefreshListsAfter
			if name == Updates {
				bound = shorterBound(bound, s.Spec.Subsystems.Updates.RefreshBound(), ok)
			}
			if !ok || cur.Interval > sub.Interval.Duration {
				cur = Entry{Interval: sub.Interval.Duration, Splay: splay, Schedule: s.Name, Since: s.CreationTimestamp.Time}
			}
			cur.RefreshListsAfter = bound
			plan[name] = cur
		}
	}
	return plan
}

// shorterBound merges a schedule's refresh bound b into the bound cur
// merged so far (had says there was one). 0 means never, so it is the
// longest bound, not the shortest: one schedule that does not care must
// not switch off the refresh another asks for.
func shorterBound(cur, b time.Duration, had bool) time.Duration {
	switch {
	case !had || cur == 0:
		return b
	case b == 0:
		return cur
	default:
		return min(cur, b)
	}
}

func subsystemsOf(s *redflagv1.ScanSubsystems) map[string]*redflagv1.SubsystemSchedule {
	m := map[string]*redflagv1.SubsystemSchedule{Updates: nil, Storage: s.Storage, System: s.System, Docker: s.Docker}
	if s.Updates != nil {
		m[Updates] = &s.Updates.SubsystemSchedule
	}
	return m
}

// selects reports whether a schedule's selector chooses the labels; an unset
// or empty selector chooses every agent. A selector that does not parse
// chooses none (the schema bounds it; the controller reports it).
func selects(sel *metav1.LabelSelector, set labels.Set) bool {
	if sel == nil {
		return true
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return false
	}
	return s.Matches(set)
}

// Offset is the agent's deterministic place within the splay window for a
// subsystem: the same every time, spread across agents.
func Offset(agentKey, subsystem string, splay time.Duration) time.Duration {
	if splay <= 0 {
		return 0
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte(agentKey + "\x00" + subsystem))
	return time.Duration(h.Sum64() % uint64(splay))
}

// DueAt is when the subsystem is next due on the agent: one interval after
// its last run, or, never run, at the schedule's start plus the agent's
// offset. A run that failed or timed out is due again after retryAfter (the
// agent's check-in interval): it is retried at the next check-in, and each
// retry is due at a distinct instant, so it has a distinct ID. The agent's
// circuit breaker turns a manager that keeps failing into Skipped runs, which
// count as run, so retries stop hammering.
func (e Entry) DueAt(agentKey, subsystem string, lastRun *metav1.Time, lastResult redflagv1.RunResult, retryAfter time.Duration) time.Time {
	switch {
	case lastRun == nil || lastRun.IsZero():
		return e.Since.Add(Offset(agentKey, subsystem, e.Splay))
	case lastResult == redflagv1.RunFailed || lastResult == redflagv1.RunTimedOut:
		return lastRun.Add(min(retryAfter, e.Interval))
	}
	return lastRun.Add(e.Interval)
}

// Overdue is true once a due scan is late by more than one interval.
func (e Entry) Overdue(due, now time.Time) bool {
	return now.Sub(due) > e.Interval
}

// LastRun finds a subsystem's last run and its result in an Agent's status.
func LastRun(st *redflagv1.AgentStatus, subsystem string) (*metav1.Time, redflagv1.RunResult) {
	for i := range st.Subsystems {
		if st.Subsystems[i].Name == subsystem {
			return st.Subsystems[i].LastRun, st.Subsystems[i].Result
		}
	}
	return nil, ""
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
