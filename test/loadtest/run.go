package loadtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
	"github.com/redflag-io/redflag/internal/hostclient"
	"github.com/redflag-io/redflag/internal/protocol"
	"github.com/redflag-io/redflag/test/testenv"
)

// Options size a run.
type Options struct {
	Agents              int
	Concurrency         int
	Duration            time.Duration
	ManagerBin          string
	Sources             int
	RegisterConcurrency int
	// GatewayPort; zero picks a free one.
	GatewayPort int
	// Rate, when positive, paces check-ins at this many per second (open
	// loop) instead of as fast as Concurrency allows. Latency is then
	// measured from each check-in's scheduled time, so a stall counts for
	// every check-in it delayed.
	Rate float64
	// ManagerArgs are extra flags for the manager (--pprof-bind-address).
	ManagerArgs []string
	// Warmup drives check-ins this long before measuring, so the measured
	// phase does not include opening the fleet's connections (a real fleet
	// keeps its own open: the check-in interval is under the gateway's idle
	// timeout). Measured: without it, TLS handshakes for ~250 new
	// connections put every slow check-in of a 30 s run into its first 2 s.
	Warmup time.Duration
	// HeartbeatShare (0 to 1) is the fraction of the fleet put in heartbeat
	// mode (spec.heartbeat.until ahead) before the steady phase; their
	// answers are then checked for the heartbeat interval.
	HeartbeatShare float64
	// SchedulePhase, after the steady phase, creates a ScanSchedule that
	// selects the fleet while it keeps checking in, and measures how long
	// until every agent's answer asks for a scan.
	SchedulePhase bool
	// ScanReports, last, has every agent report a realistic updates scan,
	// then the same result again (ScanReports).
	ScanReports bool
	// RolloutPhase, after that, creates an AgentUpdate (packages, every
	// agent, maxConcurrent 100%) and measures how long until the answers
	// of as many agents as it may start carry the work.
	RolloutPhase bool
	// PhaseTimeout bounds the heartbeat check and each of those phases;
	// zero means a minute.
	PhaseTimeout time.Duration
	// Interval, when positive, is set as every Agent's spec.checkInInterval
	// before the steady phase (as a user sets it), and with no Rate the
	// check-ins are paced at Agents/Interval, so each simulated agent
	// checks in once per interval as a real one would.
	Interval time.Duration
}

// Report is what a run measured.
type Report struct {
	Agents            int
	RegisterSeconds   float64
	RegistrationsPerS float64
	CheckIns          int64
	Errors            int64
	FirstError        string
	CheckInsPerS      float64
	P50, P90, P99     time.Duration
	Max               time.Duration
	// SteadyRequests are the API-server requests made during the
	// check-in phase, by "VERB resource".
	SteadyRequests   map[string]float64
	WritesPerCheckIn float64
	// SteadySeconds is how long the steady phase ran; WritesPerS its API
	// writes per second (the figure the write budget is about).
	SteadySeconds float64
	WritesPerS    float64
	// IntervalSetup and IntervalSetupWrites are Options.Interval's
	// patches: how long until the Agent controller had observed them all,
	// and the API writes meanwhile (before the steady phase, not in it).
	IntervalSetup       time.Duration
	IntervalSetupWrites float64
	// CPU seconds per check-in of the manager, the API server and etcd.
	ManagerCPUPerCheckIn   time.Duration
	APIServerCPUPerCheckIn time.Duration
	EtcdCPUPerCheckIn      time.Duration
	// LoadCPUPerCheckIn is the load generator's own CPU (signing, TLS and
	// HTTP for the simulated hosts): on a shared machine it is CPU the
	// gateway does not get.
	LoadCPUPerCheckIn time.Duration
	ManagerRSSMiB     float64
	// APIServerRSSMiB and EtcdRSSMiB are the control plane's memory at the
	// end of the run (0 when the process was not found).
	APIServerRSSMiB, EtcdRSSMiB float64
	// HeartbeatAgents were put in heartbeat mode; HeartbeatTold of them
	// were last told to check in again after the heartbeat interval (5 s),
	// with heartbeatUntil ahead.
	HeartbeatAgents int
	HeartbeatTold   int
	// HeartbeatNext and OthersNext count the next check-in each agent's
	// last answer asked for, for the agents in heartbeat mode and the
	// others.
	HeartbeatNext map[time.Duration]int
	OthersNext    map[time.Duration]int
	// HeartbeatSetup is how long setting spec.heartbeat took until the
	// Agent controller had observed every change, HeartbeatSetupWrites the
	// API writes meanwhile (the patches and what they caused). Both come
	// before the steady phase and are not in its figures.
	HeartbeatSetup       time.Duration
	HeartbeatSetupWrites float64
	// Schedule and Rollout are the optional phases' measures (nil when
	// not run).
	Schedule *TimeToWork
	// Scans is the scan-report phase's measure (nil when not run).
	Scans   *ScanReports
	Rollout *TimeToWork
}

// Run starts a control plane and the manager, enrolls the fleet and drives it.
func Run(ctx context.Context, o Options) (*Report, error) {
	if !(o.HeartbeatShare >= 0 && o.HeartbeatShare <= 1) {
		return nil, fmt.Errorf("heartbeat share %v is not between 0 and 1", o.HeartbeatShare)
	}
	if o.PhaseTimeout <= 0 {
		o.PhaseTimeout = time.Minute
	}
	if o.Interval < 0 {
		return nil, fmt.Errorf("check-in interval %s is negative", o.Interval)
	}
	if o.Interval > 0 && o.Rate <= 0 {
		o.Rate = float64(o.Agents) / o.Interval.Seconds()
	}
	rep := &Report{Agents: o.Agents}
	tb, err := startTestbed(ctx, o, rep)
	if err != nil {
		return nil, err
	}
	defer tb.close()
	env, mgr, fleet, gatewayURL, caPEM := tb.env, tb.mgr, tb.fleet, tb.gatewayURL, tb.caPEM
	if err := waitQuiet(ctx, env.Config, time.Minute); err != nil {
		return nil, err
	}

	wire, err := newWireDialer(loopbackNet(gatewayURL, caPEM, o.Sources))
	if err != nil {
		return nil, err
	}
	if o.Interval > 0 {
		if rep.IntervalSetup, rep.IntervalSetupWrites, err = measureSetup(ctx, env.Config, func() error {
			return setInterval(ctx, env.Client, fleet, o.RegisterConcurrency, o.Interval)
		}); err != nil {
			return nil, err
		}
	}
	if hb := inHeartbeat(fleet, o.HeartbeatShare); len(hb) > 0 {
		if rep.HeartbeatSetup, rep.HeartbeatSetupWrites, err = measureSetup(ctx, env.Config, func() error {
			return startHeartbeat(ctx, env.Client, hb, o.RegisterConcurrency)
		}); err != nil {
			return nil, err
		}
		checkHeartbeat(ctx, fleet, hb, wire, o, o.PhaseTimeout, rep)
	}
	if o.Warmup > 0 {
		warm := o
		warm.Duration = o.Warmup
		steady(ctx, fleet, wire, warm, &Report{}, nil)
	}

	apiURL, _ := url.Parse(env.Config.Host)
	apiPID := findPID("kube-apiserver", "--secure-port="+apiURL.Port())
	etcdPID := 0
	if apiPID != 0 {
		etcdPID = findEtcd(apiPID)
	}
	before, err := scrapeRequests(ctx, env.Config)
	if err != nil {
		return nil, err
	}
	mgrCPU, apiCPU, etcdCPU, loadCPU := cpuSeconds(mgr.pid()), cpuSeconds(apiPID), cpuSeconds(etcdPID), cpuSeconds(os.Getpid())
	steady(ctx, fleet, wire, o, rep, nil)
	after, err := scrapeRequests(ctx, env.Config)
	if err != nil {
		return nil, err
	}
	rep.SteadyRequests = after.minus(before)
	if rep.CheckIns > 0 {
		n := float64(rep.CheckIns)
		rep.WritesPerCheckIn = requestCounts(rep.SteadyRequests).writes() / n
		rep.WritesPerS = requestCounts(rep.SteadyRequests).writes() / rep.SteadySeconds
		per := func(d float64) time.Duration { return time.Duration(d / n * float64(time.Second)) }
		rep.ManagerCPUPerCheckIn = per(cpuSeconds(mgr.pid()) - mgrCPU)
		rep.LoadCPUPerCheckIn = per(cpuSeconds(os.Getpid()) - loadCPU)
		if apiPID != 0 {
			rep.APIServerCPUPerCheckIn = per(cpuSeconds(apiPID) - apiCPU)
		}
		if etcdPID != 0 {
			rep.EtcdCPUPerCheckIn = per(cpuSeconds(etcdPID) - etcdCPU)
		}
	}
	rep.ManagerRSSMiB = rssMiB(mgr.pid())
	if apiPID != 0 {
		rep.APIServerRSSMiB = rssMiB(apiPID)
	}
	if etcdPID != 0 {
		rep.EtcdRSSMiB = rssMiB(etcdPID)
	}

	if o.SchedulePhase {
		if rep.Schedule, err = timeToWork(ctx, env, fleet, wire, o, o.PhaseTimeout, scanSchedule(), len(fleet), hasUpdatesScan); err != nil {
			return nil, err
		}
	}
	if o.RolloutPhase {
		// Slots are bounded (status.slots), so a rollout starts at most
		// MaxSlots hosts at once whatever maxConcurrent says; the
		// simulated agents never finish, so no more start.
		au := agentUpdate()
		if rep.Rollout, err = timeToWork(ctx, env, fleet, wire, o, o.PhaseTimeout, au, min(len(fleet), redflagv1.MaxSlots), hasRolloutWork(au.Name)); err != nil {
			return nil, err
		}
	}
	// Last: a stored updates scan would make the schedule phase's scan
	// not due.
	if o.ScanReports {
		if rep.Scans, err = scanReports(ctx, env, fleet, o); err != nil {
			return nil, err
		}
	}
	return rep, nil
}

// measureSetup runs a change made before the steady phase and returns how
// long it took and the API writes it caused.
func measureSetup(ctx context.Context, cfg *rest.Config, change func() error) (time.Duration, float64, error) {
	before, err := scrapeRequests(ctx, cfg)
	if err != nil {
		return 0, 0, err
	}
	start := time.Now()
	if err := change(); err != nil {
		return 0, 0, err
	}
	took := time.Since(start)
	after, err := scrapeRequests(ctx, cfg)
	if err != nil {
		return 0, 0, err
	}
	return took, after.minus(before).writes(), nil
}

// findEtcd finds the etcd serving the API server, by its client URL.
func findEtcd(apiPID int) int {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", apiPID))
	if err != nil {
		return 0
	}
	for _, arg := range strings.Split(string(data), "\x00") {
		if v, ok := strings.CutPrefix(arg, "--etcd-servers="); ok {
			return findPID("etcd", "--listen-client-urls="+v)
		}
	}
	return 0
}

func register(ctx context.Context, fleet []*simAgent, token string, par int, rep *Report) error {
	start := time.Now()
	work := make(chan *simAgent)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for range max(par, 1) {
		wg.Go(func() {
			for a := range work {
				err := a.register(ctx, token)
				for attempt := 0; err != nil && attempt < 20 && isTemporary(err); attempt++ {
					time.Sleep(retryDelay(err))
					err = a.register(ctx, token)
				}
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("registering %s: %w", a.hostname, err)
					}
					mu.Unlock()
				}
			}
		})
	}
	for _, a := range fleet {
		work <- a
	}
	close(work)
	wg.Wait()
	rep.RegisterSeconds = time.Since(start).Seconds()
	rep.RegistrationsPerS = float64(len(fleet)) / rep.RegisterSeconds
	return firstErr
}

func isTemporary(err error) bool {
	var e *hostclient.Error
	return errors.As(err, &e) && e.Temporary()
}

func retryDelay(err error) time.Duration {
	var e *hostclient.Error
	if errors.As(err, &e) && e.RetryAfter > 0 {
		return e.RetryAfter
	}
	return 100 * time.Millisecond
}

// steady runs check-ins over the fleet, round robin, for o.Duration or
// until ctx ends: a closed loop of o.Concurrency, or paced at o.Rate. With
// observe set, every answer is opened (signature, agent, expiry) and passed
// to it; without, answers are read but not decoded, which keeps the
// generator's CPU for the gateway.
func steady(ctx context.Context, fleet []*simAgent, wire *wireDialer, o Options, rep *Report, observe func(*simAgent, *protocol.WorkDocument)) {
	ctx, cancel := context.WithTimeout(ctx, o.Duration)
	defer cancel()
	var next, count, errs atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	var firstErr string
	start := time.Now()
	tickets := pace(ctx, o.Rate)
	var wg sync.WaitGroup
	body, _ := json.Marshal(protocol.CheckInRequest{AgentVersion: "v0.1.0", FactsHash: "steady"})
	for worker := range max(o.Concurrency, 1) {
		wg.Go(func() {
			local := make([]time.Duration, 0, 4096)
			var conn *wireConn
			defer func() {
				if conn != nil {
					conn.close()
				}
			}()
			for ctx.Err() == nil {
				t0 := time.Now()
				if tickets != nil {
					var ok bool
					if t0, ok = <-tickets; !ok {
						break
					}
				}
				a := fleet[int(next.Add(1))%len(fleet)]
				var err error
				if conn == nil {
					conn, err = wire.dial(ctx, worker)
				}
				var doc *protocol.WorkDocument
				if err == nil {
					if observe == nil {
						err = conn.checkIn(a, body)
					} else {
						// Declared here so only this path allocates it.
						var d protocol.WorkDocument
						d, err = conn.checkInDoc(a, body)
						doc = &d
					}
					if err != nil {
						// A connection that failed or was closed is not reused.
						conn.close()
						conn = nil
					}
				}
				if errors.Is(err, errConnClosed) {
					err = nil
				}
				if ctx.Err() != nil {
					break
				}
				if err != nil {
					errs.Add(1)
					mu.Lock()
					if firstErr == "" {
						firstErr = err.Error()
					}
					mu.Unlock()
					continue
				}
				local = append(local, time.Since(t0))
				count.Add(1)
				if observe != nil {
					observe(a, doc)
				}
			}
			mu.Lock()
			lat = append(lat, local...)
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	rep.CheckIns, rep.Errors, rep.FirstError = count.Load(), errs.Load(), firstErr
	rep.SteadySeconds, rep.CheckInsPerS = elapsed, float64(rep.CheckIns)/elapsed
	slices.Sort(lat)
	pct := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(p*float64(len(lat))))]
	}
	rep.P50, rep.P90, rep.P99 = pct(0.50), pct(0.90), pct(0.99)
	if len(lat) > 0 {
		rep.Max = lat[len(lat)-1]
	}
}

// pace sends the scheduled time of each check-in at rate per second until
// ctx ends; nil when rate is zero (closed loop).
func pace(ctx context.Context, rate float64) <-chan time.Time {
	if rate <= 0 {
		return nil
	}
	ch := make(chan time.Time, 1<<16)
	go func() {
		defer close(ch)
		start := time.Now()
		interval := time.Duration(float64(time.Second) / rate)
		for i := 0; ; i++ {
			at := start.Add(time.Duration(i) * interval)
			if d := time.Until(at); d > 0 {
				select {
				case <-ctx.Done():
					return
				case <-time.After(d):
				}
			}
			select {
			case ch <- at:
			case <-ctx.Done():
				return
			}
		}
	}()
	return ch
}

// managerProc is the manager binary under test.
type managerProc struct {
	cmd  *exec.Cmd
	done chan struct{}
	out  *os.File
	// gateway is the host:port its gateway listens on.
	gateway string
}

// waitListening waits until the manager's gateway accepts connections.
func waitListening(ctx context.Context, m *managerProc, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		conn, err := (&net.Dialer{Timeout: time.Second}).DialContext(ctx, "tcp", m.gateway)
		if err == nil {
			return conn.Close()
		}
		select {
		case <-m.done:
			return errors.New("the manager exited during start-up")
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the gateway at %s did not listen within %s: %w", m.gateway, within, err)
		}
	}
}

func (m *managerProc) pid() int { return m.cmd.Process.Pid }

func (m *managerProc) stop() {
	_ = m.cmd.Process.Signal(os.Interrupt)
	select {
	case <-m.done:
	case <-time.After(15 * time.Second):
		_ = m.cmd.Process.Kill()
		<-m.done
	}
	_ = m.out.Close()
}

func startManager(ctx context.Context, env *testenv.Env, o Options, dir string) (*managerProc, string, error) {
	kubeconfig, err := env.AddAdmin()
	if err != nil {
		return nil, "", err
	}
	kc := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kc, kubeconfig, 0o600); err != nil {
		return nil, "", err
	}
	if err := env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "redflag-system"}}); err != nil {
		return nil, "", err
	}
	port := o.GatewayPort
	if port == 0 {
		if port, err = freePort(); err != nil {
			return nil, "", err
		}
	}
	log, err := os.Create(filepath.Join(dir, "manager.log"))
	if err != nil {
		return nil, "", err
	}
	args := append([]string{"--kubeconfig", kc, "--namespace", "redflag-system",
		"--gateway-bind-address", "127.0.0.1:" + strconv.Itoa(port),
		"--metrics-bind-address", "0", "--health-probe-bind-address", "0"}, o.ManagerArgs...)
	cmd := exec.Command(o.ManagerBin, args...)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return nil, "", fmt.Errorf("starting %s (make build): %w", o.ManagerBin, err)
	}
	m := &managerProc{cmd: cmd, done: make(chan struct{}), out: log, gateway: "127.0.0.1:" + strconv.Itoa(port)}
	go func() { _ = cmd.Wait(); close(m.done) }()
	return m, "https://127.0.0.1:" + strconv.Itoa(port), nil
}

// tokenAndCA creates a token for the fleet and returns it with the CA.
func tokenAndCA(ctx context.Context, env *testenv.Env, m *managerProc) ([]byte, string, error) {
	if err := env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fleetNamespace}}); err != nil {
		return nil, "", err
	}
	tok := &redflagv1.RegistrationToken{ObjectMeta: metav1.ObjectMeta{Namespace: fleetNamespace, Name: fleetToken}}
	if err := env.Client.Create(ctx, tok); err != nil {
		return nil, "", err
	}
	var secret corev1.Secret
	deadline := time.Now().Add(2 * time.Minute)
	for {
		select {
		case <-m.done:
			return nil, "", errors.New("the manager exited during start-up")
		default:
		}
		_ = env.Client.Get(ctx, client.ObjectKeyFromObject(tok), tok)
		errTLS := env.Client.Get(ctx, client.ObjectKey{Namespace: "redflag-system", Name: "redflag-gateway-tls"}, &secret)
		if tok.Status.Phase == redflagv1.TokenActive && errTLS == nil {
			break
		}
		if time.Now().After(deadline) {
			return nil, "", errors.New("the token or gateway certificate did not appear within 2 minutes")
		}
		time.Sleep(100 * time.Millisecond)
	}
	var tokSecret corev1.Secret
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: fleetNamespace, Name: tok.Status.SecretName}, &tokSecret); err != nil {
		return nil, "", err
	}
	if err := waitListening(ctx, m, 30*time.Second); err != nil {
		return nil, "", err
	}
	return secret.Data["ca.crt"], string(tokSecret.Data["token"]), nil
}
