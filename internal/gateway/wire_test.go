package gateway

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/redflag-io/redflag/internal/protocol"
)

// rawRequest sends head (and body) over a new TLS connection to the test
// gateway, as bytes, and returns the answer's status code and body.
func rawRequest(t *testing.T, head, body string) (int, string) {
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
		if code, body := rawRequest(t, headOfSize(t, tc.size), ""); code != tc.want {
			t.Errorf("head of %d bytes: %d %q, want %d", tc.size, code, body, tc.want)
		}
	}
}

// leaks says what in an answer would tell a client about the gateway's
// inside: its socket addresses, Go's error texts, Go type names.
func leaks(body string) []string {
	var found []string
	for _, s := range []string{"127.0.0.1", "tcp", "i/o timeout", "Go struct", "Go value", "json:", "protocol.", "v1alpha1.", "strconv", "parsing", "unexpected EOF", "illegal base64"} {
		if strings.Contains(body, s) {
			found = append(found, s)
		}
	}
	return found
}

// TestSlowBodiesAndBadJSONAnswerWithoutInternals sends bodies slower than
// the server's read timeout, bodies cut short, and JSON of the wrong shape
// to every endpoint that reads a body, over real TCP, and checks that the
// answer is a fixed JSON refusal that names nothing inside the gateway.
// Before, a slow body was answered 400 "reading request body: read tcp
// 127.0.0.1:9443->127.0.0.1:51234: i/o timeout".
func TestSlowBodiesAndBadJSONAnswerWithoutInternals(t *testing.T) {
	// The gateway's own server, with the read timeout shortened so the
	// test need not wait 30 s; plain HTTP, as the timeout is the same.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: gw.Handler(), ReadTimeout: 500 * time.Millisecond, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	h, _ := enrolledHost(t)

	for _, path := range []string{protocol.PathRegister, protocol.PathCheckIn, protocol.PathReport} {
		for _, tc := range []struct {
			name   string
			status int
			code   string
			// send writes the request on conn.
			send func(conn net.Conn, head string)
		}{
			{"slow body", http.StatusRequestTimeout, protocol.CodeRequestTimeout, func(conn net.Conn, head string) {
				// One byte of a hundred, then nothing: the answer comes
				// when the server's read timeout ends the wait.
				_, _ = io.WriteString(conn, head+"{")
			}},
			{"body cut short", http.StatusBadRequest, protocol.CodeBadRequest, func(conn net.Conn, head string) {
				_, _ = io.WriteString(conn, head+"{")
				_ = conn.(*net.TCPConn).CloseWrite()
			}},
		} {
			conn, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			head := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n", path)
			if path != protocol.PathRegister {
				// Signed over a body the gateway never receives whole:
				// reading comes first.
				req, _ := http.NewRequest(http.MethodPost, "http://x"+path, nil)
				if err := protocol.SignRequest(req, nil, h.key, h.id.Agent, h.machineID, time.Now()); err != nil {
					t.Fatal(err)
				}
				for k := range req.Header {
					head += k + ": " + req.Header.Get(k) + "\r\n"
				}
			}
			tc.send(conn, head+"\r\n")
			code, body := readAnswer(t, conn)
			conn.Close()
			var e protocol.Error
			_ = json.Unmarshal([]byte(body), &e)
			if code != tc.status || e.Code != tc.code || len(leaks(body)) > 0 {
				t.Errorf("%s %s: got %d %q (leaks %v), want %d %s naming nothing inside", path, tc.name, code, body, leaks(body), tc.status, tc.code)
			}
		}
	}

	// JSON of the wrong shape, through the real TLS server.
	for _, tc := range []struct{ path, body, says string }{
		{protocol.PathRegister, `{"token": 5}`, `field "token"`},
		{protocol.PathRegister, `{"os": {"family": ["linux"]}}`, `field "os.family"`},
		{protocol.PathRegister, `[1, 2]`, "takes an object"},
		{protocol.PathRegister, `{"token": "abc123.0123456789abcdefghijklmnopqrstuv", "machineID": "m1", "publicKey": "!!!!"}`, "publicKey must be the standard base64"},
		{protocol.PathRegister, `{"token": "a",}`, "not valid JSON (error at byte"},
		{protocol.PathReport, `{"idempotencyKey":"k","kind":"scan","scan":{"finished":"yesterday"}}`, "wrong form"},
		{protocol.PathCheckIn, `{"agentVersion": {"a": 1}}`, `field "agentVersion"`},
	} {
		var id = &h.id
		if tc.path == protocol.PathRegister {
			id = nil
		}
		code, resp, err := host.Post(t.Context(), tc.path, []byte(tc.body), id, nil)
		if err != nil {
			t.Fatal(err)
		}
		var e protocol.Error
		_ = json.Unmarshal(resp, &e)
		if code != http.StatusBadRequest || e.Code != protocol.CodeBadRequest || !strings.Contains(e.Message, tc.says) || len(leaks(e.Message)) > 0 {
			t.Errorf("%s %s: got %d %s %q (leaks %v), want 400 BadRequest saying %q", tc.path, tc.body, code, e.Code, e.Message, leaks(e.Message), tc.says)
		}
	}
}
