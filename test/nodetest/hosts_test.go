//go:build linux

package nodetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
	"github.com/redflag-io/redflag/test/apttest"
)

// host is one machine enrolled with the served script: a sandbox root of
// its own (the agent's config, key and state), its own machine ID, its
// own apt root, and the agent process the script installed.
type host struct {
	name      string // its Agent's name
	machineID string
	root      string
	agent     *exec.Cmd
	log       *bytes.Buffer
	apt       *apttest.Sandbox
}

// enrollHosts creates a RegistrationToken, then for each of n hosts runs
// the served script as `curl | sh` would, as root, in the host's sandbox
// root (no systemd), starts the agent it installed by hand, and waits for
// every Agent to turn Ready running the image's version.
func (h *helmEnv) enrollHosts(ctx context.Context, script string, n int) {
	t := h.t
	t.Helper()
	token := h.newToken(ctx, hostsNS, "hosts")
	for i := range n {
		h.hosts = append(h.hosts, h.enrollOne(script, token, i))
	}
	byMachine := map[string]*host{}
	for _, hs := range h.hosts {
		byMachine[hs.machineID] = hs
	}
	h.waitFor(ctx, 90*time.Second, fmt.Sprintf("%d enrolled hosts Ready in `kubectl get agents`", n), func() error {
		var agents redflagv1.AgentList
		if err := h.c.List(ctx, &agents, client.InNamespace(hostsNS)); err != nil {
			return err
		}
		if len(agents.Items) != n {
			return fmt.Errorf("%d Agents", len(agents.Items))
		}
		for _, a := range agents.Items {
			if !meta.IsStatusConditionTrue(a.Status.Conditions, "Ready") || a.Status.AgentVersion != imageVersion {
				return fmt.Errorf("Agent %s: version %q, conditions %+v", a.Name, a.Status.AgentVersion, a.Status.Conditions)
			}
			hs := byMachine[a.Spec.MachineID]
			if hs == nil {
				return fmt.Errorf("Agent %s has machine ID %q, which no host has", a.Name, a.Spec.MachineID)
			}
			hs.name = a.Name
		}
		return nil
	})
	out := h.run(h.kubectl, "-n", hostsNS, "get", "agents")
	for _, hs := range h.hosts {
		if !strings.Contains(out, hs.name) {
			t.Fatalf("kubectl get agents does not list %s:\n%s", hs.name, out)
		}
	}
	h.transcript("kubectl -n "+hostsNS+" get agents", out)
}

// newToken creates namespace ns and a RegistrationToken name in it (an
// hour's TTL) and returns the token's secret once its Secret exists.
func (h *helmEnv) newToken(ctx context.Context, ns, name string) string {
	t := h.t
	t.Helper()
	if err := h.c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	tok := &redflagv1.RegistrationToken{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: redflagv1.RegistrationTokenSpec{TTL: &metav1.Duration{Duration: time.Hour}}}
	if err := h.c.Create(ctx, tok); err != nil {
		t.Fatal(err)
	}
	var token string
	h.waitFor(ctx, 30*time.Second, "token "+ns+"/"+name+"'s Secret", func() error {
		if err := h.c.Get(ctx, client.ObjectKeyFromObject(tok), tok); err != nil {
			return err
		}
		if tok.Status.SecretName == "" {
			return errors.New("no status.secretName yet")
		}
		var sec corev1.Secret
		if err := h.c.Get(ctx, client.ObjectKey{Namespace: ns, Name: tok.Status.SecretName}, &sec); err != nil {
			return err
		}
		token = string(sec.Data["token"])
		return nil
	})
	return token
}

// enrollOne installs host i with the served script and starts its agent.
func (h *helmEnv) enrollOne(script, token string, i int) *host {
	t := h.t
	t.Helper()
	hs := &host{root: filepath.Join(h.tmp, fmt.Sprintf("host-%d", i)), machineID: fmt.Sprintf("helm-host-%d-%d", i, time.Now().UnixNano())}
	idFile := filepath.Join(h.tmp, fmt.Sprintf("machine-id-%d", i))
	if err := os.WriteFile(idFile, []byte(hs.machineID+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", "-s", "--", "--token", token)
	cmd.Stdin = strings.NewReader(script)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + h.tmp, "LC_ALL=C", "REDFLAG_ROOT=" + hs.root, "SYSTEMCTL=",
		"REDFLAG_MACHINE_ID_FILE=" + idFile}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the served install script failed on host %d: %v\n%s", i, err, out)
	}
	if i == 0 {
		h.transcript("curl -fsSL --cacert ca.crt "+"<gateway>/install.sh | sudo sh -s -- --token <token>", string(out))
	}
	// The host's packages: a sandbox apt root (never this machine's own)
	// with redflag-demo 1.0 installed and 2.0 in its repository, which the
	// agent's real apt scanner and installer use through APT_CONFIG.
	hs.apt = apttest.New(t, apttest.Options{
		Installed: []apttest.Package{{Name: "redflag-demo", Version: "1.0"}},
		Repos:     []apttest.Repo{{Packages: []apttest.Package{{Name: "redflag-demo", Version: "2.0"}}}},
	})
	hs.log = &bytes.Buffer{}
	hs.agent = exec.Command(filepath.Join(hs.root, "usr", "bin", "redflag-agent"), "run", "--no-supervisor",
		"--config", filepath.Join(hs.root, "etc", "redflag", "agent.json"), "--state-dir", filepath.Join(hs.root, "var", "lib", "redflag"))
	hs.agent.Env = append(hs.apt.Env(), "REDFLAG_MACHINE_ID_FILE="+idFile)
	hs.agent.Stdout, hs.agent.Stderr = hs.log, hs.log
	if err := hs.agent.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = hs.agent.Process.Kill()
		_ = hs.agent.Wait()
		if t.Failed() {
			t.Logf("host %d (%s) agent log:\n%s", i, hs.name, hs.log.String())
		}
	})
	return hs
}

// patchAgents applies change to every host's Agent.
func (h *helmEnv) patchAgents(ctx context.Context, change func(*redflagv1.Agent)) error {
	for _, hs := range h.hosts {
		var agent redflagv1.Agent
		if err := h.c.Get(ctx, client.ObjectKey{Namespace: hostsNS, Name: hs.name}, &agent); err != nil {
			return err
		}
		patch := client.MergeFrom(agent.DeepCopy())
		change(&agent)
		if err := h.c.Patch(ctx, &agent, patch); err != nil {
			return err
		}
	}
	return nil
}

// scanNow asks every host for an updates scan, with value as the
// annotation's value; ScanNowHandled echoes it once acted on.
func (h *helmEnv) scanNow(ctx context.Context, value string) error {
	return h.patchAgents(ctx, func(a *redflagv1.Agent) {
		metav1.SetMetaDataAnnotation(&a.ObjectMeta, redflagv1.ScanNowAnnotation, value)
	})
}

// waitPending waits until every Agent lists redflag-demo at version as
// pending, and the scan-now value handled (when not empty).
func (h *helmEnv) waitPending(ctx context.Context, version, handled string) {
	h.t.Helper()
	h.waitFor(ctx, 90*time.Second, "redflag-demo "+version+" pending on every Agent", func() error {
		for _, hs := range h.hosts {
			var agent redflagv1.Agent
			if err := h.c.Get(ctx, client.ObjectKey{Namespace: hostsNS, Name: hs.name}, &agent); err != nil {
				return err
			}
			if handled != "" && agent.Status.ScanNowHandled != handled {
				return fmt.Errorf("Agent %s handled scan-now %q, want %q", hs.name, agent.Status.ScanNowHandled, handled)
			}
			found := false
			for _, item := range agent.Status.Updates.Items {
				found = found || (item.Name == "redflag-demo" && item.AvailableVersion == version)
			}
			if !found {
				return fmt.Errorf("Agent %s: status.updates %+v", hs.name, agent.Status.Updates)
			}
		}
		return nil
	})
}

// scanAndRollOut asks every host for an updates scan (a ScanSchedule and
// scan-now), waits for redflag-demo 2.0 to show as pending on each Agent,
// then applies an AgentUpdate for it on all hosts at once and waits until
// the rollout succeeded and every sandbox holds 2.0.
func (h *helmEnv) scanAndRollOut(ctx context.Context) {
	t := h.t
	t.Helper()
	schedule := &redflagv1.ScanSchedule{ObjectMeta: metav1.ObjectMeta{Namespace: hostsNS, Name: "updates"},
		Spec: redflagv1.ScanScheduleSpec{Subsystems: redflagv1.ScanSubsystems{Updates: &redflagv1.UpdatesSchedule{
			SubsystemSchedule: redflagv1.SubsystemSchedule{Interval: metav1.Duration{Duration: time.Hour}}}}}}
	if err := h.c.Create(ctx, schedule); err != nil {
		t.Fatal(err)
	}
	if err := h.scanNow(ctx, time.Now().UTC().Format(time.RFC3339)); err != nil {
		t.Fatal(err)
	}
	h.waitPending(ctx, "2.0", "")
	names := make([]string, len(h.hosts))
	for i, hs := range h.hosts {
		names[i] = hs.name
	}
	all := intstr.FromInt32(int32(len(names)))
	rollout := &redflagv1.AgentUpdate{ObjectMeta: metav1.ObjectMeta{Namespace: hostsNS, Name: "demo-upgrade"},
		Spec: redflagv1.AgentUpdateSpec{Agents: names, Strategy: redflagv1.RolloutStrategy{MaxConcurrent: &all},
			Packages: &redflagv1.PackageSelection{Scope: redflagv1.ScopeNamed, Names: []string{"redflag-demo"}}}}
	if err := h.c.Create(ctx, rollout); err != nil {
		t.Fatal(err)
	}
	h.waitFor(ctx, 120*time.Second, "the rollout to succeed", func() error {
		if err := h.c.Get(ctx, client.ObjectKeyFromObject(rollout), rollout); err != nil {
			return err
		}
		if rollout.Status.Phase != redflagv1.RolloutSucceeded {
			return fmt.Errorf("phase %q, %+v", rollout.Status.Phase, rollout.Status.Conditions)
		}
		return nil
	})
	for _, hs := range h.hosts {
		if v := hs.apt.InstalledVersion(t, "redflag-demo"); v != "2.0" {
			t.Fatalf("the rollout succeeded but host %s's redflag-demo is %q, want 2.0", hs.name, v)
		}
	}
	h.transcript("kubectl -n "+hostsNS+" get agentupdates", h.run(h.kubectl, "-n", hostsNS, "get", "agentupdates"))
}

// retryable matches the check-in errors an agent retries by design: no
// answer at all (the gateway moving between pods) or a refusal that asks
// to come back (429, 5xx). Anything else (401 unknown agent, 403, 400)
// means the host was turned away for good.
var retryable = regexp.MustCompile(`cannot reach the gateway at |gateway answered (429|5\d\d) `)

// fleetWatch is what watchFleet saw.
type fleetWatch struct {
	checkIns    int           // distinct successful check-ins, all hosts
	errors      []string      // distinct check-in errors, all hosts
	noEndpoints time.Duration // how long the gateway Service had no serving endpoint
	scanNows    int           // scan-now requests made meanwhile
	lastScanNow string        // the last scan-now value set
}

// watchFleet samples every host's state file and the gateway Service's
// EndpointSlices every 200 ms until stop, and asks every host for a scan
// every 4 s so that reports are in flight the whole time.
func (h *helmEnv) watchFleet(ctx context.Context, stop <-chan struct{}) fleetWatch {
	var w fleetWatch
	type seen struct{ ok, err time.Time }
	last := make([]seen, len(h.hosts))
	first := true // the first sample is the baseline
	prev := time.Now()
	var nextScan time.Time
	for {
		var slices discoveryv1.EndpointSliceList
		if err := h.c.List(ctx, &slices, client.InNamespace(helmNamespace),
			client.MatchingLabels{discoveryv1.LabelServiceName: helmRelease + "-gateway"}); err == nil {
			serving := 0
			for _, sl := range slices.Items {
				for _, ep := range sl.Endpoints {
					// A terminating pod still passing its readiness probe
					// (gateway.drainSeconds) is not ready but serving:
					// kube-proxy sends connections to it when no pod is
					// ready.
					if ep.Conditions.Ready == nil || *ep.Conditions.Ready || (ep.Conditions.Serving != nil && *ep.Conditions.Serving) {
						serving++
					}
				}
			}
			if serving == 0 {
				w.noEndpoints += time.Since(prev)
			}
		}
		prev = time.Now()
		if time.Now().After(nextScan) {
			v := fmt.Sprintf("upgrade-%d", w.scanNows)
			if err := h.scanNow(ctx, v); err == nil {
				w.scanNows++
				w.lastScanNow = v
			}
			nextScan = time.Now().Add(4 * time.Second)
		}
		for i, hs := range h.hosts {
			st, err := hs.state()
			if err != nil {
				continue
			}
			if st.LastCheckIn != nil && !st.LastCheckIn.Equal(last[i].ok) {
				if !first {
					w.checkIns++
				}
				last[i].ok = *st.LastCheckIn
			}
			if st.LastErrorAt != nil && !st.LastErrorAt.Equal(last[i].err) {
				if !first {
					w.errors = append(w.errors, hs.name+": "+st.LastError)
				}
				last[i].err = *st.LastErrorAt
			}
		}
		first = false
		select {
		case <-stop:
			return w
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// agentState is the part of the agent's state.json this test reads.
type agentState struct {
	LastCheckIn    *time.Time `json:"lastCheckIn"`
	LastError      string     `json:"lastError"`
	LastErrorAt    *time.Time `json:"lastErrorAt"`
	PendingReports int        `json:"pendingReports"`
	DroppedReports uint64     `json:"droppedReports"`
}

func (hs *host) state() (agentState, error) {
	var st agentState
	data, err := os.ReadFile(filepath.Join(hs.root, "var", "lib", "redflag", "state.json"))
	if err != nil {
		return st, err
	}
	return st, json.Unmarshal(data, &st)
}

// checkedInSince is nil once every host has checked in after mark with no
// report pending or dropped.
func (h *helmEnv) checkedInSince(mark time.Time) error {
	for _, hs := range h.hosts {
		st, err := hs.state()
		if err != nil {
			return err
		}
		if st.LastCheckIn == nil || !st.LastCheckIn.After(mark) {
			return fmt.Errorf("host %s: last check-in %v, last error %q", hs.name, st.LastCheckIn, st.LastError)
		}
		if st.PendingReports != 0 || st.DroppedReports != 0 {
			return fmt.Errorf("host %s: %d reports pending, %d dropped", hs.name, st.PendingReports, st.DroppedReports)
		}
	}
	return nil
}
