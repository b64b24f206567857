package backoff

import (
	"math"
	"testing"
	"time"
)

// TestNextIsFullJitterUnderAGrowingCeiling: without Retry-After the n-th
// wait is in (0, min(Cap, Base*2^(n-1))], and Reset starts over.
func TestNextIsFullJitterUnderAGrowingCeiling(t *testing.T) {
	bo := New()
	ceiling := Base
	for n := 1; n <= 12; n++ {
		if c := bo.Ceiling(); c != ceiling {
			t.Fatalf("before failure %d the ceiling is %s, want %s", n, c, ceiling)
		}
		if d := bo.Next(0); d <= 0 || d > ceiling {
			t.Fatalf("failure %d: wait %s outside (0, %s]", n, d, ceiling)
		}
		ceiling = min(2*ceiling, Cap)
	}
	bo.Reset()
	if c := bo.Ceiling(); c != Base {
		t.Errorf("after Reset the ceiling is %s, want %s", c, Base)
	}
}

// TestRetryAfterIsAFloorThatDoesNotSynchronize: a fleet refused in the same
// moment with the same Retry-After never comes back before it, and does
// not come back in the same second either: the first retries spread over
// twice the Retry-After beyond it, with no second holding more than a small
// share of them.
func TestRetryAfterIsAFloorThatDoesNotSynchronize(t *testing.T) {
	const hosts = 2000
	ra := 10 * time.Second
	perSecond := map[int]int{}
	for range hosts {
		d := New().Next(ra)
		if d < ra || d >= 3*ra {
			t.Fatalf("wait %s outside [%s, %s)", d, ra, 3*ra)
		}
		perSecond[int(d/time.Second)]++
	}
	if len(perSecond) < 20 {
		t.Errorf("%d hosts came back within %d distinct seconds, want spread over 20", hosts, len(perSecond))
	}
	for s, n := range perSecond {
		if n > hosts/10 {
			t.Errorf("%d of %d hosts came back in second %d", n, hosts, s)
		}
	}
	// Once the exponential ceiling passes twice the floor it rules.
	bo := New()
	for range 8 {
		bo.Next(0)
	}
	if c := bo.Ceiling(); c != 256*time.Second {
		t.Fatalf("ceiling %s after 8 failures", c)
	}
	for range 100 {
		if d := bo.Next(ra); d < ra || d >= ra+Cap {
			t.Fatalf("wait %s outside [%s, %s)", d, ra, ra+Cap)
		}
	}
}

func TestJitterStaysWithinTenPercent(t *testing.T) {
	for range 1000 {
		if d := Jitter(time.Minute); d < 54*time.Second || d > 66*time.Second {
			t.Fatalf("Jitter(1m) = %s", d)
		}
	}
}

// TestJitterBoundsWhatTheServerAsks: a wait from a work document outside
// MinCheckIn..MaxCheckIn counts as the bound. Before, "2562047h" (the
// largest Duration) overflowed into a negative wait and "1ns" was obeyed:
// both made the agent check in without pause.
func TestJitterBoundsWhatTheServerAsks(t *testing.T) {
	for _, tc := range []struct {
		ask   time.Duration
		bound time.Duration
	}{
		{math.MinInt64, MinCheckIn}, {-time.Second, MinCheckIn}, {0, MinCheckIn}, {time.Nanosecond, MinCheckIn},
		{MaxCheckIn + 1, MaxCheckIn}, {100 * 365 * 24 * time.Hour, MaxCheckIn}, {math.MaxInt64 / 10 * 9, MaxCheckIn}, {math.MaxInt64, MaxCheckIn},
	} {
		for range 100 {
			if d := Jitter(tc.ask); d < tc.bound-tc.bound/10 || d > tc.bound+tc.bound/10 {
				t.Errorf("Jitter(%s) = %s, want within 10%% of %s", tc.ask, d, tc.bound)
				break
			}
		}
	}
}

// TestHugeRetryAfterIsCapped: a Retry-After past MaxRetryAfter (as large as
// a Duration holds) waits as MaxRetryAfter does, never a negative or
// overflowed time; a negative one counts as none.
func TestHugeRetryAfterIsCapped(t *testing.T) {
	for _, ra := range []time.Duration{MaxRetryAfter + 1, 99999999999 * time.Millisecond, 1 << 62, math.MaxInt64} {
		for range 100 {
			if d := New().Next(ra); d < MaxRetryAfter || d >= 3*MaxRetryAfter {
				t.Fatalf("Next(%d) = %s, want within [%s, %s)", int64(ra), d, MaxRetryAfter, 3*MaxRetryAfter)
			}
		}
	}
	for _, ra := range []time.Duration{-time.Second, math.MinInt64} {
		for range 100 {
			if d := New().Next(ra); d <= 0 || d > Base {
				t.Fatalf("Next(%d) = %s, want the first failure's (0, %s]", int64(ra), d, Base)
			}
		}
	}
}
