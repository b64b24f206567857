package daemon

import (
	"math/rand/v2"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
)

// backoff is exponential with full jitter: after n failures the wait is
// uniform in [0, min(cap, base*2^n)), so a fleet that lost the gateway at
// once does not come back at once. A Retry-After from the gateway is a floor.
type backoff struct {
	b wait.Backoff
}

func newBackoff() *backoff {
	bo := &backoff{}
	bo.reset()
	return bo
}

func (bo *backoff) reset() {
	bo.b = wait.Backoff{Duration: time.Second, Factor: 2, Cap: 5 * time.Minute, Steps: 1 << 30}
}

func (bo *backoff) next(retryAfter time.Duration) time.Duration {
	ceiling := bo.b.Step()
	d := time.Duration(rand.Int64N(int64(ceiling)) + 1)
	return max(d, retryAfter)
}

// jitter spreads a regular interval by up to ±10%, so agents that happen to
// align drift apart again.
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return time.Second
	}
	spread := int64(d) / 5
	return d - time.Duration(spread/2) + time.Duration(rand.Int64N(spread+1))
}
