package docker

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// defaultTimeout bounds one HTTP exchange, body included, with the
// engine or a registry.
const defaultTimeout = 20 * time.Second

// userAgent identifies the scanner to registries.
const userAgent = "redflag-agent"

var (
	// ErrUnreachable is wrapped when a registry could not be reached at
	// all (DNS, connection, TLS): the scan then skips that registry's
	// other images instead of waiting for each to time out.
	ErrUnreachable = errors.New("registry unreachable")
	// ErrUnauthorized is wrapped when the registry refuses access even
	// after the authentication its challenge asked for.
	ErrUnauthorized = errors.New("registry denied access")
	// ErrManifestUnknown is wrapped when the registry has no manifest
	// for the tag.
	ErrManifestUnknown = errors.New("tag not found in registry")
	// errRefused is wrapped when a request would have gone in clear
	// text to a host the engine itself would only speak TLS to.
	errRefused = errors.New("not HTTPS")
)

// RegistryConfig configures a Registry client.
type RegistryConfig struct {
	// Keychain gives the login for a registry; nil means anonymous
	// everywhere. LoadKeychain reads the docker CLI's.
	Keychain authn.Keychain
	// Engine is the engine's configuration; its insecure registries may
	// be reached over plain HTTP (loopback always may).
	Engine Info
	// Timeout bounds each digest lookup; 0 means 20s.
	Timeout time.Duration
	// TLS, when set, replaces the default TLS settings for registries
	// reached securely (tests pin a root CA with it).
	TLS *tls.Config
	// DialContext, when set, replaces the dialer (tests route names to a
	// local server with it). Proxies from the environment still apply.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// Proxy, when set, replaces the proxies from the environment
	// (HTTPS_PROXY, NO_PROXY); tests use it to go direct.
	Proxy func(*http.Request) (*url.URL, error)
}

// Registry asks registries for the digest a tag points to, through
// go-containerregistry. Its puller keeps, for its lifetime, each
// repository's scheme and token; make one per scan.
type Registry struct {
	policy  insecurePolicy
	timeout time.Duration
	guard   *guard
	puller  *remote.Puller
}

// NewRegistry returns a client configured by cfg.
func NewRegistry(cfg RegistryConfig) (*Registry, error) {
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	secureTLS := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.TLS != nil {
		secureTLS = cfg.TLS.Clone()
	}
	// The engine skips certificate checks for its insecure registries;
	// this transport is only used for hosts allowHTTP accepts.
	insecureTLS := &tls.Config{InsecureSkipVerify: true} //nolint:gosec // mirrors the engine's insecure-registry behaviour
	policy := newInsecurePolicy(cfg.Engine)
	g := &guard{policy: policy, secure: newTransport(cfg, secureTLS, timeout), insecure: newTransport(cfg, insecureTLS, timeout)}
	kc := cfg.Keychain
	if kc == nil {
		kc = authn.NewMultiKeychain() // resolves to anonymous
	}
	p, err := remote.NewPuller(
		remote.WithTransport(g),
		remote.WithAuthFromKeychain(kc),
		remote.WithUserAgent(userAgent),
		// No retries: the next scheduled scan is the retry, and one
		// flaky registry must not hold the others up.
		remote.WithRetryPredicate(func(error) bool { return false }),
		remote.WithRetryStatusCodes(),
	)
	if err != nil {
		return nil, fmt.Errorf("registry client: %w", err)
	}
	return &Registry{policy: policy, timeout: timeout, guard: g, puller: p}, nil
}

func newTransport(cfg RegistryConfig, tlsCfg *tls.Config, timeout time.Duration) *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tlsCfg
	tr.ResponseHeaderTimeout = timeout
	tr.MaxIdleConnsPerHost = 2
	if cfg.DialContext != nil {
		tr.DialContext = cfg.DialContext
	}
	if cfg.Proxy != nil {
		tr.Proxy = cfg.Proxy
	}
	return tr
}

// Close releases idle connections.
func (r *Registry) Close() {
	r.guard.secure.CloseIdleConnections()
	r.guard.insecure.CloseIdleConnections()
}

// Digest returns the digest of the manifest ref's tag points to now. It
// asks with HEAD, which Docker Hub does not count against pull limits,
// and falls back to GET (hashing the body when no Docker-Content-Digest
// is sent) for registries whose HEAD gives no digest.
func (r *Registry) Digest(ctx context.Context, ref Reference) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	var opts []name.Option
	if r.policy.allowHTTP(ref.APIHost()) {
		// Lets go-containerregistry fall back to plain HTTP; the guard
		// still refuses it for any other host (a token realm, say).
		opts = append(opts, name.Insecure)
	}
	nref, err := name.ParseReference(ref.String(), opts...)
	if err != nil {
		return "", fmt.Errorf("%w %q: %w", ErrInvalidReference, ref.String(), err)
	}
	desc, err := r.puller.Head(ctx, nref)
	if err == nil {
		return desc.Digest.String(), nil
	}
	if !headUnsupported(err) {
		return "", explain(ref, err)
	}
	got, err := r.puller.Get(ctx, nref)
	if err != nil {
		return "", explain(ref, err)
	}
	return got.Digest.String(), nil
}

// headUnsupported reports whether a HEAD failed in a way a GET may not:
// the registry answered, but not with a usable digest.
func headUnsupported(err error) bool {
	var terr *transport.Error
	if errors.As(err, &terr) {
		return terr.StatusCode == http.StatusMethodNotAllowed || terr.StatusCode == http.StatusBadRequest
	}
	var uerr *url.Error
	return !errors.As(err, &uerr) && !errors.Is(err, ErrTooLarge)
}

// explain maps a go-containerregistry error onto the errors callers
// match: the registry's HTTP status, or unreachable for a failure to
// connect at all.
func explain(ref Reference, err error) error {
	what := fmt.Sprintf("registry %s: manifest %s", ref.APIHost(), ref.Familiar())
	var terr *transport.Error
	var uerr *url.Error
	switch {
	case errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound:
		return fmt.Errorf("%w: %s: %w", ErrManifestUnknown, what, err)
	case errors.As(err, &terr) && (terr.StatusCode == http.StatusUnauthorized || terr.StatusCode == http.StatusForbidden):
		return fmt.Errorf("%w: %s: %w", ErrUnauthorized, what, err)
	case errors.As(err, &terr) && terr.StatusCode == http.StatusTooManyRequests:
		return fmt.Errorf("%s (rate limited): %w", what, err)
	case errors.Is(err, errRefused), errors.Is(err, ErrTooLarge), errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return fmt.Errorf("%s: %w", what, err)
	case errors.As(err, &uerr):
		return fmt.Errorf("%w: %s: %w", ErrUnreachable, ref.APIHost(), err)
	default:
		return fmt.Errorf("%s: %w", what, err)
	}
}
