package gateway

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// rawRequest sends head (and body) over a new TLS connection to the test
// gateway, as bytes, and returns the answer's status code and body.
func rawRequest(t *testing.T, head, body string, pause time.Duration) (int, string) {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(gw.CAPEM())
	conn, err := tls.Dial("tcp", gw.Addr().String(), &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(time.Minute))
	if _, err := io.WriteString(conn, head+body); err != nil {
		t.Fatal(err)
	}
	return readAnswer(t, conn)
}

func readAnswer(t *testing.T, conn net.Conn) (int, string) {
	t.Helper()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// headOfSize is a GET /healthz head of exactly n bytes, padded with one
// header.
func headOfSize(t *testing.T, n int) string {
	t.Helper()
	start, end := "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: ", "\r\nConnection: close\r\n\r\n"
	pad := n - len(start) - len(end)
	if pad < 1 {
		t.Fatalf("head of %d bytes is too small", n)
	}
	return start + strings.Repeat("a", pad) + end
}

// TestHeaderLimitIsExact measures the real header limit of the gateway's
// server over TCP: a head of MaxHeaderBytes (16 KiB) is served, one byte
// more is refused with 431. net/http reads 4096 bytes beyond its
// MaxHeaderBytes setting, so with that set to 16 KiB a 20,000-byte head
// was served.
func TestHeaderLimitIsExact(t *testing.T) {
	for _, tc := range []struct {
		size int
		want int
	}{
		{1024, http.StatusOK},
		{MaxHeaderBytes - 100, http.StatusOK},
		{MaxHeaderBytes, http.StatusOK},
		{MaxHeaderBytes + 1, http.StatusRequestHeaderFieldsTooLarge},
		{20000, http.StatusRequestHeaderFieldsTooLarge},
	} {
		if code, body := rawRequest(t, headOfSize(t, tc.size), "", 0); code != tc.want {
			t.Errorf("head of %d bytes: %d %q, want %d", tc.size, code, body, tc.want)
		}
	}
}
