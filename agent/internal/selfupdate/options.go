package selfupdate

import (
	"crypto/ed25519"
	"net/http"
	"runtime"
	"time"

	"github.com/redflag-io/redflag/internal/protocol"
)

// Defaults for Options.
const (
	// DefaultMaxSize caps a download: ten times the agent's size budget.
	DefaultMaxSize int64 = 200 << 20
	// DefaultDownloadTimeout bounds the manifest and binary downloads
	// together; a slow or stalled gateway cannot hold the daemon longer.
	DefaultDownloadTimeout = 10 * time.Minute
	// DefaultConfirmWithin is how long the new binary has to check in.
	DefaultConfirmWithin = 2 * time.Minute
)

// Options say how Apply fetches and installs a release.
type Options struct {
	// Client fetches from the gateway; it should trust only the pinned CA
	// (hostclient.New(...).HTTP). Its Timeout is ignored: DownloadTimeout
	// bounds the download instead, since a binary takes longer than a
	// check-in.
	Client *http.Client
	// BaseURL is the gateway's address (https://gw.example:9443); the
	// work's paths are resolved against it.
	BaseURL string
	// Prepare, when set, is applied to each request before it is sent (to
	// sign it, should the gateway want release downloads signed).
	Prepare func(*http.Request) error
	// ReleaseKey verifies release manifests; with none Apply refuses
	// (NoReleaseKey): an unverifiable binary is never installed.
	ReleaseKey ed25519.PublicKey
	// StateDir holds the pending-update record.
	StateDir string
	// Executable is the agent binary's canonical path, symlinks resolved
	// (see Executable(): a daemon on trial runs from NextPath but gets this
	// path from its supervisor). The new binary is staged beside it, at
	// NextPath, and only ever replaces it once it has confirmed.
	Executable string
	// InPlace makes Apply swap the new binary over Executable at once (the
	// old one kept as PreviousPath) instead of staging it: for a daemon that
	// runs without a supervisor (--no-supervisor), where nothing would start
	// a staged binary. Nothing rolls such an update back.
	InPlace bool
	// RunningVersion is this binary's version (internal/version.Version).
	RunningVersion string
	// OS and Arch are this host's platform (runtime.GOOS/GOARCH when empty).
	OS, Arch string
	// MaxSize caps the binary's size (DefaultMaxSize when 0).
	MaxSize int64
	// DownloadTimeout bounds the downloads (DefaultDownloadTimeout when 0).
	DownloadTimeout time.Duration
	// ConfirmWithin is how long the new binary has to Confirm after the
	// supervisor starts it (DefaultConfirmWithin when 0); it is written
	// into the record, which is where the supervisor reads it.
	ConfirmWithin time.Duration
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

func (o Options) withDefaults() Options {
	if o.OS == "" {
		o.OS = runtime.GOOS
	}
	if o.Arch == "" {
		o.Arch = runtime.GOARCH
	}
	if o.MaxSize <= 0 {
		o.MaxSize = DefaultMaxSize
	}
	if o.DownloadTimeout <= 0 {
		o.DownloadTimeout = DefaultDownloadTimeout
	}
	if o.ConfirmWithin <= 0 {
		o.ConfirmWithin = DefaultConfirmWithin
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Client == nil {
		o.Client = http.DefaultClient
	}
	return o
}

// Result is what Apply did when it did not refuse.
type Result struct {
	FromVersion, ToVersion string
	// AlreadyCurrent: the running binary is the target; nothing changed.
	AlreadyCurrent bool
	// Staged: the new binary is at NextPath (with InPlace, at the
	// executable's path); Apply also returns ErrRestart.
	Staged bool
	// Previous is the recorded outcome of this work, with ErrAlreadyHandled.
	Previous *protocol.WorkResult
}
