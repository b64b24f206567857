package controllers

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
	"github.com/redflag-io/redflag/test/testenv"
)

// TestRolloutChangeQueuesTheOthersNotItself: a rollout whose slots changed
// asks the other rollouts of its namespace to look again, not itself (For
// queues it already). Objects reach the map function as the informer cache
// holds them, without TypeMeta; the old check compared their empty Kind and
// queued the rollout itself every time. An Agent of the same name is not a
// rollout and queues them all.
func TestRolloutChangeQueuesTheOthersNotItself(t *testing.T) {
	scheme, err := testenv.NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	a := &redflagv1.AgentUpdate{ObjectMeta: metav1.ObjectMeta{Namespace: "hosts", Name: "a"}}
	b := &redflagv1.AgentUpdate{ObjectMeta: metav1.ObjectMeta{Namespace: "hosts", Name: "b"}}
	other := &redflagv1.AgentUpdate{ObjectMeta: metav1.ObjectMeta{Namespace: "elsewhere", Name: "c"}}
	r := &AgentUpdateReconciler{Client: fake.NewClientBuilder().WithScheme(scheme).WithObjects(a, b, other).Build()}

	changed := &redflagv1.AgentUpdate{ObjectMeta: metav1.ObjectMeta{Namespace: "hosts", Name: "a"}} // no TypeMeta, as from the cache
	reqs := r.rolloutsInNamespace(context.Background(), changed)
	if len(reqs) != 1 || reqs[0].Name != "b" {
		t.Errorf("rollout a changed: queued %v; want only b", reqs)
	}
	agent := &redflagv1.Agent{ObjectMeta: metav1.ObjectMeta{Namespace: "hosts", Name: "a"}}
	if reqs := r.rolloutsInNamespace(context.Background(), agent); len(reqs) != 2 {
		t.Errorf("Agent a changed: queued %v; want rollouts a and b", reqs)
	}
}
