package controllers_test

import (
	"context"
	"errors"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clocktesting "k8s.io/utils/clock/testing"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
	"github.com/redflag-io/redflag/controllers"
	"github.com/redflag-io/redflag/internal/events"
)

// agentStep drives the Agent reconciler by hand against the real API server,
// with a fake clock, so silence can be tested without waiting minutes.
type agentStep struct {
	t     *testing.T
	r     *controllers.AgentReconciler
	clock *clocktesting.FakeClock
	key   client.ObjectKey
}

func newAgentStep(t *testing.T, lastSeen bool) *agentStep {
	t.Helper()
	ns := newNamespace(t)
	clk := clocktesting.NewFakeClock(time.Now().Truncate(time.Second))
	a := &redflagv1.Agent{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web-01"},
		Spec:       redflagv1.AgentSpec{MachineID: "m-1", PublicKey: "MCowBQYDK2VwAyEAq7Sx1Zc4ZtS6nJHb2vH0aKxwZbQ="},
	}
	if err := env.Client.Create(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	if lastSeen {
		a.Status.LastSeen = &metav1.Time{Time: clk.Now()}
		a.Status.Hostname = "web-01.example.com"
		if err := env.Client.Status().Update(context.Background(), a); err != nil {
			t.Fatal(err)
		}
	}
	return &agentStep{
		t:     t,
		r:     &controllers.AgentReconciler{Client: env.Client, Recorder: events.NewRecorder(nil, clk), Clock: clk},
		clock: clk, key: client.ObjectKeyFromObject(a),
	}
}

func (s *agentStep) reconcile() ctrl.Result {
	s.t.Helper()
	res, err := s.r.Reconcile(context.Background(), ctrl.Request{NamespacedName: s.key})
	if err != nil {
		s.t.Fatalf("reconcile: %v", err)
	}
	return res
}

func (s *agentStep) get() *redflagv1.Agent {
	s.t.Helper()
	var a redflagv1.Agent
	if err := env.Client.Get(context.Background(), s.key, &a); err != nil {
		s.t.Fatal(err)
	}
	return &a
}

func readyOf(a *redflagv1.Agent) (metav1.ConditionStatus, string) {
	c := meta.FindStatusCondition(a.Status.Conditions, redflagv1.ConditionReady)
	if c == nil {
		return "", ""
	}
	return c.Status, c.Reason
}

func reasons(a *redflagv1.Agent) []string {
	var out []string
	for _, h := range a.Status.History {
		out = append(out, h.Reason)
	}
	return out
}

func TestAgentReadyFollowsCheckIns(t *testing.T) {
	s := newAgentStep(t, true)
	res := s.reconcile()
	a := s.get()
	if st, reason := readyOf(a); st != metav1.ConditionTrue || reason != "CheckingIn" {
		t.Fatalf("after a fresh check-in Ready is %s/%s, want True/CheckingIn", st, reason)
	}
	if res.RequeueAfter != 3*time.Minute+time.Second {
		t.Errorf("requeue after %s, want the instant it would fall silent (3m1s)", res.RequeueAfter)
	}
	if got := reasons(a); len(got) != 1 || got[0] != "AgentRegistered" {
		t.Errorf("history %v, want [AgentRegistered]", got)
	}
	if len(a.Finalizers) != 1 || a.Finalizers[0] != controllers.AgentFinalizer {
		t.Errorf("finalizers %v", a.Finalizers)
	}

	// Two and a half intervals without a check-in: still Ready.
	s.clock.Step(150 * time.Second)
	s.reconcile()
	if st, _ := readyOf(s.get()); st != metav1.ConditionTrue {
		t.Errorf("after 2.5 intervals Ready is %s, want True", st)
	}

	// Three intervals: silent.
	s.clock.Step(30 * time.Second)
	s.reconcile()
	a = s.get()
	if st, reason := readyOf(a); st != metav1.ConditionUnknown || reason != "AgentSilent" {
		t.Fatalf("after 3 intervals Ready is %s/%s, want Unknown/AgentSilent", st, reason)
	}
	// Nothing changes while it stays silent: no write, no new entry.
	rv := a.ResourceVersion
	s.clock.Step(10 * time.Minute)
	s.reconcile()
	if a := s.get(); a.ResourceVersion != rv {
		t.Errorf("an unchanged silent agent was rewritten; history %v", reasons(a))
	}

	// It checks in again (the gateway stores lastSeen).
	a = s.get()
	a.Status.LastSeen = &metav1.Time{Time: s.clock.Now()}
	if err := env.Client.Status().Update(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	s.reconcile()
	a = s.get()
	if st, _ := readyOf(a); st != metav1.ConditionTrue {
		t.Errorf("after returning Ready is %s, want True", st)
	}
	want := []string{"AgentRegistered", "AgentSilent", "AgentReturned"}
	if got := reasons(a); len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Errorf("history %v, want %v", got, want)
	}

	// Revoked: not Ready, recorded once.
	a.Spec.Revoked = true
	if err := env.Client.Update(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	s.reconcile()
	s.reconcile()
	a = s.get()
	if st, reason := readyOf(a); st != metav1.ConditionFalse || reason != "Revoked" {
		t.Errorf("revoked agent Ready is %s/%s, want False/Revoked", st, reason)
	}
	if got := reasons(a); got[len(got)-1] != "AgentRevoked" || len(got) != 4 {
		t.Errorf("history %v, want one AgentRevoked at the end", got)
	}
}

func TestAgentWithoutCheckInAwaitsOne(t *testing.T) {
	s := newAgentStep(t, false)
	s.reconcile()
	if st, reason := readyOf(s.get()); st != metav1.ConditionUnknown || reason != "AwaitingCheckIn" {
		t.Errorf("Ready is %s/%s, want Unknown/AwaitingCheckIn", st, reason)
	}
}

func TestDeletedAgentIsReleased(t *testing.T) {
	s := newAgentStep(t, true)
	s.reconcile()
	if err := env.Client.Delete(context.Background(), s.get()); err != nil {
		t.Fatal(err)
	}
	if a := s.get(); a.DeletionTimestamp.IsZero() {
		t.Fatal("the finalizer should hold the Agent until revocation is recorded")
	}
	s.reconcile()
	var a redflagv1.Agent
	if err := env.Client.Get(context.Background(), s.key, &a); !apierrors.IsNotFound(err) {
		t.Errorf("after finalizing the Agent still exists: %v", err)
	}
}

// TestDeletedAgentIsRevokedOnceThroughAConflict: the finalizer's patch
// meets a conflict (another writer got there first) and is retried a
// second later, without an error; the
// AgentRevoked Event comes once, after the patch that took, not once per
// attempt.
func TestDeletedAgentIsRevokedOnceThroughAConflict(t *testing.T) {
	s := newAgentStep(t, true)
	s.reconcile()
	if err := env.Client.Delete(context.Background(), s.get()); err != nil {
		t.Fatal(err)
	}
	sink := &countingSink{}
	conflicts := 1
	s.r.Recorder = events.NewRecorder(sink, s.clock)
	direct, err := client.NewWithWatch(env.Config, client.Options{Scheme: env.Client.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	s.r.Client = interceptor.NewClient(direct, interceptor.Funcs{
		Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
			if conflicts > 0 {
				conflicts--
				return apierrors.NewConflict(schema.GroupResource{Group: "redflag.io", Resource: "agents"}, obj.GetName(), errors.New("the object has been modified"))
			}
			return c.Patch(ctx, obj, patch, opts...)
		},
	})
	// The conflict is answered as every lost write is: a retry in a
	// second, not an error.
	if res, err := s.r.Reconcile(context.Background(), ctrl.Request{NamespacedName: s.key}); err != nil || res.RequeueAfter != time.Second || conflicts != 0 {
		t.Fatalf("first reconcile: result %+v, error %v (conflicts left %d); want the conflict met and a retry in 1s", res, err, conflicts)
	}
	if n := sink.count["AgentRevoked"]; n != 0 {
		t.Errorf("AgentRevoked emitted %d times before the finalizer was removed", n)
	}
	s.reconcile()
	if n := sink.count["AgentRevoked"]; n != 1 {
		t.Errorf("AgentRevoked emitted %d times after the retry; want once", n)
	}
	var a redflagv1.Agent
	if err := env.Client.Get(context.Background(), s.key, &a); !apierrors.IsNotFound(err) {
		t.Errorf("after finalizing the Agent still exists: %v", err)
	}
}
