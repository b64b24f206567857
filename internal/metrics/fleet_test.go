package metrics

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
)

// fleetOf is a Fleet over a fake reader holding objs (a unit test of the
// collector alone; test/e2e checks it against a real fleet).
func fleetOf(t *testing.T, objs ...client.Object) *Fleet {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := redflagv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	r := fake.NewClientBuilder().WithScheme(scheme).WithObjects(objs...).Build()
	return NewFleet(r, clocktesting.NewFakePassiveClock(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)), logr.Discard())
}

// TestFleetReportsOnlyWhileLeading: a replica that does not run the
// controllers, or waits for the lease, reports no fleet series.
func TestFleetReportsOnlyWhileLeading(t *testing.T) {
	a := &redflagv1.Agent{ObjectMeta: metav1.ObjectMeta{Namespace: "web", Name: "h1"}}
	f := fleetOf(t, a)
	if n := testutil.CollectAndCount(f); n != 0 {
		t.Fatalf("%d series before leading, want 0", n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- f.Runnable().Start(ctx) }()
	deadline := time.Now().Add(5 * time.Second)
	for testutil.CollectAndCount(f, "redflag_agents") != 1 {
		if time.Now().After(deadline) {
			t.Fatal("no redflag_agents series while leading")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(f); n != 0 {
		t.Errorf("%d series after leadership ended, want 0", n)
	}
}

// TestHostReportedLabelsAreBounded: 40 agent versions become the 16 most
// common and "other", so hosts cannot add series at will.
func TestHostReportedLabelsAreBounded(t *testing.T) {
	var objs []client.Object
	for i := range 40 {
		a := &redflagv1.Agent{ObjectMeta: metav1.ObjectMeta{Namespace: "web", Name: fmt.Sprintf("h%d", i)}}
		a.Status.AgentVersion = fmt.Sprintf("v1.0.%d", i)
		if i < 10 {
			a.Status.AgentVersion = "v2.0.0" // the most common
		}
		a.Status.OS.Family = "linux"
		objs = append(objs, a)
	}
	f := fleetOf(t, objs...)
	f.active.Store(true)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(f)
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	versions := map[string]float64{}
	for _, fam := range fams {
		if fam.GetName() != "redflag_agents" {
			continue
		}
		for _, m := range fam.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "agent_version" {
					versions[l.GetValue()] += m.GetGauge().GetValue()
				}
			}
		}
	}
	if len(versions) != maxLabelValues+1 || versions["v2.0.0"] != 10 || versions["other"] != 40-10-(maxLabelValues-1) {
		t.Errorf("agent_version values %v: want the %d most common, v2.0.0 with 10 hosts, and other", versions, maxLabelValues)
	}
}
