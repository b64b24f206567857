// Package lock keeps a second agent process off the same config and state
// directory: two agents would race on config migration, the outbox and
// self-update, and sign requests with one identity from two places.
//
// The lock is an operating-system file lock on <stateDir>/agent.lock
// (flock on Unix, LockFileEx on Windows), not the mere existence of a pid
// file: the kernel drops it when the holder exits or crashes, so a stale
// file never blocks a restart. The holder writes its pid into the file
// so the refusal can say who holds it; that write is best effort (a full
// disk must not stop the agent), see Lock.PIDWarning.
package lock
