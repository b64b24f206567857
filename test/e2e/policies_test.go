package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
	"github.com/redflag-io/redflag/internal/rollout"
	"github.com/redflag-io/redflag/test/apttest"
)

const recurringManifest = `
apiVersion: redflag.io/v1alpha1
kind: AgentUpdate
metadata:
  name: demo-upgrade
spec:
  selector:
    matchLabels:
      tier: web
  packages:
    scope: All
    managers: [apt]
  recurrence:
    every: 15s
`

// TestRecurringRolloutInstallsWhatBecamePending: a recurring AgentUpdate
// runs on a real agent, installing redflag-demo 2.0; then 3.0 is
// published, and a later run installs exactly that (2.0 to 3.0) and
// nothing else; the run after that finds nothing pending, records
// NothingToDo and gives the host no work.
func TestRecurringRolloutInstallsWhatBecamePending(t *testing.T) {
	f := newFleet(t, "recurring", 1, aptOnlyPath(t))
	name := f.names[0]
	sb := f.sandboxes[name]
	applyYAML(t, f.c, f.ns, scanScheduleManifest)
	applyYAML(t, f.c, f.ns, recurringManifest)

	lastRun := func() redflagv1.RunRecord {
		runs := f.rollout(t).Status.Runs
		if len(runs) == 0 {
			return redflagv1.RunRecord{}
		}
		return runs[len(runs)-1]
	}
	eventually(t, 150*time.Second, "run 1 to succeed", func() bool {
		return slices.ContainsFunc(f.rollout(t).Status.Runs, func(r redflagv1.RunRecord) bool {
			return r.Run == 1 && r.Result == redflagv1.RunCompleted
		})
	})
	if v := sb.InstalledVersion(t, "redflag-demo"); v != "2.0" {
		t.Fatalf("after run 1 redflag-demo %s is installed, want 2.0", v)
	}
	au := f.rollout(t)
	if r := au.Status.Runs[0]; r.Hosts != 1 || r.Succeeded != 1 || r.Failed != 0 || r.Finished == nil {
		t.Errorf("run 1 record %+v: want 1 host, 1 succeeded, finished", r)
	}
	if au.Status.LastRun == nil || au.Status.NextRun == nil || !au.Status.NextRun.After(au.Status.LastRun.Time) {
		t.Errorf("lastRun %v nextRun %v: want both, next after last", au.Status.LastRun, au.Status.NextRun)
	}
	firstWork := f.agent(t, name).Status.CurrentWork.ID

	// A new version appears; the agent's next scan sees it.
	sb.Publish(t, 0, apttest.Package{Name: "redflag-demo", Version: "3.0"})
	published := time.Now()
	patchAgent(t, f.c, client.ObjectKey{Namespace: f.ns, Name: name}, func(a *redflagv1.Agent) {
		if a.Annotations == nil {
			a.Annotations = map[string]string{}
		}
		a.Annotations[redflagv1.ScanNowAnnotation] = published.UTC().Format(time.RFC3339Nano)
	})
	eventually(t, 150*time.Second, "a later run to install 3.0", func() bool {
		r := lastRun()
		return r.Run > 1 && r.Result == redflagv1.RunCompleted && sb.InstalledVersion(t, "redflag-demo") == "3.0"
	})
	w := f.agent(t, name).Status.CurrentWork
	if w == nil || w.ID == firstWork || w.Phase != redflagv1.WorkSucceeded {
		t.Fatalf("currentWork %+v: want a new work ID (not %s), Succeeded", w, firstWork)
	}
	want := []redflagv1.PackageChange{{Manager: redflagv1.ManagerApt, Name: "redflag-demo", From: "2.0", To: "3.0"}}
	if !slices.Equal(w.Changes, want) {
		t.Errorf("the later run changed %+v, want only %+v", w.Changes, want)
	}
	// Runs between the two that found nothing (3.0 not scanned yet) must
	// say so; none may have run work.
	installed := lastRun().Run
	for _, r := range f.rollout(t).Status.Runs {
		if r.Run > 1 && r.Run < installed && r.Result != redflagv1.RunFoundNothing {
			t.Errorf("run %d before 3.0 was pending: %+v, want NothingToDo", r.Run, r)
		}
	}

	// The next run finds nothing pending: recorded, and the host gets no work.
	eventually(t, 90*time.Second, "a run after the install to find nothing to do", func() bool {
		r := lastRun()
		return r.Run > installed && r.Result == redflagv1.RunFoundNothing
	})
	a := f.agent(t, name)
	if a.Status.CurrentWork.ID != w.ID {
		t.Errorf("after a NothingToDo run the host got work %s", a.Status.CurrentWork.ID)
	}
	if len(f.installOrder(t)) != 4 {
		t.Errorf("dpkg ran %q; want two runs (2.0, then 3.0)", f.installOrder(t))
	}
	au = f.rollout(t)
	if len(au.Status.Slots) != 0 || au.Status.Phase != redflagv1.RolloutSucceeded {
		t.Errorf("between runs: slots %v phase %s, want none and Succeeded", au.Status.Slots, au.Status.Phase)
	}
	if c := meta.FindStatusCondition(au.Status.Conditions, redflagv1.ConditionReady); c == nil || c.Status != "True" || c.Reason != "WaitingForNextRun" {
		t.Errorf("Ready %+v: want True, WaitingForNextRun", c)
	}
}

// TestHeldPackageIsNeverInstalled: two hosts; one Agent holds
// redflag-demo. A rollout of every pending update upgrades the other host
// and skips the holder with reason PackagesHeld, and the held package
// stays at 1.0 on its host.
func TestHeldPackageIsNeverInstalled(t *testing.T) {
	f := newFleet(t, "holds", 2, aptOnlyPath(t))
	applyYAML(t, f.c, f.ns, scanScheduleManifest)
	for _, n := range f.names {
		eventually(t, 60*time.Second, n+" to list redflag-demo 2.0 as pending", func() bool {
			return slices.ContainsFunc(f.agent(t, n).Status.Updates.Items, func(u redflagv1.PendingUpdate) bool {
				return u.Name == "redflag-demo" && u.AvailableVersion == "2.0"
			})
		})
	}
	held := f.names[0]
	patchAgent(t, f.c, client.ObjectKey{Namespace: f.ns, Name: held}, func(a *redflagv1.Agent) {
		a.Spec.Holds = []string{"redflag-demo"}
	})
	applyYAML(t, f.c, f.ns, `
apiVersion: redflag.io/v1alpha1
kind: AgentUpdate
metadata:
  name: demo-upgrade
spec:
  selector:
    matchLabels:
      tier: web
  packages:
    scope: All
    managers: [apt]
  strategy:
    maxConcurrent: 2
`)
	eventually(t, 120*time.Second, "the rollout to succeed", func() bool {
		return f.rollout(t).Status.Phase == redflagv1.RolloutSucceeded
	})
	au := f.rollout(t)
	if c := au.Status.Counts; c.Total != 2 || c.Succeeded != 1 || c.Skipped != 1 {
		t.Errorf("counts %+v: want 1 succeeded, 1 skipped", c)
	}
	if len(au.Status.SkippedHosts) != 1 || au.Status.SkippedHosts[0].Agent != held || au.Status.SkippedHosts[0].Reason != "PackagesHeld" {
		t.Errorf("skippedHosts %+v: want %s with PackagesHeld", au.Status.SkippedHosts, held)
	}
	if v := f.sandboxes[held].InstalledVersion(t, "redflag-demo"); v != "1.0" {
		t.Errorf("held host has redflag-demo %s, want 1.0", v)
	}
	if v := f.sandboxes[f.names[1]].InstalledVersion(t, "redflag-demo"); v != "2.0" {
		t.Errorf("other host has redflag-demo %s, want 2.0", v)
	}
	if w := f.agent(t, held).Status.CurrentWork; w != nil {
		t.Errorf("the held host was given work %+v", w)
	}
}

// rebootSim stands in for reboots: the agents' reboot command is a script
// that records the reboot (time and host) in a log, moves the host's boot
// time (REDFLAG_BOOT_TIME_FILE, one file per host) past now and stops the
// agent, as a reboot would; restart brings stopped agents back up.
type rebootSim struct {
	log string
	env []string
}

func newRebootSim(t *testing.T) *rebootSim {
	t.Helper()
	dir := t.TempDir()
	s := &rebootSim{log: filepath.Join(dir, "reboots.log")}
	script := filepath.Join(dir, "reboot.sh")
	body := "#!/bin/sh\n" +
		"echo \"$(date +%s.%N) $REDFLAG_BOOT_TIME_FILE\" >> " + s.log + "\n" +
		"date -u -d '+2 seconds' +%Y-%m-%dT%H:%M:%SZ > \"$REDFLAG_BOOT_TIME_FILE\"\n" +
		"kill -TERM $PPID\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	s.env = []string{"REDFLAG_REBOOT_COMMAND=" + script, "REDFLAG_BOOT_TIME_FILE=" + filepath.Join(dir, "boot-{host}")}
	return s
}

// reboots counts the recorded reboots.
func (s *rebootSim) reboots(t *testing.T) int {
	t.Helper()
	data, err := os.ReadFile(s.log)
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return len(strings.Split(strings.TrimSpace(string(data)), "\n"))
}

// restart starts again, until stopped, every agent of the fleet whose
// process ended (its simulated reboot); the fleet's process map is only
// touched here while it runs.
func (s *rebootSim) restart(t *testing.T, f *fleet) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		for ctx.Err() == nil {
			for _, name := range f.names {
				if f.agents[name].exited() {
					f.agents[name] = f.hosts[name].run()
				}
			}
			time.Sleep(200 * time.Millisecond)
		}
	})
	return func() { cancel(); wg.Wait() }
}

// TestRebootBudgetAcrossTwoRollouts: four hosts, two rebooting rollouts
// of two hosts each with maxConcurrent 2, and the namespace's reboot
// budget of 1 (the manager's default). Each host's reboot is recorded and
// simulated (boot time moved, agent stopped and started again). All four
// hosts upgrade and reboot, and never do two hosts hold a slot, run the
// work or wait to come back from a reboot at once.
func TestRebootBudgetAcrossTwoRollouts(t *testing.T) {
	sim := newRebootSim(t)
	f := newFleet(t, "reboots", 4, append(sim.env, aptOnlyPath(t))...)
	stopRestarts := sim.restart(t, f)
	defer stopRestarts()

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	// Two counts, each from one List (a consistent snapshot): hosts
	// holding a slot in either rollout, and hosts whose Agent shows their
	// work running or a reboot not yet over.
	mostSlots, mostWorking, at := 0, 0, ""
	wg.Go(func() {
		for ctx.Err() == nil {
			var list redflagv1.AgentUpdateList
			if f.c.env.Client.List(ctx, &list, client.InNamespace(f.ns)) == nil {
				var slots []string
				for _, au := range list.Items {
					for _, s := range au.Status.Slots {
						slots = append(slots, s.Agent)
					}
				}
				if len(slots) > mostSlots {
					mostSlots, at = len(slots), fmt.Sprint(slots)
				}
			}
			var agents redflagv1.AgentList
			if f.c.env.Client.List(ctx, &agents, client.InNamespace(f.ns)) == nil {
				n := 0
				for _, a := range agents.Items {
					if w := a.Status.CurrentWork; w != nil && (!w.Phase.Finished() || rollout.RebootPending(&a.Status)) {
						n++
					}
				}
				mostWorking = max(mostWorking, n)
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
	for i, pair := range [][]string{f.names[:2], f.names[2:]} {
		applyYAML(t, f.c, f.ns, fmt.Sprintf(`
apiVersion: redflag.io/v1alpha1
kind: AgentUpdate
metadata:
  name: reboot-%d
spec:
  agents: [%s, %s]
  packages:
    scope: All
    managers: [apt]
  reboot: Always
  strategy:
    maxConcurrent: 2
    hostTimeout: 5m
`, i, pair[0], pair[1]))
	}
	eventually(t, 420*time.Second, "both rollouts to succeed", func() bool {
		for i := range 2 {
			var au redflagv1.AgentUpdate
			if err := f.c.env.Client.Get(ctx, client.ObjectKey{Namespace: f.ns, Name: fmt.Sprintf("reboot-%d", i)}, &au); err != nil || au.Status.Phase != redflagv1.RolloutSucceeded {
				return false
			}
		}
		return true
	})
	cancel()
	wg.Wait()
	if mostSlots != 1 || mostWorking != 1 {
		t.Errorf("at most %d hosts held a slot at once (%s) and %d installed or rebooted at once; the budget is 1", mostSlots, at, mostWorking)
	}
	if n := sim.reboots(t); n != 4 {
		t.Errorf("%d reboots recorded, want 4", n)
	}
	for _, name := range f.names {
		if v := f.sandboxes[name].InstalledVersion(t, "redflag-demo"); v != "2.0" {
			t.Errorf("%s: redflag-demo %s, want 2.0", name, v)
		}
		a := f.agent(t, name)
		if w := a.Status.CurrentWork; w == nil || !w.Rebooting || rollout.RebootPending(&a.Status) {
			t.Errorf("%s: currentWork %+v boot time %v: want a reboot that is over", name, w, a.Status.System.BootTime)
		}
	}
}

// aptOnlyPath is a PATH environment entry for agents whose host has apt
// and no dnf: every program of /usr/bin except dnf and yum, linked into a
// directory of its own. The shared test machine may have dnf installed
// without repositories, which fails every scan and install of a host that
// is meant to run apt only.
func aptOnlyPath(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	entries, err := os.ReadDir("/usr/bin")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		name := e.Name()
		if name == "dnf" || strings.HasPrefix(name, "dnf-") || name == "yum" || name == "dnf5" {
			continue
		}
		if err := os.Symlink(filepath.Join("/usr/bin", name), filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	return "PATH=" + dir + ":/usr/local/sbin:/usr/local/bin:/usr/sbin"
}
