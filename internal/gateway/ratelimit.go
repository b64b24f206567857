package gateway

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// limiterSet holds one token bucket per key (client address),
// dropping buckets idle for a while so the map does not grow without bound.
type limiterSet struct {
	limit rate.Limit
	burst int

	mu        sync.Mutex
	buckets   map[string]*bucket
	nextSweep time.Time
}

type bucket struct {
	lim      *rate.Limiter
	lastUsed time.Time
}

func newLimiterSet(perSecond float64, burst int) *limiterSet {
	return &limiterSet{limit: rate.Limit(perSecond), burst: burst, buckets: map[string]*bucket{}}
}

// allow takes one token for key. When none is left it returns false and how
// long to wait, for Retry-After.
func (l *limiterSet) allow(key string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.After(l.nextSweep) {
		for k, b := range l.buckets {
			if now.Sub(b.lastUsed) > 10*time.Minute {
				delete(l.buckets, k)
			}
		}
		l.nextSweep = now.Add(time.Minute)
	}
	b, ok := l.buckets[key]
	if !ok {
		b = &bucket{lim: rate.NewLimiter(l.limit, l.burst)}
		l.buckets[key] = b
	}
	b.lastUsed = now
	if b.lim.AllowN(now, 1) {
		return true, 0
	}
	r := b.lim.ReserveN(now, 1)
	wait := r.DelayFrom(now)
	r.CancelAt(now)
	return false, wait
}

// blocked reports whether key's bucket is empty, without taking a token, and
// how long until one is back. Paired with take, it limits only the requests
// that turn out badly (failed enrollments), not the good ones.
func (l *limiterSet) blocked(key string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		return false, 0
	}
	if tokens := b.lim.TokensAt(now); tokens < 1 {
		return true, time.Duration((1 - tokens) / float64(l.limit) * float64(time.Second))
	}
	return false, 0
}

// take spends one token of key's bucket, even into debt.
func (l *limiterSet) take(key string, now time.Time) {
	l.allow(key, now)
}

// retryAfterSeconds rounds a wait up to whole seconds, at least one.
func retryAfterSeconds(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}

// allow takes one token of the agent's own budget (perSecond, burst),
// kept in its state so it goes when the Agent does. When none is left it
// returns false and how long to wait.
func (s *agentState) allow(perSecond float64, burst int, now time.Time) (bool, time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gone {
		return true, 0 // a request racing the Agent's delete; nothing to keep
	}
	if s.limiter == nil {
		s.limiter = rate.NewLimiter(rate.Limit(perSecond), burst)
	}
	if s.limiter.AllowN(now, 1) {
		return true, 0
	}
	r := s.limiter.ReserveN(now, 1)
	wait := r.DelayFrom(now)
	r.CancelAt(now)
	return false, wait
}
