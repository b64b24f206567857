package loadtest

import (
	"context"
	"fmt"
	"os"
	"time"

	"k8s.io/client-go/rest"

	"github.com/redflag-io/redflag/test/testenv"
)

// testbed is what every run starts with: a control plane, the manager
// binary and an enrolled fleet.
type testbed struct {
	env        *testenv.Env
	mgr        *managerProc
	gatewayURL string
	caPEM      []byte
	fleet      []*simAgent
	cleanup    []func()
}

// close stops what startTestbed started, last first.
func (t *testbed) close() {
	for i := len(t.cleanup) - 1; i >= 0; i-- {
		t.cleanup[i]()
	}
}

// startTestbed starts envtest's control plane and the manager (o's binary
// and flags), then enrolls o.Agents simulated agents, timing it into rep.
// On error it has already cleaned up.
func startTestbed(ctx context.Context, o Options, rep *Report) (_ *testbed, err error) {
	t := &testbed{}
	defer func() {
		if err != nil {
			t.close()
		}
	}()
	if t.env, err = testenv.Start(); err != nil {
		return nil, err
	}
	t.cleanup = append(t.cleanup, func() { _ = t.env.Stop() })
	dir, err := os.MkdirTemp("", "redflag-load-")
	if err != nil {
		return nil, err
	}
	t.cleanup = append(t.cleanup, func() { _ = os.RemoveAll(dir) })
	if t.mgr, t.gatewayURL, err = startManager(ctx, t.env, o, dir); err != nil {
		return nil, err
	}
	t.cleanup = append(t.cleanup, t.mgr.stop)
	var token string
	if t.caPEM, token, err = tokenAndCA(ctx, t.env, t.mgr); err != nil {
		return nil, err
	}
	if t.fleet, err = newFleet(o.Agents, loopbackNet(t.gatewayURL, t.caPEM, o.Sources)); err != nil {
		return nil, err
	}
	if err := register(ctx, t.fleet, token, o.RegisterConcurrency, rep); err != nil {
		return nil, err
	}
	return t, nil
}

// waitQuiet waits until registration's trailing writes (status, Events)
// have landed: until the API server's own counters show no write but
// Leases' (renewed on a clock, whatever the load) for a second, so a
// phase counts only what it causes itself.
func waitQuiet(ctx context.Context, cfg *rest.Config, within time.Duration) error {
	deadline := time.Now().Add(within)
	last, err := scrapeRequests(ctx, cfg)
	if err != nil {
		return err
	}
	for {
		// The interval between samples is the second of quiet asked for.
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
		now, err := scrapeRequests(ctx, cfg)
		if err != nil {
			return err
		}
		if now.withoutLeases().writes() == last.withoutLeases().writes() {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the API server still took writes %s after registration: %v", within, now.minus(last).onlyWrites())
		}
		last = now
	}
}
