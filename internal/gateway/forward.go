package gateway

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/go-logr/logr"

	"github.com/redflag-io/redflag/internal/protocol"
)

// headerPeer marks a request a replica passed on to the agent's owner:
// "<replica> <mac>". The MAC, keyed from the work-signing key every replica
// loads from the same Secret, covers the agent's signature headers, so a
// header seen once is worth nothing on any other request, and a host
// cannot claim to be a replica to dodge routing.
const headerPeer = "X-RedFlag-Peer"

// forwardedHeaders are the request headers the owner needs.
var forwardedHeaders = []string{
	"Content-Type", protocol.HeaderAgent, protocol.HeaderMachineID,
	protocol.HeaderTimestamp, protocol.HeaderNonce, protocol.HeaderSignature, protocol.HeaderContentSHA256,
}

// forwarder passes agents' requests to their owning replica.
type forwarder struct {
	peers  *peerSet
	macKey []byte
	client *http.Client
	log    logr.Logger
}

func newForwarder(peers *peerSet, signingKey ed25519.PrivateKey, caPEM []byte, ownLeaf func() *x509.Certificate, log logr.Logger) (*forwarder, error) {
	tlsConfig, err := peerTLSConfig(caPEM, ownLeaf)
	if err != nil {
		return nil, err
	}
	key := sha256.Sum256(append([]byte("redflag gateway peer v1\x00"), signingKey.Seed()...))
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
		TLSClientConfig:     tlsConfig,
		TLSHandshakeTimeout: 5 * time.Second,
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     90 * time.Second,
	}
	return &forwarder{
		peers: peers, macKey: key[:], log: log.WithName("forward"),
		client: &http.Client{Transport: tr, Timeout: 30 * time.Second},
	}, nil
}

// peerTLSConfig trusts a peer that shows a certificate from the gateway's
// own CA, or failing a CA (a publicly issued certificate), the key of the
// certificate this replica serves now (all replicas read the same Secret).
// Host names are not checked: replicas dial each other by pod address,
// which the certificate hosts use need not name.
func peerTLSConfig(caPEM []byte, ownLeaf func() *x509.Certificate) (*tls.Config, error) {
	if ownLeaf() == nil {
		return nil, errors.New("gateway peers: no serving certificate")
	}
	roots := x509.NewCertPool()
	hasCA := len(caPEM) > 0 && roots.AppendCertsFromPEM(caPEM)
	verify := func(raw [][]byte, _ [][]*x509.Certificate) error {
		if len(raw) == 0 {
			return errors.New("peer sent no certificate")
		}
		leaf, err := x509.ParseCertificate(raw[0])
		if err != nil {
			return fmt.Errorf("peer certificate: %w", err)
		}
		if hasCA {
			inter := x509.NewCertPool()
			for _, c := range raw[1:] {
				if ic, err := x509.ParseCertificate(c); err == nil {
					inter.AddCert(ic)
				}
			}
			if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter}); err != nil {
				return fmt.Errorf("peer certificate is not from the gateway's CA: %w", err)
			}
			return nil
		}
		own := ownLeaf()
		if own == nil || subtle.ConstantTimeCompare(leaf.RawSubjectPublicKeyInfo, own.RawSubjectPublicKeyInfo) != 1 {
			return errors.New("peer certificate does not carry the gateway's key")
		}
		return nil
	}
	return &tls.Config{
		MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"},
		// Replaced by verify above, which checks the chain but not the name.
		InsecureSkipVerify:    true, //nolint:gosec // see VerifyPeerCertificate
		VerifyPeerCertificate: verify,
	}, nil
}

// mac authenticates a forwarded request as coming from replica from.
func (f *forwarder) mac(from string, r *http.Request) string {
	m := hmac.New(sha256.New, f.macKey)
	for _, v := range []string{
		from, r.Method, r.URL.RequestURI(), r.Header.Get(protocol.HeaderAgent), r.Header.Get(protocol.HeaderMachineID),
		r.Header.Get(protocol.HeaderTimestamp), r.Header.Get(protocol.HeaderNonce), r.Header.Get(protocol.HeaderSignature),
	} {
		_, _ = m.Write([]byte(v))
		_, _ = m.Write([]byte{0})
	}
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// fromPeer reports whether another replica forwarded r. The header is
// removed either way, so nothing after this trusts a forged one.
func (f *forwarder) fromPeer(r *http.Request) bool {
	v := r.Header.Get(headerPeer)
	if v == "" {
		return false
	}
	r.Header.Del(headerPeer)
	from, mac, ok := strings.Cut(v, " ")
	return ok && hmac.Equal([]byte(mac), []byte(f.mac(from, r)))
}

// forward passes r to the replica owning its agent. It returns false when
// this replica should serve r itself: it owns the agent, r is not an
// agent's signed request, or the owner did not answer (it is then skipped
// for a while, so its share is served here while it is down).
func (f *forwarder) forward(w http.ResponseWriter, r *http.Request) bool {
	var limit int64
	switch r.URL.Path {
	case protocol.PathCheckIn:
		limit = protocol.MaxCheckInBody
	case protocol.PathReport:
		limit = protocol.MaxReportBody
	default:
		return false
	}
	agent := r.Header.Get(protocol.HeaderAgent)
	if r.Method != http.MethodPost || agent == "" {
		return false
	}
	owner := f.peers.owner(agent)
	if owner.name == f.peers.self.name {
		return false
	}
	body, ok := readBody(w, r, limit, f.log)
	if !ok {
		return true
	}
	// Whatever happens next, the body can be read again here.
	r.Body = io.NopCloser(bytes.NewReader(body))
	req, err := http.NewRequestWithContext(r.Context(), http.MethodPost, owner.address+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		f.log.Error(err, "building a forwarded request", "peer", owner.name)
		return false
	}
	for _, h := range forwardedHeaders {
		if v := r.Header.Get(h); v != "" {
			req.Header.Set(h, v)
		}
	}
	req.Header.Set(headerPeer, f.peers.self.name+" "+f.mac(f.peers.self.name, req))
	resp, err := f.client.Do(req)
	if err != nil {
		if r.Context().Err() != nil {
			return true // the host went away; nobody to answer
		}
		f.peers.markSuspect(owner.name)
		f.log.Info("a gateway replica did not answer; serving its agents here for now", "peer", owner.name, "error", err.Error())
		return false
	}
	defer resp.Body.Close()
	for _, h := range []string{"Content-Type", "Retry-After"} {
		if v := resp.Header.Get(h); v != "" {
			w.Header().Set(h, v)
		}
	}
	w.WriteHeader(resp.StatusCode)
	if _, err := io.Copy(w, io.LimitReader(resp.Body, maxForwardedAnswer)); err != nil {
		f.log.V(1).Info("relaying a forwarded answer", "peer", owner.name, "error", err.Error())
	}
	return true
}

// maxForwardedAnswer bounds what is relayed from a peer; the largest answer
// is a check-in's signed document, well under this.
const maxForwardedAnswer = 4 << 20
