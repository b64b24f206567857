package selfupdate

import (
	"context"
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"

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
//   - (Result{Swapped}, ErrRestart) when the new binary is in place: the
//     daemon must exit with RestartExitCode (the supervisor then starts it
//     and decides whether it stays);
//   - a *Refusal (see ReasonOf) when it declined or failed before the swap:
//     the running binary is untouched and the reason is to be reported;
//   - (Result{Previous}, ErrAlreadyHandled) when this work ID already ran;
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
	if res, stop, err := checkRecord(o, work); stop {
		return res, err
	}
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
	}
	// The record goes first: whatever happens after the swap, the next
	// process (supervisor or daemon) knows what was swapped for what.
	if err := writeRecord(o.StateDir, rec); err != nil {
		return Result{}, refuse(ReasonSwapFailed, "%w", err)
	}
	appliedHere.Store(true)
	if err := swap(o.Executable, tmp, PreviousPath(o.Executable)); err != nil {
		appliedHere.Store(false)
		if rmErr := os.Remove(filepath.Join(o.StateDir, RecordFile)); rmErr != nil {
			err = errors.Join(err, rmErr)
		}
		return Result{}, refuse(ReasonSwapFailed, "replacing %s: %w", o.Executable, err)
	}
	res.Swapped = true
	return res, ErrRestart
}

// checkRecord looks at the record a previous update left; stop says Apply
// must return res and err now.
func checkRecord(o Options, work protocol.WorkRequest) (res Result, stop bool, err error) {
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
		prev := outcomeOf(rec, o.RunningVersion)
		return Result{FromVersion: rec.FromVersion, ToVersion: rec.ToVersion, Previous: &prev}, true, ErrAlreadyHandled
	case !rec.State.finished():
		return Result{}, true, refuse(ReasonUpdateInProgress, "the update to %s (work %s) has not finished", rec.ToVersion, rec.WorkID)
	case !rec.Reported:
		// Overwriting it would lose an outcome the rollout waits for.
		return Result{}, true, refuse(ReasonUpdateInProgress, "the outcome of the update to %s (work %s) is not reported yet", rec.ToVersion, rec.WorkID)
	}
	return Result{}, false, nil
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
