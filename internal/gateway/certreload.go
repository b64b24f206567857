package gateway

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// servingCert hands the TLS server whichever certificate the Secret holds
// now. cert-manager renews a certificate well before it expires by writing
// the Secret again; a gateway that read it only at start would serve the
// old one until a restart, and hosts would see it expire. So the Secret is
// read again every reloadEvery (one uncached GET per replica) and a changed
// key pair is used from the next handshake on; connections already open
// keep theirs.
type servingCert struct {
	current atomic.Pointer[tls.Certificate]
	crt     []byte // tls.crt of current, to tell a change
	key     []byte
	expiry  prometheus.Gauge // current's notAfter, for the metrics endpoint
	// readVersion is the resourceVersion of the Secret last read and
	// judged, whatever came of it: a test waits for it rather than sleep.
	readVersion atomic.Value
}

func newServingCert(m servingMaterial, expiry prometheus.Gauge) *servingCert {
	s := &servingCert{crt: m.crt, key: m.key, expiry: expiry}
	c := m.cert
	s.store(&c)
	return s
}

// store serves c from the next handshake on and exports its expiry.
func (s *servingCert) store(c *tls.Certificate) {
	s.current.Store(c)
	if leaf := s.leaf(); leaf != nil {
		s.expiry.Set(float64(leaf.NotAfter.Unix()))
	}
}

// get is tls.Config.GetCertificate.
func (s *servingCert) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return s.current.Load(), nil
}

// leaf is the certificate served now.
func (s *servingCert) leaf() *x509.Certificate {
	c := s.current.Load()
	if c == nil || len(c.Certificate) == 0 {
		return nil
	}
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		return nil
	}
	return leaf
}

// lastRead is the resourceVersion of the Secret the watcher last judged.
func (s *servingCert) lastRead() string {
	v, _ := s.readVersion.Load().(string)
	return v
}

// watch reloads the Secret until ctx ends. A Secret that is missing or
// holds a broken pair is logged and the current certificate kept: serving
// a certificate that still works beats serving none.
//
// A certificate the gateway made itself (self-signed, with its CA's key in
// the Secret) is renewed here too, under the same CA, once a third of its
// life is left; whichever replica writes first wins, the others load it.
func (s *servingCert) watch(ctx context.Context, r client.Reader, w client.Writer, key client.ObjectKey, every time.Duration, clk clock.PassiveClock, log logr.Logger) {
	wait.UntilWithContext(ctx, func(ctx context.Context) {
		var secret corev1.Secret
		if err := r.Get(ctx, key, &secret); err != nil {
			log.Error(err, "reading the gateway's TLS Secret to pick up a renewed certificate; keeping the current one", "secret", key.String())
			return
		}
		defer s.readVersion.Store(secret.ResourceVersion)
		renewed, err := renewDue(secret.Data, clk.Now())
		if err != nil {
			log.Error(err, "renewing the gateway's self-signed certificate", "secret", key.String())
		}
		if renewed != nil {
			secret.Data[keyTLSCert], secret.Data[keyTLSKey] = renewed[keyTLSCert], renewed[keyTLSKey]
			if err := w.Update(ctx, &secret); err != nil {
				// Another replica may have renewed it first: the next
				// round loads theirs.
				log.Error(err, "storing the renewed self-signed certificate", "secret", key.String())
				return
			}
		}
		crt, k := secret.Data[keyTLSCert], secret.Data[keyTLSKey]
		if bytes.Equal(crt, s.crt) && bytes.Equal(k, s.key) {
			return
		}
		pair, err := tls.X509KeyPair(crt, k)
		if err != nil {
			log.Error(err, "the gateway's TLS Secret holds no usable tls.crt/tls.key; keeping the current certificate", "secret", key.String())
			return
		}
		s.crt, s.key = crt, k
		s.store(&pair)
		notAfter := ""
		if leaf := s.leaf(); leaf != nil {
			notAfter = leaf.NotAfter.UTC().Format(time.RFC3339)
		}
		log.Info("serving a renewed certificate from the gateway's TLS Secret", "secret", key.String(), "notAfter", notAfter)
	}, every)
}
