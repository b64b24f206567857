package gateway

import (
	"sync"
	"time"

	"github.com/redflag-io/redflag/internal/events"
)

// warnPeriod is the least time between two Warnings of one reason on one
// agent: a flood of forged requests must not become a flood of Events.
const warnPeriod = time.Minute

type warnLimiter struct {
	mu   sync.Mutex
	last map[string]time.Time
}

// warn records a Warning Event on the agent, at most once per warnPeriod per
// reason. It writes no history: a forged request must not be able to make
// the gateway write to the API server.
func (g *Gateway) warn(rec *agentRecord, reason events.Reason, message string) {
	g.warnAtMostEvery(rec, reason, message, warnPeriod)
}

// warnAtMostEvery is warn with its own period, for conditions that last
// (a suspected clone) rather than single refused requests.
func (g *Gateway) warnAtMostEvery(rec *agentRecord, reason events.Reason, message string, period time.Duration) {
	now := g.clock.Now()
	key := rec.key + "\x00" + reason.Name
	g.warned.mu.Lock()
	if last, ok := g.warned.last[key]; ok && now.Sub(last) < period {
		g.warned.mu.Unlock()
		return
	}
	g.warned.last[key] = now
	g.warned.mu.Unlock()
	g.recorder.Emit(rec.ref(), g.recorder.Entry(reason, message, nil))
}
