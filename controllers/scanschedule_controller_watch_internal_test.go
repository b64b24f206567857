package controllers

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/event"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
)

// TestAgentWatchIgnoresLastSeen: the gateway's lastSeen writes, the bulk of
// Agent updates, must not recount every schedule; changes a count reads must.
func TestAgentWatchIgnoresLastSeen(t *testing.T) {
	base := &redflagv1.Agent{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"tier": "web"}}}
	base.Status.Conditions = []metav1.Condition{{Type: redflagv1.ConditionReady, Status: metav1.ConditionTrue}}
	for _, tc := range []struct {
		name   string
		change func(*redflagv1.Agent)
		want   bool
	}{
		{"lastSeen", func(a *redflagv1.Agent) { a.Status.LastSeen = &metav1.Time{Time: time.Now()} }, false},
		{"labels", func(a *redflagv1.Agent) { a.Labels["tier"] = "db" }, true},
		{"paused", func(a *redflagv1.Agent) { a.Spec.Paused = true }, true},
		{"revoked", func(a *redflagv1.Agent) { a.Spec.Revoked = true }, true},
		{"ready", func(a *redflagv1.Agent) { a.Status.Conditions[0].Status = metav1.ConditionUnknown }, true},
		{"last run", func(a *redflagv1.Agent) {
			a.Status.Subsystems = []redflagv1.SubsystemStatus{{Name: "updates", LastRun: &metav1.Time{Time: time.Now()}}}
		}, true},
	} {
		after := base.DeepCopy()
		tc.change(after)
		if got := agentCountInputsChanged.Update(event.UpdateEvent{ObjectOld: base, ObjectNew: after}); got != tc.want {
			t.Errorf("%s: enqueued %v, want %v", tc.name, got, tc.want)
		}
	}
}
