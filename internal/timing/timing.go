// Package timing holds the intervals that the gateway and the Agent
// controller must agree on, in one place, because their relation is what
// keeps both promises: a live agent is never shown silent, a dead one is
// shown silent within three intervals, and steady state stays under the
// API-server write budget.
package timing

import "time"

const (
	// DefaultCheckInInterval applies to Agents without spec.checkInInterval.
	DefaultCheckInInterval = time.Minute
	// HeartbeatInterval is the check-in interval in heartbeat mode.
	HeartbeatInterval = 5 * time.Second

	// PersistFactor times an agent's interval is how stale status.lastSeen
	// may get before a check-in persists it. 10,000 agents at a 5-minute
	// interval then cost 10,000/(1.75*300s) = 19 writes/s.
	PersistFactor = 1.75
	// SilenceFactor times the interval since the stored lastSeen marks an
	// agent silent. A live agent's stored lastSeen is at most PersistFactor
	// intervals plus one (late) check-in old: 2.75 < 3, so it is never
	// taken for silent; a dead agent is shown silent at most three intervals
	// after its last check-in.
	SilenceFactor = 3
)

// Interval is the agent's normal check-in interval: its own, or the default.
func Interval(specInterval time.Duration) time.Duration {
	if specInterval > 0 {
		return specInterval
	}
	return DefaultCheckInInterval
}

// PersistAfter is how old a stored lastSeen may be before it is rewritten.
func PersistAfter(interval time.Duration) time.Duration {
	return time.Duration(PersistFactor * float64(interval))
}

// SilentAfter is how old a stored lastSeen is when the agent counts as silent.
func SilentAfter(interval time.Duration) time.Duration {
	return SilenceFactor * interval
}
