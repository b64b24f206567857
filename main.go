// Command manager runs RedFlag's controllers (one per kind) against a
// Kubernetes API server. The HTTPS gateway that hosts talk to runs inside it
// as a Runnable.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	// The IANA time zone database, built in: rollout windows name zones,
	// and the image (hack/image, Dockerfile) has no /usr/share/zoneinfo.
	_ "time/tzdata"

	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
	"github.com/redflag-io/redflag/controllers"
	"github.com/redflag-io/redflag/internal/events"
	"github.com/redflag-io/redflag/internal/gateway"
	"github.com/redflag-io/redflag/internal/metrics"
	"github.com/redflag-io/redflag/internal/release"
	"github.com/redflag-io/redflag/internal/version"
)

// options are the manager's command-line flags. --kubeconfig is registered
// by controller-runtime itself.
type options struct {
	metricsAddr      string
	probeAddr        string
	leaderElect      bool
	leaderElectionNS string
	leaderElectionID string
	showVersion      bool
	pprofAddr        string
	runControllers   bool
	runGateway       bool
	gateway          gateway.Options
	controllers      controllers.Settings
	extraDNSNames    string
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "redflag-manager:", err)
		os.Exit(1)
	}
}

func envOr(key, fallback string) string {
	if v, ok := os.LookupEnv(key); ok && v != "" {
		return v
	}
	return fallback
}

func hostname() string {
	h, _ := os.Hostname()
	return h
}

func run() error {
	var o options
	flag.StringVar(&o.metricsAddr, "metrics-bind-address", ":8080", "Address the Prometheus metrics endpoint binds to; \"0\" turns it off.")
	flag.StringVar(&o.probeAddr, "health-probe-bind-address", ":8081", "Address the /healthz and /readyz probes bind to.")
	flag.BoolVar(&o.leaderElect, "leader-elect", false, "Elect a leader so only one replica runs the controllers (use with several replicas).")
	flag.StringVar(&o.leaderElectionNS, "leader-election-namespace", "", "Namespace of the leader-election Lease (defaults to --namespace).")
	flag.StringVar(&o.leaderElectionID, "leader-election-id", "redflag-manager.redflag.io", "Name of the leader-election Lease.")
	flag.BoolVar(&o.showVersion, "version", false, "Print the version and exit.")
	flag.StringVar(&o.pprofAddr, "pprof-bind-address", "", "Address for Go's pprof endpoints (off when empty), for profiling.")
	flag.IntVar(&o.controllers.RebootBudget, "reboot-budget", 1, "Hosts of one namespace that may be in the work of rollouts that reboot (spec.reboot IfRequired or Always) at once, across all rollouts, each counted from its slot until it is back from its reboot; 0: no budget.")
	flag.BoolVar(&o.runControllers, "controllers", true, "Run the controllers (leader-elected). Turn off to run a gateway-only replica.")
	flag.BoolVar(&o.runGateway, "gateway", true, "Run the HTTPS gateway that hosts talk to (on every replica).")
	flag.StringVar(&o.gateway.BindAddress, "gateway-bind-address", ":9443", "Address the gateway's HTTPS server binds to.")
	flag.StringVar(&o.gateway.PublicURL, "gateway-public-url", "", "URL hosts use to reach the gateway; its host goes into a self-signed certificate.")
	flag.StringVar(&o.gateway.Namespace, "namespace", envOr("POD_NAMESPACE", "redflag-system"), "Namespace of the manager's own Secrets (gateway TLS and work-signing key).")
	flag.StringVar(&o.gateway.TLSSecretName, "gateway-tls-secret", "redflag-gateway-tls", "Secret (cert-manager format: tls.crt, tls.key, ca.crt) with the gateway's certificate; created self-signed when absent.")
	flag.StringVar(&o.gateway.ReleaseDir, "release-dir", "", "Directory of signed agent releases (made with `go run ./hack/release sign`) the gateway serves for self-updates and the install script. Empty: the release bundled in the image ("+release.BundledDir+"), if any.")
	flag.StringVar(&o.gateway.ReleasePublicKey, "release-public-key", "", "Ed25519 public key (base64) that signs agent releases; the install script pins it on each host. Empty with no --release-dir: the bundled release's key.")
	flag.StringVar(&o.gateway.SigningSecretName, "work-signing-secret", "redflag-work-signing", "Secret holding the Ed25519 key that signs work documents; created when absent.")
	flag.StringVar(&o.gateway.PeerAddress, "gateway-peer-address", "", "URL other gateway replicas reach this one at (https://<pod IP>:<port>). Set it on every replica to run several active-active: each agent is then served by one owning replica.")
	flag.StringVar(&o.gateway.PeerName, "gateway-peer-name", envOr("POD_NAME", hostname()), "This replica's unique name among gateway peers (defaults to $POD_NAME, else the host name).")
	flag.Float64Var(&o.gateway.PerIPRate, "gateway-per-address-rate", 200, "Requests per second the gateway accepts from one client address (each replica counts its own). Raise it when hosts reach the gateway through a proxy or SNAT that hides their addresses.")
	flag.IntVar(&o.gateway.PerIPBurst, "gateway-per-address-burst", 400, "Burst above --gateway-per-address-rate from one client address.")
	flag.Int64Var(&o.gateway.BodyBudget, "gateway-body-budget", 64<<20, "Bytes of request bodies the gateway reads at once from senders it cannot verify before the body (registrations, older agents); more is refused with 503 and Retry-After.")
	flag.Int64Var(&o.gateway.PerAddressBodyBudget, "gateway-per-address-body-budget", 4<<20, "One client address's share of --gateway-body-budget; more is refused with 429 and Retry-After.")
	flag.StringVar(&o.extraDNSNames, "gateway-dns-names", "", "Comma-separated extra names or IPs for a self-signed gateway certificate.")
	zapOpts := zap.Options{}
	zapOpts.BindFlags(flag.CommandLine)
	flag.Parse()

	if o.showVersion {
		fmt.Println(version.String())
		return nil
	}
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
	// Every Event is also one JSON line on stderr, the log stream, so log
	// pipelines keep the audit trail (docs/events.md, "The audit line").
	events.SetProcessAuditLog(events.NewAuditLog(os.Stderr))
	if o.leaderElectionNS == "" {
		o.leaderElectionNS = o.gateway.Namespace
	}
	setupLog := ctrl.Log.WithName("setup")

	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return fmt.Errorf("registering built-in kinds: %w", err)
	}
	if err := redflagv1.AddToScheme(scheme); err != nil {
		return fmt.Errorf("registering redflag kinds: %w", err)
	}

	cfg, err := ctrl.GetConfig()
	if err != nil {
		return fmt.Errorf("finding the cluster (set --kubeconfig or KUBECONFIG): %w", err)
	}
	cacheOpts, err := controllers.CacheOptions()
	if err != nil {
		return err
	}
	// One process running both the gateway and leader-elected controllers
	// keeps them in two managers over one cache, so losing leadership (an
	// API-server outage does that) stops only the controllers.
	electedApart := o.runControllers && o.runGateway && o.leaderElect
	election := ctrl.Options{
		Scheme:                  scheme,
		LeaderElectionID:        o.leaderElectionID,
		LeaderElectionNamespace: o.leaderElectionNS,
		// Give up leadership at once on shutdown so a new leader starts
		// without waiting out the lease.
		LeaderElectionReleaseOnCancel: true,
	}
	mgrOpts := election
	// Only what RedFlag owns: of all Secrets, the token Secrets it labelled.
	mgrOpts.Cache = cacheOpts
	mgrOpts.Metrics = metricsserver.Options{BindAddress: o.metricsAddr}
	mgrOpts.HealthProbeBindAddress = o.probeAddr
	mgrOpts.PprofBindAddress = o.pprofAddr
	// A gateway-only replica needs no leader: every replica serves.
	mgrOpts.LeaderElection = o.leaderElect && o.runControllers && !electedApart
	mgr, err := ctrl.NewManager(cfg, mgrOpts)
	if err != nil {
		return fmt.Errorf("creating the manager: %w", err)
	}
	// The fleet's metrics are read from the cache by whichever replica
	// leads the controllers (internal/metrics).
	fleet := metrics.NewFleet(mgr.GetCache(), clock.RealClock{}, ctrl.Log)
	if o.runControllers {
		if err := ctrlmetrics.Registry.Register(fleet); err != nil {
			return fmt.Errorf("registering the fleet metrics: %w", err)
		}
	}
	switch {
	case electedApart:
		elected := manager.RunnableFunc(func(ctx context.Context) error {
			return controllers.RunElected(ctx, cfg, election, mgr.GetCache(), o.controllers, ctrl.Log.WithName("controllers"), fleet.Runnable())
		})
		if err := mgr.Add(elected); err != nil {
			return fmt.Errorf("adding the controllers: %w", err)
		}
	case o.runControllers:
		if err := controllers.SetupAll(mgr, o.controllers); err != nil {
			return err
		}
		if err := mgr.Add(fleet.Runnable()); err != nil {
			return fmt.Errorf("adding the fleet metrics: %w", err)
		}
	}
	if o.runGateway {
		if o.extraDNSNames != "" {
			o.gateway.ExtraDNSNames = strings.Split(o.extraDNSNames, ",")
		}
		served, err := release.Choose(o.gateway.ReleaseDir, o.gateway.ReleasePublicKey, release.BundledDir)
		if err != nil {
			return err
		}
		o.gateway.ReleaseDir, o.gateway.ReleasePublicKey = served.Dir, served.PublicKey
		setupLog.Info("agent releases", "store", served.Dir, "bundled", served.Bundled, "publicKey", served.PublicKey)
		gwMetrics, err := metrics.NewGateway(ctrlmetrics.Registry)
		if err != nil {
			return err
		}
		gw, err := gateway.New(o.gateway, gateway.Deps{
			Client: mgr.GetClient(), Reader: mgr.GetAPIReader(), Cache: mgr.GetCache(),
			Events: mgr.GetEventRecorder(gateway.EventSource), Log: ctrl.Log, Metrics: gwMetrics,
		})
		if err != nil {
			return fmt.Errorf("configuring the gateway: %w", err)
		}
		if err := mgr.Add(gw); err != nil {
			return fmt.Errorf("adding the gateway: %w", err)
		}
		if err := mgr.AddReadyzCheck("gateway", gw.Ready); err != nil {
			return fmt.Errorf("adding gateway ready check: %w", err)
		}
	}
	if !o.runControllers && !o.runGateway {
		return fmt.Errorf("nothing to run: --controllers=false and --gateway=false")
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return fmt.Errorf("adding health check: %w", err)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return fmt.Errorf("adding ready check: %w", err)
	}

	setupLog.Info("starting manager", "version", version.String())
	// SetupSignalHandler cancels on SIGTERM or SIGINT; Start returns once
	// every runnable has stopped, which is the graceful shutdown.
	if err := mgr.Start(ctrl.SetupSignalHandler()); err != nil {
		return fmt.Errorf("running the manager: %w", err)
	}
	return nil
}
