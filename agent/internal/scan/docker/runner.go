package docker

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"time"

	"github.com/redflag-io/redflag/agent/internal/scan"
	"github.com/redflag-io/redflag/internal/protocol"
)

// Runner scans the local Docker engine's images against their
// registries. The zero value checks the images of running containers on
// $DOCKER_HOST (or the default socket) with the logins of the default
// docker config.
type Runner struct {
	// Host is a DOCKER_HOST value; empty means $DOCKER_HOST, else the
	// platform default.
	Host string
	// Images also checks every tagged local image, not only those that
	// running containers use.
	Images bool
	// ConfigPath is the docker config.json holding registry logins;
	// empty means DefaultConfigPath().
	ConfigPath string
	// Timeout bounds each request to the engine or a registry; 0 means
	// 20s. The whole scan is bounded by the caller's context.
	Timeout time.Duration
}

var _ scan.Scanner = Runner{}

// Manager implements scan.Scanner.
func (Runner) Manager() protocol.PackageManager { return protocol.ManagerDocker }

// Scan implements scan.Scanner. It returns an error wrapping
// scan.ErrNotInstalled when no engine socket exists. When some images
// could be checked and others not (a registry down, a login refused), it
// returns the updates found together with a *PartialError.
func (r Runner) Scan(ctx context.Context) ([]protocol.PendingUpdate, error) {
	s, err := r.open(ctx)
	if err != nil {
		return nil, err
	}
	defer s.close()
	targets, listErrs := collectTargets(ctx, s.eng, r.Images)
	problems := append(s.problems, listErrs...)
	if ctx.Err() != nil {
		return nil, fmt.Errorf("docker scan: %w", context.Cause(ctx))
	}
	res := compare(ctx, s.eng, s.reg, targets)
	if ctx.Err() != nil {
		// A scan cut short is a timeout (or shutdown), not a partial
		// result: the caller keeps its last complete one.
		return nil, fmt.Errorf("docker scan: %w", context.Cause(ctx))
	}
	problems = append(problems, res.problems...)

	switch {
	case len(problems) == 0:
		return res.list.Items(), nil
	case res.checked == 0:
		return nil, fmt.Errorf("docker scan: %w", errors.Join(problems...))
	default:
		return res.list.Items(), &PartialError{Checked: res.checked, Errs: problems}
	}
}

// session is an engine and a registry client for one scan, with the
// problems met opening them.
type session struct {
	eng      *Engine
	reg      *Registry
	problems []error
}

// open connects to the engine and prepares the registry client with the
// engine's insecure registries and the docker config's logins.
func (r Runner) open(ctx context.Context) (*session, error) {
	eng, err := NewEngine(r.Host, r.Timeout)
	if err != nil {
		if r.Host == "" && os.Getenv("DOCKER_HOST") == "" && runtime.GOOS == "windows" {
			// No engine this scanner can reach, which to the agent is
			// the same as none installed.
			return nil, fmt.Errorf("docker scan: %w: %w", scan.ErrNotInstalled, err)
		}
		return nil, fmt.Errorf("docker scan: %w", err)
	}
	present, err := eng.addr.present()
	if err != nil {
		eng.Close()
		return nil, fmt.Errorf("docker scan: %w", err)
	}
	if !present {
		eng.Close()
		return nil, fmt.Errorf("docker scan: %w: no engine socket at %s", scan.ErrNotInstalled, eng.addr.address)
	}
	info, err := eng.Info(ctx)
	if err != nil {
		eng.Close()
		return nil, fmt.Errorf("docker scan: %w", err)
	}
	s := &session{eng: eng}
	path := r.ConfigPath
	if path == "" {
		path = DefaultConfigPath()
	}
	kc, err := LoadKeychain(path)
	if err != nil {
		// Public images need no login: go on anonymously, but say so.
		s.problems = append(s.problems, fmt.Errorf("registry logins not used: %w", err))
	}
	s.reg, err = NewRegistry(RegistryConfig{Keychain: kc, Engine: info, Timeout: r.Timeout})
	if err != nil {
		eng.Close()
		return nil, fmt.Errorf("docker scan: %w", err)
	}
	return s, nil
}

func (s *session) close() {
	s.reg.Close()
	s.eng.Close()
}
