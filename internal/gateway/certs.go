package gateway

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Keys of a TLS Secret in cert-manager's format.
const (
	keyTLSCert = corev1.TLSCertKey
	keyTLSKey  = corev1.TLSPrivateKeyKey
	keyCACert  = "ca.crt"
	// keyCAKey holds the self-signed CA's key (absent from cert-manager's
	// Secrets), so the gateway can renew its own certificate.
	keyCAKey = "ca.key"
)

// servingMaterial is the gateway's certificate and the CA hosts pin.
type servingMaterial struct {
	cert     tls.Certificate
	caPEM    []byte
	crt, key []byte // the Secret's tls.crt and tls.key, as read
}

// ensureTLS loads the serving certificate from the Secret, creating a
// self-signed CA and certificate there when the Secret does not exist. Two
// replicas racing to create it both end up with whichever was stored first.
func ensureTLS(ctx context.Context, r client.Reader, c client.Writer, ns, name string, dnsNames []string) (servingMaterial, error) {
	var s corev1.Secret
	err := r.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &s)
	if apierrors.IsNotFound(err) {
		data, genErr := selfSigned(dnsNames, time.Now())
		if genErr != nil {
			return servingMaterial{}, genErr
		}
		s = corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{"app.kubernetes.io/managed-by": "redflag"}},
			Type:       corev1.SecretTypeTLS,
			Data:       data,
		}
		err = c.Create(ctx, &s)
		if apierrors.IsAlreadyExists(err) {
			err = r.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &s)
		}
	}
	if err != nil {
		return servingMaterial{}, fmt.Errorf("reading gateway TLS Secret %s/%s: %w", ns, name, err)
	}
	cert, err := tls.X509KeyPair(s.Data[keyTLSCert], s.Data[keyTLSKey])
	if err != nil {
		return servingMaterial{}, fmt.Errorf("gateway TLS Secret %s/%s holds no usable tls.crt/tls.key: %w", ns, name, err)
	}
	ca := s.Data[keyCACert]
	if len(ca) == 0 {
		// A certificate from a public CA: hosts use their system roots.
		ca = nil
	}
	return servingMaterial{cert: cert, caPEM: ca, crt: s.Data[keyTLSCert], key: s.Data[keyTLSKey]}, nil
}

// selfSigned makes a CA and a serving certificate signed by it, valid for
// localhost, 127.0.0.1, ::1 and dnsNames (names or IP addresses). The CA
// key is kept in the Secret (ca.key) so the gateway can renew the serving
// certificate under the same CA, the one every host pins (renewDue). It is
// no more powerful there than tls.key beside it: either lets its holder
// pose as the gateway to hosts.
func selfSigned(dnsNames []string, now time.Time) (map[string][]byte, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating CA key: %w", err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "redflag-gateway-ca", Organization: []string{"RedFlag"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("signing CA certificate: %w", err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, fmt.Errorf("parsing CA certificate: %w", err)
	}
	caKeyDER, err := x509.MarshalECPrivateKey(caKey)
	if err != nil {
		return nil, fmt.Errorf("encoding CA key: %w", err)
	}
	names := []string{"localhost"}
	ips := []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	for _, n := range dnsNames {
		if ip := net.ParseIP(n); ip != nil {
			ips = append(ips, ip)
		} else if n != "" {
			names = append(names, n)
		}
	}
	data, err := issueServing(caCert, caKey, names, ips, now)
	if err != nil {
		return nil, err
	}
	data[keyCACert] = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	data[keyCAKey] = pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: caKeyDER})
	return data, nil
}

// servingValidity is how long a self-signed serving certificate lives; the
// gateway renews it once a third of that is left (renewDue).
const servingValidity = 365 * 24 * time.Hour

// issueServing signs a serving certificate for names and ips with the CA.
func issueServing(ca *x509.Certificate, caKey *ecdsa.PrivateKey, names []string, ips []net.IP, now time.Time) (map[string][]byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating serving key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: "redflag-gateway"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(servingValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     names,
		IPAddresses:  ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("signing serving certificate: %w", err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encoding serving key: %w", err)
	}
	return map[string][]byte{
		keyTLSCert: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyTLSKey:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
	}, nil
}

// renewDue returns a renewed tls.crt and tls.key for a Secret the gateway
// made itself (it holds ca.key) once a third of the serving certificate's
// life is left, for the same names under the same CA; nil otherwise. A
// Secret from cert-manager or a user has no ca.key and is left alone.
func renewDue(data map[string][]byte, now time.Time) (map[string][]byte, error) {
	if len(data[keyCAKey]) == 0 {
		return nil, nil
	}
	leaf, err := parsePEMCert(data[keyTLSCert])
	if err != nil {
		return nil, fmt.Errorf("tls.crt: %w", err)
	}
	if leaf.NotAfter.Sub(now) > leaf.NotAfter.Sub(leaf.NotBefore)/3 {
		return nil, nil
	}
	ca, err := parsePEMCert(data[keyCACert])
	if err != nil {
		return nil, fmt.Errorf("ca.crt: %w", err)
	}
	block, _ := pem.Decode(data[keyCAKey])
	if block == nil {
		return nil, errors.New("ca.key: no PEM block")
	}
	caKey, err := x509.ParseECPrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("ca.key: %w", err)
	}
	return issueServing(ca, caKey, leaf.DNSNames, leaf.IPAddresses, now)
}

func parsePEMCert(b []byte) (*x509.Certificate, error) {
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, errors.New("no PEM block")
	}
	return x509.ParseCertificate(block.Bytes)
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		// crypto/rand does not fail on supported platforms; a fixed serial
		// would still make a valid (if less unique) certificate.
		return big.NewInt(time.Now().UnixNano())
	}
	return n
}
