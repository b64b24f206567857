package e2e

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
	"github.com/redflag-io/redflag/internal/apttest"
	"github.com/redflag-io/redflag/internal/dnftest"
)

// TestDnfScanFillsTheAgentsStatus: the real agent, pointed with
// REDFLAG_DNF_ROOT at a sandbox root (never the test machine's
// packages), scans it with the real dnf and rpm, and the Agent's status
// shows what a user reads with kubectl: the two pending dnf updates with
// their versions, the one a security advisory names marked security.
// apt is pointed at an empty sandbox so the host's own packages add
// nothing.
func TestDnfScanFillsTheAgentsStatus(t *testing.T) {
	dnftest.Require(t)
	apttest.Require(t)
	sandbox := dnftest.New(t, dnftest.Options{
		Installed: []dnftest.Package{{Name: "redflag-demo", Version: "1.0"}, {Name: "redflag-sec", Version: "1.0"}},
		Repo:      []dnftest.Package{{Name: "redflag-demo", Version: "2.0"}, {Name: "redflag-sec", Version: "1.1"}},
		Advisories: []dnftest.Advisory{{ID: "RFSA-2026:0001", Severity: "Important",
			Packages: []dnftest.Package{{Name: "redflag-sec", Version: "1.1"}}}},
	})
	noApt := apttest.New(t, apttest.Options{})
	c := startCluster(t)
	ctx := context.Background()
	token := applyToken(t, c, "dnfscan", tokenManifest)
	h := newHost(t, "d0f0e000000000000000000000000001")
	h.env = append(h.env, "APT_CONFIG="+noApt.Config)
	h.env = append(h.env, sandbox.Env()...)
	h.register(c, token)
	var agents redflagv1.AgentList
	if err := c.env.Client.List(ctx, &agents, client.InNamespace("dnfscan")); err != nil || len(agents.Items) != 1 {
		t.Fatalf("agents %v %v", agents.Items, err)
	}
	key := client.ObjectKeyFromObject(&agents.Items[0])
	patchAgent(t, c, key, func(a *redflagv1.Agent) { a.Spec.CheckInInterval = &metav1.Duration{Duration: 5 * time.Second} })
	h.run()
	applyYAML(t, c, "dnfscan", `
apiVersion: redflag.io/v1alpha1
kind: ScanSchedule
metadata:
  name: updates
spec:
  subsystems:
    updates:
      interval: 1h
`)
	var a redflagv1.Agent
	start := time.Now()
	eventually(t, 90*time.Second, "status.updates from the dnf sandbox", func() bool {
		if err := c.env.Client.Get(ctx, key, &a); err != nil {
			t.Fatal(err)
		}
		return a.Status.Updates.ScannedAt != nil
	})
	t.Logf("status.updates filled %s after the schedule", time.Since(start).Round(time.Millisecond))
	inv := a.Status.Updates
	if inv.Total != 2 || inv.Security != 1 || inv.ByManager["dnf"] != 2 || len(inv.Items) != 2 {
		t.Fatalf("inventory %+v: want exactly the sandbox's two dnf updates, one security", inv)
	}
	if it := inv.Items[0]; it.Manager != redflagv1.ManagerDnf || it.Name != "redflag-sec" || !it.Security || it.CurrentVersion != "1.0-1" || it.AvailableVersion != "1.1-1" {
		t.Errorf("first item %+v: want dnf redflag-sec 1.0-1 -> 1.1-1, security", it)
	}
	if it := inv.Items[1]; it.Manager != redflagv1.ManagerDnf || it.Name != "redflag-demo" || it.Security || it.CurrentVersion != "1.0-1" || it.AvailableVersion != "2.0-1" {
		t.Errorf("second item %+v: want dnf redflag-demo 1.0-1 -> 2.0-1", it)
	}
	if st := subsystem(&a, "updates"); st == nil || st.Result != redflagv1.RunSucceeded {
		t.Errorf("updates subsystem %+v, want Succeeded", st)
	}
}
