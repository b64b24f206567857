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
// localhost, 127.0.0.1, ::1 and dnsNames (names or IP addresses).
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
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating serving key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: "redflag-gateway"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(2, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	for _, n := range dnsNames {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if n != "" {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
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
		keyCACert:  pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
	}, nil
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
