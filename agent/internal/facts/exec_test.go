package facts

import (
	"context"
	"errors"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestRunCommand(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("uses sh")
	}
	out, code, err := RunCommand(context.Background(), "sh", "-c", "echo $LC_ALL; exit 1")
	if err != nil || code != 1 || strings.TrimSpace(string(out)) != "C" {
		t.Errorf("got %q %d %v, want C locale output and exit 1 without error", out, code, err)
	}

	if _, _, err := RunCommand(context.Background(), "redflag-no-such-command"); !errors.Is(err, exec.ErrNotFound) {
		t.Errorf("missing command: %v", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, _, err := RunCommand(ctx, "sleep", "30"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("timeout: %v", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Error("the timeout did not stop the command")
	}

	out, _, err = RunCommand(context.Background(), "sh", "-c", "head -c 1000000 /dev/zero")
	if err != nil || len(out) != maxCommandOutput {
		t.Errorf("output %d bytes, %v; want it capped at %d", len(out), err, maxCommandOutput)
	}
}
