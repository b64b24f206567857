package gateway

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/redflag-io/redflag/internal/hostclient"
	"github.com/redflag-io/redflag/test/testenv"
)

// The integration tests run one real gateway, inside a real manager, against
// a real kube-apiserver and etcd, and talk to it over HTTPS as hosts do.
var (
	env  *testenv.Env
	gw   *Gateway
	host *hostclient.Client
	// writes counts the requests other than GET (and watch) that the test
	// gateway's process sends to the API server.
	writes atomic.Int64
)

const gatewayNamespace = "redflag-system"

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

// fuzzingOnly says this process only fuzzes: a fuzz worker, or a fuzzing
// run that selects no test (-fuzz with -run '^$', as hack/fuzz.sh runs).
// The fuzz targets use no API server, so these processes start none.
func fuzzingOnly() bool {
	flag.Parse()
	value := func(name string) string {
		if f := flag.Lookup(name); f != nil {
			return f.Value.String()
		}
		return ""
	}
	return value("test.fuzzworker") == "true" || (value("test.fuzz") != "" && value("test.run") == "^$")
}

func runTests(m *testing.M) int {
	if fuzzingOnly() {
		return m.Run()
	}
	ctrl.SetLogger(logr.Discard())
	var err error
	if env, err = testenv.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "starting the test control plane:", err)
		return 1
	}
	defer func() { _ = env.Stop() }()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Generous limits here; the limit tests start gateways of their own.
	if gw, host, err = startGateway(ctx, env, Options{BindAddress: "127.0.0.1:0", RegisterRate: 1000, RegisterBurst: 1000, PerAgentRate: 1000, PerAgentBurst: 1000}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// startGateway runs a manager with only the gateway in it and returns a host
// client that trusts the gateway's self-signed CA.
func startGateway(ctx context.Context, env *testenv.Env, opts Options) (*Gateway, *hostclient.Client, error) {
	return startGatewayWith(ctx, env, opts, nil)
}

// startGatewayWith is startGateway with a last say on the gateway's
// dependencies (its clock, its Event sink).
func startGatewayWith(ctx context.Context, env *testenv.Env, opts Options, change func(*Deps)) (*Gateway, *hostclient.Client, error) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: gatewayNamespace}}
	if err := env.Client.Create(ctx, ns); err != nil && !isAlreadyExists(err) {
		return nil, nil, fmt.Errorf("creating namespace: %w", err)
	}
	// Count every write the gateway's manager makes, at the transport, so
	// nothing (Events included) escapes the count.
	cfg := rest.CopyConfig(env.Config)
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
		return roundTripperFunc(func(r *http.Request) (*http.Response, error) {
			if r.Method != http.MethodGet {
				writes.Add(1)
			}
			return rt.RoundTrip(r)
		})
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme: env.Scheme, Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0",
	})
	if err != nil {
		return nil, nil, err
	}
	opts.Namespace = gatewayNamespace
	deps := Deps{
		Client: mgr.GetClient(), Reader: mgr.GetAPIReader(), Cache: mgr.GetCache(),
		Events: mgr.GetEventRecorder(EventSource), Log: ctrl.Log,
	}
	if change != nil {
		change(&deps)
	}
	g, err := New(opts, deps)
	if err != nil {
		return nil, nil, err
	}
	if err := mgr.Add(g); err != nil {
		return nil, nil, err
	}
	go func() {
		if err := mgr.Start(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "manager stopped:", err)
		}
	}()
	deadline := time.Now().Add(30 * time.Second)
	for g.Ready(nil) != nil {
		if time.Now().After(deadline) {
			return nil, nil, fmt.Errorf("gateway not ready within 30s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	c, err := hostclient.New("https://"+g.Addr().String(), g.CAPEM())
	if err != nil {
		return nil, nil, err
	}
	return g, c, nil
}
