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
		for k, exp := range s.seen {
			if exp <= n {
				delete(s.seen, k)
			}
		}
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
	return true
}
