package gateway

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
	"github.com/redflag-io/redflag/internal/events"
	"github.com/redflag-io/redflag/internal/installscript"
	"github.com/redflag-io/redflag/internal/metrics"
	"github.com/redflag-io/redflag/internal/protocol"
	"github.com/redflag-io/redflag/internal/release"
)

// +kubebuilder:rbac:groups=redflag.io,resources=agents,verbs=get;list;watch;create
// +kubebuilder:rbac:groups=redflag.io,resources=agents/status,verbs=get;patch
// +kubebuilder:rbac:groups=redflag.io,resources=registrationtokens,verbs=get;list;watch
// +kubebuilder:rbac:groups=redflag.io,resources=scanschedules,verbs=get;list;watch
// +kubebuilder:rbac:groups=redflag.io,resources=agentupdates,verbs=get;list;watch
// +kubebuilder:rbac:groups=redflag.io,resources=registrationtokens/status,verbs=get;update
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;create;update
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// EventSource is the reportingController of the gateway's Events.
const EventSource = "redflag.io/gateway"

// MaxHeaderBytes bounds a request's head: the request line and every header
// line with its line end. A larger one is refused with 431 by net/http.
const MaxHeaderBytes = 16 << 10

// netHTTPHeaderSlack is what net/http reads beyond http.Server's
// MaxHeaderBytes before it answers 431 ("bufio slop", in
// Server.initialReadLimitSize). Setting MaxHeaderBytes alone to 16 KiB let
// heads of 20 KiB through; TestHeaderLimitIsExact measures the real bound
// over TCP, so a Go release that changes the slack fails it.
const netHTTPHeaderSlack = 4096

// Gateway is the HTTPS server hosts talk to.
type Gateway struct {
	opts     Options
	client   client.Client // writes, and reads of cached kinds
	reader   client.Reader // uncached reads (tokens and agents at enrollment, Secrets)
	cache    cache.Cache
	recorder *events.Recorder
	clock    clock.PassiveClock
	log      logr.Logger

	// agents holds everything kept per agent (agenttable.go); the rest
	// is per kind, token, client address or nonce.
	agents         *agentTable
	tokens         *tokenIndex
	schedules      *scheduleIndex
	rollouts       *rolloutIndex
	nonces         *nonceCache
	live           *liveness
	refusals       refusalLimiter
	ipLimits       *limiterSet
	bodies         *bodyBudget
	registerLimits *limiterSet
	seatLocks      keyedMutex
	peers          *peerSet // nil with one replica
	// rebindsInFlight counts rebind records being written (rebind.go).
	rebindsInFlight atomic.Int64
	takeover        takeover
	forwarder       *forwarder // nil with one replica
	metrics         *metrics.Gateway

	serving       *servingCert
	signingKey    ed25519.PrivateKey
	workPublicKey string
	caPEM         []byte
	ready         atomic.Bool
	addr          atomic.Value // net.Addr once listening
}

// Deps are what the gateway takes from the manager.
type Deps struct {
	Client client.Client
	Reader client.Reader
	Cache  cache.Cache
	// Events receives the gateway's Events (mgr.GetEventRecorder).
	Events events.Sink
	Clock  clock.PassiveClock
	Log    logr.Logger
	// Metrics receives the gateway's metrics; nil makes unregistered
	// ones (tests build many gateways in one process).
	Metrics *metrics.Gateway
}

// New builds a gateway; Start serves it.
func New(opts Options, d Deps) (*Gateway, error) {
	opts = opts.Defaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if d.Clock == nil {
		d.Clock = clock.RealClock{}
	}
	if d.Metrics == nil {
		m, err := metrics.NewGateway(nil)
		if err != nil {
			return nil, err
		}
		d.Metrics = m
	}
	return &Gateway{
		opts: opts, client: d.Client, reader: d.Reader, cache: d.Cache, clock: d.Clock,
		recorder: events.NewRecorder(d.Events, d.Clock),
		log:      d.Log.WithName("gateway"),
		agents:   newAgentTable(), tokens: newTokenIndex(), schedules: newScheduleIndex(), rollouts: newRolloutIndex(), nonces: newNonceCache(opts.ClockSkew), live: newLiveness(),
		ipLimits:       newLimiterSet(opts.PerIPRate, opts.PerIPBurst),
		bodies:         newBodyBudget(opts.BodyBudget, opts.PerAddressBodyBudget, d.Metrics.BodyBytesInFlight),
		metrics:        d.Metrics,
		registerLimits: newLimiterSet(opts.RegisterRate, opts.RegisterBurst),
	}, nil
}

// backgroundIdle reports whether no write the gateway makes outside a
// request (liveness, rebind records) is queued or under way: what a test
// waits for before it asserts that nothing was written.
func (g *Gateway) backgroundIdle() bool {
	return g.live.idle() && g.rebindsInFlight.Load() == 0
}

// NeedLeaderElection is false: every replica serves hosts.
func (g *Gateway) NeedLeaderElection() bool { return false }

// Ready reports whether the gateway is serving, for the readiness probe.
func (g *Gateway) Ready(*http.Request) error {
	if !g.ready.Load() {
		return errors.New("gateway is not serving yet")
	}
	return nil
}

// Addr is the address the gateway listens on, once it does.
func (g *Gateway) Addr() net.Addr {
	a, _ := g.addr.Load().(net.Addr)
	return a
}

// CAPEM is the CA certificate hosts pin (nil for a publicly trusted one).
func (g *Gateway) CAPEM() []byte { return g.caPEM }

// Start loads keys, fills the indexes from the informers and serves until
// ctx ends, then shuts down gracefully.
func (g *Gateway) Start(ctx context.Context) error {
	serving, err := ensureTLS(ctx, g.reader, g.client, g.opts.Namespace, g.opts.TLSSecretName, g.dnsNames())
	if err != nil {
		return err
	}
	g.caPEM = serving.caPEM
	g.serving = newServingCert(serving, g.metrics.CertNotAfter)
	go g.serving.watch(ctx, g.reader, g.client, client.ObjectKey{Namespace: g.opts.Namespace, Name: g.opts.TLSSecretName}, g.opts.CertReloadInterval, g.clock, g.log)
	if g.signingKey, err = ensureSigningKey(ctx, g.reader, g.client, g.opts.Namespace, g.opts.SigningSecretName); err != nil {
		return err
	}
	g.workPublicKey = base64.StdEncoding.EncodeToString(g.signingKey.Public().(ed25519.PublicKey))
	if err := g.watch(ctx); err != nil {
		return err
	}
	go g.live.run(ctx, g.log, g.persistLastSeen)

	g.takeover.start(g.clock.Now())
	ln, err := net.Listen("tcp", g.opts.BindAddress)
	if err != nil {
		return fmt.Errorf("gateway listening on %s: %w", g.opts.BindAddress, err)
	}
	g.addr.Store(ln.Addr())
	if g.opts.PeerAddress != "" {
		g.peers = newPeerSet(peer{name: g.opts.PeerName, address: g.opts.PeerAddress}, g.opts.Namespace, g.client, g.reader, g.clock, g.log)
		if g.forwarder, err = newForwarder(g.peers, g.signingKey, serving.caPEM, g.serving.leaf, g.log); err != nil {
			_ = ln.Close()
			return err
		}
	}
	srv := &http.Server{
		Handler:           g.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    MaxHeaderBytes - netHTTPHeaderSlack,
		// HTTP/1.1 only: a host sends one request at a time, so HTTP/2's
		// multiplexing buys nothing, while Go's HTTP/2 server hands every
		// request across four goroutines (measured: a third of the
		// gateway's CPU under load went to that and its extra writes).
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
		TLSConfig: &tls.Config{
			MinVersion:     tls.VersionTLS12,
			GetCertificate: g.serving.get,
			NextProtos:     []string{"http/1.1"},
		},
		ErrorLog: nil,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.ServeTLS(ln, "", "") }()
	if g.peers != nil {
		// Announced only once listening, so peers never forward to a
		// replica that cannot answer yet.
		go g.peers.run(ctx)
	}
	g.ready.Store(true)
	g.log.Info("serving hosts", "address", ln.Addr().String(), "agents", g.agents.size(), "peerAddress", g.opts.PeerAddress)
	select {
	case err := <-errc:
		return fmt.Errorf("gateway server: %w", err)
	case <-ctx.Done():
	}
	g.ready.Store(false)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("gateway shutdown: %w", err)
	}
	return nil
}

// watch feeds the indexes from the manager's informers and waits for them to
// fill, so the first request after start sees every enrolled agent.
func (g *Gateway) watch(ctx context.Context) error {
	ai, err := g.cache.GetInformer(ctx, &redflagv1.Agent{})
	if err != nil {
		return fmt.Errorf("watching Agents: %w", err)
	}
	if _, err := ai.AddEventHandler(g.agents.handler()); err != nil {
		return fmt.Errorf("watching Agents: %w", err)
	}
	ti, err := g.cache.GetInformer(ctx, &redflagv1.RegistrationToken{})
	if err != nil {
		return fmt.Errorf("watching RegistrationTokens: %w", err)
	}
	if _, err := ti.AddEventHandler(g.tokens.handler()); err != nil {
		return fmt.Errorf("watching RegistrationTokens: %w", err)
	}
	si, err := g.cache.GetInformer(ctx, &redflagv1.ScanSchedule{})
	if err != nil {
		return fmt.Errorf("watching ScanSchedules: %w", err)
	}
	if _, err := si.AddEventHandler(g.schedules.handler()); err != nil {
		return fmt.Errorf("watching ScanSchedules: %w", err)
	}
	ri, err := g.cache.GetInformer(ctx, &redflagv1.AgentUpdate{})
	if err != nil {
		return fmt.Errorf("watching AgentUpdates: %w", err)
	}
	if _, err := ri.AddEventHandler(g.rollouts.handler()); err != nil {
		return fmt.Errorf("watching AgentUpdates: %w", err)
	}
	if !g.cache.WaitForCacheSync(ctx) {
		return errors.New("gateway: informer caches did not sync")
	}
	return nil
}

func (g *Gateway) dnsNames() []string {
	names := append([]string(nil), g.opts.ExtraDNSNames...)
	if g.opts.PublicURL != "" {
		if u, err := parseHost(g.opts.PublicURL); err == nil {
			names = append(names, u)
		}
	}
	return names
}

// Handler routes the gateway's endpoints behind the per-address limit.
func (g *Gateway) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+protocol.PathRegister, g.handleRegister)
	mux.HandleFunc("POST "+protocol.PathCheckIn, g.handleCheckIn)
	mux.HandleFunc("POST "+protocol.PathReport, g.handleReport)
	mux.HandleFunc("GET "+protocol.PathHealth, func(w http.ResponseWriter, _ *http.Request) { reply(w, map[string]string{"status": "ok"}) })
	mux.HandleFunc("GET "+protocol.PathCA, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/x-pem-file")
		_, _ = w.Write(g.caPEM)
	})
	// Releases and the install script are public: a release is verified by
	// its signature, and the script carries only public material (the CA
	// and the release key).
	if g.opts.ReleaseDir != "" {
		mux.Handle("GET "+protocol.ReleasesPrefix, release.Handler(g.opts.ReleaseDir))
	}
	// Without a public URL the script names the address it was fetched
	// from (installscript.Handler).
	mux.Handle("GET "+installscript.Path, installscript.Handler(installscript.Options{
		GatewayURL: g.opts.PublicURL, CAPEM: g.caPEM, ReleasePublicKey: g.opts.ReleasePublicKey,
	}))
	return g.instrument(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if g.forwarder != nil && g.forwarder.fromPeer(r) {
			// The replica the host reached applied the address limit.
			mux.ServeHTTP(w, r)
			return
		}
		if ok, wait := g.ipLimits.allow(clientIP(r), g.clock.Now()); !ok {
			failRetry(w, http.StatusTooManyRequests, protocol.CodeRateLimited, retryAfterSeconds(wait), "too many requests from this address")
			return
		}
		r, release, ok := g.admit(w, r)
		if !ok {
			return
		}
		defer release()
		if g.forwarder != nil && g.forwarder.forward(w, r) {
			return
		}
		mux.ServeHTTP(w, r)
	}))
}

// clientIP is the peer address. Behind a proxy every host shares the
// proxy's limit; trusting X-Forwarded-For would let a client pick its own.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// isUnavailable tells an unreachable or overloaded API server (answer 503,
// the host retries) from a real failure.
func isUnavailable(err error) bool {
	var netErr net.Error
	return apierrors.IsServiceUnavailable(err) || apierrors.IsTimeout(err) || apierrors.IsServerTimeout(err) ||
		apierrors.IsTooManyRequests(err) || utilnet.IsConnectionRefused(err) || utilnet.IsConnectionReset(err) ||
		errors.Is(err, context.DeadlineExceeded) || errors.As(err, &netErr)
}
