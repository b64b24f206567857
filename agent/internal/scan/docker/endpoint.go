package docker

import (
	"context"
	"net"
)

// Endpoint is where an engine API listens, resolved from a DOCKER_HOST
// value exactly as the scanner resolves it, so that the installer acts on
// the engine the scanner read (see agent/internal/install/docker).
type Endpoint struct {
	addr engineAddr
}

// ResolveEndpoint resolves host, a DOCKER_HOST value; empty means
// $DOCKER_HOST, else the platform default. It returns an error wrapping
// ErrUnsupportedHost for a transport the agent does not speak.
func ResolveEndpoint(host string) (Endpoint, error) {
	a, err := resolveHost(host)
	if err != nil {
		return Endpoint{}, err
	}
	return Endpoint{addr: a}, nil
}

// Dial connects to the engine; it has the signature of
// http.Transport.DialContext and ignores the address it is given.
func (e Endpoint) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	return e.addr.dial(ctx, network, addr)
}

// Present reports whether an engine could be there at all: for a unix
// socket, whether the file exists; a tcp endpoint is assumed present.
func (e Endpoint) Present() (bool, error) { return e.addr.present() }

func (e Endpoint) String() string { return e.addr.String() }
