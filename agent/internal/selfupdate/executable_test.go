package selfupdate

import (
	"os"
	"path/filepath"
	"testing"
)

// TestExecutableOfSupervisedDaemon: a daemon on trial runs from <exe>.next
// but must update <exe>, which its supervisor passes it; anything else
// finds its own binary.
func TestExecutableOfSupervisedDaemon(t *testing.T) {
	own, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	own, _ = filepath.EvalSymlinks(own)
	canonical := filepath.Join(t.TempDir(), "redflag-agent")

	t.Setenv(EnvExecutable, canonical)
	t.Setenv(EnvSupervised, "1")
	if got, err := Executable(); err != nil || got != canonical {
		t.Errorf("supervised: Executable() = %q, %v; want %q", got, err, canonical)
	}
	t.Setenv(EnvExecutable, "relative/redflag-agent")
	if got, err := Executable(); err == nil {
		t.Errorf("supervised with a relative path: Executable() = %q; want an error", got)
	}
	// Only the supervisor's word counts: without EnvSupervised the variable
	// is ignored.
	t.Setenv(EnvExecutable, canonical)
	t.Setenv(EnvSupervised, "")
	if got, err := Executable(); err != nil || got != own {
		t.Errorf("unsupervised: Executable() = %q, %v; want %q", got, err, own)
	}
}
