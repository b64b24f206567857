package hostclient

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/redflag-io/redflag/internal/backoff"
	"github.com/redflag-io/redflag/internal/protocol"
)

// TestRetryAfterIsBoundedAndNeverNegative: whatever Retry-After a 503
// carries, the refusal the agent backs off on asks for no wait (a negative
// or unreadable header) or for a wait in (0, backoff.MaxRetryAfter]; a huge
// header once overflowed into a negative Duration.
func TestRetryAfterIsBoundedAndNeverNegative(t *testing.T) {
	for _, tc := range []struct {
		header string
		want   time.Duration
	}{
		{"10", 10 * time.Second},
		{"3600", time.Hour},
		{"3601", backoff.MaxRetryAfter},
		{"99999999999", backoff.MaxRetryAfter},
		{"9223372036854775807", backoff.MaxRetryAfter},
		{"99999999999999999999999", backoff.MaxRetryAfter}, // past int64
		{"0", 0},
		{"-5", 0},
		{"-99999999999", 0},
		{"-99999999999999999999999", 0},
		{"soon", 0},
		{"", 0},
	} {
		c := &Client{BaseURL: "https://gw.example", HTTP: &http.Client{Transport: answerFunc(func(r *http.Request) (*http.Response, error) {
			h := http.Header{}
			h.Set("Retry-After", tc.header)
			body := `{"code":"Unavailable","message":"the cluster is away"}`
			return &http.Response{StatusCode: http.StatusServiceUnavailable, Header: h, Body: io.NopCloser(bytes.NewReader([]byte(body))), Request: r}, nil
		})}}
		_, err := c.Register(context.Background(), protocol.RegisterRequest{Token: "abcdef.x"})
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("Retry-After %q: error %v is not a refusal", tc.header, err)
		}
		if e.RetryAfter != tc.want {
			t.Errorf("Retry-After %q became %s, want %s", tc.header, e.RetryAfter, tc.want)
		}
	}
}
