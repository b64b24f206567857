// Package selfupdate replaces the agent's own binary with a signed release
// and drops it automatically when the new binary does not come up.
//
// An update goes stage → trial → promote; the parts, in that order:
//
//   - Apply (in the daemon): downloads the release's manifest from the
//     gateway, verifies its Ed25519 signature with the release key pinned
//     on the host, checks platform and version (no downgrades), downloads
//     the binary next to the executable with a size cap and a deadline,
//     checks length and SHA-256, writes a pending-update record in the
//     state directory and renames the download to <exe>.next (staged).
//     <exe> itself is not touched. It returns ErrRestart: the daemon exits
//     with RestartExitCode.
//   - Supervise (the parent process of `redflag-agent run`): sees that
//     exit code and starts the staged <exe>.next on trial, telling it the
//     canonical <exe> (EnvExecutable, read by Executable). If it exits
//     before it confirms, or the deadline passes, the supervisor kills it,
//     deletes <exe>.next and starts <exe>, the old binary, again. The
//     decision to revert lives here, outside the process being replaced: a
//     new binary that crashes, hangs or cannot reach the gateway cannot be
//     trusted to decide that it is broken.
//   - Confirm (in the new daemon, after its first successful check-in)
//     marks the record confirmed; the supervisor then promotes the update:
//     it keeps <exe> as <exe>.previous (for an operator to go back to),
//     renames <exe>.next over <exe>, and re-executes itself so it runs the
//     new code too. A promotion that fails leaves the update Failed
//     (PromoteFailed) and the old binary running.
//   - Outcome and Reported (in whichever daemon runs afterwards) turn the
//     record into the work result the rollout waits for (Succeeded once
//     confirmed and promoted, RolledBack, or Failed), reported once, even
//     across restarts.
//
// Why stage instead of swapping before the trial: if the whole agent
// (supervisor and daemon) is killed mid-trial by a power cut, `systemctl
// kill` or the OOM killer, the service manager starts <exe> again. Staged,
// that is still the old binary, whose supervisor resumes the trial (or
// rolls it back) from the record; swapped, it would be the unproven new
// binary as supervisor too, and one that crashes at start would loop with
// nothing left to roll it back.
//
// The record (selfupdate.json in the state directory) is the only channel
// between these processes; every write of it is atomic, and a supervisor
// that starts checks the files against it by hash (is the new binary still
// staged, or already at <exe>?), so each step survives a crash or power
// cut and is picked up where it stopped. A daemon run without a supervisor
// (Options.InPlace) swaps the new binary in at once instead, since nothing
// would start a staged one, and nothing rolls it back.
package selfupdate
