package controllers_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
)

// setInventory stores a host's pending updates as its scan report would.
func (s *rolloutStep) setInventory(host string, items ...redflagv1.PendingUpdate) {
	s.t.Helper()
	a := s.agent(host)
	at := metav1.NewTime(s.clock.Now())
	a.Status.Updates = redflagv1.UpdateInventory{Total: int32(len(items)), Items: items, ScannedAt: &at, Hash: strings.Repeat("a", len(items)+1)}
	if err := env.Client.Status().Update(context.Background(), a); err != nil {
		s.t.Fatal(err)
	}
}

func pending(name string) redflagv1.PendingUpdate {
	return redflagv1.PendingUpdate{Manager: redflagv1.ManagerApt, Name: name, CurrentVersion: "1.0", AvailableVersion: "2.0"}
}

func recurring(every time.Duration) func(*redflagv1.AgentUpdate) {
	return func(au *redflagv1.AgentUpdate) {
		au.Spec.Recurrence = &redflagv1.Recurrence{Every: metav1.Duration{Duration: every}}
	}
}

// TestRecurringRolloutRunsOnlyWhenSomethingIsPending: run 1 gives the
// host work; after it, with nothing pending, the due run 2 is recorded as
// NothingToDo and writes nothing to the Agent; a pass that is not due
// writes nothing at all; once an update is pending again, run 3 gives the
// host new work under a new ID.
func TestRecurringRolloutRunsOnlyWhenSomethingIsPending(t *testing.T) {
	s := newRolloutStep(t, 1, map[string]string{"tier": "web"})
	s.setInventory("host-0", pending("curl"))
	s.create("r", recurring(time.Hour))
	s.reconcile("r")
	au := s.get("r")
	if au.Status.Run != 1 || !slices.Equal(s.slots("r"), []string{"host-0"}) || !strings.HasSuffix(au.Status.WorkID, ".n1") {
		t.Fatalf("run 1: run %d slots %v workID %q", au.Status.Run, s.slots("r"), au.Status.WorkID)
	}
	if au.Status.RunPackages == nil || au.Status.RunPackages.Scope != redflagv1.ScopeAll {
		t.Errorf("runPackages %+v: want the spec's packages frozen", au.Status.RunPackages)
	}
	firstWork := au.Status.WorkID
	s.report("host-0", "r", redflagv1.WorkSucceeded, "")
	s.setInventory("host-0")
	s.reconcile("r") // the run ends
	s.reconcile("r") // between runs
	au = s.get("r")
	if r := au.Status.Runs[len(au.Status.Runs)-1]; r.Run != 1 || r.Result != redflagv1.RunCompleted || r.Hosts != 1 || r.Succeeded != 1 {
		t.Fatalf("run 1 record %+v", r)
	}
	if c := meta.FindStatusCondition(au.Status.Conditions, redflagv1.ConditionReady); c == nil || c.Status != metav1.ConditionTrue || c.Reason != "WaitingForNextRun" {
		t.Errorf("Ready %+v after run 1, want True, WaitingForNextRun", c)
	}
	want := s.clock.Now().Truncate(time.Second).Add(time.Hour)
	if au.Status.NextRun == nil || !au.Status.NextRun.Time.Equal(want) {
		t.Errorf("nextRun %v, want %v", au.Status.NextRun, want)
	}

	// Not due: nothing is written.
	s.clock.Step(30 * time.Minute)
	rv := s.get("r").ResourceVersion
	res := s.reconcile("r")
	if s.get("r").ResourceVersion != rv {
		t.Error("a pass before the next run wrote the status")
	}
	if res.RequeueAfter <= 0 || res.RequeueAfter > 30*time.Minute {
		t.Errorf("requeue after %s, want by the next run (30m)", res.RequeueAfter)
	}

	// Due, nothing pending: recorded, nothing else.
	s.clock.Step(30 * time.Minute)
	agentRV := s.agent("host-0").ResourceVersion
	s.reconcile("r")
	au = s.get("r")
	if r := au.Status.Runs[len(au.Status.Runs)-1]; r.Run != 2 || r.Result != redflagv1.RunFoundNothing {
		t.Fatalf("run 2 record %+v, want NothingToDo", r)
	}
	if len(au.Status.Slots) != 0 || au.Status.WorkID != firstWork || s.agent("host-0").ResourceVersion != agentRV {
		t.Errorf("a NothingToDo run wrote more: slots %v workID %s agent changed %v", au.Status.Slots, au.Status.WorkID, s.agent("host-0").ResourceVersion != agentRV)
	}
	for _, h := range au.Status.History[max(len(au.Status.History)-1, 0):] {
		if h.Reason == "RolloutStarted" && h.Time.Time.After(s.clock.Now().Add(-time.Second)) {
			t.Errorf("a NothingToDo run announced %s", h.Reason)
		}
	}

	// Something pending again: run 3 gives the host new work.
	s.setInventory("host-0", pending("openssl"))
	s.clock.Step(time.Hour)
	s.reconcile("r")
	au = s.get("r")
	if au.Status.Run != 3 || !slices.Equal(s.slots("r"), []string{"host-0"}) || au.Status.WorkID == firstWork || !strings.HasSuffix(au.Status.WorkID, ".n3") {
		t.Fatalf("run 3: run %d slots %v workID %s", au.Status.Run, s.slots("r"), au.Status.WorkID)
	}
}

// TestAgentHoldSkipsTheHost: a host whose only pending update is held on
// its Agent is skipped with PackagesHeld and gets no slot; the other host
// runs.
func TestAgentHoldSkipsTheHost(t *testing.T) {
	s := newRolloutStep(t, 2, map[string]string{"tier": "web"})
	s.setInventory("host-0", pending("openssl"))
	s.setInventory("host-1", pending("openssl"))
	a := s.agent("host-0")
	a.Spec.Holds = []string{"openssl"}
	if err := env.Client.Update(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	s.create("r", nil)
	s.reconcile("r")
	au := s.get("r")
	if !slices.Equal(s.slots("r"), []string{"host-1"}) || au.Status.Counts.Skipped != 1 {
		t.Fatalf("slots %v counts %+v: want host-1 working, host-0 skipped", s.slots("r"), au.Status.Counts)
	}
	if len(au.Status.SkippedHosts) != 1 || au.Status.SkippedHosts[0].Agent != "host-0" || au.Status.SkippedHosts[0].Reason != "PackagesHeld" || !strings.Contains(au.Status.SkippedHosts[0].Message, "openssl") {
		t.Errorf("skippedHosts %+v", au.Status.SkippedHosts)
	}
}

// TestRebootingHostKeepsItsSlotUntilBack: a host that reported success
// with a reboot holds its slot (the next host waits) until its Agent
// shows a newer boot time and Ready.
func TestRebootingHostKeepsItsSlotUntilBack(t *testing.T) {
	s := newRolloutStep(t, 2, map[string]string{"tier": "web"})
	s.create("r", func(au *redflagv1.AgentUpdate) { au.Spec.Reboot = redflagv1.RebootAlways })
	s.reconcile("r")
	s.report("host-0", "r", redflagv1.WorkSucceeded, "")
	a := s.agent("host-0")
	a.Status.CurrentWork.Rebooting = true
	old := metav1.NewTime(s.clock.Now().Add(-time.Hour))
	a.Status.System.BootTime = &old
	meta.SetStatusCondition(&a.Status.Conditions, metav1.Condition{Type: redflagv1.ConditionReady, Status: metav1.ConditionTrue, Reason: "CheckingIn", LastTransitionTime: old})
	if err := env.Client.Status().Update(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	s.reconcile("r")
	if got := s.slots("r"); !slices.Equal(got, []string{"host-0"}) {
		t.Fatalf("while host-0 reboots: slots %v, want host-0 only", got)
	}
	s.clock.Step(time.Minute)
	a = s.agent("host-0")
	booted := metav1.NewTime(s.clock.Now())
	a.Status.System.BootTime = &booted
	if err := env.Client.Status().Update(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	s.reconcile("r")
	if got := s.slots("r"); !slices.Equal(got, []string{"host-1"}) {
		t.Fatalf("after host-0 came back: slots %v, want host-1", got)
	}
	if c := s.get("r").Status.Counts; c.Succeeded != 1 {
		t.Errorf("counts %+v: want host-0 succeeded", c)
	}
}

// TestRebootBudgetAcrossRollouts: with a budget of 1, a second rebooting
// rollout of the namespace waits (RebootBudgetFull) while the first holds
// a host, and a rollout that does not reboot is not held back.
func TestRebootBudgetAcrossRollouts(t *testing.T) {
	s := newRolloutStep(t, 3, map[string]string{"tier": "web"})
	s.r.RebootBudget = 1
	two := intstr.FromInt32(2)
	for _, name := range []string{"a", "b"} {
		s.create(name, func(au *redflagv1.AgentUpdate) {
			au.Spec.Selector = nil
			au.Spec.Agents = map[string][]string{"a": {"host-0"}, "b": {"host-1"}}[name]
			au.Spec.Reboot = redflagv1.RebootIfRequired
			au.Spec.Strategy.MaxConcurrent = &two
		})
	}
	s.create("c", func(au *redflagv1.AgentUpdate) {
		au.Spec.Selector = nil
		au.Spec.Agents = []string{"host-2"}
	})
	s.reconcile("a")
	s.reconcile("b")
	s.reconcile("c")
	if !slices.Equal(s.slots("a"), []string{"host-0"}) || len(s.slots("b")) != 0 || !slices.Equal(s.slots("c"), []string{"host-2"}) {
		t.Fatalf("slots a %v b %v c %v: want a and c working, b waiting", s.slots("a"), s.slots("b"), s.slots("c"))
	}
	b := s.get("b")
	if c := meta.FindStatusCondition(b.Status.Conditions, redflagv1.ConditionReady); b.Status.Phase != redflagv1.RolloutWaiting || c == nil || c.Reason != "RebootBudgetFull" {
		t.Errorf("b: phase %s Ready %+v, want Waiting, RebootBudgetFull", b.Status.Phase, c)
	}
	s.report("host-0", "a", redflagv1.WorkSucceeded, "")
	s.reconcile("a")
	s.reconcile("b")
	if !slices.Equal(s.slots("b"), []string{"host-1"}) {
		t.Errorf("after a finished: b's slots %v, want host-1", s.slots("b"))
	}
}
