package docker

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/redflag-io/redflag/agent/internal/install/installer"
	"github.com/redflag-io/redflag/agent/internal/scan"
	scandocker "github.com/redflag-io/redflag/agent/internal/scan/docker"
	"github.com/redflag-io/redflag/internal/protocol"
)

// Defaults of Installer's durations.
const (
	defaultCallTimeout   = 30 * time.Second
	defaultSettle        = 5 * time.Second
	defaultHealthTimeout = 2 * time.Minute
)

// Installer updates container images through the engine API. The zero
// value uses $DOCKER_HOST (or the default socket) and the logins of the
// default docker config.
type Installer struct {
	// Host is a DOCKER_HOST value; empty means $DOCKER_HOST, else the
	// platform default.
	Host string
	// ConfigPath is the docker config.json holding registry logins; empty
	// means scan/docker.DefaultConfigPath().
	ConfigPath string
	// CallTimeout bounds each engine call other than a pull; 0 means 30s.
	CallTimeout time.Duration
	// Settle is how long a recreated container must keep running before
	// the old one is removed; 0 means 5s.
	Settle time.Duration
	// HealthTimeout is how much longer a recreated container with a
	// health check may take to become healthy; 0 means 2m.
	HealthTimeout time.Duration
}

var _ installer.Installer = Installer{}

// Manager implements installer.Installer.
func (Installer) Manager() protocol.PackageManager { return protocol.ManagerDocker }

// Pending implements installer.Installer with the Docker scanner.
func (i Installer) Pending(ctx context.Context, _ *slog.Logger) ([]protocol.PendingUpdate, error) {
	return scandocker.Runner{Host: i.Host, ConfigPath: i.ConfigPath}.Scan(ctx)
}

// Plan implements installer.Installer: the selected images, and the
// running containers each would recreate. Only the selected images
// change, so a Docker plan never needs allowNewDependencies.
func (i Installer) Plan(ctx context.Context, req installer.Request) (installer.Plan, error) {
	eng, err := i.engine()
	if err != nil {
		return installer.Plan{}, err
	}
	defer eng.close()
	users, err := containersByImage(ctx, eng)
	if err != nil {
		return installer.Plan{}, err
	}
	var plan installer.Plan
	for _, u := range req.Updates {
		ref, err := scandocker.ParseReference(u.Name)
		if err != nil {
			return installer.Plan{}, err
		}
		for _, c := range users[ref.String()] {
			var hc hostConfig
			if err := jsonUnmarshal(c.HostConfig, &hc); err != nil {
				return installer.Plan{}, err
			}
			name := strings.TrimPrefix(c.Name, "/")
			if hc.AutoRemove {
				return installer.Plan{}, fmt.Errorf("%w: container %s runs %s with --rm: stopping it would delete it, leaving nothing to roll back to", installer.ErrUnsupported, name, u.Name)
			}
			plan.Notes = append(plan.Notes, "recreate container "+name)
		}
		plan.Changes = append(plan.Changes, installer.Change{Name: u.Name, From: u.CurrentVersion, To: u.AvailableVersion, Kind: installer.Upgrade})
	}
	return plan, nil
}

// Install implements installer.Installer: per image, pull, then recreate
// the running containers still on an older image. It stops at the first
// container that cannot be recreated (that one is rolled back).
func (i Installer) Install(ctx context.Context, req installer.Request, _ installer.Plan) (installer.Result, error) {
	eng, err := i.engine()
	if err != nil {
		return installer.Result{}, err
	}
	defer eng.close()
	path := i.ConfigPath
	if path == "" {
		path = scandocker.DefaultConfigPath()
	}
	kc, err := scandocker.LoadKeychain(path)
	if err != nil {
		req.Log.Warn("registry logins not used", "err", err)
	}
	rc := &recreator{eng: eng, settle: orDefault(i.Settle, defaultSettle), healthTimeout: orDefault(i.HealthTimeout, defaultHealthTimeout), log: req.Log}

	var res installer.Result
	for _, u := range req.Updates {
		c, notes, err := i.update(ctx, eng, rc, u, kc)
		res.Notes = append(res.Notes, notes...)
		if c != nil {
			res.Changes = append(res.Changes, *c)
		}
		if err != nil {
			return res, err
		}
	}
	return res, nil
}

// update pulls one image and recreates its containers. It returns the
// change once every container runs the new image.
func (i Installer) update(ctx context.Context, eng *engine, rc *recreator, u protocol.PendingUpdate, kc authn.Keychain) (*installer.Change, []string, error) {
	ref, err := scandocker.ParseReference(u.Name)
	if err != nil {
		return nil, nil, err
	}
	rc.log.Info("pulling", "image", u.Name)
	if err := eng.pull(ctx, ref, kc); err != nil {
		return nil, nil, err
	}
	img, err := eng.image(ctx, ref.String())
	if err != nil {
		return nil, nil, fmt.Errorf("%s after the pull: %w", u.Name, err)
	}
	users, err := containersByImage(ctx, eng)
	if err != nil {
		return nil, nil, err
	}
	var notes []string
	for _, c := range users[ref.String()] {
		if c.Image == img.ID {
			continue // already on the new image
		}
		name, err := rc.recreate(ctx, c.ID)
		if err != nil {
			return nil, append(notes, fmt.Sprintf("pulled %s, but container %s could not be recreated", u.Name, name)), err
		}
		notes = append(notes, "recreated container "+name)
	}
	to := digestIn(img, ref, u.AvailableVersion)
	if to == u.CurrentVersion {
		return nil, append(notes, u.Name+" already current"), nil
	}
	return &installer.Change{Name: u.Name, From: u.CurrentVersion, To: to, Kind: installer.Upgrade}, notes, nil
}

// containersByImage inspects the running containers and groups them by
// the normalized reference they were created from. Containers created
// from an image ID have no reference and are left out.
func containersByImage(ctx context.Context, eng *engine) (map[string][]containerJSON, error) {
	var list []containerSummary
	if err := eng.call(ctx, "GET", "/containers/json", nil, nil, &list, 0); err != nil {
		return nil, err
	}
	out := map[string][]containerJSON{}
	for _, s := range list {
		c, err := eng.container(ctx, s.ID)
		if err != nil {
			if isNotFound(err) {
				continue // gone since it was listed
			}
			return nil, err
		}
		var cfg containerConfig
		if err := jsonUnmarshal(c.Config, &cfg); err != nil {
			return nil, err
		}
		ref, err := scandocker.ParseReference(cfg.Image)
		if err != nil || ref.Digest != "" {
			continue
		}
		out[ref.String()] = append(out[ref.String()], c)
	}
	return out, nil
}

// digestIn is the digest img is known under in ref's repository,
// preferring want (the registry's digest the scan saw).
func digestIn(img imageJSON, ref scandocker.Reference, want string) string {
	var found []string
	for _, rd := range img.RepoDigests {
		r, err := scandocker.ParseReference(rd)
		if err == nil && r.Digest != "" && r.Name() == ref.Name() {
			found = append(found, r.Digest)
		}
	}
	switch {
	case slices.Contains(found, want):
		return want
	case len(found) > 0:
		return found[0]
	default:
		return img.ID
	}
}

// engine connects to the engine, or reports it not installed when its
// socket does not exist.
func (i Installer) engine() (*engine, error) {
	ep, err := scandocker.ResolveEndpoint(i.Host)
	if err != nil {
		return nil, fmt.Errorf("docker: %w", err)
	}
	present, err := ep.Present()
	if err != nil {
		return nil, fmt.Errorf("docker: %w", err)
	}
	if !present {
		return nil, fmt.Errorf("docker: %w: no engine socket at %s", scan.ErrNotInstalled, ep)
	}
	return newEngine(ep, orDefault(i.CallTimeout, defaultCallTimeout)), nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}
