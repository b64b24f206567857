package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/redflag-io/redflag/agent/internal/config"
	"github.com/redflag-io/redflag/agent/internal/daemon"
	"github.com/redflag-io/redflag/agent/internal/selfupdate"
)

// envConfirmTimeout overrides how long a self-updated binary has to check
// in before the supervisor rolls it back (a Go duration; tests shorten it).
const envConfirmTimeout = "REDFLAG_UPDATE_CONFIRM_TIMEOUT"

// runCommand is `redflag-agent run`. By default this process becomes the
// supervisor and the daemon runs as its child (`run` again, with
// REDFLAG_SUPERVISED=1): only a process other than the one being replaced
// can decide that a self-update failed and put the old binary back.
// --no-supervisor runs the daemon here, for service managers that restart
// it themselves; a self-update then still swaps and restarts, but nothing
// rolls it back.
func runCommand(ctx context.Context, args []string, paths config.Paths, noSupervisor bool, log *slog.Logger, stdout, stderr io.Writer) int {
	if !noSupervisor && os.Getenv(selfupdate.EnvSupervised) != "1" {
		return superviseDaemon(ctx, args, paths, log, stdout, stderr)
	}
	ctx, cancel := selfupdate.WatchSupervisor(ctx, os.Stdin)
	defer cancel()
	err := daemon.Run(ctx, paths, log)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, selfupdate.ErrRestart) || errors.Is(err, daemon.ErrRestart):
		log.Info("exiting so the updated binary starts", "exitCode", selfupdate.RestartExitCode)
		return selfupdate.RestartExitCode
	default:
		return fail(stderr, err)
	}
}

// superviseDaemon runs the supervisor until ctx ends (SIGTERM, SIGINT or
// a service stop); its exit code is the daemon's when the daemon refused
// to start.
func superviseDaemon(ctx context.Context, args []string, paths config.Paths, log *slog.Logger, stdout, stderr io.Writer) int {
	exe, err := selfupdate.Executable()
	if err != nil {
		return fail(stderr, err)
	}
	o := selfupdate.SupervisorOptions{
		Executable: exe, Args: args, Env: os.Environ(), StateDir: paths.StateDir,
		Stdout: stdout, Stderr: stderr, Log: log,
		Reexec: selfupdate.ReexecSelf(exe, append([]string{exe}, args...), os.Environ()),
	}
	if v, ok := os.LookupEnv(envConfirmTimeout); ok {
		if o.ConfirmTimeout, err = time.ParseDuration(v); err != nil || o.ConfirmTimeout <= 0 {
			return fail(stderr, fmt.Errorf("%s=%q is not a positive duration", envConfirmTimeout, v))
		}
	}
	err = selfupdate.Supervise(ctx, o)
	var exit *selfupdate.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit):
		return exit.Code // the daemon said why
	default:
		return fail(stderr, err)
	}
}
