// Command fakeagent stands in for the agent daemon in the supervisor's
// tests: it does with selfupdate exactly what the daemon must (Outcome at
// start, Apply when told to, Confirm after a "check-in"), without the
// gateway protocol around it. The tests build it with
// -X github.com/redflag-io/redflag/internal/version.Version=vX.Y.Z.
//
// It is started as `fakeagent run --state-dir DIR`. Files in DIR steer it:
// apply.json (an update to Apply, as the daemon would from a work
// document), and it appends to events.log (one line per step) and
// outcomes.jsonl (each outcome it reports). Environment:
// FAKEAGENT_NO_CONFIRM=<version> makes that version never confirm;
// FAKEAGENT_EXIT=<code> makes it exit with code at once;
// FAKEAGENT_CRASH_ONCE=<file> makes it crash (exit 2) if file is absent,
// creating it.
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
	if len(os.Args) != 4 || os.Args[1] != "run" || os.Args[2] != "--state-dir" {
		fmt.Fprintln(os.Stderr, "usage: fakeagent run --state-dir DIR")
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
	if os.Getenv(selfupdate.EnvSupervised) != "1" {
		logf("not supervised")
		return 3
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

	if code, applied := maybeApply(ctx, dir, logf); applied {
		return code
	}

	// The "first check-in".
	time.Sleep(100 * time.Millisecond)
	if os.Getenv("FAKEAGENT_NO_CONFIRM") != version.Version {
		if err := selfupdate.Confirm(dir, version.Version); err != nil {
			logf("confirm: %v", err)
		}
		logf("checked in")
		report()
	}
	<-ctx.Done()
	logf("stop")
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
		logf("swapped; restarting")
		return selfupdate.RestartExitCode, true
	case errors.Is(err, selfupdate.ErrAlreadyHandled):
		logf("apply: already handled")
		return 0, false
	default:
		logf("apply: %v", err)
		return 0, false
	}
}
