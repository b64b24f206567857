package gateway

import (
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
	"github.com/redflag-io/redflag/internal/protocol"
)

// TestWorkForAddsTheAgentsHoldsAndTheRunsPackages: the work a host gets
// excludes its Agent's holds besides the rollout's own excludes (without
// changing the rollout's list other hosts share), and a recurring run
// hands out the packages it started with, not an edited spec.
func TestWorkForAddsTheAgentsHoldsAndTheRunsPackages(t *testing.T) {
	x := newRolloutIndex()
	au := &redflagv1.AgentUpdate{}
	au.Namespace, au.Name, au.CreationTimestamp = "ns", "weekly", metav1.Now()
	au.Spec.Packages = &redflagv1.PackageSelection{Scope: redflagv1.ScopeSecurity, Exclude: []string{"linux-image-*"}}
	au.Status.RunPackages = &redflagv1.PackageSelection{Scope: redflagv1.ScopeAll, Exclude: []string{"linux-image-*"}}
	au.Status.WorkID = "weekly.abcd.n2"
	au.Status.Slots = []redflagv1.Slot{{Agent: "held"}, {Agent: "free"}}
	x.upsert(au)

	held := &agentRecord{namespace: "ns", name: "held", holds: []string{"openssl", "linux-image-*"}}
	w := x.workFor(held, time.Now())
	if w == nil || w.Packages == nil {
		t.Fatalf("no package work for a slot holder: %+v", w)
	}
	if want := []string{"linux-image-*", "openssl"}; !slices.Equal(w.Packages.Exclude, want) {
		t.Errorf("exclude %v, want %v", w.Packages.Exclude, want)
	}
	if w.Packages.Scope != protocol.ScopeAll {
		t.Errorf("scope %s: want the run's (All), not the edited spec's", w.Packages.Scope)
	}
	free := x.workFor(&agentRecord{namespace: "ns", name: "free"}, time.Now())
	if want := []string{"linux-image-*"}; free == nil || !slices.Equal(free.Packages.Exclude, want) {
		t.Errorf("the other host's exclude %+v, want %v", free, want)
	}
}
