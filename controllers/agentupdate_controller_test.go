package controllers_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	clocktesting "k8s.io/utils/clock/testing"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

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

// seen stores a host's check-in as the gateway's liveness writer does.
func (s *rolloutStep) seen(host string, at time.Time) {
	s.t.Helper()
	a := s.agent(host)
	t := metav1.NewTime(at)
	a.Status.LastSeen = &t
	if err := env.Client.Status().Update(context.Background(), a); err != nil {
		s.t.Fatal(err)
	}
}

// TestRolloutTimesOutASilentHost: a host that started its work and then
// stopped checking in for longer than hostTimeout loses its slot, counts as
// failed with reason HostTimedOut (on the AgentUpdate and on its Agent,
// whose work record says so) and the next host starts; a host that keeps
// checking in keeps its slot however long it works; the controller looks
// again at the instant the next holder would time out.
func TestRolloutTimesOutASilentHost(t *testing.T) {
	s := newRolloutStep(t, 3, map[string]string{"tier": "web"})
	for i := range 3 {
		patch := []byte(`{"spec":{"checkInInterval":"30s"}}`)
		a := &redflagv1.Agent{ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: fmt.Sprintf("host-%d", i)}}
		if err := env.Client.Patch(context.Background(), a, client.RawPatch("application/merge-patch+json", patch)); err != nil {
			t.Fatal(err)
		}
	}
	s.create("r", func(au *redflagv1.AgentUpdate) {
		one := intstr.FromInt32(1)
		au.Spec.Strategy.MaxFailures = &one
		au.Spec.Strategy.HostTimeout = &metav1.Duration{Duration: 2 * time.Minute}
	})
	start := s.clock.Now()
	res := s.reconcile("r")
	if got := s.slots("r"); !slices.Equal(got, []string{"host-0"}) {
		t.Fatalf("slots %v, want host-0", got)
	}
	if res.RequeueAfter != 2*time.Minute {
		t.Errorf("requeue after %s, want 2m: when host-0 would time out if silent", res.RequeueAfter)
	}
	s.seen("host-0", start)
	s.report("host-0", "r", redflagv1.WorkRunning, "")

	// 1m59s of silence: not yet.
	s.clock.Step(2*time.Minute - time.Second)
	if res := s.reconcile("r"); res.RequeueAfter != time.Second {
		t.Errorf("requeue after %s, want 1s", res.RequeueAfter)
	}
	if got := s.slots("r"); !slices.Equal(got, []string{"host-0"}) {
		t.Fatalf("host-0 silent for 1m59s: slots %v, want host-0", got)
	}
	s.clock.Step(time.Second)
	s.reconcile("r")
	au := s.get("r")
	if got := s.slots("r"); !slices.Equal(got, []string{"host-1"}) {
		t.Fatalf("host-0 silent for 2m: slots %v, want host-1", got)
	}
	if c := au.Status.Counts; c.Failed != 1 || c.InProgress != 1 || c.Pending != 1 {
		t.Errorf("counts %+v: want 1 failed, 1 working, 1 pending", c)
	}
	if au.Status.Phase != redflagv1.RolloutProgressing {
		t.Errorf("phase %s: one failure is within maxFailures 1", au.Status.Phase)
	}
	if len(au.Status.Failures) != 1 || au.Status.Failures[0].Agent != "host-0" || au.Status.Failures[0].Reason != "HostTimedOut" {
		t.Fatalf("failures %+v: want host-0 HostTimedOut", au.Status.Failures)
	}
	if !slices.ContainsFunc(au.Status.History, func(h redflagv1.HistoryEntry) bool {
		return h.Reason == "HostTimedOut" && h.Metadata["agent"] == "host-0"
	}) {
		t.Errorf("AgentUpdate history %+v: want HostTimedOut for host-0", au.Status.History)
	}
	a := s.agent("host-0")
	if w := a.Status.CurrentWork; w == nil || w.ID != au.Status.WorkID || w.Phase != redflagv1.WorkFailed || w.Reason != "HostTimedOut" || w.FinishedAt == nil {
		t.Fatalf("host-0 currentWork %+v: want its work Failed, HostTimedOut", w)
	}
	if n := len(a.Status.CompletedWork); n != 1 || a.Status.CompletedWork[0].Reason != "HostTimedOut" {
		t.Errorf("host-0 completedWork %+v: want one HostTimedOut record", a.Status.CompletedWork)
	}
	if !slices.ContainsFunc(a.Status.History, func(h redflagv1.HistoryEntry) bool { return h.Reason == "HostTimedOut" }) {
		t.Errorf("host-0 history %+v: want HostTimedOut", a.Status.History)
	}

	// host-1 works for 10 minutes and keeps checking in: no timeout.
	s.report("host-1", "r", redflagv1.WorkRunning, "")
	for range 10 {
		s.clock.Step(time.Minute)
		s.seen("host-1", s.clock.Now())
		s.reconcile("r")
	}
	if got := s.slots("r"); !slices.Equal(got, []string{"host-1"}) {
		t.Fatalf("host-1 checked in throughout: slots %v, want host-1", got)
	}
	s.report("host-1", "r", redflagv1.WorkSucceeded, "")
	s.reconcile("r")

	// host-2 takes its slot and never checks in: judged from the grant.
	if got := s.slots("r"); !slices.Equal(got, []string{"host-2"}) {
		t.Fatalf("slots %v, want host-2", got)
	}
	s.clock.Step(2 * time.Minute)
	s.reconcile("r")
	au = s.get("r")
	// Two failures exceed maxFailures 1: the rollout halts.
	if au.Status.Phase != redflagv1.RolloutHalted || len(au.Status.Slots) != 0 || au.Status.Counts.Failed != 2 {
		t.Fatalf("host-2 silent since its grant: phase %s slots %v counts %+v, want Halted with 2 failed", au.Status.Phase, au.Status.Slots, au.Status.Counts)
	}
	if w := s.agent("host-2").Status.CompletedWork; len(w) != 1 || w[0].ID != au.Status.WorkID || w[0].Reason != "HostTimedOut" {
		t.Errorf("host-2 completedWork %+v: want the work ID recorded HostTimedOut", w)
	}

	// A late report of success from host-0 does not reach the counts: the
	// gateway keeps an end state (see the gateway's tests); here the
	// record stands and a pass changes nothing.
	s.reconcile("r")
	if c := s.get("r").Status.Counts; c.Failed != 2 || c.Succeeded != 1 {
		t.Errorf("counts %+v: want 1 succeeded, 2 failed", c)
	}
}

// TestRolloutAnnouncesATimeoutWhoseWriteWasLost: a pass that stored a
// host's timeout on its Agent but lost its own status write (a conflict)
// leaves the next pass to list and announce it.
func TestRolloutAnnouncesATimeoutWhoseWriteWasLost(t *testing.T) {
	s := newRolloutStep(t, 2, map[string]string{"tier": "web"})
	s.create("r", func(au *redflagv1.AgentUpdate) {
		one := intstr.FromInt32(1)
		au.Spec.Strategy.MaxFailures = &one
	})
	s.reconcile("r")
	// What recordTimeouts stored before the lost write.
	a := s.agent("host-0")
	at := metav1.NewTime(s.clock.Now())
	id := s.get("r").Status.WorkID
	a.Status.CompletedWork = []redflagv1.WorkRecord{{ID: id, AgentUpdate: "r", Phase: redflagv1.WorkFailed, FinishedAt: at, Reason: "HostTimedOut"}}
	if err := env.Client.Status().Update(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	s.reconcile("r")
	au := s.get("r")
	if len(au.Status.Failures) != 1 || au.Status.Failures[0].Reason != "HostTimedOut" || !slices.Equal(s.slots("r"), []string{"host-1"}) {
		t.Fatalf("failures %+v slots %v: want host-0 HostTimedOut and host-1 started", au.Status.Failures, s.slots("r"))
	}
	timeouts := func(au *redflagv1.AgentUpdate) int {
		n := 0
		for _, h := range au.Status.History {
			if h.Reason == "HostTimedOut" {
				n++
			}
		}
		return n
	}
	s.reconcile("r") // an idle pass announces nothing again
	if got := timeouts(s.get("r")); got != 1 || timeouts(au) != 1 {
		t.Errorf("HostTimedOut in history %d times (after the idle pass %d), want once", timeouts(au), got)
	}
}

// TestDesiredVersionIsSetAfterAFailedPatch: the patch that records
// spec.desiredVersion on a newly started host fails once; the next pass
// sets it, although the host is no longer "started in this pass" (it was
// only ever tried for those, so one failure left it unset for good).
func TestDesiredVersionIsSetAfterAFailedPatch(t *testing.T) {
	s := newRolloutStep(t, 1, map[string]string{"tier": "web"})
	direct, err := client.NewWithWatch(env.Config, client.Options{Scheme: env.Client.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	failures := 1
	s.r.Client = interceptor.NewClient(direct, interceptor.Funcs{
		Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
			if _, ok := obj.(*redflagv1.Agent); ok && failures > 0 {
				failures--
				return apierrors.NewServiceUnavailable("the API server is restarting")
			}
			return c.Patch(ctx, obj, patch, opts...)
		},
	})
	s.create("r", func(au *redflagv1.AgentUpdate) {
		au.Spec.Packages, au.Spec.AgentVersion = nil, "v1.2.0"
	})
	if _, err := s.r.Reconcile(context.Background(), ctrl.Request{NamespacedName: client.ObjectKey{Namespace: s.ns, Name: "r"}}); err == nil {
		t.Fatal("the first pass hid the failed desiredVersion patch")
	}
	if got := s.slots("r"); !slices.Equal(got, []string{"host-0"}) {
		t.Fatalf("slots %v after the first pass; want host-0", got)
	}
	s.reconcile("r")
	if got := s.agent("host-0").Spec.DesiredVersion; got != "v1.2.0" {
		t.Errorf("host-0 desiredVersion %q after the next pass, want v1.2.0", got)
	}
}

// TestStatusConflictIsRetriedNotAnError: a pass whose status write loses a
// race to another writer returns no error (so no error log and no failure
// backoff) and asks to look again in a second, on the planning path, on
// the path that marks a rollout Stalled (an unknown time zone passes the
// schema but not the window parser; that path returned the conflict as an
// error) and on a recurring rollout's path between runs.
func TestStatusConflictIsRetriedNotAnError(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*redflagv1.AgentUpdate)
		check  func(*rolloutStep)
	}{
		{"plan", nil, func(s *rolloutStep) {
			if got := s.slots("r"); !slices.Equal(got, []string{"host-0"}) {
				s.t.Errorf("slots %v after the retry; want host-0", got)
			}
		}},
		{"stall", func(au *redflagv1.AgentUpdate) {
			au.Spec.Window = &redflagv1.MaintenanceWindow{Start: "22:00", End: "04:00", TimeZone: "Mars/Olympus_Mons"}
		}, func(s *rolloutStep) {
			if c := meta.FindStatusCondition(s.get("r").Status.Conditions, "Stalled"); c == nil || c.Status != metav1.ConditionTrue || c.Reason != "InvalidWindow" {
				s.t.Errorf("Stalled %+v after the retry; want True/InvalidWindow", c)
			}
		}},
		// A recurring rollout between runs wrote its idle status on its
		// own path, which returned the conflict as an error.
		{"between runs", func(au *redflagv1.AgentUpdate) {
			recurring(time.Hour)(au)
			au.Spec.Paused = true
		}, func(s *rolloutStep) {
			if au := s.get("r"); au.Status.Phase != redflagv1.RolloutPaused || au.Status.ObservedGeneration != au.Generation {
				s.t.Errorf("phase %q observedGeneration %d after the retry; want Paused at %d", au.Status.Phase, au.Status.ObservedGeneration, au.Generation)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newRolloutStep(t, 1, map[string]string{"tier": "web"})
			direct, err := client.NewWithWatch(env.Config, client.Options{Scheme: env.Client.Scheme()})
			if err != nil {
				t.Fatal(err)
			}
			conflicts := 1
			s.r.Client = interceptor.NewClient(direct, interceptor.Funcs{
				SubResourceUpdate: func(ctx context.Context, c client.Client, sub string, obj client.Object, opts ...client.SubResourceUpdateOption) error {
					if _, ok := obj.(*redflagv1.AgentUpdate); ok && conflicts > 0 {
						conflicts--
						return apierrors.NewConflict(redflagv1.GroupVersion.WithResource("agentupdates").GroupResource(), obj.GetName(), errors.New("the object has been modified"))
					}
					return c.SubResource(sub).Update(ctx, obj, opts...)
				},
			})
			s.create("r", tc.mutate)
			res, err := s.r.Reconcile(context.Background(), ctrl.Request{NamespacedName: client.ObjectKey{Namespace: s.ns, Name: "r"}})
			if err != nil || res.RequeueAfter != time.Second {
				t.Fatalf("a pass that lost its status write: result %+v, error %v; want a retry in 1s and no error", res, err)
			}
			s.reconcile("r")
			tc.check(s)
		})
	}
}

// TestInvalidWindowWarnsOncePerGeneration: a rollout whose window names an
// unknown time zone is Failed and Stalled, and says so with one InvalidSpec
// Warning (docs/events.md promised it; the controller sent none); a pass
// over the same spec sends no second one, a changed spec that is still
// invalid does.
func TestInvalidWindowWarnsOncePerGeneration(t *testing.T) {
	s := newRolloutStep(t, 1, map[string]string{"tier": "web"})
	sink := &countingSink{}
	s.r.Recorder = events.NewRecorder(sink, s.clock)
	s.create("r", func(au *redflagv1.AgentUpdate) {
		au.Spec.Window = &redflagv1.MaintenanceWindow{Start: "22:00", End: "04:00", TimeZone: "Mars/Olympus_Mons"}
	})
	if res := s.reconcile("r"); res.RequeueAfter != 0 {
		t.Errorf("a stalled rollout asks to come back in %s; want only on a change", res.RequeueAfter)
	}
	au := s.get("r")
	if c := meta.FindStatusCondition(au.Status.Conditions, "Stalled"); au.Status.Phase != redflagv1.RolloutFailed || c == nil || c.Status != metav1.ConditionTrue || c.Reason != "InvalidWindow" {
		t.Fatalf("phase %q Stalled %+v; want Failed and Stalled=True/InvalidWindow", au.Status.Phase, c)
	}
	if n := len(au.Status.History); n != 1 || au.Status.History[0].Reason != "InvalidSpec" || au.Status.History[0].Type != "Warning" {
		t.Errorf("history %+v; want one InvalidSpec Warning", au.Status.History)
	}
	s.reconcile("r")
	if n := sink.counts()["InvalidSpec"]; n != 1 {
		t.Errorf("InvalidSpec sent %d times after two passes over one spec; want once", n)
	}
	s.update("r", func(au *redflagv1.AgentUpdate) { au.Spec.Window.TimeZone = "Venus/Maxwell_Montes" })
	s.reconcile("r")
	if n := sink.counts()["InvalidSpec"]; n != 2 {
		t.Errorf("InvalidSpec sent %d times after the spec changed and stayed invalid; want twice", n)
	}
}
