package loadtest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/redflag-io/redflag/internal/protocol"
)

// The steady phase sends its check-ins over wireConns rather than
// net/http's Transport. The generator shares the machine with the gateway
// (DESIGN.md section 7), and the Transport's per-connection read and write
// goroutines cost about as much CPU per request as the gateway itself
// (measured: 235 µs per check-in for the generator, 262 µs for the manager).
// A real fleet pays that on its own hosts. A wireConn is one connection
// owned by one worker: it writes the request with net/http's own
// serialisation and parses the answer with http.ReadResponse, so the bytes
// on the wire are what an agent sends; only the goroutine hand-offs go.

// wireDialer opens wireConns to the gateway from the fleet's source
// addresses.
type wireDialer struct {
	addr    string // host:port
	host    string
	tls     *tls.Config
	sources []net.IP
}

func newWireDialer(fn fleetNet) (*wireDialer, error) {
	u, err := url.Parse(fn.gatewayURL)
	if err != nil {
		return nil, fmt.Errorf("gateway URL %q: %w", fn.gatewayURL, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(fn.caPEM) {
		return nil, errors.New("gateway CA: no certificate in PEM")
	}
	name := u.Hostname()
	if fn.serverName != "" {
		name = fn.serverName
	}
	return &wireDialer{
		addr: u.Host, host: u.Hostname(), sources: fn.sources,
		tls: &tls.Config{RootCAs: pool, ServerName: name, NextProtos: []string{"http/1.1"}, MinVersion: tls.VersionTLS12},
	}, nil
}

// dial connects from source address number i (as newFleet numbers them).
func (d *wireDialer) dial(ctx context.Context, i int) (*wireConn, error) {
	src := &net.TCPAddr{IP: d.sources[i%len(d.sources)]}
	dialer := &tls.Dialer{NetDialer: &net.Dialer{LocalAddr: src, Timeout: 10 * time.Second}, Config: d.tls}
	c, err := dialer.DialContext(ctx, "tcp", d.addr)
	if err != nil {
		return nil, fmt.Errorf("dialing the gateway from %s: %w", src.IP, err)
	}
	return &wireConn{conn: c, br: bufio.NewReader(c), bw: bufio.NewWriter(c), host: d.host}, nil
}

// wireConn is one kept-alive HTTP/1.1 connection, used by one goroutine.
type wireConn struct {
	conn net.Conn
	br   *bufio.Reader
	bw   *bufio.Writer
	host string
}

// checkIn sends a's signed steady-state check-in and reads the answer,
// without decoding it: the steady phase measures the gateway, and decoding
// and verifying every answer would take CPU from it on a shared machine.
func (w *wireConn) checkIn(a *simAgent, body []byte) error {
	_, err := w.post(a, body)
	return err
}

// checkInDoc sends a's check-in and opens the answer as the agent does:
// it verifies the manager's signature and that the document names this
// agent and machine and has not expired. A document that fails any of
// these is an error, not an answer. As with checkIn, errConnClosed comes
// with a good document.
func (w *wireConn) checkInDoc(a *simAgent, body []byte) (protocol.WorkDocument, error) {
	data, err := w.post(a, body)
	if err != nil && !errors.Is(err, errConnClosed) {
		return protocol.WorkDocument{}, err
	}
	var resp protocol.CheckInResponse
	if uerr := json.Unmarshal(data, &resp); uerr != nil {
		return protocol.WorkDocument{}, fmt.Errorf("decoding the check-in answer: %w", uerr)
	}
	doc, oerr := protocol.OpenDocument(resp.Work, a.workKey, a.id.Agent, a.id.MachineID, time.Now())
	if oerr != nil {
		return protocol.WorkDocument{}, fmt.Errorf("opening the check-in answer: %w", oerr)
	}
	return doc, err
}

// post sends a's signed check-in and returns the answer's body.
func (w *wireConn) post(a *simAgent, body []byte) ([]byte, error) {
	req, err := http.NewRequest(http.MethodPost, "https://"+w.host+protocol.PathCheckIn, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if err := protocol.SignRequest(req, body, a.id.Key, a.id.Agent, a.id.MachineID, time.Now()); err != nil {
		return nil, err
	}
	_ = w.conn.SetDeadline(time.Now().Add(30 * time.Second))
	if err := req.Write(w.bw); err != nil {
		return nil, err
	}
	if err := w.bw.Flush(); err != nil {
		return nil, err
	}
	resp, err := http.ReadResponse(w.br, req)
	if err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("check-in answered %d: %s", resp.StatusCode, bytes.TrimSpace(data))
	}
	if resp.Close {
		return data, errConnClosed
	}
	return data, nil
}

// errConnClosed says the gateway closed the connection after a good answer.
var errConnClosed = errors.New("gateway closed the connection")

func (w *wireConn) close() { _ = w.conn.Close() }
