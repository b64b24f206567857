package installer

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/redflag-io/redflag/agent/internal/scan"
)

func TestRunInstallToleratesLongOutputOfASuccess(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh to stand in for a package manager")
	}
	chatty := "i=0; while [ $i -lt 500 ]; do echo 0123456789; i=$((i+1)); done"
	res, err := RunInstall(context.Background(), scan.Command{Path: "sh", Args: []string{"-c", chatty}, MaxOutput: 100})
	if err != nil {
		t.Fatalf("a successful install with long output failed: %v", err)
	}
	if len(res.Stdout) != 100 {
		t.Fatalf("kept %d bytes, want the bound of 100", len(res.Stdout))
	}

	_, err = RunInstall(context.Background(), scan.Command{Path: "sh", Args: []string{"-c", chatty + "; echo 'E: broken' >&2; exit 100"}, MaxOutput: 100})
	if err == nil || !strings.Contains(err.Error(), "status 100") || !strings.Contains(err.Error(), "E: broken") {
		t.Fatalf("a failing install with long output: err = %v, want its status and stderr", err)
	}

	_, err = RunInstall(context.Background(), scan.Command{Path: "sh", Args: []string{"-c", "echo 'E: nope' >&2; exit 1"}})
	var ee *scan.ExitError
	if !errors.As(err, &ee) || ee.ExitCode != 1 {
		t.Fatalf("a failing install: err = %v, want *scan.ExitError", err)
	}
}

func TestTail(t *testing.T) {
	in := []byte("one\n\ntwo\nprogress 10%\rprogress 100%\r\nthree\n")
	if got, want := Tail(in, 3), "two | progress 100% | three"; got != want {
		t.Fatalf("Tail = %q, want %q", got, want)
	}
	if got := Tail(nil, 3); got != "" {
		t.Fatalf("Tail(nil) = %q", got)
	}
}
