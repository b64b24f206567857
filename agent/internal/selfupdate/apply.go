package selfupdate

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redflag-io/redflag/internal/protocol"
	"github.com/redflag-io/redflag/internal/release"
)

// appliedHere is set once Apply has written a Pending record in this
// process: until the process exits, the record describes an update in
// flight, not one the previous process left behind (see Outcome).
var appliedHere atomic.Bool

// Apply installs the release work asks for. It returns:
//
//   - (Result{AlreadyCurrent}, nil) when the running binary is that version;
//   - (Result{Staged}, ErrRestart) when the new binary is staged at
//     NextPath(Executable), the executable itself untouched: the daemon
//     must exit with RestartExitCode (the supervisor then tries the staged
//     binary and promotes it only once it confirms). With o.InPlace it is
//     swapped over the executable instead;
//   - a *Refusal (see ReasonOf) when it declined or failed before staging:
//     the running binary is untouched and the reason is to be reported;
//   - (Result{Previous}, ErrAlreadyHandled) when this work ID already ran
//     (on the staged binary itself, once the supervisor has decided);
//   - an error wrapping ctx's error when ctx ended first (not a failure:
//     the work may run again when it is offered again).
func Apply(ctx context.Context, o Options, work protocol.WorkRequest) (Result, error) {
	o = o.withDefaults()
	if o.Executable == "" || o.StateDir == "" {
		return Result{}, errors.New("self-update: Options.Executable and Options.StateDir are required")
	}
	ref := work.AgentVersion
	if ref == nil {
		return Result{}, refuse(ReasonNotSelfUpdate, "work %s names no agent version", work.ID)
	}
	if len(o.ReleaseKey) != ed25519.PublicKeySize {
		return Result{}, refuse(ReasonNoReleaseKey, "no release public key is pinned on this host (releasePublicKey in the agent config): an unverifiable binary is never installed")
	}
	if res, stop, err := checkRecord(ctx, o, work); stop {
		return res, err
	}
	// No update is in flight, so a staged binary is one a crash or an
	// unreported failure left behind; the staging rename would replace it
	// anyway, but a refusal below must not leave it lying there.
	_ = removeStaged(o.Executable)
	target, err := release.CanonicalVersion(ref.Version)
	if err != nil {
		return Result{}, refuse(ReasonInvalidRelease, "work asks for version %q: %w", ref.Version, err)
	}
	res := Result{FromVersion: o.RunningVersion, ToVersion: target}
	switch c := release.CompareVersions(target, o.RunningVersion); {
	case c == 0:
		res.AlreadyCurrent = true
		return res, nil
	case c < 0:
		return Result{}, refuse(ReasonDowngrade, "%s is older than the running %s; downgrades are refused", target, o.RunningVersion)
	}
	manifestPath, binaryPath, err := releasePaths(ref, target, o)
	if err != nil {
		return Result{}, err
	}

	// One deadline covers both downloads, whatever the client's own timeout.
	dctx, cancel := context.WithTimeoutCause(ctx, o.DownloadTimeout, errDeadline)
	defer cancel()
	m, err := fetchManifest(dctx, o, manifestPath)
	if err != nil {
		return Result{}, err
	}
	if err := checkManifest(m, target, o); err != nil {
		return Result{}, err
	}
	tmp, err := fetchBinary(dctx, o, binaryPath, m)
	if err != nil {
		return Result{}, err
	}
	defer func() { _ = os.Remove(tmp) }() // a no-op once it is renamed

	rec := &Record{
		WorkID: work.ID, AgentUpdate: work.AgentUpdate, FromVersion: o.RunningVersion, ToVersion: m.Version,
		Executable: o.Executable, SHA256: m.SHA256, Started: o.Now().UTC(), State: StatePending,
		ConfirmWithin: protocol.Duration{Duration: o.ConfirmWithin}, Deadline: o.Now().Add(o.ConfirmWithin).UTC(),
		Promoted: o.InPlace,
	}
	// The record goes first: whatever happens after staging, the next
	// process (supervisor or daemon) knows what the staged file is.
	if err := writeRecord(o.StateDir, rec); err != nil {
		return Result{}, refuse(ReasonSwapFailed, "%w", err)
	}
	appliedHere.Store(true)
	if err := install(o, tmp); err != nil {
		appliedHere.Store(false)
		if rmErr := os.Remove(filepath.Join(o.StateDir, RecordFile)); rmErr != nil {
			err = errors.Join(err, rmErr)
		}
		return Result{}, refuse(ReasonSwapFailed, "%w", err)
	}
	res.Staged = true
	return res, ErrRestart
}

// install puts the verified download where the next start picks it up:
// at NextPath for the supervisor to try, leaving the executable alone, or
// (InPlace: no supervisor would start a staged binary) over the executable.
func install(o Options, download string) error {
	if o.InPlace {
		if err := swap(o.Executable, download, PreviousPath(o.Executable)); err != nil {
			return fmt.Errorf("replacing %s: %w", o.Executable, err)
		}
		return nil
	}
	return stage(download, NextPath(o.Executable))
}

// checkRecord looks at the record a previous update left; stop says Apply
// must return res and err now.
func checkRecord(ctx context.Context, o Options, work protocol.WorkRequest) (res Result, stop bool, err error) {
	rec, err := ReadRecord(o.StateDir)
	if err != nil {
		// A damaged record is replaced by this update's: refusing every
		// future update because of it would be worse.
		return Result{}, false, nil
	}
	switch {
	case rec == nil:
		return Result{}, false, nil
	case rec.WorkID == work.ID:
		if rec, err = awaitDecision(ctx, o, rec); err != nil {
			return Result{}, true, err
		}
		prev := outcomeOf(rec, o.RunningVersion)
		return Result{FromVersion: rec.FromVersion, ToVersion: rec.ToVersion, Previous: &prev}, true, ErrAlreadyHandled
	case !rec.finished():
		return Result{}, true, refuse(ReasonUpdateInProgress, "the update to %s (work %s) has not finished", rec.ToVersion, rec.WorkID)
	case !rec.Reported:
		// Overwriting it would lose an outcome the rollout waits for.
		return Result{}, true, refuse(ReasonUpdateInProgress, "the outcome of the update to %s (work %s) is not reported yet", rec.ToVersion, rec.WorkID)
	}
	return Result{}, false, nil
}

// decisionPoll is how often awaitDecision reads the record again.
const decisionPoll = 250 * time.Millisecond

// awaitDecision is for the staged binary on trial being offered its own
// update again (the gateway offers work until it hears an end): the work
// is settled only once the supervisor has promoted the binary or failed
// the update, so Succeeded is never reported while the executable's path
// still holds the old binary. A rollback stops this process, which ends
// ctx; the error then wraps ctx's, and the work is left to run again.
func awaitDecision(ctx context.Context, o Options, rec *Record) (*Record, error) {
	tick := time.NewTicker(decisionPoll)
	defer tick.Stop()
	for !o.InPlace && !rec.finished() && !rec.Promoted && release.CompareVersions(rec.ToVersion, o.RunningVersion) == 0 {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for the supervisor to keep %s: %w", rec.ToVersion, ctx.Err())
		case <-tick.C:
		}
		next, err := ReadRecord(o.StateDir)
		if err != nil {
			return nil, err
		}
		if next == nil || next.WorkID != rec.WorkID {
			return rec, nil // replaced by hand: nothing left to wait for
		}
		rec = next
	}
	return rec, nil
}

// releasePaths returns the gateway paths of the manifest and binary: the
// work's, or the standard ones for this platform.
func releasePaths(ref *protocol.ReleaseRef, version string, o Options) (string, string, error) {
	manifestPath, binaryPath := ref.ManifestPath, ref.BinaryPath
	if manifestPath == "" {
		manifestPath = protocol.ReleasePath(version, o.OS, o.Arch, protocol.ReleaseManifestFile)
	}
	if binaryPath == "" {
		binaryPath = protocol.ReleasePath(version, o.OS, o.Arch, protocol.ReleaseBinaryFile)
	}
	for _, p := range []string{manifestPath, binaryPath} {
		// Paths on the gateway only: never a URL to somewhere else.
		if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.Contains(p, "://") {
			return "", "", refuse(ReasonInvalidRelease, "release path %q is not a path on the gateway", p)
		}
	}
	return manifestPath, binaryPath, nil
}

// checkManifest compares a verified manifest with what was asked and what
// this host is.
func checkManifest(m release.Manifest, target string, o Options) error {
	if m.OS != o.OS || m.Arch != o.Arch {
		return refuse(ReasonWrongPlatform, "the release is for %s, this host is %s", release.Platform(m.OS, m.Arch), release.Platform(o.OS, o.Arch))
	}
	if m.Version != target {
		return refuse(ReasonVersionMismatch, "asked for %s, the signed manifest is for %s", target, m.Version)
	}
	if release.CompareVersions(m.Version, o.RunningVersion) <= 0 {
		return refuse(ReasonDowngrade, "%s is not newer than the running %s", m.Version, o.RunningVersion)
	}
	if m.Size > o.MaxSize {
		return refuse(ReasonTooLarge, "the binary is %d bytes, over the %d-byte cap", m.Size, o.MaxSize)
	}
	return nil
}
