package controllers

import (
	"context"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

// RunElected runs the controllers under leader election in a manager of
// their own, reading from shared, a cache owned and started by the
// process's main manager (the one that runs the gateway).
//
// Why apart: controller-runtime ends the whole manager when leadership is
// lost, and leadership is lost about ten seconds into an API-server outage.
// In one process with the gateway, that would take the gateway down exactly
// when hosts most need it to answer (check-ins from memory, 503 for
// writes), and it could not start again until the API server is back. Here
// only the controllers stop; they campaign again while the gateway serves.
//
// Each term registers its event handlers on the shared informers anew; the
// old ones stay registered and feed queues that are shut down. Leadership
// changes are rare, so the few stale handlers are left rather than track
// them.
//
// also are Runnables to run beside the controllers in each term (the fleet
// metrics, which only the leader reports).
func RunElected(ctx context.Context, cfg *rest.Config, opts ctrl.Options, shared cache.Cache, settings Settings, log logr.Logger, also ...manager.Runnable) error {
	opts.NewCache = func(*rest.Config, cache.Options) (cache.Cache, error) { return borrowedCache{shared}, nil }
	opts.Metrics = metricsserver.Options{BindAddress: "0"} // the main manager serves metrics
	opts.HealthProbeBindAddress = "0"
	opts.PprofBindAddress = ""
	opts.LeaderElection = true
	// A new term registers the same controller names again in this process.
	opts.Controller.SkipNameValidation = ptr.To(true)
	for term := 1; ; term++ {
		mgr, err := ctrl.NewManager(cfg, opts)
		if err != nil {
			return fmt.Errorf("creating the controllers' manager: %w", err)
		}
		if err := SetupAll(mgr, settings); err != nil {
			return err
		}
		for _, r := range also {
			if err := mgr.Add(r); err != nil {
				return fmt.Errorf("adding a runnable to the controllers' manager: %w", err)
			}
		}
		err = mgr.Start(ctx)
		if ctx.Err() != nil {
			return nil
		}
		log.Error(err, "the controllers stopped; campaigning for leadership again while the gateway keeps serving", "term", term)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(2 * time.Second):
		}
	}
}

// borrowedCache is a cache another manager owns: starting it only waits,
// since the owner runs the informers.
type borrowedCache struct{ cache.Cache }

func (borrowedCache) Start(ctx context.Context) error {
	<-ctx.Done()
	return nil
}
