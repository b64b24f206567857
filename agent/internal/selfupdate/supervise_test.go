//go:build unix

// The supervisor tests run shell scripts and use Unix signals.

package selfupdate

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redflag-io/redflag/agent/internal/lock"
	"github.com/redflag-io/redflag/agent/internal/outbox"
	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
	"github.com/redflag-io/redflag/internal/protocol"
)

// supervision is a Supervise running in the test process.
type supervision struct {
	cancel context.CancelFunc
	done   chan error
	out    *syncBuffer
}

func startSupervise(t *testing.T, o SupervisorOptions) *supervision {
	t.Helper()
	s := &supervision{done: make(chan error, 1), out: &syncBuffer{}}
	o.Stdout, o.Stderr = s.out, s.out
	o.Log = slog.New(slog.NewTextHandler(s.out, nil))
	if o.Env == nil {
		o.Env = os.Environ()
	}
	if o.MinBackoff == 0 {
		o.MinBackoff = 50 * time.Millisecond
	}
	o.PollInterval = 50 * time.Millisecond
	o.StopTimeout = 5 * time.Second
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	go func() { s.done <- Supervise(ctx, o) }()
	t.Cleanup(func() {
		s.stop(t)
		if t.Failed() {
			t.Logf("--- supervisor and daemon output ---\n%s", s.out.String())
		}
	})
	return s
}

// stop ends the supervisor as SIGTERM would and returns its error.
func (s *supervision) stop(t *testing.T) error {
	t.Helper()
	s.cancel()
	select {
	case err := <-s.done:
		s.done <- err // for a second stop
		return err
	case <-time.After(15 * time.Second):
		t.Fatal("Supervise did not return within 15s of being stopped")
		return nil
	}
}

func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// events reads the fake agents' events.log lines.
func events(dir string) []string {
	data, _ := os.ReadFile(filepath.Join(dir, "events.log"))
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if l != "" {
			// Drop the pid: "v1.0.0 pid=123 start" -> "v1.0.0 start".
			v, rest, _ := strings.Cut(l, " ")
			_, ev, _ := strings.Cut(rest, " ")
			out = append(out, v+" "+ev)
		}
	}
	return out
}

func count(lines []string, want string) int {
	n := 0
	for _, l := range lines {
		if l == want {
			n++
		}
	}
	return n
}

// outcomes reads the work results the fake agents reported.
func outcomes(t *testing.T, dir string) []protocol.WorkResult {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "outcomes.jsonl"))
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []protocol.WorkResult
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r protocol.WorkResult
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

// askForUpdate writes apply.json: the next fake agent to start applies
// this update, as the daemon would when a work document asks for it.
func (f *fixture) askForUpdate(w protocol.WorkRequest) {
	f.t.Helper()
	caFile := filepath.Join(f.t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.srv.Certificate().Raw}), 0o600); err != nil {
		f.t.Fatal(err)
	}
	data := mustJSON(f.t, map[string]any{
		"baseURL": f.srv.URL, "caFile": caFile, "releaseKey": []byte(f.pub), "work": w, "os": "linux", "arch": "amd64",
	})
	if err := os.WriteFile(filepath.Join(f.stateDir, "apply.json"), data, 0o600); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) fakeOptions() SupervisorOptions {
	return SupervisorOptions{Executable: f.exe, Args: []string{"run", "--state-dir", f.stateDir}, StateDir: f.stateDir}
}

func alive(pid int) bool { return pid > 0 && syscall.Kill(pid, 0) == nil }

func fileIs(t *testing.T, path string, want []byte) bool {
	t.Helper()
	got, err := os.ReadFile(path)
	return err == nil && bytes.Equal(got, want)
}

// TestSuperviseKeepsConfirmedUpdate runs a whole update through real
// processes: v1 applies the release and exits 75, the supervisor starts v2
// on trial, v2 checks in and confirms, the supervisor keeps it and
// re-executes itself, and v2 reports Succeeded exactly once.
func TestSuperviseKeepsConfirmedUpdate(t *testing.T) {
	v1, v2 := fakeAgent(t, "v1.0.0"), fakeAgent(t, "v2.0.0")
	f := newFixture(t)
	f.install(v1)
	f.publish("v2.0.0", "linux", "amd64", v2)
	f.askForUpdate(work("upd-1", "v2.0.0"))

	reexecs := make(chan struct{}, 4)
	o := f.fakeOptions()
	o.ConfirmTimeout = 30 * time.Second
	o.Reexec = func() error {
		reexecs <- struct{}{}
		return errors.New("test: re-exec skipped")
	}
	s := startSupervise(t, o)
	select {
	case <-reexecs:
	case <-time.After(30 * time.Second):
		t.Fatalf("no re-exec after the update; events: %v", events(f.stateDir))
	}
	if !fileIs(t, f.exe, v2) || !fileIs(t, PreviousPath(f.exe), v1) {
		t.Error("after the confirmed update the executable is not v2, or .previous is not v1")
	}
	rec := f.record()
	if rec.State != StateConfirmed || rec.TrialAttempts != 1 {
		t.Errorf("record %+v, want Confirmed after one trial", rec)
	}
	// The re-exec failed (in a test it must), so the supervisor carries on
	// and starts v2 again; that one reports nothing more.
	eventually(t, 10*time.Second, "v2 to start again after the re-exec", func() bool { return count(events(f.stateDir), "v2.0.0 start") == 2 })
	eventually(t, 10*time.Second, "the second v2 to check in", func() bool { return count(events(f.stateDir), "v2.0.0 checked in") == 2 })
	got := outcomes(t, f.stateDir)
	if len(got) != 1 || got[0].Phase != redflagv1.WorkSucceeded || got[0].ID != "upd-1" || got[0].FromVersion != "v1.0.0" || got[0].ToVersion != "v2.0.0" {
		t.Errorf("reported outcomes %+v; want one Succeeded v1.0.0 -> v2.0.0", got)
	}
	if !f.record().Reported {
		t.Error("the record is not marked reported")
	}
	if err := s.stop(t); err != nil {
		t.Errorf("Supervise after SIGTERM = %v, want nil", err)
	}
	if ev := events(f.stateDir); ev[len(ev)-1] != "v2.0.0 stop" {
		t.Errorf("the daemon was not stopped gracefully; events: %v", ev)
	}
}

// TestSuperviseRollsBackSilentUpdate: v2 runs but never checks in; after
// the deadline the supervisor kills it, restores v1, and v1 reports
// RolledBack/NoCheckIn.
func TestSuperviseRollsBackSilentUpdate(t *testing.T) {
	v1, v2 := fakeAgent(t, "v1.0.0"), fakeAgent(t, "v2.0.0")
	f := newFixture(t)
	f.install(v1)
	f.publish("v2.0.0", "linux", "amd64", v2)
	f.askForUpdate(work("upd-1", "v2.0.0"))
	o := f.fakeOptions()
	o.Env = append(os.Environ(), "FAKEAGENT_NO_CONFIRM=v2.0.0")
	o.ConfirmTimeout = time.Second
	startSupervise(t, o)

	eventually(t, 20*time.Second, "v1 to report the rollback", func() bool { return len(outcomes(t, f.stateDir)) > 0 })
	got := outcomes(t, f.stateDir)[0]
	if got.Phase != redflagv1.WorkRolledBack || got.Reason != ReasonNoCheckIn || got.FromVersion != "v1.0.0" || got.ToVersion != "v2.0.0" ||
		!strings.Contains(got.Message, "did not check in within 1s") {
		t.Errorf("outcome %+v; want RolledBack NoCheckIn", got)
	}
	if !fileIs(t, f.exe, v1) {
		t.Error("the executable is not v1 after the rollback")
	}
	if _, err := os.Stat(PreviousPath(f.exe)); err == nil {
		t.Error(".previous is still there after it was restored")
	}
	ev := events(f.stateDir)
	if count(ev, "v2.0.0 start") != 1 || count(ev, "v2.0.0 stop") != 1 || count(ev, "v1.0.0 start") != 2 {
		t.Errorf("events %v; want v1, v2 (stopped at the deadline), v1 again", ev)
	}
	// v1 sees the same work again and does not redo it.
	eventually(t, 5*time.Second, "v1 to skip the handled work", func() bool {
		return count(events(f.stateDir), "v1.0.0 apply: already handled") == 1
	})
}

// TestSuperviseRollsBackBrokenRelease uses the real agent as v1 and, as
// v2, a release that exits 1 at start. The update is applied as the
// daemon applies it (Apply, here in the test; then the supervisor finds
// the swap pending, as after a power cut between swap and restart), the
// supervisor restores the real v1, and v1 reports the rollback.
func TestSuperviseRollsBackBrokenRelease(t *testing.T) {
	v1 := realAgent(t, "v1.0.0")
	broken := []byte("#!/bin/sh\necho 'broken v2: cannot start' >&2\nexit 1\n")
	f := newFixture(t)
	f.install(v1)
	f.publish("v2.0.0", "linux", "amd64", broken)
	if _, err := Apply(context.Background(), f.options(), work("upd-1", "v2.0.0")); !errors.Is(err, ErrRestart) {
		t.Fatalf("Apply = %v", err)
	}
	appliedHere.Store(false) // v1's daemon has exited with status 75
	if !fileIs(t, f.exe, broken) {
		t.Fatal("the broken release is not in place")
	}

	o := SupervisorOptions{
		Executable: f.exe, Args: []string{"run", "--config", enrolledConfig(t), "--state-dir", f.stateDir},
		StateDir: f.stateDir, ConfirmTimeout: 30 * time.Second,
	}
	s := startSupervise(t, o)
	eventually(t, 20*time.Second, "the rollback", func() bool {
		rec, _ := ReadRecord(f.stateDir)
		return rec != nil && rec.State.finished()
	})
	rec := f.record()
	if rec.State != StateRolledBack || rec.Reason != ReasonCrashedAtStart || !strings.Contains(rec.Message, "exit status 1") {
		t.Errorf("record %+v; want RolledBack, CrashedAtStart, exit status 1", rec)
	}
	if !fileIs(t, f.exe, v1) {
		t.Error("the executable is not the real v1 agent after the rollback")
	}
	// The real v1 daemon runs again: it holds the agent lock.
	var pid int
	eventually(t, 20*time.Second, "the v1 daemon to hold the agent lock", func() bool {
		data, _ := os.ReadFile(filepath.Join(f.stateDir, lock.FileName))
		pid, _ = strconv.Atoi(strings.TrimSpace(string(data)))
		return alive(pid)
	})
	// The real v1 daemon reports the rollback: the work result waits in
	// its outbox (the gateway is unreachable) and the record is marked
	// reported, so no later start reports it again.
	var got *protocol.WorkResult
	eventually(t, 20*time.Second, "v1 to queue the RolledBack work result", func() bool {
		ob, err := outbox.Open(filepath.Join(f.stateDir, "outbox"), 0, 0)
		if err != nil {
			return false
		}
		items, _ := ob.Pending()
		for _, it := range items {
			if it.Report.Kind == protocol.ReportWork && it.Report.Work != nil && it.Report.Work.ID == "upd-1" {
				got = it.Report.Work
				return true
			}
		}
		return false
	})
	if got.Phase != redflagv1.WorkRolledBack || got.Reason != ReasonCrashedAtStart || got.AgentUpdate != "fleet-upgrade" ||
		got.FromVersion != "v1.0.0" || got.ToVersion != "v2.0.0" || !strings.Contains(got.Message, "exit status 1") {
		t.Errorf("v1 reported %+v; want RolledBack CrashedAtStart v1.0.0 -> v2.0.0", got)
	}
	eventually(t, 10*time.Second, "the record to be marked reported", func() bool { return f.record().Reported })
	if !strings.Contains(s.out.String(), "broken v2: cannot start") {
		t.Error("the broken release's stderr did not reach the supervisor's")
	}
	if err := s.stop(t); err != nil {
		t.Errorf("Supervise after SIGTERM = %v", err)
	}
	eventually(t, 5*time.Second, "the v1 daemon to exit with its supervisor", func() bool { return !alive(pid) })
}

// TestSuperviseRestartsCrashedDaemon: a crash is restarted after a
// backoff; exit status 1 (the daemon refused to start) ends supervision.
func TestSuperviseRestartsCrashedDaemon(t *testing.T) {
	v1 := fakeAgent(t, "v1.0.0")
	f := newFixture(t)
	f.install(v1)
	o := f.fakeOptions()
	o.Env = append(os.Environ(), "FAKEAGENT_CRASH_ONCE="+filepath.Join(t.TempDir(), "crashed"))
	s := startSupervise(t, o)
	eventually(t, 10*time.Second, "the daemon to be restarted after its crash", func() bool {
		ev := events(f.stateDir)
		return len(ev) >= 2 && ev[0] == "v1.0.0 crash" && ev[1] == "v1.0.0 start"
	})
	// A second supervisor on the same state directory is refused.
	o2 := f.fakeOptions()
	o2.Log = slog.New(slog.DiscardHandler)
	if err := Supervise(context.Background(), o2); !errors.Is(err, lock.ErrHeld) || !strings.Contains(err.Error(), "already running") {
		t.Errorf("second Supervise = %v, want lock.ErrHeld", err)
	}
	if err := s.stop(t); err != nil {
		t.Errorf("Supervise = %v", err)
	}

	f2 := newFixture(t)
	f2.install(v1)
	o = f2.fakeOptions()
	o.Env = append(os.Environ(), "FAKEAGENT_EXIT=1")
	s = startSupervise(t, o)
	select {
	case err := <-s.done:
		var exit *ExitError
		if !errors.As(err, &exit) || exit.Code != 1 {
			t.Errorf("Supervise = %v, want ExitError 1", err)
		}
		s.done <- err
	case <-time.After(10 * time.Second):
		t.Fatal("Supervise restarted a daemon that refused to start")
	}
	if n := count(events(f2.stateDir), "v1.0.0 exit 1"); n != 1 {
		t.Errorf("the refusing daemon ran %d times, want once", n)
	}
}

// TestSuperviseInterruptedTrial: a supervisor that finds a trial cut short
// (reboot, service restart) runs it again, but not forever.
func TestSuperviseInterruptedTrial(t *testing.T) {
	v1, v2 := fakeAgent(t, "v1.0.0"), fakeAgent(t, "v2.0.0")
	for _, tt := range []struct {
		attempts int
		want     State
	}{{1, StateConfirmed}, {maxTrialAttempts, StateRolledBack}} {
		f := newFixture(t)
		f.install(v2)
		if err := os.WriteFile(PreviousPath(f.exe), v1, 0o755); err != nil {
			t.Fatal(err)
		}
		sum, _ := fileSHA256(f.exe)
		if err := writeRecord(f.stateDir, &Record{
			WorkID: "upd-1", FromVersion: "v1.0.0", ToVersion: "v2.0.0", Executable: f.exe, SHA256: sum,
			State: StateTrial, TrialAttempts: tt.attempts, Deadline: time.Now().Add(-time.Hour),
		}); err != nil {
			t.Fatal(err)
		}
		o := f.fakeOptions()
		o.ConfirmTimeout = 20 * time.Second
		s := startSupervise(t, o)
		eventually(t, 20*time.Second, "the trial to end", func() bool {
			rec, _ := ReadRecord(f.stateDir)
			return rec != nil && rec.State.finished() && len(outcomes(t, f.stateDir)) == 1
		})
		rec := f.record()
		got := outcomes(t, f.stateDir)[0]
		switch tt.want {
		case StateConfirmed:
			if rec.State != StateConfirmed || rec.TrialAttempts != 2 || got.Phase != redflagv1.WorkSucceeded || !fileIs(t, f.exe, v2) {
				t.Errorf("resumed trial: record %+v, outcome %+v", rec, got)
			}
		case StateRolledBack:
			if rec.State != StateRolledBack || got.Phase != redflagv1.WorkRolledBack || got.Reason != ReasonTrialInterrupted || !fileIs(t, f.exe, v1) {
				t.Errorf("trial interrupted %d times: record %+v, outcome %+v", tt.attempts, rec, got)
			}
		}
		_ = s.stop(t)
	}
}
