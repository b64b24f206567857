package gateway

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// unixEpoch is the earliest time a host may report: no host clock that
// signs a fresh request reads earlier, and a time before it is a zero value
// or garbage.
var unixEpoch = time.Unix(0, 0)

// hostTimeOK reports whether t, a time a host put in a report, can be a
// real moment: not before 1970 and no further ahead of the gateway's clock
// than the allowed skew. Both are comparisons, never a subtraction that
// saturates or overflows. They also keep the time storable: JSON accepts
// offsets up to ±23:59, so "9999-12-31T23:59:59-23:59" decodes to year
// 10000 in UTC, which metav1.Time writes as a string the API server
// refuses (and time.Time.MarshalJSON refuses outright).
func (g *Gateway) hostTimeOK(t time.Time) bool {
	return !t.Before(unixEpoch) && !t.After(g.clock.Now().Add(g.opts.ClockSkew))
}

// hostTime turns a time a host reported into one to store, whole seconds
// in UTC, or nil when it cannot be a real moment (see hostTimeOK).
func (g *Gateway) hostTime(t *metav1.Time) *metav1.Time {
	if t == nil || !g.hostTimeOK(t.Time) {
		return nil
	}
	v := metav1.NewTime(t.UTC().Truncate(time.Second))
	return &v
}
