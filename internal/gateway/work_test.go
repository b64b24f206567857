package gateway

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
	"github.com/redflag-io/redflag/internal/protocol"
	"github.com/redflag-io/redflag/internal/rollout"
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
	// Not in the slots yet: no work, once the gateway has seen it.
	eventually(t, "the gateway's cache has the AgentUpdate", func() bool {
		return gw.client.Get(ctx, client.ObjectKeyFromObject(au), &redflagv1.AgentUpdate{}) == nil
	})
	if doc := checkInDoc(t, h); doc.Work != nil {
		t.Fatalf("work %+v handed out before a slot was written", doc.Work)
	}
	// A forged report for work never given is refused and stores nothing.
	_, err := host.Report(ctx, h.id, protocol.Report{IdempotencyKey: "forged", Kind: protocol.ReportWork, Work: &protocol.WorkResult{
		ID: "patch-openssl.deadbeef", Phase: protocol.WorkSucceeded, Started: time.Now(),
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

	report := func(key string, phase protocol.WorkPhase) {
		t.Helper()
		now := time.Now()
		_, err := host.Report(ctx, h.id, protocol.Report{IdempotencyKey: key, Kind: protocol.ReportWork, Work: &protocol.WorkResult{
			ID: w.ID, AgentUpdate: w.AgentUpdate, Phase: phase, Started: now, Finished: &now, Message: "upgraded 1 package",
			Changes: []protocol.PackageChange{{Manager: protocol.ManagerApt, Name: "openssl", From: "3.0.1", To: "3.0.2"}},
		}})
		if err != nil {
			t.Fatal(err)
		}
	}
	report("w-1", protocol.WorkRunning)
	if cw := getAgent(t, h.id.Agent).Status.CurrentWork; cw == nil || cw.Phase != redflagv1.WorkRunning {
		t.Fatalf("currentWork %+v, want Running", cw)
	}
	report("w-2", protocol.WorkSucceeded)
	a := getAgent(t, h.id.Agent)
	if a.Status.CurrentWork.Phase != redflagv1.WorkSucceeded || len(a.Status.CompletedWork) != 1 || a.Status.CompletedWork[0].ID != w.ID {
		t.Fatalf("after success: currentWork %+v completed %+v", a.Status.CurrentWork, a.Status.CompletedWork)
	}
	if c := a.Status.CurrentWork.Changes; len(c) != 1 || c[0].From != "3.0.1" || c[0].To != "3.0.2" {
		t.Errorf("changes %+v", c)
	}
	// A late Running report does not undo the end state.
	report("w-3", protocol.WorkRunning)
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

// TestTimedOutWorkIsAbandoned: once the controller has recorded a host's
// work as timed out (HostTimedOut) and released its slot, the host is
// handed no work, is told the ID was abandoned, is not held in heartbeat
// mode, and a late success it reports is kept on the Agent as what really
// happened without turning the failure the rollout counted into a success.
func TestTimedOutWorkIsAbandoned(t *testing.T) {
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
	const id = "patch-openssl.0123abcd"
	au.Status.WorkID = id
	au.Status.Slots = []redflagv1.Slot{{Agent: name, Since: metav1.Now()}}
	if err := env.Client.Status().Update(ctx, au); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the work in the answer", func() bool { return checkInDoc(t, h).Work != nil })
	started := time.Now()
	if _, err := host.Report(ctx, h.id, protocol.Report{IdempotencyKey: "run", Kind: protocol.ReportWork, Work: &protocol.WorkResult{
		ID: id, AgentUpdate: au.Name, Phase: protocol.WorkRunning, Started: started,
	}}); err != nil {
		t.Fatal(err)
	}

	// What the controller writes when the host has been silent too long:
	// the failure on the Agent, then the slot released.
	a := getAgent(t, h.id.Agent)
	at := metav1.Now()
	a.Status.CurrentWork.Phase, a.Status.CurrentWork.Reason, a.Status.CurrentWork.FinishedAt = redflagv1.WorkFailed, rollout.HostTimedOut, &at
	a.Status.CurrentWork.Message = "no check-in since ...: its slot was released and its work abandoned"
	a.Status.CompletedWork = rollout.AppendWorkRecord(a.Status.CompletedWork, redflagv1.WorkRecord{
		ID: id, AgentUpdate: au.Name, Phase: redflagv1.WorkFailed, FinishedAt: at, Reason: rollout.HostTimedOut,
	})
	if err := env.Client.Status().Update(ctx, a); err != nil {
		t.Fatal(err)
	}
	au.Status.Slots = nil
	if err := env.Client.Status().Update(ctx, au); err != nil {
		t.Fatal(err)
	}

	var doc protocol.WorkDocument
	eventually(t, "the host told its work was abandoned", func() bool {
		doc = checkInDoc(t, h)
		return doc.Work == nil && slices.Equal(doc.Abandoned, []string{id})
	})
	if doc.NextCheckIn.Duration == 5*time.Second {
		t.Errorf("a host whose work was abandoned is still asked to check in every 5s")
	}

	late := func(key string) {
		t.Helper()
		now := time.Now()
		if _, err := host.Report(ctx, h.id, protocol.Report{IdempotencyKey: key, Kind: protocol.ReportWork, Work: &protocol.WorkResult{
			ID: id, AgentUpdate: au.Name, Phase: protocol.WorkSucceeded, Started: started, Finished: &now, Message: "upgraded 1 package",
			Changes: []protocol.PackageChange{{Manager: protocol.ManagerApt, Name: "openssl", From: "3.0.1", To: "3.0.2"}},
		}}); err != nil {
			t.Fatal(err)
		}
	}
	late("late-1")
	late("late-2")
	a = getAgent(t, h.id.Agent)
	cw := a.Status.CurrentWork
	if cw.Phase != redflagv1.WorkFailed || cw.Reason != rollout.HostTimedOut {
		t.Fatalf("a late success turned the timed-out work into %s/%s", cw.Phase, cw.Reason)
	}
	if strings.Count(cw.Message, "the host reported later: Succeeded: upgraded 1 package") != 1 || len(cw.Changes) != 1 {
		t.Errorf("currentWork %q changes %+v: want the late result noted once, with its changes", cw.Message, cw.Changes)
	}
	if r := rollout.OutcomeOf(id, id, &a.Status, ""); r.Outcome != rollout.Failed || r.Reason != rollout.HostTimedOut {
		t.Errorf("the rollout reads %v (%s), want Failed (HostTimedOut)", r.Outcome, r.Reason)
	}
}
