package gateway

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// simHost plays one agent process as agent/internal/daemon runs it: it
// checks in when the last answer said (±10% jitter), or at once after a scan
// or work result, which it reports first; a check-in it cannot use makes it
// retry with exponential backoff and full jitter (1s doubling to 5 minutes).
type simHost struct {
	addr     string
	at       time.Time // its next check-in
	report   bool      // that check-in delivers a report first
	failures int       // retries left in a failure streak
	attempt  int
}

// simParams are how often things happen after a check-in.
type simParams struct {
	interval    time.Duration // the nextCheckIn answers tell
	scan        float64       // a scan finishes before the next regular check-in
	scanWithin  time.Duration // it finishes within this of the check-in (0: anywhere before the next)
	factsAfter  float64       // a facts report follows the check-in at once
	failStreak  float64       // a failure streak (2 to 10 retries) starts
	maxCheckIns int
}

func (h *simHost) schedule(r *rand.Rand, p simParams, t time.Time) {
	h.report = false
	switch {
	case h.failures > 0:
		h.failures--
		ceiling := min(5*time.Minute, time.Second<<h.attempt)
		h.attempt++
		h.at = t.Add(time.Duration(r.Int64N(int64(ceiling)) + 1))
		return
	case r.Float64() < p.failStreak:
		h.failures, h.attempt = 2+r.IntN(9), 0
		h.schedule(r, p, t)
		return
	case r.Float64() < p.scan:
		within := time.Duration(0.9 * float64(p.interval))
		if p.scanWithin > 0 {
			within = p.scanWithin
		}
		h.at = t.Add(time.Second + time.Duration(r.Float64()*float64(within-time.Second)))
		h.report = true
	default:
		h.at = t.Add(time.Duration((0.9 + 0.2*r.Float64()) * float64(p.interval)))
	}
}

// simulate runs hosts sharing one Agent against a checkInTrail and returns
// the number of check-ins until it first suspected a clone (0: never).
func simulate(r *rand.Rand, p simParams, hosts []*simHost) int {
	var c checkInTrail
	for n := 1; n <= p.maxCheckIns; n++ {
		h := hosts[0]
		for _, o := range hosts[1:] {
			if o.at.Before(h.at) {
				h = o
			}
		}
		t := h.at
		if h.report {
			c.report(t.Add(-20 * time.Millisecond))
		}
		if suspect, _ := c.checkIn(h.addr, t, p.interval); suspect {
			return n
		}
		if r.Float64() < p.factsAfter {
			c.report(t.Add(30 * time.Millisecond))
		}
		h.schedule(r, p, t)
	}
	return 0
}

// TestCloneWatchTellsTwoHostsFromOne plays hundreds of random histories: a
// single agent, however busy with scans, reports and failures, or with a
// scanner failing at every check-in, is never suspected; two copies of one are, within 32 intervals, whatever their
// phase, even when each copy's facts differ and are reported after every
// check-in.
func TestCloneWatchTellsTwoHostsFromOne(t *testing.T) {
	start := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	for _, interval := range []time.Duration{5 * time.Second, time.Minute, 5 * time.Minute, time.Hour} {
		t.Run(fmt.Sprint(interval), func(t *testing.T) {
			for seed := range uint64(300) {
				r := rand.New(rand.NewPCG(seed, 1))
				busy := simParams{interval: interval, scan: 0.3, factsAfter: 0.1, failStreak: 0.03, maxCheckIns: 400}
				if n := simulate(r, busy, []*simHost{{addr: "10.0.0.1", at: start}}); n != 0 {
					t.Fatalf("seed %d: a busy single agent was suspected of being cloned at check-in %d", seed, n)
				}
				// A scanner that fails at once, retried at every check-in:
				// each check-in is followed by an early one delivering the
				// failure, which its report explains.
				failing := simParams{interval: interval, scan: 1, scanWithin: 3 * time.Second, maxCheckIns: 400}
				if n := simulate(r, failing, []*simHost{{addr: "10.0.0.1", at: start}}); n != 0 {
					t.Fatalf("seed %d: an agent with a failing scanner was suspected of being cloned at check-in %d", seed, n)
				}

				clones := simParams{interval: interval, scan: 0.05, factsAfter: float64(seed % 2), maxCheckIns: 400}
				a := &simHost{addr: "10.0.0.1", at: start}
				b := &simHost{addr: "10.0.0.2", at: start.Add(time.Duration(r.Float64() * float64(interval)))}
				n := simulate(r, clones, []*simHost{a, b})
				if n == 0 {
					t.Fatalf("seed %d: two copies of one agent were never suspected in %d check-ins", seed, clones.maxCheckIns)
				}
				if n > 64 {
					t.Fatalf("seed %d: two copies of one agent were suspected at check-in %d; want within 64 (32 intervals)", seed, n)
				}
			}
		})
	}
}

// TestCloneWatchNamesAddresses: the Warning names the copies' addresses, a
// bounded few. (A deleted agent's trail goes with its state:
// TestAgentTableForgetsEverythingOnDelete.)
func TestCloneWatchNamesAddresses(t *testing.T) {
	var c checkInTrail
	t0 := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	var addrs []string
	for i := range 10 {
		at := t0.Add(time.Duration(i) * time.Minute)
		_, addrs = c.checkIn(fmt.Sprintf("10.0.0.%d", i%6), at, time.Minute)
	}
	if want := []string{"10.0.0.0", "10.0.0.1", "10.0.0.2", "10.0.0.3"}; fmt.Sprint(addrs) != fmt.Sprint(want) {
		t.Errorf("addresses %v, want the %d most recent %v", addrs, cloneAddrs, want)
	}
}
