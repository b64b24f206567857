package gateway

import (
	"math/bits"
	"slices"
	"strings"
	"time"
)

// Cloned hosts. A VM cloned from an enrolled host, or a backup restored
// beside the original, runs a second agent with the same key, Agent name
// and machine ID. Every request it sends verifies, so no single request
// tells the copies apart, and refusing requests would lock the original
// out too (as would judging by client address: a fleet behind NAT, a load
// balancer that rewrites sources or a host that roams all look like
// address changes).
//
// What gives two copies away is time. One agent checks in when the last
// answer told it to (nextCheckIn, with ±10% jitter), or earlier only to
// deliver a report it just made (a scan or work result, a start-up event),
// which it sends first. Two copies each keep their own schedule, so the
// gateway sees check-ins that come early after the last one, with no report
// just before them, yet on time for the check-in before last: the other
// copy's schedule.
//
// checkInTrail counts such check-ins among each agent's last cloneWindow.
// Two copies make at least every other check-in one of them; a single agent
// makes one only by coincidence (a retry after a failure that lands one
// interval after the check-in before last: a failing agent backs off with
// random waits). Half the window raises a CloneSuspected Warning on the
// Agent, at most once per clonePeriod. The simulations in clones_test.go
// set the window: over thousands of busy, failing single agents the most
// marks seen in 16 check-ins were 6, and two copies reached 8 within 55
// check-ins. Nothing is refused: a suspicion is for a person to look at.
const (
	cloneWindow    = 16
	cloneThreshold = cloneWindow / 2
	clonePeriod    = time.Hour
	// cloneAddrs is how many recent client addresses the Warning names.
	cloneAddrs = 4
)

// Bounds of "early" and "on time", as fractions of the nextCheckIn an
// answer told. The agent's jitter keeps its own check-ins within ±10%.
const (
	earlyBelow   = 0.8
	onTimeWithin = 0.15
)

// checkInTrail is what clone detection keeps of one agent (in
// agentState.trail): a few timestamps and a byte of marks.
type checkInTrail struct {
	// last and prev are when the latest check-in and the one before it
	// arrived; lastNext and prevNext are the nextCheckIn their answers told.
	last, prev         time.Time
	lastNext, prevNext time.Duration
	// reportedAt is when the agent's latest report arrived.
	reportedAt time.Time
	// marks has one bit per recent check-in (cloneWindow of them), the
	// newest lowest: set when it came on another schedule than the last
	// answer asked for.
	marks uint16
	// addrs are the distinct client addresses of recent check-ins, newest
	// last, for the Warning's message.
	addrs []string
}

// reported notes that the agent delivered a report at now: a check-in
// right after it may come early.
func (s *agentState) reported(now time.Time) {
	s.mu.Lock()
	s.trail.report(now)
	s.mu.Unlock()
}

// checkIn records a check-in that arrived at now from addr and was
// answered with nextCheckIn next, and reports whether the agent's recent
// check-ins look like two hosts', with the recent client addresses.
func (s *agentState) checkIn(addr string, now time.Time, next time.Duration) (suspect bool, addrs []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gone {
		return false, nil
	}
	return s.trail.checkIn(addr, now, next)
}

func (t *checkInTrail) report(now time.Time) {
	if !t.last.IsZero() {
		t.reportedAt = now
	}
}

func (t *checkInTrail) checkIn(addr string, now time.Time, next time.Duration) (suspect bool, addrs []string) {
	t.marks <<= 1
	if t.onOtherSchedule(now) {
		t.marks |= 1
	}
	t.prev, t.prevNext = t.last, t.lastNext
	t.last, t.lastNext = now, next
	t.addrs = slices.DeleteFunc(t.addrs, func(a string) bool { return a == addr })
	t.addrs = append(t.addrs, addr)
	if len(t.addrs) > cloneAddrs {
		t.addrs = t.addrs[len(t.addrs)-cloneAddrs:]
	}
	return bits.OnesCount16(t.marks) >= cloneThreshold, slices.Clone(t.addrs)
}

// onOtherSchedule says whether a check-in arriving at now came well before
// the latest answer asked, without a report just before it to explain it,
// but on time for the answer before that one.
func (t *checkInTrail) onOtherSchedule(now time.Time) bool {
	if t.prev.IsZero() || t.lastNext <= 0 || t.prevNext <= 0 {
		return false
	}
	sinceLast, sincePrev := now.Sub(t.last), now.Sub(t.prev)
	if sinceLast >= time.Duration(earlyBelow*float64(t.lastNext)) {
		return false
	}
	// A report counts as the reason only when it came closer to this
	// check-in than to the last one: an agent flushes its outbox right
	// before it checks in, whereas the report another copy sends right
	// after its own check-in explains nothing.
	if t.reportedAt.After(t.last) && now.Sub(t.reportedAt) < t.reportedAt.Sub(t.last) {
		return false
	}
	slack := time.Duration(onTimeWithin * float64(t.prevNext))
	return sincePrev >= t.prevNext-slack && sincePrev <= t.prevNext+slack
}

// cloneMessage is the CloneSuspected Warning (within the 512 characters a
// message keeps, with four IPv6 addresses).
func cloneMessage(addrs []string) string {
	return "check-ins signed with this Agent's key arrive on two interleaved schedules, as if two hosts " +
		"(a cloned VM, a restored backup) share its key and machine ID; requests are still served. " +
		"Recent client addresses: " + strings.Join(addrs, ", ") + ". Give the copy its own identity " +
		"(remove its agent config and key, run redflag-agent register) or revoke this Agent."
}
