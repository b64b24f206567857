package docker

import (
	"encoding/json"
	"math"
	"testing"
	"time"
)

// TestStopSecondsKeepsTheWaitPositive: the caller waits stopSeconds more
// for the stop call; a container whose StopTimeout is as large as an int
// holds once made that wait negative, so the stop failed at once.
func TestStopSecondsKeepsTheWaitPositive(t *testing.T) {
	for _, tc := range []struct {
		stop *int
		want int
	}{
		{nil, defaultStopSeconds},
		{ptr(-1), defaultStopSeconds},
		{ptr(30), 30},
		{ptr(math.MaxInt64), maxStopSeconds},
		{ptr(10_000_000_000), maxStopSeconds},
	} {
		raw, _ := json.Marshal(containerConfig{StopTimeout: tc.stop})
		got := stopSeconds(containerJSON{Config: raw})
		if got != tc.want || time.Duration(got)*time.Second+defaultCallTimeout <= 0 {
			t.Errorf("StopTimeout %v: stopSeconds %d (wait %s), want %d", tc.stop, got, time.Duration(got)*time.Second, tc.want)
		}
	}
}

func ptr(v int) *int { return &v }
