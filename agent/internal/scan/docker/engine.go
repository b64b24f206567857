package docker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/redflag-io/redflag/agent/internal/scan"
)

// ErrEngineNotFound is wrapped when the engine answers 404 for an object
// (an image removed between listing and inspecting it).
var ErrEngineNotFound = errors.New("no such object in docker engine")

// Engine is a minimal client of the Docker engine API: the few read-only
// calls the scanner needs. The unversioned paths are used, so any engine
// since API 1.24 answers with fields the scanner reads.
type Engine struct {
	addr    engineAddr
	client  *http.Client
	timeout time.Duration
}

// NewEngine returns a client for host, a DOCKER_HOST value; empty means
// $DOCKER_HOST or the platform default. timeout bounds every request.
func NewEngine(host string, timeout time.Duration) (*Engine, error) {
	addr, err := resolveHost(host)
	if err != nil {
		return nil, err
	}
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	tr := &http.Transport{
		DialContext:         addr.dial,
		MaxIdleConns:        2,
		IdleConnTimeout:     30 * time.Second,
		TLSHandshakeTimeout: timeout,
	}
	return &Engine{addr: addr, client: &http.Client{Transport: tr, Timeout: timeout}, timeout: timeout}, nil
}

// Close releases idle connections.
func (e *Engine) Close() { e.client.CloseIdleConnections() }

// Container is the part of a /containers/json entry the scanner reads.
type Container struct {
	ID string `json:"Id"`
	// Image is the reference the container was created from, or the image
	// ID when that reference now names another image.
	Image   string
	ImageID string
	// Names are the container's names, each with a leading slash.
	Names []string
	State string
	// Created is in seconds since 1970.
	Created int64
}

// ContainerDetail is the part of /containers/{id}/json the scanner reads.
type ContainerDetail struct {
	Config struct {
		// Image is the reference exactly as the container was created
		// with, kept even after its tag moved to a newer image.
		Image string
	}
	RestartCount int
	State        struct {
		Health *struct{ Status string }
	}
}

// Image is the part of /images/{id}/json (and /images/json entries) the
// scanner reads.
type Image struct {
	ID          string `json:"Id"`
	RepoTags    []string
	RepoDigests []string
}

// ImageSummary is an /images/json entry: an Image with its size in bytes
// and its creation time in seconds since 1970 (inspecting gives the time
// as text instead).
type ImageSummary struct {
	Image
	Size    int64
	Created int64
}

// Info is the part of /info the scanner reads.
type Info struct {
	RegistryConfig struct {
		InsecureRegistryCIDRs []string
		IndexConfigs          map[string]struct {
			Name   string
			Secure bool
		}
	}
}

// Containers lists the running containers.
func (e *Engine) Containers(ctx context.Context) ([]Container, error) {
	var out []Container
	return out, e.get(ctx, "/containers/json", &out)
}

// AllContainers lists every container, stopped ones included.
func (e *Engine) AllContainers(ctx context.Context) ([]Container, error) {
	var out []Container
	return out, e.get(ctx, "/containers/json?all=1", &out)
}

// Container inspects one container.
func (e *Engine) Container(ctx context.Context, id string) (ContainerDetail, error) {
	var out ContainerDetail
	return out, e.get(ctx, "/containers/"+url.PathEscape(id)+"/json", &out)
}

// Images lists the local images (top-level only).
func (e *Engine) Images(ctx context.Context) ([]ImageSummary, error) {
	var out []ImageSummary
	return out, e.get(ctx, "/images/json", &out)
}

// Image inspects one image by ID or reference.
func (e *Engine) Image(ctx context.Context, id string) (Image, error) {
	var out Image
	return out, e.get(ctx, "/images/"+url.PathEscape(id)+"/json", &out)
}

// Info returns the engine's registry configuration.
func (e *Engine) Info(ctx context.Context) (Info, error) {
	var out Info
	return out, e.get(ctx, "/info", &out)
}

// get fetches path and decodes its JSON body into v.
func (e *Engine) get(ctx context.Context, path string, v any) error {
	ctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	// The host part is ignored by the dialer; "docker" is what the
	// engine's own client sends.
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://docker"+path, nil)
	if err != nil {
		return fmt.Errorf("docker engine %s: %w", path, err)
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return fmt.Errorf("docker engine at %s: GET %s: %w", e.addr, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		err := fmt.Errorf("docker engine: GET %s: %s: %s", path, resp.Status, engineMessage(resp))
		if resp.StatusCode == http.StatusNotFound {
			return fmt.Errorf("%w: %w", ErrEngineNotFound, err)
		}
		return err
	}
	b, err := readCapped(resp.Body, maxEngineBody)
	if err != nil {
		return fmt.Errorf("docker engine: GET %s: %w", path, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("docker engine: GET %s: decoding: %w", path, err)
	}
	return nil
}

// engineMessage extracts the engine's {"message": ...} error text.
func engineMessage(resp *http.Response) string {
	b, _ := readCapped(resp.Body, maxErrorBody) // best effort: it only decorates an error
	var m struct{ Message string }
	if json.Unmarshal(b, &m) == nil && m.Message != "" {
		return scan.Clean(m.Message, 200)
	}
	return scan.Clean(string(b), 200)
}
