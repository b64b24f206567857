//go:build windows

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/svc"
	"golang.org/x/sys/windows/svc/eventlog"
	"golang.org/x/sys/windows/svc/mgr"
)

// stopWaitHint is how long the agent may take to stop after Stop or
// Shutdown, told to the Service Control Manager: the supervisor gives its
// daemon a minute before killing it (it normally takes seconds). It
// matches the systemd unit's TimeoutStopSec.
const stopWaitHint = 90 * time.Second

// runAsWindowsService runs the command line under the Service Control
// Manager when it started this process, and reports whether it did; an
// interactive run (an Administrator typing `redflag-agent run`) is left to
// main.
func runAsWindowsService(args []string) (code int, isService bool) {
	isService, err := svc.IsWindowsService()
	if err != nil || !isService {
		return 0, false
	}
	// A service has no console: what the agent writes goes to the
	// Application event log under the source "redflag-agent", which
	// `service install` registers.
	var out io.Writer = io.Discard
	if elog, err := eventlog.Open(serviceName); err == nil {
		defer func() { _ = elog.Close() }()
		out = eventLogWriter{elog}
	}
	h := &agentService{args: args, out: out}
	if err := svc.Run(serviceName, h); err != nil {
		fmt.Fprintln(out, "redflag-agent: running as a Windows service:", err)
		return 1, true
	}
	return h.code, true
}

// agentService runs `redflag-agent <args>` as the service's work.
type agentService struct {
	args []string
	out  io.Writer
	code int
}

// Execute reports Running once the agent has started, turns Stop and
// Shutdown into the same cancellation SIGTERM is on Linux, and reports the
// agent's exit code, which makes a non-zero exit a failure the recovery
// actions (restart) apply to.
func (s *agentService) Execute(_ []string, requests <-chan svc.ChangeRequest, status chan<- svc.Status) (bool, uint32) {
	status <- svc.Status{State: svc.StartPending}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() { done <- run(ctx, s.args, s.out, s.out) }()
	status <- svc.Status{State: svc.Running, Accepts: svc.AcceptStop | svc.AcceptShutdown}
	for {
		select {
		case s.code = <-done:
			// The agent ended by itself: an error, or a restart it asked for.
			return s.code != 0, uint32(s.code)
		case c := <-requests:
			switch c.Cmd {
			case svc.Interrogate:
				status <- c.CurrentStatus
			case svc.Stop, svc.Shutdown:
				status <- svc.Status{State: svc.StopPending, WaitHint: uint32(stopWaitHint / time.Millisecond)}
				cancel()
				s.code = <-done
				return s.code != 0, uint32(s.code)
			}
		}
	}
}

// eventLogWriter sends each line the agent writes to the event log, with a
// type from its slog level.
type eventLogWriter struct{ log *eventlog.Log }

func (w eventLogWriter) Write(p []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimRight(string(p), "\r\n"), "\n") {
		if line = strings.TrimSpace(line); line == "" {
			continue
		}
		var err error
		switch serviceLogLevel(line) {
		case "error":
			err = w.log.Error(1, line)
		case "warning":
			err = w.log.Warning(1, line)
		default:
			err = w.log.Info(1, line)
		}
		if err != nil {
			return 0, fmt.Errorf("writing to the event log: %w", err)
		}
	}
	return len(p), nil
}

// serviceCommand runs `redflag-agent service install|uninstall`.
func serviceCommand(args []string, stdout, stderr io.Writer) int {
	req, err := parseServiceArgs(args, stderr, filepath.Abs)
	if err != nil {
		fmt.Fprintf(stderr, "redflag-agent service: %v\n\n%s", err, serviceUsage)
		return 2
	}
	if req.action == "install" {
		err = installService(req.runArgs, stdout)
	} else {
		err = uninstallService(stdout)
	}
	if err != nil {
		fmt.Fprintln(stderr, "redflag-agent service:", err)
		if errors.Is(err, windows.ERROR_ACCESS_DENIED) {
			fmt.Fprintln(stderr, "redflag-agent service: (run it from an Administrator prompt)")
		}
		return 1
	}
	return 0
}

// installService creates the service, or points an existing one at this
// binary and these arguments (so re-running install after moving the
// binary or the config is the fix). It does not start it: `Start-Service
// redflag-agent` after `redflag-agent register`.
func installService(runArgs []string, stdout io.Writer) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding this binary: %w", err)
	}
	m, err := mgr.Connect()
	if err != nil {
		return fmt.Errorf("connecting to the Service Control Manager: %w", err)
	}
	defer func() { _ = m.Disconnect() }()

	s, err := m.OpenService(serviceName)
	switch {
	case err == nil:
		cfg, err := s.Config()
		if err != nil {
			_ = s.Close()
			return fmt.Errorf("reading the service's configuration: %w", err)
		}
		cfg.BinaryPathName = commandLine(exe, runArgs)
		cfg.DisplayName, cfg.Description, cfg.StartType = serviceDisplayName, serviceDescription, mgr.StartAutomatic
		if err := s.UpdateConfig(cfg); err != nil {
			_ = s.Close()
			return fmt.Errorf("updating service %s: %w", serviceName, err)
		}
		fmt.Fprintf(stdout, "updated service %s: %s\n", serviceName, cfg.BinaryPathName)
	case errors.Is(err, windows.ERROR_SERVICE_DOES_NOT_EXIST):
		s, err = m.CreateService(serviceName, exe, mgr.Config{
			DisplayName: serviceDisplayName,
			Description: serviceDescription,
			StartType:   mgr.StartAutomatic,
		}, runArgs...)
		if err != nil {
			return fmt.Errorf("creating service %s: %w", serviceName, err)
		}
		fmt.Fprintf(stdout, "installed service %s: %s\n", serviceName, commandLine(exe, runArgs))
	default:
		return fmt.Errorf("opening service %s: %w", serviceName, err)
	}
	defer func() { _ = s.Close() }()

	// Like systemd's Restart=always: restart after 10 s, twice, then every
	// minute; the failure count resets after a day without one. Non-crash
	// failures (a non-zero exit code) count too.
	if err := s.SetRecoveryActions([]mgr.RecoveryAction{
		{Type: mgr.ServiceRestart, Delay: 10 * time.Second},
		{Type: mgr.ServiceRestart, Delay: 10 * time.Second},
		{Type: mgr.ServiceRestart, Delay: time.Minute},
	}, uint32((24 * time.Hour).Seconds())); err != nil {
		return fmt.Errorf("setting the service's recovery actions: %w", err)
	}
	if err := s.SetRecoveryActionsOnNonCrashFailures(true); err != nil {
		return fmt.Errorf("setting the service's recovery actions: %w", err)
	}
	// Register the event log source afresh: Install refuses one that exists.
	_ = eventlog.Remove(serviceName)
	if err := eventlog.InstallAsEventCreate(serviceName, eventlog.Error|eventlog.Warning|eventlog.Info); err != nil {
		return fmt.Errorf("registering the event log source: %w", err)
	}
	fmt.Fprintln(stdout, "start it with: Start-Service redflag-agent (after redflag-agent register)")
	return nil
}

// uninstallService stops the service if it runs, then deletes it and its
// event log source. The config and state are kept: they are the host's
// identity. Uninstalling a service that is not there succeeds.
func uninstallService(stdout io.Writer) error {
	m, err := mgr.Connect()
	if err != nil {
		return fmt.Errorf("connecting to the Service Control Manager: %w", err)
	}
	defer func() { _ = m.Disconnect() }()
	s, err := m.OpenService(serviceName)
	if errors.Is(err, windows.ERROR_SERVICE_DOES_NOT_EXIST) {
		fmt.Fprintf(stdout, "service %s is not installed\n", serviceName)
		return nil
	}
	if err != nil {
		return fmt.Errorf("opening service %s: %w", serviceName, err)
	}
	defer func() { _ = s.Close() }()

	st, err := s.Query()
	if err != nil {
		return fmt.Errorf("querying service %s: %w", serviceName, err)
	}
	if st.State != svc.Stopped {
		if st, err = s.Control(svc.Stop); err != nil {
			return fmt.Errorf("stopping service %s: %w", serviceName, err)
		}
		deadline := time.Now().Add(stopWaitHint)
		for st.State != svc.Stopped {
			if time.Now().After(deadline) {
				return fmt.Errorf("service %s did not stop within %s", serviceName, stopWaitHint)
			}
			time.Sleep(300 * time.Millisecond)
			if st, err = s.Query(); err != nil {
				return fmt.Errorf("querying service %s: %w", serviceName, err)
			}
		}
	}
	if err := s.Delete(); err != nil {
		return fmt.Errorf("deleting service %s: %w", serviceName, err)
	}
	_ = eventlog.Remove(serviceName)
	fmt.Fprintf(stdout, "removed service %s; the config and state directory are kept\n", serviceName)
	return nil
}

// commandLine quotes exe and args the way CreateService does, for
// UpdateConfig, which takes the whole line.
func commandLine(exe string, args []string) string {
	parts := []string{windows.EscapeArg(exe)}
	for _, a := range args {
		parts = append(parts, windows.EscapeArg(a))
	}
	return strings.Join(parts, " ")
}
