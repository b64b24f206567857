package gateway

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// TestARenewedCertificateIsServedWithoutARestart: cert-manager renews by
// rewriting the Secret; the gateway serves the new certificate from the
// next handshake on, and a broken Secret leaves the working one in place.
func TestARenewedCertificateIsServedWithoutARestart(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	g, _, err := startGateway(ctx, env, Options{
		BindAddress: "127.0.0.1:0", TLSSecretName: "reload-test-tls", SigningSecretName: "reload-test-signing",
		CertReloadInterval: 100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	served := func() string {
		t.Helper()
		conn, err := tls.Dial("tcp", g.Addr().String(), &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // only reads the certificate
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].SerialNumber.String()
	}
	before := served()

	renewed, err := selfSigned(nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	key := client.ObjectKey{Namespace: gatewayNamespace, Name: "reload-test-tls"}
	rewrite := func(crt, k []byte) (resourceVersion string) {
		t.Helper()
		var s corev1.Secret
		if err := env.Client.Get(ctx, key, &s); err != nil {
			t.Fatal(err)
		}
		s.Data[keyTLSCert], s.Data[keyTLSKey] = crt, k
		if err := env.Client.Update(ctx, &s); err != nil {
			t.Fatal(err)
		}
		return s.ResourceVersion
	}
	rewrite(renewed[keyTLSCert], renewed[keyTLSKey])
	pair, err := tls.X509KeyPair(renewed[keyTLSCert], renewed[keyTLSKey])
	if err != nil {
		t.Fatal(err)
	}
	want := newServingCert(servingMaterial{cert: pair}, testGauge()).leaf().SerialNumber.String()
	if want == before {
		t.Fatal("the renewed certificate has the old serial")
	}
	eventually(t, "the renewed certificate to be served", func() bool { return served() == want })

	// A broken Secret (a half-written renewal, a bad edit) is not served.
	broken := rewrite([]byte("not a certificate"), renewed[keyTLSKey])
	eventually(t, "the gateway to read the broken Secret", func() bool { return g.serving.lastRead() == broken })
	if got := served(); got != want {
		t.Errorf("after a broken Secret the gateway serves serial %s, want the last good one %s", got, want)
	}
}

// TestASelfSignedCertificateIsRenewedUnderTheSameCA: the certificate the
// gateway made itself is renewed once a third of its life is left, for the
// same names and under the CA hosts pinned, so hosts notice nothing; one
// from elsewhere (no ca.key) is never touched.
func TestASelfSignedCertificateIsRenewedUnderTheSameCA(t *testing.T) {
	now := time.Now()
	fresh, err := selfSigned([]string{"gateway.example", "10.0.0.9"}, now)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := renewDue(fresh, now); got != nil || err != nil {
		t.Fatalf("a new certificate was renewed (%v)", err)
	}
	old, err := selfSigned([]string{"gateway.example", "10.0.0.9"}, now.Add(-9*30*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	renewed, err := renewDue(old, now)
	if err != nil || renewed == nil {
		t.Fatalf("a certificate with three months left was not renewed (%v)", err)
	}
	leaf, err := parsePEMCert(renewed[keyTLSCert])
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := parsePEMCert(old[keyCACert])
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	for _, name := range []string{"gateway.example", "10.0.0.9", "localhost"} {
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: name, CurrentTime: now}); err != nil {
			t.Errorf("the renewed certificate does not verify for %s under the old CA: %v", name, err)
		}
	}
	if leaf.NotAfter.Before(now.Add(servingValidity - 2*time.Hour)) {
		t.Errorf("renewed certificate ends %s, want a full %s from now", leaf.NotAfter, servingValidity)
	}
	if _, err := tls.X509KeyPair(renewed[keyTLSCert], renewed[keyTLSKey]); err != nil {
		t.Errorf("the renewed pair does not load: %v", err)
	}
	delete(old, keyCAKey) // cert-manager's or a user's Secret
	if got, err := renewDue(old, now); got != nil || err != nil {
		t.Errorf("a Secret without ca.key was renewed (%v)", err)
	}
}

// TestTheGatewayRenewsItsOwnCertificateInTheSecret: against the API
// server, a gateway whose self-signed certificate is near its end writes a
// renewed one into the Secret and serves it.
func TestTheGatewayRenewsItsOwnCertificateInTheSecret(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	old, err := selfSigned(nil, time.Now().Add(-300*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: gatewayNamespace, Name: "renew-test-tls"},
		Type:       corev1.SecretTypeTLS, Data: old,
	}
	if err := env.Client.Create(ctx, secret); err != nil && !isAlreadyExists(err) {
		t.Fatal(err)
	}
	oldLeaf, _ := parsePEMCert(old[keyTLSCert])
	g, _, err := startGateway(ctx, env, Options{
		BindAddress: "127.0.0.1:0", TLSSecretName: "renew-test-tls", SigningSecretName: "renew-test-signing",
		CertReloadInterval: 100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := parsePEMCert(old[keyCACert])
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	eventually(t, "a renewed certificate under the same CA to be served", func() bool {
		conn, err := tls.Dial("tcp", g.Addr().String(), &tls.Config{RootCAs: roots, ServerName: "localhost"})
		if err != nil {
			return false
		}
		defer conn.Close()
		leaf := conn.ConnectionState().PeerCertificates[0]
		return leaf.SerialNumber.Cmp(oldLeaf.SerialNumber) != 0 && leaf.NotAfter.After(oldLeaf.NotAfter)
	})
	var stored corev1.Secret
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(secret), &stored); err != nil {
		t.Fatal(err)
	}
	if string(stored.Data[keyCACert]) != string(old[keyCACert]) || string(stored.Data[keyTLSCert]) == string(old[keyTLSCert]) {
		t.Error("the Secret should hold the renewed certificate and the same CA")
	}
}
