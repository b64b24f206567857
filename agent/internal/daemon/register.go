package daemon

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"

	"github.com/redflag-io/redflag/agent/internal/config"
	"github.com/redflag-io/redflag/agent/internal/facts"
	"github.com/redflag-io/redflag/agent/internal/identity"
	"github.com/redflag-io/redflag/agent/internal/lock"
	"github.com/redflag-io/redflag/internal/hostclient"
	"github.com/redflag-io/redflag/internal/protocol"
	"github.com/redflag-io/redflag/internal/version"
)

// EnvMachineIDFile points the agent at another machine-ID file, for hosts
// whose /etc/machine-id is shared (cloned images) and for tests that run
// several agents on one machine.
const EnvMachineIDFile = "REDFLAG_MACHINE_ID_FILE"

// RegisterOptions are the flags of `redflag-agent register`.
type RegisterOptions struct {
	Paths     config.Paths
	ServerURL string
	Token     string
	CAFile    string
	// ReleaseKey, when set, pins the Ed25519 key (standard base64) that
	// signs agent releases; empty keeps whatever the config pins. The
	// install script passes the gateway's at enrollment.
	ReleaseKey string
	// Labels are asked for on the Agent, over the config file's own
	// labels. The gateway applies them only
	// when it creates the Agent: registering an enrolled host again
	// leaves the Agent's labels as the cluster's users left them.
	Labels map[string]string
}

// Register enrolls this host and writes the config file. Re-running it on an
// enrolled host keeps the host's key, so the gateway answers with the same
// Agent and uses no second seat. created is the gateway's word that this
// registration created the Agent, and so applied o.Labels.
func Register(ctx context.Context, o RegisterOptions) (cfg *config.Config, created bool, err error) {
	if o.ServerURL == "" || o.Token == "" {
		return nil, false, errors.New("register needs --server and --token")
	}
	// Checked before anything is written or sent; the gateway checks
	// again with the same rules.
	if err := protocol.ValidateLabels(o.Labels); err != nil {
		return nil, false, fmt.Errorf("--labels: %w", err)
	}
	// A pid the lock could not record (held.PIDWarning) is no reason to
	// stop: the lock is held, and a disk too full for the pid fails the
	// config save below with its own error.
	held, err := lock.Acquire(o.Paths.StateDir)
	if err != nil {
		return nil, false, err
	}
	defer func() { _ = held.Release() }()

	cfg, _, err = config.Load(o.Paths.ConfigFile)
	switch {
	case errors.Is(err, os.ErrNotExist):
		cfg = config.New()
	case err != nil:
		return nil, false, err
	}
	// The config's labels (written by config management, or carried over
	// from a v1 config's metadata) are asked for too; --labels win.
	labels := requestedLabels(cfg.Labels, o.Labels)
	if err := protocol.ValidateLabels(labels); err != nil {
		return nil, false, fmt.Errorf("labels in %s: %w", o.Paths.ConfigFile, err)
	}
	if o.ReleaseKey != "" {
		// Checked before registering, so a bad key costs no seat.
		cfg.ReleasePublicKey = o.ReleaseKey
		if _, err := cfg.ReleaseKey(); err != nil {
			return nil, false, fmt.Errorf("--release-key: %w", err)
		}
	}
	key, err := cfg.Ed25519PrivateKey()
	if err != nil || cfg.PrivateKey == "" {
		if key, err = identity.GenerateKey(); err != nil {
			return nil, false, err
		}
		if err := cfg.SetKey(key); err != nil {
			return nil, false, err
		}
	}
	machineID, err := readMachineID()
	if err != nil {
		return nil, false, err
	}
	f, err := facts.Collect(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("collecting host facts: %w", err)
	}
	caPEM, err := readCA(o.CAFile)
	if err != nil {
		return nil, false, err
	}
	caFile := o.CAFile
	if caFile != "" {
		// The daemon runs from another working directory (a service's is /).
		if caFile, err = filepath.Abs(caFile); err != nil {
			return nil, false, fmt.Errorf("--ca-file %s: %w", o.CAFile, err)
		}
	}
	cfg.ServerURL, cfg.CAFile = strings.TrimRight(o.ServerURL, "/"), caFile
	// Save the key before enrolling: whatever happens next, a second
	// `register` presents the same key, so the gateway returns the same
	// Agent instead of refusing a new key for this machine.
	if err := cfg.Save(o.Paths.ConfigFile); err != nil {
		return nil, false, err
	}
	client, err := hostclient.New(o.ServerURL, caPEM)
	if err != nil {
		return nil, false, err
	}
	resp, err := client.Register(ctx, protocol.RegisterRequest{
		Token: o.Token, MachineID: machineID, Hostname: f.Hostname, OS: f.OS,
		AgentVersion: version.Version, PublicKey: cfg.PublicKey, Labels: labels,
	})
	if err != nil {
		return nil, false, fmt.Errorf("registering with %s: %w", o.ServerURL, err)
	}
	cfg.AgentName, cfg.Namespace, cfg.MachineID = resp.AgentName, resp.Namespace, machineID
	cfg.WorkPublicKey = resp.WorkPublicKey
	if d := resp.CheckInInterval.Duration; d > 0 {
		// The gateway answers the Agent's interval, 5s..1h by its schema.
		// Anything else (a broken or hostile server) is brought within the
		// bounds the config accepts: saved as is, it failed Validate, and
		// so the enrollment, after the gateway had taken a seat.
		cfg.CheckInInterval = min(max(d, config.MinCheckInInterval), config.MaxCheckInInterval).String()
	}
	if err := cfg.Save(o.Paths.ConfigFile); err != nil {
		return nil, false, err
	}
	return cfg, resp.Created, nil
}

func readMachineID() (string, error) {
	if p, ok := os.LookupEnv(EnvMachineIDFile); ok && p != "" {
		return identity.ReadMachineIDFrom(p)
	}
	return identity.ReadMachineID()
}

// readCA reads the pinned gateway CA; no file means the system roots.
func readCA(path string) ([]byte, error) {
	if path == "" {
		return nil, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the gateway CA: %w", err)
	}
	return data, nil
}

// requestedLabels are the labels a registration asks for: the config's,
// overlaid with the command line's. nil when there are none.
func requestedLabels(fromConfig, fromFlags map[string]string) map[string]string {
	if len(fromConfig) == 0 {
		return fromFlags
	}
	out := maps.Clone(fromConfig)
	maps.Copy(out, fromFlags)
	return out
}
