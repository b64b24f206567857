// Command loadgen measures the gateway the way a fleet uses it: it starts a
// control plane (envtest's kube-apiserver and etcd) and the real manager
// binary, enrolls N simulated agents (each with its own Ed25519 key, machine
// ID and source address on 127.0.0.0/8), then drives signed check-ins for a
// while and reports throughput, latency percentiles, the API-server requests
// they caused (from the API server's own metrics) and memory. Optionally it
// puts a share of the fleet in heartbeat mode first, and afterwards measures
// how long a new ScanSchedule and a new AgentUpdate take to reach the
// agents' check-in answers.
//
//	go run ./hack/loadgen --agents 2000 --concurrency 64 --duration 30s
//	go run ./hack/loadgen --agents 2000 --duration 30s --rate 3000 --concurrency 256 --heartbeat-share 0.5 --schedule-phase --rollout-phase
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/redflag-io/redflag/test/loadtest"
)

type options struct {
	agents      int
	concurrency int
	duration    time.Duration
	managerBin  string
	sources     int
	registerPar int
	rate        float64
	pprof       string
	warmup      time.Duration
	cpuProfile  string
	scanReports bool
	heartbeat   float64
	schedule    bool
	rollout     bool
	phaseTime   time.Duration
	interval    time.Duration
}

func main() {
	var o options
	flag.IntVar(&o.agents, "agents", 2000, "Simulated agents to enroll.")
	flag.IntVar(&o.concurrency, "concurrency", 64, "Check-ins in flight at once (closed loop).")
	flag.DurationVar(&o.duration, "duration", 30*time.Second, "How long to drive steady-state check-ins.")
	flag.StringVar(&o.managerBin, "manager", "bin/redflag-manager", "The manager binary (make build).")
	flag.IntVar(&o.sources, "sources", 64, "Distinct source addresses (127.0.x.y) the agents use.")
	flag.IntVar(&o.registerPar, "register-concurrency", 16, "Registrations in flight at once.")
	flag.Float64Var(&o.rate, "rate", 0, "Check-ins per second to pace at (open loop); 0 runs as fast as --concurrency allows.")
	flag.StringVar(&o.pprof, "manager-pprof", "", "Start the manager with --pprof-bind-address at this address, to profile it during the run.")
	flag.DurationVar(&o.warmup, "warmup", 3*time.Second, "Check-ins driven before measuring, so the fleet's connections are open (as a real fleet's are).")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "Write the load generator's own CPU profile to this file.")
	flag.Float64Var(&o.heartbeat, "heartbeat-share", 0, "Fraction (0 to 1) of the agents put in heartbeat mode (spec.heartbeat.until ahead) before the steady phase; their check-in answers are checked for the 5s interval.")
	flag.BoolVar(&o.schedule, "schedule-phase", false, "After the steady phase, create a ScanSchedule selecting the fleet and measure how long until every agent's check-in answer asks for a scan.")
	flag.BoolVar(&o.rollout, "rollout-phase", false, "Then create an AgentUpdate (packages, maxConcurrent 100%) and measure how long until the first and the last agent's check-in answer carries the work.")
	flag.DurationVar(&o.phaseTime, "phase-timeout", time.Minute, "How long the heartbeat check and each phase wait at most.")
	flag.BoolVar(&o.scanReports, "scan-reports", false, "After the steady phase, have every agent report a realistic updates scan (36 apt updates), then the same result again; report throughput, latency and API writes per report.")
	flag.DurationVar(&o.interval, "interval", 0, "Set every Agent's spec.checkInInterval to this before the steady phase and, without --rate, pace check-ins at agents/interval (each agent once per interval).")
	flag.Parse()
	if o.heartbeat < 0 || o.heartbeat > 1 {
		fmt.Fprintf(os.Stderr, "loadgen: --heartbeat-share %v is not between 0 and 1\n", o.heartbeat)
		os.Exit(2)
	}
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "loadgen: cpu profile:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

func run(ctx context.Context, o options, w io.Writer) error {
	var extra []string
	if o.pprof != "" {
		extra = []string{"--pprof-bind-address", o.pprof}
	}
	rep, err := loadtest.Run(ctx, loadtest.Options{
		ManagerArgs: extra,
		Agents:      o.agents, Concurrency: o.concurrency, Duration: o.duration, ManagerBin: o.managerBin,
		Sources: o.sources, RegisterConcurrency: o.registerPar, Rate: o.rate, Warmup: o.warmup,
		HeartbeatShare: o.heartbeat, SchedulePhase: o.schedule, ScanReports: o.scanReports, RolloutPhase: o.rollout, PhaseTimeout: o.phaseTime,
		Interval: o.interval,
	})
	if err != nil {
		return err
	}
	rep.Print(w)
	return nil
}
