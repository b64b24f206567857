package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
	"github.com/redflag-io/redflag/test/testenv"
)

// TestMakeRunStartsALocalFleet runs what `make run ARGS=--with-agent` runs
// (hack/dev), with no kubeconfig at hand: it must start a local control
// plane, the manager and an agent on this machine, print a kubeconfig that
// works and the enroll command, show the host as a Ready Agent with its
// real pending updates scanned within a minute, and on Ctrl-C exit 0 and
// leave none of the processes it started behind.
func TestMakeRunStartsALocalFleet(t *testing.T) {
	managerBin, agentBin := buildBinaries(t)
	binDir := filepath.Dir(managerBin)
	if filepath.Dir(agentBin) != binDir {
		t.Fatalf("manager and agent built into different directories: %s, %s", managerBin, agentBin)
	}
	devBin := filepath.Join(t.TempDir(), "redflag-dev")
	build := exec.Command("go", "build", "-o", devBin, "./hack/dev")
	build.Dir = testenv.RepoRoot()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building hack/dev: %v\n%s", err, out)
	}

	workDir := t.TempDir()
	out := &syncBuffer{}
	dev := exec.Command(devBin, "--with-agent", "--dir", workDir, "--bin", binDir, "--gateway-port", strconv.Itoa(freePort(t)))
	dev.Dir = testenv.RepoRoot()
	dev.Env = withoutEnv(os.Environ(), "KUBECONFIG")
	dev.Stdout, dev.Stderr = out, out
	if err := dev.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- dev.Wait() }()
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = dev.Process.Signal(os.Interrupt)
			select {
			case <-done:
			case <-time.After(60 * time.Second):
				_ = dev.Process.Kill()
			}
		}
		if t.Failed() {
			t.Logf("--- make run output ---\n%s", tail(out.String(), 8000))
		}
	})

	eventually(t, 3*time.Minute, "make run to say it is running", func() bool {
		select {
		case err := <-done:
			stopped = true
			t.Fatalf("make run exited early: %v", err)
		default:
		}
		return strings.Contains(out.String(), "RedFlag is running.")
	})
	printed := out.String()
	kubeconfig := regexp.MustCompile(`export KUBECONFIG=(\S+)`).FindStringSubmatch(printed)
	if kubeconfig == nil || kubeconfig[1] != filepath.Join(workDir, "kubeconfig") {
		t.Fatalf("make run printed no kubeconfig under %s:\n%s", workDir, printed)
	}
	if !regexp.MustCompile(`redflag-agent register --server https://127\.0\.0\.1:\d+ --token \S+\.\S+ --ca-file \S+`).MatchString(printed) {
		t.Errorf("make run printed no enroll command:\n%s", printed)
	}

	// The printed kubeconfig reaches the local control plane, where the
	// samples are applied.
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig[1])
	if err != nil {
		t.Fatal(err)
	}
	scheme, err := testenv.NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var sched redflagv1.ScanSchedule
	if err := c.Get(ctx, client.ObjectKey{Namespace: "default", Name: "production"}, &sched); err != nil {
		t.Errorf("the sample ScanSchedule: %v", err)
	}

	// This machine shows up as a Ready Agent with its updates scanned.
	host, _ := os.Hostname()
	var agent redflagv1.Agent
	eventually(t, 60*time.Second, "this machine to be a Ready Agent with its pending updates scanned", func() bool {
		var agents redflagv1.AgentList
		if err := c.List(ctx, &agents, client.InNamespace("default")); err != nil || len(agents.Items) != 1 {
			return false
		}
		agent = agents.Items[0]
		return agent.Status.Hostname == host && meta.IsStatusConditionTrue(agent.Status.Conditions, redflagv1.ConditionReady) &&
			agent.Status.Updates.ScannedAt != nil
	})
	t.Logf("Agent %s: %d pending updates (%d security) scanned at %s", agent.Name, agent.Status.Updates.Total,
		agent.Status.Updates.Security, agent.Status.Updates.ScannedAt)

	// Ctrl-C: exit 0, and nothing it started is left running.
	started := map[int]string{}
	for _, pid := range descendants(dev.Process.Pid) {
		started[pid] = cmdline(pid)
	}
	t.Logf("processes under make run before Ctrl-C: %d", len(started))
	if len(started) < 4 {
		t.Errorf("make run has %d processes under it (%v); want at least kube-apiserver, etcd, the manager and the agent", len(started), started)
	}
	if err := dev.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		stopped = true
		if err != nil {
			t.Errorf("make run ended with %v after Ctrl-C, want exit 0", err)
		}
	case <-time.After(90 * time.Second):
		t.Fatal("make run did not stop within 90 s of Ctrl-C")
	}
	for pid, command := range started {
		if alive(pid, command) {
			t.Errorf("left running after Ctrl-C: pid %d %s", pid, command)
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// withoutEnv drops one variable from an environment.
func withoutEnv(env []string, name string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, name+"=") {
			out = append(out, kv)
		}
	}
	return out
}

// alive says whether pid still runs the same command (not a zombie, and
// not a new process that reused the number).
func alive(pid int, command string) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	if _, rest, ok := strings.Cut(string(data), ") "); ok && strings.HasPrefix(rest, "Z") {
		return false
	}
	return cmdline(pid) == command
}
