package scanrun

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redflag-io/redflag/internal/protocol"

	"github.com/redflag-io/redflag/agent/internal/facts"
)

// factsCollection is one facts.Collect call, shared by storage and system.
type factsCollection struct {
	facts    facts.Facts
	storage  []error // errors about storage
	system   []error // errors about everything else
	timedOut bool
	took     time.Duration
}

// collectFacts runs the facts collector under FactsTimeout. Collect
// returns what it could read together with one joined error per part; the
// parts are split between the subsystems, so an unreadable mount does not
// mark system as failed.
func (r *Runner) collectFacts(ctx context.Context) *factsCollection {
	fctx, cancel := context.WithTimeoutCause(ctx, r.cfg.FactsTimeout, errTimedOut)
	defer cancel()
	start := time.Now()
	f, err := r.cfg.Facts(fctx)
	fc := &factsCollection{facts: f, took: time.Since(start)}
	fc.timedOut = errors.Is(context.Cause(fctx), errTimedOut)
	for _, e := range unjoin(err) {
		// facts prefixes every storage error with "storage:"; the package
		// exports no sentinel to test instead.
		if strings.HasPrefix(e.Error(), "storage:") {
			fc.storage = append(fc.storage, e)
		} else {
			fc.system = append(fc.system, e)
		}
	}
	return fc
}

// unjoin lists the errors an errors.Join holds, or err alone.
func unjoin(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// factsResult builds subsystem storage or system from fc. A part that
// errored but still produced data succeeds with the errors as its
// message: a report of the other mounts is worth more than none.
func (r *Runner) factsResult(sub Subsystem, fc *factsCollection) Result {
	f := fc.facts
	res := Result{Subsystem: sub}
	var errs []error
	var usable bool
	if sub == Storage {
		errs, usable = fc.storage, len(f.Storage) > 0
		res.Storage = f.Storage
		res.Hash = facts.Facts{Storage: f.Storage}.Coarse().Hash()
	} else {
		errs = fc.system
		usable = f.OS.Kernel != "" || f.OS.Distribution != "" || f.System.CPUCores > 0
		res.Hostname = f.Hostname
		res.OS, res.System = &f.OS, &f.System
		res.Hash = facts.Facts{Hostname: f.Hostname, OS: f.OS, System: f.System}.Hash()
	}

	out := Outcome{Name: SourceFacts, Present: true, Took: protocol.Duration{Duration: fc.took}}
	err := errors.Join(errs...)
	switch {
	case fc.timedOut:
		out.Result = protocol.RunTimedOut
		out.Message = fmt.Sprintf("no complete result within %s", r.cfg.FactsTimeout)
		if err != nil {
			out.Message += ": " + detail(err)
		}
	case err == nil:
		out.Result = protocol.RunSucceeded
	case usable:
		out.Result = protocol.RunSucceeded
		out.Message = "partial: " + detail(err)
	default:
		out.Result = protocol.RunFailed
		out.Message = detail(err)
	}
	out.Message = clipMessage(out.Message)
	res.Outcomes = []Outcome{out}
	res.Status = rollup(sub, res.Outcomes, r.cfg.Clock.Now())
	return res
}
