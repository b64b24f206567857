// Command redflag-agent is RedFlag's host daemon: it enrolls the host, checks
// in with the gateway, scans for updates and installs what rollouts approve.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/redflag-io/redflag/agent/internal/config"
	"github.com/redflag-io/redflag/agent/internal/daemon"
	"github.com/redflag-io/redflag/internal/version"
)

const usage = `redflag-agent manages OS and package updates on this host for a RedFlag cluster.

Usage:
  redflag-agent register --server URL --token TOKEN [--ca-file FILE] [--release-key KEY]
                         [--labels key=value,...]
                         enroll this host (safe to re-run: same host, same Agent);
                         --labels (over the config's labels) are set on the
                         Agent when it is created only
  redflag-agent run [--no-supervisor]
                         check in with the gateway and deliver reports until
                         stopped; a supervisor process restarts the daemon and
                         rolls a failed self-update back (--no-supervisor: run
                         the daemon alone, for systemd's Restart=; no rollback)
  redflag-agent status   show the enrolled identity and the daemon's last check-in
  redflag-agent scan --once [--json] [--subsystem updates|storage|system|docker|all]
                         scan this host now and print what was found; needs no
                         server, enrollment or config, and runs beside the daemon
                         (exit 1 only when every scanner present on the host failed)
  redflag-agent version  print the agent's version and platform
  redflag-agent service install|uninstall [--config FILE] [--state-dir DIR]
                         Windows only: register or remove the Windows service

register, run and status take --config FILE (default /etc/redflag/agent.json,
or $REDFLAG_CONFIG) and --state-dir DIR (default /var/lib/redflag, or
$REDFLAG_STATE_DIR). HTTPS_PROXY, NO_PROXY and ALL_PROXY are honoured.
`

func main() {
	// Started by the Windows Service Control Manager: run under it instead.
	if code, ok := runAsWindowsService(os.Args[1:]); ok {
		os.Exit(code)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, rest := args[0], args[1:]
	fs := flag.NewFlagSet("redflag-agent "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	configFlag := fs.String("config", "", "config file (default /etc/redflag/agent.json or $REDFLAG_CONFIG)")
	stateFlag := fs.String("state-dir", "", "state directory (default /var/lib/redflag or $REDFLAG_STATE_DIR)")
	var reg daemon.RegisterOptions
	if cmd == "register" {
		fs.StringVar(&reg.ServerURL, "server", "", "gateway URL, such as https://redflag.example.com:9443")
		fs.StringVar(&reg.Token, "token", "", "registration token (<id>.<secret>) from the RegistrationToken's Secret")
		fs.StringVar(&reg.CAFile, "ca-file", "", "PEM file of the gateway's CA, pinned for every later request")
		fs.StringVar(&reg.ReleaseKey, "release-key", "", "Ed25519 public key (base64) that signs agent releases, pinned for self-updates")
		fs.Var(labelsFlag{&reg.Labels}, "labels", "labels for this host's Agent, key=value,key2=value2 (at most 32, none under redflag.io/); applied when the Agent is created only")
	}
	noSupervisor := false
	if cmd == "run" {
		fs.BoolVar(&noSupervisor, "no-supervisor", false, "run the daemon in this process, without the supervisor that rolls back a failed self-update")
	}
	jsonOut := false
	if cmd == "status" {
		fs.BoolVar(&jsonOut, "json", false, "print JSON")
	}
	switch cmd {
	case "version", "--version":
		fmt.Fprintln(stdout, version.String())
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	case "scan":
		// A local scan reads no config and takes no lock: it must work
		// before enrollment and while the daemon runs.
		return scanCommand(ctx, rest, stdout, stderr)
	case "service":
		return serviceCommand(rest, stdout, stderr)
	case "register", "run", "status":
	default:
		fmt.Fprintf(stderr, "redflag-agent: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	if err := fs.Parse(rest); err != nil {
		return 2
	}
	paths, err := config.ResolvePaths(*configFlag, *stateFlag, os.LookupEnv)
	if err != nil {
		return fail(stderr, err)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	switch cmd {
	case "register":
		reg.Paths = paths
		cfg, created, err := daemon.Register(ctx, reg)
		if err != nil {
			return fail(stderr, err)
		}
		fmt.Fprintf(stdout, "enrolled as Agent %s/%s; config written to %s\n", cfg.Namespace, cfg.AgentName, paths.ConfigFile)
		if !created && (len(reg.Labels) > 0 || len(cfg.Labels) > 0) {
			// The Agent existed already: its labels are the cluster
			// users' now, and the gateway left them alone.
			which := "--labels were"
			if len(reg.Labels) == 0 {
				which = "the config's labels were"
			}
			fmt.Fprintf(stderr, "redflag-agent: warning: Agent %s/%s existed already, so %s not applied; change its labels with kubectl label agent -n %s %s\n",
				cfg.Namespace, cfg.AgentName, which, cfg.Namespace, cfg.AgentName)
		}
		return 0
	case "run":
		return runCommand(ctx, args, paths, noSupervisor, log, stdout, stderr)
	default:
		return status(paths, jsonOut, stdout, stderr)
	}
}

func status(paths config.Paths, jsonOut bool, stdout, stderr io.Writer) int {
	cfg, _, err := config.Load(paths.ConfigFile)
	if err != nil {
		return fail(stderr, err)
	}
	st, stErr := daemon.ReadState(paths.StateDir)
	if jsonOut {
		_ = json.NewEncoder(stdout).Encode(map[string]any{"agent": cfg.Namespace + "/" + cfg.AgentName, "server": cfg.ServerURL, "state": st})
		return 0
	}
	fmt.Fprintf(stdout, "agent:   %s/%s\nserver:  %s\nmachine: %s\n", cfg.Namespace, cfg.AgentName, cfg.ServerURL, cfg.MachineID)
	if stErr != nil {
		fmt.Fprintf(stdout, "daemon:  no state yet (%v)\n", stErr)
		return 0
	}
	fmt.Fprintf(stdout, "daemon:  pid %d, %s, started %s\n", st.PID, st.Version, st.StartedAt.Format("2006-01-02 15:04:05Z07:00"))
	if st.LastCheckIn != nil {
		fmt.Fprintf(stdout, "last check-in: %s\n", st.LastCheckIn.Format("2006-01-02 15:04:05Z07:00"))
	}
	if st.NextCheckIn != nil {
		fmt.Fprintf(stdout, "next check-in: %s\n", st.NextCheckIn.Format("2006-01-02 15:04:05Z07:00"))
	}
	if st.LastError != "" {
		fmt.Fprintf(stdout, "last error: %s\n", st.LastError)
	}
	fmt.Fprintf(stdout, "reports: %d pending, %d dropped\n", st.PendingReports, st.DroppedReports)
	return 0
}

func fail(stderr io.Writer, err error) int {
	fmt.Fprintln(stderr, "redflag-agent:", err)
	if errors.Is(err, os.ErrPermission) {
		fmt.Fprintln(stderr, "redflag-agent: (run as root, or move the files with --config and --state-dir)")
	}
	return 1
}
