package gateway

import (
	"crypto/sha256"
	"sync"
	"time"
)

// nonceCache remembers every nonce seen within the clock-skew window, so a
// captured request cannot be replayed while its timestamp is still valid;
// after the window the timestamp check refuses it anyway. Keys are hashed to
// a fixed 16 bytes so memory per entry is small and bounded.
type nonceCache struct {
	window time.Duration
	shards [16]nonceShard
}

type nonceShard struct {
	mu   sync.Mutex
	seen map[[16]byte]int64 // expiry, unix nanoseconds
	// nextSweep is when this shard next drops expired entries.
	nextSweep int64
	// peak is the most entries seen since the map was last rebuilt: Go
	// maps do not shrink, so once a burst has expired (a mass enrollment,
	// a flood of check-ins) the map is rebuilt at its new size.
	peak int
}

func newNonceCache(window time.Duration) *nonceCache {
	c := &nonceCache{window: window}
	for i := range c.shards {
		c.shards[i].seen = map[[16]byte]int64{}
	}
	return c
}

// firstUse records nonce for agent and reports whether it was new.
func (c *nonceCache) firstUse(agent, nonce string, now time.Time) bool {
	sum := sha256.Sum256([]byte(agent + "\x00" + nonce))
	var key [16]byte
	copy(key[:], sum[:16])
	s := &c.shards[key[0]&15]
	n := now.UnixNano()
	s.mu.Lock()
	defer s.mu.Unlock()
	if n >= s.nextSweep {
		s.sweep(n)
		s.nextSweep = n + int64(c.window/4)
	}
	if exp, ok := s.seen[key]; ok && exp > n {
		return false
	}
	// A nonce must be remembered for as long as its timestamp can pass the
	// skew check. The caller checked that the timestamp is at most window
	// ahead of now, so it passes until now+2*window at the latest. That
	// bound holds only because the check cannot overflow: a timestamp
	// centuries ahead that passed it would outlive its entry here and be
	// replayable once the entry expired.
	s.seen[key] = n + int64(2*c.window)
	s.peak = max(s.peak, len(s.seen))
	return true
}

// sweep drops the entries expired at n (unix nanoseconds); the caller
// holds s.mu.
func (s *nonceShard) sweep(n int64) {
	for k, exp := range s.seen {
		if exp <= n {
			delete(s.seen, k)
		}
	}
	if s.peak > 64 && len(s.seen) < s.peak/4 {
		seen := make(map[[16]byte]int64, len(s.seen))
		for k, v := range s.seen {
			seen[k] = v
		}
		s.seen, s.peak = seen, len(seen)
	}
}

// expire sweeps every shard as of now, and reports how many nonces are
// still remembered (for tests; requests sweep as they come).
func (c *nonceCache) expire(now time.Time) int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		s.sweep(now.UnixNano())
		n += len(s.seen)
		s.mu.Unlock()
	}
	return n
}
