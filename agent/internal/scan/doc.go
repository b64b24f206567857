// Package scan holds what every package-manager scanner of the agent
// shares: the bounds a PendingUpdate must respect before it reaches an
// Agent's status, the collector that applies them, the line reader and
// malformed-line report the parsers use, and the one way the agent runs a
// package manager (fixed argument slice, no shell, bounded output, timeout
// from the context).
//
// The parsers themselves live in the sub-packages apt, dnf, winget and wua.
// Each is a pure function over recorded command output, so it is tested on
// any platform; only the thin runners that execute the tools are
// platform-specific.
package scan
