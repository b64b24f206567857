package loadtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"sync"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
	"github.com/redflag-io/redflag/internal/backoff"
	"github.com/redflag-io/redflag/internal/hostclient"
	"github.com/redflag-io/redflag/internal/protocol"
	"github.com/redflag-io/redflag/test/testenv"
)

// ReconnectOptions size a reconnect run.
type ReconnectOptions struct {
	Agents              int
	Sources             int
	RegisterConcurrency int
	ManagerBin          string
	// Outage is how long after every agent was refused the API server is
	// started again (it takes a few seconds more to answer).
	Outage time.Duration
	// Window is how long arrivals are counted, from the moment every agent
	// was refused.
	Window time.Duration
	// Burst is how many check-ins one address sends at once after the
	// window, to see the gateway shed load (0: none).
	Burst int
}

// ReconnectReport is what a reconnect run measured.
type ReconnectReport struct {
	Agents int
	// PerSecond counts agent wake-ups (each retry: a report, and a check-in
	// once the report is taken) in each second of the window, from the
	// moment every agent was refused at once. The refused first attempt
	// itself is not counted: it is the synchronised start the test makes.
	PerSecond []int
	Peak      int
	Mean      float64
	// APIServerBack is when the API server answered again, from the start
	// of the window.
	APIServerBack time.Duration
	// Answers counts the gateway's answers during the window by HTTP
	// status; 0 is a request that got no answer (connection refused or
	// reset, timeout).
	Answers map[int]int
	// FirstFailure is the first answer that was neither 200, 429 nor 503.
	FirstFailure string
	// Delivered agents had their report taken (within the window or at
	// most 45 s after it); DeliveredAt are the times from the start of
	// the window, sorted.
	Delivered   int
	DeliveredAt []time.Duration
	// Landed counts, per number of history entries, the Agents whose
	// report shows up that many times (exactly-once is {1: Agents}).
	Landed map[int]int
	// BurstAnswers counts the answers to the one-address burst by status;
	// BurstRetryAfter is the smallest Retry-After of its 429s.
	BurstAnswers    map[int]int
	BurstRetryAfter time.Duration
}

// PeakToMean is the busiest second over the window's mean.
func (r *ReconnectReport) PeakToMean() float64 {
	if r.Mean == 0 {
		return 0
	}
	return float64(r.Peak) / r.Mean
}

// Print writes the report for a person.
func (r *ReconnectReport) Print(w io.Writer) {
	fmt.Fprintf(w, "agents: %d, refused at once; API server back after %s\n", r.Agents, r.APIServerBack.Round(100*time.Millisecond))
	fmt.Fprintf(w, "wake-ups per second over %ds: peak %d, mean %.1f, peak/mean %.2f\n", len(r.PerSecond), r.Peak, r.Mean, r.PeakToMean())
	fmt.Fprintf(w, "per second: %v\n", r.PerSecond)
	fmt.Fprintf(w, "answers: %v", r.Answers)
	if r.FirstFailure != "" {
		fmt.Fprintf(w, " (first failure: %s)", r.FirstFailure)
	}
	fmt.Fprintln(w)
	if n := len(r.DeliveredAt); n > 0 {
		fmt.Fprintf(w, "delivered: %d, the first %s and the last %s after the refusal (median %s)\n",
			r.Delivered, r.DeliveredAt[0].Round(100*time.Millisecond), r.DeliveredAt[n-1].Round(100*time.Millisecond), r.DeliveredAt[n/2].Round(100*time.Millisecond))
	}
	fmt.Fprintf(w, "history entries per report: %v\n", r.Landed)
	if r.BurstAnswers != nil {
		fmt.Fprintf(w, "one-address burst: %v, smallest Retry-After %s\n", r.BurstAnswers, r.BurstRetryAfter)
	}
}

// Reconnect starts a control plane and the manager, enrolls the fleet,
// stops the API server and has every agent send a report at once: each is
// refused (503, Retry-After) in the same moment. Each agent then does what
// the daemon does (agent/internal/daemon): it retries after the real
// backoff (internal/backoff) until its report is taken, then checks in.
// The API server is started again after o.Outage. Arrivals are counted per
// second over o.Window.
func Reconnect(ctx context.Context, o ReconnectOptions) (*ReconnectReport, error) {
	tb, err := startTestbed(ctx, Options{
		ManagerBin: o.ManagerBin, Agents: o.Agents, Sources: o.Sources, RegisterConcurrency: o.RegisterConcurrency,
	}, &Report{})
	if err != nil {
		return nil, err
	}
	defer tb.close()
	env, fleet, gatewayURL, caPEM := tb.env, tb.fleet, tb.gatewayURL, tb.caPEM
	// Every agent checks in once, so the gateway knows it is live.
	for _, a := range fleet {
		if err := a.checkIn(ctx); err != nil {
			return nil, fmt.Errorf("first check-in of %s: %w", a.hostname, err)
		}
	}
	if err := env.StopAPIServer(); err != nil {
		return nil, err
	}

	rep := &ReconnectReport{Agents: o.Agents, Answers: map[int]int{}, PerSecond: make([]int, int(o.Window/time.Second))}
	var mu sync.Mutex
	answered := func(err error) {
		status := statusOf(err)
		mu.Lock()
		defer mu.Unlock()
		rep.Answers[status]++
		if status != http.StatusOK && status != http.StatusTooManyRequests && status != http.StatusServiceUnavailable && rep.FirstFailure == "" {
			rep.FirstFailure = err.Error()
		}
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	barrier := make(chan struct{})
	var start time.Time
	var wg sync.WaitGroup
	for _, a := range fleet {
		wg.Go(func() {
			key := make([]byte, 16)
			_, _ = rand.Read(key)
			rp := protocol.Report{
				IdempotencyKey: hex.EncodeToString(key), Kind: protocol.ReportEvent,
				Event: &protocol.AgentEvent{Reason: "AgentStarted", Message: "redflag-agent v0.1.0 started"},
			}
			bo := backoff.New()
			<-barrier
			for attempt := 0; ; attempt++ {
				woke := time.Since(start)
				if attempt > 0 {
					mu.Lock()
					if s := int(woke / time.Second); s < len(rep.PerSecond) {
						rep.PerSecond[s]++
					}
					mu.Unlock()
				}
				// The daemon's cycle: deliver the outbox, then check in.
				rp.Time = time.Now().UTC()
				_, err := a.client.Report(runCtx, a.id, rp)
				if runCtx.Err() != nil {
					return
				}
				answered(err)
				if err == nil {
					mu.Lock()
					rep.Delivered++
					rep.DeliveredAt = append(rep.DeliveredAt, time.Since(start))
					mu.Unlock()
					err = a.checkIn(runCtx)
					if runCtx.Err() != nil {
						return
					}
					answered(err)
					if err == nil {
						return // back to its regular interval, minutes away
					}
				}
				select {
				case <-runCtx.Done():
					return
				case <-time.After(bo.Next(retryAfterOf(err))):
				}
			}
		})
	}
	start = time.Now()
	close(barrier)
	restarted := make(chan error, 1)
	go func() {
		select {
		case <-runCtx.Done():
			restarted <- runCtx.Err()
			return
		case <-time.After(o.Outage):
		}
		err := env.StartAPIServer()
		mu.Lock()
		rep.APIServerBack = time.Since(start)
		mu.Unlock()
		restarted <- err
	}()
	// Every agent keeps going until its report is taken (a straggler may
	// land just after the window), with a deadline.
	allDone := make(chan struct{})
	go func() { wg.Wait(); close(allDone) }()
	select {
	case <-ctx.Done():
	case <-allDone:
	case <-time.After(o.Window + 45*time.Second):
	}
	cancel()
	wg.Wait()
	if err := <-restarted; err != nil {
		return nil, err
	}
	sort.Slice(rep.DeliveredAt, func(i, j int) bool { return rep.DeliveredAt[i] < rep.DeliveredAt[j] })
	total := 0
	for _, n := range rep.PerSecond {
		total += n
		rep.Peak = max(rep.Peak, n)
	}
	rep.Mean = float64(total) / float64(len(rep.PerSecond))

	if rep.Landed, err = landed(ctx, env, fleet); err != nil {
		return nil, err
	}
	if o.Burst > 0 {
		if err := burst(ctx, fleet, o.Burst, gatewayURL, caPEM, rep); err != nil {
			return nil, err
		}
	}
	return rep, nil
}

// statusOf is the HTTP status an answer carried: 200 for none, 0 for no
// answer at all.
func statusOf(err error) int {
	var e *hostclient.Error
	switch {
	case err == nil:
		return http.StatusOK
	case errors.As(err, &e):
		return e.Status
	default:
		return 0
	}
}

func retryAfterOf(err error) time.Duration {
	var e *hostclient.Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}

// landed counts how often each agent's report shows in its history.
func landed(ctx context.Context, env *testenv.Env, fleet []*simAgent) (map[int]int, error) {
	var agents redflagv1.AgentList
	if err := env.Client.List(ctx, &agents, client.InNamespace("load")); err != nil {
		return nil, err
	}
	ours := map[string]bool{}
	for _, a := range fleet {
		ours[a.id.Agent] = true
	}
	out := map[int]int{}
	for _, a := range agents.Items {
		if !ours[a.Namespace+"/"+a.Name] {
			continue
		}
		n := 0
		for _, e := range a.Status.History {
			if e.Reason == "AgentStarted" {
				n++
			}
		}
		out[n]++
	}
	return out, nil
}

// burst sends n check-ins from one address at once (the fleet's agents,
// one client), as a fleet behind one NAT reconnecting together would.
func burst(ctx context.Context, fleet []*simAgent, n int, gatewayURL string, caPEM []byte, rep *ReconnectReport) error {
	c, err := hostclient.New(gatewayURL, caPEM)
	if err != nil {
		return err
	}
	rep.BurstAnswers = map[int]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	gateCh := make(chan struct{})
	for i := range n {
		a := fleet[i%len(fleet)]
		wg.Go(func() {
			<-gateCh
			_, err := c.CheckIn(ctx, a.id, protocol.CheckInRequest{AgentVersion: "v0.1.0", FactsHash: "steady"})
			mu.Lock()
			defer mu.Unlock()
			rep.BurstAnswers[statusOf(err)]++
			if ra := retryAfterOf(err); statusOf(err) == http.StatusTooManyRequests && (rep.BurstRetryAfter == 0 || ra < rep.BurstRetryAfter) {
				rep.BurstRetryAfter = ra
			}
		})
	}
	close(gateCh)
	wg.Wait()
	return nil
}
