package rollout

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
)

func TestRunKeyIgnoresTheSpecAndNamesTheRun(t *testing.T) {
	au := &redflagv1.AgentUpdate{}
	au.Name, au.UID = "web-weekly", "0b6c9a3e-1"
	au.Spec.Packages = &redflagv1.PackageSelection{Scope: redflagv1.ScopeAll}
	k1 := RunKey(au, 1)
	au.Spec.Packages.Scope = redflagv1.ScopeSecurity
	if RunKey(au, 1) != k1 {
		t.Errorf("editing the spec changed run 1's key")
	}
	if k2 := RunKey(au, 2); k2 == k1 || !strings.HasPrefix(k2, "web-weekly.") || !strings.HasSuffix(k2, ".n2") {
		t.Errorf("run 2's key %q (run 1: %q)", k2, k1)
	}
	if Attempt(k1, WorkID(k1, 3)) != 3 || Attempt(k1, WorkID(RunKey(au, 11), 0)) != -1 {
		t.Errorf("retries of a run do not parse apart from other runs")
	}
}

func TestNextRunMakesUpAMissedRunOnce(t *testing.T) {
	start := time.Date(2026, 12, 1, 22, 0, 0, 0, time.UTC)
	if got := NextRun(start, 24*time.Hour, start.Add(time.Hour)); !got.Equal(start.Add(24 * time.Hour)) {
		t.Errorf("next run %s, want a day after the start", got)
	}
	late := start.Add(72 * time.Hour)
	if got := NextRun(start, 24*time.Hour, late); !got.Equal(late) {
		t.Errorf("next run %s after three missed days, want now (%s)", got, late)
	}
}

func TestRunDue(t *testing.T) {
	now := time.Date(2026, 12, 1, 22, 0, 0, 0, time.UTC)
	past, future := metav1.NewTime(now.Add(-time.Second)), metav1.NewTime(now.Add(time.Second))
	ended := []redflagv1.RunRecord{{Run: 1, Result: redflagv1.RunCompleted}}
	for _, tc := range []struct {
		name         string
		st           redflagv1.AgentUpdateStatus
		open, paused bool
		want         bool
	}{
		{"first run", redflagv1.AgentUpdateStatus{}, true, false, true},
		{"first run, window closed", redflagv1.AgentUpdateStatus{}, false, false, false},
		{"first run, paused", redflagv1.AgentUpdateStatus{}, true, true, false},
		{"due", redflagv1.AgentUpdateStatus{Runs: ended, NextRun: &past}, true, false, true},
		{"not yet", redflagv1.AgentUpdateStatus{Runs: ended, NextRun: &future}, true, false, false},
		{"run going", redflagv1.AgentUpdateStatus{Runs: []redflagv1.RunRecord{{Run: 1, Result: redflagv1.RunInProgress}}, NextRun: &past}, true, false, false},
		{"run halted", redflagv1.AgentUpdateStatus{Runs: []redflagv1.RunRecord{{Run: 1, Result: redflagv1.RunStopped}}, NextRun: &past}, true, false, false},
		{"after nothing to do", redflagv1.AgentUpdateStatus{Runs: []redflagv1.RunRecord{{Run: 1, Result: redflagv1.RunFoundNothing}}, NextRun: &past}, true, false, true},
	} {
		if got := RunDue(&tc.st, now, tc.open, tc.paused); got != tc.want {
			t.Errorf("%s: RunDue = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestAppendRunKeepsTheNewest(t *testing.T) {
	var runs []redflagv1.RunRecord
	for i := range int32(25) {
		runs = AppendRun(runs, redflagv1.RunRecord{Run: i + 1})
	}
	if len(runs) != redflagv1.MaxRunRecords || runs[0].Run != 16 || runs[len(runs)-1].Run != 25 {
		t.Errorf("runs %v: want the newest %d, 16 to 25", runs, redflagv1.MaxRunRecords)
	}
}
