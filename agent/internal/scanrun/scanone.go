package scanrun

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redflag-io/redflag/internal/protocol"

	"github.com/redflag-io/redflag/agent/internal/scan"
)

var (
	// errTimedOut is the cause of a scanner context that hit its own
	// timeout, telling it apart from the agent shutting down.
	errTimedOut = errors.New("scan timed out")
	// errPanicked is wrapped when a scanner panicked: a bug in one
	// scanner must not take down the agent and the other scanners.
	errPanicked = errors.New("scanner panicked")
)

// scanReturn is what a scanner's goroutine hands back.
type scanReturn struct {
	items []protocol.PendingUpdate
	err   error
}

// scanManager runs one scanner through its breaker and timeout and returns
// its outcome and the list it contributes to the inventory (the last good
// one when this run produced none).
func (r *Runner) scanManager(ctx context.Context, s scan.Scanner, opts scan.Options) (Outcome, []protocol.PendingUpdate) {
	m := s.Manager()
	out := Outcome{Name: string(m), Present: true}
	st := r.states[m]
	now := r.cfg.Clock.Now()

	r.mu.Lock()
	switch {
	case st.running:
		r.mu.Unlock()
		out.Result = protocol.RunSkipped
		return r.keep(out, st, "its previous scan has not returned yet (it was abandoned after its timeout)")
	case !st.breaker.allow(now):
		// The retry time leads, so clipping a long last error never cuts it.
		msg := fmt.Sprintf("circuit open, retries after %s; %d consecutive failures, last: %s",
			st.breaker.openUntil.UTC().Format(time.RFC3339), st.breaker.failures, st.breaker.lastErr)
		r.mu.Unlock()
		out.Result = protocol.RunSkipped
		return r.keep(out, st, msg)
	}
	st.running = true
	r.mu.Unlock()

	timeout := r.cfg.timeout(m)
	sctx, cancel := context.WithTimeoutCause(ctx, timeout, errTimedOut)
	defer cancel()
	start := time.Now()
	ret := r.call(sctx, s, st, opts)
	out.Took = protocol.Duration{Duration: time.Since(start)}
	now = r.cfg.Clock.Now()

	switch {
	case scan.Usable(ret.err, len(ret.items)):
		items, dropped := normalise(m, ret.items)
		out.Result = protocol.RunSucceeded
		out.Updates = len(items)
		out.Message = partialMessage(ret.err, dropped)
		r.mu.Lock()
		st.breaker.succeed()
		st.kept, st.keptAt = items, now
		r.mu.Unlock()
		return out, items
	case errors.Is(ret.err, scan.ErrNotInstalled):
		// Absent is a fact about the host, not a failure: no breaker, and
		// nothing kept from a time it was installed.
		r.mu.Lock()
		st.kept, st.keptAt = nil, time.Time{}
		r.mu.Unlock()
		out.Present = false
		out.Result = protocol.RunSkipped
		out.Message = "not installed on this host"
		return out, nil
	case errors.Is(context.Cause(sctx), errTimedOut):
		out.Result = protocol.RunTimedOut
		return r.failed(out, st, now, fmt.Sprintf("no result within %s: %s", timeout, detail(ret.err)))
	case ctx.Err() != nil:
		// The agent is stopping: not the scanner's fault, so the breaker
		// does not count it.
		out.Result = protocol.RunFailed
		return r.keep(out, st, "interrupted: "+detail(ret.err))
	default:
		out.Result = protocol.RunFailed
		return r.failed(out, st, now, detail(ret.err))
	}
}

// call runs s in its own goroutine and waits for it, or, once sctx has
// ended, for at most AbandonAfter more: a scanner that ignores
// cancellation is left behind (st.running stays set until it returns)
// instead of stalling every later run.
func (r *Runner) call(sctx context.Context, s scan.Scanner, st *managerState, opts scan.Options) scanReturn {
	done := make(chan scanReturn, 1)
	go func() {
		ret := safeScan(sctx, s, opts)
		r.mu.Lock()
		st.running = false
		r.mu.Unlock()
		done <- ret
	}()
	select {
	case ret := <-done:
		return ret
	case <-sctx.Done():
	}
	t := time.NewTimer(r.cfg.AbandonAfter)
	defer t.Stop()
	select {
	case ret := <-done:
		return ret
	case <-t.C:
		return scanReturn{err: fmt.Errorf("%w; the scanner did not stop within %s and was abandoned",
			context.Cause(sctx), r.cfg.AbandonAfter)}
	}
}

// safeScan runs s.Scan (ScanWith, for a scanner that takes options),
// turning a panic into an error.
func safeScan(ctx context.Context, s scan.Scanner, opts scan.Options) (ret scanReturn) {
	defer func() {
		if p := recover(); p != nil {
			ret = scanReturn{err: fmt.Errorf("%w: %v", errPanicked, p)}
		}
	}()
	if os, ok := s.(scan.OptionScanner); ok {
		items, err := os.ScanWith(ctx, opts)
		return scanReturn{items: items, err: err}
	}
	items, err := s.Scan(ctx)
	return scanReturn{items: items, err: err}
}

// failed records a failure or timeout on the breaker and keeps the last
// good list.
func (r *Runner) failed(out Outcome, st *managerState, now time.Time, msg string) (Outcome, []protocol.PendingUpdate) {
	r.mu.Lock()
	until := st.breaker.fail(now, msg)
	r.mu.Unlock()
	if !until.IsZero() {
		msg += fmt.Sprintf("; circuit open until %s", until.UTC().Format(time.RFC3339))
	}
	return r.keep(out, st, msg)
}

// keep sets msg on out and, when the manager has a last good list, puts
// that list back in the inventory so its updates do not vanish for one bad
// run.
func (r *Runner) keep(out Outcome, st *managerState, msg string) (Outcome, []protocol.PendingUpdate) {
	r.mu.Lock()
	items, at := st.kept, st.keptAt
	r.mu.Unlock()
	if !at.IsZero() {
		t := protocol.NewTime(at)
		out.KeptFrom = &t
		out.Updates = len(items)
		msg += fmt.Sprintf("; keeping the %d update(s) found at %s", len(items), at.UTC().Format(time.RFC3339))
	}
	out.Message = clipMessage(msg)
	return out, items
}

// detail is an error cut short enough that the notes composed around it
// (retry time, kept list) still fit in a status message, on one line:
// errors.Join separates with newlines, which Clean would drop.
func detail(err error) string {
	return scan.Clean(strings.ReplaceAll(err.Error(), "\n", "; "), maxDetail)
}

// partialMessage says what a successful scan left out, or "" for a clean
// one.
func partialMessage(err error, dropped int) string {
	msg := ""
	switch {
	case err != nil && !errors.Is(err, scan.ErrMalformed):
		// Complete, but from lists that could not be refreshed: the
		// error says so itself.
		msg = detail(err)
	case err != nil:
		msg = "partial: " + detail(err)
	}
	if dropped > 0 {
		if msg != "" {
			msg += "; "
		}
		msg += fmt.Sprintf("dropped %d unusable entr(ies)", dropped)
	}
	return clipMessage(msg)
}
