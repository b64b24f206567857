package docker

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"
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
)

// RegistryConfig configures a Registry client.
type RegistryConfig struct {
	// Credentials are the logins to use; nil means anonymous everywhere.
	Credentials Credentials
	// Engine is the engine's configuration; its insecure registries may
	// be reached over plain HTTP (loopback always may).
	Engine Info
	// Timeout bounds each exchange; 0 means 20s.
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

// Registry asks registries for the digest a tag points to. It caches, for
// its lifetime, the scheme each host answered on and the authorization
// each repository needed; make one per scan.
type Registry struct {
	creds    Credentials
	policy   insecurePolicy
	secure   *http.Client
	insecure *http.Client

	mu      sync.Mutex
	schemes map[string]string // host -> "https" or "http"
	auth    map[string]string // host/repository -> Authorization value
}

// NewRegistry returns a client configured by cfg.
func NewRegistry(cfg RegistryConfig) *Registry {
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	secureTLS := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.TLS != nil {
		secureTLS = cfg.TLS.Clone()
	}
	// The engine skips certificate checks for its insecure registries;
	// this client is only used for hosts allowHTTP accepts.
	insecureTLS := &tls.Config{InsecureSkipVerify: true} //nolint:gosec // mirrors the engine's insecure-registry behaviour
	return &Registry{
		creds:    cfg.Credentials,
		policy:   newInsecurePolicy(cfg.Engine),
		secure:   newHTTPClient(cfg, secureTLS, timeout),
		insecure: newHTTPClient(cfg, insecureTLS, timeout),
		schemes:  map[string]string{},
		auth:     map[string]string{},
	}
}

func newHTTPClient(cfg RegistryConfig, tlsCfg *tls.Config, timeout time.Duration) *http.Client {
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
	return &http.Client{Transport: tr, Timeout: timeout}
}

// Close releases idle connections.
func (r *Registry) Close() {
	r.secure.CloseIdleConnections()
	r.insecure.CloseIdleConnections()
}

// clientFor picks the TLS settings for a URL on host with scheme.
func (r *Registry) clientFor(scheme, host string) *http.Client {
	if scheme == "https" && r.policy.allowHTTP(host) {
		return r.insecure
	}
	return r.secure
}

// schemesFor lists the schemes to try for host: HTTPS, then plain HTTP
// only where the policy allows it, or the one that worked before.
func (r *Registry) schemesFor(host string) []string {
	r.mu.Lock()
	known := r.schemes[host]
	r.mu.Unlock()
	switch {
	case known != "":
		return []string{known}
	case r.policy.allowHTTP(host):
		return []string{"https", "http"}
	default:
		return []string{"https"}
	}
}

// send makes one request to host, falling back from HTTPS to HTTP where
// allowed when HTTPS cannot be spoken at all.
func (r *Registry) send(ctx context.Context, method, host, path, authorization string, accept []string) (*http.Response, error) {
	schemes := r.schemesFor(host)
	var errs []error
	for _, scheme := range schemes {
		req, err := http.NewRequestWithContext(ctx, method, scheme+"://"+host+path, nil)
		if err != nil {
			return nil, fmt.Errorf("registry %s: %w", host, err)
		}
		for _, a := range accept {
			req.Header.Add("Accept", a)
		}
		req.Header.Set("User-Agent", userAgent)
		if authorization != "" {
			req.Header.Set("Authorization", authorization)
		}
		resp, err := r.clientFor(scheme, host).Do(req)
		if err == nil {
			r.mu.Lock()
			r.schemes[host] = scheme
			r.mu.Unlock()
			return resp, nil
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("registry %s: %w", host, context.Cause(ctx))
		}
		errs = append(errs, err)
	}
	return nil, fmt.Errorf("%w: %s: %w", ErrUnreachable, host, errors.Join(errs...))
}
