package scan

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"
)

// DefaultMaxOutput bounds what Run keeps of each output stream.
const DefaultMaxOutput = 32 << 20

// waitDelay is how long Run waits for output pipes after the process has
// exited or been killed (a grandchild may hold them open).
const waitDelay = 5 * time.Second

var (
	// ErrNotInstalled is wrapped when the program cannot be found: the
	// package manager is simply absent from this host.
	ErrNotInstalled = errors.New("package manager not installed")
	// ErrOutputTooLarge is wrapped when a stream exceeds its bound.
	ErrOutputTooLarge = errors.New("command output too large")
)

// Command is one run of a package manager. It never goes through a shell:
// Path is executed with exactly Args.
type Command struct {
	// Path is the program, looked up in PATH when it has no separator.
	Path string
	// Args are the fixed arguments, without the program name.
	Args []string
	// Env entries (KEY=VALUE) override the inherited environment, which is
	// otherwise passed through unchanged (APT_CONFIG, proxies, ...).
	Env []string
	// OKExit lists non-zero exit codes that are not failures, such as
	// dnf check-update's 100.
	OKExit []int
	// MaxOutput bounds each of stdout and stderr; 0 means
	// DefaultMaxOutput.
	MaxOutput int
}

// Result is what a finished command produced.
type Result struct {
	Stdout   []byte
	Stderr   []byte
	ExitCode int
}

// ExitError is returned when the command exits with a code that is neither
// 0 nor in OKExit.
type ExitError struct {
	Path     string
	ExitCode int
	// Stderr is the cleaned tail of the command's standard error.
	Stderr string
	Err    *exec.ExitError
}

func (e *ExitError) Error() string {
	if e.Stderr == "" {
		return fmt.Sprintf("%s exited with status %d", e.Path, e.ExitCode)
	}
	return fmt.Sprintf("%s exited with status %d: %s", e.Path, e.ExitCode, e.Stderr)
}

func (e *ExitError) Unwrap() error { return e.Err }

// Run executes c and waits for it, killing it when ctx ends. A context
// error is returned wrapped, so errors.Is(err, context.DeadlineExceeded)
// tells a timeout. The Result is returned even with an error.
func (c Command) Run(ctx context.Context) (Result, error) {
	limit := c.MaxOutput
	if limit <= 0 {
		limit = DefaultMaxOutput
	}
	name := c.Path
	if _, err := exec.LookPath(c.Path); err != nil {
		return Result{ExitCode: -1}, fmt.Errorf("%w: %s: %w", ErrNotInstalled, name, err)
	}
	cmd := exec.CommandContext(ctx, c.Path, c.Args...)
	cmd.Env = append(os.Environ(), c.Env...)
	cmd.Stdin = nil
	cmd.WaitDelay = waitDelay
	killGroup(cmd)
	stdout := &capped{limit: limit}
	stderr := &capped{limit: limit}
	cmd.Stdout, cmd.Stderr = stdout, stderr

	err := cmd.Run()
	res := Result{Stdout: stdout.buf.Bytes(), Stderr: stderr.buf.Bytes(), ExitCode: cmd.ProcessState.ExitCode()}
	if err != nil && ctx.Err() != nil {
		return res, fmt.Errorf("running %s: %w", name, context.Cause(ctx))
	}
	if stdout.over || stderr.over {
		return res, fmt.Errorf("running %s: %w (over %d bytes)", name, ErrOutputTooLarge, limit)
	}
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return res, nil
	case errors.As(err, &exitErr):
		if exitErr.Exited() && slices.Contains(c.OKExit, res.ExitCode) {
			return res, nil
		}
		return res, &ExitError{Path: name, ExitCode: res.ExitCode, Stderr: tail(res.Stderr), Err: exitErr}
	default:
		return res, fmt.Errorf("running %s: %w", name, err)
	}
}

// tail returns the last few non-empty lines of b, cleaned and bounded, for
// an error message.
func tail(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 3 {
		lines = lines[len(lines)-3:]
	}
	for i, l := range lines {
		lines[i] = Clean(l, 300)
	}
	return Clean(strings.Join(lines, " | "), 1000)
}

// capped keeps the first limit bytes written and notes any excess. It
// never fails a write, so the child is never blocked on a full pipe.
type capped struct {
	buf   bytes.Buffer
	limit int
	over  bool
}

func (w *capped) Write(p []byte) (int, error) {
	room := w.limit - w.buf.Len()
	if len(p) > room {
		w.over = true
		if room > 0 {
			w.buf.Write(p[:room])
		}
		return len(p), nil
	}
	w.buf.Write(p)
	return len(p), nil
}
