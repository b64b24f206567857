package install

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

func TestRebootRunsTheConfiguredCommandWithoutAShell(t *testing.T) {
	if _, err := exec.LookPath("touch"); err != nil {
		t.Skip("no touch program")
	}
	dir := t.TempDir()
	// A shell would run two commands and create "a" and "b"; Reboot must
	// run one touch, with "a;touch" and "b" as its arguments.
	t.Setenv(RebootCommandEnv, "touch  "+dir+"/a;touch "+dir+"/b")
	if err := Reboot(context.Background()); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{"a;touch": true, "b": true, "a": false} {
		_, err := os.Stat(filepath.Join(dir, name))
		if (err == nil) != want {
			t.Errorf("file %q exists = %v, want %v", name, err == nil, want)
		}
	}

	t.Setenv(RebootCommandEnv, "false")
	if err := Reboot(context.Background()); err == nil {
		t.Fatal("a failing reboot command reported success")
	}
	t.Setenv(RebootCommandEnv, "/nonexistent/reboot")
	if err := Reboot(context.Background()); err == nil {
		t.Fatal("a missing reboot command reported success")
	}
}

func TestDefaultRebootCommand(t *testing.T) {
	t.Setenv(RebootCommandEnv, "")
	argv := rebootCommand()
	if len(argv) < 2 {
		t.Fatalf("default reboot command %q", argv)
	}
}
