package gateway

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
	"github.com/redflag-io/redflag/internal/protocol"
)

func checkInDoc(t *testing.T, h *fakeHost) protocol.WorkDocument {
	t.Helper()
	sd, err := host.CheckIn(context.Background(), h.id, protocol.CheckInRequest{FactsHash: "x"})
	if err != nil {
		t.Fatal(err)
	}
	var doc protocol.WorkDocument
	if err := json.Unmarshal(sd.Payload, &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

// TestWorkGoesOnlyToSlotHoldersAndReportsLandOnTheAgent: a host gets a
// rollout's work only once the controller wrote it into status.slots, is
// put in heartbeat mode while it works, and its work reports become the
// Agent's currentWork and completedWork; work it was never given is refused.
func TestWorkGoesOnlyToSlotHoldersAndReportsLandOnTheAgent(t *testing.T) {
	h, _ := enrolledHost(t)
	ctx := context.Background()
	ns, name, _ := strings.Cut(h.id.Agent, "/")
	au := &redflagv1.AgentUpdate{Spec: redflagv1.AgentUpdateSpec{
		Agents:   []string{name},
		Packages: &redflagv1.PackageSelection{Scope: redflagv1.ScopeNamed, Names: []string{"openssl"}},
	}}
	au.Namespace, au.Name = ns, "patch-openssl"
	if err := env.Client.Create(ctx, au); err != nil {
		t.Fatal(err)
	}
	// Not in the slots yet: no work.
	time.Sleep(200 * time.Millisecond)
	if doc := checkInDoc(t, h); doc.Work != nil {
		t.Fatalf("work %+v handed out before a slot was written", doc.Work)
	}
	// A forged report for work never given is refused and stores nothing.
	_, err := host.Report(ctx, h.id, protocol.Report{IdempotencyKey: "forged", Kind: protocol.ReportWork, Work: &protocol.WorkResult{
		ID: "patch-openssl.deadbeef", Phase: redflagv1.WorkSucceeded, Started: time.Now(),
	}})
	if r := refusal(t, err); r.Status != 400 {
		t.Fatalf("forged work report: status %d, want 400", r.Status)
	}
	if getAgent(t, h.id.Agent).Status.CurrentWork != nil {
		t.Fatal("a refused work report changed the Agent")
	}

	au.Status.WorkID = "patch-openssl.0123abcd"
	au.Status.Slots = []redflagv1.Slot{{Agent: name, Since: metav1.Now()}}
	if err := env.Client.Status().Update(ctx, au); err != nil {
		t.Fatal(err)
	}
	var doc protocol.WorkDocument
	eventually(t, "the work in the answer", func() bool { doc = checkInDoc(t, h); return doc.Work != nil })
	w := doc.Work
	if w.ID != "patch-openssl.0123abcd" || w.AgentUpdate != "patch-openssl" || w.Packages == nil || w.Packages.Names[0] != "openssl" {
		t.Fatalf("work %+v", w)
	}
	if doc.HeartbeatUntil == nil || doc.NextCheckIn.Duration != 5*time.Second {
		t.Errorf("a host with work must check in every 5s: next %s heartbeat %v", doc.NextCheckIn, doc.HeartbeatUntil)
	}

	report := func(key string, phase redflagv1.WorkPhase) {
		t.Helper()
		now := time.Now()
		_, err := host.Report(ctx, h.id, protocol.Report{IdempotencyKey: key, Kind: protocol.ReportWork, Work: &protocol.WorkResult{
			ID: w.ID, AgentUpdate: w.AgentUpdate, Phase: phase, Started: now, Finished: &now, Message: "upgraded 1 package",
			Changes: []redflagv1.PackageChange{{Manager: redflagv1.ManagerApt, Name: "openssl", From: "3.0.1", To: "3.0.2"}},
		}})
		if err != nil {
			t.Fatal(err)
		}
	}
	report("w-1", redflagv1.WorkRunning)
	if cw := getAgent(t, h.id.Agent).Status.CurrentWork; cw == nil || cw.Phase != redflagv1.WorkRunning {
		t.Fatalf("currentWork %+v, want Running", cw)
	}
	report("w-2", redflagv1.WorkSucceeded)
	a := getAgent(t, h.id.Agent)
	if a.Status.CurrentWork.Phase != redflagv1.WorkSucceeded || len(a.Status.CompletedWork) != 1 || a.Status.CompletedWork[0].ID != w.ID {
		t.Fatalf("after success: currentWork %+v completed %+v", a.Status.CurrentWork, a.Status.CompletedWork)
	}
	if c := a.Status.CurrentWork.Changes; len(c) != 1 || c[0].From != "3.0.1" || c[0].To != "3.0.2" {
		t.Errorf("changes %+v", c)
	}
	// A late Running report does not undo the end state.
	report("w-3", redflagv1.WorkRunning)
	if cw := getAgent(t, h.id.Agent).Status.CurrentWork; cw.Phase != redflagv1.WorkSucceeded {
		t.Errorf("a late Running report turned %s back into %s", redflagv1.WorkSucceeded, cw.Phase)
	}
	// Finished work is not handed out again, though the slot remains until
	// the controller releases it.
	eventually(t, "finished work no longer offered", func() bool { return checkInDoc(t, h).Work == nil })
	if !slices.Contains(normalEvents(t, ns, name), "UpdatesInstalled") {
		t.Errorf("Events %v: want UpdatesInstalled", normalEvents(t, ns, name))
	}
}
