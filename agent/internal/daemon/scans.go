package daemon

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/redflag-io/redflag/agent/internal/scan"
	"github.com/redflag-io/redflag/agent/internal/scanrun"
	"github.com/redflag-io/redflag/internal/protocol"
)

// scans runs the scans the gateway asks for: each ID once, at most one per
// subsystem at a time, so work never piles up on a slow host. Results go to
// the outbox and reach the gateway with the next check-in.
type scans struct {
	runner *scanrun.Runner
	log    *slog.Logger

	mu       sync.Mutex
	running  map[string]string // subsystem → ID
	lastDone map[string]string // subsystem → ID
	// lastResult is the result of lastDone, and resent the ID whose result
	// was sent a second time (see start).
	lastResult map[string]*protocol.ScanResult
	lastDoneAt map[string]time.Time
	resent     map[string]string
	wg         sync.WaitGroup
	// factsDue is set when a storage or system scan ran: the main loop then
	// sends fresh facts (it owns the facts state).
	factsDue bool
	// finished wakes the main loop so a result is delivered at once rather
	// than at the next regular check-in.
	finished chan struct{}
	// queued holds, by subsystem, a rescan asked for while that
	// subsystem's scan ran (see rescan).
	queued map[string]queuedScan
	// bound is the package-list refresh bound of the last updates scan
	// the gateway asked for; the agent's own rescans use it too.
	bound *protocol.Duration
}

// queuedScan is a rescan waiting for the running scan of its subsystem.
type queuedScan struct {
	start func()
	done  chan struct{}
}

// resendAfter is how long after a scan ends an offer of the same ID means
// the gateway forgot the result rather than has not yet seen it stored.
const resendAfter = time.Minute

func newScans(log *slog.Logger) (*scans, error) {
	r, err := scanrun.New(scanrun.DefaultConfig())
	if err != nil {
		return nil, err
	}
	return &scans{runner: r, log: log, running: map[string]string{}, lastDone: map[string]string{},
		lastResult: map[string]*protocol.ScanResult{}, lastDoneAt: map[string]time.Time{}, resent: map[string]string{}, finished: make(chan struct{}, 1)}, nil
}

// start launches the requested scans that are neither running nor done.
func (s *scans) start(ctx context.Context, reqs []protocol.ScanRequest, queue func(protocol.Report)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, req := range reqs {
		if req.Subsystem == string(scanrun.Updates) && req.RefreshListsAfter != nil {
			s.bound = req.RefreshListsAfter
		}
		if s.running[req.Subsystem] != "" {
			continue
		}
		if s.lastDone[req.Subsystem] == req.ID {
			// Offered again after its result was acknowledged: the gateway
			// forgot it (a restart, or another replica: unchanged results
			// live in gateway memory until the next liveness write). Send
			// the result once more rather than run the scan again or, worse,
			// skip it until the gateway stops asking: it never would.
			// Right after a result the offer is usually just the gateway's
			// cache catching up with the write, hence the wait.
			if r := s.lastResult[req.Subsystem]; r != nil && s.resent[req.Subsystem] != req.ID &&
				time.Since(s.lastDoneAt[req.Subsystem]) > resendAfter {
				s.resent[req.Subsystem] = req.ID
				queue(protocol.Report{Kind: protocol.ReportScan, Scan: r})
			}
			continue
		}
		s.launch(ctx, req, queue, nil)
	}
}

// rescan runs a subsystem's scan now, under an ID of the agent's own,
// outside any schedule: an install changed what is pending, and the Agent
// should say so at once rather than at the next scheduled scan (hours
// away, or never without a ScanSchedule). A scan of the subsystem already
// running began before the change, so the rescan follows it rather than
// being dropped. The returned channel is closed when the rescan has ended
// (or was dropped because the daemon is stopping).
func (s *scans) rescan(ctx context.Context, subsystem, id string, queue func(protocol.Report)) <-chan struct{} {
	done := make(chan struct{})
	s.mu.Lock()
	defer s.mu.Unlock()
	req := protocol.ScanRequest{Subsystem: subsystem, ID: id}
	if subsystem == string(scanrun.Updates) {
		req.RefreshListsAfter = s.bound
	}
	if s.running[subsystem] == "" {
		s.launch(ctx, req, queue, done)
		return done
	}
	if s.queued == nil {
		s.queued = map[string]queuedScan{}
	}
	if old, ok := s.queued[subsystem]; ok {
		close(old.done) // superseded: one rescan after the running scan is enough
	}
	s.queued[subsystem] = queuedScan{start: func() { s.launch(ctx, req, queue, done) }, done: done}
	return done
}

// launch starts req; s.mu is held. done, when not nil, is closed when the
// scan has ended.
func (s *scans) launch(ctx context.Context, req protocol.ScanRequest, queue func(protocol.Report), done chan struct{}) {
	s.running[req.Subsystem] = req.ID
	s.log.Info("scan starting", "subsystem", req.Subsystem, "id", req.ID)
	s.wg.Go(func() {
		if done != nil {
			defer close(done)
		}
		s.run(ctx, req, queue)
	})
}

func (s *scans) run(ctx context.Context, req protocol.ScanRequest, queue func(protocol.Report)) {
	rep, err := s.runner.RunWith(ctx, scanOptions(req), scanrun.Subsystem(req.Subsystem))
	result := &protocol.ScanResult{Subsystem: req.Subsystem, ID: req.ID, Finished: time.Now().UTC()}
	switch {
	case err != nil:
		result.Result, result.Message = "Failed", err.Error()
	case len(rep.Results) == 1:
		r := rep.Results[0]
		result.Result, result.Message = r.Status.Result, r.Status.Message
		result.Updates, result.Docker, result.UpdatesHash = r.Updates, r.Docker, r.Hash
	default:
		result.Result, result.Message = "Failed", "the scan produced no result"
	}
	if ctx.Err() != nil {
		// Stopped mid-scan: the scan stays due and runs again after restart.
		s.finish(req, nil)
		return
	}
	queue(protocol.Report{Kind: protocol.ReportScan, Scan: result})
	s.log.Info("scan finished", "subsystem", req.Subsystem, "id", req.ID, "result", result.Result)
	s.finish(req, result)
	select {
	case s.finished <- struct{}{}:
	default:
	}
}

// finish records a scan's end; result is nil when it was cut short.
func (s *scans) finish(req protocol.ScanRequest, result *protocol.ScanResult) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.running, req.Subsystem)
	if next, ok := s.queued[req.Subsystem]; ok {
		delete(s.queued, req.Subsystem)
		if result != nil {
			next.start()
		} else {
			close(next.done) // stopping: nothing more starts
		}
	}
	if result != nil {
		s.lastDone[req.Subsystem] = req.ID
		s.lastResult[req.Subsystem] = result
		s.lastDoneAt[req.Subsystem] = time.Now()
		if req.Subsystem == string(scanrun.Storage) || req.Subsystem == string(scanrun.System) {
			s.factsDue = true
		}
	}
}

// takeFactsDue reports (and clears) whether a facts scan finished.
func (s *scans) takeFactsDue() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	due := s.factsDue
	s.factsDue = false
	return due
}

// wait blocks until running scans have stopped (after ctx is cancelled).
func (s *scans) wait() { s.wg.Wait() }

// scanOptions are the scanners' settings for req: its package-list
// refresh bound, or the default when the gateway sent none (one that
// predates the bound, or a rescan before any scheduled scan).
func scanOptions(req protocol.ScanRequest) scan.Options {
	if req.RefreshListsAfter == nil {
		return scan.Options{RefreshListsAfter: protocol.DefaultRefreshListsAfter}
	}
	return scan.Options{RefreshListsAfter: req.RefreshListsAfter.Duration}
}
