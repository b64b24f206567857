// Package agent is RedFlag's host daemon: the redflag-agent command lives in
// agent/cmd/redflag-agent and its parts in agent/internal/. It never talks to
// the Kubernetes API, only to the gateway.
package agent
