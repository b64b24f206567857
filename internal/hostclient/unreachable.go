package hostclient

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
)

// UnreachableError is a request that got no answer from the gateway at
// all: nothing listens at its address, the name does not resolve, the
// certificate does not verify, the connection was cut. The agent shows it
// as its last error (redflag-agent status, state.json), so it names the
// address and says in words what is likely wrong; a raw "dial tcp ...:
// connect: connection refused" left users guessing whether the host, the
// network or the cluster was at fault (after `helm uninstall`, say).
type UnreachableError struct {
	// URL is the gateway's base URL as the agent's config has it.
	URL string
	// Reason is a short phrase: "connection refused", "no answer in time"...
	Reason string
	// Hint says what to check; empty when there is nothing useful to say.
	Hint string
	Err  error
}

func (e *UnreachableError) Error() string {
	msg := fmt.Sprintf("cannot reach the gateway at %s: %s", e.URL, e.Reason)
	if e.Hint != "" {
		msg += " (" + e.Hint + ")"
	}
	return msg
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// unreachable classifies a transport error from a request to baseURL. A
// cancelled context stays as it is: that is the agent stopping, not the
// gateway gone.
func unreachable(baseURL string, err error) error {
	if errors.Is(err, context.Canceled) {
		return err
	}
	e := &UnreachableError{URL: baseURL, Err: err}
	var dnsErr *net.DNSError
	var certErr *tls.CertificateVerificationError
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var netErr net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED) || strings.Contains(err.Error(), "refused"):
		// "refused" also catches Windows' WSAECONNREFUSED text ("actively
		// refused"), which is not syscall.ECONNREFUSED there.
		e.Reason = "connection refused"
		e.Hint = "nothing listens at that address: the RedFlag manager or its gateway Service may be stopped, moved or uninstalled; the agent keeps retrying"
	case errors.As(err, &dnsErr):
		e.Reason = "the name " + dnsErr.Name + " does not resolve"
		e.Hint = "check the host's DNS and the gateway URL in the agent's config"
	case errors.As(err, &hostErr):
		e.Reason = "its TLS certificate is not valid for " + hostErr.Host
		e.Hint = "add the name the hosts use to the gateway certificate (chart value gateway.dnsNames)"
	case errors.As(err, &certErr) || errors.As(err, &unknownCA):
		e.Reason = "its TLS certificate does not verify against the agent's gateway CA"
		e.Hint = "the gateway's CA changed, or something else answers at that address; re-enroll with the current CA"
	case errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		e.Reason = "the connection was closed before an answer"
		e.Hint = "a proxy or load balancer in between, or a gateway restarting; the agent retries"
	case errors.As(err, &netErr) && netErr.Timeout():
		e.Reason = "no answer in time"
		e.Hint = "a firewall dropping packets, or a gateway overloaded; the agent retries"
	default:
		e.Reason = err.Error()
	}
	return e
}
