package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// binDir holds the agent binary built once for the tests that run it.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "redflag-agent-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// agentBinary builds this command with the go tool the first time it is
// asked for, so the tests run the binary a host would run.
func agentBinary(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go tool to build the agent: %v", err)
	}
	buildOnce.Do(func() {
		binPath = filepath.Join(binDir, "redflag-agent")
		out, err := exec.Command(goTool, "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// runAgent runs the built binary with env (nil inherits) and returns its
// stdout, stderr and exit code.
func runAgent(t *testing.T, env []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(agentBinary(t), args...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("running redflag-agent %s: %v", strings.Join(args, " "), err)
		}
		code = ee.ExitCode()
	}
	return stdout.String(), stderr.String(), code
}

// TestScanUsage: scan refuses what it cannot do, in-process, before
// scanning anything.
func TestScanUsage(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"scan"}, "--once is required"},
		{[]string{"scan", "--once", "--subsystem", "disks"}, `unknown subsystem "disks"`},
		{[]string{"scan", "--once", "extra"}, `unexpected argument "extra"`},
		{[]string{"scan", "--once", "--config", "/etc/redflag/agent.json"}, "flag provided but not defined: -config"},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), tt.args, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), tt.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tt.args, code, stderr.String(), tt.want)
		}
	}
	var stdout bytes.Buffer
	if run(context.Background(), []string{"help"}, &stdout, &bytes.Buffer{}); !strings.Contains(stdout.String(), "scan --once [--json]") {
		t.Errorf("usage does not document scan:\n%s", stdout.String())
	}
}
