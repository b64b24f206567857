package scanrun

import "time"

// CoolDown gives the successive cool-downs of an open breaker: First, then
// twice as long after each failed trial, up to Max (no bound when zero).
type CoolDown struct {
	First time.Duration
	Max   time.Duration
}

// next returns the current cool-down and doubles it, within Max.
func (c *CoolDown) next() time.Duration {
	d := c.First
	c.First *= 2
	if c.Max > 0 && c.First > c.Max {
		c.First = c.Max
	}
	return d
}

// breaker is one scanner's circuit breaker. After threshold consecutive
// failures it opens for a cool-down taken from a CoolDown; when the
// cool-down ends one trial run is let through, and a trial that fails
// again reopens it for the next, longer, cool-down. A success closes it
// and restarts both the count and the backoff.
type breaker struct {
	threshold int
	initial   CoolDown
	backoff   CoolDown
	failures  int
	openUntil time.Time
	lastErr   string
}

func newBreaker(threshold int, b CoolDown) breaker {
	return breaker{threshold: threshold, initial: b, backoff: b}
}

// allow reports whether a run may start at now.
func (b *breaker) allow(now time.Time) bool {
	return b.openUntil.IsZero() || !now.Before(b.openUntil)
}

func (b *breaker) succeed() {
	b.failures = 0
	b.openUntil = time.Time{}
	b.backoff = b.initial
	b.lastErr = ""
}

// fail records a failure at now and returns when the breaker reopens
// for, or the zero time while it stays closed.
func (b *breaker) fail(now time.Time, msg string) time.Time {
	b.failures++
	b.lastErr = msg
	if b.failures < b.threshold {
		return time.Time{}
	}
	b.openUntil = now.Add(b.backoff.next())
	return b.openUntil
}
