package hostclient

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/redflag-io/redflag/internal/backoff"
	"github.com/redflag-io/redflag/internal/protocol"
)

type answerFunc func(*http.Request) (*http.Response, error)

func (f answerFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// FuzzAnswer feeds the client any answer a gateway (or whatever sits in
// its place) could send: a success decodes or fails with an error, and
// anything else becomes an *Error carrying the status, a code to switch on,
// and the Retry-After it was given.
func FuzzAnswer(f *testing.F) {
	f.Add(200, "", []byte(`{"duplicate":true}`))
	f.Add(429, "7", []byte(`{"code":"RateLimited","message":"slow down"}`))
	f.Add(503, "10", []byte(`{"code":"Unavailable"}`))
	f.Add(401, "", []byte(`{"code":"","message":"no code"}`))
	f.Add(502, "-3", []byte("<html>Bad Gateway</html>"))
	f.Add(503, "99999999999", []byte(`{"code":"Unavailable"}`))
	f.Add(200, "", []byte(`{"work":{"payload":"!!","signature":null}}`))
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{3}, ed25519.SeedSize))
	id := Identity{Agent: "ns/a", MachineID: "m", Key: key}
	f.Fuzz(func(t *testing.T, status int, retryAfter string, body []byte) {
		if status < 100 || status > 999 {
			status = 100 + int(uint(status)%900)
		}
		c := &Client{BaseURL: "https://gw.example", HTTP: &http.Client{Transport: answerFunc(func(r *http.Request) (*http.Response, error) {
			h := http.Header{}
			h.Set("Retry-After", retryAfter)
			return &http.Response{StatusCode: status, Header: h, Body: io.NopCloser(bytes.NewReader(body)), Request: r}, nil
		})}}
		_, reportErr := c.Report(context.Background(), id, protocol.Report{IdempotencyKey: "k", Kind: protocol.ReportFacts})
		_, checkInErr := c.CheckIn(context.Background(), id, protocol.CheckInRequest{})
		for _, err := range []error{reportErr, checkInErr} {
			var e *Error
			isRefusal := errors.As(err, &e)
			if status == http.StatusOK {
				if isRefusal {
					t.Fatalf("a 200 answer became a refusal: %v", e)
				}
				continue
			}
			if !isRefusal {
				t.Fatalf("a %d answer did not become a refusal: %v", status, err)
			}
			if e.Status != status || e.Code == "" || e.Temporary() != (status == http.StatusTooManyRequests || status >= 500) {
				t.Fatalf("a %d answer became %+v (temporary %v)", status, e, e.Temporary())
			}
			if e.RetryAfter < 0 || e.RetryAfter > backoff.MaxRetryAfter {
				t.Fatalf("Retry-After %q became %s, outside [0, %s]", retryAfter, e.RetryAfter, backoff.MaxRetryAfter)
			}
			if s, err := strconv.Atoi(retryAfter); err == nil && s > 0 && s <= 3600 && e.RetryAfter != time.Duration(s)*time.Second {
				t.Fatalf("Retry-After %q became %s", retryAfter, e.RetryAfter)
			}
		}
	})
}
