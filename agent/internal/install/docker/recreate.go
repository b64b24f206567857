package docker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/redflag-io/redflag/agent/internal/install/installer"
)

// Suffixes of the names a recreation uses while old and new coexist.
const (
	newSuffix = "-redflag-new-"
	oldSuffix = "-redflag-old-"
)

const (
	// defaultStopSeconds is the engine's own default grace period.
	defaultStopSeconds = 10
	// maxStopSeconds (68 years) is far beyond any real stop timeout and
	// far from overflowing a Duration.
	maxStopSeconds = 1<<31 - 1
	// pollEvery is how often a starting container is inspected.
	pollEvery = 250 * time.Millisecond
	// restoreTimeout bounds putting the old container back, which must
	// happen even when the install's own deadline has passed.
	restoreTimeout = 2 * time.Minute
)

// recreator replaces containers with ones created from the image their
// reference names now.
type recreator struct {
	eng *engine
	// settle is how long a new container must keep running.
	settle time.Duration
	// healthTimeout is how long, after settle, a container with a health
	// check may stay "starting".
	healthTimeout time.Duration
	log           *slog.Logger
}

// recreate replaces the container id and returns its name. On an error
// the old container is running again under its name (the error wraps
// installer.ErrRolledBack once it was stopped), unless putting it back
// failed too, which the error then says.
func (r *recreator) recreate(ctx context.Context, id string) (string, error) {
	old, err := r.eng.container(ctx, id)
	if err != nil {
		return "", err
	}
	name := strings.TrimPrefix(old.Name, "/")
	if len(old.ID) < shortIDLen || name == "" {
		return name, fmt.Errorf("container %q: engine gave no usable ID or name", id)
	}
	short := old.ID[:shortIDLen]
	img, err := r.eng.image(ctx, old.Image)
	if err != nil {
		return name, fmt.Errorf("container %s: its old image: %w", name, err)
	}
	covered, err := r.volumesFrom(ctx, old)
	if err != nil {
		return name, err
	}
	sp, err := buildSpec(old, img.Config, covered)
	if err != nil {
		return name, err
	}
	log := r.log.With("container", name)

	// 1. The new container, beside the old one: nothing is touched yet.
	var created struct {
		ID string `json:"Id"`
	}
	if err := r.eng.call(ctx, "POST", "/containers/create", url.Values{"name": {name + newSuffix + short}}, sp.body, &created, 0); err != nil {
		return name, fmt.Errorf("container %s: creating its replacement: %w", name, err)
	}
	newID := created.ID
	for _, nc := range sp.connect {
		body := map[string]any{"Container": newID, "EndpointConfig": nc.endpoint}
		if err := r.eng.call(ctx, "POST", "/networks/"+url.PathEscape(nc.network)+"/connect", nil, body, nil, 0); err != nil {
			return name, r.abandon(ctx, newID, fmt.Errorf("container %s: connecting its replacement to network %s: %w", name, nc.network, err))
		}
	}

	// 2. The old one stopped and moved aside.
	stop := stopSeconds(old)
	log.Info("stopping the old container", "grace", stop)
	if err := r.eng.call(ctx, "POST", "/containers/"+old.ID+"/stop", url.Values{"t": {strconv.Itoa(stop)}}, nil, nil, time.Duration(stop)*time.Second); err != nil && !errors.Is(err, errNotModified) {
		return name, r.rollback(ctx, old.ID, name, newID, false, fmt.Errorf("container %s: stopping it: %w", name, err))
	}
	if err := r.rename(ctx, old.ID, name+oldSuffix+short); err != nil {
		return name, r.rollback(ctx, old.ID, name, newID, false, err)
	}

	// 3. The new one under the name, started, and watched.
	if err := r.rename(ctx, newID, name); err != nil {
		return name, r.rollback(ctx, old.ID, name, newID, true, err)
	}
	log.Info("starting the new container", "id", newID[:min(len(newID), shortIDLen)])
	if err := r.eng.call(ctx, "POST", "/containers/"+newID+"/start", nil, nil, nil, 0); err != nil && !errors.Is(err, errNotModified) {
		return name, r.rollback(ctx, old.ID, name, newID, true, fmt.Errorf("container %s: starting its replacement: %w", name, err))
	}
	if err := r.watch(ctx, newID); err != nil {
		return name, r.rollback(ctx, old.ID, name, newID, true, fmt.Errorf("container %s: its replacement %w", name, err))
	}

	// 4. Only now is the old one gone.
	if err := r.eng.call(ctx, "DELETE", "/containers/"+old.ID, nil, nil, nil, 0); err != nil {
		log.Warn("the new container runs, but removing the old one failed", "old", name+oldSuffix+short, "err", err)
	}
	return name, nil
}

// watch waits until the started container has kept running for the
// settle time and, when it has a health check, is healthy.
func (r *recreator) watch(ctx context.Context, id string) error {
	start := time.Now()
	for {
		c, err := r.eng.container(ctx, id)
		if err != nil {
			return err
		}
		switch {
		case c.RestartCount > 0:
			return fmt.Errorf("kept exiting: the engine restarted it %d time(s)", c.RestartCount)
		case c.State.Restarting:
			return fmt.Errorf("exited with code %d and is restarting", c.State.ExitCode)
		case !c.State.Running:
			msg := fmt.Sprintf("exited with code %d", c.State.ExitCode)
			if c.State.Error != "" {
				msg += ": " + c.State.Error
			}
			return errors.New(msg)
		case c.State.Health != nil && c.State.Health.Status == "unhealthy":
			return errors.New("is unhealthy")
		}
		elapsed := time.Since(start)
		if elapsed >= r.settle {
			if c.State.Health == nil || c.State.Health.Status == "healthy" {
				return nil
			}
			if elapsed >= r.settle+r.healthTimeout {
				return fmt.Errorf("is not healthy after %s (%s)", r.settle+r.healthTimeout, c.State.Health.Status)
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("was not seen running long enough: %w", context.Cause(ctx))
		case <-time.After(pollEvery):
		}
	}
}

// rollback puts the old container back after step failed: the new one
// removed, the old one renamed back (when it had been) and started. It
// runs on a context of its own, so a timed-out install still restores.
func (r *recreator) rollback(ctx context.Context, oldID, name, newID string, renamed bool, step error) error {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), restoreTimeout)
	defer cancel()
	r.log.Warn("putting the old container back", "container", name, "cause", step)
	var errs []error
	if err := r.remove(rctx, newID); err != nil {
		errs = append(errs, err)
	}
	if renamed {
		if err := r.rename(rctx, oldID, name); err != nil {
			errs = append(errs, err)
		}
	}
	if err := r.eng.call(rctx, "POST", "/containers/"+oldID+"/start", nil, nil, nil, 0); err != nil && !errors.Is(err, errNotModified) {
		errs = append(errs, fmt.Errorf("starting the old container: %w", err))
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w; putting the old container back FAILED: %w", step, errors.Join(errs...))
	}
	return fmt.Errorf("%w (%w: the old container runs again)", step, installer.ErrRolledBack)
}

// abandon removes a replacement that was created but never started; the
// old container was not touched.
func (r *recreator) abandon(ctx context.Context, newID string, step error) error {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), restoreTimeout)
	defer cancel()
	if err := r.remove(rctx, newID); err != nil {
		return fmt.Errorf("%w; removing the unused replacement failed: %w", step, err)
	}
	return step
}

func (r *recreator) rename(ctx context.Context, id, name string) error {
	if err := r.eng.call(ctx, "POST", "/containers/"+id+"/rename", url.Values{"name": {name}}, nil, nil, 0); err != nil {
		return fmt.Errorf("renaming a container to %s: %w", name, err)
	}
	return nil
}

func (r *recreator) remove(ctx context.Context, id string) error {
	// force stops it first; v is left false: volumes stay.
	if err := r.eng.call(ctx, "DELETE", "/containers/"+id, url.Values{"force": {"1"}}, nil, nil, 0); err != nil && !errors.Is(err, errNotFound) {
		return fmt.Errorf("removing the replacement: %w", err)
	}
	return nil
}

// volumesFrom returns the mount destinations old takes from other
// containers (--volumes-from): they must not be mounted a second time.
func (r *recreator) volumesFrom(ctx context.Context, old containerJSON) ([]string, error) {
	var hc hostConfig
	if err := json.Unmarshal(old.HostConfig, &hc); err != nil {
		return nil, fmt.Errorf("container %s: reading HostConfig: %w", old.ID, err)
	}
	var out []string
	for _, vf := range hc.VolumesFrom {
		src, _, _ := strings.Cut(vf, ":")
		c, err := r.eng.container(ctx, src)
		if err != nil {
			return nil, fmt.Errorf("container %s: volumes from %s: %w", old.ID, src, err)
		}
		for _, m := range c.Mounts {
			out = append(out, m.Destination)
		}
	}
	return out, nil
}

// stopSeconds is the container's own stop timeout, else the engine's
// default. It is capped at maxStopSeconds: the caller waits that many
// seconds more for the stop call, and time.Duration(s)*time.Second wraps
// negative past about 9.2e9 seconds, which made the call time out at once.
func stopSeconds(c containerJSON) int {
	var cfg containerConfig
	if json.Unmarshal(c.Config, &cfg) == nil && cfg.StopTimeout != nil && *cfg.StopTimeout >= 0 {
		return min(*cfg.StopTimeout, maxStopSeconds)
	}
	return defaultStopSeconds
}

func (e *engine) container(ctx context.Context, id string) (containerJSON, error) {
	var c containerJSON
	return c, e.call(ctx, "GET", "/containers/"+url.PathEscape(id)+"/json", nil, nil, &c, 0)
}

func (e *engine) image(ctx context.Context, ref string) (imageJSON, error) {
	var img imageJSON
	return img, e.call(ctx, "GET", "/images/"+escapeSegments(ref)+"/json", nil, nil, &img, 0)
}

// escapeSegments escapes each slash-separated part of an image
// reference, keeping its slashes as the engine's router expects them.
func escapeSegments(ref string) string {
	parts := strings.Split(ref, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return strings.Join(parts, "/")
}
