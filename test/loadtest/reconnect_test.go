package loadtest

import (
	"context"
	"net/http"
	"testing"
	"time"
)

// TestReconnectAfterOutage: 700 simulated agents (real keys, real gateway,
// the agent's own backoff from internal/backoff) are all refused in the
// same moment: the API server is down, so their reports get 503 with
// Retry-After 10. The API server comes back about 30 s later. Over the
// minute from the refusal, the agents' retries are spread: the busiest
// second sees under three times the mean. Every answer is 200, 429 or 503
// (never another 5xx, never a dropped connection), every report lands
// exactly once, and a burst from one address is shed with 429 and
// Retry-After rather than failing.
func TestReconnectAfterOutage(t *testing.T) {
	bin := buildManager(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	rep, err := Reconnect(ctx, ReconnectOptions{
		Agents: 700, Sources: 8, RegisterConcurrency: 16, ManagerBin: bin,
		Outage: 28 * time.Second, Window: time.Minute, Burst: 2000,
	})
	if err != nil {
		t.Fatal(err)
	}
	rep.Print(testWriter{t})
	if r := rep.PeakToMean(); r >= 3 {
		t.Errorf("the busiest second had %d wake-ups, %.2f times the mean of %.1f: the retries came back together", rep.Peak, r, rep.Mean)
	}
	for status, n := range rep.Answers {
		if status != http.StatusOK && status != http.StatusTooManyRequests && status != http.StatusServiceUnavailable {
			t.Errorf("%d answers with status %d (0: no answer), want only 200, 429 and 503 (first: %s)", n, status, rep.FirstFailure)
		}
	}
	if rep.Delivered != rep.Agents {
		t.Errorf("%d of %d reports delivered", rep.Delivered, rep.Agents)
	}
	if rep.Landed[1] != rep.Agents {
		t.Errorf("history entries per report: %v, want each of the %d reports exactly once", rep.Landed, rep.Agents)
	}
	if rep.BurstAnswers[http.StatusTooManyRequests] == 0 || rep.BurstRetryAfter < time.Second {
		t.Errorf("a burst of 2000 check-ins from one address: %v (Retry-After %s), want some shed with 429 and Retry-After", rep.BurstAnswers, rep.BurstRetryAfter)
	}
	for status, n := range rep.BurstAnswers {
		if status != http.StatusOK && status != http.StatusTooManyRequests {
			t.Errorf("the burst got %d answers with status %d, want only 200 and 429", n, status)
		}
	}
}
