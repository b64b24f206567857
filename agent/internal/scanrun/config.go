package scanrun

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redflag-io/redflag/agent/internal/facts"
	"github.com/redflag-io/redflag/agent/internal/scan"
	"github.com/redflag-io/redflag/internal/protocol"
)

// Defaults for the zero fields of a Config.
const (
	// DefaultTimeout bounds one package manager's scan. dnf may refresh
	// expired metadata first, which takes minutes on a slow mirror.
	DefaultTimeout = 10 * time.Minute
	// DefaultFactsTimeout bounds one facts collection.
	DefaultFactsTimeout = 2 * time.Minute
	// DefaultAbandonAfter is how long past its timeout a scanner may take
	// to return before the run stops waiting for it. scan.Command gives a
	// killed process 5 s to release its pipes.
	DefaultAbandonAfter = 15 * time.Second
	// DefaultFailureThreshold is how many consecutive failures open a
	// scanner's circuit breaker.
	DefaultFailureThreshold = 3
)

// DefaultCoolDown is how long an open breaker skips its scanner: 15
// minutes, doubling each time the trial run after a cool-down fails again,
// up to 6 hours. A broken package manager is then retried a few times a
// day instead of on every schedule tick.
func DefaultCoolDown() CoolDown {
	return CoolDown{First: 15 * time.Minute, Max: 6 * time.Hour}
}

// Config is what a Runner runs and how.
type Config struct {
	// Updates are the scanners of subsystem "updates", one per package
	// manager. This list is where a package manager is registered.
	Updates []scan.Scanner
	// Docker lists the Docker engine's containers and images for
	// subsystem "docker"; nil means the host has no source for it.
	Docker DockerLister
	// Facts collects the host's facts for storage and system; nil means
	// facts.Collect.
	Facts func(context.Context) (facts.Facts, error)
	// Timeout bounds each scanner's run; 0 means DefaultTimeout.
	Timeout time.Duration
	// Timeouts overrides Timeout per package manager.
	Timeouts map[protocol.PackageManager]time.Duration
	// FactsTimeout bounds the facts collection; 0 means
	// DefaultFactsTimeout.
	FactsTimeout time.Duration
	// AbandonAfter is how long past its timeout a scanner that ignores
	// cancellation is waited for; 0 means DefaultAbandonAfter.
	AbandonAfter time.Duration
	// FailureThreshold is how many consecutive failures (or timeouts)
	// open a scanner's breaker; 0 means DefaultFailureThreshold.
	FailureThreshold int
	// CoolDown gives the successive cool-downs of an open breaker; a zero
	// First means DefaultCoolDown.
	CoolDown CoolDown
	// Clock tells the time for breakers and reports; nil means the real
	// clock. Timeouts always run on real time.
	Clock Clock
}

// Clock tells the time; tests pass a fake one (k8s.io/utils/clock's fakes
// fit, without the agent linking that package).
type Clock interface {
	Now() time.Time
}

// realClock is the wall clock.
type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

// DefaultConfig is the agent's configuration for this platform: every
// package manager it knows, the real facts collector, and a longer timeout
// for Windows Update, whose online search takes many minutes.
func DefaultConfig() Config {
	return Config{
		Updates:  UpdateScanners(),
		Docker:   DockerInventory(),
		Facts:    facts.Collect,
		Timeouts: map[protocol.PackageManager]time.Duration{protocol.ManagerWindowsUpdate: 30 * time.Minute},
	}
}

// withDefaults fills the zero fields of c.
func (c Config) withDefaults() Config {
	if c.Facts == nil {
		c.Facts = facts.Collect
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.FactsTimeout <= 0 {
		c.FactsTimeout = DefaultFactsTimeout
	}
	if c.AbandonAfter <= 0 {
		c.AbandonAfter = DefaultAbandonAfter
	}
	if c.FailureThreshold <= 0 {
		c.FailureThreshold = DefaultFailureThreshold
	}
	if c.CoolDown.First <= 0 {
		c.CoolDown = DefaultCoolDown()
	}
	if c.Clock == nil {
		c.Clock = realClock{}
	}
	return c
}

// validate refuses scanner lists the runner cannot keep apart or the API
// would refuse: breaker state and ByManager are keyed by manager.
func (c Config) validate() error {
	seen := map[protocol.PackageManager]bool{}
	for _, s := range c.Updates {
		if s == nil {
			return errors.New("scanrun: nil scanner")
		}
		m := s.Manager()
		// A probe update is the one list of managers the API accepts.
		if err := scan.Check(protocol.PendingUpdate{Manager: m, Name: "probe"}); err != nil {
			return fmt.Errorf("scanrun: scanner: %w", err)
		}
		if seen[m] {
			return fmt.Errorf("scanrun: two scanners for package manager %q", m)
		}
		seen[m] = true
	}
	return nil
}

func (c Config) timeout(m protocol.PackageManager) time.Duration {
	if d, ok := c.Timeouts[m]; ok && d > 0 {
		return d
	}
	return c.Timeout
}
