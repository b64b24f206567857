// Package loadtest drives the real gateway with a simulated fleet and
// measures it: enrollment rate, check-in throughput and latency, the API
// server requests the load caused, and memory. hack/loadgen runs it at full
// size; a short run is part of `make test` to catch regressions.
package loadtest
