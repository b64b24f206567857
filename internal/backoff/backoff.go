// Package backoff is how a host spaces its attempts to reach the gateway:
// exponential backoff with full jitter after failures, a Retry-After from the
// gateway as a floor, and jitter on the regular check-in interval. The agent
// daemon uses it, and so does the load generator's simulated fleet, so what
// the reconnect test measures is what hosts do.
package backoff

import (
	"math/rand/v2"
	"time"
)

const (
	// Base is the ceiling of the first wait; it doubles per failure.
	Base = time.Second
	// Cap bounds the ceiling.
	Cap = 5 * time.Minute
	// MaxRetryAfter is the longest Retry-After a host honours. The gateway
	// asks for seconds (10 while the API server is away, a rate limiter's
	// refill); anything longer comes from a proxy or a broken server, and a
	// host obeying it would stay silent (and be taken for dead) for as long
	// as it says: 99999999999 s is some 3000 years. An hour is long enough
	// to honour any real maintenance answer and short enough that a host
	// comes back on its own; it also keeps the arithmetic in Next (twice
	// the floor, plus a spread) far from overflowing a Duration.
	MaxRetryAfter = time.Hour

	// MinCheckIn and MaxCheckIn bound the wait a work document may ask for
	// (Jitter). The gateway asks for the Agent's interval (5s to 1h, by
	// its schema) or the heartbeat interval (at least 1s); anything outside
	// comes from a broken or hostile server. A host obeying "1ns" would
	// flood the gateway, and one obeying "2562047h" would stay silent for
	// ever (and the ±10% spread on it overflowed a Duration into a negative
	// wait, which floods too).
	MinCheckIn = time.Second
	MaxCheckIn = time.Hour
)

// Backoff is exponential with full jitter: after n failures the wait is
// uniform in (0, min(Cap, Base*2^n)], so a fleet that lost the gateway at
// once does not come back at once. A Retry-After from the gateway is a
// floor, and the wait is spread beyond it too (see Next). It is not safe for
// concurrent use.
//
// It keeps its own ceiling rather than a k8s.io wait.Backoff (the same
// doubling to Cap): the agent links no Kubernetes package.
type Backoff struct {
	ceiling time.Duration
}

// New returns a backoff before any failure.
func New() *Backoff {
	bo := &Backoff{}
	bo.Reset()
	return bo
}

// Reset starts over, after a success.
func (bo *Backoff) Reset() {
	bo.ceiling = Base
}

// Next is how long to wait after one more failure. retryAfter is the
// gateway's Retry-After (zero when it sent none); one over MaxRetryAfter
// counts as MaxRetryAfter, and a negative one as none.
//
// Every host refused in the same moment gets the same Retry-After (the
// gateway answers 503 with Retry-After 10 while the API server is away), so
// the floor alone would bring the whole fleet back in the same second, and
// again every Retry-After after that. Beyond the floor the wait is therefore
// spread uniformly over twice the floor, or over the exponential ceiling once
// that is larger: never earlier than the gateway asked, never all at once.
func (bo *Backoff) Next(retryAfter time.Duration) time.Duration {
	ceiling := bo.ceiling
	bo.ceiling = min(2*ceiling, Cap)
	if retryAfter <= 0 {
		return time.Duration(rand.Int64N(int64(ceiling)) + 1)
	}
	retryAfter = min(retryAfter, MaxRetryAfter)
	spread := max(ceiling, 2*retryAfter)
	return retryAfter + time.Duration(rand.Int64N(int64(spread)))
}

// Ceiling is the upper bound the next failure's wait is drawn from (before
// any Retry-After), for tests and status output.
func (bo *Backoff) Ceiling() time.Duration {
	return bo.ceiling
}

// Jitter spreads a regular interval by up to ±10%, so agents that happen to
// align drift apart again. d is first brought within MinCheckIn and
// MaxCheckIn, which also keeps the arithmetic far from overflowing.
func Jitter(d time.Duration) time.Duration {
	d = min(max(d, MinCheckIn), MaxCheckIn)
	spread := int64(d) / 5
	return d - time.Duration(spread/2) + time.Duration(rand.Int64N(spread+1))
}
