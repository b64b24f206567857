package gateway

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
	"github.com/redflag-io/redflag/internal/events"
	"github.com/redflag-io/redflag/internal/history"
	"github.com/redflag-io/redflag/internal/protocol"
)

// refusalPeriod is how often one token and cause is recorded at most, per
// replica: a fleet retrying with an expired token every few seconds makes
// one Warning a minute with a count, not thousands of writes.
const refusalPeriod = time.Minute

// maxRefusalKeys bounds the limiter's memory (tokens x causes); when full,
// entries older than refusalPeriod are forgotten, and if none are, the
// refusal is not recorded (the host still gets its refusal answer).
const maxRefusalKeys = 4096

// recordedCauses are the refusals worth telling the token's owner about:
// the host held the token's secret, so a person is enrolling with it.
var recordedCauses = map[string]bool{
	protocol.CodeTokenExpired: true, protocol.CodeTokenExhausted: true,
	protocol.CodeTokenRevoked: true, protocol.CodeKeyMismatch: true,
}

// refusalLimiter counts refusals per token and cause between records.
type refusalLimiter struct {
	mu   sync.Mutex
	seen map[string]*refusalCount
}

type refusalCount struct {
	last    time.Time // last recorded
	pending int       // refused since, not yet recorded
}

// take counts one refusal and reports whether to record it now, with the
// number of refusals the record stands for.
func (l *refusalLimiter) take(key string, now time.Time) (int, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.seen == nil {
		l.seen = map[string]*refusalCount{}
	}
	c, ok := l.seen[key]
	if !ok {
		if len(l.seen) >= maxRefusalKeys {
			for k, v := range l.seen {
				if now.Sub(v.last) >= refusalPeriod {
					delete(l.seen, k)
				}
			}
			if len(l.seen) >= maxRefusalKeys {
				return 0, false
			}
		}
		c = &refusalCount{}
		l.seen[key] = c
	}
	c.pending++
	if !c.last.IsZero() && now.Sub(c.last) < refusalPeriod {
		return 0, false
	}
	n := c.pending
	c.last, c.pending = now, 0
	return n, true
}

// noteRefusal records a refused enrollment on the token that was presented
// (its secret matched): an EnrollmentRefused Warning and the same entry in
// its status.history, rate-limited per token and cause. The entry names the
// token by its public id only. A failed write is logged, not returned: the
// host's answer does not depend on it.
func (g *Gateway) noteRefusal(ctx context.Context, tok client.ObjectKey, tokenID, cause string, req *protocol.RegisterRequest, why string, now time.Time) {
	if !recordedCauses[cause] {
		return
	}
	n, ok := g.refusals.take(tok.String()+"\x00"+cause, now)
	if !ok {
		return
	}
	msg := fmt.Sprintf("refused host %s (machine ID %s): %s", truncate(req.Hostname, 64), req.MachineID, why)
	if n > 1 {
		msg = fmt.Sprintf("%s; %d refused for this cause since the last record", msg, n)
	}
	e := g.recorder.Entry(events.EnrollmentRefused, msg, map[string]string{
		"tokenID": tokenID, "cause": cause, "machineID": req.MachineID, "hostname": req.Hostname, "refused": strconv.Itoa(n),
	})
	var stored redflagv1.RegistrationToken
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := g.reader.Get(ctx, tok, &stored); err != nil {
			return err
		}
		stored.Status.History = history.Append(stored.Status.History, e)
		return g.client.Status().Update(ctx, &stored)
	})
	if err != nil {
		g.log.Error(err, "recording a refused enrollment on its token", "token", tok.String(), "cause", cause)
		return
	}
	g.recorder.Emit(&stored, e)
}
