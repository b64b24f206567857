//go:build unix

// The supervisor tests run shell scripts and use Unix signals.

package selfupdate

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redflag-io/redflag/agent/internal/lock"
	"github.com/redflag-io/redflag/agent/internal/outbox"
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
// processes: v1 stages the release and exits 75, the supervisor starts v2
// on trial from <exe>.next, v2 checks in and confirms, the supervisor
// promotes it to <exe> and re-executes itself, and v2 reports Succeeded
// exactly once. The trial daemon knows <exe> as its executable (not .next),
// so an update it applies later replaces <exe>.
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
	if _, err := os.Stat(NextPath(f.exe)); err == nil {
		t.Error("the staged binary is still there after its promotion")
	}
	rec := f.record()
	if rec.State != StateConfirmed || !rec.Promoted || rec.TrialAttempts != 1 {
		t.Errorf("record %+v, want Confirmed and promoted after one trial", rec)
	}
	if !strings.Contains(s.out.String(), "path="+NextPath(f.exe)+" onTrial=true") {
		t.Error("the trial daemon was not started from the staged binary")
	}
	// The re-exec failed (in a test it must), so the supervisor carries on
	// and starts v2 again; that one reports nothing more.
	eventually(t, 10*time.Second, "v2 to start again after the re-exec", func() bool { return count(events(f.stateDir), "v2.0.0 start") == 2 })
	eventually(t, 10*time.Second, "the second v2 to check in", func() bool { return count(events(f.stateDir), "v2.0.0 checked in") == 2 })
	got := outcomes(t, f.stateDir)
	if len(got) != 1 || got[0].Phase != protocol.WorkSucceeded || got[0].ID != "upd-1" || got[0].FromVersion != "v1.0.0" || got[0].ToVersion != "v2.0.0" {
		t.Errorf("reported outcomes %+v; want one Succeeded v1.0.0 -> v2.0.0", got)
	}
	if !f.record().Reported {
		t.Error("the record is not marked reported")
	}
	// Both v2 daemons, the one on trial from .next too, name <exe>.
	if n := count(events(f.stateDir), "v2.0.0 executable "+f.exe); n != 2 {
		t.Errorf("%d v2 daemons saw %s as their executable, want 2; events: %v", n, f.exe, events(f.stateDir))
	}
	if err := s.stop(t); err != nil {
		t.Errorf("Supervise after SIGTERM = %v, want nil", err)
	}
	if ev := events(f.stateDir); ev[len(ev)-1] != "v2.0.0 stop" {
		t.Errorf("the daemon was not stopped gracefully; events: %v", ev)
	}
}

// TestSuperviseRollsBackSilentUpdate: v2 runs but never checks in; after
// the deadline the supervisor kills it, deletes the staged binary, starts
// <exe> (still v1) again, and v1 reports RolledBack/NoCheckIn.
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
	if got.Phase != protocol.WorkRolledBack || got.Reason != ReasonNoCheckIn || got.FromVersion != "v1.0.0" || got.ToVersion != "v2.0.0" ||
		!strings.Contains(got.Message, "did not check in within 1s") {
		t.Errorf("outcome %+v; want RolledBack NoCheckIn", got)
	}
	if !fileIs(t, f.exe, v1) {
		t.Error("the executable is not v1 after the rollback")
	}
	assertNoFile(t, NextPath(f.exe), "the staged binary after the rollback")
	assertNoFile(t, PreviousPath(f.exe), ".previous (nothing was promoted)")
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
// it staged and pending, as after a power cut between staging and
// restart), the supervisor drops it and runs the real v1 again, and v1
// reports the rollback.
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
	if !fileIs(t, NextPath(f.exe), broken) || !fileIs(t, f.exe, v1) {
		t.Fatal("the broken release is not staged beside the untouched v1")
	}

	o := SupervisorOptions{
		Executable: f.exe, Args: []string{"run", "--config", enrolledConfig(t), "--state-dir", f.stateDir},
		StateDir: f.stateDir, ConfirmTimeout: 30 * time.Second,
	}
	s := startSupervise(t, o)
	eventually(t, 20*time.Second, "the rollback", func() bool {
		rec, _ := ReadRecord(f.stateDir)
		return rec != nil && rec.finished()
	})
	rec := f.record()
	if rec.State != StateRolledBack || rec.Reason != ReasonCrashedAtStart || !strings.Contains(rec.Message, "exit status 1") {
		t.Errorf("record %+v; want RolledBack, CrashedAtStart, exit status 1", rec)
	}
	if !fileIs(t, f.exe, v1) {
		t.Error("the executable is not the real v1 agent after the rollback")
	}
	assertNoFile(t, NextPath(f.exe), "the broken staged binary after the rollback")
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
	if got.Phase != protocol.WorkRolledBack || got.Reason != ReasonCrashedAtStart || got.AgentUpdate != "fleet-upgrade" ||
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
// (reboot, service restart) runs it again from the staged binary, but not
// forever, and not when the staged binary is gone. Reexec is nil here, as
// on Windows: the promoted daemon keeps running and reports by itself.
func TestSuperviseInterruptedTrial(t *testing.T) {
	v1, v2 := fakeAgent(t, "v1.0.0"), fakeAgent(t, "v2.0.0")
	for _, tt := range []struct {
		name     string
		state    State
		attempts int
		staged   bool
		want     State
		reason   string
	}{
		{"resumed", StateTrial, 1, true, StateConfirmed, ""},
		{"interrupted too often", StateTrial, maxTrialAttempts, true, StateRolledBack, ReasonTrialInterrupted},
		{"staged binary gone", StateTrial, 1, false, StateRolledBack, ReasonTrialInterrupted},
		{"pending, staged binary gone", StatePending, 0, false, StateFailed, ReasonNotApplied},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.install(v1)
			f.stage(v2, tt.staged)
			f.writeUpdate(tt.state, v2, tt.attempts)
			o := f.fakeOptions()
			o.ConfirmTimeout = 20 * time.Second
			startSupervise(t, o)
			eventually(t, 20*time.Second, "the update to end and be reported", func() bool {
				rec, _ := ReadRecord(f.stateDir)
				return rec != nil && rec.finished() && len(outcomes(t, f.stateDir)) == 1
			})
			rec, got := f.record(), outcomes(t, f.stateDir)[0]
			if rec.State != tt.want || rec.Reason != tt.reason || got.Reason != tt.reason {
				t.Errorf("record %+v, outcome %+v; want %s %s", rec, got, tt.want, tt.reason)
			}
			if tt.want == StateConfirmed {
				if rec.TrialAttempts != 2 || got.Phase != protocol.WorkSucceeded || !fileIs(t, f.exe, v2) || !fileIs(t, PreviousPath(f.exe), v1) {
					t.Errorf("resumed trial: record %+v, outcome %+v; want v2 promoted after a second attempt", rec, got)
				}
			} else if !fileIs(t, f.exe, v1) || count(events(f.stateDir), "v2.0.0 start") != 0 {
				t.Errorf("the old binary is not what runs; events %v", events(f.stateDir))
			}
			assertNoFile(t, NextPath(f.exe), "the staged binary once the update ended")
		})
	}
}

// TestSuperviseKilledMidTrial kills the whole agent (supervisor and daemon
// on trial, as a power cut or `systemctl kill` would) and starts it again
// from <exe>, as the service manager does. <exe> was never replaced, so
// the supervisor that comes back is the old binary; it resumes the trial
// from the staged binary. A new binary that then crashes at start is
// rolled back and the old one keeps running; one that confirms is
// promoted, and the supervisor re-executes itself into it.
func TestSuperviseKilledMidTrial(t *testing.T) {
	v1, v2 := fakeAgent(t, "v1.0.0"), fakeAgent(t, "v2.0.0")
	for _, tt := range []struct {
		name    string
		crashes bool
	}{{"crashes at start", true}, {"confirms", false}} {
		crashes := tt.crashes
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.install(v1)
			f.publish("v2.0.0", "linux", "amd64", v2)
			f.askForUpdate(work("upd-1", "v2.0.0"))

			p := startAgentProcess(t, f, "FAKEAGENT_NO_CONFIRM=v2.0.0")
			eventually(t, 20*time.Second, "v2 to run on trial", func() bool {
				rec, _ := ReadRecord(f.stateDir)
				return rec != nil && rec.State == StateTrial && count(events(f.stateDir), "v2.0.0 start") == 1
			})
			if !fileIs(t, f.exe, v1) || !fileIs(t, NextPath(f.exe), v2) {
				t.Fatal("during the trial the executable is not v1, or .next is not v2")
			}
			p.kill(t, pidsOf(f.stateDir, "v2.0.0 start")...)
			if !fileIs(t, f.exe, v1) {
				t.Fatal("the killed agent's executable is not v1: the service manager would start the new binary")
			}

			env := []string{}
			if crashes {
				env = append(env, "FAKEAGENT_CRASH=v2.0.0")
			}
			p = startAgentProcess(t, f, env...)
			eventually(t, 20*time.Second, "the resumed trial to end and be reported", func() bool {
				rec, _ := ReadRecord(f.stateDir)
				return rec != nil && rec.finished() && len(outcomes(t, f.stateDir)) == 1
			})
			if crashes {
				f.assertRolledBackAfterKill(v1)
			} else {
				f.assertPromotedAfterKill(v1, v2, p.cmd.Process.Pid)
			}
			if err := p.stop(t); err != nil {
				t.Errorf("the supervisor after SIGTERM: %v", err)
			}
			if got := outcomes(t, f.stateDir); len(got) != 1 {
				t.Errorf("outcomes %+v; want exactly one", got)
			}
		})
	}
}

// assertRolledBackAfterKill: the resumed trial crashed, and the old binary
// (the old supervisor too) runs and reported the rollback once.
func (f *fixture) assertRolledBackAfterKill(v1 []byte) {
	t := f.t
	t.Helper()
	rec, got := f.record(), outcomes(t, f.stateDir)[0]
	if rec.State != StateRolledBack || rec.Reason != ReasonCrashedAtStart || rec.TrialAttempts != 2 || !strings.Contains(rec.Message, "rolled back to v1.0.0") {
		t.Errorf("record %+v; want RolledBack CrashedAtStart after two trials", rec)
	}
	if got.Phase != protocol.WorkRolledBack || got.Reason != ReasonCrashedAtStart || got.ID != "upd-1" {
		t.Errorf("outcome %+v; want RolledBack CrashedAtStart", got)
	}
	if !fileIs(t, f.exe, v1) {
		t.Error("the executable is not v1 after the rollback")
	}
	assertNoFile(t, NextPath(f.exe), "the staged binary after the rollback")
	assertNoFile(t, PreviousPath(f.exe), ".previous (nothing was promoted)")
	ev := events(f.stateDir)
	if count(ev, "v1.0.0 supervise") != 2 || count(ev, "v2.0.0 supervise") != 0 || count(ev, "v2.0.0 crash") != 1 {
		t.Errorf("events %v; want two v1 supervisors, no v2 one, and v2 crashing once", ev)
	}
	eventually(t, 10*time.Second, "v1 to run again and skip the handled work", func() bool {
		return count(events(f.stateDir), "v1.0.0 apply: already handled") == 1
	})
}

// assertPromotedAfterKill: the resumed trial confirmed; v2 is at <exe>,
// the supervisor (same pid) re-executed into it, and v2 reported success
// once.
func (f *fixture) assertPromotedAfterKill(v1, v2 []byte, supervisorPID int) {
	t := f.t
	t.Helper()
	rec, got := f.record(), outcomes(t, f.stateDir)[0]
	if rec.State != StateConfirmed || !rec.Promoted || rec.TrialAttempts != 2 || got.Phase != protocol.WorkSucceeded {
		t.Errorf("record %+v, outcome %+v; want Confirmed, promoted after two trials, Succeeded", rec, got)
	}
	if !fileIs(t, f.exe, v2) || !fileIs(t, PreviousPath(f.exe), v1) {
		t.Error("after the promotion the executable is not v2, or .previous is not v1")
	}
	assertNoFile(t, NextPath(f.exe), "the staged binary after its promotion")
	eventually(t, 10*time.Second, "the supervisor to re-execute as v2", func() bool {
		pids := pidsOf(f.stateDir, "v2.0.0 supervise")
		return len(pids) == 1 && pids[0] == supervisorPID
	})
}

// TestSuperviseRecoversConfirmedUpdate: the agent was killed after the
// daemon on trial confirmed but before the supervisor promoted it (or
// before it recorded the promotion). The next supervisor promotes it, or
// records that it was, then re-executes; with the staged binary gone and
// <exe> still old, the update is Failed, never Succeeded.
func TestSuperviseRecoversConfirmedUpdate(t *testing.T) {
	v1, v2 := fakeAgent(t, "v1.0.0"), fakeAgent(t, "v2.0.0")
	for _, tt := range []struct {
		name             string
		exe              []byte
		staged, promoted bool
	}{
		{"killed before the rename", v1, true, true},
		{"killed after the rename", v2, false, true},
		{"staged binary gone", v1, false, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.install(tt.exe)
			f.stage(v2, tt.staged)
			f.writeUpdate(StateTrial, v2, 1)
			if err := Confirm(f.stateDir, "v2.0.0"); err != nil {
				t.Fatal(err)
			}
			o := f.fakeOptions()
			var reexecs []string
			o.Reexec = func() error {
				reexecs = append(reexecs, strings.Join(events(f.stateDir), ","))
				return errors.New("test: re-exec skipped")
			}
			s := startSupervise(t, o)
			eventually(t, 20*time.Second, "the outcome to be reported", func() bool { return len(outcomes(t, f.stateDir)) == 1 })
			_ = s.stop(t) // Reexec is read only once Supervise has returned
			rec, got := f.record(), outcomes(t, f.stateDir)[0]
			assertNoFile(t, NextPath(f.exe), "the staged binary")
			if !tt.promoted {
				if rec.State != StateFailed || rec.Reason != ReasonPromoteFailed || got.Phase != protocol.WorkFailed || !fileIs(t, f.exe, v1) || len(reexecs) != 0 {
					t.Errorf("record %+v, outcome %+v, re-execs %d; want Failed PromoteFailed with v1 running", rec, got, len(reexecs))
				}
				return
			}
			if rec.State != StateConfirmed || !rec.Promoted || got.Phase != protocol.WorkSucceeded || !fileIs(t, f.exe, v2) {
				t.Errorf("record %+v, outcome %+v; want v2 promoted and Succeeded", rec, got)
			}
			if tt.staged && !fileIs(t, PreviousPath(f.exe), v1) {
				t.Error(".previous is not v1 after the promotion")
			}
			if len(reexecs) != 1 || reexecs[0] != "" {
				t.Errorf("re-execs (events seen at each) %q; want one, before any daemon started", reexecs)
			}
		})
	}
}

// TestSupervisePromotionFailure: v2 confirms but cannot be put at <exe>
// (here .previous is a directory that cannot be removed). The update is
// Failed (PromoteFailed), never Succeeded: v2 is stopped, the staged
// binary deleted, v1 runs again and reports the failure once.
func TestSupervisePromotionFailure(t *testing.T) {
	v1, v2 := fakeAgent(t, "v1.0.0"), fakeAgent(t, "v2.0.0")
	f := newFixture(t)
	f.install(v1)
	f.publish("v2.0.0", "linux", "amd64", v2)
	f.askForUpdate(work("upd-1", "v2.0.0"))
	if err := os.MkdirAll(filepath.Join(PreviousPath(f.exe), "in-the-way"), 0o755); err != nil {
		t.Fatal(err)
	}
	o := f.fakeOptions()
	o.ConfirmTimeout = 30 * time.Second
	reexecs := 0
	o.Reexec = func() error { reexecs++; return errors.New("test: re-exec skipped") }
	s := startSupervise(t, o)

	eventually(t, 20*time.Second, "v1 to run again and skip the handled work", func() bool {
		return count(events(f.stateDir), "v1.0.0 apply: already handled") == 1 && len(outcomes(t, f.stateDir)) == 1
	})
	_ = s.stop(t)
	rec, got := f.record(), outcomes(t, f.stateDir)
	if rec.State != StateFailed || rec.Reason != ReasonPromoteFailed || rec.Promoted || !strings.Contains(rec.Message, "v1.0.0 stays") {
		t.Errorf("record %+v; want Failed PromoteFailed", rec)
	}
	if len(got) != 1 || got[0].Phase != protocol.WorkFailed || got[0].Reason != ReasonPromoteFailed {
		t.Errorf("outcomes %+v; want one Failed PromoteFailed", got)
	}
	if !fileIs(t, f.exe, v1) || reexecs != 0 {
		t.Errorf("the executable is not v1, or the supervisor re-executed (%d)", reexecs)
	}
	assertNoFile(t, NextPath(f.exe), "the staged binary after the failed promotion")
	ev := events(f.stateDir)
	if count(ev, "v2.0.0 checked in") != 1 || count(ev, "v2.0.0 stop") != 1 || count(ev, "v1.0.0 start") != 2 {
		t.Errorf("events %v; want v2 confirmed and stopped, then v1 again", ev)
	}
}

// stage writes bin as the staged binary, or makes sure there is none.
func (f *fixture) stage(bin []byte, staged bool) {
	f.t.Helper()
	if !staged {
		_ = os.Remove(NextPath(f.exe))
		return
	}
	if err := os.WriteFile(NextPath(f.exe), bin, 0o755); err != nil {
		f.t.Fatal(err)
	}
}

// writeUpdate records an update v1.0.0 -> v2.0.0 (bin) in state, as the
// daemon and supervisor would have left it.
func (f *fixture) writeUpdate(state State, bin []byte, attempts int) {
	f.t.Helper()
	sum := sha256.Sum256(bin)
	if err := writeRecord(f.stateDir, &Record{
		WorkID: "upd-1", FromVersion: "v1.0.0", ToVersion: "v2.0.0", Executable: f.exe, SHA256: hex.EncodeToString(sum[:]),
		State: state, TrialAttempts: attempts, Deadline: time.Now().Add(-time.Hour),
	}); err != nil {
		f.t.Fatal(err)
	}
}

func assertNoFile(t *testing.T, path, what string) {
	t.Helper()
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s: %s is there (%v)", what, path, err)
	}
}

// agentProcess is `<exe> supervise` (the fake agent as its own supervisor)
// in a process group of its own, so a test can kill it and its daemon at
// once, as a power cut or `systemctl kill` would.
type agentProcess struct {
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
}

// startAgentProcess starts the agent the way its service does: from the
// fixture's executable, whichever binary is there now.
func startAgentProcess(t *testing.T, f *fixture, env ...string) *agentProcess {
	t.Helper()
	p := &agentProcess{out: &syncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(f.exe, "supervise", "--state-dir", f.stateDir)
	p.cmd.Env = append(os.Environ(), append([]string{"FAKEAGENT_CONFIRM_TIMEOUT=1m"}, env...)...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p.cmd.WaitDelay = 5 * time.Second
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
		if t.Failed() {
			t.Logf("--- agent process %d output ---\n%s", p.cmd.Process.Pid, p.out.String())
		}
	})
	return p
}

// kill SIGKILLs the supervisor and its daemon, and waits until they and
// the daemons with pids are gone.
func (p *agentProcess) kill(t *testing.T, pids ...int) {
	t.Helper()
	if err := syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.done
	for _, pid := range pids {
		eventually(t, 10*time.Second, "the killed daemon to be gone", func() bool { return gone(pid) })
	}
}

// stop sends the supervisor SIGTERM, as systemctl stop does.
func (p *agentProcess) stop(t *testing.T) error {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	select {
	case <-p.done:
		if code := p.cmd.ProcessState.ExitCode(); code != 0 {
			return fmt.Errorf("exit status %d", code)
		}
		return nil
	case <-time.After(15 * time.Second):
		t.Fatal("the agent process did not stop within 15s of SIGTERM")
		return nil
	}
}

// pidsOf returns the pids on events.log lines "<version> pid=N <event>",
// for want "<version> <event>".
func pidsOf(dir, want string) []int {
	data, _ := os.ReadFile(filepath.Join(dir, "events.log"))
	var out []int
	for _, l := range strings.Split(string(data), "\n") {
		v, rest, _ := strings.Cut(l, " ")
		pid, ev, _ := strings.Cut(rest, " ")
		if v+" "+ev == want {
			n, _ := strconv.Atoi(strings.TrimPrefix(pid, "pid="))
			out = append(out, n)
		}
	}
	return out
}

// gone reports whether pid has exited: no such process, or a zombie that
// an init which does not reap (in some containers) keeps in the table.
func gone(pid int) bool {
	if !alive(pid) {
		return true
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	_, after, ok := bytes.Cut(stat, []byte(") "))
	return ok && len(after) > 0 && after[0] == 'Z'
}
