// Package scanrun runs the scanners of one subsystem the way the agent does
// on its schedule, and shapes what they found into what an Agent's status
// holds.
//
// Subsystem "updates" runs every package manager registered for this
// platform (Config.Updates; UpdateScanners gives apt and dnf, or winget and
// Windows Update on Windows); "docker" lists the Docker engine's containers
// and images with Config.Docker, each running container with the update
// state of its image. The scanners of a subsystem run
// concurrently, each with its own timeout and circuit breaker, so one
// broken or hung package manager never delays, blocks or fails the others.
// A scanner reporting scan.ErrNotInstalled is absent from the host, not
// failed. "storage" and "system" come from one facts collection.
//
// A Runner keeps its breaker state, and each manager's last good list, in
// memory: a transient failure keeps that manager's last known updates in
// the inventory instead of making them vanish and reappear, which would
// cost a status write each way.
//
// Every Result carries a per-source Outcome, a SubsystemStatus rolled up
// from them and, for updates, a merged protocol.UpdateInventory with a
// content hash that ignores ScannedAt, so the caller can skip resending an
// unchanged result.
package scanrun
