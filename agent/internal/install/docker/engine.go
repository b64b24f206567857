package docker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/redflag-io/redflag/agent/internal/scan"
	scandocker "github.com/redflag-io/redflag/agent/internal/scan/docker"
)

// Body bounds: engine answers grow with containers and images; a pull's
// progress stream with layers.
const (
	maxEngineBody = 32 << 20
	maxErrorBody  = 4 << 10
	maxPullStream = 64 << 20
)

var (
	// errNotFound is wrapped when the engine answers 404.
	errNotFound = errors.New("no such object in docker engine")
	// errNotModified is wrapped when the engine answers 304: a start of
	// a running container, a stop of a stopped one.
	errNotModified = errors.New("not modified")
)

// engine is the small Engine API client the installer needs: JSON calls
// bounded by a per-call timeout, and a pull bounded only by the caller.
type engine struct {
	ep      scandocker.Endpoint
	client  *http.Client
	timeout time.Duration
}

func newEngine(ep scandocker.Endpoint, timeout time.Duration) *engine {
	tr := &http.Transport{DialContext: ep.Dial, MaxIdleConns: 2, IdleConnTimeout: 30 * time.Second}
	// No Client.Timeout: a pull takes as long as the image is large.
	return &engine{ep: ep, client: &http.Client{Transport: tr}, timeout: timeout}
}

func (e *engine) close() { e.client.CloseIdleConnections() }

// call sends one request with an optional JSON body and decodes a JSON
// answer into out (when not nil). It waits at most e.timeout plus extra.
func (e *engine) call(ctx context.Context, method, path string, query url.Values, body, out any, extra time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, e.timeout+extra)
	defer cancel()
	resp, err := e.send(ctx, method, path, query, body, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
		return nil
	}
	b, err := readCapped(resp.Body, maxEngineBody)
	if err != nil {
		return fmt.Errorf("docker engine: %s %s: %w", method, path, err)
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("docker engine: %s %s: decoding: %w", method, path, err)
	}
	return nil
}

// send performs the request and turns a non-2xx status into an error
// carrying the engine's message. The caller closes the body.
func (e *engine) send(ctx context.Context, method, path string, query url.Values, body any, header http.Header) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("docker engine: %s %s: encoding: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	u := "http://docker" + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, fmt.Errorf("docker engine: %s %s: %w", method, path, err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("docker engine at %s: %s %s: %w", e.ep, method, path, err)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp, nil
	}
	defer resp.Body.Close()
	err = fmt.Errorf("docker engine: %s %s: %s: %s", method, shortIDs(path), resp.Status, engineMessage(resp.Body))
	switch resp.StatusCode {
	case http.StatusNotFound:
		return nil, fmt.Errorf("%w: %w", errNotFound, err)
	case http.StatusNotModified:
		return nil, fmt.Errorf("%w: %w", errNotModified, err)
	}
	return nil, err
}

// shortIDs shortens the 64-digit IDs in an API path to the 12 digits
// docker prints, for messages that must fit a status line.
func shortIDs(path string) string {
	parts := strings.Split(path, "/")
	for i, p := range parts {
		if len(p) == 64 && strings.Trim(p, "0123456789abcdef") == "" {
			parts[i] = p[:12]
		}
	}
	return strings.Join(parts, "/")
}

// readCapped reads all of r, failing past limit bytes.
func readCapped(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading body: %w", err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("body over %d bytes", limit)
	}
	return b, nil
}

// engineMessage extracts the engine's {"message": ...} error text.
func engineMessage(r io.Reader) string {
	b, _ := readCapped(r, maxErrorBody) // best effort: it only decorates an error
	var m struct{ Message string }
	if json.Unmarshal(b, &m) == nil && m.Message != "" {
		return scan.Clean(m.Message, 300)
	}
	return scan.Clean(string(b), 300)
}
