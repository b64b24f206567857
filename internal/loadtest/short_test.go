package loadtest

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/redflag-io/redflag/internal/testenv"
)

// TestShortLoad is the short version of hack/loadgen that runs in `make
// test`, so a regression in the check-in path shows. Its thresholds are
// loose (a tenth of what the full run measures) because the machine is
// shared; docs/benchmarks.md has the real figures.
func TestShortLoad(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "redflag-manager")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = testenv.RepoRoot()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the manager: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	rep, err := Run(ctx, Options{
		// Paced below the per-agent limit (2/s): 400/s over 300 agents.
		Agents: 300, Concurrency: 64, Duration: 5 * time.Second, ManagerBin: bin,
		Sources: 16, RegisterConcurrency: 16, Rate: 400,
	})
	if err != nil {
		t.Fatal(err)
	}
	rep.Print(testWriter{t})
	if rep.Errors != 0 {
		t.Errorf("%d check-ins failed (first: %s)", rep.Errors, rep.FirstError)
	}
	if rep.CheckInsPerS < 300 {
		t.Errorf("%.0f check-ins/s paced at 400/s, want at least 300 even on a busy machine", rep.CheckInsPerS)
	}
	if rep.P99 > 500*time.Millisecond {
		t.Errorf("p99 %s at 400 check-ins/s", rep.P99)
	}
	// Liveness writes aside (none are due within seconds of enrolling),
	// unchanged check-ins write nothing.
	if rep.WritesPerCheckIn > 0.01 {
		t.Errorf("%.4f API writes per unchanged check-in, want about 0", rep.WritesPerCheckIn)
	}
	if rep.ManagerRSSMiB > 300 {
		t.Errorf("manager RSS %.0f MiB with 300 agents", rep.ManagerRSSMiB)
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}
