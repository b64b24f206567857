package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// The Windows service itself (Service Control Manager, event log) cannot
// run on Linux; these tests cover what is shared: the command line.

func TestParseServiceArgs(t *testing.T) {
	abs := func(p string) (string, error) {
		if strings.HasPrefix(p, "/") {
			return p, nil
		}
		return "/work/" + p, nil
	}
	tests := []struct {
		name    string
		args    []string
		action  string
		runArgs []string
		wantErr string
	}{
		{"install with defaults", []string{"install"}, "install", []string{"run"}, ""},
		{"install with paths made absolute", []string{"install", "--config", "conf/agent.json", "--state-dir", "/srv/state"},
			"install", []string{"run", "--config", "/work/conf/agent.json", "--state-dir", "/srv/state"}, ""},
		{"install with = flags", []string{"install", "--state-dir=st"}, "install", []string{"run", "--state-dir", "/work/st"}, ""},
		{"uninstall", []string{"uninstall"}, "uninstall", nil, ""},
		{"no action", nil, "", nil, "install or uninstall"},
		{"unknown action", []string{"start"}, "", nil, `unknown service action "start"`},
		{"uninstall takes no paths", []string{"uninstall", "--config", "x"}, "", nil, "flag provided but not defined"},
		{"stray argument", []string{"install", "extra"}, "", nil, `unexpected argument "extra"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := parseServiceArgs(tt.args, io.Discard, abs)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, errServiceUsage) {
					t.Fatalf("err = %v, want a usage error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if req.action != tt.action || !slices.Equal(req.runArgs, tt.runArgs) {
				t.Errorf("got %q %q, want %q %q", req.action, req.runArgs, tt.action, tt.runArgs)
			}
		})
	}
}

func TestParseServiceArgsAbsError(t *testing.T) {
	boom := errors.New("no working directory")
	_, err := parseServiceArgs([]string{"install", "--config", "a.json"}, io.Discard,
		func(string) (string, error) { return "", boom })
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want it to wrap %v", err, boom)
	}
}

func TestServiceLogLevel(t *testing.T) {
	for line, want := range map[string]string{
		`time=2026-01-01T00:00:00Z level=INFO msg="agent running"`:         "info",
		`time=2026-01-01T00:00:00Z level=WARN msg="check-in failed"`:       "warning",
		`time=2026-01-01T00:00:00Z level=ERROR msg="gateway refused"`:      "error",
		`time=2026-01-01T00:00:00Z level=DEBUG msg=x`:                      "info",
		`redflag-agent: config C:\ProgramData\RedFlag\agent.json: missing`: "error",
	} {
		if got := serviceLogLevel(line); got != want {
			t.Errorf("serviceLogLevel(%q) = %q, want %q", line, got, want)
		}
	}
}

// TestServiceCommandOffWindows: elsewhere the subcommand says it is for
// Windows and exits 2, and a normal process is never taken for a service.
func TestServiceCommandOffWindows(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the Windows build runs the real Service Control Manager code")
	}
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"service", "install"}, &stdout, &stderr); code != 2 {
		t.Errorf("exit %d, want 2", code)
	}
	if !strings.Contains(stderr.String(), "Windows only") {
		t.Errorf("stderr %q does not say the command is Windows only", stderr.String())
	}
	if _, ok := runAsWindowsService([]string{"run"}); ok {
		t.Error("runAsWindowsService claims this process is a Windows service")
	}
}

func TestUsageDocumentsServiceAndReleaseKey(t *testing.T) {
	var stdout bytes.Buffer
	if code := run(context.Background(), []string{"help"}, &stdout, io.Discard); code != 0 {
		t.Fatalf("help exited %d", code)
	}
	// The install script looks for --release-key in this text before it
	// passes the flag.
	for _, want := range []string{"service install|uninstall", "--release-key"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("usage does not mention %q:\n%s", want, stdout.String())
		}
	}
}
