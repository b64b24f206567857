//go:build linux

package dockertest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Timeouts for the daemon's life cycle; generous because CI shares two
// cores with other work.
const (
	startTimeout = 90 * time.Second
	stopTimeout  = 30 * time.Second
	cliTimeout   = 3 * time.Minute
)

// Daemon is a running private dockerd.
type Daemon struct {
	// Host is its DOCKER_HOST value, "unix://<dir>/docker.sock".
	Host string
	dir  string
	cmd  *exec.Cmd
	done chan error
}

// Start runs a private dockerd until t ends. insecure lists registries
// (host:port) it may reach over plain HTTP. It fails t when dockerd is
// missing (call Require first), when not root, or when the engine does not
// answer within 90s, quoting the daemon's log.
func Start(t testing.TB, insecure ...string) *Daemon {
	t.Helper()
	dockerd := Dockerd()
	if dockerd == "" {
		t.Fatalf("dockerd not installed; run %s", depsScript)
	}
	if os.Geteuid() != 0 {
		t.Fatalf("dockerd must run as root (this test starts its own engine)")
	}
	// A short directory: the socket path must fit in sun_path's 108 bytes.
	dir, err := os.MkdirTemp("", "rfdockerd-")
	if err != nil {
		t.Fatalf("temp dir: %v", err)
	}
	d := &Daemon{Host: "unix://" + filepath.Join(dir, "docker.sock"), dir: dir, done: make(chan error, 1)}
	t.Cleanup(func() { d.stop(t) })

	// An empty config file keeps the host's /etc/docker/daemon.json out.
	if err := os.WriteFile(filepath.Join(dir, "daemon.json"), []byte("{}\n"), 0o600); err != nil {
		t.Fatalf("daemon config: %v", err)
	}
	ns := "redflag-test-" + randomHex(6)
	args := []string{
		"--host", d.Host,
		"--data-root", filepath.Join(dir, "data"),
		"--exec-root", filepath.Join(dir, "exec"),
		"--pidfile", filepath.Join(dir, "docker.pid"),
		"--config-file", filepath.Join(dir, "daemon.json"),
		// A system containerd, if one runs, is shared: own namespaces
		// keep this engine's containers apart from anyone else's.
		"--containerd-namespace", ns,
		"--containerd-plugins-namespace", ns + "-plugins",
		// No docker0 bridge and no firewall rules: the host's network is
		// left alone; containers run with --network none.
		"--bridge=none", "--iptables=false", "--ip6tables=false",
		"--shutdown-timeout=5",
	}
	for _, r := range insecure {
		args = append(args, "--insecure-registry", r)
	}
	logf, err := os.Create(filepath.Join(dir, "dockerd.log"))
	if err != nil {
		t.Fatalf("daemon log: %v", err)
	}
	defer logf.Close() // the child holds its own descriptor
	d.cmd = exec.Command(dockerd, args...)
	d.cmd.Stdout, d.cmd.Stderr = logf, logf
	d.cmd.Env = append(os.Environ(), "DOCKER_HOST=")
	// Its own process group, so a stuck shutdown can be ended with the
	// containerd it started.
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := d.cmd.Start(); err != nil {
		t.Fatalf("starting dockerd: %v", err)
	}
	go func() { d.done <- d.cmd.Wait() }()

	if err := d.waitReady(startTimeout); err != nil {
		t.Fatalf("dockerd did not come up: %v\n--- dockerd log (tail) ---\n%s", err, d.logTail())
	}
	return d
}

// waitReady polls the engine's /_ping until it answers OK.
func (d *Daemon) waitReady(timeout time.Duration) error {
	sock := strings.TrimPrefix(d.Host, "unix://")
	client := &http.Client{
		Timeout: 2 * time.Second,
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var dl net.Dialer
			return dl.DialContext(ctx, "unix", sock)
		}},
	}
	defer client.CloseIdleConnections()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case err := <-d.done:
			d.done <- err // keep it for stop
			return fmt.Errorf("dockerd exited: %v", err)
		default:
		}
		resp, err := client.Get("http://docker/_ping")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("no answer on %s within %s", d.Host, timeout)
}

// stop removes the containers, ends dockerd (SIGTERM, then the whole
// process group with SIGKILL), detaches any mount left under the
// directory and removes it.
func (d *Daemon) stop(t testing.TB) {
	if d.cmd != nil && d.cmd.Process != nil {
		if ids, err := d.run("ps", "-aq"); err == nil && strings.TrimSpace(ids) != "" {
			if out, err := d.run(append([]string{"rm", "-f"}, strings.Fields(ids)...)...); err != nil {
				t.Logf("removing containers: %v: %s", err, out)
			}
		}
		// A network a test created is a bridge device on the host, which
		// outlives dockerd: remove them while the engine still can.
		if out, err := d.run("network", "prune", "-f"); err != nil {
			t.Logf("removing networks: %v: %s", err, out)
		}
		_ = d.cmd.Process.Signal(syscall.SIGTERM) // it may have exited already
		select {
		case <-d.done:
		case <-time.After(stopTimeout):
			t.Logf("dockerd did not stop within %s; killing its process group", stopTimeout)
			_ = syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
			<-d.done
		}
		// containerd, started by dockerd in the same group, may outlive it.
		_ = syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
	}
	unmountUnder(t, d.dir)
	if err := os.RemoveAll(d.dir); err != nil {
		t.Logf("removing %s: %v", d.dir, err)
	}
}

// unmountUnder lazily unmounts every mount point below dir, deepest first
// (overlay layers, shm), so the directory can be removed.
func unmountUnder(t testing.TB, dir string) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return
	}
	var points []string
	for line := range strings.SplitSeq(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && strings.HasPrefix(f[4], dir+"/") {
			points = append(points, f[4])
		}
	}
	for i := len(points) - 1; i >= 0; i-- {
		if err := syscall.Unmount(points[i], syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) {
			t.Logf("unmounting %s: %v", points[i], err)
		}
	}
}

// Docker runs the docker CLI against this engine and returns its trimmed
// standard output, failing t (with the output) when it fails.
func (d *Daemon) Docker(t testing.TB, args ...string) string {
	t.Helper()
	out, err := d.run(args...)
	if err != nil {
		t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(out)
}

// TryDocker runs the docker CLI against this engine like Docker, but
// returns its combined output and error instead of failing t: for
// commands expected to fail.
func (d *Daemon) TryDocker(args ...string) (string, error) {
	out, err := d.run(args...)
	return strings.TrimSpace(out), err
}

// Logs is a container's log, stdout and stderr together (docker logs
// replays a container's stderr on its own stderr, which TryDocker drops
// on success), or the error that kept it from being read.
func (d *Daemon) Logs(container string, tail int) string {
	out, err := d.run("logs", "--tail", strconv.Itoa(tail), container)
	if err != nil {
		return fmt.Sprintf("(docker logs: %v) %s", err, out)
	}
	return out
}

// run executes the docker CLI with this engine, a private CLI config (the
// host's logins stay untouched) and the classic builder, which needs no
// buildx plugin.
func (d *Daemon) run(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Env = append(os.Environ(),
		"DOCKER_HOST="+d.Host,
		"DOCKER_CONFIG="+filepath.Join(d.dir, "cli"),
		"DOCKER_BUILDKIT=0",
		"DOCKER_CLI_HINTS=false",
	)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if len(args) > 0 && args[0] == "logs" {
		cmd.Stderr = &stdout // the container's two streams, interleaved
	}
	if err := cmd.Run(); err != nil {
		return stdout.String() + stderr.String(), err
	}
	return stdout.String(), nil
}

// logTail is the end of the daemon's log, for a failure message.
func (d *Daemon) logTail() string {
	b, err := os.ReadFile(filepath.Join(d.dir, "dockerd.log"))
	if err != nil {
		return err.Error()
	}
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on Linux
	return hex.EncodeToString(b)
}
