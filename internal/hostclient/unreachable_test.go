package hostclient

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/redflag-io/redflag/internal/protocol"
)

// TestUnreachableGatewaysAreNamedInWords: a check-in that gets no answer
// at all fails with an UnreachableError that names the gateway's URL and
// says what went wrong in words a host's admin can act on, for each way a
// real connection fails here: nothing listening (the gateway uninstalled),
// a certificate from another CA, a certificate for another name, a
// connection cut before the answer, and a name that does not resolve.
func TestUnreachableGatewaysAreNamedInWords(t *testing.T) {
	_, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	id := Identity{Agent: "hosts/web-1", MachineID: "m-1", Key: key}

	// A port nothing listens on: bind one, close it.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := l.Addr().String()
	l.Close()

	// A TLS server with a certificate of its own, which the client (given
	// httptest's usual certificate as its CA) does not trust.
	otherCA := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	otherCA.TLS = &tls.Config{Certificates: []tls.Certificate{selfSigned(t)}}
	otherCA.StartTLS()
	defer otherCA.Close()
	// A trusted server reached by a name its certificate does not carry
	// (httptest's certificate names 127.0.0.1 and example.com).
	wrongName := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer wrongName.Close()
	wrongNameCA := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: wrongName.Certificate().Raw})
	_, wrongNamePort, _ := net.SplitHostPort(wrongName.Listener.Addr().String())
	// A trusted server that hangs up without answering.
	cut := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	}))
	defer cut.Close()
	cutCA := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cut.Certificate().Raw})

	for _, tc := range []struct {
		name, url string
		ca        []byte
		reason    string
		hint      string
	}{
		{"nothing listens", "https://" + closedAddr, nil, "connection refused", "uninstalled"},
		{"another CA", otherCA.URL, wrongNameCA, "does not verify against the agent's gateway CA", "re-enroll"},
		{"another name", "https://localhost:" + wrongNamePort, wrongNameCA, "not valid for localhost", "gateway.dnsNames"},
		{"cut", cut.URL, cutCA, "closed before an answer", "retries"},
		{"no such name", "https://gateway.invalid:9443", nil, "gateway.invalid does not resolve", "DNS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New(tc.url, tc.ca)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			_, err = c.CheckIn(ctx, id, protocol.CheckInRequest{AgentVersion: "v1"})
			var u *UnreachableError
			if !errors.As(err, &u) {
				t.Fatalf("check-in error %v (%T) is not an UnreachableError", err, err)
			}
			msg := err.Error()
			for _, want := range []string{"cannot reach the gateway at " + tc.url, tc.reason, tc.hint} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not say %q", msg, want)
				}
			}
			if u.Unwrap() == nil {
				t.Error("the cause is lost")
			}
		})
	}
}

// TestAStoppedAgentIsNotAnUnreachableGateway: a cancelled request is the
// agent shutting down; calling the gateway unreachable would be a lie in
// its last words.
func TestAStoppedAgentIsNotAnUnreachableGateway(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release) // before Close, which waits for the handler
	c, err := New(srv.URL, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}))
	if err != nil {
		t.Fatal(err)
	}
	_, key, _ := ed25519.GenerateKey(nil)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	_, err = c.CheckIn(ctx, Identity{Agent: "hosts/a", MachineID: "m", Key: key}, protocol.CheckInRequest{})
	var u *UnreachableError
	if !errors.Is(err, context.Canceled) || errors.As(err, &u) {
		t.Fatalf("cancelled check-in: %v; want context.Canceled, not an UnreachableError", err)
	}
}

// selfSigned is a certificate for 127.0.0.1 from no CA the client knows.
func selfSigned(t *testing.T) tls.Certificate {
	t.Helper()
	pub, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "not-the-gateway"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:   time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(nil, tmpl, tmpl, pub, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}
