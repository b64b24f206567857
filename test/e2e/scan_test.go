package e2e

import (
	"context"
	"os"
	"slices"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
	"github.com/redflag-io/redflag/test/apttest"
)

const scanScheduleManifest = `
apiVersion: redflag.io/v1alpha1
kind: ScanSchedule
metadata:
  name: everything
spec:
  subsystems:
    updates:
      interval: 1h
    storage:
      interval: 1h
`

// TestScheduledScansFillTheAgentsStatus: a ScanSchedule is applied and the
// real agent, scanning a sandbox apt root (never the test machine's own
// packages), fills its Agent's status; a failing scanner shows ScanFailed and
// is retried at the next check-in; heartbeat mode brings a newly due scan
// within 10 seconds.
func TestScheduledScansFillTheAgentsStatus(t *testing.T) {
	apttest.Require(t)
	sandbox := apttest.New(t, apttest.Options{
		Installed: []apttest.Package{{Name: "redflag-demo", Version: "1.0"}, {Name: "redflag-sec", Version: "1.0"}},
		Repos: []apttest.Repo{
			{Packages: []apttest.Package{{Name: "redflag-demo", Version: "2.0"}}},
			{Suite: "bookworm-security", Packages: []apttest.Package{{Name: "redflag-sec", Version: "1.1"}}},
		},
	})
	c := startCluster(t)
	ctx := context.Background()
	token := applyToken(t, c, "scans", tokenManifest)
	h := newHost(t, "aaaabbbbccccddddaaaabbbbccccdddd")
	h.env = append(h.env, "APT_CONFIG="+sandbox.Config)
	h.register(c, token)
	var agents redflagv1.AgentList
	if err := c.env.Client.List(ctx, &agents, client.InNamespace("scans")); err != nil || len(agents.Items) != 1 {
		t.Fatalf("agents: %v %v", agents.Items, err)
	}
	key := client.ObjectKeyFromObject(&agents.Items[0])
	get := func() *redflagv1.Agent {
		var a redflagv1.Agent
		if err := c.env.Client.Get(ctx, key, &a); err != nil {
			t.Fatal(err)
		}
		return &a
	}
	update := func(change func(*redflagv1.Agent)) {
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			a := get()
			change(a)
			return c.env.Client.Update(ctx, a)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	update(func(a *redflagv1.Agent) { a.Spec.CheckInInterval = &metav1.Duration{Duration: 5 * time.Second} })
	applyYAML(t, c, "scans", scanScheduleManifest)
	h.run()

	// Within one interval (plus the scan itself): the sandbox's two pending
	// updates, the security one first, and storage.
	eventually(t, 40*time.Second, "the inventory and storage in the Agent's status", func() bool {
		a := get()
		return a.Status.Updates.ScannedAt != nil && len(a.Status.Storage) > 0 && ran(a, "storage")
	})
	a := get()
	if a.Status.System.MemoryBytes == 0 || a.Status.OS.Kernel == "" || a.Status.System.BootTime == nil {
		t.Errorf("system facts missing: os=%+v system=%+v", a.Status.OS, a.Status.System)
	}
	inv := a.Status.Updates
	if inv.Total != 2 || inv.Security != 1 || inv.ByManager["apt"] != 2 || len(inv.Items) != 2 {
		t.Fatalf("inventory %+v: want exactly the sandbox's two updates, one security", inv)
	}
	if it := inv.Items[0]; it.Name != "redflag-sec" || !it.Security || it.CurrentVersion != "1.0" || it.AvailableVersion != "1.1" {
		t.Errorf("first item %+v: want redflag-sec 1.0 -> 1.1, security", it)
	}
	if it := inv.Items[1]; it.Name != "redflag-demo" || it.Security || it.AvailableVersion != "2.0" {
		t.Errorf("second item %+v: want redflag-demo 1.0 -> 2.0", it)
	}
	eventually(t, 20*time.Second, "UpdatesAvailable=True", func() bool {
		cond := meta.FindStatusCondition(get().Status.Conditions, redflagv1.ConditionUpdatesAvailable)
		return cond != nil && cond.Status == metav1.ConditionTrue
	})

	// Break apt: the next due scan fails and shows ScanFailed; being failed,
	// it is due again one check-in interval later and retried then.
	good, err := os.ReadFile(sandbox.Config)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(sandbox.Config, []byte("this is { not an apt.conf"), 0o644); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = os.WriteFile(sandbox.Config, good, 0o644) }()
	// Make updates due now by pretending its last run was long ago.
	agedRun(t, c, key, "updates")
	eventually(t, 40*time.Second, "a failed updates scan and ScanFailed", func() bool {
		a := get()
		return result(a, "updates") == redflagv1.RunFailed && hasReason(a, "ScanFailed")
	})
	failedAt := lastRun(get(), "updates")
	eventually(t, 30*time.Second, "the failed scan retried at a following check-in", func() bool {
		lr := lastRun(get(), "updates")
		return lr != nil && lr.After(failedAt.Time)
	})
	if err := os.WriteFile(sandbox.Config, good, 0o644); err != nil {
		t.Fatal(err)
	}

	// Heartbeat mode: a newly due scan (system, added to the schedule)
	// arrives within 10 seconds, though the interval is 1 hour.
	update(func(a *redflagv1.Agent) {
		a.Spec.CheckInInterval = &metav1.Duration{Duration: time.Hour}
		a.Spec.Heartbeat = &redflagv1.HeartbeatSpec{Until: metav1.NewTime(time.Now().Add(2 * time.Minute))}
	})
	// The agent is in heartbeat mode once a check-in brought it the
	// window, as `redflag-agent status` shows on the host.
	eventually(t, 20*time.Second, "the agent in heartbeat mode", func() bool {
		st, err := h.status()
		return err == nil && st.State.HeartbeatUntil != nil && st.State.HeartbeatUntil.After(time.Now())
	})
	var sched redflagv1.ScanSchedule
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := c.env.Client.Get(ctx, client.ObjectKey{Namespace: "scans", Name: "everything"}, &sched); err != nil {
			return err
		}
		sched.Spec.Subsystems.System = &redflagv1.SubsystemSchedule{Interval: metav1.Duration{Duration: time.Hour}}
		return c.env.Client.Update(ctx, &sched)
	})
	if err != nil {
		t.Fatal(err)
	}
	added := time.Now()
	eventually(t, 20*time.Second, "the newly due system scan", func() bool { return ran(get(), "system") })
	if took := time.Since(added); took > 10*time.Second {
		t.Errorf("the newly due scan arrived after %s in heartbeat mode, want within 10s", took)
	}

	// Scan now, on request: every scheduled subsystem runs again and the
	// request is echoed as handled.
	before := lastRun(get(), "storage")
	update(func(a *redflagv1.Agent) {
		if a.Annotations == nil {
			a.Annotations = map[string]string{}
		}
		a.Annotations[redflagv1.ScanNowAnnotation] = "2026-11-27T12:00:00Z"
	})
	eventually(t, 20*time.Second, "the scan-now request handled", func() bool {
		a := get()
		lr := lastRun(a, "storage")
		return a.Status.ScanNowHandled == "2026-11-27T12:00:00Z" && lr != nil && lr.After(before.Time)
	})
}

func applyYAML(t *testing.T, c *cluster, ns, manifest string) {
	t.Helper()
	obj := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(manifest), &obj.Object); err != nil {
		t.Fatal(err)
	}
	obj.SetNamespace(ns)
	if err := c.env.Client.Create(context.Background(), obj); err != nil {
		t.Fatalf("applying %s: %v", obj.GetKind(), err)
	}
}

func subsystem(a *redflagv1.Agent, name string) *redflagv1.SubsystemStatus {
	i := slices.IndexFunc(a.Status.Subsystems, func(s redflagv1.SubsystemStatus) bool { return s.Name == name })
	if i < 0 {
		return nil
	}
	return &a.Status.Subsystems[i]
}

func ran(a *redflagv1.Agent, name string) bool {
	s := subsystem(a, name)
	return s != nil && s.LastRun != nil
}

func result(a *redflagv1.Agent, name string) redflagv1.RunResult {
	if s := subsystem(a, name); s != nil {
		return s.Result
	}
	return ""
}

func lastRun(a *redflagv1.Agent, name string) *metav1.Time {
	if s := subsystem(a, name); s != nil {
		return s.LastRun
	}
	return nil
}

func hasReason(a *redflagv1.Agent, reason string) bool {
	return slices.ContainsFunc(a.Status.History, func(e redflagv1.HistoryEntry) bool { return e.Reason == reason })
}

// agedRun moves a subsystem's last run two hours back, as if time passed:
// the scan is then due.
func agedRun(t *testing.T, c *cluster, key client.ObjectKey, name string) {
	t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var a redflagv1.Agent
		if err := c.env.Client.Get(context.Background(), key, &a); err != nil {
			return err
		}
		s := subsystem(&a, name)
		if s == nil || s.LastRun == nil {
			t.Fatalf("%s never ran", name)
		}
		old := metav1.NewTime(s.LastRun.Add(-2 * time.Hour))
		s.LastRun = &old
		return c.env.Client.Status().Update(context.Background(), &a)
	})
	if err != nil {
		t.Fatal(err)
	}
}
