package selfupdate

import (
	"context"
	"errors"
	"fmt"
)

// RestartExitCode is the exit status with which the daemon asks its
// supervisor to try the binary Apply staged (EX_TEMPFAIL in sysexits.h:
// "try again"; without a supervisor it asks the service manager to start
// <exe> again, where Apply then swapped the new binary in).
const RestartExitCode = 75

// ErrRestart is returned by Apply when the new binary is staged (or, with
// Options.InPlace, swapped in): the daemon must stop and exit with
// RestartExitCode so it starts.
var ErrRestart = errors.New("the new agent binary is ready: exit with status 75 to start it")

// ErrAlreadyHandled is returned by Apply for work whose ID the pending-
// update record already holds: it ran (and was reported, or will be by
// Outcome). Redoing it could loop update and rollback forever.
var ErrAlreadyHandled = errors.New("this self-update already ran on this host")

// Reasons are the CamelCase causes reported in protocol.WorkResult.Reason.
const (
	// Refusals by Apply (the running binary is untouched).
	ReasonNotSelfUpdate    = "NotSelfUpdate"    // the work names no agent version
	ReasonNoReleaseKey     = "NoReleaseKey"     // no release key pinned in the config
	ReasonInvalidRelease   = "InvalidRelease"   // bad version or gateway path in the work
	ReasonDowngrade        = "Downgrade"        // target older than the running version
	ReasonReleaseNotFound  = "ReleaseNotFound"  // the gateway has no such release (404)
	ReasonDownloadFailed   = "DownloadFailed"   // network or HTTP error
	ReasonDownloadTimeout  = "DownloadTimeout"  // the download deadline passed
	ReasonSignatureMissing = "SignatureMissing" // the manifest is not signed
	ReasonSignatureInvalid = "SignatureInvalid" // signed by another key, or changed after signing
	ReasonManifestInvalid  = "ManifestInvalid"  // signed, but not a valid manifest
	ReasonWrongPlatform    = "WrongPlatform"    // the manifest is for another OS or architecture
	ReasonVersionMismatch  = "VersionMismatch"  // the manifest is for another version than asked
	ReasonTooLarge         = "TooLarge"         // bigger than the manifest says, or than the cap
	ReasonTruncated        = "Truncated"        // the download ended early
	ReasonChecksumMismatch = "ChecksumMismatch" // the bytes do not match the manifest's SHA-256
	ReasonUpdateInProgress = "UpdateInProgress" // another update is still waiting for its outcome
	ReasonSwapFailed       = "SwapFailed"       // the file system refused to stage (or swap in) the binary
	ReasonInterrupted      = "Interrupted"      // the agent was stopped mid-way (not a failure)
	ReasonFailed           = "SelfUpdateFailed" // any other error (not from Apply)

	// Outcomes decided after staging (reported through Outcome).
	ReasonNoCheckIn         = "NoCheckIn"         // the new binary did not confirm in time
	ReasonCrashedAtStart    = "CrashedAtStart"    // the new binary exited before confirming
	ReasonTrialInterrupted  = "TrialInterrupted"  // the trial was cut short too often (restarts, reboots), or its staged binary vanished
	ReasonPromoteFailed     = "PromoteFailed"     // the new binary confirmed but could not be put at <exe>; the old one stays
	ReasonNotApplied        = "NotApplied"        // the agent came back as the old version without a rollback
	ReasonUnexpectedVersion = "UnexpectedVersion" // the agent came back as neither version
)

// Refusal is Apply's error when it declines or fails an update before
// staging: the running binary is unchanged. Reason is what the daemon reports.
type Refusal struct {
	Reason string
	Err    error
}

func (r *Refusal) Error() string { return fmt.Sprintf("self-update refused (%s): %v", r.Reason, r.Err) }
func (r *Refusal) Unwrap() error { return r.Err }

func refuse(reason, format string, args ...any) *Refusal {
	return &Refusal{Reason: reason, Err: fmt.Errorf(format, args...)}
}

// ReasonOf returns the reason to report for an error: the Refusal's
// reason, Interrupted for a cancelled context, and SelfUpdateFailed for
// anything else (an error the daemon met before calling Apply).
func ReasonOf(err error) string {
	var r *Refusal
	switch {
	case err == nil:
		return ""
	case errors.As(err, &r):
		return r.Reason
	case errors.Is(err, context.Canceled):
		return ReasonInterrupted
	default:
		return ReasonFailed
	}
}

// ExitError is Supervise's error when the daemon exited with a status
// that asks for no restart (1: it refused to start, for example because
// the host is not enrolled or another agent holds the state directory).
// The daemon has already said why on stderr; the caller exits with Code.
type ExitError struct{ Code int }

func (e *ExitError) Error() string {
	return fmt.Sprintf("the agent daemon exited with status %d", e.Code)
}
