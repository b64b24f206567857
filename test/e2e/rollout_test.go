package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
	"github.com/redflag-io/redflag/test/apttest"
)

const rolloutManifest = `
apiVersion: redflag.io/v1alpha1
kind: AgentUpdate
metadata:
  name: demo-upgrade
spec:
  selector:
    matchLabels:
      tier: web
  packages:
    scope: Named
    names: [redflag-demo]
  strategy:
    maxConcurrent: 1
    maxFailures: 0
`

// fleet is three enrolled hosts, each with its own sandbox apt root holding
// redflag-demo 1.0 installed and 2.0 in its repository. Every sandbox logs
// the start and end of its dpkg run (apt's DPkg::Pre-Invoke and
// Post-Invoke hooks) into one shared file, which records the real order of
// installs across hosts.
type fleet struct {
	c         *cluster
	ns        string
	names     []string // Agent names, in the order a rollout starts them
	sandboxes map[string]*apttest.Sandbox
	orderLog  string
	hosts     map[string]*host    // by Agent name
	agents    map[string]*process // the running `redflag-agent run`, by Agent name
}

func newFleet(t *testing.T, ns string, hostCount int, env ...string) *fleet {
	t.Helper()
	apttest.Require(t)
	return newFleetOn(t, startCluster(t), ns, hostCount, env...)
}

// newFleetOn enrolls and runs the fleet against a running cluster.
func newFleetOn(t *testing.T, c *cluster, ns string, hostCount int, env ...string) *fleet {
	t.Helper()
	apttest.Require(t)
	ctx := context.Background()
	token := applyToken(t, c, ns, tokenManifest)
	f := &fleet{
		c: c, ns: ns, sandboxes: map[string]*apttest.Sandbox{}, orderLog: filepath.Join(t.TempDir(), "order.log"),
		hosts: map[string]*host{}, agents: map[string]*process{},
	}
	for i := range hostCount {
		sb := apttest.New(t, apttest.Options{
			Installed: []apttest.Package{{Name: "redflag-demo", Version: "1.0"}},
			Repos:     []apttest.Repo{{Packages: []apttest.Package{{Name: "redflag-demo", Version: "2.0"}}}},
		})
		h := newHost(t, fmt.Sprintf("%032x", 0xfeed0000+i))
		hook := fmt.Sprintf("DPkg::Pre-Invoke { \"echo start %s >> %s\"; };\nDPkg::Post-Invoke { \"echo end %s >> %s\"; };\n", h.id, f.orderLog, h.id, f.orderLog)
		appendFile(t, sb.Config, hook)
		h.env = append(h.env, "APT_CONFIG="+sb.Config)
		for _, e := range env {
			// "{host}" makes a per-host value (a file of its own).
			h.env = append(h.env, strings.ReplaceAll(e, "{host}", strconv.Itoa(i)))
		}
		h.register(c, token)
		var agents redflagv1.AgentList
		if err := c.env.Client.List(ctx, &agents, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
		for _, a := range agents.Items {
			if a.Spec.MachineID == h.id {
				f.sandboxes[a.Name] = sb
				f.hosts[a.Name] = h
				f.names = append(f.names, a.Name)
				// Check in every 5 s, so the test does not wait a minute per host.
				patchAgent(t, c, client.ObjectKeyFromObject(&a), func(a *redflagv1.Agent) {
					a.Spec.CheckInInterval = &metav1.Duration{Duration: 5 * time.Second}
				})
			}
		}
	}
	slices.Sort(f.names)
	for _, name := range f.names {
		f.agents[name] = f.hosts[name].run()
	}
	return f
}

func appendFile(t *testing.T, path, text string) {
	t.Helper()
	fh, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	if _, err := fh.WriteString(text); err != nil {
		t.Fatal(err)
	}
}

func patchAgent(t *testing.T, c *cluster, key client.ObjectKey, change func(*redflagv1.Agent)) {
	t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var a redflagv1.Agent
		if err := c.env.Client.Get(context.Background(), key, &a); err != nil {
			return err
		}
		change(&a)
		return c.env.Client.Update(context.Background(), &a)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// watchConcurrency polls the rollout and the Agents until stopped and
// records the most hosts ever holding a slot or running the work at once.
func (f *fleet) watchConcurrency(t *testing.T, name string) (stop func() int) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	most := 0
	wg.Go(func() {
		for ctx.Err() == nil {
			var au redflagv1.AgentUpdate
			var agents redflagv1.AgentList
			if f.c.env.Client.Get(ctx, client.ObjectKey{Namespace: f.ns, Name: name}, &au) == nil &&
				f.c.env.Client.List(ctx, &agents, client.InNamespace(f.ns)) == nil {
				working := map[string]bool{}
				for _, s := range au.Status.Slots {
					working[s.Agent] = true
				}
				for _, a := range agents.Items {
					if w := a.Status.CurrentWork; w != nil && w.Phase == redflagv1.WorkRunning {
						working[a.Name] = true
					}
				}
				most = max(most, len(working))
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
	return func() int { cancel(); wg.Wait(); return most }
}

// installOrder reads the shared dpkg log: one "start <machine ID>" or
// "end <machine ID>" per line.
func (f *fleet) installOrder(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile(f.orderLog)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(data)), "\n")
}

func (f *fleet) rollout(t *testing.T) *redflagv1.AgentUpdate {
	t.Helper()
	var au redflagv1.AgentUpdate
	if err := f.c.env.Client.Get(context.Background(), client.ObjectKey{Namespace: f.ns, Name: "demo-upgrade"}, &au); err != nil {
		t.Fatal(err)
	}
	return &au
}

func (f *fleet) agent(t *testing.T, name string) *redflagv1.Agent {
	t.Helper()
	var a redflagv1.Agent
	if err := f.c.env.Client.Get(context.Background(), client.ObjectKey{Namespace: f.ns, Name: name}, &a); err != nil {
		t.Fatal(err)
	}
	return &a
}

// TestPackageRolloutUpgradesOneHostAtATime: an AgentUpdate for one package
// across three real agents with maxConcurrent 1 upgrades every sandbox from
// 1.0 to 2.0, one host at a time, and ends Complete.
func TestPackageRolloutUpgradesOneHostAtATime(t *testing.T) {
	f := newFleet(t, "rollout", 3)
	stop := f.watchConcurrency(t, "demo-upgrade")
	applied := time.Now()
	applyYAML(t, f.c, f.ns, rolloutManifest)

	eventually(t, 150*time.Second, "the rollout to succeed", func() bool {
		return f.rollout(t).Status.Phase == redflagv1.RolloutSucceeded
	})
	if most := stop(); most != 1 {
		t.Errorf("at most %d hosts worked at once; maxConcurrent is 1", most)
	}
	t.Logf("rollout of 3 hosts took %s", time.Since(applied).Round(time.Second))
	au := f.rollout(t)
	if c := au.Status.Counts; c.Total != 3 || c.Succeeded != 3 || c.Failed != 0 || c.InProgress != 0 || c.Pending != 0 {
		t.Errorf("counts %+v: want 3 of 3 succeeded", c)
	}
	if len(au.Status.Slots) != 0 {
		t.Errorf("slots %v left after the rollout", au.Status.Slots)
	}
	if got := kstatusOfObject(t, au, "AgentUpdate"); got != status.CurrentStatus {
		t.Errorf("kstatus %s, want Current", got)
	}
	if c := meta.FindStatusCondition(au.Status.Conditions, redflagv1.ConditionReady); c == nil || c.Reason != "Complete" {
		t.Errorf("Ready condition %+v: want reason Complete", c)
	}

	// Every sandbox runs 2.0 now, and each Agent says so with the
	// versions before and after.
	for _, name := range f.names {
		if v := f.sandboxes[name].InstalledVersion(t, "redflag-demo"); v != "2.0" {
			t.Errorf("%s: redflag-demo %s installed, want 2.0", name, v)
		}
		w := f.agent(t, name).Status.CurrentWork
		if w == nil || w.Phase != redflagv1.WorkSucceeded || w.AgentUpdate != "demo-upgrade" {
			t.Fatalf("%s: currentWork %+v, want Succeeded for demo-upgrade", name, w)
		}
		want := redflagv1.PackageChange{Manager: redflagv1.ManagerApt, Name: "redflag-demo", From: "1.0", To: "2.0"}
		if !slices.Contains(w.Changes, want) {
			t.Errorf("%s: changes %+v, want %+v", name, w.Changes, want)
		}
	}

	// Each host scanned again after its install (there is no ScanSchedule
	// here): its Agent lists nothing pending, as of after the rollout began.
	for _, name := range f.names {
		eventually(t, 30*time.Second, name+"'s pending updates to follow the install", func() bool {
			u := f.agent(t, name).Status.Updates
			return u.ScannedAt != nil && u.ScannedAt.After(applied.Add(-time.Second)) && u.Total == 0 && len(u.Items) == 0
		})
	}

	// The recorded order: each host's dpkg run ends before the next one
	// starts, in the rollout's start order (Agent names, sorted).
	order := f.installOrder(t)
	var want []string
	for _, name := range f.names {
		id := f.agent(t, name).Spec.MachineID
		want = append(want, "start "+id, "end "+id)
	}
	if !slices.Equal(order, want) {
		t.Errorf("install order:\n got %q\nwant %q", order, want)
	}
	reasons := eventReasons(t, f.c, client.ObjectKey{Namespace: f.ns, Name: f.names[0]})
	if !slices.Contains(reasons, "UpdatesInstalled") {
		t.Errorf("Events of %s: %v, want UpdatesInstalled", f.names[0], reasons)
	}
}

// TestRolloutHaltsWhenTheSecondHostFails: with maxFailures 0, the second
// host's failure halts the rollout (Stalled, RolloutHalted) and the third
// host never starts.
func TestRolloutHaltsWhenTheSecondHostFails(t *testing.T) {
	f := newFleetWithBrokenSecond(t)
	applyYAML(t, f.c, f.ns, rolloutManifest)
	eventually(t, 120*time.Second, "the rollout to halt", func() bool {
		return f.rollout(t).Status.Phase == redflagv1.RolloutHalted
	})
	// A wrongly started third host gets its work at a check-in: let it
	// check in twice after the halt (5 s apart), as `redflag-agent
	// status` on it shows, with nothing left to report, then look.
	f.checkedInSince(t, f.names[2], time.Now(), 2)
	au := f.rollout(t)
	if c := au.Status.Counts; c.Succeeded != 1 || c.Failed != 1 || c.InProgress != 0 || c.Pending != 1 {
		t.Errorf("counts %+v: want 1 succeeded, 1 failed, 1 pending", c)
	}
	if got := kstatusOfObject(t, au, "AgentUpdate"); got != status.FailedStatus {
		t.Errorf("kstatus %s, want Failed", got)
	}
	if c := meta.FindStatusCondition(au.Status.Conditions, redflagv1.ConditionStalled); c == nil || c.Status != metav1.ConditionTrue || c.Reason != "RolloutHalted" {
		t.Errorf("Stalled %+v: want True, RolloutHalted", c)
	}
	if len(au.Status.Failures) != 1 || au.Status.Failures[0].Agent != f.names[1] {
		t.Errorf("failures %+v: want the second host", au.Status.Failures)
	}
	third := f.names[2]
	if w := f.agent(t, third).Status.CurrentWork; w != nil {
		t.Errorf("the third host %s started work %+v after the budget was spent", third, w)
	}
	if v := f.sandboxes[third].InstalledVersion(t, "redflag-demo"); v != "1.0" {
		t.Errorf("the third host's redflag-demo is %s, want 1.0 untouched", v)
	}
	if !slices.Contains(eventReasons(t, f.c, client.ObjectKeyFromObject(au)), "RolloutHalted") {
		t.Error("no RolloutHalted Event on the AgentUpdate")
	}
}

// newFleetWithBrokenSecond makes a fleet whose second host in start order
// cannot install. Agent names (and so the order) come from the machine
// IDs' hashes, so the fleet is built first and the broken hook added to
// whichever sandbox ends up second.
// checkedInSince waits until the named host has checked in n times
// since the given moment (its own last check-in, read with
// `redflag-agent status` every second) and has no report waiting.
func (f *fleet) checkedInSince(t *testing.T, name string, since time.Time, n int) {
	t.Helper()
	seen := map[time.Time]bool{}
	eventually(t, time.Duration(n)*15*time.Second, fmt.Sprintf("%d check-ins of %s", n, name), func() bool {
		st, err := f.hosts[name].status()
		if err == nil && st.State.LastCheckIn != nil && st.State.LastCheckIn.After(since) {
			seen[*st.State.LastCheckIn] = true
		}
		return len(seen) >= n && err == nil && st.State.PendingReports == 0
	})
}

func newFleetWithBrokenSecond(t *testing.T) *fleet {
	f := newFleet(t, "halting", 3)
	// dpkg cannot run there: the dry run passes, the install fails.
	appendFile(t, f.sandboxes[f.names[1]].Config, "DPkg::Pre-Invoke { \"false\"; };\n")
	return f
}

// kstatusOfObject is what kstatus makes of any RedFlag object.
func kstatusOfObject(t *testing.T, obj client.Object, kind string) status.Status {
	t.Helper()
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		t.Fatal(err)
	}
	un := &unstructured.Unstructured{Object: u}
	un.SetAPIVersion(redflagv1.GroupVersion.String())
	un.SetKind(kind)
	res, err := status.Compute(un)
	if err != nil {
		t.Fatal(err)
	}
	return res.Status
}

// TestDryRunThenRebootAlways: a dry run reports what would change and
// installs nothing; the same upgrade with reboot Always installs and then
// reboots the host (the agent runs $REDFLAG_REBOOT_COMMAND, here a script
// that records the reboot and makes the host look rebooted) after its
// result is reported; the rollout succeeds once the host is back.
func TestDryRunThenRebootAlways(t *testing.T) {
	sim := newRebootSim(t)
	f := newFleet(t, "dryrun", 1, append(sim.env, aptOnlyPath(t))...)
	defer sim.restart(t, f)()
	host := f.names[0]
	applyYAML(t, f.c, f.ns, `
apiVersion: redflag.io/v1alpha1
kind: AgentUpdate
metadata:
  name: preview
spec:
  selector:
    matchLabels:
      tier: web
  packages:
    scope: All
    managers: [apt]   # the sandbox stands in for apt; a dnf on the test machine is not a host's
  dryRun: true
`)
	eventually(t, 90*time.Second, "the dry run to succeed", func() bool {
		var au redflagv1.AgentUpdate
		err := f.c.env.Client.Get(context.Background(), client.ObjectKey{Namespace: f.ns, Name: "preview"}, &au)
		return err == nil && au.Status.Phase == redflagv1.RolloutSucceeded
	})
	w := f.agent(t, host).Status.CurrentWork
	want := redflagv1.PackageChange{Manager: redflagv1.ManagerApt, Name: "redflag-demo", From: "1.0", To: "2.0"}
	if w == nil || !w.DryRun || !slices.Contains(w.Changes, want) {
		t.Fatalf("dry run currentWork %+v: want the planned 1.0 -> 2.0 marked dryRun", w)
	}
	if v := f.sandboxes[host].InstalledVersion(t, "redflag-demo"); v != "1.0" {
		t.Fatalf("the dry run installed redflag-demo %s", v)
	}
	if sim.reboots(t) != 0 {
		t.Fatal("a dry run rebooted the host")
	}

	applyYAML(t, f.c, f.ns, strings.Replace(rolloutManifest, "    maxFailures: 0\n", "    maxFailures: 0\n  reboot: Always\n", 1))
	// The rollout succeeds only once the host is back from its reboot.
	eventually(t, 120*time.Second, "the upgrade to succeed", func() bool { return f.rollout(t).Status.Phase == redflagv1.RolloutSucceeded })
	if v := f.sandboxes[host].InstalledVersion(t, "redflag-demo"); v != "2.0" {
		t.Fatalf("redflag-demo %s after the upgrade, want 2.0", v)
	}
	if n := sim.reboots(t); n != 1 {
		t.Errorf("%d reboots recorded, want 1", n)
	}
	if w := f.agent(t, host).Status.CurrentWork; w == nil || !strings.Contains(w.Message, "rebooting") {
		t.Errorf("currentWork %+v: want the message to say the host reboots", w)
	}
}
