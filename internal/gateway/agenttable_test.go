package gateway

import (
	"reflect"
	"strconv"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
	"github.com/redflag-io/redflag/internal/events"
)

// TestAgentTableForgetsEverythingOnDelete fills every part of an agent's
// state through the methods the handlers use, deletes the Agent and finds
// the table without it and the state emptied, field by field (reflection,
// so a field added later and not cleared fails here). A handler still
// holding the state after the delete cannot fill it again.
func TestAgentTableForgetsEverythingOnDelete(t *testing.T) {
	g, err := New(Options{}, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	a := &redflagv1.Agent{}
	a.Namespace, a.Name, a.UID, a.ResourceVersion = "fleet", "web-1", "uid-1", "5"
	g.agents.put(a)
	rec := g.agents.get("fleet/web-1")
	s := rec.st
	now := time.Date(2026, 12, 7, 2, 0, 0, 0, time.UTC)
	fill := func() {
		g.live.seen(rec, "v9", time.Minute, now)
		s.noteApplied("report-1")
		s.mayWarn(events.BadSignature.Name, now, time.Minute)
		s.allow(1, 1, now)
		s.cacheDoc(rec, true, false, "", now, time.Minute, []byte("{}"))
		g.planOf(rec)
		last := metav1.NewTime(now)
		s.recordRun(redflagv1.SubsystemStatus{Name: "updates", LastRun: &last})
		s.checkIn("192.0.2.1", now, time.Minute)
		s.startRebind("machine-2")
	}
	fill()
	s.mu.Lock()
	if s.lastSeen.IsZero() || !s.queued || s.version == "" || len(s.applied) == 0 || len(s.warned) == 0 || s.limiter == nil ||
		s.doc.body == nil || s.plan.rec == nil || len(s.runs) == 0 || s.trail.last.IsZero() || s.rebinding == "" {
		t.Fatalf("the state was not filled: %+v", s)
	}
	s.mu.Unlock()

	g.agents.handler().OnDelete(a)
	if g.agents.size() != 0 || g.agents.get("fleet/web-1") != nil {
		t.Fatalf("the table still holds the deleted agent (%d entries)", g.agents.size())
	}
	<-g.live.queue // the write queued before the delete; run skips it
	fill()         // a request racing the delete
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.gone {
		t.Error("the deleted state is not marked gone")
	}
	v := reflect.ValueOf(s).Elem()
	for i := range v.NumField() {
		f := v.Type().Field(i)
		switch f.Name {
		case "rec", "mu", "gone":
			continue
		}
		if !v.Field(i).IsZero() {
			t.Errorf("after the delete the state still holds %s: %v", f.Name, v.Field(i))
		}
	}

	// The same name enrolled again starts afresh.
	a.UID = "uid-2"
	g.agents.put(a)
	if again := g.agents.get("fleet/web-1"); again == nil || again.st == s {
		t.Error("an Agent created again under the same name did not get a fresh state")
	}
}

// TestAgentTableShrinksAfterAMassDelete: Go maps keep their size when
// emptied, so the table rebuilds its map once it falls under a quarter.
func TestAgentTableShrinksAfterAMassDelete(t *testing.T) {
	tab := newAgentTable()
	for i := range 5000 {
		a := &redflagv1.Agent{}
		a.Namespace, a.Name = "fleet", "host-"+strconv.Itoa(i)
		tab.put(a)
	}
	before := tab.states
	for i := range 5000 {
		tab.remove("fleet/host-" + strconv.Itoa(i))
	}
	if tab.size() != 0 || tab.peak > 64 {
		t.Errorf("after deleting all: %d entries, peak %d", tab.size(), tab.peak)
	}
	if reflect.ValueOf(before).Pointer() == reflect.ValueOf(tab.states).Pointer() {
		t.Error("the map that held 5000 agents was kept")
	}
}
