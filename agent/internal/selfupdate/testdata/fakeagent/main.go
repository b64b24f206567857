// Command fakeagent stands in for the agent daemon in the supervisor's
// tests: it does with selfupdate exactly what the daemon must (Outcome at
// start, Confirm after a "check-in", then Apply when told to, and Outcome
// again after each later "check-in"), without the gateway protocol around
// it. The tests build it with
// -X github.com/redflag-io/redflag/internal/version.Version=vX.Y.Z.
//
// It is started as `fakeagent run --state-dir DIR` by a supervisor, or as
// `fakeagent supervise --state-dir DIR` to be that supervisor in a process
// of its own (selfupdate.Supervise, re-executing itself after a promotion
// as `redflag-agent run` does), which a test can kill. Files in DIR steer
// it: apply.json (an update to Apply, as the daemon would from a work
// document), and it appends to events.log (one line per step) and
// outcomes.jsonl (each outcome it reports). Environment:
// FAKEAGENT_NO_CONFIRM=<version> makes that version never confirm;
// FAKEAGENT_CRASH=<version> makes that version exit 2 at once (a release
// that crashes at start);
// FAKEAGENT_EXIT=<code> makes it exit with code at once;
// FAKEAGENT_CRASH_ONCE=<file> makes it crash (exit 2) if file is absent,
// creating it; FAKEAGENT_CONFIRM_TIMEOUT=<duration> is the supervisor's
// ConfirmTimeout.
package main

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/redflag-io/redflag/agent/internal/selfupdate"
	"github.com/redflag-io/redflag/internal/hostclient"
	"github.com/redflag-io/redflag/internal/protocol"
	"github.com/redflag-io/redflag/internal/version"
)

// ApplyFile is what the test writes to ask for an update.
type ApplyFile struct {
	BaseURL    string               `json:"baseURL"`
	CAFile     string               `json:"caFile"`
	ReleaseKey []byte               `json:"releaseKey"`
	Work       protocol.WorkRequest `json:"work"`
	OS         string               `json:"os"`
	Arch       string               `json:"arch"`
}

func main() { os.Exit(run()) }

func run() int {
	if len(os.Args) != 4 || (os.Args[1] != "run" && os.Args[1] != "supervise") || os.Args[2] != "--state-dir" {
		fmt.Fprintln(os.Stderr, "usage: fakeagent run|supervise --state-dir DIR")
		return 2
	}
	dir := os.Args[3]
	logf := func(format string, args ...any) {
		f, err := os.OpenFile(filepath.Join(dir, "events.log"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
		if err == nil {
			fmt.Fprintf(f, "%s pid=%d %s\n", version.Version, os.Getpid(), fmt.Sprintf(format, args...))
			_ = f.Close()
		}
	}
	if os.Args[1] == "supervise" {
		return supervise(dir, logf)
	}
	if os.Getenv(selfupdate.EnvSupervised) != "1" {
		logf("not supervised")
		return 3
	}
	if os.Getenv("FAKEAGENT_CRASH") == version.Version {
		logf("crash")
		return 2
	}
	if code := os.Getenv("FAKEAGENT_EXIT"); code != "" {
		n, _ := strconv.Atoi(code)
		logf("exit %d", n)
		return n
	}
	if marker := os.Getenv("FAKEAGENT_CRASH_ONCE"); marker != "" {
		if _, err := os.Stat(marker); err != nil {
			_ = os.WriteFile(marker, nil, 0o600)
			logf("crash")
			return 2
		}
	}
	logf("start")
	if exe, err := selfupdate.Executable(); err == nil {
		logf("executable %s", exe)
	} else {
		logf("executable: %v", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := selfupdate.WatchSupervisor(ctx, os.Stdin)
	defer cancel()

	report := func() {
		out, err := selfupdate.Outcome(dir, version.Version)
		if err != nil || out == nil {
			return
		}
		line, _ := json.Marshal(out)
		f, err := os.OpenFile(filepath.Join(dir, "outcomes.jsonl"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
		if err != nil {
			return
		}
		_, _ = f.Write(append(line, '\n'))
		_ = f.Close()
		_ = selfupdate.Reported(dir, out.ID)
		logf("reported %s %s", out.Phase, out.Reason)
	}
	report()

	// The "first check-in": as in the daemon, Confirm comes before any
	// work the check-in hands out.
	time.Sleep(100 * time.Millisecond)
	checkIns := os.Getenv("FAKEAGENT_NO_CONFIRM") != version.Version
	if checkIns {
		if err := selfupdate.Confirm(dir, version.Version); err != nil {
			logf("confirm: %v", err)
		}
		logf("checked in")
	}
	if code, applied := maybeApply(ctx, dir, logf); applied {
		return code
	}
	// Each later "check-in" settles the outcome, as the daemon's do: the
	// promotion of a confirmed binary happens after its Confirm.
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if checkIns {
			report()
		}
		select {
		case <-ctx.Done():
			logf("stop")
			return 0
		case <-tick.C:
		}
	}
}

// supervise runs selfupdate.Supervise for `fakeagent run` children, as
// `redflag-agent run` does, re-executing itself after a promotion.
func supervise(dir string, logf func(string, ...any)) int {
	logf("supervise")
	exe, err := selfupdate.Executable()
	if err != nil {
		logf("executable: %v", err)
		return 1
	}
	o := selfupdate.SupervisorOptions{
		Executable: exe, Args: []string{"run", "--state-dir", dir}, Env: os.Environ(), StateDir: dir,
		MinBackoff: 50 * time.Millisecond, PollInterval: 50 * time.Millisecond, StopTimeout: 5 * time.Second,
		Reexec: selfupdate.ReexecSelf(exe, append([]string{exe}, os.Args[1:]...), os.Environ()),
	}
	if v := os.Getenv("FAKEAGENT_CONFIRM_TIMEOUT"); v != "" {
		if o.ConfirmTimeout, err = time.ParseDuration(v); err != nil {
			logf("confirm timeout: %v", err)
			return 1
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := selfupdate.Supervise(ctx, o); err != nil {
		logf("supervise: %v", err)
		return 1
	}
	logf("supervisor stopped")
	return 0
}

// maybeApply runs the update in apply.json, as the daemon runs an
// agentVersion work piece; it reports whether the process must exit.
func maybeApply(ctx context.Context, dir string, logf func(string, ...any)) (int, bool) {
	data, err := os.ReadFile(filepath.Join(dir, "apply.json"))
	if err != nil {
		return 0, false
	}
	var a ApplyFile
	if err := json.Unmarshal(data, &a); err != nil {
		logf("apply.json: %v", err)
		return 1, true
	}
	caPEM, err := os.ReadFile(a.CAFile)
	if err != nil {
		logf("ca: %v", err)
		return 1, true
	}
	client, err := hostclient.New(a.BaseURL, caPEM)
	if err != nil {
		logf("client: %v", err)
		return 1, true
	}
	exe, err := selfupdate.Executable()
	if err != nil {
		logf("executable: %v", err)
		return 1, true
	}
	_, err = selfupdate.Apply(ctx, selfupdate.Options{
		Client: client.HTTP, BaseURL: a.BaseURL, ReleaseKey: ed25519.PublicKey(a.ReleaseKey), StateDir: dir,
		Executable: exe, RunningVersion: version.Version, OS: a.OS, Arch: a.Arch,
	}, a.Work)
	switch {
	case errors.Is(err, selfupdate.ErrRestart):
		logf("staged; restarting")
		return selfupdate.RestartExitCode, true
	case errors.Is(err, selfupdate.ErrAlreadyHandled):
		logf("apply: already handled")
		return 0, false
	default:
		logf("apply: %v", err)
		return 0, false
	}
}
