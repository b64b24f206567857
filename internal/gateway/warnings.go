package gateway

import (
	"sync"
	"time"

	"github.com/redflag-io/redflag/internal/events"
)

// warnEvery is the least time between two Warnings of one reason on one
// agent: a flood of forged requests must not become a flood of Events.
const warnEvery = time.Minute

type warnLimiter struct {
	mu   sync.Mutex
	last map[string]time.Time
}

// warn records a Warning Event on the agent, at most once per warnEvery per
// reason. It writes no history: a forged request must not be able to make
// the gateway write to the API server.
func (g *Gateway) warn(rec *agentRecord, reason events.Reason, message string) {
	now := g.clock.Now()
	key := rec.key + "\x00" + reason.Name
	g.warned.mu.Lock()
	if now.Sub(g.warned.last[key]) < warnEvery {
		g.warned.mu.Unlock()
		return
	}
	g.warned.last[key] = now
	g.warned.mu.Unlock()
	g.recorder.Emit(rec.ref(), g.recorder.Entry(reason, message, nil))
}
