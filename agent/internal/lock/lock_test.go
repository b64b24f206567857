package lock

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestSecondAcquireInSameProcessIsRefused(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state") // created by Acquire
	first, err := Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	if first.Path() != filepath.Join(dir, "agent.lock") {
		t.Errorf("path %s", first.Path())
	}

	second, err := Acquire(dir)
	if err == nil {
		_ = second.Release()
		t.Fatal("second Acquire succeeded while the first holds the lock")
	}
	var held *HeldError
	if !errors.As(err, &held) || !errors.Is(err, ErrHeld) {
		t.Fatalf("error %v is not a HeldError", err)
	}
	if held.PID != os.Getpid() {
		t.Errorf("holder pid %d, want %d", held.PID, os.Getpid())
	}
	if msg := err.Error(); !strings.Contains(msg, "process "+strconv.Itoa(os.Getpid())) || !strings.Contains(msg, first.Path()) {
		t.Errorf("message does not name the holder and file: %s", msg)
	}

	if err := first.Release(); err != nil {
		t.Fatal(err)
	}
	if err := first.Release(); err != nil {
		t.Errorf("second Release: %v", err)
	}
	if b, _ := os.ReadFile(first.Path()); len(b) != 0 {
		t.Errorf("lock file still holds %q after release", b)
	}
	third, err := Acquire(dir)
	if err != nil {
		t.Fatalf("Acquire after Release: %v", err)
	}
	_ = third.Release()
}

func TestAcquireReportsUnusableStateDir(t *testing.T) {
	file := filepath.Join(t.TempDir(), "not-a-dir")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Acquire(file); err == nil || errors.Is(err, ErrHeld) {
		t.Errorf("Acquire on a file = %v, want a plain error", err)
	}
}

// Environment of the helper process started by the cross-process tests.
const (
	helperDir  = "REDFLAG_LOCK_TEST_DIR"
	helperMode = "REDFLAG_LOCK_TEST_MODE"
	exitHeld   = 3
)

// TestHelperProcess is not a test: it is the second agent process, run by
// re-executing this test binary.
func TestHelperProcess(t *testing.T) {
	dir := os.Getenv(helperDir)
	if dir == "" {
		t.Skip("helper process only")
	}
	l, err := Acquire(dir)
	var held *HeldError
	switch {
	case errors.As(err, &held):
		fmt.Printf("held pid=%d: %v\n", held.PID, err)
		os.Exit(exitHeld)
	case err != nil:
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println("locked")
	if os.Getenv(helperMode) == "hold" {
		// Hold until the parent closes stdin (or kills us).
		_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
	}
	if err := l.Release(); err != nil {
		fmt.Println("release:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

func helper(t *testing.T, dir, mode string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), helperDir+"="+dir, helperMode+"="+mode)
	return cmd
}

func TestOtherProcessIsRefusedAndToldOurPID(t *testing.T) {
	dir := t.TempDir()
	l, err := Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Release() }()

	out, err := helper(t, dir, "try").CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != exitHeld {
		t.Fatalf("helper: %v\n%s", err, out)
	}
	if want := fmt.Sprintf("held pid=%d", os.Getpid()); !strings.Contains(string(out), want) {
		t.Errorf("helper output %q, want %q", out, want)
	}

	// Once released, another process gets it.
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	if out, err := helper(t, dir, "try").CombinedOutput(); err != nil || !strings.Contains(string(out), "locked") {
		t.Fatalf("helper after release: %v\n%s", err, out)
	}
}

func TestLockOfKilledProcessIsFreed(t *testing.T) {
	dir := t.TempDir()
	cmd := helper(t, dir, "hold")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = stdin.Close(); _ = cmd.Process.Kill(); _ = cmd.Wait() }()

	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(stdout).ReadString('\n')
		line <- s
	}()
	select {
	case s := <-line:
		if strings.TrimSpace(s) != "locked" {
			t.Fatalf("helper said %q", s)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("helper did not take the lock")
	}

	_, err = Acquire(dir)
	var held *HeldError
	if !errors.As(err, &held) || held.PID != cmd.Process.Pid {
		t.Fatalf("Acquire while the helper holds it = %v, want held by pid %d", err, cmd.Process.Pid)
	}

	// A crash (SIGKILL, no cleanup) must not leave the lock stuck.
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	l, err := Acquire(dir)
	if err != nil {
		t.Fatalf("Acquire after the holder died: %v", err)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
}

// fullDisk behaves as the lock file does on a full filesystem: truncating
// frees space and works, writing the pid fails with ENOSPC.
type fullDisk struct{ f *os.File }

func (d fullDisk) Truncate(size int64) error { return d.f.Truncate(size) }

func (fullDisk) WriteAt([]byte, int64) (int, error) {
	return 0, &os.PathError{Op: "write", Path: "agent.lock", Err: syscall.ENOSPC}
}

func TestFullDiskKeepsTheLockWithoutAPID(t *testing.T) {
	dir := t.TempDir()
	l, err := acquire(dir, func(f *os.File) pidFile { return fullDisk{f} })
	if err != nil {
		t.Fatalf("Acquire on a full disk = %v, want the lock held with a warning", err)
	}
	defer func() { _ = l.Release() }()

	w := l.PIDWarning()
	if !errors.Is(w, syscall.ENOSPC) {
		t.Fatalf("PIDWarning = %v, want one wrapping ENOSPC", w)
	}
	if !strings.Contains(w.Error(), l.Path()) || !strings.Contains(w.Error(), "pid") {
		t.Errorf("warning does not name the lock file and the pid: %v", w)
	}

	// The lock itself is held: another process is refused, and told only
	// that "another process" holds it, since no pid was recorded.
	out, err := helper(t, dir, "try").CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != exitHeld {
		t.Fatalf("helper while the full-disk lock is held: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "held pid=0") || !strings.Contains(string(out), "another process holds") {
		t.Errorf("helper output %q, want a refusal naming no pid", out)
	}

	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	if out, err := helper(t, dir, "try").CombinedOutput(); err != nil || !strings.Contains(string(out), "locked") {
		t.Fatalf("helper after release: %v\n%s", err, out)
	}
}

func TestPIDWarningIsNilWhenThePIDIsWritten(t *testing.T) {
	l, err := Acquire(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Release() }()
	if w := l.PIDWarning(); w != nil {
		t.Errorf("PIDWarning = %v on a healthy disk", w)
	}
}
