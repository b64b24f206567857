package controllers_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/clock"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
	"github.com/redflag-io/redflag/controllers"
	"github.com/redflag-io/redflag/internal/events"
)

// scheduleStep drives the ScanSchedule reconciler by hand against the real
// API server, with a fake clock, so hours of schedule pass in a test.
type scheduleStep struct {
	t     *testing.T
	ns    string
	r     *controllers.ScanScheduleReconciler
	clock *clocktesting.FakeClock
}

func newScheduleStep(t *testing.T) *scheduleStep {
	t.Helper()
	// Whole seconds: status times are stored to the second.
	clk := clocktesting.NewFakeClock(time.Now().Truncate(time.Second))
	return &scheduleStep{
		t: t, ns: newNamespace(t), clock: clk,
		r: &controllers.ScanScheduleReconciler{Client: env.Client, Recorder: events.NewRecorder(nil, clk), Clock: clk},
	}
}

// agentSpec describes one test Agent.
type agentSpec struct {
	name    string
	labels  map[string]string
	ranAgo  time.Duration // the updates scan's last run, before now
	ready   bool
	paused  bool
	revoked bool
}

func (s *scheduleStep) agent(a agentSpec) {
	s.t.Helper()
	obj := &redflagv1.Agent{
		ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: a.name, Labels: a.labels},
		Spec: redflagv1.AgentSpec{MachineID: "m-" + a.name, PublicKey: "MCowBQYDK2VwAyEAq7Sx1Zc4ZtS6nJHb2vH0aKxwZbQ=",
			Paused: a.paused, Revoked: a.revoked},
	}
	ctx := context.Background()
	if err := env.Client.Create(ctx, obj); err != nil {
		s.t.Fatal(err)
	}
	ready := metav1.Condition{Type: redflagv1.ConditionReady, Status: metav1.ConditionTrue, Reason: "CheckingIn",
		LastTransitionTime: metav1.NewTime(s.clock.Now())}
	if !a.ready {
		ready.Status, ready.Reason = metav1.ConditionUnknown, "AgentSilent"
	}
	obj.Status.Conditions = []metav1.Condition{ready}
	obj.Status.Subsystems = []redflagv1.SubsystemStatus{{Name: "updates",
		LastRun: &metav1.Time{Time: s.clock.Now().Add(-a.ranAgo)}, Result: redflagv1.RunSucceeded}}
	if err := env.Client.Status().Update(ctx, obj); err != nil {
		s.t.Fatal(err)
	}
}

// schedule creates a ScanSchedule scanning updates every interval on the
// Agents with labels sel (nil: all).
func (s *scheduleStep) schedule(name string, sel map[string]string, interval time.Duration) client.ObjectKey {
	s.t.Helper()
	obj := &redflagv1.ScanSchedule{
		ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: name},
		Spec: redflagv1.ScanScheduleSpec{Subsystems: redflagv1.ScanSubsystems{
			Updates: &redflagv1.UpdatesSchedule{SubsystemSchedule: redflagv1.SubsystemSchedule{Interval: metav1.Duration{Duration: interval}}}}},
	}
	if sel != nil {
		obj.Spec.Selector = &metav1.LabelSelector{MatchLabels: sel}
	}
	if err := env.Client.Create(context.Background(), obj); err != nil {
		s.t.Fatal(err)
	}
	return client.ObjectKeyFromObject(obj)
}

func (s *scheduleStep) reconcile(key client.ObjectKey) ctrl.Result {
	s.t.Helper()
	res, err := s.r.Reconcile(context.Background(), ctrl.Request{NamespacedName: key})
	if err != nil {
		s.t.Fatalf("reconcile %s: %v", key, err)
	}
	return res
}

func (s *scheduleStep) get(key client.ObjectKey) *redflagv1.ScanSchedule {
	s.t.Helper()
	var obj redflagv1.ScanSchedule
	if err := env.Client.Get(context.Background(), key, &obj); err != nil {
		s.t.Fatal(err)
	}
	return &obj
}

func (s *scheduleStep) update(obj *redflagv1.ScanSchedule) {
	s.t.Helper()
	if err := env.Client.Update(context.Background(), obj); err != nil {
		s.t.Fatal(err)
	}
}

func wantCounts(t *testing.T, obj *redflagv1.ScanSchedule, matched, due, overdue int32) {
	t.Helper()
	st := obj.Status
	if st.MatchedAgents != matched || st.DueAgents != due || st.OverdueAgents != overdue {
		t.Errorf("%s: matched/due/overdue = %d/%d/%d, want %d/%d/%d", obj.Name,
			st.MatchedAgents, st.DueAgents, st.OverdueAgents, matched, due, overdue)
	}
}

func scheduleReady(obj *redflagv1.ScanSchedule) (metav1.ConditionStatus, string) {
	c := meta.FindStatusCondition(obj.Status.Conditions, redflagv1.ConditionReady)
	if c == nil {
		return "", ""
	}
	return c.Status, c.Reason
}

// scheduleKstatus runs kstatus itself (what Flux, Argo CD and kubectl-wait style
// tools use) on the stored object.
func scheduleKstatus(t *testing.T, obj *redflagv1.ScanSchedule) status.Status {
	t.Helper()
	obj = obj.DeepCopy()
	obj.APIVersion, obj.Kind = redflagv1.GroupVersion.String(), "ScanSchedule"
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		t.Fatal(err)
	}
	res, err := status.Compute(&unstructured.Unstructured{Object: content})
	if err != nil {
		t.Fatal(err)
	}
	return res.Status
}

func TestScanScheduleCountsDueAndOverdue(t *testing.T) {
	s := newScheduleStep(t)
	web := map[string]string{"tier": "web"}
	s.agent(agentSpec{name: "fresh", labels: web, ranAgo: 10 * time.Minute, ready: true})
	s.agent(agentSpec{name: "due", labels: web, ranAgo: 2 * time.Hour, ready: true})
	s.agent(agentSpec{name: "late", labels: web, ranAgo: 3 * time.Hour, ready: true})
	s.agent(agentSpec{name: "paused", labels: web, ranAgo: 3 * time.Hour, ready: true, paused: true})
	s.agent(agentSpec{name: "revoked", labels: web, ranAgo: 3 * time.Hour, ready: true, revoked: true})
	s.agent(agentSpec{name: "silent", labels: web, ranAgo: 3 * time.Hour})
	s.agent(agentSpec{name: "db", labels: map[string]string{"tier": "db"}, ranAgo: 3 * time.Hour, ready: true})
	key := s.schedule("hourly", web, time.Hour)

	res := s.reconcile(key)
	obj := s.get(key)
	// Matched: every web agent, paused, revoked and silent included.
	// Due: fresh is not (due in 50m); due and late are; paused and revoked
	// are handed nothing; silent is handed nothing either. Overdue: late,
	// and silent, whose scan is as late whether or not it is handed out.
	wantCounts(t, obj, 6, 2, 2)
	if st, reason := scheduleReady(obj); st != metav1.ConditionTrue || reason != "Evaluated" {
		t.Errorf("Ready is %s/%s, want True/Evaluated", st, reason)
	}
	if obj.Status.ObservedGeneration != obj.Generation || obj.Status.LastEvaluated == nil ||
		!obj.Status.LastEvaluated.Time.Equal(s.clock.Now()) {
		t.Errorf("observedGeneration %d (generation %d), lastEvaluated %v", obj.Status.ObservedGeneration, obj.Generation, obj.Status.LastEvaluated)
	}
	if got := scheduleKstatus(t, obj); got != status.CurrentStatus {
		t.Errorf("kstatus %s, want Current", got)
	}
	// "due" ran exactly two intervals ago: late by exactly one interval,
	// so overdue the next instant; the floor keeps that at 1s.
	if res.RequeueAfter != time.Second {
		t.Errorf("requeue after %s, want 1s", res.RequeueAfter)
	}

	// A second later "due" is late by more than an interval.
	rv := obj.ResourceVersion
	s.clock.Step(time.Second)
	s.reconcile(key)
	obj = s.get(key)
	wantCounts(t, obj, 6, 2, 3)
	if obj.ResourceVersion == rv || !obj.Status.LastEvaluated.Time.Equal(s.clock.Now()) {
		t.Errorf("a changed count was not written with its lastEvaluated (%v)", obj.Status.LastEvaluated)
	}

	// The selector decides what is matched: widen it to every agent.
	obj.Spec.Selector = nil
	s.update(obj)
	s.reconcile(key)
	obj = s.get(key)
	wantCounts(t, obj, 7, 3, 4)
	if obj.Status.ObservedGeneration != obj.Generation {
		t.Errorf("observedGeneration %d, want %d", obj.Status.ObservedGeneration, obj.Generation)
	}
}

func TestScanScheduleRequeuesWhenNextAgentFallsDue(t *testing.T) {
	s := newScheduleStep(t)
	s.agent(agentSpec{name: "a", ranAgo: 58 * time.Minute, ready: true})
	s.agent(agentSpec{name: "b", ranAgo: 50 * time.Minute, ready: true})
	key := s.schedule("hourly", nil, time.Hour)

	res := s.reconcile(key)
	obj := s.get(key)
	wantCounts(t, obj, 2, 0, 0)
	if res.RequeueAfter != 2*time.Minute {
		t.Errorf("requeue after %s, want 2m (a falls due then)", res.RequeueAfter)
	}

	// A minute on, nothing has changed: no write, though lastEvaluated
	// would differ.
	s.clock.Step(time.Minute)
	res = s.reconcile(key)
	if got := s.get(key); got.ResourceVersion != obj.ResourceVersion {
		t.Errorf("an unchanged reconcile wrote the schedule (lastEvaluated %v)", got.Status.LastEvaluated)
	}
	if res.RequeueAfter != time.Minute {
		t.Errorf("requeue after %s, want 1m", res.RequeueAfter)
	}
	s.clock.Step(time.Minute)
	res = s.reconcile(key)
	wantCounts(t, s.get(key), 2, 1, 0)
	// Next: b falls due in 8m, a overdue in 1h; the wait is capped at 5m.
	if res.RequeueAfter != 5*time.Minute {
		t.Errorf("requeue after %s, want the 5m cap", res.RequeueAfter)
	}
}

func TestScanScheduleShortestIntervalWins(t *testing.T) {
	s := newScheduleStep(t)
	s.agent(agentSpec{name: "web", labels: map[string]string{"tier": "web"}, ranAgo: 3 * time.Hour, ready: true})
	s.agent(agentSpec{name: "db", labels: map[string]string{"tier": "db"}, ranAgo: 45 * time.Minute, ready: true})
	all := s.schedule("all-hourly", nil, time.Hour)
	web := s.schedule("web-halfhourly", map[string]string{"tier": "web"}, 30*time.Minute)

	s.reconcile(all)
	s.reconcile(web)
	// The web agent's updates follow web-halfhourly (30m beats 1h), so it
	// is due and overdue there and counted by all-hourly as matched only;
	// the db agent, 45m after its scan, is not due under all-hourly.
	wantCounts(t, s.get(all), 2, 0, 0)
	wantCounts(t, s.get(web), 1, 1, 1)

	// Pause the shorter one: the web agent falls back to all-hourly.
	w := s.get(web)
	w.Spec.Paused = true
	s.update(w)
	s.reconcile(all)
	s.reconcile(web)
	wantCounts(t, s.get(all), 2, 1, 1)
	w = s.get(web)
	wantCounts(t, w, 1, 0, 0)
	if st, reason := scheduleReady(w); st != metav1.ConditionTrue || reason != "Paused" {
		t.Errorf("paused schedule Ready is %s/%s, want True/Paused", st, reason)
	}
}

func TestScanScheduleInvalidSelectorStalls(t *testing.T) {
	s := newScheduleStep(t)
	s.agent(agentSpec{name: "a", ranAgo: 3 * time.Hour, ready: true})
	key := s.schedule("broken", nil, time.Hour)
	obj := s.get(key)
	// The schema cannot refuse an unknown operator; the controller must.
	obj.Spec.Selector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "tier", Operator: "Near"}}}
	s.update(obj)

	s.reconcile(key)
	s.reconcile(key)
	obj = s.get(key)
	if st, reason := scheduleReady(obj); st != metav1.ConditionFalse || reason != "InvalidSpec" {
		t.Errorf("Ready is %s/%s, want False/InvalidSpec", st, reason)
	}
	if !meta.IsStatusConditionTrue(obj.Status.Conditions, redflagv1.ConditionStalled) {
		t.Error("an invalid selector should set Stalled")
	}
	if got := scheduleKstatus(t, obj); got != status.FailedStatus {
		t.Errorf("kstatus %s, want Failed", got)
	}
	wantCounts(t, obj, 0, 0, 0)
	if n := len(obj.Status.History); n != 1 || obj.Status.History[0].Reason != "InvalidSpec" {
		t.Errorf("history %v, want one InvalidSpec entry", obj.Status.History)
	}

	obj.Spec.Selector = nil
	s.update(obj)
	s.reconcile(key)
	obj = s.get(key)
	if st, _ := scheduleReady(obj); st != metav1.ConditionTrue || meta.FindStatusCondition(obj.Status.Conditions, redflagv1.ConditionStalled) != nil {
		t.Errorf("after fixing the selector: conditions %v", obj.Status.Conditions)
	}
	wantCounts(t, obj, 1, 1, 1)
}

// TestScanScheduleFollowsAgents runs the reconciler in a manager, as in
// production, to prove the Agent watch: a label change recounts at once.
func TestScanScheduleFollowsAgents(t *testing.T) {
	s := newScheduleStep(t)
	key := s.schedule("web", map[string]string{"tier": "web"}, time.Hour)
	mgr, err := ctrl.NewManager(env.Config, ctrl.Options{
		Scheme:  env.Scheme,
		Metrics: metricsserver.Options{BindAddress: "0"},
		// Controller names must be unique per process; another test's
		// manager registers the same ones.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		t.Fatal(err)
	}
	r := &controllers.ScanScheduleReconciler{Client: mgr.GetClient(), Recorder: events.NewRecorder(nil, nil), Clock: clock.RealClock{}}
	if err := r.SetupWithManager(mgr); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("manager: %v", err)
		}
	}()

	waitFor := func(what string, ok func(*redflagv1.ScanSchedule) bool) {
		t.Helper()
		eventually(t, 30*time.Second, func() error {
			if obj := s.get(key); !ok(obj) {
				return fmt.Errorf("waiting for %s; status %+v", what, obj.Status)
			}
			return nil
		})
	}
	waitFor("the first count", func(o *redflagv1.ScanSchedule) bool { st, _ := scheduleReady(o); return st == metav1.ConditionTrue })

	s.agent(agentSpec{name: "a", labels: map[string]string{"tier": "web"}, ranAgo: 2 * time.Hour, ready: true})
	waitFor("the new agent to be matched and due", func(o *redflagv1.ScanSchedule) bool {
		return o.Status.MatchedAgents == 1 && o.Status.DueAgents == 1
	})

	var a redflagv1.Agent
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: s.ns, Name: "a"}, &a); err != nil {
		t.Fatal(err)
	}
	a.Labels["tier"] = "db"
	if err := env.Client.Update(ctx, &a); err != nil {
		t.Fatal(err)
	}
	waitFor("the relabelled agent to leave", func(o *redflagv1.ScanSchedule) bool { return o.Status.MatchedAgents == 0 })
}
