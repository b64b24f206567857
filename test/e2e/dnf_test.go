package e2e

import (
	"context"
	"slices"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
	"github.com/redflag-io/redflag/test/apttest"
	"github.com/redflag-io/redflag/test/dnftest"
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
	c := startCluster(t)
	ctx := context.Background()
	key := runDnfHost(t, c, "dnfscan", "d0f0e000000000000000000000000001", sandbox)
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

// runDnfHost enrolls and runs one agent whose dnf works in sandbox and
// whose apt sees an empty sandbox, so the host's own packages add
// nothing; it checks in every 5 seconds. It returns the Agent's key.
func runDnfHost(t *testing.T, c *cluster, ns, machineID string, sandbox *dnftest.Sandbox) client.ObjectKey {
	t.Helper()
	noApt := apttest.New(t, apttest.Options{})
	token := applyToken(t, c, ns, tokenManifest)
	h := newHost(t, machineID)
	h.env = append(h.env, "APT_CONFIG="+noApt.Config)
	h.env = append(h.env, sandbox.Env()...)
	h.register(c, token)
	key := theOnlyAgent(t, c, ns)
	h.run()
	return key
}

// TestDnfRolloutUpgradesOnlyTheNamedPackage: an AgentUpdate naming one
// dnf package makes the real agent upgrade it with the real dnf in its
// sandbox root and nothing else; the rollout succeeds, the Agent's
// currentWork shows the versions before and after, the root's rpm
// database has the new version, and the rescan after the install leaves
// only the other package pending.
func TestDnfRolloutUpgradesOnlyTheNamedPackage(t *testing.T) {
	dnftest.Require(t)
	apttest.Require(t)
	sandbox := dnftest.New(t, dnftest.Options{
		Installed: []dnftest.Package{{Name: "redflag-demo", Version: "1.0"}, {Name: "redflag-other", Version: "1.0"}},
		Repo:      []dnftest.Package{{Name: "redflag-demo", Version: "2.0"}, {Name: "redflag-other", Version: "2.0"}},
	})
	c := startCluster(t)
	ctx := context.Background()
	key := runDnfHost(t, c, "dnfrollout", "d0f0e000000000000000000000000002", sandbox)
	applied := time.Now()
	applyYAML(t, c, "dnfrollout", `
apiVersion: redflag.io/v1alpha1
kind: AgentUpdate
metadata:
  name: demo-dnf
spec:
  selector:
    matchLabels:
      tier: web
  packages:
    scope: Named
    names: [redflag-demo]
    managers: [dnf]
`)
	var au redflagv1.AgentUpdate
	eventually(t, 120*time.Second, "the dnf rollout to end", func() bool {
		if err := c.env.Client.Get(ctx, client.ObjectKey{Namespace: "dnfrollout", Name: "demo-dnf"}, &au); err != nil {
			t.Fatal(err)
		}
		return au.Status.Phase == redflagv1.RolloutSucceeded || au.Status.Phase == redflagv1.RolloutHalted
	})
	t.Logf("dnf rollout ended %s in %s after it was applied", au.Status.Phase, time.Since(applied).Round(time.Millisecond))
	var a redflagv1.Agent
	if err := c.env.Client.Get(ctx, key, &a); err != nil {
		t.Fatal(err)
	}
	if au.Status.Phase != redflagv1.RolloutSucceeded {
		t.Fatalf("rollout %s, counts %+v; agent's work %+v", au.Status.Phase, au.Status.Counts, a.Status.CurrentWork)
	}
	w := a.Status.CurrentWork
	want := redflagv1.PackageChange{Manager: redflagv1.ManagerDnf, Name: "redflag-demo.noarch", From: "1.0-1", To: "2.0-1"}
	if w == nil || w.Phase != redflagv1.WorkSucceeded || !slices.Equal(w.Changes, []redflagv1.PackageChange{want}) {
		t.Errorf("currentWork %+v, want Succeeded with only %+v", w, want)
	}
	if v := sandbox.InstalledVersion(t, "redflag-demo"); v != "2.0-1" {
		t.Errorf("rpm in the sandbox: redflag-demo %q, want 2.0-1", v)
	}
	if v := sandbox.InstalledVersion(t, "redflag-other"); v != "1.0-1" {
		t.Errorf("rpm in the sandbox: redflag-other %q, want it left at 1.0-1", v)
	}
	eventually(t, 30*time.Second, "the rescan after the install to leave only redflag-other", func() bool {
		if err := c.env.Client.Get(ctx, key, &a); err != nil {
			t.Fatal(err)
		}
		u := a.Status.Updates
		return u.ScannedAt != nil && u.ScannedAt.After(applied.Add(-time.Second)) && u.Total == 1 &&
			len(u.Items) == 1 && u.Items[0].Name == "redflag-other"
	})
}
