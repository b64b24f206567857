package docker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"runtime"
	"strings"
)

// defaultUnixHost is the engine's socket when DOCKER_HOST is unset.
const defaultUnixHost = "unix:///var/run/docker.sock"

// ErrUnsupportedHost is wrapped when DOCKER_HOST names a transport this
// scanner does not speak (ssh://, npipe://, TLS-protected tcp://).
var ErrUnsupportedHost = errors.New("unsupported docker host")

// engineAddr is where the engine API listens.
type engineAddr struct {
	network string // "unix" or "tcp"
	address string // socket path or host:port
}

// resolveHost picks the engine address: host when set, else DOCKER_HOST,
// else the platform default.
func resolveHost(host string) (engineAddr, error) {
	if host == "" {
		host = os.Getenv("DOCKER_HOST")
	}
	if host == "" {
		if runtime.GOOS == "windows" {
			// Docker Desktop listens on a named pipe, which the
			// standard library cannot dial.
			return engineAddr{}, fmt.Errorf("%w: the Windows named pipe (set DOCKER_HOST=tcp://...)", ErrUnsupportedHost)
		}
		host = defaultUnixHost
	}
	if path, ok := strings.CutPrefix(host, "unix://"); ok {
		// Taken verbatim, as the engine's own client does.
		if path == "" {
			return engineAddr{}, fmt.Errorf("%w %q: no socket path", ErrUnsupportedHost, host)
		}
		return engineAddr{network: "unix", address: path}, nil
	}
	u, err := url.Parse(host)
	if err != nil {
		return engineAddr{}, fmt.Errorf("%w %q: %w", ErrUnsupportedHost, host, err)
	}
	switch u.Scheme {
	case "tcp", "http":
		// The engine serves TLS on tcp:// only with DOCKER_TLS_VERIFY;
		// sending the API in clear to such a daemon would just fail.
		if os.Getenv("DOCKER_TLS_VERIFY") != "" {
			return engineAddr{}, fmt.Errorf("%w %q: TLS client certificates are not supported", ErrUnsupportedHost, host)
		}
		if u.Host == "" || strings.Trim(u.Path, "/") != "" {
			return engineAddr{}, fmt.Errorf("%w %q: want tcp://host:port", ErrUnsupportedHost, host)
		}
		return engineAddr{network: "tcp", address: u.Host}, nil
	default:
		return engineAddr{}, fmt.Errorf("%w %q: scheme %q", ErrUnsupportedHost, host, u.Scheme)
	}
}

// present reports whether an engine could be there at all: for a socket,
// whether the file exists. A tcp host is assumed present; a failed
// connection is then a real error, not an absent engine.
func (a engineAddr) present() (bool, error) {
	if a.network != "unix" {
		return true, nil
	}
	_, err := os.Stat(a.address)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, os.ErrNotExist):
		return false, nil
	default:
		return false, fmt.Errorf("docker socket %s: %w", a.address, err)
	}
}

func (a engineAddr) dial(ctx context.Context, _, _ string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, a.network, a.address)
}

func (a engineAddr) String() string { return a.network + "://" + a.address }
