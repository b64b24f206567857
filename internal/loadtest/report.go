package loadtest

import (
	"fmt"
	"io"
	"runtime"
	"slices"
	"time"
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
	fmt.Fprintf(w, "API writes per check-in: %.4f\n", r.WritesPerCheckIn)
	fmt.Fprintf(w, "CPU per check-in: manager %s, kube-apiserver %s, etcd %s (total %s)\n",
		us(r.ManagerCPUPerCheckIn), us(r.APIServerCPUPerCheckIn), us(r.EtcdCPUPerCheckIn),
		us(r.ManagerCPUPerCheckIn+r.APIServerCPUPerCheckIn+r.EtcdCPUPerCheckIn))
	fmt.Fprintf(w, "load generator CPU per check-in: %s (the simulated hosts' signing, TLS and HTTP)\n", us(r.LoadCPUPerCheckIn))
	fmt.Fprintf(w, "manager RSS: %.0f MiB\n", r.ManagerRSSMiB)
	keys := make([]string, 0, len(r.SteadyRequests))
	for k := range r.SteadyRequests {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	fmt.Fprintln(w, "API requests during the steady phase:")
	for _, k := range keys {
		fmt.Fprintf(w, "  %-40s %.0f\n", k, r.SteadyRequests[k])
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond)) }
func us(d time.Duration) string { return fmt.Sprintf("%.0fµs", float64(d)/float64(time.Microsecond)) }
