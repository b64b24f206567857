package e2e

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
	"github.com/redflag-io/redflag/internal/protocol"
)

// timeoutManifest is rolloutManifest with room for one failure and a
// short hostTimeout (with the fleet's 5 s check-in interval the bound is
// the 20 s given, above three intervals).
const timeoutManifest = `
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
    maxFailures: 1
    hostTimeout: 20s
`

// TestRolloutMovesOnPastAKilledHost: the first host of a one-at-a-time
// rollout is killed (SIGKILL, supervisor and daemon) in the middle of its
// install. After 20 s of silence the rollout counts it as failed
// (HostTimedOut, in status.failures and as an Event), gives its slot to
// the next host, and finishes on the other two: Succeeded, 2 succeeded and
// 1 failed, never more than one host at once. When the killed host starts
// again it is told its work was abandoned: it drops the interrupted work
// (work.json says Failed, HostTimedOut; WorkAbandoned on its Agent),
// installs nothing more, and the rollout's counts do not change.
func TestRolloutMovesOnPastAKilledHost(t *testing.T) {
	f := newFleet(t, "timeout", 3)
	dead := f.names[0]
	h, sb := f.hosts[dead], f.sandboxes[dead]
	// Hold the first host's install in dpkg's pre-invoke hook long enough
	// to kill it there.
	appendFile(t, sb.Config, "DPkg::Pre-Invoke { \"sleep 30\"; };\n")
	stop := f.watchConcurrency(t, "demo-upgrade")
	applyYAML(t, f.c, f.ns, timeoutManifest)

	eventually(t, 90*time.Second, "the first host's install to reach dpkg and be reported Running", func() bool {
		w := f.agent(t, dead).Status.CurrentWork
		return slices.Contains(f.installOrder(t), "start "+h.id) && w != nil && w.Phase == redflagv1.WorkRunning
	})
	workID := f.agent(t, dead).Status.CurrentWork.ID
	supervisor := f.agents[dead]
	daemon, _ := killAgent(t, supervisor)
	killed := time.Now()
	t.Logf("killed %s (daemon %d) mid-install of %s", dead, daemon, workID)

	eventually(t, 150*time.Second, "the rollout to finish without the killed host", func() bool {
		return f.rollout(t).Status.Phase == redflagv1.RolloutSucceeded
	})
	t.Logf("the rollout finished %s after the kill", time.Since(killed).Round(time.Second))
	if most := stop(); most != 1 {
		t.Errorf("at most %d hosts worked at once; maxConcurrent is 1", most)
	}
	au := f.rollout(t)
	if c := au.Status.Counts; c.Total != 3 || c.Succeeded != 2 || c.Failed != 1 || c.InProgress != 0 || c.Pending != 0 {
		t.Errorf("counts %+v: want 2 succeeded, 1 failed", c)
	}
	if len(au.Status.Failures) != 1 || au.Status.Failures[0].Agent != dead || au.Status.Failures[0].Reason != "HostTimedOut" {
		t.Errorf("failures %+v: want %s HostTimedOut", au.Status.Failures, dead)
	}
	if r := eventReasons(t, f.c, client.ObjectKeyFromObject(au)); !slices.Contains(r, "HostTimedOut") {
		t.Errorf("Events of the rollout: %v, want HostTimedOut", r)
	}
	for _, name := range f.names[1:] {
		if v := f.sandboxes[name].InstalledVersion(t, "redflag-demo"); v != "2.0" {
			t.Errorf("%s: redflag-demo %s installed, want 2.0", name, v)
		}
	}
	if w := f.agent(t, dead).Status.CurrentWork; w == nil || w.ID != workID || w.Phase != redflagv1.WorkFailed || w.Reason != "HostTimedOut" {
		t.Errorf("%s currentWork %+v: want %s Failed, HostTimedOut", dead, w, workID)
	}

	// The host comes back: told the work was abandoned, it drops it.
	starts := strings.Count(strings.Join(f.installOrder(t), "\n"), "start "+h.id)
	f.agents[dead] = h.run()
	var dropped time.Time
	eventually(t, 60*time.Second, "the returning host to report WorkAbandoned", func() bool {
		if historyCount(f.agent(t, dead), "WorkAbandoned") == 1 {
			dropped = time.Now()
			return true
		}
		return false
	})
	// Let it check in twice more (every 5 s) after dropping the work: time
	// enough to show a wrongly resumed install.
	eventually(t, 60*time.Second, "two more check-ins of the returning host", func() bool {
		st, err := h.status()
		return err == nil && st.State.LastCheckIn != nil && st.State.LastCheckIn.After(dropped.Add(10*time.Second))
	})
	if n := strings.Count(strings.Join(f.installOrder(t), "\n"), "start "+h.id); n != starts {
		t.Errorf("the returning host started %d more installs; it must do nothing it was not asked to", n-starts)
	}
	var ws struct {
		Current  *protocol.WorkResult `json:"current"`
		Finished []string             `json:"finished"`
	}
	if err := json.Unmarshal(mustRead(t, filepath.Join(h.stateDir, "work.json")), &ws); err != nil {
		t.Fatalf("work.json: %v", err)
	}
	if ws.Current == nil || ws.Current.ID != workID || ws.Current.Phase != protocol.WorkFailed || ws.Current.Reason != "HostTimedOut" || !slices.Contains(ws.Finished, workID) {
		t.Errorf("work.json current %+v finished %v: want %s dropped as Failed, HostTimedOut", ws.Current, ws.Finished, workID)
	}
	if r := eventReasons(t, f.c, client.ObjectKey{Namespace: f.ns, Name: dead}); !slices.Contains(r, "WorkAbandoned") || !slices.Contains(r, "HostTimedOut") {
		t.Errorf("Events of %s: %v, want HostTimedOut and WorkAbandoned", dead, r)
	}
	au = f.rollout(t)
	if c := au.Status.Counts; au.Status.Phase != redflagv1.RolloutSucceeded || c.Succeeded != 2 || c.Failed != 1 {
		t.Errorf("after the host returned: phase %s counts %+v, want Succeeded with 2 succeeded, 1 failed", au.Status.Phase, c)
	}
}
