package controllers_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	clocktesting "k8s.io/utils/clock/testing"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
	"github.com/redflag-io/redflag/controllers"
	"github.com/redflag-io/redflag/internal/events"
)

// rolloutStep drives the AgentUpdate reconciler by hand against the real
// API server and plays the hosts' part by writing their work records, as
// the gateway would.
type rolloutStep struct {
	t     *testing.T
	ns    string
	r     *controllers.AgentUpdateReconciler
	clock *clocktesting.FakeClock
}

func newRolloutStep(t *testing.T, hosts int, labels map[string]string) *rolloutStep {
	t.Helper()
	s := &rolloutStep{t: t, ns: newNamespace(t), clock: clocktesting.NewFakeClock(time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC))}
	s.r = &controllers.AgentUpdateReconciler{Client: env.Client, Recorder: events.NewRecorder(nil, s.clock), Clock: s.clock}
	for i := range hosts {
		a := &redflagv1.Agent{
			ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: fmt.Sprintf("host-%d", i), Labels: labels},
			Spec:       redflagv1.AgentSpec{MachineID: fmt.Sprintf("m-%d", i), PublicKey: "MCowBQYDK2VwAyEAq7Sx1Zc4ZtS6nJHb2vH0aKxwZbQ="},
		}
		if err := env.Client.Create(context.Background(), a); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func (s *rolloutStep) create(name string, mutate func(*redflagv1.AgentUpdate)) {
	s.t.Helper()
	one := intstr.FromInt32(1)
	zero := intstr.FromInt32(0)
	au := &redflagv1.AgentUpdate{
		ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: name},
		Spec: redflagv1.AgentUpdateSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "web"}},
			Packages: &redflagv1.PackageSelection{Scope: redflagv1.ScopeAll},
			Strategy: redflagv1.RolloutStrategy{MaxConcurrent: &one, MaxFailures: &zero},
		},
	}
	if mutate != nil {
		mutate(au)
	}
	if err := env.Client.Create(context.Background(), au); err != nil {
		s.t.Fatal(err)
	}
}

func (s *rolloutStep) reconcile(name string) ctrl.Result {
	s.t.Helper()
	res, err := s.r.Reconcile(context.Background(), ctrl.Request{NamespacedName: client.ObjectKey{Namespace: s.ns, Name: name}})
	if err != nil {
		s.t.Fatalf("reconcile %s: %v", name, err)
	}
	return res
}

func (s *rolloutStep) get(name string) *redflagv1.AgentUpdate {
	s.t.Helper()
	var au redflagv1.AgentUpdate
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: s.ns, Name: name}, &au); err != nil {
		s.t.Fatal(err)
	}
	return &au
}

func (s *rolloutStep) update(name string, change func(*redflagv1.AgentUpdate)) {
	s.t.Helper()
	au := s.get(name)
	change(au)
	if err := env.Client.Update(context.Background(), au); err != nil {
		s.t.Fatal(err)
	}
}

func (s *rolloutStep) slots(name string) []string {
	var out []string
	for _, sl := range s.get(name).Status.Slots {
		out = append(out, sl.Agent)
	}
	return out
}

func (s *rolloutStep) agent(host string) *redflagv1.Agent {
	s.t.Helper()
	var a redflagv1.Agent
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: s.ns, Name: host}, &a); err != nil {
		s.t.Fatal(err)
	}
	return &a
}

// report writes a host's work record as the gateway does on a work report.
func (s *rolloutStep) report(host, rolloutName string, phase redflagv1.WorkPhase, reason string) {
	s.t.Helper()
	a := s.agent(host)
	now := metav1.NewTime(s.clock.Now())
	id := s.get(rolloutName).Status.WorkID
	a.Status.CurrentWork = &redflagv1.WorkStatus{ID: id, AgentUpdate: rolloutName, Phase: phase, StartedAt: &now, Reason: reason, Message: "host says " + reason}
	if phase.Finished() {
		a.Status.CurrentWork.FinishedAt = &now
		a.Status.CompletedWork = append(a.Status.CompletedWork, redflagv1.WorkRecord{ID: id, AgentUpdate: rolloutName, Phase: phase, FinishedAt: now, Reason: reason})
	}
	if err := env.Client.Status().Update(context.Background(), a); err != nil {
		s.t.Fatal(err)
	}
}

func TestRolloutStartsHostsInOrderWithinMaxConcurrent(t *testing.T) {
	s := newRolloutStep(t, 3, map[string]string{"tier": "web"})
	s.create("r", func(au *redflagv1.AgentUpdate) { two := intstr.FromInt32(2); au.Spec.Strategy.MaxConcurrent = &two })
	s.reconcile("r")
	if got := s.slots("r"); !slices.Equal(got, []string{"host-0", "host-1"}) {
		t.Fatalf("slots %v, want host-0 and host-1", got)
	}
	au := s.get("r")
	if au.Status.Phase != redflagv1.RolloutProgressing || au.Status.Counts.InProgress != 2 || au.Status.Counts.Pending != 1 || au.Status.Counts.Total != 3 {
		t.Fatalf("status %+v", au.Status)
	}
	if au.Status.WorkID == "" || meta.FindStatusCondition(au.Status.Conditions, redflagv1.ConditionReconciling) == nil {
		t.Fatalf("want a work ID and Reconciling, got %+v", au.Status)
	}
	// A second pass with nothing new changes nothing (no write).
	rv := au.ResourceVersion
	s.reconcile("r")
	if s.get("r").ResourceVersion != rv {
		t.Error("an idle reconcile wrote the status")
	}
	s.report("host-0", "r", redflagv1.WorkRunning, "")
	s.report("host-0", "r", redflagv1.WorkSucceeded, "")
	s.reconcile("r")
	if got := s.slots("r"); !slices.Equal(got, []string{"host-1", "host-2"}) {
		t.Fatalf("after host-0 finished: slots %v, want host-1 and host-2", got)
	}
	s.report("host-1", "r", redflagv1.WorkSucceeded, "")
	s.report("host-2", "r", redflagv1.WorkSucceeded, "")
	s.reconcile("r")
	au = s.get("r")
	if au.Status.Phase != redflagv1.RolloutSucceeded || len(au.Status.Slots) != 0 || au.Status.Counts.Succeeded != 3 {
		t.Fatalf("want Succeeded with no slots, got %+v", au.Status)
	}
	if c := meta.FindStatusCondition(au.Status.Conditions, redflagv1.ConditionReady); c == nil || c.Status != metav1.ConditionTrue || c.Reason != "Complete" {
		t.Fatalf("Ready %+v", c)
	}
	var reasons []string
	for _, h := range au.Status.History {
		reasons = append(reasons, h.Reason)
	}
	if !slices.Contains(reasons, "RolloutStarted") || !slices.Contains(reasons, "RolloutSucceeded") {
		t.Errorf("history %v: want RolloutStarted and RolloutSucceeded", reasons)
	}
}

func TestRolloutHaltsAndRetries(t *testing.T) {
	s := newRolloutStep(t, 3, map[string]string{"tier": "web"})
	s.create("r", nil)
	s.reconcile("r")
	s.report("host-0", "r", redflagv1.WorkFailed, "InstallFailed")
	s.reconcile("r")
	au := s.get("r")
	if au.Status.Phase != redflagv1.RolloutHalted || len(au.Status.Slots) != 0 {
		t.Fatalf("want Halted with no slots, got phase %s slots %v", au.Status.Phase, au.Status.Slots)
	}
	if c := meta.FindStatusCondition(au.Status.Conditions, redflagv1.ConditionStalled); c == nil || c.Reason != "RolloutHalted" {
		t.Fatalf("Stalled %+v", c)
	}
	if len(au.Status.Failures) != 1 || au.Status.Failures[0].Agent != "host-0" || au.Status.Failures[0].Reason != "InstallFailed" {
		t.Fatalf("failures %+v", au.Status.Failures)
	}
	firstID := au.Status.WorkID
	// The documented retry: a new value of redflag.io/retry-at.
	s.update("r", func(au *redflagv1.AgentUpdate) {
		au.Annotations = map[string]string{redflagv1.RetryAnnotation: "2026-11-27T12:05:00Z"}
	})
	s.reconcile("r")
	au = s.get("r")
	if au.Status.WorkID == firstID || au.Status.LastHandledRetry != "2026-11-27T12:05:00Z" {
		t.Fatalf("retry not handled: workID %s (was %s), lastHandledRetry %q", au.Status.WorkID, firstID, au.Status.LastHandledRetry)
	}
	if au.Status.Phase != redflagv1.RolloutProgressing || !slices.Equal(s.slots("r"), []string{"host-0"}) || au.Status.Counts.Failed != 0 {
		t.Fatalf("after retry: phase %s slots %v counts %+v", au.Status.Phase, s.slots("r"), au.Status.Counts)
	}
}

func TestRolloutPauseReleasesUnstartedSlots(t *testing.T) {
	s := newRolloutStep(t, 2, map[string]string{"tier": "web"})
	s.create("r", func(au *redflagv1.AgentUpdate) { two := intstr.FromInt32(2); au.Spec.Strategy.MaxConcurrent = &two })
	s.reconcile("r")
	s.report("host-0", "r", redflagv1.WorkRunning, "")
	s.update("r", func(au *redflagv1.AgentUpdate) { au.Spec.Paused = true })
	s.reconcile("r")
	au := s.get("r")
	if au.Status.Phase != redflagv1.RolloutPaused || !slices.Equal(s.slots("r"), []string{"host-0"}) {
		t.Fatalf("paused: phase %s slots %v, want Paused with only the running host-0", au.Status.Phase, s.slots("r"))
	}
	// Pausing keeps the work ID: no host is redone after resuming.
	s.update("r", func(au *redflagv1.AgentUpdate) { au.Spec.Paused = false })
	s.reconcile("r")
	if got := s.get("r").Status.WorkID; got != au.Status.WorkID {
		t.Fatalf("work ID changed from %s to %s on resume", au.Status.WorkID, got)
	}
}

func TestRolloutWaitsForItsWindow(t *testing.T) {
	s := newRolloutStep(t, 1, map[string]string{"tier": "web"})
	// 12:00 UTC now; the window opens at 13:00.
	s.create("r", func(au *redflagv1.AgentUpdate) {
		au.Spec.Window = &redflagv1.MaintenanceWindow{Start: "13:00", End: "14:00", TimeZone: "UTC"}
	})
	res := s.reconcile("r")
	au := s.get("r")
	if au.Status.Phase != redflagv1.RolloutWaiting || len(au.Status.Slots) != 0 {
		t.Fatalf("outside the window: phase %s slots %v", au.Status.Phase, au.Status.Slots)
	}
	if res.RequeueAfter <= 0 || res.RequeueAfter > time.Hour {
		t.Errorf("requeue after %s, want a look again by the window's opening in an hour", res.RequeueAfter)
	}
	s.clock.Step(time.Hour)
	s.reconcile("r")
	if got := s.slots("r"); !slices.Equal(got, []string{"host-0"}) {
		t.Fatalf("inside the window: slots %v", got)
	}
}

func TestSecondRolloutWaitsOnTheFirst(t *testing.T) {
	s := newRolloutStep(t, 1, map[string]string{"tier": "web"})
	s.create("first", nil)
	s.reconcile("first")
	s.create("second", nil)
	s.reconcile("second")
	second := s.get("second")
	if second.Status.WaitingOn != "first" || second.Status.Phase != redflagv1.RolloutWaiting || len(second.Status.Slots) != 0 {
		t.Fatalf("second: waitingOn %q phase %s slots %v", second.Status.WaitingOn, second.Status.Phase, second.Status.Slots)
	}
	s.report("host-0", "first", redflagv1.WorkSucceeded, "")
	s.reconcile("first")
	s.reconcile("second")
	if got := s.slots("second"); !slices.Equal(got, []string{"host-0"}) {
		t.Fatalf("after the first finished, second's slots %v", got)
	}
}

func TestAgentVersionRolloutSetsDesiredVersionAndSkipsCurrentHosts(t *testing.T) {
	s := newRolloutStep(t, 2, map[string]string{"tier": "web"})
	a := s.agent("host-0")
	a.Status.AgentVersion = "v1.2.0"
	if err := env.Client.Status().Update(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	s.create("r", func(au *redflagv1.AgentUpdate) {
		au.Spec.Packages, au.Spec.AgentVersion = nil, "v1.2.0"
	})
	s.reconcile("r")
	au := s.get("r")
	if au.Status.Counts.Skipped != 1 || !slices.Equal(s.slots("r"), []string{"host-1"}) {
		t.Fatalf("counts %+v slots %v: want host-0 skipped (already v1.2.0) and host-1 started", au.Status.Counts, s.slots("r"))
	}
	if got := s.agent("host-1").Spec.DesiredVersion; got != "v1.2.0" {
		t.Errorf("host-1 desiredVersion %q, want v1.2.0", got)
	}
}
