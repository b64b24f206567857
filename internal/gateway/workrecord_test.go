package gateway

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
	"github.com/redflag-io/redflag/internal/protocol"
)

// TestCompletedWorkKeepsWhatTheLast20WorksInstalled runs 22 works of 30
// package changes each through the real gateway: the Agent keeps the
// newest 20, each with its first 15 changes (package, from, to) and the
// other 10 counted, and an UpdatesInstalled entry per work.
func TestCompletedWorkKeepsWhatTheLast20WorksInstalled(t *testing.T) {
	h, _ := enrolledHost(t)
	ctx := context.Background()
	ns, name, _ := strings.Cut(h.id.Agent, "/")
	au := &redflagv1.AgentUpdate{Spec: redflagv1.AgentUpdateSpec{
		Agents:   []string{name},
		Packages: &redflagv1.PackageSelection{Scope: redflagv1.ScopeAll},
	}}
	au.Namespace, au.Name = ns, "nightly"
	if err := env.Client.Create(ctx, au); err != nil {
		t.Fatal(err)
	}
	const works, perWork = redflagv1.MaxCompletedWork + 2, 30
	for i := range works {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(au), au); err != nil {
			t.Fatal(err)
		}
		au.Status.WorkID = fmt.Sprintf("nightly.%08x", i)
		au.Status.Slots = []redflagv1.Slot{{Agent: name, Since: metav1.Now()}}
		if err := env.Client.Status().Update(ctx, au); err != nil {
			t.Fatal(err)
		}
		eventually(t, "work "+au.Status.WorkID+" offered", func() bool {
			doc := checkInDoc(t, h)
			return doc.Work != nil && doc.Work.ID == au.Status.WorkID
		})
		var changes []protocol.PackageChange
		for j := range perWork {
			changes = append(changes, protocol.PackageChange{Manager: protocol.ManagerApt, Name: fmt.Sprintf("pkg-%d-%d", i, j), From: fmt.Sprintf("1.%d", i), To: fmt.Sprintf("2.%d", i)})
		}
		now := time.Now()
		if _, err := host.Report(ctx, h.id, protocol.Report{IdempotencyKey: au.Status.WorkID, Kind: protocol.ReportWork, Work: &protocol.WorkResult{
			ID: au.Status.WorkID, AgentUpdate: au.Name, Phase: protocol.WorkSucceeded, Started: now, Finished: &now,
			Message: fmt.Sprintf("upgraded %d packages", perWork), Changes: changes,
		}}); err != nil {
			t.Fatal(err)
		}
	}
	a := getAgent(t, h.id.Agent)
	if len(a.Status.CompletedWork) != redflagv1.MaxCompletedWork {
		t.Fatalf("%d completedWork records, want %d", len(a.Status.CompletedWork), redflagv1.MaxCompletedWork)
	}
	for k, r := range a.Status.CompletedWork {
		i := k + works - redflagv1.MaxCompletedWork // the oldest two fell out
		if r.ID != fmt.Sprintf("nightly.%08x", i) || r.AgentUpdate != "nightly" || r.Phase != redflagv1.WorkSucceeded {
			t.Fatalf("record %d: %s %s %s, want work %d", k, r.ID, r.AgentUpdate, r.Phase, i)
		}
		if len(r.Changes) != redflagv1.MaxRecordedChanges || r.ChangesOmitted != perWork-redflagv1.MaxRecordedChanges {
			t.Fatalf("record %d: %d changes, %d omitted; want %d and %d", k, len(r.Changes), r.ChangesOmitted, redflagv1.MaxRecordedChanges, perWork-redflagv1.MaxRecordedChanges)
		}
		for j, c := range r.Changes {
			if c.Name != fmt.Sprintf("pkg-%d-%d", i, j) || c.From != fmt.Sprintf("1.%d", i) || c.To != fmt.Sprintf("2.%d", i) || c.Manager != redflagv1.ManagerApt {
				t.Fatalf("record %d change %d: %+v", k, j, c)
			}
		}
	}
	installed := 0
	for _, e := range a.Status.History {
		if e.Reason == "UpdatesInstalled" && e.Metadata["agentUpdate"] == "nightly" && e.Metadata["packages"] == fmt.Sprint(perWork) && e.Metadata["dryRun"] == "false" {
			installed++
		}
	}
	if installed != works {
		t.Errorf("%d UpdatesInstalled history entries, want %d", installed, works)
	}
}
