package schedule

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
)

func sched(name string, sel map[string]string, paused bool, subs redflagv1.ScanSubsystems) redflagv1.ScanSchedule {
	s := redflagv1.ScanSchedule{Spec: redflagv1.ScanScheduleSpec{Subsystems: subs, Paused: paused}}
	s.Name = name
	if sel != nil {
		s.Spec.Selector = &metav1.LabelSelector{MatchLabels: sel}
	}
	return s
}

func every(d time.Duration) *redflagv1.SubsystemSchedule {
	return &redflagv1.SubsystemSchedule{Interval: metav1.Duration{Duration: d}}
}

// updates is an updates schedule every d; refresh, when given, sets
// refreshListsAfter.
func updates(d time.Duration, refresh ...time.Duration) *redflagv1.UpdatesSchedule {
	u := &redflagv1.UpdatesSchedule{SubsystemSchedule: *every(d)}
	if len(refresh) > 0 {
		u.RefreshListsAfter = &metav1.Duration{Duration: refresh[0]}
	}
	return u
}

func TestShortestIntervalWinsAcrossMatchingSchedules(t *testing.T) {
	off := false
	schedules := []redflagv1.ScanSchedule{
		sched("b-web", map[string]string{"tier": "web"}, false, redflagv1.ScanSubsystems{Updates: updates(time.Hour), Storage: every(10 * time.Minute)}),
		sched("a-all", nil, false, redflagv1.ScanSubsystems{Updates: updates(6 * time.Hour), System: every(time.Hour)}),
		sched("c-db", map[string]string{"tier": "db"}, false, redflagv1.ScanSubsystems{Updates: updates(time.Minute)}),
		sched("d-paused", nil, true, redflagv1.ScanSubsystems{Updates: updates(time.Minute)}),
		sched("e-disabled", nil, false, redflagv1.ScanSubsystems{Storage: &redflagv1.SubsystemSchedule{Enabled: &off, Interval: metav1.Duration{Duration: time.Minute}}}),
	}
	plan := For(map[string]string{"tier": "web"}, schedules)
	want := map[string]struct {
		interval time.Duration
		from     string
	}{Updates: {time.Hour, "b-web"}, Storage: {10 * time.Minute, "b-web"}, System: {time.Hour, "a-all"}}
	if len(plan) != len(want) {
		t.Fatalf("plan %v, want %d subsystems", plan, len(want))
	}
	for sub, w := range want {
		if e := plan[sub]; e.Interval != w.interval || e.Schedule != w.from {
			t.Errorf("%s: %s from %s, want %s from %s", sub, e.Interval, e.Schedule, w.interval, w.from)
		}
	}
	if _, ok := plan[Docker]; ok {
		t.Error("docker scanned though no schedule enables it")
	}
}

func TestDueAt(t *testing.T) {
	since := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	e := Entry{Interval: time.Hour, Splay: 10 * time.Minute, Since: since}
	first := e.DueAt("ns/a", Updates, nil, "", time.Minute)
	if first.Before(since) || !first.Before(since.Add(10*time.Minute)) {
		t.Errorf("first due %s not within the splay after %s", first, since)
	}
	if again := e.DueAt("ns/a", Updates, nil, "", time.Minute); !again.Equal(first) {
		t.Error("offset is not deterministic")
	}
	last := metav1.NewTime(since.Add(3 * time.Hour))
	if due := e.DueAt("ns/a", Updates, &last, redflagv1.RunSucceeded, time.Minute); !due.Equal(last.Add(time.Hour)) {
		t.Errorf("due %s after a run at %s, want one interval later", due, last)
	}
	if due := e.DueAt("ns/a", Updates, &last, redflagv1.RunFailed, time.Minute); !due.Equal(last.Add(time.Minute)) {
		t.Errorf("due %s after a failed run at %s, want one check-in interval later", due, last)
	}
	if e.Overdue(last.Add(time.Hour), last.Add(2*time.Hour)) || !e.Overdue(last.Add(time.Hour), last.Add(2*time.Hour+time.Second)) {
		t.Error("overdue must mean late by more than one interval")
	}
}

func TestOffsetsSpreadAgents(t *testing.T) {
	seen := map[time.Duration]bool{}
	for i := range 100 {
		seen[Offset(string(rune('a'+i%26))+string(rune('a'+i/26)), Updates, time.Hour)] = true
	}
	if len(seen) < 90 {
		t.Errorf("100 agents got only %d distinct offsets", len(seen))
	}
}

// TestRefreshBoundMerged: the shortest refresh bound of the schedules that
// enable updates applies, whichever interval won; 0 (never) only when
// every one says never; unset is the 4h default.
func TestRefreshBoundMerged(t *testing.T) {
	off := false
	disabled := updates(time.Minute, time.Minute)
	disabled.Enabled = &off
	tests := []struct {
		name      string
		schedules []redflagv1.ScanSchedule
		want      time.Duration
	}{
		{"unset is the default", []redflagv1.ScanSchedule{
			sched("a", nil, false, redflagv1.ScanSubsystems{Updates: updates(time.Hour)}),
		}, redflagv1.DefaultRefreshListsAfter},
		{"shortest bound, not the winning interval's", []redflagv1.ScanSchedule{
			sched("a", nil, false, redflagv1.ScanSubsystems{Updates: updates(time.Hour, 8*time.Hour)}),
			sched("b", nil, false, redflagv1.ScanSubsystems{Updates: updates(6*time.Hour, 2*time.Hour)}),
		}, 2 * time.Hour},
		{"never loses to a bound", []redflagv1.ScanSchedule{
			sched("a", nil, false, redflagv1.ScanSubsystems{Updates: updates(time.Hour, 0)}),
			sched("b", nil, false, redflagv1.ScanSubsystems{Updates: updates(6*time.Hour, 12*time.Hour)}),
		}, 12 * time.Hour},
		{"a bound wins over never after it", []redflagv1.ScanSchedule{
			sched("a", nil, false, redflagv1.ScanSubsystems{Updates: updates(time.Hour, 3*time.Hour)}),
			sched("b", nil, false, redflagv1.ScanSubsystems{Updates: updates(6*time.Hour, 0)}),
		}, 3 * time.Hour},
		{"never when all say never", []redflagv1.ScanSchedule{
			sched("a", nil, false, redflagv1.ScanSubsystems{Updates: updates(time.Hour, 0)}),
			sched("b", nil, false, redflagv1.ScanSubsystems{Updates: updates(6*time.Hour, 0)}),
		}, 0},
		{"paused and disabled schedules count for nothing", []redflagv1.ScanSchedule{
			sched("a", nil, false, redflagv1.ScanSubsystems{Updates: updates(time.Hour, 5*time.Hour)}),
			sched("b", nil, true, redflagv1.ScanSubsystems{Updates: updates(time.Hour, time.Minute)}),
			sched("c", nil, false, redflagv1.ScanSubsystems{Updates: disabled, System: every(time.Hour)}),
		}, 5 * time.Hour},
	}
	for _, tt := range tests {
		plan := For(nil, tt.schedules)
		if got := plan[Updates].RefreshListsAfter; got != tt.want {
			t.Errorf("%s: bound %s, want %s", tt.name, got, tt.want)
		}
	}
}
