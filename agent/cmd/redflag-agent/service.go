package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// The Windows service: `redflag-agent service install|uninstall` registers
// the agent with the Service Control Manager, which then starts
// `redflag-agent run` at boot (service_windows.go). This file holds what
// every platform shares, so the argument handling is tested on Linux too.

const (
	// serviceName is the Windows service's key name (sc.exe, Get-Service)
	// and its event log source.
	serviceName        = "redflag-agent"
	serviceDisplayName = "RedFlag agent"
	serviceDescription = "Scans this host for pending Windows, winget and Docker updates, reports them to the RedFlag gateway and installs what a rollout approves."
)

const serviceUsage = `Usage:
  redflag-agent service install [--config FILE] [--state-dir DIR]
                         register the agent as a Windows service that starts
                         at boot and runs "redflag-agent run" with these paths
                         (again: updates the service to this binary and paths)
  redflag-agent service uninstall
                         stop the service and remove it; the config is kept
`

// serviceRequest is a parsed `redflag-agent service` command line.
type serviceRequest struct {
	// action is "install" or "uninstall".
	action string
	// runArgs are the arguments the Service Control Manager starts the
	// agent with: "run" and the paths made absolute, because a service's
	// working directory is System32, not the shell's.
	runArgs []string
}

// errServiceUsage means the command line was wrong; the message says how.
var errServiceUsage = errors.New("usage")

// parseServiceArgs reads `service install|uninstall [flags]`. abs makes a
// path absolute (filepath.Abs; a parameter so tests can pin it).
func parseServiceArgs(args []string, stderr io.Writer, abs func(string) (string, error)) (serviceRequest, error) {
	if len(args) == 0 {
		return serviceRequest{}, fmt.Errorf("%w: service needs install or uninstall", errServiceUsage)
	}
	req := serviceRequest{action: args[0]}
	fs := flag.NewFlagSet("redflag-agent service "+req.action, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var configFile, stateDir string
	switch req.action {
	case "install":
		fs.StringVar(&configFile, "config", "", `config file the service uses (default %ProgramData%\RedFlag\agent.json)`)
		fs.StringVar(&stateDir, "state-dir", "", `state directory the service uses (default %ProgramData%\RedFlag\state)`)
	case "uninstall":
	default:
		return serviceRequest{}, fmt.Errorf("%w: unknown service action %q (want install or uninstall)", errServiceUsage, req.action)
	}
	if err := fs.Parse(args[1:]); err != nil {
		return serviceRequest{}, fmt.Errorf("%w: %w", errServiceUsage, err)
	}
	if fs.NArg() > 0 {
		return serviceRequest{}, fmt.Errorf("%w: unexpected argument %q", errServiceUsage, fs.Arg(0))
	}
	if req.action == "uninstall" {
		return req, nil
	}
	req.runArgs = []string{"run"}
	for _, f := range []struct{ flag, value string }{{"--config", configFile}, {"--state-dir", stateDir}} {
		if f.value == "" {
			continue
		}
		p, err := abs(f.value)
		if err != nil {
			return serviceRequest{}, fmt.Errorf("%s %s: %w", f.flag, f.value, err)
		}
		req.runArgs = append(req.runArgs, f.flag, p)
	}
	return req, nil
}

// serviceLogLevel classifies one line the agent writes to stderr for the
// Windows event log: slog's text lines carry level=WARN or level=ERROR;
// the lines without a level are fail()'s fatal errors and flag errors,
// which are the ones that matter most.
func serviceLogLevel(line string) string {
	switch {
	case strings.Contains(line, "level=ERROR"):
		return "error"
	case strings.Contains(line, "level=WARN"):
		return "warning"
	case strings.Contains(line, "level="):
		return "info"
	default:
		return "error"
	}
}
