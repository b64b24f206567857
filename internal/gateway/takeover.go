package gateway

import (
	"sync/atomic"
	"time"
)

// Replays across restarts and hand-overs. The nonce cache that refuses a
// replayed request lives in one process's memory: a restarted gateway, or
// a replica that has just become an agent's owner, has not seen the nonces
// of requests signed before, and the clock-skew window alone would let such
// a request (and the report in it) be applied a second time. So a gateway
// accepts for an agent only requests signed after it took the agent over:
// after it started, and after the last change of replicas (which moves
// agents between owners), less the fraction of a second that whole-second
// timestamps cannot tell apart: a request captured less than a second
// before the take-over could still be replayed once, and a fresh one
// signed in the same second is never refused. (Refusing that second too
// would make every request in flight at a start fail once.) A request
// signed before gets 503 with a Retry-After that reaches that second; the agent signs its retry anew
// (its outbox keeps reports), so a real agent loses nothing. The price: a
// host whose clock runs behind the gateway's is refused for as long as it
// is behind after each restart or replica change (within the skew allowed).

// takeover remembers when this gateway started serving, as Unix seconds.
type takeover struct {
	startedAt atomic.Int64
}

func (t *takeover) start(now time.Time) { t.startedAt.Store(now.Unix()) }

// notBefore is the earliest timestamp (whole seconds) a request may carry:
// the second of the later of the start and the last change of owners.
func (g *Gateway) notBefore() time.Time {
	since := time.Unix(g.takeover.startedAt.Load(), 0)
	if g.peers != nil {
		if changed := g.peers.ownersChangedAt(g.clock.Now()); changed.After(since) {
			since = changed
		}
	}
	return since.Truncate(time.Second)
}

// retryAfterTakeover is how long a request signed at ts must wait to be
// signed again at or after notBefore: at least a second, at most the skew.
func retryAfterTakeover(ts, notBefore time.Time, skew time.Duration) int {
	// ts passed the skew check and notBefore is not in the future, so the
	// wait is at most the skew; it is at least a second because
	// timestamps are whole seconds.
	wait := min(max(notBefore.Sub(ts), time.Second), skew)
	return int((wait + time.Second - 1) / time.Second)
}
