package docker

import (
	"fmt"
	"io"
	"net/http"
)

// maxRegistryBody bounds every registry answer (manifests, tokens,
// errors); real ones are a few kilobytes.
const maxRegistryBody = 4 << 20

// guard is the transport under go-containerregistry. It keeps the
// engine's rules, which go-containerregistry's are looser than (it tries
// plain HTTP for any private address): clear text only to the engine's
// insecure registries and loopback, certificates checked everywhere
// else, and every body bounded.
type guard struct {
	policy           insecurePolicy
	secure, insecure *http.Transport
}

// RoundTrip implements http.RoundTripper.
func (g *guard) RoundTrip(req *http.Request) (*http.Response, error) {
	allowed := g.policy.allowHTTP(req.URL.Host)
	if req.URL.Scheme != "https" && !allowed {
		// A token realm in clear text is refused here too, before a
		// login could be sent to it.
		return nil, fmt.Errorf("refusing %s: %w, and %s is not an insecure registry of the engine", req.URL.Redacted(), errRefused, req.URL.Host)
	}
	t := g.secure
	if allowed {
		t = g.insecure
	}
	resp, err := t.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	resp.Body = &cappedBody{ReadCloser: resp.Body, left: maxRegistryBody}
	return resp, nil
}

// cappedBody fails a read once more than its bound has been read, so a
// hostile registry cannot make the agent hold an unbounded answer.
type cappedBody struct {
	io.ReadCloser
	left int64
}

func (b *cappedBody) Read(p []byte) (int, error) {
	if b.left < 0 {
		return 0, fmt.Errorf("%w (over %d bytes)", ErrTooLarge, maxRegistryBody)
	}
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.ReadCloser.Read(p)
	b.left -= int64(n)
	if b.left < 0 {
		return 0, fmt.Errorf("%w (over %d bytes)", ErrTooLarge, maxRegistryBody)
	}
	return n, err
}
