package metrics

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
)

// listTimeout bounds one scrape's reads of the cache (they wait only when
// an informer has not synced yet).
const listTimeout = 10 * time.Second

// Fleet is a prometheus.Collector that describes the fleet (Agents,
// AgentUpdates, RegistrationTokens) from the manager's informer cache at
// scrape time. It reports nothing until its Runnable runs, which the
// manager that runs the controllers starts only on the leader: every
// replica serves /metrics, and the fleet should be counted once.
type Fleet struct {
	reader client.Reader
	clock  clock.PassiveClock
	log    logr.Logger
	active atomic.Bool
}

// NewFleet builds the collector over reader (the manager's cache).
func NewFleet(reader client.Reader, clk clock.PassiveClock, log logr.Logger) *Fleet {
	return &Fleet{reader: reader, clock: clk, log: log.WithName("metrics")}
}

// Runnable turns the fleet metrics on while it runs. It needs leader
// election (the default for a Runnable), so only the leader reports.
func (f *Fleet) Runnable() manager.Runnable {
	return manager.RunnableFunc(func(ctx context.Context) error {
		f.active.Store(true)
		<-ctx.Done()
		f.active.Store(false)
		return nil
	})
}

// Describe sends every fleet metric's description.
func (f *Fleet) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range allFleetDescs {
		ch <- d
	}
}

// Collect reads the cache and sends the fleet's metrics. The lists are
// read without copying (the objects are the cache's own and only read),
// so a scrape of 10,000 Agents allocates little.
func (f *Fleet) Collect(ch chan<- prometheus.Metric) {
	if !f.active.Load() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), listTimeout)
	defer cancel()
	now := f.clock.Now()
	var agents redflagv1.AgentList
	if err := f.reader.List(ctx, &agents, client.UnsafeDisableDeepCopy); err != nil {
		f.log.Error(err, "listing Agents for the fleet metrics")
		return
	}
	collectAgents(ch, agents.Items, now)
	var rollouts redflagv1.AgentUpdateList
	if err := f.reader.List(ctx, &rollouts, client.UnsafeDisableDeepCopy); err != nil {
		f.log.Error(err, "listing AgentUpdates for the fleet metrics")
	} else {
		collectRollouts(ch, rollouts.Items, agents.Items, now)
	}
	var tokens redflagv1.RegistrationTokenList
	if err := f.reader.List(ctx, &tokens, client.UnsafeDisableDeepCopy); err != nil {
		f.log.Error(err, "listing RegistrationTokens for the fleet metrics")
	} else {
		collectTokens(ch, tokens.Items, now)
	}
}

func gauge(ch chan<- prometheus.Metric, d *prometheus.Desc, v float64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
}
