// Package selfupdate replaces the agent's own binary with a signed release
// and takes it back automatically when the new binary does not come up.
//
// The parts, in the order an update goes through them:
//
//   - Apply (in the daemon): downloads the release's manifest from the
//     gateway, verifies its Ed25519 signature with the release key pinned
//     on the host, checks platform and version (no downgrades), downloads
//     the binary next to the executable with a size cap and a deadline,
//     checks length and SHA-256, writes a pending-update record in the
//     state directory, keeps the running binary as <exe>.previous and
//     renames the new one over <exe>. It returns ErrRestart: the daemon
//     exits with RestartExitCode.
//   - Supervise (the parent process of `redflag-agent run`): sees that
//     exit code, starts the new binary and waits for it to Confirm. If it
//     exits first, or the deadline passes, the supervisor kills it, puts
//     <exe>.previous back and starts the old binary again. The decision
//     to revert lives here, outside the process being replaced: a new
//     binary that crashes, hangs or cannot reach the gateway cannot be
//     trusted to decide that it is broken.
//   - Confirm (in the new daemon, after its first successful check-in)
//     marks the record confirmed; the supervisor keeps the new binary and
//     re-executes itself so it runs the new code too.
//   - Outcome and Reported (in whichever daemon runs afterwards) turn the
//     record into the work result the rollout waits for (Succeeded or
//     RolledBack), reported once, even across restarts.
//
// The record (selfupdate.json in the state directory) is the only channel
// between these processes; every write of it is atomic, so each step
// survives a crash or power cut and is picked up where it stopped.
package selfupdate
