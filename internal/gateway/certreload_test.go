package gateway

import (
	"context"
	"crypto/tls"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
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
	rewrite := func(crt, k []byte) {
		t.Helper()
		var s corev1.Secret
		if err := env.Client.Get(ctx, key, &s); err != nil {
			t.Fatal(err)
		}
		s.Data[keyTLSCert], s.Data[keyTLSKey] = crt, k
		if err := env.Client.Update(ctx, &s); err != nil {
			t.Fatal(err)
		}
	}
	rewrite(renewed[keyTLSCert], renewed[keyTLSKey])
	pair, err := tls.X509KeyPair(renewed[keyTLSCert], renewed[keyTLSKey])
	if err != nil {
		t.Fatal(err)
	}
	want := newServingCert(servingMaterial{cert: pair}).leaf().SerialNumber.String()
	if want == before {
		t.Fatal("the renewed certificate has the old serial")
	}
	eventually(t, "the renewed certificate to be served", func() bool { return served() == want })

	// A broken Secret (a half-written renewal, a bad edit) is not served.
	rewrite([]byte("not a certificate"), renewed[keyTLSKey])
	time.Sleep(500 * time.Millisecond)
	if got := served(); got != want {
		t.Errorf("after a broken Secret the gateway serves serial %s, want the last good one %s", got, want)
	}
}
