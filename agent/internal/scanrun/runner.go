package scanrun

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/redflag-io/redflag/agent/internal/scan"
	"github.com/redflag-io/redflag/internal/protocol"
)

// Runner runs subsystems. It keeps each package manager's breaker and last
// good list in memory, so one Runner should live as long as the agent. It
// is safe for concurrent use; a manager whose previous scan is still
// running is skipped rather than started twice.
type Runner struct {
	cfg Config

	mu     sync.Mutex
	states map[protocol.PackageManager]*managerState
}

// managerState is what a Runner remembers of one package manager. It is
// guarded by Runner.mu.
type managerState struct {
	breaker breaker
	// running is set while a scan goroutine has not returned, including
	// one abandoned after its timeout.
	running bool
	// kept and keptAt are the last successful scan's list and time; keptAt
	// is zero when there was none.
	kept   []protocol.PendingUpdate
	keptAt time.Time
}

// New returns a Runner for cfg, with its zero fields defaulted. It refuses
// a scanner for an unknown package manager and two scanners for one.
func New(cfg Config) (*Runner, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	r := &Runner{cfg: cfg, states: make(map[protocol.PackageManager]*managerState)}
	for _, s := range cfg.Updates {
		r.states[s.Manager()] = &managerState{
			breaker: newBreaker(cfg.FailureThreshold, cfg.CoolDown),
		}
	}
	return r, nil
}

// Run runs each subsystem in subs once, in order, and reports them in
// that order. The facts behind storage and system are collected once per
// call. Failures are reported in the results; the error is only for a
// subsystem name Run does not know. No package lists are refreshed (see
// RunWith).
func (r *Runner) Run(ctx context.Context, subs ...Subsystem) (Report, error) {
	return r.RunWith(ctx, scan.Options{}, subs...)
}

// RunWith is Run with opts handed to every scanner that takes them
// (scan.OptionScanner).
func (r *Runner) RunWith(ctx context.Context, opts scan.Options, subs ...Subsystem) (Report, error) {
	for _, sub := range subs {
		if !known(sub) {
			return Report{}, fmt.Errorf("scanrun: %w %q", ErrUnknownSubsystem, sub)
		}
	}
	var fc *factsCollection
	report := Report{Results: make([]Result, 0, len(subs))}
	for _, sub := range subs {
		switch sub {
		case Updates:
			report.Results = append(report.Results, r.runManagers(ctx, sub, r.cfg.Updates, opts))
		case Docker:
			report.Results = append(report.Results, r.runDocker(ctx))
		default:
			if fc == nil {
				fc = r.collectFacts(ctx)
			}
			report.Results = append(report.Results, r.factsResult(sub, fc))
		}
	}
	return report, nil
}
