package selfupdate

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"time"
)

// EnvSupervised is set to "1" in the daemon's environment by Supervise:
// `redflag-agent run` with it runs the daemon itself instead of another
// supervisor, and watches its stdin for the supervisor going away (see
// WatchSupervisor). It is for the supervisor only.
const EnvSupervised = "REDFLAG_SUPERVISED"

// EnvExecutable is set by Supervise in the daemon's environment to the
// agent binary's canonical path, which Executable returns in a supervised
// daemon: on trial the daemon runs from NextPath, yet an update it applies
// must replace the canonical path.
const EnvExecutable = "REDFLAG_AGENT_EXECUTABLE"

// Supervised reports whether this process is a daemon started by Supervise.
func Supervised() bool { return os.Getenv(EnvSupervised) == "1" }

// child is one daemon process.
type child struct {
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	started time.Time
	done    chan struct{}
}

// startChild starts `<path> <args>` (path is o.Executable, or the staged
// binary on trial) with EnvSupervised=1, EnvExecutable=o.Executable and a
// pipe as stdin: closing it, or the supervisor dying, ends the daemon on
// every platform; on Linux the kernel also kills it with the supervisor
// (Pdeathsig), so no orphan daemon keeps checking in.
func startChild(o SupervisorOptions, path string) (*child, error) {
	cmd := exec.Command(path, o.Args...)
	cmd.Env = append(slices.Clone(o.Env), EnvSupervised+"=1", EnvExecutable+"="+o.Executable)
	cmd.Stdout, cmd.Stderr = o.Stdout, o.Stderr
	cmd.SysProcAttr = childSysProcAttr()
	// Output copied through a pipe (a non-file writer) could be held open
	// by a grandchild (a package manager); do not wait for it forever.
	cmd.WaitDelay = 5 * time.Second
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("starting %s: %w", path, err)
	}
	if err := cmd.Start(); err != nil {
		_ = stdin.Close()
		return nil, fmt.Errorf("starting %s: %w", path, err)
	}
	c := &child{cmd: cmd, stdin: stdin, started: time.Now(), done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(c.done)
	}()
	return c, nil
}

func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// exitCode is the daemon's exit status, -1 when a signal ended it.
func (c *child) exitCode() int { return c.cmd.ProcessState.ExitCode() }

// describe says how it ended and when: "exit status 1 after 120ms".
func (c *child) describe() string {
	return fmt.Sprintf("%s after %s", c.cmd.ProcessState, time.Since(c.started).Round(time.Millisecond))
}

// stop asks the daemon to stop (SIGTERM where there are signals, and
// end-of-file on its stdin everywhere), then kills it after timeout.
func (c *child) stop(timeout time.Duration) {
	if c.exited() {
		return
	}
	_ = c.stdin.Close()
	_ = signalStop(c.cmd.Process)
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-c.done:
	case <-t.C:
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}
