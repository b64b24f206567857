// Package daemon is what the redflag-agent commands do: register enrolls the
// host, Run checks in and delivers reports until stopped, and ReadState
// answers `redflag-agent status`. It talks only to the gateway, through
// internal/hostclient, never to the Kubernetes API.
package daemon
