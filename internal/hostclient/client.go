// Package hostclient speaks the host side of the gateway protocol: enroll,
// check in, report. The agent, the load generator and the tests all use it,
// so what the tests prove is what hosts do.
package hostclient

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/redflag-io/redflag/internal/backoff"
	"github.com/redflag-io/redflag/internal/protocol"
)

// maxResponse bounds what the client reads from the gateway.
const maxResponse = 4 << 20

// Client talks to one gateway.
type Client struct {
	// BaseURL is the gateway's address, such as https://gw.example:9443.
	BaseURL string
	HTTP    *http.Client
	// Now is the clock requests are signed with (time.Now when nil).
	Now func() time.Time
}

// New returns a client that trusts only the CA in caPEM (the system roots
// when caPEM is empty) and honours HTTP(S)_PROXY and ALL_PROXY settings.
func New(baseURL string, caPEM []byte) (*Client, error) {
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if len(caPEM) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(caPEM) {
			return nil, errors.New("the gateway CA file holds no PEM certificate")
		}
		tlsCfg.RootCAs = pool
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tlsCfg
	tr.MaxIdleConnsPerHost = 4
	return &Client{BaseURL: strings.TrimRight(baseURL, "/"), HTTP: &http.Client{Transport: tr, Timeout: 30 * time.Second}}, nil
}

// Identity is what signs a host's requests.
type Identity struct {
	// Agent is "namespace/name".
	Agent     string
	MachineID string
	Key       ed25519.PrivateKey
}

// Error is a refusal from the gateway.
type Error struct {
	Status  int
	Code    string
	Message string
	// RetryAfter is the gateway's Retry-After, when it sent one, at most
	// backoff.MaxRetryAfter.
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	return fmt.Sprintf("gateway answered %d %s: %s", e.Status, e.Code, e.Message)
}

// Temporary reports whether retrying later may succeed (429, 503, 5xx).
func (e *Error) Temporary() bool {
	return e.Status == http.StatusTooManyRequests || e.Status >= 500
}

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// Register enrolls the host with a registration token.
func (c *Client) Register(ctx context.Context, req protocol.RegisterRequest) (protocol.RegisterResponse, error) {
	var resp protocol.RegisterResponse
	body, err := json.Marshal(req)
	if err != nil {
		return resp, fmt.Errorf("encoding registration: %w", err)
	}
	return resp, c.do(ctx, protocol.PathRegister, body, nil, &resp)
}

// CheckIn sends a check-in and returns the signed work document, unopened.
func (c *Client) CheckIn(ctx context.Context, id Identity, req protocol.CheckInRequest) (protocol.SignedDocument, error) {
	var resp protocol.CheckInResponse
	body, err := json.Marshal(req)
	if err != nil {
		return resp.Work, fmt.Errorf("encoding check-in: %w", err)
	}
	return resp.Work, c.do(ctx, protocol.PathCheckIn, body, &id, &resp)
}

// Report sends one report; a duplicate (already applied) is not an error.
func (c *Client) Report(ctx context.Context, id Identity, rep protocol.Report) (protocol.ReportResponse, error) {
	var resp protocol.ReportResponse
	body, err := json.Marshal(rep)
	if err != nil {
		return resp, fmt.Errorf("encoding report: %w", err)
	}
	return resp, c.do(ctx, protocol.PathReport, body, &id, &resp)
}

// Post sends raw bytes, signed when id is set, and returns the status code
// and body. Tests use it to send what a well-behaved client would not.
func (c *Client) Post(ctx context.Context, path string, body []byte, id *Identity, mutate func(*http.Request)) (int, []byte, error) {
	req, err := c.newRequest(ctx, path, body, id)
	if err != nil {
		return 0, nil, err
	}
	if mutate != nil {
		mutate(req)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("POST %s: %w", path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	return resp.StatusCode, data, err
}

func (c *Client) newRequest(ctx context.Context, path string, body []byte, id *Identity) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.BaseURL+path, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("building request to %s: %w", path, err)
	}
	req.Header.Set("Content-Type", "application/json")
	if id != nil {
		if err := protocol.SignRequest(req, body, id.Key, id.Agent, id.MachineID, c.now()); err != nil {
			return nil, err
		}
	}
	return req, nil
}

func (c *Client) do(ctx context.Context, path string, body []byte, id *Identity, out any) error {
	req, err := c.newRequest(ctx, path, body, id)
	if err != nil {
		return err
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("POST %s: %w", path, unreachable(c.BaseURL, err))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return fmt.Errorf("reading answer to %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		var body protocol.Error
		if json.Unmarshal(data, &body) != nil || body.Code == "" {
			body = protocol.Error{Code: "HTTP" + strconv.Itoa(resp.StatusCode), Message: strings.TrimSpace(string(data))}
		}
		e := &Error{Status: resp.StatusCode, Code: body.Code, Message: body.Message}
		e.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"))
		return e
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("decoding answer to %s: %w", path, err)
	}
	return nil
}

// parseRetryAfter reads a Retry-After in seconds (the only form the gateway
// sends); anything else, zero or negative is none. The value is capped at
// backoff.MaxRetryAfter before it becomes a Duration: multiplying first
// wraps around past about 9.2e9 seconds (99999999999 came out as some 246
// years, 9223372036854775807 as -1s), and no answer from the gateway means
// a wait longer than the cap anyway.
func parseRetryAfter(v string) time.Duration {
	s, err := strconv.ParseInt(v, 10, 64)
	if errors.Is(err, strconv.ErrRange) && !strings.HasPrefix(v, "-") {
		// Too many digits for an int64 is still "a very long time".
		return backoff.MaxRetryAfter
	}
	if err != nil || s <= 0 {
		return 0
	}
	if s > int64(backoff.MaxRetryAfter/time.Second) {
		return backoff.MaxRetryAfter
	}
	return time.Duration(s) * time.Second
}
