package gateway

import (
	"testing"
	"time"
)

// TestLivenessRewritesALastSeenFromTheFuture: a stored lastSeen ahead of the
// clock, even by centuries, is due for rewriting, as is an old one; one
// written a moment ago is not. Before, a future one was never rewritten.
func TestLivenessRewritesALastSeenFromTheFuture(t *testing.T) {
	now := time.Date(2026, 12, 6, 20, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		stored time.Time
		due    bool
	}{
		{"never written", time.Time{}, true},
		{"a moment ago", now.Add(-time.Second), false},
		{"a moment ahead (another replica's clock)", now.Add(time.Second), false},
		{"an interval and three quarters ago", now.Add(-105 * time.Second), true},
		{"a day ahead", now.Add(24 * time.Hour), true},
		{"year 9999", time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC), true},
		{"year 1", time.Date(1, 1, 1, 0, 0, 1, 0, time.UTC), true},
	} {
		l := newLiveness()
		rec := &agentRecord{st: &agentState{}, key: "ns/a", persistedLastSeen: tc.stored}
		l.seen(rec, "", time.Minute, now)
		if got := len(l.queue) == 1; got != tc.due {
			t.Errorf("%s: write queued = %v, want %v", tc.name, got, tc.due)
		}
	}
}
