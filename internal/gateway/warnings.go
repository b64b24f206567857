package gateway

import (
	"time"

	"github.com/redflag-io/redflag/internal/events"
)

// warnPeriod is the least time between two Warnings of one reason on one
// agent: a flood of forged requests must not become a flood of Events.
const warnPeriod = time.Minute

// warn records a Warning Event on the agent, at most once per warnPeriod per
// reason. It writes no history: a forged request must not be able to make
// the gateway write to the API server.
func (g *Gateway) warn(rec *agentRecord, reason events.Reason, message string) {
	g.warnAtMostEvery(rec, reason, message, warnPeriod)
}

// warnAtMostEvery is warn with its own period, for conditions that last
// (a suspected clone) rather than single refused requests.
func (g *Gateway) warnAtMostEvery(rec *agentRecord, reason events.Reason, message string, period time.Duration) {
	if !rec.st.mayWarn(reason.Name, g.clock.Now(), period) {
		return
	}
	g.recorder.Emit(rec.ref(), g.recorder.Entry(reason, message, nil))
}

// mayWarn reports whether a Warning of reason may be emitted now, and if
// so notes it. The map holds one entry per reason, a handful.
func (s *agentState) mayWarn(reason string, now time.Time, period time.Duration) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if last, ok := s.warned[reason]; ok && now.Sub(last) < period {
		return false
	}
	if s.gone {
		return true // nothing to remember it in
	}
	if s.warned == nil {
		s.warned = map[string]time.Time{}
	}
	s.warned[reason] = now
	return true
}
