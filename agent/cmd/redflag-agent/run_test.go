//go:build unix

package main

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redflag-io/redflag/agent/internal/config"
	"github.com/redflag-io/redflag/agent/internal/lock"
)

// agentHost is an enrolled host whose gateway is never there: `run` starts
// and keeps retrying its check-in, which is what these tests need.
type agentHost struct {
	config, stateDir string
}

func newAgentHost(t *testing.T) agentHost {
	t.Helper()
	c := config.New()
	c.ServerURL, c.AgentName, c.Namespace, c.MachineID = "https://127.0.0.1:1", "host-1", "default", "0123456789abcdef0123456789abcdef"
	_, key, _ := ed25519.GenerateKey(nil)
	if err := c.SetKey(key); err != nil {
		t.Fatal(err)
	}
	workPub, _, _ := ed25519.GenerateKey(nil)
	c.WorkPublicKey = base64.StdEncoding.EncodeToString(workPub)
	dir := t.TempDir()
	h := agentHost{config: filepath.Join(dir, "agent.json"), stateDir: filepath.Join(dir, "state")}
	if err := c.Save(h.config); err != nil {
		t.Fatal(err)
	}
	return h
}

// runningAgent is `redflag-agent run` as a separate process.
type runningAgent struct {
	cmd  *exec.Cmd
	out  *lockedBuffer
	done chan struct{}
}

func (h agentHost) start(t *testing.T, extra ...string) *runningAgent {
	t.Helper()
	args := append([]string{"run", "--config", h.config, "--state-dir", h.stateDir}, extra...)
	a := &runningAgent{cmd: exec.Command(agentBinary(t), args...), out: &lockedBuffer{}, done: make(chan struct{})}
	a.cmd.Stdout, a.cmd.Stderr = a.out, a.out
	// An orphaned daemon would hold the output pipe open: do not wait for
	// it, so that failure shows as a failure, not a hang.
	a.cmd.WaitDelay = 2 * time.Second
	if err := a.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = a.cmd.Wait(); close(a.done) }()
	t.Cleanup(func() {
		_ = a.cmd.Process.Kill()
		<-a.done
		if t.Failed() {
			t.Logf("--- redflag-agent run output ---\n%s", a.out.String())
		}
	})
	return a
}

// daemonPID waits for a daemon to hold the agent lock and returns its pid.
func (h agentHost) daemonPID(t *testing.T) int {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		data, _ := os.ReadFile(filepath.Join(h.stateDir, lock.FileName))
		if pid, err := strconv.Atoi(strings.TrimSpace(string(data))); err == nil && processAlive(pid) {
			return pid
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("no daemon took the agent lock within 20s")
	return 0
}

func (a *runningAgent) wait(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case <-a.done:
		return a.cmd.ProcessState.ExitCode()
	case <-time.After(timeout):
		t.Fatalf("redflag-agent run did not exit within %s", timeout)
		return 0
	}
}

func processAlive(pid int) bool { return pid > 0 && syscall.Kill(pid, 0) == nil }

func waitGone(t *testing.T, pid int, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for processAlive(pid) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("%s (pid %d) still runs", what, pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRunSupervisesAndStopsOnSIGTERM: `run` is a supervisor with the
// daemon as its child; SIGTERM stops both, with exit status 0.
func TestRunSupervisesAndStopsOnSIGTERM(t *testing.T) {
	h := newAgentHost(t)
	a := h.start(t)
	daemon := h.daemonPID(t)
	if daemon == a.cmd.Process.Pid {
		t.Fatal("the daemon runs in the supervisor's process")
	}
	// A second agent on the same state directory is refused at once,
	// supervised or not.
	for _, extra := range [][]string{nil, {"--no-supervisor"}} {
		args := append([]string{"run", "--config", h.config, "--state-dir", h.stateDir}, extra...)
		out, err := exec.Command(agentBinary(t), args...).CombinedOutput()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(string(out), "already running") {
			t.Errorf("second run %v: %v\n%s", extra, err, out)
		}
	}
	if err := a.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := a.wait(t, 20*time.Second); code != 0 {
		t.Errorf("exit status %d after SIGTERM, want 0", code)
	}
	waitGone(t, daemon, "the daemon")
}

// TestRunKilledSupervisorTakesDaemonWith: a supervisor killed outright
// (SIGKILL, OOM) leaves no orphan daemon checking in.
func TestRunKilledSupervisorTakesDaemonWith(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("Pdeathsig is Linux-only; elsewhere the daemon notices its stdin closing")
	}
	h := newAgentHost(t)
	a := h.start(t)
	daemon := h.daemonPID(t)
	if err := a.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	a.wait(t, 5*time.Second)
	waitGone(t, daemon, "the daemon of a killed supervisor")
}

// TestRunNoSupervisor: --no-supervisor runs the daemon in the process
// itself, for service managers that restart it.
func TestRunNoSupervisor(t *testing.T) {
	h := newAgentHost(t)
	a := h.start(t, "--no-supervisor")
	if pid := h.daemonPID(t); pid != a.cmd.Process.Pid {
		t.Errorf("the lock is held by pid %d, want the process itself (%d)", pid, a.cmd.Process.Pid)
	}
	_ = a.cmd.Process.Signal(syscall.SIGTERM)
	if code := a.wait(t, 20*time.Second); code != 0 {
		t.Errorf("exit status %d after SIGTERM, want 0", code)
	}
}

// TestRunNotEnrolledExitsOnce: a daemon that cannot start is not
// restarted in a loop; `run` exits 1 with its reason.
func TestRunNotEnrolledExitsOnce(t *testing.T) {
	dir := t.TempDir()
	start := time.Now()
	_, stderr, code := runAgent(t, os.Environ(), "run", "--config", filepath.Join(dir, "missing.json"), "--state-dir", filepath.Join(dir, "state"))
	if code != 1 || !strings.Contains(stderr, "register") || strings.Count(stderr, "redflag-agent register") != 1 {
		t.Errorf("exit %d, stderr:\n%s\nwant 1 and one hint to register", code, stderr)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("took %s", took)
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
