package e2e

// The fault suite (docs/faults.md): the API server, the manager and the agent
// are stopped, killed or starved at the worst moments, and nothing a host
// stored or the cluster acknowledged is lost or done twice.

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
	"github.com/redflag-io/redflag/internal/hostclient"
	"github.com/redflag-io/redflag/internal/protocol"
	"github.com/redflag-io/redflag/internal/schedule"
	"github.com/redflag-io/redflag/test/apttest"
	"github.com/redflag-io/redflag/test/testenv"
)

// pod runs a manager process the way a Deployment's pod runs: whenever it
// exits it is started again, after restartDelay (a kubelet's back-off,
// shortened), until the test ends. All its runs write to one output.
type pod struct {
	name string
	bin  string
	args []string
	out  *syncBuffer
	quit chan struct{}
	done chan struct{}

	mu     sync.Mutex
	cur    *process
	starts int
}

const restartDelay = 2 * time.Second

func startPod(t *testing.T, name, bin string, args ...string) *pod {
	t.Helper()
	p := &pod{name: name, bin: bin, args: args, out: &syncBuffer{}, quit: make(chan struct{}), done: make(chan struct{})}
	first, err := spawn(name, bin, nil, p.out, args...)
	if err != nil {
		t.Fatal(err)
	}
	p.cur, p.starts = first, 1
	go p.loop()
	t.Cleanup(func() {
		close(p.quit)
		<-p.done
		p.current().stop()
		if t.Failed() {
			t.Logf("--- %s output (%d runs) ---\n%s", name, p.runs(), tail(p.out.String(), 8000))
		}
	})
	return p
}

func (p *pod) loop() {
	defer close(p.done)
	for {
		cur := p.current()
		select {
		case <-p.quit:
			return
		case <-cur.done:
		}
		fmt.Fprintf(p.out, "--- %s exited (%s); starting it again in %s ---\n", p.name, cur.cmd.ProcessState, restartDelay)
		select {
		case <-p.quit:
			return
		case <-time.After(restartDelay):
		}
		next, err := spawn(p.name, p.bin, nil, p.out, p.args...)
		if err != nil {
			fmt.Fprintf(p.out, "--- %s: %v ---\n", p.name, err)
			continue
		}
		p.mu.Lock()
		p.cur, p.starts = next, p.starts+1
		p.mu.Unlock()
	}
}

func (p *pod) current() *process {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cur
}

// runs is how many times the process was started.
func (p *pod) runs() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.starts
}

// simHost is an enrolled identity driven through hostclient, to see the
// gateway's answers exactly as a host gets them.
type simHost struct {
	client *hostclient.Client
	id     hostclient.Identity
}

func enrollSim(t *testing.T, c *cluster, token string) *simHost {
	t.Helper()
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	hc, err := hostclient.New(c.gatewayURL, mustRead(t, c.caFile))
	if err != nil {
		t.Fatal(err)
	}
	mid := make([]byte, 16)
	_, _ = rand.Read(mid)
	resp, err := hc.Register(context.Background(), protocol.RegisterRequest{
		Token: token, MachineID: hex.EncodeToString(mid), Hostname: "probe", AgentVersion: "v0.0.0-probe",
		PublicKey: base64.StdEncoding.EncodeToString(pub),
		OS:        protocol.OSInfo{Family: "linux", Distribution: "debian", Version: "12", Arch: "amd64", Kernel: "6.1.0"},
	})
	if err != nil {
		t.Fatalf("enrolling a probe identity: %v", err)
	}
	return &simHost{client: hc, id: hostclient.Identity{Agent: resp.Namespace + "/" + resp.AgentName, MachineID: hex.EncodeToString(mid), Key: key}}
}

func (s *simHost) checkIn() error {
	_, err := s.client.CheckIn(context.Background(), s.id, protocol.CheckInRequest{AgentVersion: "v0.0.0-probe", FactsHash: "probe"})
	return err
}

func (s *simHost) event(key string) error {
	_, err := s.client.Report(context.Background(), s.id, protocol.Report{
		IdempotencyKey: key, Kind: protocol.ReportEvent, Time: time.Now().UTC(),
		Event: &protocol.AgentEvent{Reason: "AgentStarted", Message: "probe"},
	})
	return err
}

// killAgent kills an agent with SIGKILL as a power cut or the OOM killer
// would: the daemon first, then its supervisor before it can react (it
// waits at least a second before restarting a crashed daemon). What the
// daemon started (apt, its hooks) keeps running, as under systemd's
// KillMode=process, until the test ends. It returns the daemon's pid and
// those orphans.
func killAgent(t *testing.T, supervisor *process) (daemon int, orphans []int) {
	t.Helper()
	daemon = daemonOf(t, supervisor)
	orphans = descendants(daemon)
	t.Cleanup(func() {
		for _, pid := range orphans {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	if err := syscall.Kill(daemon, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	supervisor.kill()
	return daemon, orphans
}

// daemonOf is the one daemon (`redflag-agent run`'s worker) under an
// agent's supervisor process.
func daemonOf(t *testing.T, supervisor *process) int {
	t.Helper()
	var daemons []int
	for _, pid := range children(supervisor.cmd.Process.Pid) {
		if strings.Contains(cmdline(pid), " run ") {
			daemons = append(daemons, pid)
		}
	}
	if len(daemons) != 1 {
		t.Fatalf("the supervisor's children: %v, want one daemon", daemons)
	}
	return daemons[0]
}

// agentState is what `redflag-agent status --json` prints about the daemon.
type agentState struct {
	State struct {
		LastCheckIn    *time.Time `json:"lastCheckIn"`
		HeartbeatUntil *time.Time `json:"heartbeatUntil"`
		LastError      string     `json:"lastError"`
		PendingReports int        `json:"pendingReports"`
		DroppedReports uint64     `json:"droppedReports"`
		Version        string     `json:"version"`
	} `json:"state"`
}

// status runs `redflag-agent status --json`, as an operator on the host does.
func (h *host) status() (agentState, error) {
	var st agentState
	out, err := h.command("status", "--json").Output()
	if err != nil {
		return st, fmt.Errorf("redflag-agent status: %w", err)
	}
	if err := json.Unmarshal(out, &st); err != nil {
		return st, fmt.Errorf("redflag-agent status printed %q: %w", out, err)
	}
	return st, nil
}

// outboxFiles lists the reports waiting in a host's outbox.
func (h *host) outboxFiles(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(h.stateDir, "outbox"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".json") && !strings.HasPrefix(e.Name(), ".") {
			names = append(names, e.Name())
		}
	}
	return names
}

// historyCount counts an Agent's history entries with reason.
func historyCount(a *redflagv1.Agent, reason string) int {
	n := 0
	for _, e := range a.Status.History {
		if e.Reason == reason {
			n++
		}
	}
	return n
}

// eventOccurrences counts the occurrences of reason recorded as Events
// regarding key: one per Event, or its series count when the recorder
// folded repeats into a series (it writes the count 2 at once; higher
// counts only with its half-hourly heartbeat).
func eventOccurrences(t *testing.T, c *cluster, key client.ObjectKey, reason string) int {
	t.Helper()
	var list eventsv1.EventList
	if err := c.env.Client.List(context.Background(), &list, client.InNamespace(key.Namespace)); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range list.Items {
		if e.Regarding.Name != key.Name || e.Reason != reason {
			continue
		}
		if e.Series != nil {
			n += int(e.Series.Count)
		} else {
			n++
		}
	}
	return n
}

// machineOf is the machine ID of a fleet host.
func (f *fleet) machineOf(name string) string { return f.hosts[name].id }

// noOverlap checks the dpkg order log: every start is followed by its own
// end before any other start, so no two installs ever ran at once.
func noOverlap(lines []string) error {
	open := ""
	for i, l := range lines {
		verb, id, _ := strings.Cut(l, " ")
		switch {
		case verb == "start" && open != "":
			return fmt.Errorf("line %d: %s started while %s was installing", i+1, id, open)
		case verb == "start":
			open = id
		case verb == "end" && id != open:
			return fmt.Errorf("line %d: %s ended, but %q was the one installing", i+1, id, open)
		case verb == "end":
			open = ""
		}
	}
	return nil
}

// children lists the processes whose parent is pid.
func children(pid int) []int {
	entries, _ := filepath.Glob("/proc/[0-9]*/stat")
	var out []int
	for _, e := range entries {
		data, err := os.ReadFile(e)
		if err != nil {
			continue
		}
		s := string(data)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 2 {
			continue
		}
		if ppid, _ := strconv.Atoi(f[1]); ppid == pid {
			child, _ := strconv.Atoi(filepath.Base(filepath.Dir(e)))
			out = append(out, child)
		}
	}
	return out
}

// descendants lists pid's children, theirs, and so on.
func descendants(pid int) []int {
	var out []int
	for _, c := range children(pid) {
		out = append(out, c)
		out = append(out, descendants(c)...)
	}
	return out
}

func cmdline(pid int) string {
	data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return strings.TrimSpace(strings.ReplaceAll(string(data), "\x00", " "))
}

// TestAgentKilledMidInstall: the agent (supervisor and daemon) is killed
// with SIGKILL while apt is inside a rollout's install (in a DPkg::Pre-Invoke
// hook that sleeps). As under systemd's KillMode=process, the package
// manager it started is not killed with it. The state on disk stays valid
// (`redflag-agent status` reads it; work.json still says Running), the
// same binary starts again, runs the interrupted work again (waiting for
// dpkg's lock while the orphaned apt finishes), and the result is
// reported: the rollout ends Succeeded, the package is at 2.0, no two
// dpkg runs overlapped and the Agent's work is Succeeded with one
// UpdatesInstalled.
func TestAgentKilledMidInstall(t *testing.T) {
	f := newFleet(t, "killed", 1)
	name := f.names[0]
	h, sb := f.hosts[name], f.sandboxes[name]
	appendFile(t, sb.Config, "DPkg::Pre-Invoke { \"sleep 5\"; };\n")
	binBefore := mustRead(t, h.bin)
	applyYAML(t, f.c, f.ns, rolloutManifest)

	eventually(t, 90*time.Second, "the install to reach dpkg's pre-invoke hook", func() bool {
		return slices.Contains(f.installOrder(t), "start "+h.id)
	})
	supervisor := f.agents[name]
	daemon, orphans := killAgent(t, supervisor)
	if !slices.ContainsFunc(orphans, func(pid int) bool { return strings.Contains(cmdline(pid), "apt-get") }) {
		t.Fatalf("no apt-get under the daemon at the kill: %v", orphans)
	}
	t.Logf("killed the supervisor and daemon %d; apt and its hook keep running: %v", daemon, orphans)

	// What is on disk is whole.
	st, err := h.status()
	if err != nil {
		t.Fatalf("the state after the kill: %v", err)
	}
	var ws struct {
		Current *protocol.WorkResult `json:"current"`
	}
	if err := json.Unmarshal(mustRead(t, filepath.Join(h.stateDir, "work.json")), &ws); err != nil {
		t.Fatalf("work.json after the kill: %v", err)
	}
	if ws.Current == nil || ws.Current.Phase != protocol.WorkRunning {
		t.Fatalf("work.json says %+v, want the interrupted work Running", ws.Current)
	}
	for _, n := range h.outboxFiles(t) {
		var r protocol.Report
		if err := json.Unmarshal(mustRead(t, filepath.Join(h.stateDir, "outbox", n)), &r); err != nil || r.IdempotencyKey == "" {
			t.Errorf("outbox file %s after the kill: %v", n, err)
		}
	}
	t.Logf("after the kill: %d reports pending, work %s Running", st.State.PendingReports, ws.Current.ID)

	// The same binary starts again and finishes the job.
	if got := mustRead(t, h.bin); !slices.Equal(got, binBefore) {
		t.Fatal("the agent binary changed")
	}
	f.agents[name] = h.run()
	eventually(t, 120*time.Second, "the rollout to succeed after the restart", func() bool {
		return f.rollout(t).Status.Phase == redflagv1.RolloutSucceeded
	})
	if v := sb.InstalledVersion(t, "redflag-demo"); v != "2.0" {
		t.Errorf("redflag-demo %s after the restart, want 2.0", v)
	}
	a := f.agent(t, name)
	if w := a.Status.CurrentWork; w == nil || w.Phase != redflagv1.WorkSucceeded || w.ID != ws.Current.ID {
		t.Errorf("currentWork %+v, want %s Succeeded", w, ws.Current.ID)
	}
	if c := f.rollout(t).Status.Counts; c.Succeeded != 1 || c.Failed != 0 {
		t.Errorf("counts %+v, want 1 succeeded", c)
	}
	if n := historyCount(a, "UpdatesInstalled"); n != 1 {
		t.Errorf("%d UpdatesInstalled history entries, want 1", n)
	}
	order := f.installOrder(t)
	if err := noOverlap(order); err != nil {
		t.Errorf("dpkg runs overlapped: %v (log %q)", err, order)
	}
	t.Logf("dpkg order log: %q; the rerun said %q, changes %+v", order, a.Status.CurrentWork.Message, a.Status.CurrentWork.Changes)
}

// waitDeliveryFailing waits until a host's daemon says (in its state file,
// as `redflag-agent status` shows) that it holds reports it cannot deliver,
// the failure naming want.
func waitDeliveryFailing(t *testing.T, h *host, want string) {
	t.Helper()
	eventually(t, 60*time.Second, "the agent to report undeliverable results ("+want+")", func() bool {
		st, err := h.status()
		return err == nil && st.State.PendingReports > 0 && strings.Contains(st.State.LastError, want)
	})
}

// checkRolloutOnce asserts what a user checks after a rollout over the
// fleet with maxConcurrent 1: Succeeded with every host counted once,
// dpkg run exactly once per host in name order, never two hosts at once,
// and one UpdatesInstalled (history and Event) per host.
func (f *fleet) checkRolloutOnce(t *testing.T, most int) {
	t.Helper()
	if most != 1 {
		t.Errorf("at most %d hosts worked at once; maxConcurrent is 1", most)
	}
	au := f.rollout(t)
	if c := au.Status.Counts; c.Total != int32(len(f.names)) || c.Succeeded != c.Total || c.Failed != 0 || c.InProgress != 0 || c.Pending != 0 {
		t.Errorf("counts %+v: want %d of %d succeeded", c, len(f.names), len(f.names))
	}
	if len(au.Status.Slots) != 0 {
		t.Errorf("slots %v left after the rollout", au.Status.Slots)
	}
	var want []string
	for _, name := range f.names {
		want = append(want, "start "+f.machineOf(name), "end "+f.machineOf(name))
	}
	if order := f.installOrder(t); !slices.Equal(order, want) {
		t.Errorf("install order (each host exactly once, one at a time):\n got %q\nwant %q", order, want)
	}
	for _, name := range f.names {
		a := f.agent(t, name)
		if v := f.sandboxes[name].InstalledVersion(t, "redflag-demo"); v != "2.0" {
			t.Errorf("%s: redflag-demo %s, want 2.0", name, v)
		}
		if w := a.Status.CurrentWork; w == nil || w.Phase != redflagv1.WorkSucceeded {
			t.Errorf("%s: currentWork %+v, want Succeeded", name, w)
		}
		if n := historyCount(a, "UpdatesInstalled"); n != 1 {
			t.Errorf("%s: %d UpdatesInstalled history entries, want exactly 1", name, n)
		}
		if n := eventOccurrences(t, f.c, client.ObjectKeyFromObject(a), "UpdatesInstalled"); n != 1 {
			t.Errorf("%s: UpdatesInstalled recorded %d times as an Event, want exactly 1", name, n)
		}
	}
}

// TestManagerKilledMidRollout: the manager (controllers and gateway in one
// process, as the chart runs it) is killed with SIGKILL twice during a
// rollout over three hosts with maxConcurrent 1: once the moment the first
// host's dpkg run ends (its result on its way, the controller about to pick
// the next host) and once in the middle of the second host's install. Each
// time it is started again (waiting out the dead leader's lease). No host
// is started twice and none is forgotten: the dpkg log shows each host
// exactly once, in order, never two at once, and the rollout ends
// Succeeded with 3 of 3.
func TestManagerKilledMidRollout(t *testing.T) {
	f := newFleet(t, "mgrkill", 3)
	first, second := f.names[0], f.names[1]
	// apt lingers 2 s after the first host's dpkg run ends, so the kill
	// lands before its result is made; the second host's install lasts a
	// few seconds, for the kill to land in.
	appendFile(t, f.sandboxes[first].Config, "DPkg::Post-Invoke { \"sleep 2\"; };\n")
	appendFile(t, f.sandboxes[second].Config, "DPkg::Pre-Invoke { \"sleep 3\"; };\n")
	stop := f.watchConcurrency(t, "demo-upgrade")
	applyYAML(t, f.c, f.ns, rolloutManifest)

	eventually(t, 90*time.Second, "the first host's dpkg run to end", func() bool {
		return slices.Contains(f.installOrder(t), "end "+f.machineOf(first))
	})
	f.c.manager.kill()
	t.Log("killed the manager as the first host finished")
	waitDeliveryFailing(t, f.hosts[first], "connection refused")
	f.c.restartManager(t)

	eventually(t, 90*time.Second, "the second host's install to start", func() bool {
		return slices.Contains(f.installOrder(t), "start "+f.machineOf(second))
	})
	f.c.manager.kill()
	t.Log("killed the manager during the second host's install")
	waitDeliveryFailing(t, f.hosts[second], "connection refused")
	f.c.restartManager(t)

	eventually(t, 150*time.Second, "the rollout to succeed", func() bool {
		return f.rollout(t).Status.Phase == redflagv1.RolloutSucceeded
	})
	f.checkRolloutOnce(t, stop())
}

const probeTokenManifest = `
apiVersion: redflag.io/v1alpha1
kind: RegistrationToken
metadata:
  name: probes
spec:
  ttl: 1h
  maxUses: 5
`

// splayFor picks a ScanSchedule splay (whole seconds, under an hour) that
// puts agentKey's never-run subsystem due between lo and hi after the
// schedule's creation: the schedule's own arithmetic, so a scan falls due
// at a chosen moment without touching the cluster then.
func splayFor(t *testing.T, agentKey, subsystem string, lo, hi time.Duration) time.Duration {
	t.Helper()
	for s := 61 * time.Second; s < time.Hour; s += time.Second {
		if o := schedule.Offset(agentKey, subsystem, s); o >= lo && o <= hi {
			return s
		}
	}
	t.Fatalf("no splay puts %s's %s scan %s-%s after creation", agentKey, subsystem, lo, hi)
	return 0
}

// outage stops kube-apiserver (etcd keeps the data) and returns a function
// that starts it again after `down` has passed since the stop began.
func outage(t *testing.T, c *cluster, down time.Duration) (stopped time.Time, restart func() time.Time) {
	t.Helper()
	began := time.Now()
	if err := c.env.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	t.Logf("kube-apiserver stopped (took %s)", time.Since(began).Round(time.Millisecond))
	return time.Now(), func() time.Time {
		time.Sleep(time.Until(began.Add(down)))
		at := time.Now()
		if err := c.env.StartAPIServer(); err != nil {
			t.Fatal(err)
		}
		t.Logf("kube-apiserver back after %s", time.Since(began).Round(time.Second))
		return at
	}
}

// TestAPIServerOutage: kube-apiserver stops for 30 seconds in the middle
// of a rollout over three hosts (maxConcurrent 1), with the manager
// deployed as the chart's gateway.separate does it: a gateway replica (no
// leader election) and a leader-elected controller replica, each started
// again whenever it exits, as a kubelet would. One outage covers both kinds
// of traffic: the first host is installing (its result is made during the
// outage), and the two hosts waiting their turn are in steady state (a
// scheduled scan falls due on one, the other's agent restarts and reports
// its start). During the outage the gateway keeps answering: check-ins from
// memory, writes (reports, enrollment) with 503 and Retry-After; the
// agents keep their reports in their outboxes. Afterwards every report
// lands exactly once (history entries and Events are counted; a probe
// retries one report with the same key), and the rollout resumes and ends
// Succeeded without exceeding maxConcurrent 1, each host installed once.
func TestAPIServerOutage(t *testing.T) {
	apttest.Require(t)
	began := time.Now()
	phase := func(what string) { t.Logf("%5.1fs %s", time.Since(began).Seconds(), what) }
	c := startControlPlane(t)
	mgrBin, _ := buildBinaries(t)
	gateway := startPod(t, "gateway", mgrBin, c.managerArgs("--controllers=false")...)
	controllers := startPod(t, "controllers", mgrBin, c.managerArgs("--gateway=false")...)
	c.waitForGateway(t, func() bool { return false }, gateway.out.String)
	f := newFleetOn(t, c, "outage", 3)
	ctx := context.Background()
	rolloutHost, scanHost, restartHost := f.names[0], f.names[1], f.names[2]
	key := func(name string) client.ObjectKey { return client.ObjectKey{Namespace: f.ns, Name: name} }
	for _, name := range f.names {
		eventually(t, 60*time.Second, name+" to check in and report its start", func() bool {
			a := f.agent(t, name)
			return a.Status.LastSeen != nil && historyCount(a, "AgentStarted") == 1
		})
	}
	// The probe enrolls with a token of its own: without the fleet's
	// labels, no rollout selects it.
	token := applyTokenIn(t, c, f.ns, probeTokenManifest)
	probe := enrollSim(t, c, token)
	if err := probe.checkIn(); err != nil {
		t.Fatal(err)
	}
	phase("fleet ready")

	// The first host's install sleeps 12 s in dpkg's pre-invoke hook: the
	// API server stops as it begins, so the install ends and its result is
	// made during the outage.
	appendFile(t, f.sandboxes[rolloutHost].Config, "DPkg::Pre-Invoke { \"sleep 12\"; };\n")
	watch := f.watchConcurrency(t, "demo-upgrade")
	applyYAML(t, c, f.ns, rolloutManifest)
	eventually(t, 90*time.Second, "the first host's install to start", func() bool {
		return slices.Contains(f.installOrder(t), "start "+f.machineOf(rolloutHost))
	})
	// A system scan falls due on the second host 8-11 s from now, inside
	// the outage (the stop takes 5 s).
	splay := splayFor(t, f.ns+"/"+scanHost, "system", 8*time.Second, 11*time.Second)
	applyYAML(t, c, f.ns, fmt.Sprintf(`
apiVersion: redflag.io/v1alpha1
kind: ScanSchedule
metadata:
  name: system-facts
spec:
  subsystems:
    system:
      interval: 2h
  splay: %s
`, splay))
	phase("first host installing; stopping the API server")
	stopped, restart := outage(t, c, 30*time.Second)

	// The gateway answers: a check-in from memory, writes with 503.
	if err := probe.checkIn(); err != nil {
		t.Errorf("a check-in during the outage: %v, want it answered from memory", err)
	}
	var refusal *hostclient.Error
	if err := probe.event("probe-1"); !errors.As(err, &refusal) || refusal.Status != 503 || refusal.Code != protocol.CodeUnavailable || refusal.RetryAfter < time.Second {
		t.Errorf("a report during the outage: %v, want 503 Unavailable with Retry-After", err)
	}
	latePub, _, _ := ed25519.GenerateKey(rand.Reader)
	if _, err := probe.client.Register(ctx, protocol.RegisterRequest{
		Token: token, MachineID: strings.Repeat("ab", 16), Hostname: "late", PublicKey: base64.StdEncoding.EncodeToString(latePub),
	}); !errors.As(err, &refusal) || refusal.Status != 503 || refusal.RetryAfter < time.Second {
		t.Errorf("an enrollment during the outage: %v, want 503 with Retry-After", err)
	}
	// The third host's agent restarts and reports its start; the report
	// cannot be delivered.
	f.agents[restartHost].stop()
	f.agents[restartHost] = f.hosts[restartHost].run()
	waitDeliveryFailing(t, f.hosts[restartHost], "503 Unavailable")
	phase("restarted agent holds its start report")
	eventually(t, 30*time.Second, "the first host's install to end during the outage", func() bool {
		return slices.Contains(f.installOrder(t), "end "+f.machineOf(rolloutHost))
	})
	waitDeliveryFailing(t, f.hosts[rolloutHost], "503 Unavailable")
	phase("first host holds its result")
	eventually(t, 30*time.Second, "the system scan to run during the outage", func() bool {
		return strings.Contains(f.agents[scanHost].out.String(), "msg=\"scan finished\" subsystem=system")
	})
	waitDeliveryFailing(t, f.hosts[scanHost], "503 Unavailable")
	phase("second host holds its scan")
	if order := f.installOrder(t); len(order) != 2 {
		t.Errorf("dpkg ran %q during the outage: no other host may start", order)
	}
	back := restart()
	phase("API server back")

	eventually(t, 150*time.Second, "the rollout to succeed", func() bool {
		return f.rollout(t).Status.Phase == redflagv1.RolloutSucceeded
	})
	phase("rollout succeeded")
	f.checkRolloutOnce(t, watch())
	// Every report kept during the outage landed, once.
	for _, name := range f.names {
		eventually(t, 60*time.Second, name+"'s outbox to empty", func() bool {
			st, err := f.hosts[name].status()
			return err == nil && st.State.PendingReports == 0 && st.State.DroppedReports == 0
		})
	}
	s := subsystem(f.agent(t, scanHost), "system")
	if s == nil || s.LastRun == nil {
		t.Fatalf("the system scan made during the outage never landed: %+v", s)
	}
	if lr := s.LastRun.Time; lr.Before(stopped.Add(-time.Second)) || lr.After(back) {
		t.Errorf("the system scan finished at %s, want inside the outage (%s to %s)", lr, stopped, back)
	}
	if n := historyCount(f.agent(t, restartHost), "AgentStarted"); n != 2 {
		t.Errorf("%s has %d AgentStarted history entries, want 2 (one before, one during the outage)", restartHost, n)
	}
	if n := eventOccurrences(t, c, key(restartHost), "AgentStarted"); n != 2 {
		t.Errorf("%s's AgentStarted recorded %d times as Events, want 2", restartHost, n)
	}
	// The probe retries its refused report with the same key, twice.
	for range 2 {
		if err := probe.event("probe-1"); err != nil {
			t.Errorf("the probe's report after the outage: %v", err)
		}
	}
	probeName := strings.SplitN(probe.id.Agent, "/", 2)[1]
	if n := historyCount(f.agent(t, probeName), "AgentStarted"); n != 1 {
		t.Errorf("the probe's report retried with one key landed %d times, want once", n)
	}

	if n := gateway.runs(); n != 1 {
		t.Errorf("the gateway replica was started %d times; it must ride out the outage", n)
	}
	t.Logf("the controller replica was started %d times (it exits when it loses its lease)", controllers.runs())
}

// agentOf finds the Agent enrolled for a host's machine ID.
func agentOf(t *testing.T, c *cluster, ns string, h *host) client.ObjectKey {
	t.Helper()
	var agents redflagv1.AgentList
	if err := c.env.Client.List(context.Background(), &agents, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	for _, a := range agents.Items {
		if a.Spec.MachineID == h.id {
			return client.ObjectKeyFromObject(&a)
		}
	}
	t.Fatalf("no Agent for machine %s", h.id)
	return client.ObjectKey{}
}

func getAgent(t *testing.T, c *cluster, key client.ObjectKey) *redflagv1.Agent {
	t.Helper()
	var a redflagv1.Agent
	if err := c.env.Client.Get(context.Background(), key, &a); err != nil {
		t.Fatal(err)
	}
	return &a
}

// fill writes a file into dir until the file system has no space left.
func fill(t *testing.T, dir, name string) {
	t.Helper()
	fh, err := os.OpenFile(filepath.Join(dir, name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	chunk := make([]byte, 4096)
	for {
		if _, err := fh.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("filling %s: %v", dir, err)
			}
			return
		}
	}
}

// daemonStarts counts the supervisor's "agent daemon started" lines.
func daemonStarts(p *process) int {
	return strings.Count(p.out.String(), "msg=\"agent daemon started\"")
}

// TestAgentLocalFaults: faults on the host itself.
//
// Full state disk: the agent's state directory is a 64 KiB tmpfs. With the
// gateway away, the agent stores reports in its outbox; then the disk is
// filled. The agent says clearly what it cannot write ("no space left on
// device"), keeps running (one daemon start, no restarts), loses none of
// the reports already stored, delivers them once the gateway is back,
// keeps checking in while the disk stays full, delivers a scan result made
// then (which cannot be stored) from memory, and writes its state again
// once space is freed.
//
// Clock ten minutes off: requests signed with a timestamp ten minutes
// ahead of (or behind) the gateway's clock are refused with 401
// StaleTimestamp and a message that names the skew and the host's clock;
// the same identity with the right clock is answered. (The agent's clock
// cannot be moved from outside the process; how the daemon reacts to this
// refusal, keeping its reports and backing off, is
// agent/internal/daemon's TestStaleTimestampKeepsReportsAndBacksOff.)
func TestAgentLocalFaults(t *testing.T) {
	c := startCluster(t)
	ns := "local"
	token := applyToken(t, c, ns, tokenManifest)

	t.Run("ClockTenMinutesOff", func(t *testing.T) {
		probe := enrollSim(t, c, token)
		for _, skew := range []time.Duration{10 * time.Minute, -10 * time.Minute} {
			probe.client.Now = func() time.Time { return time.Now().Add(skew) }
			for what, call := range map[string]func() error{
				"check-in": probe.checkIn,
				"report":   func() error { return probe.event("skewed-" + skew.String()) },
			} {
				err := call()
				var refusal *hostclient.Error
				if !errors.As(err, &refusal) || refusal.Status != 401 || refusal.Code != protocol.CodeStaleTimestamp ||
					!strings.Contains(refusal.Message, "check the host's clock") {
					t.Errorf("a %s signed %s off: %v, want 401 StaleTimestamp naming the host's clock", what, skew, err)
					continue
				}
				// The message names the skew and its side: "request
				// timestamp is 10m0s ahead of the gateway's clock ...".
				m := regexp.MustCompile(`timestamp is ([0-9hms.]+) (ahead|behind)`).FindStringSubmatch(refusal.Message)
				if m == nil {
					t.Errorf("a %s signed %s off: %q does not name the skew", what, skew, refusal.Message)
				} else if d, perr := time.ParseDuration(m[1]); perr != nil || (map[string]time.Duration{"ahead": d, "behind": -d}[m[2]]-skew).Abs() > 5*time.Second {
					t.Errorf("a %s signed %s off: %q names a skew of %s %s", what, skew, refusal.Message, m[1], m[2])
				}
			}
		}
		probe.client.Now = nil
		if err := probe.checkIn(); err != nil {
			t.Errorf("the same identity with the right clock: %v", err)
		}
	})

	// Last: it stops and restarts the manager.
	t.Run("FullStateDisk", func(t *testing.T) {
		h := newHost(t, "d15c0000000000000000000000000001")
		if err := os.MkdirAll(h.stateDir, 0o700); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", h.stateDir).CombinedOutput(); err != nil {
			t.Skipf("cannot mount a small tmpfs (needs root): %v %s", err, out)
		}
		// Registered before the agent starts, so it runs after the agent
		// is stopped.
		t.Cleanup(func() { _ = exec.Command("umount", "-l", h.stateDir).Run() })
		h.register(c, token)
		key := agentOf(t, c, ns, h)
		patchAgent(t, c, key, func(a *redflagv1.Agent) {
			a.Spec.CheckInInterval = &metav1.Duration{Duration: 5 * time.Second}
		})
		agent := h.run()
		eventually(t, 60*time.Second, "the agent to check in and report its start", func() bool {
			a := getAgent(t, c, key)
			return a.Status.LastSeen != nil && historyCount(a, "AgentStarted") == 1
		})

		// The gateway goes away; a restarted agent stores its start and
		// facts in the outbox.
		c.manager.stop()
		agent.stop()
		agent = h.run()
		eventually(t, 30*time.Second, "reports to be stored in the outbox", func() bool { return len(h.outboxFiles(t)) >= 2 })
		stored := h.outboxFiles(t)
		fill(t, h.stateDir, "filler")
		eventually(t, 60*time.Second, "the agent to say it cannot write", func() bool {
			return strings.Contains(agent.out.String(), "no space left on device")
		})
		for _, line := range strings.Split(agent.out.String(), "\n") {
			if strings.Contains(line, "no space left on device") {
				t.Logf("the agent says: %s", line)
				break
			}
		}
		if got := h.outboxFiles(t); !slices.Equal(got, stored) {
			t.Errorf("outbox on a full disk: %v, want the stored %v kept", got, stored)
		}

		// The gateway is back: the stored reports are delivered.
		c.restartManager(t)
		eventually(t, 90*time.Second, "the stored reports to be delivered", func() bool {
			return historyCount(getAgent(t, c, key), "AgentStarted") >= 2 && len(h.outboxFiles(t)) == 0
		})
		// Delivering freed space: fill the disk again and watch the agent
		// keep checking in for more than three intervals.
		fill(t, h.stateDir, "filler2")
		full := time.Now()
		eventually(t, 40*time.Second, "check-ins to keep arriving with the disk full", func() bool {
			a := getAgent(t, c, key)
			return a.Status.LastSeen != nil && a.Status.LastSeen.After(full.Add(5*time.Second))
		})
		if s, reason := agentReady(getAgent(t, c, key)); s != metav1.ConditionTrue {
			t.Errorf("Ready is %s (%s) with the disk full, want True", s, reason)
		}
		// A scan falls due while the disk is full: its result cannot be
		// stored, is kept in memory, and is delivered from there.
		applyYAML(t, c, ns, `
apiVersion: redflag.io/v1alpha1
kind: ScanSchedule
metadata:
  name: storage
spec:
  subsystems:
    storage:
      interval: 1h
`)
		eventually(t, 40*time.Second, "the storage scan made on the full disk to land", func() bool {
			return ran(getAgent(t, c, key), "storage")
		})
		if !strings.Contains(agent.out.String(), "keeping it in memory") {
			t.Errorf("the agent did not say it kept an unstorable report in memory:\n%s", tail(agent.out.String(), 3000))
		}
		if agent.exited() || daemonStarts(agent) != 1 {
			t.Fatalf("the agent exited or restarted its daemon (%d starts):\n%s", daemonStarts(agent), tail(agent.out.String(), 3000))
		}
		if n := historyCount(getAgent(t, c, key), "AgentStarted"); n != 2 {
			t.Errorf("%d AgentStarted entries, want 2 (each stored report once)", n)
		}

		// Space is freed: the state file is written again and says all
		// was delivered.
		for _, name := range []string{"filler", "filler2"} {
			if err := os.Remove(filepath.Join(h.stateDir, name)); err != nil {
				t.Fatal(err)
			}
		}
		freed := time.Now()
		eventually(t, 30*time.Second, "`redflag-agent status` to show a fresh check-in", func() bool {
			st, err := h.status()
			return err == nil && st.State.LastCheckIn != nil && st.State.LastCheckIn.After(freed) &&
				st.State.PendingReports == 0 && st.State.DroppedReports == 0
		})
	})

}

// TestCorruptedConfigIsRefusedOnce: an enrolled host's agent.json is cut
// short (a disk error, a hand edit gone wrong). `redflag-agent run` refuses
// to start with a message naming the file and what is wrong, exits 1, and
// its supervisor does not restart the daemon in a loop: the daemon runs
// once. (systemd's unit then retries every 10 s at most, RestartSec.) The
// file is left as it was for the operator, and `status` says the same.
func TestCorruptedConfigIsRefusedOnce(t *testing.T) {
	h := newHost(t, "c0ffee00000000000000000000000001")
	good := mustRead(t, filepath.Join(testenv.RepoRoot(), "agent", "internal", "config", "testdata", "v2-agent.json"))
	cut := good[:len(good)*2/3]
	if err := os.WriteFile(h.config, cut, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := h.command("run")
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	started := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 1 {
			t.Errorf("redflag-agent run with a cut config: %v, want exit status 1", err)
		}
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("redflag-agent run kept running with a cut config:\n%s", out.String())
	}
	took := time.Since(started)
	text := out.String()
	if !strings.Contains(text, "redflag-agent: config "+h.config+":") {
		t.Errorf("the output does not name the config file:\n%s", text)
	}
	if n := strings.Count(text, "msg=\"agent daemon started\""); n != 1 {
		t.Errorf("the daemon was started %d times, want once (no restart loop):\n%s", n, text)
	}
	if got := mustRead(t, h.config); !slices.Equal(got, cut) {
		t.Error("the damaged config was changed; it must be left for the operator")
	}
	st, err := h.command("status").CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(string(st), h.config) {
		t.Errorf("redflag-agent status with a cut config: %v\n%s", err, st)
	}
	t.Logf("refused in %s: %s", took.Round(time.Millisecond), strings.TrimSpace(text[strings.LastIndex(strings.TrimSpace(text), "\n")+1:]))
}
