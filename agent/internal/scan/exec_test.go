package scan

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func requireSh(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh on this machine to stand in for a package manager")
	}
}

func TestRunInheritsAndOverridesEnv(t *testing.T) {
	requireSh(t)
	t.Setenv("REDFLAG_SCAN_TEST", "inherited")
	t.Setenv("LANG", "de_DE.UTF-8")
	res, err := Command{
		Path: "sh",
		Args: []string{"-c", `printf '%s %s' "$REDFLAG_SCAN_TEST" "$LANG"`},
		Env:  []string{"LANG=C"},
	}.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := string(res.Stdout); got != "inherited C" {
		t.Fatalf("stdout = %q, want %q", got, "inherited C")
	}
}

func TestRunExitCodes(t *testing.T) {
	requireSh(t)
	res, err := Command{Path: "sh", Args: []string{"-c", "exit 100"}, OKExit: []int{100}}.Run(context.Background())
	if err != nil || res.ExitCode != 100 {
		t.Fatalf("allowed exit: res=%+v err=%v", res, err)
	}
	_, err = Command{Path: "sh", Args: []string{"-c", "echo 'E: broken' >&2; exit 1"}, OKExit: []int{100}}.Run(context.Background())
	var ee *ExitError
	if !errors.As(err, &ee) || ee.ExitCode != 1 || !strings.Contains(err.Error(), "E: broken") {
		t.Fatalf("failing exit: err=%v", err)
	}
	var xe *exec.ExitError
	if !errors.As(err, &xe) {
		t.Fatalf("ExitError does not unwrap to *exec.ExitError: %v", err)
	}
}

func TestRunNotInstalled(t *testing.T) {
	_, err := Command{Path: "redflag-no-such-package-manager"}.Run(context.Background())
	if !errors.Is(err, ErrNotInstalled) || !errors.Is(err, exec.ErrNotFound) {
		t.Fatalf("err = %v, want ErrNotInstalled wrapping exec.ErrNotFound", err)
	}
}

func TestRunTimeout(t *testing.T) {
	requireSh(t)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := Command{Path: "sh", Args: []string{"-c", "sleep 30"}}.Run(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("Run took %v after the deadline", d)
	}
}

func TestRunOutputCap(t *testing.T) {
	requireSh(t)
	res, err := Command{
		Path:      "sh",
		Args:      []string{"-c", "i=0; while [ $i -lt 2000 ]; do echo 0123456789; i=$((i+1)); done"},
		MaxOutput: 1000,
	}.Run(context.Background())
	if !errors.Is(err, ErrOutputTooLarge) {
		t.Fatalf("err = %v, want ErrOutputTooLarge", err)
	}
	if len(res.Stdout) != 1000 {
		t.Fatalf("kept %d bytes, want 1000", len(res.Stdout))
	}
}
