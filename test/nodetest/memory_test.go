//go:build linux

package nodetest

import (
	"context"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/redflag-io/redflag/test/loadtest"
	"github.com/redflag-io/redflag/test/testenv"
)

// The load the memory test drives: loadAgents hosts checking in once a
// second, then the hostile-client case of test/loadtest (2,000
// connections from 16 addresses holding 1 MiB reports, slow registrations
// and slow headers) while 100 hosts keep checking in.
const (
	loadAgents      = 1000
	hostileAttacks  = 2000
	hostileSources  = 16
	loadHold        = 20 * time.Second
	loadAgentSource = 8
)

// TestChartMemoryLimitsHoldUnderLoad installs the chart with its default
// resources on the node and measures the manager pod where the kubelet
// enforces them: the container's memory cgroup, whose limit must be the
// chart's 512Mi. The load generator's fleet and then its hostile clients
// connect straight to the pod's gateway port from addresses of their own
// (on the node's loopback device), so the gateway sees each client's
// address as it would behind a LoadBalancer with externalTrafficPolicy
// Local. The pod must never be OOM-killed or restarted, its cgroup's peak
// must stay under the limit with room to spare, and no legitimate check-in
// may fail.
func TestChartMemoryLimitsHoldUnderLoad(t *testing.T) {
	tmp := t.TempDir()
	h := newHelmEnv(t, tmp)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	h.ctr("-n", "k8s.io", "images", "import", builtImage(t, imageVersion))
	h.image = imageRepo + ":" + imageVersion
	t.Cleanup(func() {
		if t.Failed() {
			h.dump(helmNamespace)
		}
	})
	chart := filepath.Join(testenv.RepoRoot(), "charts", "redflag")
	h.helm("install", helmRelease, chart, "--namespace", helmNamespace, "--create-namespace",
		"--set", "image.repository="+imageRepo, "--set", "image.tag="+imageVersion, "--set", "image.pullPolicy=Never",
		"--wait", "--timeout", "3m")
	t.Cleanup(func() { h.helm("uninstall", helmRelease, "--namespace", helmNamespace, "--wait", "--timeout", "2m") })
	h.assertPodsReady(ctx, 1)

	var pods corev1.PodList
	if err := h.c.List(ctx, &pods, client.InNamespace(helmNamespace), client.MatchingLabels{"app.kubernetes.io/instance": helmRelease}); err != nil || len(pods.Items) != 1 {
		t.Fatalf("manager pods: %v, %d", err, len(pods.Items))
	}
	pod := pods.Items[0]
	limit := pod.Spec.Containers[0].Resources.Limits[corev1.ResourceMemory]
	if want := resource.MustParse("512Mi"); limit.Cmp(want) != 0 {
		t.Fatalf("the chart's default memory limit is %s; this test measures against 512Mi", limit.String())
	}
	cg := h.memoryCgroup(pod)
	if got := cg.read(t, "memory.limit_in_bytes"); got != limit.Value() {
		t.Fatalf("the container's cgroup limit is %d bytes, the pod's %d: the kubelet does not enforce the chart's limit", got, limit.Value())
	}

	target := h.loadTarget(ctx, pod, cg)
	var figures []string
	run := func(name string, o loadtest.HostileOptions) {
		o.Target = target
		rep, err := loadtest.Hostile(ctx, o)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var out strings.Builder
		rep.Print(&out)
		peak := float64(cg.read(t, "memory.max_usage_in_bytes")) / (1 << 20)
		figures = append(figures, fmt.Sprintf("%s: container memory (cgroup usage) %.0f MiB before, %.0f MiB at most while sampled; cgroup high-water mark %.0f MiB of the %d MiB limit; %d check-ins, %d failed",
			name, rep.BaselineRSSMiB, rep.PeakRSSMiB, peak, limit.Value()>>20, rep.CheckIns, rep.CheckInErrors))
		t.Logf("%s:\n%s", name, out.String())
		if rep.CheckInErrors != 0 {
			t.Errorf("%s: %d of %d legitimate check-ins failed (first: %s)", name, rep.CheckInErrors, rep.CheckIns, rep.FirstError)
		}
		// Room to spare: the cgroup counts page cache too, and the pod
		// must survive what this test does not reach.
		if max := 0.75 * float64(limit.Value()>>20); peak > max {
			t.Errorf("%s: the container's cgroup peaked at %.0f MiB, over 75%% of the chart's %d MiB limit", name, peak, limit.Value()>>20)
		}
	}
	run("load", loadtest.HostileOptions{Agents: loadAgents, Hold: loadHold})
	run("hostile", loadtest.HostileOptions{Agents: 100, Attackers: hostileAttacks, AttackSources: hostileSources, Hold: loadHold})
	for _, f := range figures {
		t.Log(f)
	}

	if n := cg.oomKills(t); n != 0 {
		t.Errorf("the kernel OOM-killed %d processes in the manager's cgroup", n)
	}
	if err := h.c.Get(ctx, client.ObjectKeyFromObject(&pod), &pod); err != nil {
		t.Fatal(err)
	}
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.RestartCount != 0 || cs.LastTerminationState.Terminated != nil {
			t.Errorf("the manager container restarted %d times (last: %+v)", cs.RestartCount, cs.LastTerminationState.Terminated)
		}
	}
}

// memCgroup is a container's memory cgroup (v1, as this machine has).
type memCgroup struct{ dir string }

// memoryCgroup finds the cgroup of pod's container through its process.
func (h *helmEnv) memoryCgroup(pod corev1.Pod) memCgroup {
	h.t.Helper()
	id := strings.TrimPrefix(pod.Status.ContainerStatuses[0].ContainerID, "containerd://")
	pid := taskPID(h.ctr("-n", "k8s.io", "tasks", "ls"), id)
	if pid == "" {
		h.t.Fatalf("containerd runs no task %s", id)
	}
	data, err := os.ReadFile("/proc/" + pid + "/cgroup")
	if err != nil {
		h.t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		// "4:memory:/redflag-node/kubepods/burstable/pod.../<id>"
		if f := strings.SplitN(line, ":", 3); len(f) == 3 && f[1] == "memory" {
			return memCgroup{dir: filepath.Join("/sys/fs/cgroup/memory", f[2])}
		}
	}
	h.t.Fatalf("process %s has no memory cgroup (v1) in:\n%s", pid, data)
	return memCgroup{}
}

func (c memCgroup) read(t *testing.T, file string) int64 {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(c.dir, file))
	if err != nil {
		t.Fatal(err)
	}
	v, err := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return v
}

// oomKills is the cgroup's count of processes the OOM killer took.
func (c memCgroup) oomKills(t *testing.T) int64 {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(c.dir, "memory.oom_control"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "oom_kill" {
			n, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("memory.oom_control has no oom_kill line:\n%s", data)
	return 0
}

// loadTarget makes what the load generator needs to reach pod's gateway:
// a token, the gateway's CA, the pod's address, and client addresses of
// the node (removed when the test ends), routed to the pod as any node
// address is.
func (h *helmEnv) loadTarget(ctx context.Context, pod corev1.Pod, cg memCgroup) *loadtest.Target {
	t := h.t
	t.Helper()
	token := h.newToken(ctx, "load-hosts", "load")
	var secret corev1.Secret
	if err := h.c.Get(ctx, client.ObjectKey{Namespace: helmNamespace, Name: helmRelease + "-gateway-tls"}, &secret); err != nil {
		t.Fatal(err)
	}
	if !x509.NewCertPool().AppendCertsFromPEM(secret.Data["ca.crt"]) {
		t.Fatal("the gateway TLS Secret has no CA")
	}

	// Client addresses: 10.215.0.0/24, outside the cluster's pod and
	// Service ranges (hack/node.sh), as /32s on the loopback device (this
	// kernel has no dummy links): the host sends from them over the pod
	// bridge, and the pod's answers, routed back through the bridge, are
	// for an address of the host.
	addrs := make([]net.IP, loadAgentSource+hostileSources)
	for i := range addrs {
		addrs[i] = net.IPv4(10, 215, 0, byte(10+i))
		cidr := addrs[i].String() + "/32"
		_ = exec.Command("ip", "addr", "del", cidr, "dev", "lo").Run() // a killed run's
		h.run("ip", "addr", "add", cidr, "dev", "lo")
		t.Cleanup(func() { _ = exec.Command("ip", "addr", "del", cidr, "dev", "lo").Run() })
	}
	mem := func(file string) func() float64 {
		return func() float64 {
			data, err := os.ReadFile(filepath.Join(cg.dir, file))
			if err != nil {
				return 0
			}
			v, _ := strconv.ParseFloat(strings.TrimSpace(string(data)), 64)
			return v / (1 << 20)
		}
	}
	return &loadtest.Target{
		GatewayURL: fmt.Sprintf("https://%s:9443", pod.Status.PodIP),
		CAPEM:      secret.Data["ca.crt"],
		ServerName: fmt.Sprintf("%s-gateway.%s.svc", helmRelease, helmNamespace),
		Token:      token,
		// The container's memory as the kubelet and the OOM killer count it.
		AgentSources: addrs[:loadAgentSource], AttackSources: addrs[loadAgentSource:],
		MemoryMiB: mem("memory.usage_in_bytes"), HighWaterMiB: mem("memory.max_usage_in_bytes"),
	}
}
