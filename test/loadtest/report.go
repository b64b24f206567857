package loadtest

import (
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/redflag-io/redflag/internal/timing"
)

// Print writes the report for a person (and for docs/benchmarks.md).
func (r *Report) Print(w io.Writer) {
	fmt.Fprintf(w, "machine: %d CPUs, %s/%s\n", runtime.NumCPU(), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(w, "enrollment: %d agents in %.1fs (%.0f/s)\n", r.Agents, r.RegisterSeconds, r.RegistrationsPerS)
	fmt.Fprintf(w, "check-ins:  %d in the steady phase, %.0f/s, %d errors", r.CheckIns, r.CheckInsPerS, r.Errors)
	if r.FirstError != "" {
		fmt.Fprintf(w, " (first: %s)", r.FirstError)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "latency:    p50 %s  p90 %s  p99 %s  max %s\n", ms(r.P50), ms(r.P90), ms(r.P99), ms(r.Max))
	fmt.Fprintf(w, "API writes per check-in: %.4f (%.1f writes/s over the %.0fs steady phase)\n", r.WritesPerCheckIn, r.WritesPerS, r.SteadySeconds)
	if r.IntervalSetup > 0 {
		fmt.Fprintf(w, "check-in interval set-up (before the steady phase): %s until the Agent controller had observed every change, %.0f API writes\n",
			secs(r.IntervalSetup), r.IntervalSetupWrites)
	}
	fmt.Fprintf(w, "CPU per check-in: manager %s, kube-apiserver %s, etcd %s (total %s)\n",
		us(r.ManagerCPUPerCheckIn), us(r.APIServerCPUPerCheckIn), us(r.EtcdCPUPerCheckIn),
		us(r.ManagerCPUPerCheckIn+r.APIServerCPUPerCheckIn+r.EtcdCPUPerCheckIn))
	fmt.Fprintf(w, "load generator CPU per check-in: %s (the simulated hosts' signing, TLS and HTTP)\n", us(r.LoadCPUPerCheckIn))
	fmt.Fprintf(w, "manager RSS: %.0f MiB\n", r.ManagerRSSMiB)
	fmt.Fprintf(w, "control plane RSS: kube-apiserver %.0f MiB, etcd %.0f MiB\n", r.APIServerRSSMiB, r.EtcdRSSMiB)
	keys := make([]string, 0, len(r.SteadyRequests))
	for k := range r.SteadyRequests {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	fmt.Fprintln(w, "API requests during the steady phase:")
	for _, k := range keys {
		fmt.Fprintf(w, "  %-40s %.0f\n", k, r.SteadyRequests[k])
	}
	if r.HeartbeatAgents > 0 {
		fmt.Fprintf(w, "heartbeat: %d of %d agents in heartbeat mode, %d of them told to check in every %s; next check-in told: heartbeat agents %v, others %v\n",
			r.HeartbeatAgents, r.Agents, r.HeartbeatTold, timing.HeartbeatInterval, r.HeartbeatNext, r.OthersNext)
		fmt.Fprintf(w, "heartbeat set-up (before the steady phase): %s until the Agent controller had observed every change, %.0f API writes\n",
			secs(r.HeartbeatSetup), r.HeartbeatSetupWrites)
	}
	if r.Schedule != nil {
		fmt.Fprintf(w, "scan schedule: %s asked to scan, %s\n", r.Schedule.counted(), r.Schedule)
	}
	if r.Rollout != nil {
		capped := ""
		if r.Rollout.Want < r.Agents {
			capped = fmt.Sprintf(" (a rollout starts at most %d hosts at once; all %d are selected)", r.Rollout.Want, r.Agents)
		}
		fmt.Fprintf(w, "rollout: %s given work%s, %s\n", r.Rollout.counted(), capped, r.Rollout)
	}
	if r.Scans != nil {
		fmt.Fprintf(w, "scan reports: %s\n", r.Scans)
	}
}

// counted says how many agents got it, of how many.
func (t *TimeToWork) counted() string { return fmt.Sprintf("%d of %d agents", t.Got, t.Want) }

// String gives the times from the create and how they were measured.
func (t *TimeToWork) String() string {
	var b strings.Builder
	switch {
	case t.Got == 0 && t.Want > 0:
		fmt.Fprintf(&b, "none within %s of the create", t.Timeout)
	case t.Got > 0:
		fmt.Fprintf(&b, "the first %s, median %s, last %s after the create", secs(t.First), secs(t.Median), secs(t.Last))
		if t.Got < t.Want {
			fmt.Fprintf(&b, " (the rest not within %s)", t.Timeout)
		}
	}
	fmt.Fprintf(&b, "; each agent checked in every %s, %d check-ins, %d errors", secs(t.Cycle), t.CheckIns, t.Errors)
	if t.FirstError != "" {
		fmt.Fprintf(&b, " (first: %s)", t.FirstError)
	}
	fmt.Fprintf(&b, ", %.0f API writes", t.Writes)
	return b.String()
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond)) }
func us(d time.Duration) string { return fmt.Sprintf("%.0fµs", float64(d)/float64(time.Microsecond)) }

func secs(d time.Duration) string { return fmt.Sprintf("%.2fs", d.Seconds()) }
