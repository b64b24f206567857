package loadtest

import (
	"context"
	"maps"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/redflag-io/redflag/test/testenv"
)

// TestShortLoad is the short version of hack/loadgen that runs in `make
// test`, so a regression in the check-in path shows. Its thresholds are
// loose (a tenth of what the full run measures) because the machine is
// shared; docs/benchmarks.md has the real figures.
//
// It also runs the optional measures once: a fifth of the fleet in
// heartbeat mode must be told to check in every 5 s (and the rest not), and
// a new ScanSchedule and a new AgentUpdate must reach every agent's check-in
// answer within 30 s, the rollout's first host within 10 s (DESIGN.md's
// target is one heartbeat interval, 5 s; the slack is for a busy machine).
func TestShortLoad(t *testing.T) {
	bin := buildManager(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	rep, err := Run(ctx, Options{
		// Paced below the per-agent limit (2/s): 400/s over 300 agents.
		Agents: 300, Concurrency: 64, Duration: 5 * time.Second, ManagerBin: bin,
		Sources: 16, RegisterConcurrency: 16, Rate: 400,
		HeartbeatShare: 0.2, SchedulePhase: true, ScanReports: true, RolloutPhase: true, PhaseTimeout: 45 * time.Second,
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
	if sc := rep.Scans; sc == nil || sc.Errors != 0 || sc.Reports != int64(rep.Agents) {
		t.Errorf("scan reports: %v; want every agent's accepted", sc)
	} else {
		// One status write per new inventory; a repeat that changes
		// nothing but the time writes nothing (the gateway's ledger).
		if sc.WritesPerReport > 1.5 || sc.WritesPerReport < 0.9 {
			t.Errorf("%.2f API writes per new scan report, want about one (the status)", sc.WritesPerReport)
		}
		if sc.WritesPerRepeat > 0.01 {
			t.Errorf("%.4f API writes per unchanged scan report, want none", sc.WritesPerRepeat)
		}
	}
	if rep.ManagerRSSMiB > 300 {
		t.Errorf("manager RSS %.0f MiB with 300 agents", rep.ManagerRSSMiB)
	}

	// spec.heartbeat.until ahead means "check in every 5 s"; the other
	// agents keep the default interval, a minute.
	if want := map[time.Duration]int{5 * time.Second: 60}; rep.HeartbeatAgents != 60 || rep.HeartbeatTold != 60 || !maps.Equal(rep.HeartbeatNext, want) {
		t.Errorf("%d agents in heartbeat mode, %d told 5s with heartbeatUntil ahead, told next check-in %v; want 60, 60, %v",
			rep.HeartbeatAgents, rep.HeartbeatTold, rep.HeartbeatNext, want)
	}
	if want := map[time.Duration]int{time.Minute: 240}; !maps.Equal(rep.OthersNext, want) {
		t.Errorf("agents not in heartbeat mode were told next check-in %v, want %v", rep.OthersNext, want)
	}

	checkTimeToWork(t, "a new ScanSchedule's scan", rep.Schedule, 300, 0)
	// A rollout starts at most 250 hosts at once (status.slots is bounded),
	// and the simulated hosts never finish, so 250 of the 300 get work.
	checkTimeToWork(t, "a new AgentUpdate's work", rep.Rollout, 250, 10*time.Second)
}

// checkTimeToWork wants every one of want agents to have had it in a
// check-in answer within 30 s of the create, the first within first (when
// set), and the phase's check-ins to have succeeded.
func checkTimeToWork(t *testing.T, what string, got *TimeToWork, want int, first time.Duration) {
	t.Helper()
	if got == nil {
		t.Errorf("%s: the phase did not run", what)
		return
	}
	if got.Got != want {
		t.Errorf("%s reached %d agents within %s, want %d", what, got.Got, got.Timeout, want)
	}
	if got.Got > 0 && got.Last > 30*time.Second {
		t.Errorf("%s reached the last agent %s after the create, want within 30s", what, got.Last.Round(time.Millisecond))
	}
	if first > 0 && got.Got > 0 && got.First > first {
		t.Errorf("%s reached the first agent %s after the create, want within %s", what, got.First.Round(time.Millisecond), first)
	}
	if got.Errors != 0 {
		t.Errorf("%s: %d check-ins failed during the phase (first: %s)", what, got.Errors, got.FirstError)
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

// buildManager builds the manager binary from this tree for one test.
func buildManager(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "redflag-manager")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = testenv.RepoRoot()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the manager: %v\n%s", err, out)
	}
	return bin
}
